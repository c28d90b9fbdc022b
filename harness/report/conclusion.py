"""The written conclusion, generated from the statistics (never fixed text).

Each self-vs-cross comparison gets: which model is higher and by how much (points, with CI), whether the
difference is significant after Holm at the run level (paper style: paired (fold, seed) runs) and at the
fold level, and whether equivalence within the margin is shown (TOST / Bayesian ROPE). The ablation is
summarised with the Friedman test and the Nemenyi pairs.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from harness.report.results import METRIC_LONG, METRICS, MODALITY_ORDER, Results, order_models
from harness.report.statsview import StatsView
from harness.report.tables import TEST_LABEL, correction_name, paper_lookup

RUN_LEVEL_TESTS = ["wilcoxon", "paired_t"]  # the paper-style tests over paired runs, in order of preference
FOLD_LEVEL_TESTS = ["paired_t", "wilcoxon"]
ESTIMATE_TESTS = ["paired_t", "wilcoxon", "corrected_resampled_t", "tost", "mixed_model", "bayes_signrank"]
NAMES = {"self": "self-attention", "cross": "cross-attention"}


def _split_label(label: str) -> tuple[str, str]:
    if ":" in label:
        model, mods = label.rsplit(":", 1)
        return model, mods
    return label, ""


def _with_sides(rows: pd.DataFrame) -> pd.DataFrame:
    rows = rows.copy()
    for side in ("a", "b"):
        parsed = rows[side].map(_split_label)
        model = rows[f"model_{side}"].where(rows[f"model_{side}"] != "", parsed.map(lambda t: t[0]))
        mods = rows[f"modalities_{side}"].where(rows[f"modalities_{side}"] != "", parsed.map(lambda t: t[1]))
        rows[f"_model_{side}"], rows[f"_mods_{side}"] = model, mods
    return rows


def _is_sig(row, alpha: float) -> bool:
    if row["significant"] is True or row["significant"] is False:
        return bool(row["significant"])
    p = row["pvalue_adj"] if np.isfinite(row["pvalue_adj"]) else row["pvalue"]
    return bool(np.isfinite(p) and p < alpha)


def _p(p) -> str:
    if not np.isfinite(p):
        return "n/a"
    return "< 0.001" if p < 0.001 else f"= {p:.3f}"


def _pick(rows: pd.DataFrame, unit: str, tests: list[str]):
    for t in tests:
        sel = rows[(rows["unit"] == unit) & (rows["test"] == t)]
        if len(sel):
            return sel.iloc[0]
    return None


def _pp(x: float) -> str:
    text = f"{100 * x:+.1f}"
    if text in ("-0.0", "+0.0"):
        text = "0.0"
    return text.replace("-", "−")


def _sig_clause(row, alpha: float, level: str, corr: str) -> tuple[bool | None, str]:
    """(significant, description); significant is None when the test could not be computed."""
    n = f"n = {int(row['n'])}" if np.isfinite(row["n"]) else "n unknown"
    what = "paired runs" if level == "run" else "fold means" if level == "fold" else level
    name = TEST_LABEL.get(row["test"], row["test"])
    if not np.isfinite(row["pvalue_adj"]) and not np.isfinite(row["pvalue"]):
        return None, f"{name} on {n} {what}: too few to test"
    return _is_sig(row, alpha), f"{name} on {n} {what}, {corr} p {_p(row['pvalue_adj'])}"


def _verdict(sig: bool | None) -> str:
    return "not testable" if sig is None else "significant" if sig else "not significant"


def _pair_paragraph(res: Results, stats: StatsView | None, mod: str, metric: str, alpha: float,
                    margin: float, paper: dict, facts: dict | None = None) -> str:
    """One comparison's sentences; `facts` (if given) receives est, run_sig/run_test, fold_sig/fold_test."""
    facts = {} if facts is None else facts
    # cross − self from the runs themselves (used when no stats row carries an estimate)
    s = res.select("self", mod).set_index(["fold", "seed"])[f"test_{metric}"]
    c = res.select("cross", mod).set_index(["fold", "seed"])[f"test_{metric}"]
    paired = (c - s).dropna()
    rows = pd.DataFrame()
    if stats is not None and not stats.rows.empty:
        fam = _with_sides(stats.select(family="self_vs_cross", metric=metric))
        a_self = (fam["_model_a"] == "self") & (fam["_model_b"] == "cross")
        a_cross = (fam["_model_a"] == "cross") & (fam["_model_b"] == "self")
        same = (fam["_mods_a"] == mod) & (fam["_mods_b"] == mod)
        rows = fam[(a_self | a_cross) & same].copy()
        if len(rows):
            # express every estimate as cross − self
            flip = rows["_model_a"] == "cross"
            for col in ("estimate", "ci_low", "ci_high"):
                rows[col] = rows[col].where(~flip, -rows[col])
            lo, hi = rows["ci_low"].copy(), rows["ci_high"].copy()
            rows["ci_low"] = np.where(flip, hi, lo)
            rows["ci_high"] = np.where(flip, lo, hi)
            pl, pr = rows["p_left"].copy(), rows["p_right"].copy()
            rows["p_left"] = np.where(flip, pr, pl)
            rows["p_right"] = np.where(flip, pl, pr)
    est_row = None
    for t in ESTIMATE_TESTS:
        sel = rows[(rows["unit"] == "run") & (rows["test"] == t) & rows["estimate"].notna()] if len(rows) else rows
        if len(sel):
            est_row = sel.iloc[0]
            break
    if est_row is not None:
        est, lo, hi = est_row["estimate"], est_row["ci_low"], est_row["ci_high"]
    elif len(paired):
        est, lo, hi = float(paired.mean()), math.nan, math.nan
        if len(paired) > 1:
            from scipy import stats as st

            half = st.t.ppf(0.975, len(paired) - 1) * paired.std(ddof=1) / math.sqrt(len(paired))
            lo, hi = est - half, est + half
    else:
        return ""
    name = METRIC_LONG[metric]
    facts.update(mod=mod, metric=metric, est=est)
    if abs(est) < 0.0005:
        head = f"{mod}, {name}: cross- and self-attention score the same on average (cross − self = {_pp(est)} points"
    elif est > 0:
        head = (f"{mod}, {name}: cross-attention is higher than self-attention by {100 * abs(est):.1f} points "
                f"(cross − self = {_pp(est)} points")
    else:
        head = (f"{mod}, {name}: self-attention is higher than cross-attention by {100 * abs(est):.1f} points "
                f"(cross − self = {_pp(est)} points")
    if np.isfinite(lo) and np.isfinite(hi):
        head += f", 95% CI [{_pp(lo)}, {_pp(hi)}]"
    n_pairs = int(est_row["n"]) if est_row is not None and np.isfinite(est_row["n"]) else len(paired)
    head += f", {n_pairs} paired runs)."
    parts = [head]
    if len(rows):
        corr = correction_name(stats)
        run_row = _pick(rows, "run", RUN_LEVEL_TESTS)
        fold_row = _pick(rows, "fold", FOLD_LEVEL_TESTS)
        crt_row = _pick(rows, "run", ["corrected_resampled_t"])
        clauses = []
        if run_row is not None:
            sig, txt = _sig_clause(run_row, alpha, "run", corr)
            facts.update(run_sig=sig, run_test=run_row["test"])
            clauses.append(f"{_verdict(sig)} after {corr} at the run level ({txt})")
        if crt_row is not None:
            sig, txt = _sig_clause(crt_row, alpha, "run", corr)
            clauses.append(f"{_verdict(sig)} with the corrected resampled t-test "
                           f"that allows for overlapping training sets ({txt})")
        if fold_row is not None:
            sig, txt = _sig_clause(fold_row, alpha, "fold", corr)
            facts.update(fold_sig=sig, fold_test=fold_row["test"])
            clauses.append(f"{_verdict(sig)} at the fold level ({txt})")
        if clauses:
            parts.append("The difference is " + "; ".join(clauses) + f" (α = {alpha:g}).")
        tost = _pick(rows, "run", ["tost"])
        if tost is None:
            tost = _pick(rows, "fold", ["tost"])
        bayes = _pick(rows, "run", ["bayes_signrank"])
        if bayes is None:
            bayes = _pick(rows, "fold", ["bayes_signrank"])
        eq = []
        if tost is not None:
            p_tost = tost["pvalue_adj"] if np.isfinite(tost["pvalue_adj"]) else tost["pvalue"]
            shown = tost["equivalent"] is True or (
                tost["equivalent"] is not False and np.isfinite(p_tost) and p_tost < alpha)
            eq.append(f"TOST {'shows' if shown else 'does not show'} equivalence ({corr} p {_p(p_tost)})")
        if bayes is not None and np.isfinite(bayes["p_rope"]):
            pr = bayes["p_rope"]
            if pr > 0.95:
                verdict = "practically equivalent"
            elif bayes["p_right"] > 0.95:
                verdict = "cross-attention practically better"
            elif bayes["p_left"] > 0.95:
                verdict = "self-attention practically better"
            else:
                verdict = "undecided"
            eq.append(f"the Bayesian signed-rank test puts P(ROPE) = {pr:.2f} "
                      f"(P(self better) = {bayes['p_left']:.2f}, P(cross better) = {bayes['p_right']:.2f}): "
                      f"{verdict}")
        if eq:
            unit = "point" if abs(100 * margin - 1) < 1e-9 else "points"
            parts.append(f"Equivalence within ±{100 * margin:g} {unit}: " + "; ".join(eq) + ".")
    else:
        parts.append("No significance tests are available for this comparison.")
    if paper:
        ps, pc = paper.get(("self", mod, metric)), paper.get(("cross", mod, metric))
        if ps and pc:
            pdiff = pc[0] - ps[0]
            agree = (np.sign(pdiff) == np.sign(est)) or abs(pdiff) < 1e-9
            parts.append(f"The paper reports cross − self = {_pp(pdiff)} points; our direction "
                         f"{'agrees' if agree else 'is the opposite'}.")
    return " ".join(parts)


