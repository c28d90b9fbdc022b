"""The headline: one verdict per comparison and combination, from the primary analysis alone.

verdict
    b_better / a_better      the primary test's adjusted p < alpha (Holm within the family's
                             comparisons), by the sign of the estimate (b - a);
    equivalent               otherwise, when the TOST on the same metric and unit (margin
                             stats.equivalence_margin, fixed in the study before the runs) has
                             adjusted p < alpha and its (1 - 2 alpha) CI inside the margin;
    no_difference_detected   otherwise, with the reason (including "cannot reach alpha at n = k:
                             smallest attainable p = ..." when the test could never be significant).
"""

from __future__ import annotations

import math

import pandas as pd

from ..stats.registry import TESTS, Settings
from .rows import ONE_SPLIT
from .source import Primary

VERDICTS = ("b_better", "a_better", "no_difference_detected", "equivalent")


def effective_primary(declared: Primary, n_folds: int) -> tuple[Primary, str]:
    """The primary analysis that exists in this study, and a note when it differs from the
    declared one: with one fixed split there are no fold-level tests, so a fold-unit primary
    becomes the same test at the run unit (paired t when the test has no run unit)."""
    if declared.unit != "fold" or n_folds != 1:
        return declared, ""
    entry = TESTS.get(declared.test)
    test = declared.test if entry is not None and "run" in entry.units else "paired_t"
    eff = Primary(declared.metric, "run", test)
    return eff, (f"one fixed split (1 fold): the declared primary analysis ({declared.test} on "
                 f"fold means) does not exist, so the primary analysis is {test} over the paired "
                 f"runs (seeds) of the split; it measures training noise on this one split only, "
                 f"not how the result would change with another split")


def _num(x) -> float:
    return float("nan") if x is None or x is pd.NA else float(x)


def _pp(x, sign: bool = True) -> str:
    """A fraction as percentage points (one decimal), the unit of every estimate in the report."""
    return f"{100 * float(x):{'+' if sign else ''}.1f}"


def _reason(row, tost, group_size: int, s: Settings) -> str:
    entry = TESTS.get(row["test"])
    n, p_adj = int(row["n"]), _num(row["pvalue_adj"])
    if ONE_SPLIT in row["note"] or math.isnan(p_adj):
        why = row["note"].split("; ")[-1] if row["note"] else "no result"
        return f"the primary test gave no p-value ({why})"
    floor = entry.min_p(n) if entry is not None else 0.0
    if floor >= s.alpha:
        return f"cannot reach alpha at n = {n}: smallest attainable p = {floor:.4g}"
    if floor * group_size >= s.alpha and s.correction == "holm":
        return (f"cannot reach alpha after Holm over {group_size} comparisons at n = {n}: "
                f"smallest attainable adjusted p = {min(1.0, floor * group_size):.4g}")
    parts = [f"adjusted p = {p_adj:.3g} >= alpha {s.alpha:g}"]
    if tost is not None and not math.isnan(_num(tost["ci_low"])):
        parts.append(f"equivalence within +-{_pp(s.margin, sign=False)} pp not shown ("
                     f"{100 * (1 - 2 * s.alpha):g}% CI {_pp(tost['ci_low'])} to "
                     f"{_pp(tost['ci_high'])} pp)")
    return "; ".join(parts)


def _verdict(row, tost, group_size: int, s: Settings) -> tuple[str, str]:
    p_adj, est = _num(row["pvalue_adj"]), _num(row["estimate"])
    if not math.isnan(p_adj) and p_adj < s.alpha and est != 0:
        return ("b_better" if est > 0 else "a_better"), ""
    if tost is not None and tost["equivalent"] is True:
        return "equivalent", (f"TOST: adjusted p = {tost['pvalue_adj']:.3g} < alpha and the "
                              f"{100 * (1 - 2 * s.alpha):g}% CI {_pp(tost['ci_low'])} to "
                              f"{_pp(tost['ci_high'])} pp lies inside +-{_pp(s.margin, sign=False)} pp")
    return "no_difference_detected", _reason(row, tost, group_size, s)


def headline(df: pd.DataFrame, primary: Primary, s: Settings) -> list[dict]:
    """One entry per primary row (comparison x combination), in row order; a pair that two
    families share (self vs cross on AVT) is reported once, from the first family."""
    prim = df[df["role"] == "primary"]
    sizes = prim.groupby(["family", "metric", "unit", "test"])["pvalue"].transform(
        lambda p: int(p.notna().sum()))
    tosts = df[(df["test"] == "tost") & (df["metric"] == primary.metric)
               & (df["unit"] == primary.unit)]
    tost_of = {(r["family"], r["a"], r["b"]): r for _, r in tosts.iterrows()}
    out, seen = [], set()
    for i, r in prim.iterrows():
        if (r["a"], r["b"]) in seen:      # e.g. self vs cross on AVT, also in ablation_AVT
            continue
        seen.add((r["a"], r["b"]))
        tost = tost_of.get((r["family"], r["a"], r["b"]))
        if tost is not None:
            tost = {**tost, "equivalent": None if tost["equivalent"] is pd.NA
                    else bool(tost["equivalent"])}
        verdict, reason = _verdict(r, tost, max(int(sizes[i]), 1), s)
        mods = (r["modalities_a"] if r["modalities_a"] == r["modalities_b"]
                else f"{r['modalities_a']} vs {r['modalities_b']}")
        entry = TESTS.get(r["test"])
        out.append({"family": r["family"], "comparison": r["comparison"], "a": r["model_a"],
                    "b": r["model_b"], "modalities": mods, "modalities_a": r["modalities_a"],
                    "modalities_b": r["modalities_b"], "metric": r["metric"], "unit": r["unit"],
                    "test": r["test"], "test_label": entry.label if entry else r["test"],
                    "n": int(r["n"]), "estimate": _num(r["estimate"]),
                    "ci_low": _num(r["ci_low"]), "ci_high": _num(r["ci_high"]),
                    "ci_method": r["ci_method"], "ci_coverage": _num(r["ci_coverage"]),
                    "p_adj": _num(r["pvalue_adj"]), "verdict": verdict, "reason": reason})
    return out
