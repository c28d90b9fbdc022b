"""Descriptive tables: main results, models on one combination, per fold, run accounting.

Cells are means ± sd over ok runs: from stats.json `summaries` where they exist, else described from the
runs table. No test is computed here (the significance tables live in stats_tables.py).
"""

from __future__ import annotations

import math
from importlib import resources

import pandas as pd

from harness.report.names import WA_FOOTNOTE, metric_long, metric_short, model_label, order_modalities
from harness.report.render_text import DASH, Table, fmt_duration, fmt_num, fmt_pct, fmt_pm
from harness.report.view import ReportData

PAPER_SOURCE = "Rajan, Brutti & Cavallaro, ICASSP 2022 (arXiv 2202.09263)"


def paper_lookup(table: str) -> dict[tuple[str, str, str], tuple[float, float]]:
    """Published values (fractions) shipped as package data: (model, modalities, metric) -> (value, std)."""
    ref = resources.files("harness.report").joinpath("paper_values.csv")
    with ref.open("r", encoding="utf-8") as fh:
        pv = pd.read_csv(fh, comment="#")
    pv = pv[pv["table"] == table]
    return {(r.model, r.modalities, r.metric): (float(r.value), float(r.std)) for r in pv.itertuples()}


def first_family(head: pd.DataFrame) -> pd.DataFrame:
    """The headline entries of the study's first family (its main question: the declared comparisons, or the
    paper's self vs cross)."""
    if head.empty or "family" not in head:
        return head
    return head[head["family"] == head["family"].iloc[0]]


def main_models(data: ReportData) -> list[str]:
    """The models of the first family of primary comparisons, else those run on several combinations, else all."""
    head = first_family(data.headline)
    named = [m for _, h in head.iterrows() for m in (h["a"].split(":")[0], h["b"].split(":")[0])]
    if named:
        return data.order(named)
    spread = data.ok.groupby("model")["modalities"].nunique()  # no headline: the models run on several combinations
    wide = data.order(spread[spread > 1].index)
    return wide if len(wide) >= 2 else data.models


def _summary_source_note(cells: list[dict]) -> str:
    sources = {c["source"] for c in cells}
    return ("means and sds from stats.json (summaries)" if sources == {"stats"} else
            "means and sds described from the runs table" if sources == {"runs"} else
            "means and sds from stats.json, else from the runs table")


# ------------------------------------------------------------------------------------------ main table
def main_table(data: ReportData) -> Table | None:
    """The primary comparisons' models per combination: mean ± sd (percent) of each metric."""
    models = main_models(data)
    if not models or data.ok.empty:
        return None
    paper = paper_lookup("main") if data.show_paper else {}
    mods = order_modalities(data.ok.loc[data.ok["model"].isin(models), "modalities"])
    records, cells = [], []
    cols: dict = {("", "Modalities"): mods}
    for model in models:
        for metric in data.metrics:
            col = []
            for mod in mods:
                s = data.summary(model, mod, metric)
                records.append({"model": model, "modalities": mod, "metric": metric, "n": s["n"],
                                "mean": s["mean"], "sd": s["sd"]})
                if s["n"]:
                    cells.append(s)
                col.append(fmt_pm(s["mean"], s["sd"]) if s["n"] else DASH)
            cols[(model_label(model), f"{metric_short(metric)} (%)")] = col
            if paper and (model, "AVT", metric) in paper:
                cols[(model_label(model), f"{metric_short(metric)} paper")] = [
                    fmt_pct(paper.get((model, mod, metric), (math.nan,))[0]) for mod in mods]
    display = pd.DataFrame(cols)
    display.columns = pd.MultiIndex.from_tuples(display.columns)
    table = pd.DataFrame(records)
    counts = sorted({int(n) for n in table["n"] if n > 0})
    runs_text = (f"n = {counts[0]} runs per cell" if len(counts) == 1 else
                 f"n = {counts[0]}–{counts[-1]} runs per cell (see the run accounting)" if counts else "no runs")
    caption = f"Test-set mean ± sd over ok runs ({runs_text}), in percent; {_summary_source_note(cells)}."
    notes = [WA_FOOTNOTE + "."]
    if paper:
        notes.append(f"'paper' columns: published values, {PAPER_SOURCE}, Table 1 (mean over 5 folds × 10 seeds).")
    elif data.data_format and data.data_format != "iemocap_yoon":
        notes.append(f"Data format '{data.data_format}' is not the paper's IEMOCAP data; "
                     "published values are not shown.")
    title = "Main results: " + ", ".join(model_label(m) for m in models)
    return Table("main", title, table, display, caption, notes, n_label_cols=1)


# ------------------------------------------------------------------------------------------ models on one combination
def model_set_combinations(data: ReportData, minimum: int = 3) -> list[str]:
    """Combinations on which at least `minimum` models have runs (ablation-style comparisons)."""
    counts = data.ok.groupby("modalities")["model"].nunique()
    return [m for m in data.modalities if counts.get(m, 0) >= minimum]


