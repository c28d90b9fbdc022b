"""Report figures (matplotlib, Agg backend), each saved as PNG and PDF.

Every figure function takes the results, the statistics (or None) and an output folder, and returns a
`Figure` record, or raises `SkipFigure` with the reason when its data are absent.
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
from scipy import stats as st  # noqa: E402

from harness.report.results import METRIC_SHORT, METRICS, Results, order_models  # noqa: E402
from harness.report.statsview import StatsView  # noqa: E402
from harness.report.tables import paper_lookup  # noqa: E402

MODEL_COLORS = {"self": "#1f77b4", "cross": "#ff7f0e", "cross_self": "#2ca02c", "self_nosp": "#9467bd",
                "cross_nosp": "#8c564b"}
EXTRA_COLORS = ["#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#d62728"]
METRIC_AXIS = {"balanced_accuracy": "Test balanced accuracy, WA (%)", "accuracy": "Test accuracy, UWA (%)"}
METRIC_TITLE = {"balanced_accuracy": "Balanced accuracy (WA)", "accuracy": "Accuracy (UWA)"}

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


def model_color(model: str, models: list[str] | None = None) -> str:
    if model in MODEL_COLORS:
        return MODEL_COLORS[model]
    extras = [m for m in (models or [model]) if m not in MODEL_COLORS]
    return EXTRA_COLORS[extras.index(model) % len(EXTRA_COLORS)] if model in extras else "#333333"


def _save(fig, out_dir: Path, name: str) -> list[str]:
    out_dir.mkdir(parents=True, exist_ok=True)
    files = []
    for ext in ("png", "pdf"):
        path = out_dir / f"{name}.{ext}"
        fig.savefig(path, bbox_inches="tight")
        files.append(path.name)
    plt.close(fig)
    return files


def mean_ci(values, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and t-based confidence interval of the mean over runs."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return math.nan, math.nan, math.nan
    m = float(v.mean())
    if len(v) < 2:
        return m, math.nan, math.nan
    half = float(st.t.ppf(0.5 + level / 2, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v)))
    return m, m - half, m + half


# ------------------------------------------------------------------------------------------ self vs cross
def fig_self_vs_cross(res: Results, stats: StatsView | None, out_dir: Path) -> Figure:
    models = [m for m in ("self", "cross") if m in res.models]
    if "cross" not in models or "self" not in models:
        missing = " or ".join(m for m in ("self", "cross") if m not in models)
        raise SkipFigure(f"self vs cross bars: no successful {missing}-attention runs")
    mods = [m for m in res.modalities if any(len(res.select(x, m)) for x in models)]
    paper = paper_lookup("main") if res.show_paper else {}
    fig, axes = plt.subplots(1, 2, figsize=(9.5, 3.9), sharey=False)
    width = 0.38
    x = np.arange(len(mods))
    for ax, metric in zip(axes, METRICS):
        top = 0.0
        for j, model in enumerate(models):
            offs = (j - 0.5) * width
            means, lows, highs = [], [], []
            for mod in mods:
                m, lo, hi = mean_ci(res.select(model, mod)[f"test_{metric}"])
                means.append(m), lows.append(lo), highs.append(hi)
            means, lows, highs = (100 * np.asarray(a) for a in (means, lows, highs))
            err = np.vstack([means - lows, highs - means])
            err = np.where(np.isfinite(err), err, 0)
            ok = np.isfinite(means)
            ax.bar(x[ok] + offs, means[ok], width, color=model_color(model), alpha=0.85,
                   label=f"{model} (ours, mean with 95% CI)", edgecolor="white")
            ax.errorbar(x[ok] + offs, means[ok], yerr=err[:, ok], fmt="none", ecolor="black", capsize=3, lw=1)
            top = max(top, np.nanmax(np.where(np.isfinite(highs), highs, means)) if ok.any() else 0)
            if paper:
                pv = np.array([100 * paper.get((model, mod, metric), (math.nan,))[0] for mod in mods])
                has = np.isfinite(pv)
                if has.any():
                    ax.scatter(x[has] + offs, pv[has], marker="D", s=28, color="black", zorder=5,
                               label="paper (Rajan et al. 2022)" if j == 0 else None)
                    top = max(top, np.nanmax(pv))
        if metric == "balanced_accuracy":
            k = len(res.data.get("classes") or [])
            if k >= 2:
                ax.axhline(100 / k, color="grey", ls=":", lw=1, label=f"chance ({100 / k:.1f}%)")
        ax.set_xticks(x, mods)
        ax.set_xlabel("Modality combination")
        ax.set_ylabel(METRIC_AXIS[metric])
        ax.set_title(METRIC_TITLE[metric])
        ax.set_ylim(0, top * 1.15 + 1)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), frameon=False, bbox_to_anchor=(0.5, -0.06))
    fig.suptitle("Self- vs cross-attention per modality combination (test set)")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    files = _save(fig, out_dir, "self_vs_cross")
    caption = ("Mean over ok runs with 95% t-confidence intervals of the mean"
               + ("; black diamonds: published values (Rajan et al., ICASSP 2022)" if paper else "")
               + ". WA = balanced accuracy, UWA = accuracy (the paper's naming).")
    return Figure("self_vs_cross", "Self- vs cross-attention", caption, files)


# ------------------------------------------------------------------------------------------ paired differences
def paired_differences(res: Results, mod: str, metric: str) -> pd.DataFrame:
    s = res.select("self", mod).set_index(["fold", "seed"])[f"test_{metric}"]
    c = res.select("cross", mod).set_index(["fold", "seed"])[f"test_{metric}"]
    d = (c - s).dropna()
    return d.rename("diff").reset_index()


def fig_paired_differences(res: Results, stats: StatsView | None, out_dir: Path) -> Figure:
    mods = [m for m in res.modalities if len(paired_differences(res, m, "accuracy"))]
    if not mods:
        raise SkipFigure("paired differences: no modality combination has paired self and cross runs")
    folds = sorted(res.ok["fold"].unique())
    cmap = plt.get_cmap("viridis", max(len(folds), 2))
    fold_color = {f: cmap(i) for i, f in enumerate(folds)}
    rng = np.random.default_rng(0)
    fig, axes = plt.subplots(1, 2, figsize=(9.5, 3.9))
    for ax, metric in zip(axes, METRICS):
        for i, mod in enumerate(mods):
            d = paired_differences(res, mod, metric)
            jitter = rng.uniform(-0.18, 0.18, len(d))
            ax.scatter(i + jitter, 100 * d["diff"], s=14, c=[fold_color[f] for f in d["fold"]], alpha=0.8,
                       edgecolors="none")
            m, lo, hi = mean_ci(d["diff"])
            if np.isfinite(m):
                yerr = None if not np.isfinite(lo) else [[100 * (m - lo)], [100 * (hi - m)]]
                ax.errorbar(i + 0.3, 100 * m, yerr=yerr, fmt="o", color="black", capsize=4, ms=5)
        ax.axhline(0, color="grey", lw=1, ls="--")
        ax.set_xticks(range(len(mods)), mods)
        ax.set_xlim(-0.6, len(mods) - 0.3)
        ax.set_xlabel("Modality combination")
        ax.set_ylabel(f"cross − self, {METRIC_SHORT[metric]} (percentage points)")
        ax.set_title(METRIC_TITLE[metric])
    handles = [plt.Line2D([], [], marker="o", ls="", color=fold_color[f], label=f"fold {f}") for f in folds]
    handles.append(plt.Line2D([], [], marker="o", ls="-", color="black", label="mean with 95% CI"))
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False, bbox_to_anchor=(0.5, -0.06))
    fig.suptitle("Paired differences cross − self per run (same fold and seed); above 0: cross better")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    files = _save(fig, out_dir, "paired_differences")
    return Figure("paired_differences", "Paired differences (cross − self)",
                  "Each point is one (fold, seed) pair, coloured by fold; black: mean with 95% t-CI.", files)


# ------------------------------------------------------------------------------------------ ablation
def fig_ablation(res: Results, stats: StatsView | None, out_dir: Path, mod: str = "AVT") -> Figure:
    sel = res.select(modalities=mod)
    models = order_models(sel["model"])
    if len(models) < 2:
        raise SkipFigure(f"ablation: fewer than two models have {mod} runs")
    paper = paper_lookup("ablation") if res.show_paper else {}
    rng = np.random.default_rng(1)
    fig, axes = plt.subplots(1, 2, figsize=(9.5, 3.9))
    for ax, metric in zip(axes, METRICS):
        data = [100 * sel.loc[sel["model"] == m, f"test_{metric}"].to_numpy(dtype=float) for m in models]
        bp = ax.boxplot(data, positions=range(len(models)), widths=0.55, showfliers=False, patch_artist=True,
                        medianprops={"color": "dimgray", "lw": 1.5})
        for patch, m in zip(bp["boxes"], models):
            patch.set_facecolor(model_color(m, models))
            patch.set_alpha(0.35)
        for i, (m, vals) in enumerate(zip(models, data)):
            ax.scatter(i + rng.uniform(-0.15, 0.15, len(vals)), vals, s=10, color=model_color(m, models),
                       alpha=0.8, edgecolors="none")
            ax.scatter([i], [vals.mean()] if len(vals) else [np.nan], marker="o", s=36, facecolor="white",
                       edgecolor="black", lw=1.2, label="mean" if i == 0 else None, zorder=4)
            if paper and (m, mod, metric) in paper:
                ax.scatter([i + 0.34], [100 * paper[(m, mod, metric)][0]], marker="D", s=28, color="black",
                           zorder=5, label="paper mean" if "paper mean" not in ax.get_legend_handles_labels()[1]
                           else None)
        ax.set_xticks(range(len(models)), models)
        ax.set_xlabel(f"Model ({mod})")
        ax.set_ylabel(METRIC_AXIS[metric])
        ax.set_title(METRIC_TITLE[metric])
    handles, labels = axes[0].get_legend_handles_labels()
    handles.insert(0, plt.Line2D([], [], color="dimgray", lw=1.5))
    labels.insert(0, "median")
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), frameon=False, bbox_to_anchor=(0.5, -0.04))
    fig.suptitle(f"Ablation on {mod}: one point per run (box: quartiles)")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    files = _save(fig, out_dir, "ablation")
    return Figure("ablation", f"Ablation models on {mod}",
                  "Boxes span the quartiles of the runs (grey line: median), whiskers 1.5 IQR; coloured dots are runs, "
                  "white circles means" + ("; black diamonds: published means (Rajan et al., ICASSP 2022)" if paper
                                           else "") + ".", files)


# ------------------------------------------------------------------------------------------ confusion
def fig_confusion(res: Results, stats: StatsView | None, out_dir: Path, mod: str = "AVT") -> Figure:
    models = [m for m in ("self", "cross") if len(res.select(m, mod))]
    if not models:
        raise SkipFigure(f"confusion matrices: no self or cross runs on {mod}")
    mats = {}
    for model in models:
        total, n = None, 0
        for rid in res.select(model, mod)["run_id"]:
            cm = res.confusion(rid)
            if cm is None:
                continue
            if total is None:
                total = np.zeros_like(cm)
            if cm.shape != total.shape:
                continue
            total += cm
            n += 1
        if total is not None:
            mats[model] = (total, n)
    if not mats:
        raise SkipFigure(f"confusion matrices: no run on {mod} has a confusion matrix (result.json) or predictions")
    k = next(iter(mats.values()))[0].shape[0]
    names = res.class_names(k)
    size = max(3.6, 0.45 * k + 1.5)
    fig, axes = plt.subplots(1, len(mats), figsize=(size * len(mats) + 1.2, size + 0.4), squeeze=False,
                             layout="constrained")
    im = None
    for col, (ax, (model, (cm, n))) in enumerate(zip(axes[0], mats.items())):
        rows = cm.sum(axis=1, keepdims=True)
        norm = np.divide(cm, rows, out=np.zeros_like(cm, dtype=float), where=rows > 0)
        im = ax.imshow(100 * norm, cmap="Blues", vmin=0, vmax=100)
        for i in range(k):
            for j in range(k):
                v = 100 * norm[i, j]
                ax.text(j, i, f"{v:.0f}", ha="center", va="center", fontsize=9 if k > 5 else 10,
                        color="white" if v > 55 else "black")
        ax.set_xticks(range(k), names, rotation=45, ha="right")
        ax.set_xlabel("Predicted class")
        if col == 0:
            ax.set_yticks(range(k), names)
            ax.set_ylabel("True class")
        else:
            ax.set_yticks(range(k), [""] * k)
        ax.set_title(f"{model}-attention, {mod} (sum over {n} runs)" if model in ("self", "cross")
                     else f"{model}, {mod} (sum over {n} runs)")
        ax.spines[:].set_visible(True)
    cbar = fig.colorbar(im, ax=list(axes[0]), shrink=0.85)
    cbar.set_label("% of the true class (row-normalised)")
    fig.suptitle(f"Test confusion matrices on {mod}")
    files = _save(fig, out_dir, "confusion_AVT" if mod == "AVT" else f"confusion_{mod}")
    return Figure(files[0].rsplit(".", 1)[0], f"Confusion matrices ({mod})",
                  "Counts summed over runs, then each row divided by its total (recall per class, in %).", files)


# ------------------------------------------------------------------------------------------ learning curves
def fig_learning_curves(res: Results, stats: StatsView | None, out_dir: Path, mod: str = "AVT") -> Figure:
    sel = res.select(modalities=mod)
    models = order_models(sel["model"])
    curves = {}
    for model in models:
        hists = []
        for rid in sel.loc[sel["model"] == model, "run_id"]:
            h = res.history(rid)
            if h is not None and len(h):
                hists.append(h.set_index("epoch")["dev_accuracy"].astype(float))
        if hists:
            curves[model] = pd.concat(hists, axis=1)
    if not curves:
        raise SkipFigure(f"learning curves: no history.csv for runs on {mod}")
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for model, frame in curves.items():
        n_runs = frame.shape[1]
        alive = frame.notna().sum(axis=1)
        keep = alive >= max(2, math.ceil(0.2 * n_runs)) if n_runs > 1 else alive >= 1
        mean = 100 * frame.mean(axis=1)[keep]
        half = (100 * 1.96 * frame.std(axis=1, ddof=1) / np.sqrt(alive.clip(lower=1)))[keep]
        color = model_color(model, models)
        ax.plot(mean.index, mean.values, color=color, lw=1.8, label=f"{model} ({n_runs} runs)")
        if n_runs > 1:
            ax.fill_between(mean.index, (mean - half).values, (mean + half).values, color=color, alpha=0.15,
                            lw=0)
    ax.set_xlabel("Epoch")
    ax.set_ylabel("Dev accuracy (%)")
    ax.set_title(f"Learning curves on {mod}: dev accuracy, mean over runs (band: 95% CI of the mean)")
    ax.legend(frameon=False, loc="best")
    fig.tight_layout()
    files = _save(fig, out_dir, "learning_curves")
    return Figure("learning_curves", f"Learning curves ({mod})",
                  "Mean dev accuracy per epoch over the runs still training at that epoch (early stopping "
                  "ends runs at different epochs); a curve stops when fewer than 20% of its runs remain.", files)


# ------------------------------------------------------------------------------------------ CD diagram
def _nemenyi_q(k: int, alpha: float) -> float:
    return float(st.studentized_range.ppf(1 - alpha, k, np.inf) / math.sqrt(2))


def average_ranks(res: Results, models: list[str], metric: str, unit: str = "run",
                  mod: str = "AVT") -> tuple[pd.Series, int]:
    """Average ranks (1 = best) of models over complete blocks: (fold, seed) runs or fold means."""
    sel = res.select(modalities=mod)
    sel = sel[sel["model"].isin(models)]
    if unit == "fold":
        table = sel.groupby(["fold", "model"])[f"test_{metric}"].mean().unstack("model")
    else:
        table = sel.pivot_table(index=["fold", "seed"], columns="model", values=f"test_{metric}", aggfunc="mean")
    table = table.reindex(columns=models).dropna()
    ranks = table.rank(axis=1, ascending=False, method="average")
    return ranks.mean(axis=0), len(table)


def fig_cd(res: Results, stats: StatsView | None, out_dir: Path, mod: str = "AVT",
           metric: str = "balanced_accuracy") -> Figure:
    models = order_models(res.select(modalities=mod)["model"])
    if len(models) < 3:
        raise SkipFigure(f"critical-difference diagram: needs at least three models on {mod}, found {len(models)}")
    alpha = stats.alpha(res.alpha) if stats is not None else res.alpha
    nem = pd.DataFrame()
    unit = "run"
    if stats is not None and not stats.rows.empty:
        nem = stats.select(family="ablation_AVT", metric=metric, test="nemenyi")
        if len(nem) and not (nem["unit"] == "run").any():
            unit = nem["unit"].iloc[0]
        nem = nem[nem["unit"] == unit]
    k = len(models)
    fr_meta = {}
    if stats is not None:
        fr_meta = (((stats.meta.get("friedman") or {}).get(metric) or {}).get(unit) or {})
    labels = [str(x).split(":")[0] for x in fr_meta.get("labels", [])]
    if fr_meta and sorted(labels) == sorted(models) and len(fr_meta.get("avg_ranks", [])) == k:
        # average ranks and CD exactly as the statistics computed them
        ranks = pd.Series([float(r) for r in fr_meta["avg_ranks"]], index=labels)
        n_blocks, cd = int(fr_meta["n_blocks"]), float(fr_meta["cd"])
        rank_source = "stats.json"
    else:
        ranks, n_blocks = average_ranks(res, models, metric, unit, mod)
        cd = _nemenyi_q(k, alpha) * math.sqrt(k * (k + 1) / (6.0 * n_blocks)) if n_blocks else math.nan
        rank_source = "runs.csv"
    if n_blocks < 2:
        raise SkipFigure(f"critical-difference diagram: fewer than two complete {unit} blocks for the {mod} models")
    order = ranks.sort_values()
    names = list(order.index)

    # groups of models not significantly different: from the Nemenyi rows when given, else |R_i - R_j| <= CD
    def differ(a: str, b: str) -> bool:
        if len(nem):
            hit = nem[((nem["a"].str.split(":").str[0] == a) & (nem["b"].str.split(":").str[0] == b))
                      | ((nem["a"].str.split(":").str[0] == b) & (nem["b"].str.split(":").str[0] == a))]
            if len(hit):
                row = hit.iloc[0]
                if row["significant"] is True or row["significant"] is False:
                    return bool(row["significant"])
                p = row["pvalue_adj"] if np.isfinite(row["pvalue_adj"]) else row["pvalue"]
                return bool(np.isfinite(p) and p < alpha)
        return abs(ranks[a] - ranks[b]) > cd

    cliques = []
    for i in range(k):
        j = i
        while j + 1 < k and all(not differ(names[a], names[j + 1]) for a in range(i, j + 1)):
            j += 1
        if j > i and not any(c[0] <= i and c[1] >= j for c in cliques):
            cliques.append((i, j))

    lo, hi = 1, k
    half = (k + 1) // 2
    height = 1.6 + 0.32 * max(half, k - half) + 0.18 * len(cliques)
    fig, ax = plt.subplots(figsize=(8, height))
    ax.set_xlim(lo - 1.3, hi + 1.3)
    rows = max(half, k - half)
    ax.set_ylim(-(rows + 1) * 0.45 - 0.25 * len(cliques), 1.3)
    ax.axis("off")
    ax.hlines(0, lo, hi, color="black", lw=1.2)
    for t in np.arange(lo, hi + 0.001, 0.5):
        major = float(t).is_integer()
        ax.vlines(t, 0, 0.12 if major else 0.06, color="black", lw=1)
        if major:
            ax.text(t, 0.18, f"{int(t)}", ha="center", va="bottom", fontsize=10)
    ax.text((lo + hi) / 2, 0.55, "average rank (1 = best)", ha="center", va="bottom", fontsize=9, color="dimgray")
    # CD bar
    ax.hlines(0.95, lo, lo + cd, color="firebrick", lw=2)
    ax.vlines([lo, lo + cd], 0.88, 1.02, color="firebrick", lw=1.5)
    ax.text(lo + cd / 2, 1.05, f"CD = {cd:.2f}", ha="center", va="bottom", color="firebrick", fontsize=9)
    # clique bars just under the axis
    for c, (i, j) in enumerate(cliques):
        y = -0.15 - 0.2 * c
        ax.hlines(y, ranks[names[i]] - 0.03, ranks[names[j]] + 0.03, color="black", lw=4)
    base = -0.15 - 0.2 * len(cliques)
    for idx, name in enumerate(names):
        r = ranks[name]
        color = model_color(name, models)
        if idx < half:
            y = base - 0.45 * (idx + 1)
            ax.plot([r, r, lo - 0.1], [0, y, y], color=color, lw=1.2)
            ax.text(lo - 0.15, y, f"{name} ({r:.2f})", ha="right", va="center", fontsize=10, color=color)
        else:
            y = base - 0.45 * (k - idx)
            ax.plot([r, r, hi + 0.1], [0, y, y], color=color, lw=1.2)
            ax.text(hi + 0.15, y, f"({r:.2f}) {name}", ha="left", va="center", fontsize=10, color=color)
    unit_text = "(fold, seed) runs" if unit == "run" else "folds (means over seeds)"
    ax.set_title(f"Critical-difference diagram, {METRIC_TITLE[metric]} on {mod}: "
                 f"{n_blocks} {unit_text}, Nemenyi α = {alpha:g}", fontsize=10)
    fig.tight_layout()
    files = _save(fig, out_dir, "critical_difference")
    source = "Nemenyi p-values of the statistics" if len(nem) else "rank difference at most CD"
    return Figure("critical_difference", f"Critical-difference diagram ({mod})",
                  f"Average ranks (from {rank_source}) over {n_blocks} complete blocks ({unit_text}); models "
                  f"joined by a thick bar are not significantly different ({source}); CD = Nemenyi critical "
                  f"difference at α = {alpha:g}.", files)


FIGURES = [fig_self_vs_cross, fig_paired_differences, fig_ablation, fig_confusion, fig_learning_curves, fig_cd]


def make_figures(res: Results, stats: StatsView | None, out_dir: Path) -> tuple[list[Figure], list[str]]:
    """All figures; returns those written and the reasons for those skipped."""
    made, skipped = [], []
    for fn in FIGURES:
        try:
            made.append(fn(res, stats, out_dir))
        except SkipFigure as exc:
            skipped.append(str(exc))
    return made, skipped
