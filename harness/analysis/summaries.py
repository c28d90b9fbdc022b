"""Per-configuration summaries (mean, sd, CI) and rank analyses (Friedman, Nemenyi) over any set
of three or more models on one combination: what the report shows, computed once here."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..models.registry import order_models
from ..stats import friedman, mean_ci, nemenyi
from ..stats.registry import Settings
from .families import combo_order
from .rows import add_note, blank
from .source import label

NAN = float("nan")


def summaries(ok: pd.DataFrame, metrics, level: float = 0.95) -> list[dict]:
    """Mean and sd over runs per model x modalities x metric, with a CI over fold means (the
    generalisation unit) or, with one fold, over the seeds (training noise only)."""
    out = []
    models = order_models(list(ok["model"].unique()))
    for model in models:
        sub_m = ok[ok["model"] == model]
        for mods in combo_order(set(sub_m["modalities"])):
            sub = sub_m[sub_m["modalities"] == mods]
            for metric in metrics:
                v = sub[["fold", f"test_{metric}"]].dropna()
                out.append(_summary(model, mods, metric, v, level))
    return out


def _summary(model, mods, metric, v: pd.DataFrame, level: float) -> dict:
    x = v.iloc[:, 1].to_numpy(float)
    folds = v.groupby("fold").mean().iloc[:, 0].to_numpy(float)
    if folds.size >= 2:
        _, lo, hi = mean_ci(folds, level)
        how = f"t over {folds.size} fold means"
    elif x.size >= 2:
        _, lo, hi = mean_ci(x, level)
        how = f"t over {x.size} seeds of one split (training noise only)"
    else:
        lo = hi = NAN
        how = ""
    return {"model": model, "modalities": mods, "metric": metric, "n_runs": int(x.size),
            "n_folds": int(folds.size), "mean": float(x.mean()) if x.size else NAN,
            "sd": float(np.std(x, ddof=1)) if x.size >= 2 else NAN, "ci_low": float(lo),
            "ci_high": float(hi), "ci_method": how, "ci_coverage": level if how else NAN}


def rank_sets(ok: pd.DataFrame, paper: bool) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """(family, combination, configurations) for every combination with at least 3 models."""
    out = []
    for mods in combo_order(set(ok["modalities"])):
        models = order_models(list(ok.loc[ok["modalities"] == mods, "model"].unique()))
        if len(models) >= 3:
            fam = "ablation_AVT" if paper and mods == "AVT" else f"ranks_{mods}"
            out.append((fam, mods, [(m, mods) for m in models]))
    return out


def _blocks(ok: pd.DataFrame, labels: list[str], metric: str, unit: str) -> tuple[pd.DataFrame, int]:
    sub = ok[ok["cfg"].isin(labels)]
    col = f"test_{metric}"
    if unit == "run":
        t = sub.pivot_table(index=["fold", "seed"], columns="cfg", values=col, aggfunc="mean")
    else:
        t = sub.groupby(["fold", "cfg"])[col].mean().unstack("cfg")
    t = t.reindex(columns=labels)
    return t.dropna(), len(t)


def rank_rows(family: str, mods: str, cfgs: list, ok: pd.DataFrame, metric: str,
              s: Settings, n_folds: int) -> tuple[list[dict], list[dict]]:
    """Friedman + Nemenyi rows and the `ranks` entries at the run and fold units."""
    labels = [label(*c) for c in cfgs]
    rows, ranks = [], []
    none = ("", "")
    for unit in ("run", "fold"):
        fr = blank(family, f"ranks_{mods}", metric, none, none, unit, "friedman", "secondary")
        add_note(fr, f"{len(cfgs)} models: {', '.join(labels)}; blocks = "
                     f"{'(fold, seed)' if unit == 'run' else 'folds (per-fold means)'}")
        rows.append(fr)
        if unit == "fold" and n_folds == 1:
            add_note(fr, "not available: one fixed split")
            continue
        table, n_all = _blocks(ok, labels, metric, unit)
        N = fr["n"] = len(table)
        if n_all > N:
            add_note(fr, f"{n_all - N} incomplete block(s) dropped")
        if N < 2:
            add_note(fr, f"{N} complete block(s): too few")
            continue
        res = friedman(table.to_numpy(), labels)
        nem = nemenyi(table.to_numpy(), labels, s.alpha)
        fr.update(statistic=res.statistic, pvalue=res.pvalue)
        add_note(fr, "average ranks (1 = best): "
                     + ", ".join(f"{lab}={r:.2f}" for lab, r in zip(labels, res.avg_ranks))
                     + f"; Nemenyi CD = {nem.cd:.3f} (q = {nem.q_alpha:.3f}, alpha {s.alpha:g}); "
                       f"Iman-Davenport p = {res.iman_davenport_pvalue:.3g}")
        add_note(fr, res.note)
        ranks.append({"family": family, "modalities": mods, "metric": metric, "unit": unit,
                      "models": [m for m, _ in cfgs], "average_ranks": list(res.avg_ranks),
                      "n_blocks": N, "q_alpha": nem.q_alpha, "critical_difference": nem.cd,
                      "friedman_statistic": res.statistic, "friedman_pvalue": res.pvalue})
        for i, j, diff, p, _ in nem.pairs:
            r = blank(family, f"ranks_{mods}", metric, cfgs[i], cfgs[j], unit, "nemenyi",
                      "secondary", n=N, statistic=abs(diff), pvalue=p, estimate=diff)
            add_note(r, f"estimate = avg rank a - avg rank b (> 0: b ranked better); CD = "
                        f"{nem.cd:.3f}; p already controls the family-wise error over all pairs")
            rows.append(r)
    return rows, ranks


def friedman_meta(ranks: list[dict]) -> dict:
    """The old meta['friedman'] layout (metric -> unit -> labels, avg ranks, CD) of ablation_AVT."""
    out: dict = {}
    for r in ranks:
        if r["family"] == "ablation_AVT":
            out.setdefault(r["metric"], {})[r["unit"]] = {
                "labels": [f"{m}:{r['modalities']}" for m in r["models"]],
                "avg_ranks": r["average_ranks"], "n_blocks": r["n_blocks"],
                "cd": r["critical_difference"], "q_alpha": r["q_alpha"],
                "statistic": r["friedman_statistic"], "pvalue": r["friedman_pvalue"]}
    return out

