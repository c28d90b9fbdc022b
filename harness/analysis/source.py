"""What the statistics stand on: the results folder through `harness.table`, and the settings.

Nothing here opens a file: the table module is the one reader of a results folder.  This
module turns its runs table into the ok runs the tests use, and counts every run left out
(failed, missing, duplicated, without a metric) so that nothing is dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .. import table
from ..errors import UserError
from ..stats.registry import Settings

METRICS = ("accuracy", "balanced_accuracy")      # analysed always; stats.primary may add one
BAYES_MIN_FOLDS = 5                              # see harness.stats.entries.run_bayes


@dataclass(frozen=True)
class Primary:
    metric: str = "balanced_accuracy"
    unit: str = "fold"
    test: str = "paired_t"

    def as_dict(self) -> dict:
        return {"metric": self.metric, "unit": self.unit, "test": self.test}


@dataclass
class Source:
    """A results folder read for the statistics: its settings, ok runs and exclusions."""
    folder: table.ResultsFolder
    settings: Settings
    primary: Primary                       # as declared (stats.primary)
    runs: pd.DataFrame                     # every run in the table, with a `cfg` column
    ok: pd.DataFrame                       # ok runs, one per (model, modalities, fold, seed)
    metrics: tuple[str, ...]
    notes: list = field(default_factory=list)
    excluded: dict = field(default_factory=dict)

    @property
    def study(self):
        return self.folder.study

    @property
    def n_folds(self) -> int:
        return int(self.ok["fold"].nunique()) if len(self.ok) else 0


def label(model: str, mods: str) -> str:
    return f"{model}:{mods}"


def settings_of(study, alpha=None, correction=None, margin=None) -> tuple[Settings, Primary]:
    """The study's stats settings, with the keyword overrides of `analyze` applied (checked)."""
    cfg = study.stats if study is not None else None
    a = float(alpha if alpha is not None else (cfg.alpha if cfg else 0.05))
    m = float(margin if margin is not None else (cfg.equivalence_margin if cfg else 0.01))
    c = correction if correction is not None else (cfg.correction if cfg else "holm")
    if not 0 < a < 1:
        raise UserError(f"alpha must be in (0, 1), found {a}")
    if not 0 < m < 1:
        raise UserError(f"the equivalence margin must be in (0, 1), found {m}")
    if c not in ("holm", "fdr_bh"):
        raise UserError(f"stats.correction must be 'holm' or 'fdr_bh', found {c!r}")
    p = cfg.primary if cfg is not None else None
    primary = Primary(p.metric, p.unit, p.test) if p is not None else Primary()
    return Settings(alpha=a, correction=c, margin=m, rope=m,
                    bayes_min_folds=BAYES_MIN_FOLDS), primary


def read(results_dir, *, alpha=None, correction=None, margin=None,
         bayes_samples: int = 5000) -> Source:
    """Load a results folder through harness.table and split its runs into ok and excluded."""
    folder = table.load(Path(results_dir))
    settings, primary = settings_of(folder.study, alpha, correction, margin)
    settings = Settings(**{**settings.__dict__, "bayes_samples": int(bayes_samples)})
    notes = list(folder.notes)
    if folder.study is None:
        notes.append("stats settings are the defaults (no study.yaml)")
    runs = folder.runs.copy()
    runs["cfg"] = runs["model"] + ":" + runs["modalities"]
    metrics = tuple(dict.fromkeys(METRICS + (primary.metric,)))
    excluded: dict = {"failed": {}, "n_failed": 0, "missing": {}, "n_missing": 0,
                      "unpaired": [], "duplicates": [], "predictions": [], "no_metric": [],
                      "problems": list(folder.problems)}
    _failed(runs, excluded, notes)
    _missing(folder.plan, runs, excluded)
    ok = _ok_runs(runs, metrics, excluded, notes)
    return Source(folder, settings, primary, runs, ok, metrics, notes, excluded)


def _failed(runs: pd.DataFrame, excluded: dict, notes: list) -> None:
    bad = runs[runs["status"] != "ok"]
    if len(bad):
        excluded["failed"] = {k: int(v) for k, v in bad.groupby("cfg", sort=False).size().items()}
        excluded["n_failed"] = int(len(bad))
        excluded["failed_runs"] = bad["run_id"].tolist()
        notes.append(f"{len(bad)} failed run(s) excluded: "
                     + ", ".join(f"{k} x{v}" for k, v in excluded["failed"].items()))


def _missing(plan: pd.DataFrame | None, runs: pd.DataFrame, excluded: dict) -> None:
    if plan is None or not len(plan):
        return
    missing = plan[~plan["run_id"].isin(runs["run_id"])]
    if len(missing):
        lab = [label(m, x) for m, x in zip(missing["model"], missing["modalities"])]
        excluded["missing"] = {k: int(v) for k, v in pd.Series(lab).value_counts().items()}
        excluded["n_missing"] = int(len(missing))


def _ok_runs(runs: pd.DataFrame, metrics, excluded: dict, notes: list) -> pd.DataFrame:
    ok = runs[runs["status"] == "ok"].copy()
    dup = ok.duplicated(subset=["model", "modalities", "fold", "seed"], keep="last")
    if dup.any():
        excluded["duplicates"] = ok.loc[dup, "run_id"].tolist()
        notes.append(f"{int(dup.sum())} duplicate ok run(s) of the same (model, modalities, "
                     f"fold, seed): the last one is used")
        ok = ok[~dup]
    cols = [f"test_{m}" for m in metrics]
    nometric = ok[ok[cols].isna().any(axis=1)]
    if len(nometric):
        excluded["no_metric"] = nometric["run_id"].tolist()
        notes.append(f"{len(nometric)} ok run(s) lack a test metric (excluded from that "
                     f"metric's tests)")
    return ok.reset_index(drop=True)


def split_sizes(ok: pd.DataFrame) -> tuple[float, float]:
    """Mean (n_train, n_test) of the ok runs; NaN where the results do not record them."""
    out = []
    for c in ("n_train", "n_test"):
        v = pd.to_numeric(ok[c], errors="coerce").dropna() if c in ok else pd.Series([], dtype=float)
        out.append(float(v.mean()) if len(v) else float("nan"))
    return out[0], out[1]


def as_python(v):
    """numpy scalars -> Python scalars (for JSON)."""
    return v.item() if isinstance(v, np.generic) else v