def _ablation_paragraph(res: Results, stats: StatsView | None, alpha: float, mod: str = "AVT") -> str:
    sel = res.select(modalities=mod)
    models = order_models(sel["model"])
    if len(models) < 3:
        return ""
    means = sel.groupby("model")["test_balanced_accuracy"].mean()
    best, worst = means.idxmax(), means.idxmin()
    text = (f"Ablation on {mod} ({len(models)} models: {', '.join(models)}): the highest mean balanced accuracy "
            f"(WA) is {best} ({100 * means[best]:.1f}%), the lowest {worst} ({100 * means[worst]:.1f}%).")
    if stats is None or stats.rows.empty:
        return text + " No significance tests are available."
    for metric in METRICS:
        fam = stats.select(family="ablation_AVT", metric=metric)
        fr = fam[fam["test"] == "friedman"]
        if len(fr) == 0:
            continue
        parts = []
        for _, row in fr.sort_values("unit", key=lambda u: u.map({"run": 0, "fold": 1}).fillna(2)).iterrows():
            p = row["pvalue_adj"] if np.isfinite(row["pvalue_adj"]) else row["pvalue"]
            sig = _is_sig(row, alpha)
            n = f"{int(row['n'])} " if np.isfinite(row["n"]) else ""
            blocks = "(fold, seed) blocks" if row["unit"] == "run" else f"{row['unit']} blocks"
            if not np.isfinite(p):
                parts.append(f"Friedman over {n}{blocks}: too few to test")
                continue
            part = (f"Friedman over {n}{blocks} p {_p(p)} "
                    f"({'the models differ' if sig else 'no difference detected'})")
            nem = fam[(fam["test"] == "nemenyi") & (fam["unit"] == row["unit"])]
            if len(nem):
                pairs = [f"{_split_label(r['a'])[0]} vs {_split_label(r['b'])[0]}" for _, r in nem.iterrows()
                         if _is_sig(r, alpha)]
                part += (f", Nemenyi pairs that differ: {', '.join(pairs)}" if pairs
                         else ", no Nemenyi pair differs")
            parts.append(part)
        text += f" On {METRIC_LONG[metric]}: " + "; ".join(parts) + "."
    return text


