"""The written conclusion: one sentence per primary comparison, from stats.json `headline` alone, then the
secondary and sensitivity analyses in a section of their own (never phrased as a verdict).
"""

from __future__ import annotations

import pandas as pd

from harness.report.names import (
    ci_method_label, correction_label, metric_long, side_labels, sides, split_side, test_label, unit_words,
)
from harness.report.render_text import DASH, finite, fmt_coverage, fmt_num, fmt_p, fmt_pp
from harness.report.stats_tables import clean_reason, interval_text, is_description
from harness.report.tables import paper_lookup
from harness.report.view import ReportData

VERDICT_WORDS = {"b_better": "{b} scores higher", "a_better": "{a} scores higher",
                 "no_difference_detected": "no difference detected", "equivalent": "equivalent within ±{margin} pp"}


def _p_text(p) -> str:
    return "< 0.001" if finite(p) and p < 0.001 else f"= {fmt_p(p)}"


def _names(h) -> tuple[str, str]:
    return split_side(h["a"])[0], split_side(h["b"])[0]


def _frame_text(h) -> str:
    return h["modalities"] if h["modalities_a"] == h["modalities_b"] else f"{h['modalities_a']} vs {h['modalities_b']}"


def _interval(h, coverage, n_text: str) -> str:
    if not (finite(h["ci_low"]) and finite(h["ci_high"])):
        return "no interval"
    what = " ".join(x for x in (fmt_coverage(coverage), ci_method_label(h["ci_method"]), "CI") if x)
    return f"{what} over {n_text} {fmt_pp(h['ci_low'])} to {fmt_pp(h['ci_high'])}"


def _caveat(h, row, alpha: float) -> str:
    """The small-sample reason, as stats.json gives it; else the test's floor when it cannot reach α."""
    if h["reason"]:
        return clean_reason(h["reason"])
    floor = row["min_attainable_p"] if row is not None else float("nan")
    if finite(floor) and floor >= alpha:
        return (f"the test cannot reach α = {alpha:g} with n = {int(h['n'])}: "
                f"its smallest attainable p is {float(floor):.4g}")
    return ""


def headline_sentence(h, data: ReportData) -> str:
    """'AVT, balanced accuracy (WA): cross − self = −0.6 pp (95% t CI over 5 fold means −2.1 to +0.9;
    paired t on fold means, Holm-adjusted p = 0.410): no difference detected.'"""
    a, b = sides(h)
    label_a, label_b = side_labels(h)
    row = data.stats.primary_row(h) if data.stats is not None else None
    coverage = h["ci_coverage"] if finite(h["ci_coverage"]) else (row["ci_coverage"] if row is not None else None)
    n_text = f"{int(h['n'])} {unit_words(h['unit'])}" if finite(h["n"]) else unit_words(h["unit"])
    test = f"{test_label(h['test'])} on {unit_words(h['unit'])}, {correction_label(data.correction)}-adjusted " \
           f"p {_p_text(h['p_adj'])}"
    verdict = VERDICT_WORDS.get(h["verdict"], h["verdict"] or "no verdict").format(
        a=label_a, b=label_b, margin=f"{100 * data.margin:g}")
    caveat = _caveat(h, row, data.alpha)
    if caveat:
        verdict += f" ({caveat})"
    if not finite(h["estimate"]):
        return (f"{_frame_text(h)}, {metric_long(h['metric'])}: {b} − {a} has no estimate from "
                f"{test_label(h['test'])} on {unit_words(h['unit'])}: {verdict}.")
    return (f"{_frame_text(h)}, {metric_long(h['metric'])}: {b} − {a} = {fmt_pp(h['estimate'])} pp "
            f"({_interval(h, coverage, n_text)}; {test}): {verdict}.")


