"""Report figures (matplotlib, Agg backend), each saved as PNG and PDF.

Every figure function takes the report data and an output folder and returns a `Figure` record, or raises
`SkipFigure` with the reason when its data are absent. Points, boxes and curves show the runs as they are;
every interval, estimate and rank comes from the statistics (summaries, headline, ranks).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from harness.report.names import ci_method_label, metric_long, metric_short, sides, split_side  # noqa: E402
from harness.report.render_text import finite, fmt_coverage  # noqa: E402
from harness.report.tables import first_family, main_models, paper_lookup  # noqa: E402
from harness.report.view import ReportData  # noqa: E402

PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
           "#d62728"]

plt.rcParams.update({
    "figure.dpi": 100, "savefig.dpi": 150, "font.size": 10, "axes.titlesize": 11, "axes.labelsize": 10,
    "legend.fontsize": 9, "axes.spines.top": False, "axes.spines.right": False, "pdf.fonttype": 42,
})


class SkipFigure(Exception):
    """A figure whose data are absent; the message says why."""


@dataclass
class Figure:
    name: str
    title: str
    caption: str
    files: list[str] = field(default_factory=list)


def model_color(data: ReportData, model: str) -> str:
    """One colour per model, fixed by the study's model order (the same model keeps its colour everywhere)."""
    models = data.models
    return PALETTE[models.index(model) % len(PALETTE)] if model in models else "#333333"


def save(fig, out_dir: Path, name: str) -> list[str]:
    out_dir.mkdir(parents=True, exist_ok=True)
    files = []
    for ext in ("png", "pdf"):
        fig.savefig(out_dir / f"{name}.{ext}", bbox_inches="tight")
        files.append(f"{name}.{ext}")
    plt.close(fig)
    return files


def _bottom_legend(fig, handles, labels, y=-0.06):
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 5), frameon=False,
               bbox_to_anchor=(0.5, y))


# ------------------------------------------------------------------------------------------ main bars
def fig_main(data: ReportData, out_dir: Path) -> Figure:
    models = main_models(data)
    mods = [m for m in data.modalities if any(len(data.select(x, m)) for x in models)]
    if len(models) < 2 or not mods:
        raise SkipFigure("main bars: fewer than two models to compare")
    paper = paper_lookup("main") if data.show_paper else {}
    fig, axes = plt.subplots(1, len(data.metrics), figsize=(4.8 * len(data.metrics), 3.9), squeeze=False)
    width, x = 0.8 / len(models), np.arange(len(mods))
    methods = set()
    for ax, metric in zip(axes[0], data.metrics):
        for j, model in enumerate(models):
            cells = [data.summary(model, mod, metric) for mod in mods]
            means = np.array([100 * c["mean"] for c in cells])
            lo = np.array([100 * c["ci_low"] for c in cells])
            hi = np.array([100 * c["ci_high"] for c in cells])
            methods |= {(c["ci_method"], fmt_coverage(c["ci_coverage"])) for c in cells if finite(c["ci_low"])}
            err = np.nan_to_num(np.vstack([means - lo, hi - means]), nan=0.0)
            ok, offs = np.isfinite(means), (j - (len(models) - 1) / 2) * width
            ax.bar(x[ok] + offs, means[ok], width, color=model_color(data, model), alpha=0.85, label=model,
                   edgecolor="white")
            ax.errorbar(x[ok] + offs, means[ok], yerr=err[:, ok], fmt="none", ecolor="black", capsize=3, lw=1)
            pv = np.array([100 * paper.get((model, mod, metric), (math.nan,))[0] for mod in mods]) if paper else None
            if pv is not None and np.isfinite(pv).any():
                ax.scatter(x[np.isfinite(pv)] + offs, pv[np.isfinite(pv)], marker="D", s=28, color="black", zorder=5,
                           label="paper (Rajan et al. 2022)" if j == 0 else None)
        k = len(data.class_names())
        if metric == "balanced_accuracy" and k >= 2:
            ax.axhline(100 / k, color="grey", ls=":", lw=1, label=f"chance ({100 / k:.1f}%)")
        ax.set_xticks(x, mods)
        ax.set_xlabel("Modality combination")
        ax.set_ylabel(f"Test {metric_long(metric)} (%)")
    _bottom_legend(fig, *axes[0][0].get_legend_handles_labels())
    fig.suptitle("Mean test score per model and modality combination")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    how = "; ".join(sorted(", ".join(x for x in (ci_method_label(m), c) if x) for m, c in methods if m)) or "none"
    caption = (f"Mean over ok runs; error bars: the interval stats.json gives for each mean (method: {how}; no bar "
               "where none is given)" + ("; black diamonds: published values" if paper else "") + ".")
    return Figure("main", "Mean test scores", caption, save(fig, out_dir, "main"))


# ------------------------------------------------------------------------------------------ paired differences
def paired_runs(data: ReportData, h, metric: str) -> pd.DataFrame:
    """b − a per (fold, seed) pair of runs: the points of the figure, as the runs table holds them."""
    col = f"test_{metric}"
    sa = data.select(split_side(h["a"])[0], h["modalities_a"]).set_index(["fold", "seed"])[col]
    sb = data.select(split_side(h["b"])[0], h["modalities_b"]).set_index(["fold", "seed"])[col]
    return (sb - sa).dropna().rename("diff").reset_index()


