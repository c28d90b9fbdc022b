"""Tables of the statistics as the stats stage wrote them: the primary analysis, then secondary and
sensitivity tests, then descriptions (McNemar). Every interval names its method and coverage; no table
has a "significant" verdict column (the verdict belongs to the primary analysis alone).
"""

from __future__ import annotations

import re

import pandas as pd

from harness.report.names import (
    ci_method_label, correction_label, metric_long, metric_short, side_labels, sides, split_side, test_short,
    unit_words,
)
from harness.report.render_text import DASH, Table, finite, fmt_coverage, fmt_int, fmt_num, fmt_p, fmt_pp
from harness.report.view import StatsView

RANK_TESTS = {"friedman", "nemenyi"}
UNIT_ORDER = {"run": 0, "fold": 1, "utterance": 2}
EFFECT_SHORT = {"rank_biserial": "r", "cohen_dz": "dz", "share_runs_b_ahead": "b ahead",
                "discordant_share_b": "disc. b", "odds_ratio": "OR", "cohen_g": "g"}
VERDICTS = {"b_better": "{b} higher", "a_better": "{a} higher", "no_difference_detected": "no difference detected",
            "equivalent": "equivalent within ±{margin} pp"}


def is_description(row) -> bool:
    """McNemar and other rows that describe trained classifiers rather than compare architectures."""
    return row["role"] == "description" or (not row["role"] and str(row["test"]).startswith("mcnemar"))


def interval_text(lo, hi, method, coverage, scale: float = 100.0, short: bool = False) -> str:
    """'[−2.1, +0.9] (t, 95%)': the interval with its method (`short`: its first words) and coverage."""
    if not (finite(lo) and finite(hi)):
        return DASH
    body = (f"[{fmt_pp(lo, 2)}, {fmt_pp(hi, 2)}]" if scale == 100.0 else f"[{lo:.2f}, {hi:.2f}]")
    how = ci_method_label(method)
    how = how.split(" (")[0].split(", ")[0] if short else how
    cov = fmt_coverage(coverage)
    how = ", ".join(x for x in (how, cov) if x and not (x == cov and cov in how))  # no coverage said twice
    return f"{body} ({how})" if how else body


def side_label(row, side: str) -> str:
    model = row[f"model_{side}"] or split_side(row[side])[0]
    mods = row[f"modalities_{side}"] or split_side(row[side])[1]
    return f"{model}:{mods}" if mods else model


def comparison_label(row) -> str:
    if not (row["a"] or row["model_a"]):
        return row["comparison"] or "all models"
    return f"{side_label(row, 'b')} − {side_label(row, 'a')}"


def clean_reason(reason: str) -> str:
    """The stats stage's reason for a verdict, less the part every sentence already says (its p)."""
    parts = [p for p in str(reason).split("; ") if p and not p.startswith("adjusted p =")]
    return "; ".join(parts).replace("+-", "±").replace(">=", "≥")  # stats writes ASCII


def verdict_text(h, margin: float) -> str:
    a, b = side_labels(h)
    text = VERDICTS.get(h["verdict"], h["verdict"] or DASH).format(a=a, b=b, margin=f"{100 * margin:g}")
    reason = clean_reason(h["reason"])
    return f"{text} ({reason})" if reason else text