def primary_intro(data: ReportData) -> str:
    head = data.headline
    prim = data.primary or (head.iloc[0][["metric", "unit", "test"]].to_dict() if len(head) else {})
    what = (f"{test_label(prim['test'])} on {unit_words(prim['unit'])} of {metric_long(prim['metric'])}"
            if {"test", "unit", "metric"} <= set(prim) else "the study's primary test")
    note = str(data.stats.meta.get("primary_note") or "").rstrip(".")  # e.g. one split: the run unit stands in
    return (f"Primary analysis, declared in the study before the runs: {what}; p-values "
            f"{correction_label(data.correction)}-adjusted within each family of comparisons below, α = "
            f"{data.alpha:g}. Each estimate is b − a in percentage points. Only these sentences state a verdict; "
            "every other number in this report is a secondary or sensitivity analysis, or a description."
            + (f" Note: {note}." if note else ""))


def conclusion(data: ReportData) -> tuple[str, list[tuple[str, list[str]]]]:
    """(intro paragraph, [(family heading, one sentence per headline entry of that family)])."""
    if data.stats is None:
        return ("No statistics: stats.json is absent, so no comparison is concluded. Run `harness stats "
                "RESULTS_DIR` and rebuild the report.", [])
    if data.headline.empty:
        return ("stats.json has no primary analysis (`headline` is empty): no comparison is concluded. The "
                "tests below are secondary.", [])
    groups = []
    for family, head in data.headline.groupby("family", sort=False):
        k = len(head)
        title = (f"{family or 'Comparisons'} ({k} comparison{'s' if k != 1 else ''}, "
                 f"{correction_label(data.correction)} over them):")
        groups.append((title, [headline_sentence(h, data) for _, h in head.iterrows()]))
    return primary_intro(data), groups


# ------------------------------------------------------------------------------------------ secondary
def _row_clause(r, data: ReportData) -> str:
    """One secondary test or description in a few words, labelled by its test and unit."""
    name = f"{test_label(r['test'])} ({unit_words(r['unit'])}, n = {fmt_num(r['n'], 0)})"
    if finite(r["p_rope"]):
        a, b = side_labels(r)
        return (f"{name}: P({a} practically better) = {r['p_left']:.2f}, P(within ±{100 * data.margin:g} pp) = "
                f"{r['p_rope']:.2f}, P({b} practically better) = {r['p_right']:.2f} (runs of a fold share their "
                "test utterances: a description, not a verdict" + _withheld(r["note"]) + ")")
    if not finite(r["estimate"]) and not finite(r["pvalue"]):
        return f"{name}: not available"
    if r["test"] == "tost":
        shown = {True: "shown", False: "not shown"}.get(r["equivalent"], "not decided")
        return f"{name}: equivalence within ±{100 * data.margin:g} pp {shown} (adjusted p {_p_text(r['pvalue_adj'])})"
    ci = interval_text(r["ci_low"], r["ci_high"], r["ci_method"], r["ci_coverage"])
    p = r["pvalue_adj"] if finite(r["pvalue_adj"]) else r["pvalue"]
    clause = (f"{name}: {fmt_pp(r['estimate'])} pp" + (f" {ci}" if ci != DASH else "")
              + f", {'adjusted ' if finite(r['pvalue_adj']) else ''}p {_p_text(p)}")
    floor = finite(r["min_attainable_p"]) and r["min_attainable_p"] >= data.alpha
    return clause + (" (cannot reach α at this size)" if floor else "")


def _withheld(note: str) -> str:
    """The stats stage's reason for withholding the Bayesian verdict, when it gives one."""
    i = note.find("verdict withheld")
    return "; " + note[i:].split(";")[0] if i >= 0 else ""


def _pair_rows(data: ReportData, h) -> pd.DataFrame:
    """The other rows of a headline entry's comparison: same family, sides and metric."""
    rows = data.stats.rows
    a, b = _names(h)
    ma = rows["model_a"].where(rows["model_a"] != "", rows["a"].map(lambda s: split_side(s)[0]))
    mb = rows["model_b"].where(rows["model_b"] != "", rows["b"].map(lambda s: split_side(s)[0]))
    xa = rows["modalities_a"].where(rows["modalities_a"] != "", rows["a"].map(lambda s: split_side(s)[1]))
    xb = rows["modalities_b"].where(rows["modalities_b"] != "", rows["b"].map(lambda s: split_side(s)[1]))
    same = (ma == a) & (mb == b) & (xa == h["modalities_a"]) & (xb == h["modalities_b"])
    if h["family"]:
        same &= rows["family"] == h["family"]
    keep = same & (rows["metric"] == h["metric"]) & (rows["role"] != "primary")
    return rows[keep & ~rows["test"].isin(["friedman", "nemenyi", "mcnemar_per_run"])]


