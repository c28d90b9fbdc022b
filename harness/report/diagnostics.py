"""Diagnostic figures: critical-difference diagrams (from stats.json `ranks`), confusion matrices and
learning curves (from the runs' saved predictions and histories, read through the results folder)."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from harness.report.figures import Figure, SkipFigure, model_color, save
from harness.report.names import metric_long, model_label, split_side, unit_words
from harness.report.render_text import finite
from harness.report.tables import main_models
from harness.report.view import ReportData


def _largest_combination(data: ReportData, models: list[str]) -> str | None:
    mods = [m for m in data.modalities if any(len(data.select(x, m)) for x in models)]
    return max(mods, key=len) if mods else None


# ------------------------------------------------------------------------------------------ confusion
def _confusion(data: ReportData, run_ids) -> tuple[np.ndarray | None, int]:
    total, n = None, 0
    for rid in run_ids:
        pred = data.folder.predictions(rid)
        if not pred or "test_y_true" not in pred or "test_y_pred" not in pred:
            continue
        y_true, y_pred = np.asarray(pred["test_y_true"], int), np.asarray(pred["test_y_pred"], int)
        k = len(data.class_names()) or int(max(y_true.max(initial=0), y_pred.max(initial=0)) + 1)
        if "test_proba" in pred:
            k = int(np.asarray(pred["test_proba"]).shape[1])
        cm = np.zeros((k, k))
        np.add.at(cm, (y_true, y_pred), 1)
        if total is None:
            total = cm
        elif cm.shape == total.shape:
            total += cm
        else:
            continue
        n += 1
    return total, n


def fig_confusion(data: ReportData, out_dir: Path) -> Figure:
    models = main_models(data)
    mod = _largest_combination(data, models)
    mats = {m: _confusion(data, data.select(m, mod)["run_id"]) for m in models} if mod else {}
    mats = {m: v for m, v in mats.items() if v[0] is not None}
    if not mats:
        raise SkipFigure(f"confusion matrices: no run of {', '.join(models)} has saved test predictions")
    k = next(iter(mats.values()))[0].shape[0]
    names = data.class_names(k)
    size = max(3.6, 0.45 * k + 1.5)
    fig, axes = plt.subplots(1, len(mats), figsize=(size * len(mats) + 1.2, size + 0.4), squeeze=False,
                             layout="constrained")
    im = None
    for col, (ax, (model, (cm, n))) in enumerate(zip(axes[0], mats.items())):
        rows = cm.sum(axis=1, keepdims=True)
        norm = 100 * np.divide(cm, rows, out=np.zeros_like(cm, dtype=float), where=rows > 0)
        im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=100)
        for i in range(k):
            for j in range(k):
                ax.text(j, i, f"{norm[i, j]:.0f}", ha="center", va="center", fontsize=9 if k > 5 else 10,
                        color="white" if norm[i, j] > 55 else "black")
        ax.set_xticks(range(k), names, rotation=45, ha="right")
        ax.set_yticks(range(k), names if col == 0 else [""] * k)
        ax.set_xlabel("Predicted class")
        if col == 0:
            ax.set_ylabel("True class")
        ax.set_title(f"{model_label(model)}, {mod} (sum over {n} runs)")
    fig.colorbar(im, ax=list(axes[0]), shrink=0.85).set_label("% of the true class (row-normalised)")
    fig.suptitle(f"Test confusion matrices on {mod}")
    name = f"confusion_{mod}"
    return Figure(name, f"Confusion matrices ({mod})",
                  "Counts summed over runs, then each row divided by its total (recall per class, in %).",
                  save(fig, out_dir, name))


# ------------------------------------------------------------------------------------------ learning curves
def fig_learning_curves(data: ReportData, out_dir: Path) -> Figure:
    mod = _largest_combination(data, data.models)
    sel = data.select(modalities=mod) if mod else data.ok.iloc[0:0]
    curves = {}
    for model in data.order(sel["model"]):
        hists = [data.folder.history(rid) for rid in sel.loc[sel["model"] == model, "run_id"]]
        hists = [h.set_index("epoch")["dev_accuracy"].astype(float) for h in hists
                 if h is not None and len(h) and {"epoch", "dev_accuracy"} <= set(h.columns)]
        if hists:
            curves[model] = pd.concat(hists, axis=1)
    if not curves:
        raise SkipFigure(f"learning curves: no history.csv for runs on {mod}")
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for model, frame in curves.items():
        n_runs, alive = frame.shape[1], frame.notna().sum(axis=1)
        keep = alive >= max(2, math.ceil(0.2 * n_runs)) if n_runs > 1 else alive >= 1
        mean, sd = 100 * frame.mean(axis=1)[keep], 100 * frame.std(axis=1, ddof=1)[keep]
        color = model_color(data, model)
        ax.plot(mean.index, mean.values, color=color, lw=1.8, label=f"{model} ({n_runs} runs)")
        if n_runs > 1:
            ax.fill_between(mean.index, (mean - sd).values, (mean + sd).values, color=color, alpha=0.15, lw=0)
    ax.set_xlabel("Epoch")
    ax.set_ylabel("Dev accuracy (%)")
    ax.set_title(f"Learning curves on {mod}: dev accuracy, mean over runs (band: ±1 sd)")
    ax.legend(frameon=False, loc="best")
    fig.tight_layout()
    return Figure("learning_curves", f"Learning curves ({mod})",
                  "Mean dev accuracy per epoch over the runs still training at that epoch (early stopping ends runs "
                  "at different epochs), band ±1 sd over runs; a curve stops when fewer than 20% of its runs remain.",
                  save(fig, out_dir, "learning_curves"))


# ------------------------------------------------------------------------------------------ CD diagrams
def _apart(data: ReportData, rk: dict) -> set[frozenset]:
    """Pairs of models the Nemenyi rows of stats.json set apart (adjusted p < α)."""
    rows = data.stats.rows
    nem = rows[(rows["test"] == "nemenyi") & (rows["metric"] == rk.get("metric")) & (rows["unit"] == rk.get("unit"))]
    mods = nem["modalities_a"].where(nem["modalities_a"] != "", nem["a"].map(lambda s: split_side(s)[1]))
    nem = nem[(mods == rk.get("modalities")) | (mods == "")]
    return {frozenset((split_side(r["a"])[0], split_side(r["b"])[0])) for _, r in nem.iterrows()
            if finite(r["pvalue_adj"]) and r["pvalue_adj"] < data.alpha}


def _cliques(names: list[str], ranks: dict, cd: float, apart: set | None) -> list[tuple[int, int]]:
    """Maximal runs of rank-ordered models no pair of which is set apart (Nemenyi rows, else |ΔR| > CD)."""
    def differ(a, b):
        return frozenset((a, b)) in apart if apart is not None else abs(ranks[a] - ranks[b]) > cd

    out = []
    for i in range(len(names)):
        j = i
        while j + 1 < len(names) and not any(differ(names[x], names[j + 1]) for x in range(i, j + 1)):
            j += 1
        if j > i and not any(c[0] <= i and c[1] >= j for c in out):
            out.append((i, j))
    return out


def cd_diagram(data: ReportData, rk: dict, out_dir: Path) -> Figure:
    models, ranks = list(rk["models"]), dict(zip(rk["models"], map(float, rk["average_ranks"])))
    cd, k, mods = float(rk.get("critical_difference") or math.nan), len(models), rk.get("modalities", "")
    has_rows = data.stats is not None and (data.stats.rows["test"] == "nemenyi").any()
    names = sorted(models, key=ranks.get)
    cliques = _cliques(names, ranks, cd, _apart(data, rk) if has_rows else None)
    half = (k + 1) // 2
    fig, ax = plt.subplots(figsize=(8, 1.6 + 0.32 * max(half, k - half) + 0.18 * len(cliques)))
    ax.set_xlim(-0.3, k + 1.3)
    ax.set_ylim(-(max(half, k - half) + 1) * 0.45 - 0.25 * len(cliques), 1.3)
    ax.axis("off")
    ax.hlines(0, 1, k, color="black", lw=1.2)
    for t in range(1, k + 1):
        ax.vlines(t, 0, 0.12, color="black", lw=1)
        ax.text(t, 0.18, str(t), ha="center", va="bottom", fontsize=10)
    if finite(cd):
        ax.hlines(0.95, 1, 1 + cd, color="firebrick", lw=2)
        ax.text(1 + cd / 2, 1.02, f"CD = {cd:.2f}", ha="center", va="bottom", color="firebrick", fontsize=9)
    for c, (i, j) in enumerate(cliques):
        ax.hlines(-0.15 - 0.2 * c, ranks[names[i]] - 0.03, ranks[names[j]] + 0.03, color="black", lw=4)
    base = -0.15 - 0.2 * len(cliques)
    for idx, name in enumerate(names):
        left = idx < half
        y = base - 0.45 * ((idx + 1) if left else (k - idx))
        edge = 0.9 if left else k + 0.1
        ax.plot([ranks[name], ranks[name], edge], [0, y, y], color=model_color(data, name), lw=1.2)
        ax.text(edge - 0.05 if left else edge + 0.05, y, f"{name} ({ranks[name]:.2f})" if left else
                f"({ranks[name]:.2f}) {name}", ha="right" if left else "left", va="center", fontsize=10,
                color=model_color(data, name))
    ax.set_title(f"Critical-difference diagram, {metric_long(rk.get('metric', ''))} on {mods}: "
                 f"{rk.get('n_blocks')} {unit_words(rk.get('unit', ''))}, α = {data.alpha:g}", fontsize=10)
    fig.tight_layout()
    name = f"critical_difference_{mods}_{rk.get('metric')}_{rk.get('unit')}"
    source = "Nemenyi rows of stats.json" if has_rows else "rank difference at most CD"
    return Figure(name, f"Critical-difference diagram ({mods}, {rk.get('unit')})",
                  f"Average ranks (1 = best) and CD from stats.json over {rk.get('n_blocks')} blocks; models joined by "
                  f"a thick bar are not set apart ({source}); secondary analysis.", save(fig, out_dir, name))


def fig_cd_diagrams(data: ReportData, out_dir: Path) -> list[Figure]:
    """One diagram per combination with at least three ranked models, on the primary metric and unit."""
    if data.stats is None or not data.stats.ranks:
        raise SkipFigure("critical-difference diagram: stats.json has no ranks")
    prim = data.primary
    ranks = [r for r in data.stats.ranks if len(r.get("models") or []) >= 3
             and len(r.get("average_ranks") or []) == len(r.get("models") or [])]
    chosen = {}
    for r in ranks:  # per combination: the primary metric and unit when present, else the first listed
        key = r.get("modalities")
        score = (r.get("metric") == prim.get("metric", "balanced_accuracy")) + (r.get("unit") == prim.get("unit"))
        if key not in chosen or score > chosen[key][0]:
            chosen[key] = (score, r)
    if not chosen:
        raise SkipFigure("critical-difference diagram: no combination has three or more ranked models")
    return [cd_diagram(data, r, out_dir) for _, r in chosen.values()]