# ------------------------------------------------------------------------------------------ primary
def primary_table(head: pd.DataFrame, stats: StatsView, margin: float) -> Table | None:
    if head.empty:
        return None
    rows = []
    for _, h in head.iterrows():
        row = stats.primary_row(h)
        coverage = h["ci_coverage"] if finite(h["ci_coverage"]) else (row["ci_coverage"] if row is not None else None)
        a, b = sides(h)
        rows.append({"Comparison (b − a)": f"{b} − {a}",
                     "Modalities": h["modalities"], "Metric": metric_short(h["metric"]),
                     "Test": f"{test_short(h['test'])} ({h['unit']})", "n": fmt_int(h["n"]),
                     "Δ pp": fmt_pp(h["estimate"], 2),
                     "CI": interval_text(h["ci_low"], h["ci_high"], h["ci_method"], coverage, short=True),
                     "p adj": fmt_p(h["p_adj"]), "Verdict": verdict_text(h, margin)})
    corr = correction_label(stats.meta.get("correction", "holm"))
    notes = [f"Δ = b − a in percentage points; p adj: {corr}-adjusted within each family of comparisons. The verdict "
             "is the pre-registered primary analysis (stats.primary); every other test in this report is "
             "secondary or a sensitivity analysis."]
    return Table("primary", "Primary analysis", head.reset_index(drop=True), pd.DataFrame(rows), "", notes,
                 n_label_cols=4, long=len(rows) > 12, wrap_last="0.3\\linewidth")


# ------------------------------------------------------------------------------------------ secondary
def _effect_text(row) -> str:
    if not finite(row["effect_size"]):
        return DASH
    return f"{EFFECT_SHORT.get(row['effect_name'], row['effect_name'] or 'effect')} = {row['effect_size']:.2f}"


def _equiv_text(row) -> str:
    if finite(row["p_rope"]):
        return f"{row['p_left']:.2f}/{row['p_rope']:.2f}/{row['p_right']:.2f}"
    if row["test"] != "tost":
        return ""
    return {True: "shown", False: "not shown"}.get(row["equivalent"], DASH)


def _estimate_cells(row) -> tuple[str, str]:
    scale = 1.0 if row["test"] in RANK_TESTS else 100.0  # ranks, not percentage points
    estimate = fmt_num(row["estimate"]) if scale == 1.0 else fmt_pp(row["estimate"], 2)
    return estimate, interval_text(row["ci_low"], row["ci_high"], row["ci_method"], row["ci_coverage"], scale, True)


def _sorted(rows: pd.DataFrame) -> pd.DataFrame:
    rows = rows.copy()
    rows["_comp"] = [comparison_label(r) for _, r in rows.iterrows()]
    order = {c: i for i, c in enumerate(dict.fromkeys(rows["_comp"]))}
    rows["_c"] = rows["_comp"].map(order)
    rows["_u"] = rows["unit"].map(lambda u: UNIT_ORDER.get(u, 9))
    rows["_p"] = (rows["role"] != "primary").astype(int)
    return rows.sort_values(["_c", "_u", "_p"], kind="stable")


def secondary_tables(stats: StatsView | None, margin: float) -> list[Table]:
    """One table per family × metric of the tests that are not descriptions, primary rows marked."""
    if stats is None or stats.rows.empty:
        return []
    rows_all = stats.rows[[not is_description(r) for _, r in stats.rows.iterrows()]]
    tables = []
    for (family, metric), rows in rows_all.groupby(["family", "metric"], sort=False):
        rows = _sorted(rows)
        cells = [_estimate_cells(r) for _, r in rows.iterrows()]
        display = pd.DataFrame({
            "Comparison (b − a)": rows["_comp"].tolist(),
            "Unit": rows["unit"].tolist(),
            "Test": [test_short(t) for t in rows["test"]],
            "Role": [r or "secondary" for r in rows["role"]],
            "n": [fmt_int(n) for n in rows["n"]],
            "Δ": [c[0] for c in cells], "CI": [c[1] for c in cells],
            "p": [fmt_p(p) for p in rows["pvalue"]], "p adj": [fmt_p(p) for p in rows["pvalue_adj"]],
            "Effect": [_effect_text(r) for _, r in rows.iterrows()],
            f"Equiv. ±{100 * margin:g} pp": [_equiv_text(r) for _, r in rows.iterrows()],
        })
        notes = _secondary_notes(stats, rows)
        tables.append(Table(f"stats_{family}_{metric}", f"{family}: tests on {metric_long(metric)}",
                            rows.drop(columns=["_comp", "_c", "_u", "_p"]).reset_index(drop=True),
                            display.reset_index(drop=True), "", notes, n_label_cols=4, long=len(display) > 12))
    return tables


