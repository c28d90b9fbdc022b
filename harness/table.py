"""The results folder, read: the only code that reads what `run-study` wrote.

`load` returns a `ResultsFolder`: the resolved `Study` (parsed by `study.parse_study`, the
one parser), the plan, and the runs table rebuilt from each run's result.json (runs.csv is
a view for humans and is never read back). A folder whose files disagree is reported, not
trusted:
- Fatal (`UserError`, exit 2; the folder is unusable): the folder is missing or holds none
  of study.yaml, plan.json, runs/; study.yaml is not valid YAML or not a valid study;
  plan.json is unreadable or lacks a run's run_id/model/modalities/fold/seed.
- The run is left out of `runs`, the reason in `problems` (naming the run folder, the file
  and what disagrees): an unreadable result.json, a status other than ok/failed, keys of
  the wrong type, an ok run without test/dev metrics; with `check=True` also epochs above
  training.max_epochs or best_epoch outside 1..epochs, an identity (run_id, model,
  modalities, fold, seed) other than its folder's or the plan's, and a predictions.npz
  that is missing, unreadable, or whose recomputed accuracy, balanced accuracy or size
  disagrees with result.json.
- Notes only: study.yaml or plan.json absent, planned runs without a result yet, run folders
  the plan does not list (kept on disk, ignored).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from .errors import StudyError, UserError
from .metrics import SUMMARY_METRICS
from .study import ALL_COMBINATIONS, Study, parse_study

KEY_COLUMNS = ["run_id", "model", "modalities", "fold", "seed"]
RUN_COLUMNS = (
    KEY_COLUMNS + ["status", "epochs", "best_epoch", "train_seconds", "n_params", "device"]
    + [f"{split}_{m}" for split in ("dev", "test") for m in SUMMARY_METRICS]
    + ["n_test", "n_train", "error"]
)
STATUSES = ("ok", "failed")
TOLERANCE = 1e-9  # result.json metrics vs the same metric recomputed from predictions.npz


@dataclass(frozen=True)
class ResultsFolder:
    """One results folder, read once and checked."""

    dir: Path
    study: Study | None
    study_text: str
    runs: pd.DataFrame
    plan: pd.DataFrame | None
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    fingerprint: str | None = None  # data.fingerprint recorded in study.yaml by run-study
    corpus: dict = field(default_factory=dict)  # data.corpus recorded by run-study (sizes)
    _results: dict = field(default_factory=dict, repr=False, compare=False)
    _predictions: dict = field(default_factory=dict, repr=False, compare=False)  # read by check

    def run_dir(self, run_id: str) -> Path:
        return self.dir / "runs" / str(run_id)

    def result(self, run_id: str) -> dict | None:
        """The run's result.json as read by `load` (None if the run is not in the table)."""
        return self._results.get(str(run_id))

    def predictions(self, run_id: str) -> dict[str, np.ndarray] | None:
        """Contents of the run's predictions.npz; None when absent (kept from `load` when it
        checked the run, so the statistics do not read and decompress the file again)."""
        if str(run_id) in self._predictions:
            return dict(self._predictions[str(run_id)])
        path = self.run_dir(run_id) / "predictions.npz"
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
        except (OSError, ValueError, KeyError) as exc:
            raise UserError(f"{path} is not a readable .npz file ({exc}).") from None

    def history(self, run_id: str) -> pd.DataFrame | None:
        """The run's per-epoch history.csv; None when absent or unreadable."""
        path = self.run_dir(run_id) / "history.csv"
        try:
            return pd.read_csv(path)
        except (OSError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError):
            return None

    def stats_json(self) -> dict | None:
        """The parsed stats.json written by the stats stage; None when absent."""
        path = self.dir / "stats.json"
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UserError(f"{path} is not readable JSON ({exc}); run 'harness stats "
                            f"{self.dir}' to write it again.") from None
        if not isinstance(data, dict):
            raise UserError(f"{path} must hold a JSON object; found {type(data).__name__}.")
        return data


