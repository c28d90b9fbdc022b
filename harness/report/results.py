"""Read a results folder (runs.csv, plan.json, study.yaml, per-run files) for the report.

Everything the report shows comes from the results folder alone; the data folder is never read.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from harness.errors import UserError

MODALITY_ORDER = ["A", "V", "T", "AV", "AT", "VT", "AVT"]
MODEL_ORDER = ["self", "cross", "cross_self", "self_nosp", "cross_nosp"]
METRICS = ["balanced_accuracy", "accuracy"]
# The paper's naming (opposite of much of the literature): WA = balanced accuracy, UWA = accuracy.
METRIC_SHORT = {"balanced_accuracy": "WA", "accuracy": "UWA"}
METRIC_LONG = {"balanced_accuracy": "balanced accuracy (WA)", "accuracy": "accuracy (UWA)"}
WA_FOOTNOTE = (
    "WA = balanced accuracy (mean per-class recall), UWA = accuracy, following the paper's naming; "
    "much of the literature uses the opposite words"
)
PAPER_SOURCE = "Rajan, Brutti & Cavallaro, ICASSP 2022 (arXiv 2202.09263)"

REQUIRED_RUN_COLUMNS = ["run_id", "model", "modalities", "fold", "seed", "status"]
REQUIRED_OK_METRICS = ["test_accuracy", "test_balanced_accuracy"]
NUMERIC_RUN_COLUMNS = [
    "fold", "seed", "epochs", "best_epoch", "train_seconds", "n_params",
    "dev_accuracy", "dev_balanced_accuracy", "dev_macro_f1", "dev_weighted_f1",
    "test_accuracy", "test_balanced_accuracy", "test_macro_f1", "test_weighted_f1",
]


def canonical_modalities(value: str) -> str:
    """Write a modality combination in A,V,T order ("TA" -> "AT")."""
    text = str(value).strip().upper()
    if not text or any(ch not in "AVT" for ch in text) or len(set(text)) != len(text):
        raise ValueError(value)
    return "".join(ch for ch in "AVT" if ch in text)


def order_models(models) -> list[str]:
    models = list(dict.fromkeys(models))
    known = [m for m in MODEL_ORDER if m in models]
    return known + sorted(m for m in models if m not in MODEL_ORDER)


def order_modalities(mods) -> list[str]:
    mods = list(dict.fromkeys(mods))
    known = [m for m in MODALITY_ORDER if m in mods]
    return known + sorted(m for m in mods if m not in MODALITY_ORDER)


def load_paper_values() -> pd.DataFrame:
    """Published values (fractions) shipped as package data."""
    ref = resources.files("harness.report").joinpath("paper_values.csv")
    with ref.open("r", encoding="utf-8") as fh:
        return pd.read_csv(fh, comment="#")


def _read_runs_csv(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise UserError(f"{path}: runs.csv not found; a results folder needs runs.csv (one row per finished run)")
    try:
        runs = pd.read_csv(path, dtype={"run_id": str, "model": str, "modalities": str, "status": str,
                                         "device": str, "error": str},
                           keep_default_na=False, na_values=[""])
    except pd.errors.EmptyDataError:
        raise UserError(f"{path}: runs.csv is empty; expected a header with columns {REQUIRED_RUN_COLUMNS}") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise UserError(f"{path}: runs.csv is not a readable CSV file ({exc})") from None
    missing = [c for c in REQUIRED_RUN_COLUMNS + REQUIRED_OK_METRICS if c not in runs.columns]
    if missing:
        raise UserError(f"{path}: runs.csv lacks column(s) {missing}; found {list(runs.columns)}")
    for col in NUMERIC_RUN_COLUMNS:
        if col in runs.columns:
            converted = pd.to_numeric(runs[col], errors="coerce")
            bad = converted.isna() & runs[col].notna()
            if bad.any():
                i = int(np.flatnonzero(bad.to_numpy())[0])
                raise UserError(f"{path}: runs.csv column '{col}' must be numeric; row {i + 2} has "
                                f"{runs[col].iloc[i]!r}")
            runs[col] = converted
    for col in ("run_id", "model", "modalities", "status"):
        if runs[col].isna().any():
            i = int(np.flatnonzero(runs[col].isna().to_numpy())[0])
            raise UserError(f"{path}: runs.csv column '{col}' is empty in row {i + 2}")
        runs[col] = runs[col].astype(str).str.strip()
    for col in ("fold", "seed"):
        if runs[col].isna().any() or not np.all(np.mod(runs[col].to_numpy(dtype=float), 1) == 0):
            raise UserError(f"{path}: runs.csv column '{col}' must hold whole numbers for every row")
        runs[col] = runs[col].astype("int64")
    try:
        runs["modalities"] = runs["modalities"].map(canonical_modalities)
    except ValueError as exc:
        raise UserError(f"{path}: runs.csv column 'modalities' must be a combination of A, V, T; "
                        f"found {exc.args[0]!r}") from None
    bad_status = sorted(set(runs["status"]) - {"ok", "failed"})
    if bad_status:
        raise UserError(f"{path}: runs.csv column 'status' allows 'ok' or 'failed'; found {bad_status}")
    ok = runs["status"] == "ok"
    for col in REQUIRED_OK_METRICS:
        if runs.loc[ok, col].isna().any():
            rid = runs.loc[ok & runs[col].isna(), "run_id"].iloc[0]
            raise UserError(f"{path}: runs.csv run '{rid}' has status ok but no value in '{col}'")
        vals = runs.loc[ok, col]
        if ((vals < 0) | (vals > 1)).any():
            raise UserError(f"{path}: runs.csv column '{col}' must be a fraction in [0, 1]")
    if runs["run_id"].duplicated().any():
        dup = runs.loc[runs["run_id"].duplicated(), "run_id"].iloc[0]
        raise UserError(f"{path}: runs.csv lists run '{dup}' more than once")
    return runs


def _read_plan(path: Path) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
        plan = pd.DataFrame(payload["runs"])
        plan = plan[["run_id", "model", "modalities", "fold", "seed"]].copy()
        plan["modalities"] = plan["modalities"].map(canonical_modalities)
        plan["model"] = plan["model"].astype(str)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UserError(f"{path}: plan.json must be {{\"runs\": [{{run_id, model, modalities, fold, seed}}, ...]}} "
                        f"({type(exc).__name__}: {exc})") from None
    return plan


def _read_study(path: Path) -> tuple[dict, str]:
    if not path.is_file():
        return {}, ""
    import yaml

    text = path.read_text(encoding="utf-8")
    try:
        study = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: study.yaml is not valid YAML ({exc})") from None
    if not isinstance(study, dict):
        raise UserError(f"{path}: study.yaml must be a mapping; found {type(study).__name__}")
    return study, text


@dataclass
class Results:
    """A results folder, read once."""

    dir: Path
    runs: pd.DataFrame
    plan: pd.DataFrame | None
    study: dict
    study_text: str
    notes: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, results_dir) -> "Results":
        results_dir = Path(results_dir)
        if not results_dir.is_dir():
            raise UserError(f"{results_dir}: results folder not found")
        runs = _read_runs_csv(results_dir / "runs.csv")
        plan = _read_plan(results_dir / "plan.json")
        study, text = _read_study(results_dir / "study.yaml")
        notes = []
        if plan is None:
            notes.append("plan.json is missing: planned runs are taken to be the finished ones.")
        if not study:
            notes.append("study.yaml is missing: study name, data and class names are unknown.")
        return cls(results_dir, runs, plan, study, text, notes)

    # ---- study facts -------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return str(self.study.get("name") or self.dir.name)

    @property
    def data(self) -> dict:
        data = self.study.get("data") or {}
        return data if isinstance(data, dict) else {}

    @property
    def is_real_iemocap(self) -> bool:
        return self.data.get("format") == "iemocap_yoon"

    @property
    def show_paper(self) -> bool:
        """Show the published values: report.paper_values auto (real IEMOCAP only) | always | never."""
        report = self.study.get("report") or {}
        mode = str(report.get("paper_values", "auto")) if isinstance(report, dict) else "auto"
        if mode == "always":
            return True
        if mode == "never":
            return False
        return self.is_real_iemocap

    @property
    def figures_enabled(self) -> bool:
        report = self.study.get("report") or {}
        return not (isinstance(report, dict) and report.get("figures") is False)

    @property
    def alpha(self) -> float:
        return self._stats_number("alpha", 0.05)

    @property
    def margin(self) -> float:
        return self._stats_number("equivalence_margin", 0.01)

    def _stats_number(self, key: str, default: float) -> float:
        """study.yaml stats.<key> as a float; default when it is absent or not a number."""
        stats = self.study.get("stats") or {}
        try:
            return float(stats.get(key, default))
        except (TypeError, ValueError):
            return default

    def class_names(self, n_classes: int) -> list[str]:
        names = self.data.get("classes")
        if isinstance(names, list) and len(names) == n_classes:
            return [str(n) for n in names]
        return [f"class {i}" for i in range(n_classes)]

    # ---- runs ---------------------------------------------------------------------------------
    @cached_property
    def ok(self) -> pd.DataFrame:
        return self.runs[self.runs["status"] == "ok"].reset_index(drop=True)

    @property
    def models(self) -> list[str]:
        return order_models(self.ok["model"])

    @property
    def modalities(self) -> list[str]:
        return order_modalities(self.ok["modalities"])

    def select(self, model: str | None = None, modalities: str | None = None) -> pd.DataFrame:
        sel = self.ok
        if model is not None:
            sel = sel[sel["model"] == model]
        if modalities is not None:
            sel = sel[sel["modalities"] == modalities]
        return sel

    def run_dir(self, run_id: str) -> Path:
        return self.dir / "runs" / str(run_id)

    def result_json(self, run_id: str) -> dict | None:
        path = self.run_dir(run_id) / "result.json"
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def history(self, run_id: str) -> pd.DataFrame | None:
        path = self.run_dir(run_id) / "history.csv"
        try:
            hist = pd.read_csv(path)
        except (OSError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError):
            return None
        if "epoch" not in hist.columns or "dev_accuracy" not in hist.columns:
            return None
        return hist

    def confusion(self, run_id: str, n_classes: int | None = None) -> np.ndarray | None:
        """Test confusion matrix of one run (rows = true class): result.json, else predictions.npz."""
        res = self.result_json(run_id)
        try:
            cm = np.asarray(res["metrics"]["test"]["confusion_matrix"], dtype=float)
            if cm.ndim == 2 and cm.shape[0] == cm.shape[1] and cm.size:
                return cm
        except (TypeError, KeyError, ValueError):
            pass
        path = self.run_dir(run_id) / "predictions.npz"
        try:
            with np.load(path) as npz:
                y_true = np.asarray(npz["test_y_true"], dtype=int)
                y_pred = np.asarray(npz["test_y_pred"], dtype=int)
                if n_classes is None and "test_proba" in npz:
                    n_classes = int(np.asarray(npz["test_proba"]).shape[1])
        except (OSError, KeyError, ValueError):
            return None
        k = n_classes or int(max(y_true.max(initial=0), y_pred.max(initial=0)) + 1)
        cm = np.zeros((k, k))
        np.add.at(cm, (y_true, y_pred), 1)
        return cm

    @cached_property
    def versions(self) -> dict[str, list[str]]:
        """harness/torch versions and devices over the ok runs (result.json, runs.csv)."""
        harness_v, torch_v = set(), set()
        for rid in self.ok["run_id"]:
            res = self.result_json(rid)
            if not res:
                continue
            if res.get("harness_version"):
                harness_v.add(str(res["harness_version"]))
            if res.get("torch_version"):
                torch_v.add(str(res["torch_version"]))
        devices = set()
        if "device" in self.runs.columns:
            devices = {str(d) for d in self.ok["device"].dropna() if str(d)}
        return {"harness": sorted(harness_v), "torch": sorted(torch_v), "device": sorted(devices)}

    @property
    def total_train_seconds(self) -> float:
        if "train_seconds" not in self.runs.columns:
            return math.nan
        return float(self.runs["train_seconds"].fillna(0).sum())