def _secondary_notes(stats: StatsView, rows: pd.DataFrame) -> list[str]:
    corr = correction_label(stats.meta.get("correction", "holm"))
    units = ", ".join(f"{u} = {unit_words(u)}" for u in dict.fromkeys(rows["unit"]))
    methods = sorted({ci_method_label(m) for m in rows["ci_method"] if m})
    notes = [f"Units: {units}. Δ = b − a in percentage points (Friedman/Nemenyi: average ranks, > 0: b ranked "
             f"better). CI: the interval, its method and its actual coverage (methods in full: "
             f"{'; '.join(methods) or 'none'}). p adj: {corr}-adjusted as "
             "stats.json says. Role 'primary' marks the row behind the verdict; the others are secondary or "
             "sensitivity analyses and state no verdict."]
    if rows["p_rope"].notna().any() or (rows["test"] == "tost").any():
        notes.append("Equiv.: TOST at ±margin (shown / not shown); for the Bayesian signed-rank test the posterior "
                     "P(b − a < −margin) / P(within ±margin) / P(b − a > +margin), over runs that share test folds.")
    floors = rows[rows["min_attainable_p"] >= float(stats.meta.get("alpha", 0.05))]
    if len(floors):
        tests = ", ".join(sorted({f"{test_short(t)} ({u})" for t, u in zip(floors["test"], floors["unit"])}))
        notes.append(f"Cannot reach α at this study's size (smallest attainable p ≥ α): {tests}.")
    return notes


# ------------------------------------------------------------------------------------------ descriptions
def _counts(note: str) -> str:
    """'n01 = 35, n10 = 117' from a McNemar row's note; else the note's first clause."""
    found = dict(re.findall(r"\b(n01|n10) = (\d+)", note))
    if {"n01", "n10"} <= set(found):
        return f"n01 = {found['n01']}, n10 = {found['n10']}"
    return note.split(";")[0].split(":")[-1].strip() or DASH



def description_table(stats: StatsView | None) -> Table | None:
    """McNemar and other descriptions of the trained classifiers: counts, discordant pairs, p; no verdict."""
    if stats is None or stats.rows.empty:
        return None
    rows = stats.rows[[is_description(r) for _, r in stats.rows.iterrows()]]
    if rows.empty:
        return None
    rows = _sorted(rows.drop_duplicates(["a", "b", "metric", "unit", "test"]))  # families may share a pair
    display = pd.DataFrame({
        "Comparison (b − a)": rows["_comp"].tolist(),
        "Test": [test_short(t) for t in rows["test"]],
        "Metric": [metric_short(m) for m in rows["metric"]],
        "n": [fmt_int(n) for n in rows["n"]],
        "Δ pp": [fmt_pp(e, 2) for e in rows["estimate"]],
        "CI": [interval_text(r["ci_low"], r["ci_high"], r["ci_method"], r["ci_coverage"], short=True)
               for _, r in rows.iterrows()],
        "p": [fmt_p(p) for p in rows["pvalue"]],
        "Effect": [_effect_text(r) for _, r in rows.iterrows()],
        "Counts": [_counts(r["note"]) for _, r in rows.iterrows()],
    })
    notes = ["McNemar describes two trained classifiers on the same test utterances (discordant pairs: "
             "n01 = a right and b wrong, n10 = a wrong and b right). It does not test whether the two "
             "architectures differ, so it carries no verdict; n counts utterances (pooled) or run pairs (per run)."]
    return Table("descriptions", "Descriptions of the trained classifiers", rows.drop(
        columns=["_comp", "_c", "_u", "_p"]).reset_index(drop=True), display.reset_index(drop=True), "", notes,
        n_label_cols=3, long=len(display) > 12, wrap_last="0.22\\linewidth")