def load(results_dir: str | os.PathLike, *, check: bool = True) -> ResultsFolder:
    """Read and check a results folder; UserError (exit 2) when it is unusable."""
    root = Path(results_dir)
    if not root.is_dir():
        raise UserError(f"results folder {root} does not exist (or is not a folder).")
    present = [n for n in ("study.yaml", "plan.json", "runs") if (root / n).exists()]
    if not present:
        raise UserError(f"{root} is not a results folder: it has none of study.yaml, plan.json, "
                        "runs/. Point at results/<study> as written by 'harness run-study'.")
    study, text, fingerprint, corpus = read_study(root / "study.yaml")
    plan = read_plan(root / "plan.json")
    notes: list[str] = []
    if study is None:
        notes.append(f"{root / 'study.yaml'} is missing: study settings are unknown.")
    if plan is None:
        notes.append(f"{root / 'plan.json'} is missing: every folder in runs/ is taken as planned.")
    run_ids, planned = _run_ids(root, plan, notes)
    max_epochs = study.training.max_epochs if study is not None else None
    rows, results, problems, excluded, arrays = _collect(root, run_ids, max_epochs, planned, check)
    missing = len(run_ids) - len(rows) - excluded
    if plan is not None and missing > 0:
        notes.append(f"{missing} of {len(run_ids)} planned run(s) have no result.json yet.")
    if excluded:
        notes.append(f"{excluded} run(s) left out of the runs table because their files "
                     "disagree (see problems).")
    runs = _frame(rows, study.models if study is not None else ())
    return ResultsFolder(root, study, text, runs, plan, tuple(problems), tuple(notes),
                         fingerprint, corpus, results, arrays)


def runs_frame(results_dir: str | os.PathLike, run_ids, models=()) -> pd.DataFrame:
    """The runs table of `run_ids` alone (no study.yaml, no checks): the runs.csv view."""
    rows = _collect(Path(results_dir), [str(r) for r in run_ids], None, {}, check=False)[0]
    return _frame(rows, models or list(dict.fromkeys(r["model"] for r in rows)))  # plan order


def _collect(root: Path, run_ids, max_epochs, planned: dict, check: bool):
    """(rows, results by run id, problems, number of runs left out, predictions.npz arrays by
    run id when checked) of the finished runs."""
    rows, results, problems, excluded, kept = [], {}, [], 0, {}
    for run_id in run_ids:
        run_dir = root / "runs" / run_id
        if not (run_dir / "result.json").is_file():
            continue
        arrays = _npz_arrays(run_dir, everything=check)  # one read of predictions.npz per run
        result, found = _read_run(run_dir, max_epochs, planned.get(run_id), check, arrays)
        if found:
            problems.extend(found)
            excluded += 1
            continue
        results[run_id] = result
        if check and arrays:
            kept[run_id] = arrays
        rows.append(_row(run_id, result, _n_train(arrays)))
    return rows, results, problems, excluded, kept


# --- study.yaml and plan.json ------------------------------------------------------------------


def read_study(path: Path) -> tuple[Study | None, str, str | None, dict]:
    """(Study, raw text, data fingerprint, data summary) of a resolved study.yaml;
    (None, '', None, {}) if absent."""
    if not path.is_file():
        return None, "", None, {}
    try:
        text = path.read_text(encoding="utf-8")
        raw = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise UserError(f"{path} is not a readable YAML file ({exc}).") from None
    fingerprint, corpus = None, {}
    if isinstance(raw, dict) and isinstance(raw.get("data"), dict):
        # run-study records the data fingerprint and sizes next to the settings; not settings
        data = dict(raw["data"])
        fingerprint = data.pop("fingerprint", None)
        corpus = data.pop("corpus", None)
        corpus = corpus if isinstance(corpus, dict) else {}
        raw = {**raw, "data": data}
    try:
        study = parse_study(raw, source=str(path))
    except StudyError as exc:
        raise UserError(f"{exc} (the resolved study of results folder {path.parent})") from None
    return study, text, None if fingerprint is None else str(fingerprint), corpus


