"""Compare a study's results table with a committed baseline; name every cell that moved.

The baseline is a small CSV, sorted, one row per run (level "run": model, modalities, fold,
seed) and one per configuration (level "config": the mean over its runs), readable in a
code review. Counts (epochs, best epoch, correct test/dev predictions) are compared
exactly; metric fractions within `atol`.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import UserError
from .store import atomic_write_text, read_runs_table, sort_runs

KEY = ["level", "model", "modalities", "fold", "seed"]
EXACT = ["status", "epochs", "best_epoch", "test_correct", "dev_correct"]
METRICS = [f"{s}_{m}" for s in ("test", "dev") for m in
           ("accuracy", "balanced_accuracy", "macro_f1", "weighted_f1")]
COLUMNS = KEY + ["study"] + EXACT + METRICS
# Default tolerance for metric cells. CPU training here is bit-for-bit deterministic (same
# results with 1 or 2 threads and in separate processes, measured); what is left is the
# 6-decimal rounding of the baseline file. A different CPU or library version can move a
# run more than that: compare with a larger --atol there, or refresh the baseline.
DEFAULT_ATOL = 1e-6


def baseline_frame(results_dir: str | Path) -> pd.DataFrame:
    """The baseline rows for a results folder: every run, then configuration means."""
    runs = read_runs_table(results_dir)
    study = _study_name(results_dir)
    runs = runs[runs["status"].notna()].copy()
    sizes = _split_sizes(results_dir, runs)
    runs["test_correct"] = (runs["test_accuracy"] * sizes["test"]).round()
    runs["dev_correct"] = (runs["dev_accuracy"] * sizes["dev"]).round()
    runs["level"] = "run"
    ok = runs[runs["status"] == "ok"]
    config = (ok.groupby(["model", "modalities"], sort=False)[METRICS].mean().reset_index())
    config["level"] = "config"
    config["status"] = "ok"
    frame = pd.concat([sort_runs(runs), sort_runs(config.assign(fold=np.nan, seed=np.nan))],
                      ignore_index=True)
    frame["study"] = study
    frame = frame.reindex(columns=COLUMNS)
    frame[METRICS] = frame[METRICS].astype(float).round(6)
    for c in ["fold", "seed", "epochs", "best_epoch", "test_correct", "dev_correct"]:
        frame[c] = frame[c].astype("Int64")
    return frame


def _study_name(results_dir) -> str:
    import yaml

    try:
        return yaml.safe_load((Path(results_dir) / "study.yaml").read_text())["name"]
    except (OSError, KeyError, TypeError, yaml.YAMLError):
        return Path(results_dir).name


def _split_sizes(results_dir, runs) -> pd.DataFrame:
    """Test and dev utterances per run, from each run's result.json (read once)."""
    import json

    sizes = []
    for run_id in runs["run_id"]:
        try:
            m = json.loads((Path(results_dir) / "runs" / str(run_id) / "result.json").read_text())["metrics"]
            sizes.append((m["test"]["n"], m["dev"]["n"]))
        except (OSError, KeyError, TypeError, ValueError):
            sizes.append((np.nan, np.nan))
    return pd.DataFrame(sizes, index=runs.index, columns=["test", "dev"], dtype=float)


def read_baseline(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"baseline {path} does not exist. Create it with "
                        f"'harness regress RESULTS_DIR --baseline {path} --update'.")
    try:
        df = pd.read_csv(path, dtype={"modalities": str, "status": str, "level": str, "study": str})
    except Exception as exc:
        raise UserError(f"baseline {path} is not a readable CSV file: {exc}") from None
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise UserError(f"baseline {path} lacks the column(s) {', '.join(missing)}; a baseline "
                        f"has the columns {', '.join(COLUMNS)}.")
    bad = set(df["level"]) - {"run", "config"}
    if bad:
        raise UserError(f"baseline {path}: column 'level' must be 'run' or 'config'; found {sorted(bad)}.")
    try:
        df[METRICS] = df[METRICS].astype(float)
        for c in ["fold", "seed", "epochs", "best_epoch", "test_correct", "dev_correct"]:
            df[c] = df[c].astype("Int64")
    except (ValueError, TypeError) as exc:
        raise UserError(f"baseline {path} has a non-numeric value in a numeric column: {exc}") from None
    return df[COLUMNS]


