"""The report's header (study, corpus, design, split sizes, class counts, runs) and the statistics'
settings, read from the study, the runs table and stats.json `meta`."""

from __future__ import annotations

import datetime as _dt

import numpy as np
import pandas as pd

import harness
from harness.report.names import correction_label, metric_long, test_label, unit_words
from harness.report.render_text import finite, fmt_duration
from harness.report.view import ReportData, relative_path

CORPUS_KIND = {"iemocap_yoon": "IEMOCAP (Yoon et al. pre-processing)", "synthetic": "synthetic data",
               "mmsa": "MMSA feature pickle"}


def _corpus_text(data: ReportData) -> str:
    corpus, fmt = data.corpus, data.corpus.get("format") or data.data_format or "unknown"
    name = corpus.get("name") or CORPUS_KIND.get(fmt, "")
    labels = corpus.get("labels") or getattr(getattr(data.study, "data", None), "labels", "")
    text = f"{name} (format '{fmt}')" if name else f"format '{fmt}'"
    return text + (f", labels '{labels}'" if labels else "")


def _design_text(data: ReportData) -> str:
    folds = sorted(data.ok["fold"].unique()) if not data.ok.empty else []
    seeds = sorted(data.ok["seed"].unique()) if not data.ok.empty else []
    if data.study is not None:
        folds, seeds = list(data.study.folds), list(data.study.seeds)
    if len(folds) == 1:
        return (f"one fixed split × {len(seeds)} seeds: seeds measure training noise only; fold-unit tests are "
                "not available")
    return f"{len(folds)} folds × {len(seeds)} seeds"


def _sizes(value) -> str:
    """{'train': 1284, 'test': 686} -> 'train 1,284, test 686'; per-fold mappings joined by '; '."""
    if isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
        return "; ".join(f"fold {k}: {_sizes(v)}" for k, v in value.items())
    if isinstance(value, dict):
        return ", ".join(f"{k} {int(v):,}" for k, v in value.items() if finite(v))
    return str(value)


def _split_text(data: ReportData) -> str:
    """Split sizes: stats.json meta.corpus, else n_train / n_test of the runs (per fold, as the runs saw them)."""
    corpus = data.corpus
    for key in ("split_sizes", "splits", "sizes"):
        if corpus.get(key):
            return _sizes(corpus[key])
    ok = data.ok
    cols = [c for c in ("n_train", "n_dev", "n_test") if c in ok and ok[c].notna().any()]
    if not cols:
        return "not recorded"
    per = ok.groupby("fold")[cols].agg(lambda s: pd.to_numeric(s, errors="coerce").max())
    return "; ".join(f"fold {f}: " + ", ".join(f"{c[2:]} {int(v):,}" for c, v in r.items() if finite(v))
                     for f, r in per.iterrows())


def _classes_text(data: ReportData) -> str:
    counts = data.corpus.get("class_counts")
    if isinstance(counts, dict) and counts:
        if all(isinstance(v, dict) for v in counts.values()):  # per split
            return "; ".join(f"{split}: " + ", ".join(f"{c} {int(n):,}" for c, n in v.items())
                             for split, v in counts.items())
        return ", ".join(f"{c} {int(n):,}" for c, n in counts.items())
    names = data.class_names()
    tests = _test_class_counts(data, len(names))
    return (", ".join(names) if names else "not recorded") + (f" (test utterances: {tests})" if tests else "")


def _test_class_counts(data: ReportData, k: int) -> str:
    """Test utterances per class, summed over the folds' test sets (one run's saved test labels per fold)."""
    total = np.zeros(max(k, 1), dtype=int)
    for _, runs in data.ok.groupby("fold"):
        pred = next((p for p in map(data.folder.predictions, runs["run_id"].head(3)) if p and "test_y_true" in p), None)
        if pred is None:
            return ""
        counts = np.bincount(np.asarray(pred["test_y_true"], dtype=int), minlength=len(total))
        total = np.pad(total, (0, max(0, len(counts) - len(total)))) + np.pad(counts, (0, max(0, len(total) - len(counts))))
    names = data.class_names(len(total))
    n_folds = data.ok["fold"].nunique()
    where = "the test split" if n_folds == 1 else f"the {n_folds} folds' test sets"
    return ", ".join(f"{n} {c:,}" for n, c in zip(names, total)) + f" in {where}"