def read_plan(path: Path) -> pd.DataFrame | None:
    """plan.json as a frame (run_id, model, modalities, fold, seed); None if absent."""
    if not path.is_file():
        return None
    shape = '{"runs": [{"run_id", "model", "modalities", "fold", "seed"}, ...]}'
    try:
        runs = json.loads(path.read_text(encoding="utf-8"))["runs"]
        plan = pd.DataFrame(list(runs)) if runs else pd.DataFrame(columns=KEY_COLUMNS)
        plan = plan[KEY_COLUMNS].astype({"run_id": str, "model": str, "modalities": str,
                                         "fold": "int64", "seed": "int64"})
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UserError(f"{path} must be {shape}; it is not ({type(exc).__name__}: {exc}).") from None
    if plan["run_id"].duplicated().any():
        dup = plan.loc[plan["run_id"].duplicated(), "run_id"].iloc[0]
        raise UserError(f"{path} lists run {dup!r} more than once.")
    return plan


def _run_ids(root: Path, plan: pd.DataFrame | None, notes: list) -> tuple[list[str], dict]:
    """Run ids to read (the plan's, else every run folder) and the plan row of each."""
    runs_dir = root / "runs"
    on_disk = sorted(p.name for p in runs_dir.iterdir()
                     if p.is_dir() and not p.name.startswith(".")) if runs_dir.is_dir() else []
    if plan is None:
        return on_disk, {}
    ids = list(plan["run_id"])
    extra = len(set(on_disk) - set(ids))
    if extra:
        notes.append(f"{extra} run folder(s) in {runs_dir} are not in plan.json (ignored).")
    return ids, {r["run_id"]: r for r in plan.to_dict("records")}


# --- one run -------------------------------------------------------------------------------------