def fig_paired_differences(data: ReportData, out_dir: Path) -> Figure:
    head = first_family(data.headline)
    if head.empty:
        raise SkipFigure("paired differences: the statistics have no primary comparison (headline)")
    metrics = list(dict.fromkeys(head["metric"]))
    folds = sorted(data.ok["fold"].unique())
    cmap = plt.get_cmap("viridis", max(len(folds), 2))
    fold_color = {f: cmap(i) for i, f in enumerate(folds)}
    rng = np.random.default_rng(0)
    width = max(4.8, 1.1 * head.groupby("metric").size().max() + 1.5)
    fig, axes = plt.subplots(1, len(metrics), figsize=(width * len(metrics), 4.2), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        rows = head[head["metric"] == metric]
        labels = []
        for i, (_, h) in enumerate(rows.iterrows()):
            a, b = sides(h)
            d = paired_runs(data, h, metric)
            ax.scatter(i + rng.uniform(-0.18, 0.18, len(d)), 100 * d["diff"], s=14, alpha=0.8, edgecolors="none",
                       c=[fold_color[f] for f in d["fold"]])
            if finite(h["estimate"]):
                yerr = ([[100 * (h["estimate"] - h["ci_low"])], [100 * (h["ci_high"] - h["estimate"])]]
                        if finite(h["ci_low"]) and finite(h["ci_high"]) else None)
                ax.errorbar(i + 0.3, 100 * h["estimate"], yerr=yerr, fmt="o", color="black", capsize=4, ms=5)
            labels.append(f"{b} − {a}" if ":" in a else f"{b} − {a}\n{h['modalities']}")
        ax.axhline(0, color="grey", lw=1, ls="--")
        ax.set_xticks(range(len(labels)), labels, fontsize=8)
        ax.set_xlim(-0.6, len(labels) - 0.3)
        ax.set_ylabel(f"b − a, {metric_short(metric)} (percentage points)")
        ax.set_title(metric_long(metric))
    handles = [plt.Line2D([], [], marker="o", ls="", color=fold_color[f], label=f"fold {f}") for f in folds]
    handles.append(plt.Line2D([], [], marker="o", ls="-", color="black", label="primary estimate with its CI"))
    _bottom_legend(fig, handles, [h.get_label() for h in handles])
    fig.suptitle("Paired differences b − a per run (same fold and seed); above 0: b better")
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    intervals = sorted({" ".join(x for x in (fmt_coverage(c), ci_method_label(m), "CI") if x)
                        for m, c in zip(head["ci_method"], head["ci_coverage"])})
    return Figure("paired_differences", "Paired differences of the primary comparisons",
                  "Each point is one (fold, seed) pair of runs, coloured by fold; black: the primary analysis' "
                  f"estimate with its interval ({', '.join(intervals)}; stats.json headline).",
                  save(fig, out_dir, "paired_differences"))


# ------------------------------------------------------------------------------------------ models on a combination
def fig_models(data: ReportData, out_dir: Path, mods: str) -> Figure:
    sel = data.select(modalities=mods)
    models = data.order(sel["model"])
    paper = paper_lookup("ablation") if data.show_paper and mods == "AVT" else {}
    rng = np.random.default_rng(1)
    fig, axes = plt.subplots(1, len(data.metrics), figsize=(max(4.8, 0.9 * len(models) + 1.5) * len(data.metrics),
                                                            3.9), squeeze=False)
    for ax, metric in zip(axes[0], data.metrics):
        values = [100 * sel.loc[sel["model"] == m, f"test_{metric}"].dropna().to_numpy(dtype=float) for m in models]
        bp = ax.boxplot(values, positions=range(len(models)), widths=0.55, showfliers=False, patch_artist=True,
                        medianprops={"color": "dimgray", "lw": 1.5})
        for patch, m in zip(bp["boxes"], models):
            patch.set_facecolor(model_color(data, m))
            patch.set_alpha(0.35)
        for i, (m, v) in enumerate(zip(models, values)):
            ax.scatter(i + rng.uniform(-0.15, 0.15, len(v)), v, s=10, color=model_color(data, m), alpha=0.8,
                       edgecolors="none")
            if (m, mods, metric) in paper:
                ax.scatter([i + 0.34], [100 * paper[(m, mods, metric)][0]], marker="D", s=28, color="black", zorder=5)
        ax.set_xticks(range(len(models)), models, rotation=20 if len(models) > 4 else 0)
        ax.set_ylabel(f"Test {metric_long(metric)} (%)")
    fig.suptitle(f"Models on {mods}: one point per run (box: quartiles)")
    fig.tight_layout()
    name = f"models_{mods}"
    return Figure(name, f"Models on {mods}", "Boxes span the quartiles of the runs (grey line: median), whiskers "
                  "1.5 IQR; dots are runs" + ("; black diamonds: published means" if paper else "") + ".",
                  save(fig, out_dir, name))