def compare(baseline: pd.DataFrame, current: pd.DataFrame, atol: float) -> pd.DataFrame:
    """Every cell that moved: key, column, old, new, difference; plus missing/extra rows."""
    b = baseline.set_index(KEY)
    c = current.set_index(KEY)
    rows = []
    for key in b.index.difference(c.index, sort=False):
        rows.append((*key, "(row)", "present", "missing", ""))
    for key in c.index.difference(b.index, sort=False):
        rows.append((*key, "(row)", "absent", "extra", ""))
    common = b.index.intersection(c.index, sort=False)
    for col in EXACT + METRICS:
        old, new = b.loc[common, col], c.loc[common, col]
        if col in METRICS:
            o, n = old.astype(float).to_numpy(), new.astype(float).to_numpy()
            moved = ~(np.isclose(o, n, rtol=0, atol=atol) | (np.isnan(o) & np.isnan(n)))
        else:
            moved = ~((old == new).fillna(False) | (old.isna() & new.isna())).to_numpy(dtype=bool)
        for key, o_val, n_val in zip(common[moved], old[moved], new[moved]):
            diff = ""
            if col not in ("status",) and pd.notna(o_val) and pd.notna(n_val):
                diff = f"{float(n_val) - float(o_val):+.6g}"
            rows.append((*key, col, o_val, n_val, diff))
    out = pd.DataFrame(rows, columns=KEY + ["column", "old", "new", "difference"])
    return out


def _fmt_key(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    for c in ("fold", "seed"):
        df[c] = df[c].map(lambda v: "" if pd.isna(v) else str(int(v)))
    return df


def regress(results_dir, baseline_path, *, update: bool = False, atol: float | None = None,
            quiet: bool = False) -> int:
    """0 when every cell holds, 1 on any regression, UserError (exit 2) on bad input."""
    atol = DEFAULT_ATOL if atol is None else atol
    if atol < 0:
        raise UserError(f"--atol must be a non-negative number. Got {atol} instead.")
    current = baseline_frame(results_dir)
    baseline_path = Path(baseline_path)
    if update:
        changes = None
        if baseline_path.is_file():
            try:
                changes = compare(read_baseline(baseline_path), current, atol=0)
            except UserError:
                changes = None
        baseline_path.parent.mkdir(parents=True, exist_ok=True)
        buf = io.StringIO()
        current.to_csv(buf, index=False, float_format="%.6f", lineterminator="\n")
        atomic_write_text(baseline_path, buf.getvalue())
        if not quiet:
            what = ("new baseline" if changes is None else
                    f"{len(changes)} cell(s) changed" if len(changes) else "no cell changed")
            print(f"wrote {baseline_path} ({len(current)} rows; {what})")
            if changes is not None and len(changes):
                print(_fmt_key(changes).to_string(index=False))
        return 0
    baseline = read_baseline(baseline_path)
    studies = set(baseline["study"].dropna()) - {_study_name(results_dir)}
    if studies:
        raise UserError(f"baseline {baseline_path} is for study {sorted(studies)[0]!r}, but "
                        f"{results_dir} holds study {_study_name(results_dir)!r}.")
    moved = compare(baseline, current, atol)
    if moved.empty:
        if not quiet:
            print(f"regress: all {len(baseline)} rows of {baseline_path} hold "
                  f"(metrics within atol={atol:g}, counts exact).")
        return 0
    print(f"regress: {len(moved)} cell(s) moved beyond atol={atol:g} against {baseline_path}:",
          file=sys.stderr)
    print(_fmt_key(moved).to_string(index=False), file=sys.stderr)
    return 1
