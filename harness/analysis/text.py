"""`format_summary`: the terminal summary `harness stats` prints."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .result import StudyStats

COLS = (("run", "wilcoxon", "Wilc"), ("run", "mixed_model", "LMM"),
        ("run", "corrected_resampled_t", "t_NB"), ("fold", "paired_t", "fold t"),
        ("utterance", "mcnemar_pooled", "McN"))


def _true(v) -> bool:
    """A flag from a row: True only for a real true value (numpy / pandas booleans included)."""
    return v is not pd.NA and v is not None and not (isinstance(v, float) and math.isnan(v)) \
        and bool(v)


def _fp(p) -> str:
    if p is None or not np.isfinite(p):
        return "  n/a"
    return "<.001" if p < 0.001 else f"{p:.3f}"


def _pp(x) -> str:
    return "   n/a" if x is None or not np.isfinite(x) else f"{100 * x:+6.2f}"


def _headline_lines(stats: StudyStats) -> list[str]:
    m = stats.meta
    p = m.get("primary", {})
    lines = [f"Primary analysis: {p.get('test', '?')} on {p.get('unit', '?')} "
             f"{'means' if p.get('unit') == 'fold' else 'pairs'} of {p.get('metric', '?')}, "
             f"{m.get('headline_correction', '')}."]
    if m.get("primary_note"):
        lines.append(f"  ({m['primary_note']})")
    for h in stats.headline:
        ci = f"[{_pp(h['ci_low'])},{_pp(h['ci_high'])}]"
        pair = f"{h['b']}:{h['modalities_b']} - {h['a']}:{h['modalities_a']}"
        lines.append(f"  {pair:<28} {_pp(h['estimate'])} pp "
                     f"{ci:>17} p_adj {_fp(h['p_adj'])}  {h['verdict']}"
                     + (f" ({h['reason']})" if h.get("reason") else ""))
    return lines


def _pair_line(s: pd.DataFrame, a: str, b: str) -> str:
    def get(unit, test):
        r = s[(s["unit"] == unit) & (s["test"] == test)]
        return r.iloc[0] if len(r) else None

    def cell(r):
        if r is None:
            return "     -"
        p = r["pvalue_adj"] if np.isfinite(r["pvalue_adj"]) else r["pvalue"]
        return f"{_fp(p)}{'*' if _true(r['significant']) else ' '}"

    t = get("run", "paired_t")
    w = get("run", "wilcoxon")
    ci = f"[{_pp(w['ci_low'])},{_pp(w['ci_high'])}]" if w is not None else ""
    eq = []
    tst, bay = get("fold", "tost"), get("run", "bayes_signrank")
    if tst is not None and tst["equivalent"] is not pd.NA:
        eq.append("TOST(fold) " + ("yes" if _true(tst["equivalent"]) else "no"))
    if bay is not None and np.isfinite(bay["p_rope"]):
        eq.append(f"P(</=/>) {bay['p_left']:.2f}/{bay['p_rope']:.2f}/{bay['p_right']:.2f}")
    line = (f"  {b + ' - ' + a:<28} {int(t['n']) if t is not None else 0:>3} "
            f"{_pp(t['estimate']) if t is not None else '':>6} {ci:>17}  "
            + " ".join(f"{cell(get(u, x)):>6}" for u, x, _ in COLS) + "  " + "; ".join(eq))
    pr = get("utterance", "mcnemar_per_run")
    if pr is not None and pr["n_significant"] is not pd.NA:
        line += f"; McNemar per run: {int(pr['n_significant'])}/{int(pr['n'])} differ"
    return line


def _family_lines(df: pd.DataFrame, fam: str, metric: str) -> list[str]:
    sub = df[(df["family"] == fam) & (df["metric"] == metric)]
    lines = ["", f"== {fam} / {metric} ==",
             f"  {'b - a':<28} {'n':>3} {'mean':>6} {'HL CI':>17}  "
             + " ".join(f"{h:>6}" for _, _, h in COLS) + "  equivalence"]
    pairs = sub[~sub["test"].isin(("friedman", "nemenyi"))][["a", "b"]].drop_duplicates()
    for a, b in pairs.itertuples(index=False):
        lines.append(_pair_line(sub[(sub["a"] == a) & (sub["b"] == b)], a, b))
    for unit in ("run", "fold"):
        for _, r in sub[(sub["test"] == "friedman") & (sub["unit"] == unit)].iterrows():
            star = "*" if _true(r["significant"]) else ""
            lines.append(f"  Friedman ({unit}, {int(r['n'])} blocks): p {_fp(r['pvalue'])}{star}; "
                         f"{r['note']}")
    return lines


def format_summary(stats: StudyStats) -> str:
    """A readable terminal summary: the headline verdicts, then one line per comparison."""
    m = stats.meta
    lines = [f"Study {m.get('study', '?')}: {m.get('n_ok', '?')} ok runs of {m.get('n_runs', '?')}, "
             f"{m.get('n_folds', '?')} fold(s) x {m.get('n_seeds', '?')} seed(s); alpha "
             f"{m.get('alpha', 0.05):g}, {m.get('correction', '?')} within family x metric x "
             f"unit x test; equivalence margin +-{100 * m.get('margin', 0.01):g} pp."]
    lines += _headline_lines(stats)
    lines.append("Secondary analyses below: differences b - a in percentage points; "
                 "* = significant after correction (McNemar describes the trained classifiers).")
    df = stats.rows
    if df.empty:
        lines.append("No comparisons (need two models on a shared combination).")
    for fam in dict.fromkeys(df["family"]):
        for metric in dict.fromkeys(df.loc[df["family"] == fam, "metric"]):
            lines += _family_lines(df, fam, metric)
    lines += ["", "Columns: Wilc = Wilcoxon on paired runs, LMM = mixed model with model x fold "
              "effect, t_NB = corrected resampled t, fold t = paired t on fold means, McN = "
              "McNemar on pooled seed ensembles (raw p, a description)."]
    lines += _tail(stats)
    return "\n".join(lines)


def _tail(stats: StudyStats) -> list[str]:
    lines = []
    for fam, per in stats.meta.get("min_detectable_difference", {}).items():
        for metric, d in per.items():
            parts = [f"{u} n={v['n']}: {100 * v['mdd']:.2f} pp" for u, v in d.items()
                     if isinstance(v, dict) and v.get("mdd") is not None]
            if parts:
                lines.append(f"Min. detectable difference (80% power) {fam}/{metric}: "
                             + ", ".join(parts))
    if stats.notes:
        lines += ["", "Notes:"] + [f"  - {n}" for n in stats.notes]
    unp = (stats.excluded or {}).get("unpaired") or []
    if unp:
        lines.append("Unpaired runs:")
        lines += [f"  - {u['run_id']} ({u['config']}, fold {u['fold']}, seed {u['seed']}) in "
                  f"{u['family']}: {u['reason']}" for u in unp[:20]]
        if len(unp) > 20:
            lines.append(f"  ... and {len(unp) - 20} more")
    return lines
