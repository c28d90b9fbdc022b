"""Tidy rows: one per (comparison, metric, unit, test), formed by looping over the test registry,
then corrected for multiple testing and given their verdict flags."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..stats import correct
from ..stats.registry import TESTS, PairData, Settings, TestEntry
from .families import Pair
from .source import Primary, label

COLUMNS = ["family", "comparison", "metric", "a", "b", "model_a", "modalities_a", "model_b",
           "modalities_b", "unit", "test", "role", "n", "statistic", "pvalue", "pvalue_adj",
           "estimate", "ci_low", "ci_high", "ci_method", "ci_coverage", "effect_size",
           "effect_name", "p_left", "p_rope", "p_right", "equivalent", "significant",
           "n_significant", "min_attainable_p", "note"]
TEXT = ["family", "comparison", "metric", "a", "b", "model_a", "modalities_a", "model_b",
        "modalities_b", "unit", "test", "role", "ci_method", "effect_name", "note"]
FLOAT = ["statistic", "pvalue", "pvalue_adj", "estimate", "ci_low", "ci_high", "ci_coverage",
         "effect_size", "p_left", "p_rope", "p_right", "min_attainable_p"]
BOOL = ["equivalent", "significant"]
INT = ["n", "n_significant"]
NAN = float("nan")
ONE_SPLIT = "not available: one fixed split"


def blank(family: str, comparison: str, metric: str, a: tuple, b: tuple, unit: str, test: str,
          role: str, **kw) -> dict:
    """A row with every column, empty values, and `kw` filled in."""
    (ma, xa), (mb, xb) = a, b
    row = {"family": family, "comparison": comparison, "metric": metric,
           "a": label(ma, xa) if ma else "", "b": label(mb, xb) if mb else "",
           "model_a": ma, "modalities_a": xa, "model_b": mb, "modalities_b": xb, "unit": unit,
           "test": test, "role": role, "n": 0, "ci_method": "", "effect_name": "", "note": "",
           "equivalent": pd.NA, "significant": pd.NA, "n_significant": pd.NA}
    row.update({c: NAN for c in FLOAT})
    row.update(kw)
    return row


def add_note(row: dict, text: str) -> None:
    if text:
        row["note"] = f"{row['note']}; {text}" if row["note"] else text


def floor_note(entry: TestEntry, n: int, alpha: float) -> str:
    p = entry.min_p(n)
    if n >= 1 and p >= alpha:
        return (f"cannot reach alpha {alpha:g} at n = {n}: smallest attainable p = {p:.4g}")
    return ""


def pair_rows(pair: Pair, data: PairData, primary: Primary) -> list[dict]:
    """The rows of every registered pairwise test at each of its units for one pair and metric."""
    rows = []
    for entry in TESTS.values():
        if entry.kind != "pair" or (entry.metrics and data.metric not in entry.metrics):
            continue
        for unit in entry.units:
            is_primary = (data.metric, unit, entry.name) == (primary.metric, primary.unit,
                                                               primary.test)
            r = blank(pair.family, pair.comparison, data.metric, pair.a, pair.b, unit,
                      entry.name, "primary" if is_primary else entry.role)
            rows.append(_compute(entry, r, data, unit))
    return rows


def _compute(entry: TestEntry, row: dict, data: PairData, unit: str) -> dict:
    n = data.n(unit)
    row["n"] = n
    if entry.verdict == "difference":
        row["min_attainable_p"] = entry.min_p(n) if n >= 1 else NAN
    if unit == "fold" and data.n_folds == 1:
        add_note(row, ONE_SPLIT)
        return row
    if n < entry.min_n:
        add_note(row, f"{n} {'fold' if unit == 'fold' else 'paired run'}(s): too few for this "
                      f"test (needs {entry.min_n})")
        return row
    try:
        out = entry.compute(data, unit)
    except ValueError as exc:
        add_note(row, str(exc))
        return row
    note = out.pop("note", "")
    row.update({k: v for k, v in out.items() if k in row or k in COLUMNS})
    add_note(row, note)
    if entry.verdict == "difference":
        add_note(row, floor_note(entry, n, data.settings.alpha))
    return row


def finish(rows: list[dict], settings: Settings) -> pd.DataFrame:
    """Holm (or BH) within family x metric x unit x test; significant / equivalent flags; dtypes."""
    df = pd.DataFrame(rows, columns=COLUMNS) if rows else pd.DataFrame(columns=COLUMNS)
    for c in FLOAT:
        df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
    verdict = df["test"].map(lambda t: TESTS[t].verdict if t in TESTS else "difference")
    corrected = (verdict != "none") & (df["test"] != "nemenyi")
    for _, idx in df[corrected].groupby(["family", "metric", "unit", "test"], sort=False).groups.items():
        df.loc[idx, "pvalue_adj"] = correct(df.loc[idx, "pvalue"].to_numpy(), settings.correction,
                                            settings.alpha).pvalues_adj
    nem = df["test"] == "nemenyi"     # Nemenyi p already controls the error over all pairs
    df.loc[nem, "pvalue_adj"] = df.loc[nem, "pvalue"]
    sig, eq = [], []
    for i, r in df.iterrows():
        sig.append(_flag(r["pvalue_adj"] < settings.alpha, r["pvalue_adj"])
                   if verdict[i] == "difference" else pd.NA)
        eq.append(_equivalent(r, settings) if verdict[i] == "equivalence" else pd.NA)
    df["significant"] = pd.array(sig, dtype="boolean")
    df["equivalent"] = pd.array(eq, dtype="boolean")
    df["n"] = pd.to_numeric(df["n"]).astype("int64")
    df["n_significant"] = pd.array(df["n_significant"].tolist(), dtype="Int64")
    for c in TEXT:
        df[c] = df[c].fillna("").astype(str)
    return df[COLUMNS].reset_index(drop=True)


def _flag(value, p) -> object:
    return pd.NA if p is None or (isinstance(p, float) and math.isnan(p)) else bool(value)


def _equivalent(r, settings: Settings):
    if r["test"] == "tost":
        # equivalent: the adjusted TOST p < alpha and the (1 - 2 alpha) CI inside +-margin
        if math.isnan(r["pvalue_adj"]):
            return pd.NA
        inside = -settings.margin < r["ci_low"] and r["ci_high"] < settings.margin
        return bool(r["pvalue_adj"] < settings.alpha and inside)
    v = r["equivalent"]
    return pd.NA if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)) else bool(v)