def models_table(data: ReportData, modalities: str) -> Table | None:
    """Every model with runs on one combination: n, mean (sd) as fractions (the paper's ablation style)."""
    models = data.order(data.select(modalities=modalities)["model"])
    if not models:
        return None
    paper = paper_lookup("ablation") if data.show_paper and modalities == "AVT" else {}
    records, cells, rows = [], [], []
    for model in models:
        row = [model_label(model)]
        for metric in data.metrics:
            s = data.summary(model, modalities, metric)
            cells.append(s)
            records.append({"model": model, "modalities": modalities, "metric": metric, "n": s["n"],
                            "mean": s["mean"], "sd": s["sd"]})
            row.append(_frac(s["mean"], s["sd"]))
            if paper:
                row.append(_frac(*paper.get((model, modalities, metric), (math.nan, math.nan))))
        rows.append([row[0], fmt_num(cells[-1]["n"], 0), *row[1:]])
    columns = ["Model", "n"]
    for metric in data.metrics:
        columns += [metric_short(metric)] + ([f"{metric_short(metric)} paper"] if paper else [])
    notes = [WA_FOOTNOTE + "."]
    if paper:
        notes.append(f"'paper' columns: published values, {PAPER_SOURCE}, ablation table (mean (std) over 50 runs).")
    return Table(f"models_{modalities}", f"Models on {modalities}", pd.DataFrame(records),
                 pd.DataFrame(rows, columns=columns),
                 f"Test-set mean (sd) over ok runs, as fractions; {_summary_source_note(cells)}.", notes,
                 n_label_cols=1)


def _frac(mean, sd) -> str:
    if not isinstance(mean, float) or math.isnan(mean):
        return DASH
    return f"{mean:.3f}" if math.isnan(sd) else f"{mean:.3f} ({sd:.3f})"


# ------------------------------------------------------------------------------------------ per fold
def per_fold_table(data: ReportData, metric: str) -> Table | None:
    """Mean of each (model, combination) per fold over its seeds (a description of the runs)."""
    ok = data.ok
    col = f"test_{metric}"
    if ok.empty or col not in ok:
        return None
    folds = sorted(ok["fold"].unique())
    grouped = ok.groupby(["model", "modalities", "fold"])[col].mean()
    records, rows = [], []
    for model in data.models:
        for mod in order_modalities(ok.loc[ok["model"] == model, "modalities"]):
            rec = {"model": model, "modalities": mod,
                   **{f"fold_{f}": float(grouped.get((model, mod, f), math.nan)) for f in folds},
                   "mean": data.summary(model, mod, metric)["mean"]}
            records.append(rec)
            rows.append([model_label(model), mod] + [fmt_pct(rec[f"fold_{f}"]) for f in folds] + [fmt_pct(rec["mean"])])
    display = pd.DataFrame(rows, columns=["Model", "Modalities"] + [f"Fold {f}" for f in folds] + ["All runs"])
    return Table(f"per_fold_{metric}", f"Per-fold test {metric_long(metric)}", pd.DataFrame(records), display,
                 f"Mean {metric_short(metric)} over the seeds of each fold, in percent; 'All runs' = mean over all "
                 "ok runs.", [WA_FOOTNOTE + "."], n_label_cols=2)


# ------------------------------------------------------------------------------------------ accounting
def accounting_table(data: ReportData) -> Table:
    runs, plan = data.folder.runs, data.folder.plan
    models = data.order(list(runs["model"]) + (list(plan["model"]) if plan is not None else []))
    models += sorted(set(runs["model"]) - set(models))
    secs_all = pd.to_numeric(runs["train_seconds"], errors="coerce") if "train_seconds" in runs else None
    records = []
    for model in models + ["all"]:
        mask = runs["model"] == model if model != "all" else pd.Series(True, index=runs.index)
        r = runs[mask]
        ok = data.ok if model == "all" else data.ok[data.ok["model"] == model]
        planned = len(r) if plan is None else len(plan) if model == "all" else int((plan["model"] == model).sum())
        secs = secs_all[mask] if secs_all is not None else pd.Series(dtype=float)
        records.append({"model": model, "planned": planned, "finished": len(r), "ok": len(ok),
                        "failed": int((r["status"] == "failed").sum()), "not_finished": max(planned - len(r), 0),
                        "mean_epochs": ok["epochs"].mean() if "epochs" in ok and len(ok) else math.nan,
                        "total_train_seconds": float(secs.fillna(0).sum()) if len(secs) else math.nan,
                        "mean_train_seconds": float(secs.mean()) if secs.notna().any() else math.nan})
    table = pd.DataFrame(records)
    display = pd.DataFrame({
        "Model": ["all models" if m == "all" else model_label(m) for m in table["model"]],
        "Planned": table["planned"].astype(str), "OK": table["ok"].astype(str),
        "Failed": table["failed"].astype(str), "Not finished": table["not_finished"].astype(str),
        "Mean epochs": [fmt_num(e, 1) for e in table["mean_epochs"]],
        "Total training": [fmt_duration(s) for s in table["total_train_seconds"]],
        "Mean per run": [fmt_duration(s) for s in table["mean_train_seconds"]],
    })
    notes = [] if plan is not None else ["plan.json is missing: 'Planned' counts the finished runs."]
    failed = runs[runs["status"] == "failed"]
    if len(failed):
        errs = failed["error"].fillna("").astype(str) if "error" in failed else pd.Series([""] * len(failed))
        top = errs.str.slice(0, 80).value_counts().head(3)
        notes.append("Most common errors: " + "; ".join(f"{e or '(no message)'} ({c}×)" for e, c in top.items()))
    return Table("accounting", "Run accounting", table, display,
                 "Training time is the sum of train_seconds over the finished runs.", notes, n_label_cols=1)
