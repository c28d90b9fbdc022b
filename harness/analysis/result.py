"""The result of the stats stage: `StudyStats`, its stats.json / stats.csv form, and reading it back."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import UserError
from ..io import atomic_write_text
from .rows import BOOL, COLUMNS, FLOAT, TEXT

VERSION = 2


@dataclass(frozen=True)
class StudyStats:
    rows: pd.DataFrame                               # tidy table, columns COLUMNS
    notes: tuple = ()                                # human-readable caveats
    excluded: dict = field(default_factory=dict)     # failed / missing / unpaired / ...
    meta: dict = field(default_factory=dict)         # settings, primary, corpus, ...
    headline: tuple = ()                             # one verdict per comparison x combination
    summaries: tuple = ()                            # mean / sd / CI per model x modalities x metric
    ranks: tuple = ()                                # average ranks, Nemenyi q and CD per set

    def to_json(self) -> dict:
        """The stats.json object (strict JSON: NaN and NA become null)."""
        rows = json.loads(self.rows.to_json(orient="records"))
        return jsonable({"version": VERSION, "meta": self.meta, "notes": list(self.notes),
                         "excluded": self.excluded, "columns": COLUMNS, "rows": rows,
                         "headline": list(self.headline), "summaries": list(self.summaries),
                         "ranks": list(self.ranks)})

    @classmethod
    def from_json(cls, d: dict) -> "StudyStats":
        """A StudyStats from a parsed stats.json (version 2; version 1 files give empty
        headline / summaries / ranks)."""
        if not isinstance(d, dict) or "rows" not in d:
            raise UserError("stats.json must be an object with 'rows'; run 'harness stats' again")
        rows = normalise_rows(pd.DataFrame(d.get("rows") or [], columns=None))
        return cls(rows=rows, notes=tuple(d.get("notes", ())), excluded=d.get("excluded", {}),
                   meta=d.get("meta", {}), headline=tuple(_nan(d.get("headline", ()))),
                   summaries=tuple(_nan(d.get("summaries", ()))), ranks=tuple(d.get("ranks", ())))


def _nan(entries) -> list[dict]:
    """null -> NaN in the numeric fields of headline / summary entries (as they were written)."""
    keys = ("estimate", "ci_low", "ci_high", "ci_coverage", "p_adj", "mean", "sd")
    return [{k: (math.nan if k in keys and v is None else v) for k, v in e.items()} for e in entries]


def write_stats(stats: StudyStats, results_dir) -> None:
    """Write stats.csv (the rows) and stats.json (everything), each atomically."""
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise UserError(f"results folder {results_dir} does not exist")
    atomic_write_text(results_dir / "stats.csv", stats.rows.to_csv(index=False))
    atomic_write_text(results_dir / "stats.json",
                      json.dumps(stats.to_json(), indent=1, allow_nan=False))


def load_stats(results_dir) -> StudyStats:
    """The stats.json of a results folder (through harness.table), as a StudyStats."""
    from .. import table

    d = table.load(results_dir, check=False).stats_json()
    if d is None:
        raise UserError(f"{Path(results_dir) / 'stats.json'} is missing: run 'harness stats "
                        f"{results_dir}' first")
    return StudyStats.from_json(d)


def normalise_rows(df: pd.DataFrame) -> pd.DataFrame:
    """A stats table with every COLUMNS column in its dtype: floats (NaN where missing), text
    ('' where missing), flags as nullable booleans, counts as integers."""
    df = df.copy()
    for c in COLUMNS:
        if c not in df.columns:
            df[c] = pd.NA
    for c in FLOAT:
        df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
    for c in TEXT:
        df[c] = df[c].map(lambda v: "" if v is None or v is pd.NA or (isinstance(v, float)
                                                                      and math.isnan(v)) else str(v))
    for c in BOOL:
        df[c] = pd.array([to_bool(v) for v in df[c]], dtype="boolean")
    df["n"] = pd.to_numeric(df["n"], errors="coerce").fillna(0).astype("int64")
    df["n_significant"] = pd.array(pd.to_numeric(df["n_significant"], errors="coerce"),
                                   dtype="Int64")
    return df[COLUMNS].reset_index(drop=True)


def to_bool(v):
    """True / False / pd.NA from a flag as written to JSON or CSV."""
    if v is None or v is pd.NA:
        return pd.NA
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, float) and math.isnan(v):
        return pd.NA
    t = str(v).strip().lower()
    return True if t == "true" else False if t == "false" else pd.NA


def jsonable(o):
    """Plain JSON values: numpy scalars as Python, NaN / inf / NA as None."""
    if isinstance(o, dict):
        return {str(k): jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [jsonable(v) for v in o]
    if isinstance(o, np.generic):
        o = o.item()
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if o is pd.NA:
        return None
    return o