def _runs_text(data: ReportData) -> tuple[str, str, str]:
    runs, plan = data.folder.runs, data.folder.plan
    planned = len(plan) if plan is not None else len(runs)
    n_failed = int((runs["status"] == "failed").sum())
    devices = sorted({str(d) for d in data.ok.get("device", pd.Series(dtype=str)).dropna() if str(d)})
    secs = pd.to_numeric(runs.get("train_seconds", pd.Series(dtype=float)), errors="coerce")
    return (f"{len(data.ok)} ok, {n_failed} failed, {planned} planned", ", ".join(devices) or "not recorded",
            f"{fmt_duration(float(secs.fillna(0).sum()))} of training (sum of train_seconds over {len(runs)} "
            "finished runs)")


def header_facts(data: ReportData) -> list[tuple[str, str]]:
    runs, devices, compute = _runs_text(data)
    facts = [
        ("Study", data.name),
        ("Generated", _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
         + f" by harness {harness.__version__}"),
        ("Results folder", relative_path(data.folder.dir)),
        ("Corpus", _corpus_text(data)),
        ("Design", _design_text(data)),
        ("Split sizes", _split_text(data)),
        ("Classes", _classes_text(data)),
    ]
    if data.corpus.get("dropped"):  # e.g. acc2_nonzero leaves out the utterances labelled exactly 0
        facts.append(("Utterances dropped by the label rule", _sizes(data.corpus["dropped"])))
    fingerprint = data.folder.fingerprint or data.corpus.get("fingerprint")
    facts += [("Data fingerprint", str(fingerprint or "not recorded")), ("Runs", runs), ("Device", devices),
              ("Total compute", compute)]
    results = [data.folder.result(rid) or {} for rid in data.ok["run_id"]]
    for key, label in (("harness_version", "harness version (runs)"), ("torch_version", "torch version (runs)")):
        facts.append((label, ", ".join(sorted({str(r[key]) for r in results if r.get(key)})) or "not recorded"))
    return facts


META_LINES = (("n_folds", "folds"), ("n_seeds", "seeds"), ("n_runs", "runs analysed"), ("n_ok", "ok runs analysed"),
              ("primary_note", "primary analysis note"), ("headline_correction", "correction of the verdicts"),
              ("rope", "ROPE of the Bayesian signed-rank test"),
              ("bayes_min_folds", "folds needed before a Bayesian verdict is given"),
              ("min_wilcoxon_p_folds", "smallest attainable fold-level Wilcoxon p"),
              ("nb_ratio", "n_test/n_train for the corrected resampled t"),
              ("modalities_reference", "reference combination of modalities_self"))


def meta_lines(data: ReportData) -> list[str]:
    """The statistics' settings worth reading (from stats.json meta)."""
    meta = data.stats.meta if data.stats is not None else {}
    lines = []
    prim = data.primary
    if {"metric", "unit", "test"} <= set(prim):
        lines.append(f"primary analysis: {test_label(prim['test'])} on {unit_words(prim['unit'])} of "
                     f"{metric_long(prim['metric'])}, {correction_label(data.correction)} within each family of comparisons")
    for key, label in META_LINES:
        value = meta.get(key)
        if value not in (None, "", [], {}):
            lines.append(f"{label}: {value:.4g}" if isinstance(value, float) else f"{label}: {value}")
    return lines


def unavailable_lines(data: ReportData) -> list[str]:
    """Tests the stats stage could not run at this design (no p-value), with its reason."""
    if data.stats is None or data.stats.rows.empty:
        return []
    rows = data.stats.rows
    missing = rows[rows["pvalue"].isna() & rows["p_rope"].isna() & rows["estimate"].isna()]
    out = []
    for (test, unit), group in missing.groupby(["test", "unit"], sort=False):
        reason = next((n for n in group["note"] if n), "no value")
        out.append(f"Not available: {test_label(test)} ({unit_words(unit)}), {len(group)} row(s): {reason}")
    return out