def _modalities_paragraph(res: Results, stats: StatsView | None, alpha: float) -> str:
    sel = res.select(model="self")
    if sel["modalities"].nunique() < 2:
        return ""
    means = sel.groupby("modalities")["test_balanced_accuracy"].mean().sort_values(ascending=False)
    text = (f"With self-attention the best modality combination by mean balanced accuracy (WA) is {means.index[0]} "
            f"({100 * means.iloc[0]:.1f}%), followed by {means.index[1]} ({100 * means.iloc[1]:.1f}%).")
    if stats is not None and not stats.rows.empty:
        fam = stats.select(family="modalities_self", metric="balanced_accuracy", unit="run")
        fam = fam[fam["test"].isin(RUN_LEVEL_TESTS)]
        if len(fam):
            test = next(t for t in RUN_LEVEL_TESTS if (fam["test"] == t).any())
            fam = fam[fam["test"] == test]
            n_sig = sum(_is_sig(r, alpha) for _, r in fam.iterrows())
            refs = sorted(set(fam["modalities_b"]) - {""})
            against = f" with {refs[0]}" if len(refs) == 1 else ""
            text += (f" {n_sig} of {len(fam)} comparisons{against} are significant after {correction_name(stats)} "
                     f"at the run level ({TEST_LABEL.get(test, test)}).")
    return text


