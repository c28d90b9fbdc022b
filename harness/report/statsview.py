"""The statistics a report needs, from a StudyStats object (harness.analysis), a DataFrame or stats.csv."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from harness.analysis import _BOOL, _FLOAT, _INT, _TEXT, COLUMNS, _bool
from harness.analysis import normalise_rows as _normalise_rows
from harness.errors import UserError

STATS_COLUMNS = COLUMNS
NUMERIC = _FLOAT + _INT
TEXT = _TEXT
BOOL = _BOOL


_LENIENT = {"1": True, "1.0": True, "yes": True, "0": False, "0.0": False, "no": False}


def _to_bool(value):
    """A flag as harness.analysis reads it ("true"/"false", any case), also taking 1/0 and yes/no."""
    flag = _bool(value)
    return _LENIENT.get(str(value).strip().lower(), pd.NA) if flag is pd.NA else flag


def normalise_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """harness.analysis.normalise_rows, all numbers as float (n too) and lenient flags ("1", "yes", ...)."""
    return _normalise_rows(rows, floats=NUMERIC, to_bool=_to_bool)


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
