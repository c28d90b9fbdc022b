"""`analyze`: a results folder in, a `StudyStats` out, step by step."""

from __future__ import annotations

import time
from dataclasses import asdict

import numpy as np

from ..stats import min_detectable_difference, min_wilcoxon_p
from ..stats.registry import TESTS
from .families import form_pairs
from .headline import effective_primary, headline
from .pairing import PairUtterances, Predictions, diffs_summary, pair_data, pair_runs
from .result import StudyStats, jsonable
from .rows import COLUMNS, add_note, finish, pair_rows
from .source import Source, as_python, read, split_sizes
from .summaries import friedman_meta, rank_rows, rank_sets, summaries


def analyze(results_dir, *, alpha: float | None = None, correction: str | None = None,
            margin: float | None = None, bayes_samples: int = 5000) -> StudyStats:
    """Analyse a results folder.  `alpha`, `correction` ('holm' | 'fdr_bh') and `margin`
    (equivalence margin and ROPE) default to the study's `stats` section.  UserError for an
    unusable folder."""
    t0 = time.perf_counter()
    src = read(results_dir, alpha=alpha, correction=correction, margin=margin,
               bayes_samples=bayes_samples)
    pairs, families, notes = form_pairs(src.study, src.runs, src.ok)
    src.notes.extend(notes)
    primary, primary_note = effective_primary(src.primary, src.n_folds)
    rows, diffs = _pair_rows(src, pairs, primary)
    ranks = []
    for fam, mods, cfgs in rank_sets(src.ok, paper=not (src.study and src.study.comparisons)):
        for metric in src.metrics:
            r, k = rank_rows(fam, mods, cfgs, src.ok, metric, src.settings, src.n_folds)
            rows += r
            ranks += k
    df = finish(rows, src.settings)
    head = headline(df, primary, src.settings)
    summ = summaries(src.ok, src.metrics)
    meta = _meta(src, primary, primary_note, families, diffs, ranks, t0)
    return StudyStats(rows=df, notes=tuple(_notes(src, primary_note)), excluded=jsonable(src.excluded),
                      meta=jsonable(meta), headline=tuple(head), summaries=tuple(summ),
                      ranks=tuple(ranks))   # NaN kept in memory; null only in stats.json


def _pair_rows(src: Source, pairs, primary) -> tuple[list[dict], dict]:
    """Rows of every registered test for every pair and metric; differences for the power meta."""
    involved = {lab for p in pairs for lab in p.labels}
    preds = Predictions(src.folder, src.ok[src.ok["cfg"].isin(involved)], src.notes,
                        src.excluded["predictions"])
    sizes = split_sizes(src.ok)
    rows, diffs, done = [], {}, {}
    for pair in pairs:
        paired, unpaired = pair_runs(pair, src.ok, src.runs)
        src.excluded["unpaired"].extend(unpaired)
        utt = PairUtterances(preds, paired, src.ok, pair)
        for metric in src.metrics:
            data = pair_data(paired, metric, src.settings, src.n_folds, sizes, utt)
            # a pair two families share (self vs cross on AVT) is computed once
            key = (pair.a, pair.b, metric)
            if key not in done:
                done[key] = pair_rows(pair, data, primary)
            for r in done[key]:
                r = {**r, "family": pair.family, "comparison": pair.comparison}
                if unpaired:
                    add_note(r, f"{len(unpaired)} unpaired run(s) excluded (twin missing or failed)")
                if not len(data.runs) and r["unit"] != "utterance":
                    add_note(r, "no paired runs")
                rows.append(r)
            diffs.setdefault((pair.family, metric), []).append(diffs_summary(data))
    return rows, diffs


def _notes(src: Source, primary_note: str) -> list[str]:
    notes = list(src.notes)
    if primary_note:
        notes.insert(0, primary_note)
    if src.excluded["predictions"]:
        notes.append(f"{len(src.excluded['predictions'])} ok run(s) without usable predictions: "
                     f"left out of the utterance-level tests")
    if src.excluded["unpaired"]:
        notes.append(f"{len(src.excluded['unpaired'])} unpaired run(s) (per comparison) excluded "
                     f"from paired tests: see excluded['unpaired']")
    k = src.n_folds
    if k >= 2 and min_wilcoxon_p(k) >= src.settings.alpha:
        notes.append(f"with {k} folds the smallest attainable two-sided Wilcoxon p is "
                     f"{min_wilcoxon_p(k):.4g}: fold-level Wilcoxon tests cannot be significant "
                     f"at alpha {src.settings.alpha:g}")
    if k == 1:
        notes.append("one fixed split (1 fold): fold-unit tests are not available; run-unit "
                     "tests compare seeds, which measure training noise on this split only")
    return notes


def _mdd(diffs: dict, alpha: float) -> dict:
    """Minimum detectable difference (80% power, paired t) per family and metric, run and fold."""
    out: dict = {}
    for (fam, metric), lst in diffs.items():
        per = {}
        for unit, k in (("run", 0), ("fold", 1)):
            ds = [x[k] for x in lst if x[k].size >= 2]
            if not ds:
                continue
            sd = float(np.sqrt(np.mean([np.var(x, ddof=1) for x in ds])))
            n = int(np.median([x.size for x in ds]))
            per[unit] = {"n": n, "sd_diff": sd, "alpha": alpha, "power": 0.8,
                         "mdd": min_detectable_difference(n, sd, alpha, 0.8)}
        if per:
            per["note"] = ("smallest true mean difference (b - a) a paired t test detects with "
                           "80% power, sd pooled over the family's pairs; the run-unit value "
                           "assumes independent runs and is optimistic")
            out.setdefault(fam, {})[metric] = per
    return out


def _meta(src: Source, primary, primary_note: str, families: dict, diffs: dict, ranks: list,
          t0: float) -> dict:
    s, ok, study = src.settings, src.ok, src.study
    folds = sorted({as_python(f) for f in ok["fold"]})
    seeds = sorted({as_python(x) for x in ok["seed"]})
    n_train, n_test = split_sizes(ok)
    corpus = {k: v for k, v in asdict(study.data).items() if k != "path"} if study else {}
    fams = dict(families)
    ref = fams.pop("reference", None)
    return {
        "study": study.name if study else src.folder.dir.name, "results_dir": str(src.folder.dir),
        "alpha": s.alpha, "correction": s.correction, "margin": s.margin, "rope": s.rope,
        "primary": primary.as_dict(), "primary_declared": src.primary.as_dict(),
        "primary_note": primary_note,
        "headline_correction": f"{s.correction} over the primary rows of each family (every "
                               f"comparison x combination of the family)",
        "metrics": list(src.metrics),
        "n_folds": len(folds), "folds": folds, "n_seeds": len(seeds), "seeds": seeds,
        "n_runs": int(len(src.runs)), "n_ok": int(len(ok)),
        "corpus": {**corpus, **src.folder.corpus, "n_train": n_train, "n_test": n_test},
        "bayes_samples": s.bayes_samples, "bayes_min_folds": s.bayes_min_folds,
        "min_wilcoxon_p_folds": min_wilcoxon_p(len(folds)) if folds else float("nan"),
        "modalities_reference": ref, "families": fams,
        "min_detectable_difference": _mdd(diffs, s.alpha), "friedman": friedman_meta(ranks),
        "tests": {n: {"label": e.label, "short": e.short, "units": list(e.units), "role": e.role,
                      "verdict": e.verdict, "description": e.description}
                  for n, e in TESTS.items()},
        "sign_convention": "estimate = b - a", "columns": COLUMNS,
        "seconds": round(time.perf_counter() - t0, 3),
    }
