"""The statistics a report needs, from a StudyStats object (harness.analysis), a DataFrame or stats.csv."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from harness.errors import UserError

STATS_COLUMNS = [
    "family", "metric", "a", "b", "model_a", "modalities_a", "model_b", "modalities_b", "unit", "test",
    "n", "statistic", "pvalue", "pvalue_adj", "estimate", "ci_low", "ci_high", "effect_size", "effect_name",
    "p_left", "p_rope", "p_right", "equivalent", "significant", "n_significant", "note",
]
NUMERIC = ["n", "statistic", "pvalue", "pvalue_adj", "estimate", "ci_low", "ci_high", "effect_size",
           "p_left", "p_rope", "p_right", "n_significant"]
TEXT = ["family", "metric", "a", "b", "model_a", "modalities_a", "model_b", "modalities_b", "unit", "test",
        "effect_name", "note"]
BOOL = ["equivalent", "significant"]


def _to_bool(value):
    if value is None:
        return pd.NA
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, float) and math.isnan(value):
        return pd.NA
    text = str(value).strip().lower()
    if text in {"true", "1", "yes", "1.0"}:
        return True
    if text in {"false", "0", "no", "0.0"}:
        return False
    return pd.NA


def normalise_rows(rows: pd.DataFrame) -> pd.DataFrame:
    rows = rows.copy()
    for col in STATS_COLUMNS:
        if col not in rows.columns:
            rows[col] = pd.NA
    for col in NUMERIC:
        rows[col] = pd.to_numeric(rows[col], errors="coerce").astype(float)
    for col in TEXT:
        rows[col] = rows[col].map(lambda v: "" if v is None or (isinstance(v, float) and math.isnan(v))
                                  or v is pd.NA else str(v))
    for col in BOOL:
        rows[col] = rows[col].map(_to_bool).astype(object)
    return rows.reset_index(drop=True)


@dataclass
class StatsView:
    rows: pd.DataFrame
    notes: tuple = ()
    excluded: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)

    @classmethod
    def from_any(cls, stats) -> "StatsView":
        if isinstance(stats, StatsView):
            return stats
        if isinstance(stats, pd.DataFrame):
            return cls(normalise_rows(stats))
        if isinstance(stats, (str, Path)):
            return cls.read_csv(Path(stats))
        rows = getattr(stats, "rows", None)
        if not isinstance(rows, pd.DataFrame):
            raise TypeError(f"stats must be a StudyStats, a DataFrame or a path; got {type(stats).__name__}")
        return cls(normalise_rows(rows), tuple(getattr(stats, "notes", ()) or ()),
                   dict(getattr(stats, "excluded", {}) or {}), dict(getattr(stats, "meta", {}) or {}))

    @classmethod
    def read_csv(cls, path: Path) -> "StatsView":
        try:
            rows = pd.read_csv(path, keep_default_na=False, na_values=["", "NA", "NaN", "nan", "<NA>"])
        except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise UserError(f"{path}: stats.csv is not a readable CSV file ({exc})") from None
        missing = [c for c in ("family", "metric", "a", "b", "unit", "test", "pvalue") if c not in rows.columns]
        if missing:
            raise UserError(f"{path}: stats.csv lacks column(s) {missing}; found {list(rows.columns)}")
        return cls(normalise_rows(rows))

    def alpha(self, default: float) -> float:
        try:
            return float(self.meta.get("alpha", default))
        except (TypeError, ValueError):
            return default

    def select(self, **where) -> pd.DataFrame:
        rows = self.rows
        for key, value in where.items():
            if isinstance(value, (list, tuple, set)):
                rows = rows[rows[key].isin(list(value))]
            else:
                rows = rows[rows[key] == value]
        return rows