def read_result(run_dir: str | os.PathLike) -> dict | None:
    """A run's result.json; None when absent or unreadable (the run counts as not done)."""
    try:
        result = json.loads((Path(run_dir) / "result.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return result if isinstance(result, dict) else None


def check_run(run_dir: str | os.PathLike, spec: Any = None, *, max_epochs: int | None = None) -> list[str]:
    """Problems of one finished run folder ([] when consistent or not finished).

    `spec` is a plan.RunSpec or a spec.json dict: its identity and training.max_epochs are
    checked against result.json; without it, the folder's own spec.json gives max_epochs.
    """
    run_dir = Path(run_dir)
    if not (run_dir / "result.json").is_file():
        return []
    expected = None
    if spec is not None:
        expected = {k: _get(spec, k) for k in ("run_id", "model", "modalities", "fold", "seed")}
        max_epochs = max_epochs or _get(_get(spec, "training"), "max_epochs")
    if max_epochs is None:
        try:
            max_epochs = json.loads((run_dir / "spec.json").read_text())["training"]["max_epochs"]
        except (OSError, ValueError, KeyError, TypeError):
            max_epochs = None
    return _read_run(run_dir, max_epochs, expected, True, _npz_arrays(run_dir, everything=True))[1]


def _get(obj, key):
    if obj is None:
        return None
    return obj.get(key) if isinstance(obj, dict) else getattr(obj, key, None)


def _read_run(run_dir: Path, max_epochs, expected: dict | None, check: bool,
              arrays: dict | str) -> tuple[dict, list[str]]:
    """(result.json, problems) of one run folder that has a result.json."""
    where = f"{run_dir}/result.json"
    result = read_result(run_dir)
    if result is None:
        return {}, [f"{where}: not a readable JSON object"]
    status = result.get("status")
    if status not in STATUSES:
        return result, [f"{where}: status must be ok or failed; found {status!r}"]
    problems = _key_problems(result, where)
    if status == "ok":
        problems += _missing_metrics(result, where)
    if check and not problems:
        problems += _identity_problems(result, run_dir.name, expected, where)
        if status == "ok":
            problems += _epoch_problems(result, max_epochs, where)
            problems += _prediction_problems(result, run_dir, arrays)
    return result, problems


def _key_problems(result: dict, where: str) -> list[str]:
    """model and modalities must be strings, fold and seed integers (the table's keys)."""
    out = [f"{where}: {k} must be a string; found {result.get(k)!r}"
           for k in ("model", "modalities") if not isinstance(result.get(k), str)]
    return out + [f"{where}: {k} must be an integer; found {result.get(k)!r}"
                  for k in ("fold", "seed") if not _is_int(result.get(k))]


def _is_int(x) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def _missing_metrics(result: dict, where: str) -> list[str]:
    metrics = result.get("metrics")
    out = []
    for split in ("test", "dev"):
        m = metrics.get(split) if isinstance(metrics, dict) else None
        absent = [k for k in ("accuracy", "balanced_accuracy", "n")
                  if not isinstance(m, dict) or isinstance(m.get(k), bool)
                  or not isinstance(m.get(k), (int, float))]
        if absent:
            out.append(f"{where}: status ok but metrics.{split} lacks {', '.join(absent)}")
    return out


def _identity_problems(result: dict, folder: str, expected: dict | None, where: str) -> list[str]:
    out = []
    if result.get("run_id") != folder:
        out.append(f"{where}: run_id {result.get('run_id')!r} differs from its folder name {folder!r}")
    for key, want in (expected or {}).items():
        if want is not None and key != "run_id" and result.get(key) != want:
            out.append(f"{where}: {key} is {result.get(key)!r}, the plan says {want!r}")
    return out


def _epoch_problems(result: dict, max_epochs, where: str) -> list[str]:
    epochs, best = result.get("epochs"), result.get("best_epoch")
    if not _is_int(epochs) or epochs < 1:
        return [f"{where}: epochs must be a positive integer; found {epochs!r}"]
    out = []
    if max_epochs is not None and epochs > max_epochs:
        out.append(f"{where}: epochs {epochs} exceeds training.max_epochs {max_epochs}")
    if not _is_int(best) or not 1 <= best <= epochs:
        out.append(f"{where}: best_epoch must be in 1..epochs ({epochs}); found {best!r}")
    return out


def _n_train(arrays: dict | str) -> int | None:
    if not isinstance(arrays, dict) or "n_train" not in arrays:
        return None
    flat = np.asarray(arrays["n_train"]).reshape(-1)
    return int(flat[0]) if flat.size else None


def _npz_arrays(run_dir: Path, everything: bool) -> dict | str:
    """The arrays of predictions.npz: all of them (everything) or only n_train.

    {} when the file is absent; the reason (a string) when it is unreadable.
    """
    path = run_dir / "predictions.npz"
    if not path.is_file():
        return {}
    try:
        with np.load(path, allow_pickle=False) as z:
            keys = z.files if everything else [k for k in z.files if k == "n_train"]
            arrays = {k: np.asarray(z[k]) for k in keys}
    except (OSError, ValueError, KeyError, IndexError, EOFError) as exc:
        return f"not a readable .npz file ({exc})"
    return arrays


def _prediction_problems(result: dict, run_dir: Path, arrays: dict | str) -> list[str]:
    """Recompute accuracy and balanced accuracy from predictions.npz; compare with result.json."""
    path = run_dir / "predictions.npz"
    if isinstance(arrays, str):
        return [f"{path}: {arrays}"]
    if not path.is_file():
        return [f"{path}: missing for a run with status ok"]
    out = []
    for split in ("test", "dev"):
        y_true, y_pred = arrays.get(f"{split}_y_true"), arrays.get(f"{split}_y_pred")
        if y_true is None or y_pred is None:
            if split == "test":
                out.append(f"{path}: lacks test_y_true/test_y_pred")
            continue
        m = result["metrics"][split]
        if not (y_true.dtype.kind in "iu" and y_pred.dtype.kind in "iu"):
            out.append(f"{path}: {split}_y_true/{split}_y_pred must hold integer class ids; "
                       f"found {y_true.dtype}/{y_pred.dtype}")
            continue
        if y_true.shape != y_pred.shape or y_true.size != m["n"]:
            out.append(f"{path}: {split} arrays hold {y_true.size}/{y_pred.size} predictions, "
                       f"result.json metrics.{split}.n says {m['n']}")
            continue
        for name, value in (("accuracy", _accuracy(y_true, y_pred)),
                            ("balanced_accuracy", _balanced_accuracy(y_true, y_pred))):
            stated = float(m[name])
            same = (math.isnan(stated) and math.isnan(value)) or abs(stated - value) <= TOLERANCE
            if not same:
                out.append(f"{run_dir}/result.json: metrics.{split}.{name} is {stated:.6g} but "
                           f"predictions.npz gives {value:.6g}")
    return out


def _accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(y_true == y_pred)) if y_true.size else math.nan


def _balanced_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean recall over the classes present in y_true (sklearn's definition), in numpy."""
    if not y_true.size or y_true.min() < 0:
        return math.nan
    support = np.bincount(y_true)
    hits = np.bincount(y_true[y_true == y_pred], minlength=support.size)
    present = support > 0
    return float(np.mean(hits[present] / support[present]))


# --- the runs table ------------------------------------------------------------------------------


def _row(run_id: str, result: dict, n_train: int | None) -> dict:
    row = {k: result.get(k) for k in RUN_COLUMNS}
    row["run_id"] = run_id
    metrics = result.get("metrics") if isinstance(result.get("metrics"), dict) else {}
    for split in ("dev", "test"):
        m = metrics.get(split) if isinstance(metrics.get(split), dict) else {}
        for name in SUMMARY_METRICS:
            row[f"{split}_{name}"] = m.get(name)
    row["n_test"] = (metrics.get("test") or {}).get("n") if isinstance(metrics.get("test"), dict) else None
    row["n_train"] = n_train
    return row


def _frame(rows: list[dict], models) -> pd.DataFrame:
    """The runs table: typed columns, in study model order, then A..AVT, fold, seed."""
    df = pd.DataFrame(rows, columns=RUN_COLUMNS)
    for c in ("run_id", "model", "modalities", "status"):
        df[c] = df[c].astype(str)
    for c in ("fold", "seed"):
        df[c] = pd.to_numeric(df[c], errors="coerce").astype("int64") if len(df) else df[c].astype("int64")
    numeric = [c for c in RUN_COLUMNS if c not in KEY_COLUMNS + ["status", "device", "error"]]
    for c in numeric:
        df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
    df["device"] = df["device"].astype(object)
    df["error"] = df["error"].astype(object)
    return sort_runs(df, models)


def sort_runs(df: pd.DataFrame, models=()) -> pd.DataFrame:
    """Rows in `models` order (others after, by name), then A..AVT, fold, seed."""
    if df.empty:
        return df.reset_index(drop=True)
    model_order = {m: i for i, m in enumerate(list(models) + sorted(set(df["model"]) - set(models)))}
    combo_order = {c: i for i, c in enumerate(ALL_COMBINATIONS)}
    order = df.assign(_m=df["model"].map(model_order),
                      _c=df["modalities"].map(combo_order).fillna(len(combo_order)))
    keys = [k for k in ("_m", "_c", "fold", "seed", "run_id") if k in order.columns]
    order = order.sort_values(keys, kind="stable")
    return order.drop(columns=["_m", "_c"]).reset_index(drop=True)