def secondary_paragraphs(data: ReportData) -> list[str]:
    """Per primary comparison, on its metric: what the other tests and descriptions say, labelled as such."""
    if data.stats is None or data.headline.empty:
        return []
    out = []
    paper = paper_lookup("main") if data.show_paper else {}
    for _, h in data.headline.iterrows():
        a, b = _names(h)
        rows = _pair_rows(data, h)
        tests = [_row_clause(r, data) for _, r in rows.iterrows() if not is_description(r)]
        desc = [_row_clause(r, data) for _, r in rows.iterrows() if is_description(r)]
        parts = ([f"secondary: {'; '.join(tests)}."] if tests else []) + (
            [f"Description of the trained classifiers: {'; '.join(desc)}."] if desc else [])
        key_a, key_b = (a, h["modalities_a"], h["metric"]), (b, h["modalities_b"], h["metric"])
        if key_a in paper and key_b in paper:
            parts.append(f"The paper reports {b} − {a} = {fmt_pp(paper[key_b][0] - paper[key_a][0])} pp.")
        if parts:
            sa, sb = sides(h)
            out.append(f"{_frame_text(h)}, {metric_long(h['metric'])}, {sb} − {sa} ({h['family'] or 'comparison'}), "
                       + " ".join(parts))
    return out


def model_set_paragraphs(data: ReportData) -> list[str]:
    """Friedman and Nemenyi over the models of one combination, from `ranks` and the rows (secondary)."""
    if data.stats is None:
        return []
    out = []
    rows = data.stats.rows
    metric_wanted = data.primary.get("metric")
    for rk in data.stats.ranks:
        if metric_wanted and rk.get("metric") != metric_wanted:
            continue
        models, ranks = list(rk.get("models") or []), list(rk.get("average_ranks") or [])
        if len(models) < 3 or len(ranks) != len(models):
            continue
        mods, metric, unit = rk.get("modalities", ""), rk.get("metric", ""), rk.get("unit", "")
        listed = ", ".join(f"{m} {float(r):.2f}" for m, r in sorted(zip(models, ranks), key=lambda t: t[1]))
        text = (f"Models on {mods}, {metric_long(metric)}, {unit_words(unit)} ({rk.get('n_blocks')} blocks; "
                f"secondary): average ranks (1 = best) {listed}; Nemenyi CD = {fmt_num(rk.get('critical_difference'))}")
        same = rows[(rows["metric"] == metric) & (rows["unit"] == unit)]
        fr = same[(same["test"] == "friedman") & _on(same, mods)]
        if len(fr):
            text += f"; Friedman p {_p_text(fr.iloc[0]['pvalue'])}"
        nem = same[(same["test"] == "nemenyi") & _on(same, mods)]
        differ = [f"{split_side(r['a'])[0]} vs {split_side(r['b'])[0]}" for _, r in nem.iterrows()
                  if finite(r["pvalue_adj"]) and r["pvalue_adj"] < data.alpha]
        if len(nem):
            text += "; Nemenyi pairs apart: " + (", ".join(differ) if differ else "none")
        out.append(text + ".")
    return out


def _on(rows: pd.DataFrame, mods: str) -> pd.Series:
    """Rows about the models on combination `mods` (by their sides, or by a family/comparison named after it)."""
    xa = rows["modalities_a"].where(rows["modalities_a"] != "", rows["a"].map(lambda s: split_side(s)[1]))
    named = rows["family"].str.endswith(f"_{mods}") | rows["comparison"].str.endswith(mods)
    return (xa == mods) | ((xa == "") & named)
