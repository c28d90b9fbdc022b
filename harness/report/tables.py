"""Report tables. Each is a `Table`: numeric `data` (mean/std over ok runs of runs.csv) plus a display frame
rendered to Markdown and LaTeX (booktabs)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from harness.report.render_text import DASH, Table
from harness.report.results import (
    METRIC_LONG, METRIC_SHORT, METRICS, PAPER_SOURCE, WA_FOOTNOTE, Results, load_paper_values, order_modalities,
    order_models,
)
from harness.report.statsview import StatsView

MODEL_LABEL = {"self": "Self-attention", "cross": "Cross-attention"}
FAMILY_TITLE = {
    "self_vs_cross": "Self- vs cross-attention",
    "ablation_AVT": "Ablation on AVT",
    "modalities_self": "Modality combinations (self-attention)",
}
TEST_LABEL = {
    "wilcoxon": "Wilcoxon signed-rank", "paired_t": "paired t", "corrected_resampled_t": "corrected resampled t",
    "tost": "TOST", "bayes_signrank": "Bayesian signed-rank", "mixed_model": "mixed model",
    "mcnemar_per_run": "McNemar (per run)", "mcnemar_pooled": "McNemar (pooled)", "friedman": "Friedman",
    "nemenyi": "Nemenyi",
}
TEST_SHORT = {
    "wilcoxon": "Wilcoxon", "paired_t": "paired t", "corrected_resampled_t": "NB t", "tost": "TOST",
    "bayes_signrank": "Bayes SR", "mixed_model": "mixed", "mcnemar_per_run": "McNemar/run",
    "mcnemar_pooled": "McNemar pooled", "friedman": "Friedman", "nemenyi": "Nemenyi",
}
EFFECT_SHORT = {"rank_biserial": "r", "cohen_dz": "dz", "share_runs_b_ahead": "b ahead",
                "discordant_share_b": "disc. b", "odds_ratio": "OR", "cohen_g": "g"}
UNIT_LABEL = {"run": "run", "fold": "fold", "utterance": "utterance"}
UNIT_ORDER = {"run": 0, "fold": 1, "utterance": 2}
TEST_ORDER = {t: i for i, t in enumerate(TEST_LABEL)}
RANK_TESTS = {"friedman", "nemenyi"}


# ------------------------------------------------------------------------------------------ formatting
def fmt_pct(x, decimals: int = 1) -> str:
    return DASH if x is None or not np.isfinite(x) else f"{100 * x:.{decimals}f}"


def fmt_pm(mean, std, decimals: int = 1) -> str:
    if mean is None or not np.isfinite(mean):
        return DASH
    if std is None or not np.isfinite(std):
        return fmt_pct(mean, decimals)
    return f"{100 * mean:.{decimals}f} ± {100 * std:.{decimals}f}"


def fmt_frac_paren(mean, std) -> str:
    if mean is None or not np.isfinite(mean):
        return DASH
    if std is None or not np.isfinite(std):
        return f"{mean:.3f}"
    return f"{mean:.3f} ({std:.3f})"


def fmt_p(p) -> str:
    if p is None or not np.isfinite(p):
        return DASH
    if p < 0.001:
        return "<0.001"
    return f"{p:.3f}"


def fmt_num(x, decimals=2) -> str:
    if x is None or not np.isfinite(x):
        return DASH
    return f"{x:.{decimals}f}"


def fmt_duration(seconds) -> str:
    if seconds is None or not np.isfinite(seconds):
        return DASH
    seconds = float(seconds)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes = seconds / 60
    if minutes < 60:
        return f"{minutes:.1f} min"
    return f"{minutes / 60:.2f} h"


def model_label(model: str) -> str:
    return MODEL_LABEL.get(model, model)


def _summary(values: pd.Series) -> tuple[int, float, float]:
    v = values.dropna().to_numpy(dtype=float)
    n = len(v)
    mean = float(v.mean()) if n else math.nan
    std = float(v.std(ddof=1)) if n > 1 else math.nan
    return n, mean, std


def paper_lookup(table: str) -> dict[tuple[str, str, str], tuple[float, float]]:
    pv = load_paper_values()
    pv = pv[pv["table"] == table]
    return {(r.model, r.modalities, r.metric): (float(r.value), float(r.std)) for r in pv.itertuples()}


# ------------------------------------------------------------------------------------------ main table
def main_table(res: Results) -> Table | None:
    """Self vs cross per modality combination: mean ± std (percent) of WA (balanced accuracy) and UWA (accuracy)."""
    models = [m for m in ("self", "cross") if m in res.models]
    if not models:
        return None
    paper = paper_lookup("main") if res.show_paper else {}
    records = []
    mods = order_modalities(res.ok.loc[res.ok["model"].isin(models), "modalities"])
    for mod in mods:
        for model in models:
            sel = res.select(model, mod)
            rec = {"modalities": mod, "model": model}
            n = 0
            for metric in METRICS:
                n, mean, std = _summary(sel[f"test_{metric}"])
                rec[f"{metric}_mean"], rec[f"{metric}_std"] = mean, std
                if paper:
                    rec[f"paper_{metric}"] = paper.get((model, mod, metric), (math.nan, math.nan))[0]
            rec["n"] = n
            records.append(rec)
    data = pd.DataFrame(records)
    cols: dict = {("", "Modalities"): mods}
    for model in models:
        d = data[data["model"] == model].set_index("modalities").reindex(mods)
        group = model_label(model)
        for metric in METRICS:
            short = METRIC_SHORT[metric]
            cols[(group, f"{short} (%)")] = [
                fmt_pm(m, s) if n > 0 else DASH
                for m, s, n in zip(d[f"{metric}_mean"], d[f"{metric}_std"], d["n"].fillna(0))]
            if paper:
                cols[(group, f"{short} paper")] = [fmt_pct(v) for v in d[f"paper_{metric}"]]
    display = pd.DataFrame(cols)
    display.columns = pd.MultiIndex.from_tuples(display.columns)
    counts = sorted(set(int(n) for n in data["n"] if n > 0))
    runs_text = (f"n = {counts[0]} runs per cell" if len(counts) == 1
                 else f"n = {counts[0]}–{counts[-1]} runs per cell (see the run accounting)")
    caption = f"Test-set mean ± std over ok runs ({runs_text}), in percent."
    notes = [WA_FOOTNOTE + "."]
    if paper:
        notes.append(f"'paper' columns: published values, {PAPER_SOURCE}, Table 1 (mean over 5 folds × 10 seeds).")
    elif res.data.get("format") and not res.is_real_iemocap:
        notes.append(f"Data format '{res.data.get('format')}' is not the paper's IEMOCAP data; "
                     "published values are not shown.")
    return Table("main", "Main results: self- vs cross-attention", data, display, caption, notes, n_label_cols=1)


# ------------------------------------------------------------------------------------------ ablation
def ablation_table(res: Results, modalities: str = "AVT") -> Table | None:
    sel_all = res.select(modalities=modalities)
    models = order_models(sel_all["model"])
    if not models:
        return None
    paper = paper_lookup("ablation") if res.show_paper else {}
    records = []
    for model in models:
        sel = sel_all[sel_all["model"] == model]
        rec = {"model": model, "modalities": modalities}
        for metric in METRICS:
            n, mean, std = _summary(sel[f"test_{metric}"])
            rec[f"{metric}_mean"], rec[f"{metric}_std"] = mean, std
            if paper:
                rec[f"paper_{metric}_mean"], rec[f"paper_{metric}_std"] = paper.get(
                    (model, modalities, metric), (math.nan, math.nan))
        rec["n"] = n
        records.append(rec)
    data = pd.DataFrame(records)
    cols = {"Model": data["model"].tolist(), "n": [str(int(n)) for n in data["n"]]}
    for metric in METRICS:
        short = METRIC_SHORT[metric]
        cols[f"{short}"] = [fmt_frac_paren(m, s) for m, s in zip(data[f"{metric}_mean"], data[f"{metric}_std"])]
        if paper:
            cols[f"{short} paper"] = [fmt_frac_paren(m, s) for m, s in
                                      zip(data[f"paper_{metric}_mean"], data[f"paper_{metric}_std"])]
    display = pd.DataFrame(cols)
    notes = [WA_FOOTNOTE + "."]
    if paper:
        notes.append(f"'paper' columns: published values, {PAPER_SOURCE}, ablation table (mean (std) over 50 runs).")
    return Table("ablation", f"Ablation on {modalities}", data, display,
                 "Test-set mean (std) over ok runs, as fractions.", notes, n_label_cols=1)


# ------------------------------------------------------------------------------------------ per fold
def per_fold_table(res: Results, metric: str) -> Table | None:
    ok = res.ok
    if ok.empty:
        return None
    folds = sorted(ok["fold"].unique())
    grouped = ok.groupby(["model", "modalities", "fold"])[f"test_{metric}"].mean()
    records, rows = [], []
    for model in res.models:
        for mod in order_modalities(ok.loc[ok["model"] == model, "modalities"]):
            rec = {"model": model, "modalities": mod}
            for f in folds:
                rec[f"fold_{f}"] = float(grouped.get((model, mod, f), math.nan))
            rec["mean"] = float(res.select(model, mod)[f"test_{metric}"].mean())
            records.append(rec)
            rows.append([model, mod] + [fmt_pct(rec[f"fold_{f}"]) for f in folds] + [fmt_pct(rec["mean"])])
    data = pd.DataFrame(records)
    display = pd.DataFrame(rows, columns=["Model", "Modalities"] + [f"Fold {f}" for f in folds] + ["All runs"])
    short = METRIC_SHORT[metric]
    return Table(f"per_fold_{metric}", f"Per-fold test {METRIC_LONG[metric]}", data, display,
                 f"Mean {short} over the seeds of each fold, in percent; 'All runs' = mean over all ok runs.",
                 [WA_FOOTNOTE + "."], n_label_cols=2)


# ------------------------------------------------------------------------------------------ accounting
def accounting_table(res: Results) -> Table:
    runs = res.runs
    plan = res.plan
    models = order_models((list(plan["model"]) if plan is not None else []) + list(runs["model"]))
    records = []
    for model in models + ["all"]:
        r = runs if model == "all" else runs[runs["model"] == model]
        ok = r[r["status"] == "ok"]
        if plan is not None:
            planned = len(plan) if model == "all" else int((plan["model"] == model).sum())
        else:
            planned = len(r)
        epochs = ok["epochs"].mean() if "epochs" in ok.columns and len(ok) else math.nan
        secs = r["train_seconds"] if "train_seconds" in r.columns else pd.Series(dtype=float)
        total = float(secs.fillna(0).sum()) if len(secs) else math.nan
        mean_secs = float(secs.mean()) if secs.notna().any() else math.nan
        records.append({"model": model, "planned": planned, "finished": len(r), "ok": len(ok),
                        "failed": int((r["status"] == "failed").sum()),
                        "not_finished": max(planned - len(r), 0), "mean_epochs": epochs,
                        "total_train_seconds": total, "mean_train_seconds": mean_secs})
    data = pd.DataFrame(records)
    display = pd.DataFrame({
        "Model": [("all models" if m == "all" else m) for m in data["model"]],
        "Planned": data["planned"].astype(str), "OK": data["ok"].astype(str),
        "Failed": data["failed"].astype(str), "Not finished": data["not_finished"].astype(str),
        "Mean epochs": [fmt_num(e, 1) for e in data["mean_epochs"]],
        "Total training": [fmt_duration(s) for s in data["total_train_seconds"]],
        "Mean per run": [fmt_duration(s) for s in data["mean_train_seconds"]],
    })
    notes = []
    if plan is None:
        notes.append("plan.json is missing: 'Planned' counts the finished runs.")
    failed = runs[runs["status"] == "failed"]
    if len(failed):
        errs = failed["error"].fillna("").astype(str) if "error" in failed.columns else pd.Series([""] * len(failed))
        top = errs.str.slice(0, 80).value_counts().head(3)
        notes.append("Most common errors: " + "; ".join(f"{e or '(no message)'} ({c}×)" for e, c in top.items()))
    return Table("accounting", "Run accounting", data, display,
                 "Training time is the sum of train_seconds in runs.csv (all finished runs).", notes, n_label_cols=1)


# ------------------------------------------------------------------------------------------ significance
def _comparison_labels(rows: pd.DataFrame) -> tuple[list[str], str]:
    """Labels of b − a for a table's rows, with the part all rows share moved into the header:
    "AVT" under "Modalities (cross − self)", "cross_nosp − cross" under "Models on AVT (b − a)"."""
    paired = rows[(rows["model_a"] != "") & (rows["model_b"] != "")]
    same_mods = bool(len(paired)) and bool((paired["modalities_a"] == paired["modalities_b"]).all())
    model_pairs = set(zip(paired["model_a"], paired["model_b"]))
    mods = set(paired["modalities_a"]) | set(paired["modalities_b"])
    models = set(paired["model_a"]) | set(paired["model_b"])
    if same_mods and len(model_pairs) == 1:
        ma, mb = next(iter(model_pairs))
        mode, header = "mods", f"Modalities ({mb} − {ma})"
    elif same_mods and len(mods) == 1:
        mode, header = "models", f"Models on {next(iter(mods))} (b − a)"
    elif len(models) == 1 and len(paired):
        mode, header = "mods_diff", f"Modalities, {next(iter(models))} (b − a)"
    else:
        mode, header = "full", "Comparison (b − a)"
    labels = []
    for _, row in rows.iterrows():
        ma, mb, xa, xb = row["model_a"], row["model_b"], row["modalities_a"], row["modalities_b"]
        if not (ma and mb):
            labels.append(row["a"] or row["b"] or "all models")
        elif mode == "mods":
            labels.append(xa)
        elif mode == "models":
            labels.append(f"{mb} − {ma}")
        elif mode == "mods_diff":
            labels.append(f"{xb} − {xa}")
        else:
            labels.append(f"{row['b']} − {row['a']}")
    return labels, header


def _estimate_text(row) -> str:
    est, lo, hi = row["estimate"], row["ci_low"], row["ci_high"]
    if not np.isfinite(est):
        return DASH
    if row["test"] in RANK_TESTS:
        txt = f"{est:.2f}"
        if np.isfinite(lo) and np.isfinite(hi):
            txt += f" [{lo:.2f}, {hi:.2f}]"
        return txt
    txt = f"{100 * est:+.2f}"
    if np.isfinite(lo) and np.isfinite(hi):
        txt += f" [{100 * lo:+.2f}, {100 * hi:+.2f}]"
    return txt


def _effect_text(row) -> str:
    if not np.isfinite(row["effect_size"]):
        return DASH
    name = EFFECT_SHORT.get(row["effect_name"], row["effect_name"] or "effect")
    return f"{name} = {row['effect_size']:.2f}"


def _equiv_text(row) -> str:
    if row["test"] == "bayes_signrank" and np.isfinite(row["p_rope"]):
        return f"{row['p_left']:.2f}/{row['p_rope']:.2f}/{row['p_right']:.2f}"
    eq = row["equivalent"]
    if row["test"] != "tost":
        return ""
    if eq is True:
        return "yes"
    if eq is False:
        return "no"
    return DASH


def _sig_text(row) -> str:
    sig = row["significant"]
    extra = ""
    if row["test"] == "mcnemar_per_run" and np.isfinite(row["n_significant"]) and np.isfinite(row["n"]):
        extra = f" ({int(row['n_significant'])}/{int(row['n'])})"
    if sig is True:
        return "yes" + extra
    if sig is False:
        return "no" + extra
    if row["test"] == "nemenyi" or row["test"] == "friedman":
        return DASH
    return ""


def correction_name(stats: StatsView) -> str:
    name = str(stats.meta.get("correction", "holm"))
    return {"holm": "Holm", "fdr_bh": "Benjamini-Hochberg"}.get(name, name)


def significance_tables(stats: StatsView | None, alpha: float, margin: float) -> list[Table]:
    if stats is None or stats.rows.empty:
        return []
    tables = []
    rows_all = stats.rows
    families = list(dict.fromkeys(["self_vs_cross", "ablation_AVT", "modalities_self"] + list(rows_all["family"])))
    for family in families:
        fam = rows_all[rows_all["family"] == family]
        for metric in list(dict.fromkeys(METRICS + list(fam["metric"]))):
            rows = fam[fam["metric"] == metric].copy()
            if rows.empty:
                continue
            labels, comp_header = _comparison_labels(rows)
            rows["_comp"] = labels
            rows["_u"] = rows["unit"].map(lambda u: UNIT_ORDER.get(u, 9))
            rows["_t"] = rows["test"].map(lambda t: TEST_ORDER.get(t, 99))
            comp_order = {c: i for i, c in enumerate(dict.fromkeys(rows["_comp"]))}
            rows["_c"] = rows["_comp"].map(comp_order)
            rows = rows.sort_values(["_c", "_u", "_t"], kind="stable")
            display = pd.DataFrame({
                comp_header: rows["_comp"].tolist(),
                "Unit": [UNIT_LABEL.get(u, u) for u in rows["unit"]],
                "Test": [TEST_SHORT.get(t, t) for t in rows["test"]],
                "n": [DASH if not np.isfinite(n) else str(int(n)) for n in rows["n"]],
                "Δ pp [95% CI]": [_estimate_text(r) for _, r in rows.iterrows()],
                "p": [fmt_p(p) for p in rows["pvalue"]],
                "p adj": [fmt_p(p) for p in rows["pvalue_adj"]],
                "Effect": [_effect_text(r) for _, r in rows.iterrows()],
                f"Equiv. ±{100 * margin:g} pp": [_equiv_text(r) for _, r in rows.iterrows()],
                "Sig.": [_sig_text(r) for _, r in rows.iterrows()],
            })
            data = rows.drop(columns=["_comp", "_u", "_t", "_c"]).reset_index(drop=True)
            notes = [
                "Unit: run = paired (fold, seed) runs; fold = per-fold means over the seeds; utterance = McNemar "
                "on the test predictions. Tests: NB t = corrected resampled t (Nadeau-Bengio); Bayes SR = "
                "Bayesian signed-rank; mixed = mixed model with a fold random intercept; McNemar/run = one "
                "McNemar test per paired run (Sig. counts the runs significant after Holm); McNemar pooled = "
                "seed ensembles of each fold pooled over the corpus.",
                "Δ = b − a in percentage points (Wilcoxon: Hodges-Lehmann estimate with its signed-rank CI; "
                f"TOST: mean with its {100 * (1 - 2 * alpha):g}% CI; others: mean difference); "
                "for Nemenyi, Δ = average rank of a − average rank of b (> 0: b ranked better).",
                f"p adj: {correction_name(stats)}-adjusted within family × metric × unit × test (Nemenyi p "
                f"already controls the family-wise error); Sig. = p adj < {alpha:g}. Effect: r = rank-biserial "
                "correlation, dz = Cohen's d_z, b ahead = share of paired runs where b is more accurate, disc. b = "
                "share of the discordant utterances that b gets right. Equiv.: TOST at ±margin (yes = equivalence shown); for "
                "Bayes SR the posterior probabilities P(b − a < −margin) / P(within ±margin, the ROPE) / "
                "P(b − a > +margin).",
            ]
            tables.append(Table(f"stats_{family}_{metric}",
                                f"{FAMILY_TITLE.get(family, family)}: tests on {METRIC_LONG.get(metric, metric)}",
                                data, display.reset_index(drop=True), "", notes, n_label_cols=3,
                                long=len(display) > 12))
    return tables