def _summary(facts: list[dict], stats: StatsView | None, metric: str) -> str:
    """One sentence over all combinations: where each model is significantly higher, where neither."""
    order = {m: i for i, m in enumerate(MODALITY_ORDER)}
    facts = sorted((f for f in facts if f.get("metric") == metric and "est" in f),
                   key=lambda f: order.get(f["mod"], 99))
    if not facts or stats is None:
        return ""
    parts = []
    for level in ("run", "fold"):
        have = [f for f in facts if f.get(f"{level}_sig") is not None]
        if not have:
            continue
        cross = [f["mod"] for f in have if f[f"{level}_sig"] and f["est"] > 0]
        self_ = [f["mod"] for f in have if f[f"{level}_sig"] and f["est"] < 0]
        none = [f["mod"] for f in have if not f[f"{level}_sig"]]
        tests = sorted({TEST_LABEL.get(f[f"{level}_test"], f[f"{level}_test"]) for f in have})
        what = "paired runs" if level == "run" else "fold means"
        bits = []
        if cross:
            bits.append(f"cross-attention is significantly higher on {', '.join(cross)}")
        if self_:
            bits.append(f"self-attention is significantly higher on {', '.join(self_)}")
        if none:
            bits.append(f"no difference is significant on {', '.join(none)}")
        parts.append(f"at the {level} level ({' / '.join(tests)} on {what}), " + "; ".join(bits) + ".")
    if not parts:
        return ""
    parts[0] = parts[0][0].upper() + parts[0][1:]
    parts = [p[0].upper() + p[1:] for p in parts]
    return f"Summary, {METRIC_LONG[metric]}, {correction_name(stats)}-adjusted: " + " ".join(parts)


def conclusion_paragraphs(res: Results, stats: StatsView | None, alpha: float, margin: float) -> list[str]:
    paper = paper_lookup("main") if res.show_paper else {}
    out, facts = [], []
    both = [m for m in res.modalities
            if len(res.select("self", m)) and len(res.select("cross", m))]
    for mod in reversed(both):  # AVT first: the headline comparison
        for metric in METRICS:
            f: dict = {}
            para = _pair_paragraph(res, stats, mod, metric, alpha, margin, paper, f)
            if para:
                out.append(para)
                facts.append(f)
    summaries = [s for s in (_summary(facts, stats, m) for m in METRICS) if s]
    out = summaries + out
    if not both:
        out.append("No modality combination has both self- and cross-attention runs, so the two are not compared.")
    for para in (_ablation_paragraph(res, stats, alpha), _modalities_paragraph(res, stats, alpha)):
        if para:
            out.append(para)
    return out
