"""Statistical analysis of a finished study (``harness stats RESULTS_DIR``).

Reads a results folder (study.yaml, plan.json, runs.csv, runs/<run_id>/predictions.npz),
runs the comparison families with the tests of :mod:`harness.stats` and returns a
:class:`StudyStats` with one tidy row per (family, metric, pair, unit, test).

Families
    ``self_vs_cross``   self:M vs cross:M for every modality combination M both models have
                        (b = cross, so estimates are cross − self).
    ``ablation_AVT``    every pair of the AVT models among self, cross, cross_self, self_nosp,
                        cross_nosp (a before b in that order), plus a Friedman test over all of
                        them and Nemenyi pairs (blocks = (fold, seed) at the run unit, folds at
                        the fold unit).
    ``modalities_self`` within self: every combination against the reference combination
                        (AVT, or the combination with the highest mean test accuracy when self
                        has no AVT runs): a = self:M, b = self:REF, so estimates are REF − M.

Units
    ``run``        runs paired on (fold, seed): wilcoxon, paired_t, corrected_resampled_t
                   (Nadeau–Bengio), tost, bayes_signrank, mixed_model (fold random intercept).
    ``fold``       per-fold means over the paired seeds (n = folds): wilcoxon, paired_t.
    ``utterance``  accuracy only: McNemar per (fold, seed) pair (one row ``mcnemar_per_run``
                   with the count significant after Holm) and McNemar on the whole corpus from
                   each fold's seed ensemble (``mcnemar_pooled``), utterances paired by
                   (fold, test_index).

Sign convention: every estimate is b − a.  See docs/statistics.md.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import stats as S
from .errors import UserError

__all__ = ["StudyStats", "analyze", "write_stats", "format_summary", "load_stats", "COLUMNS",
           "MODEL_ORDER", "COMBINATIONS", "METRICS"]

MODEL_ORDER = ("self", "cross", "cross_self", "self_nosp", "cross_nosp")
COMBINATIONS = ("A", "V", "T", "AV", "AT", "VT", "AVT")
METRICS = ("accuracy", "balanced_accuracy")          # runs.csv columns test_<metric>
RUN_TESTS = ("wilcoxon", "paired_t", "corrected_resampled_t", "tost", "bayes_signrank",
             "mixed_model")
FOLD_TESTS = ("wilcoxon", "paired_t")
DEFAULT_RATIO = 0.25                                  # n_test / n_train when unknown
ROPE_DECISION = 0.95                                  # P(ROPE) needed to call equivalence

COLUMNS = ["family", "metric", "a", "b", "model_a", "modalities_a", "model_b", "modalities_b",
           "unit", "test", "n", "statistic", "pvalue", "pvalue_adj", "estimate", "ci_low",
           "ci_high", "effect_size", "effect_name", "p_left", "p_rope", "p_right", "equivalent",
           "significant", "n_significant", "note"]
_TEXT = ["family", "metric", "a", "b", "model_a", "modalities_a", "model_b", "modalities_b",
         "unit", "test", "effect_name", "note"]
_FLOAT = ["statistic", "pvalue", "pvalue_adj", "estimate", "ci_low", "ci_high", "effect_size",
          "p_left", "p_rope", "p_right"]
_BOOL = ["equivalent", "significant"]
_INT = ["n", "n_significant"]
NAN = float("nan")


@dataclass(frozen=True)
class StudyStats:
    rows: pd.DataFrame                    # tidy table, columns COLUMNS
    notes: tuple = ()                     # human-readable caveats
    excluded: dict = field(default_factory=dict)   # failed / missing / unpaired / predictions
    meta: dict = field(default_factory=dict)       # alpha, correction, margin, n_folds, ...


# ======================================================================================
# loading
# ======================================================================================


def _label(model: str, mods: str) -> str:
    return f"{model}:{mods}"


def _read_yaml(path: Path) -> dict:
    import yaml

    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text())
    except Exception as exc:
        raise UserError(f"{path}: not readable YAML ({exc})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a mapping at the top level, found {type(data).__name__}")
    return data


def _settings(study: dict, path: Path, alpha, correction, margin) -> dict:
    sec = study.get("stats") or {}
    if not isinstance(sec, dict):
        raise UserError(f"{path}: 'stats' must be a mapping, found {type(sec).__name__}")

    def num(key, given, default, lo, hi):
        v = given if given is not None else sec.get(key, default)
        try:
            v = float(v)
        except (TypeError, ValueError):
            raise UserError(f"{path}: stats.{key} must be a number in ({lo}, {hi}), found {v!r}") from None
        if not (lo < v < hi):
            raise UserError(f"{path}: stats.{key} must be in ({lo}, {hi}), found {v}")
        return v

    a = num("alpha", alpha, 0.05, 0.0, 1.0)
    m = num("equivalence_margin", margin, 0.01, 0.0, 1.0)
    c = correction if correction is not None else sec.get("correction", "holm")
    if c not in ("holm", "fdr_bh"):
        raise UserError(f"{path}: stats.correction must be 'holm' or 'fdr_bh', found {c!r}")
    rope = m if (margin is not None or "rope" not in sec) else num("rope", None, m, 0.0, 1.0)
    return {"alpha": a, "correction": c, "margin": m, "rope": rope}


def _read_runs(results_dir: Path) -> pd.DataFrame:
    path = results_dir / "runs.csv"
    if not results_dir.is_dir():
        raise UserError(f"results folder {results_dir} does not exist")
    if not path.is_file():
        raise UserError(f"{path} is missing: is {results_dir} a results folder written by "
                        f"'harness run-study'?")
    try:
        df = pd.read_csv(path, dtype={"modalities": str, "run_id": str, "model": str,
                                      "status": str})
    except pd.errors.EmptyDataError:
        df = pd.DataFrame(columns=["run_id", "model", "modalities", "fold", "seed", "status"])
    except Exception as exc:
        raise UserError(f"{path}: not a readable CSV table ({exc})") from None
    need = ["run_id", "model", "modalities", "fold", "seed", "status"] + [f"test_{m}" for m in METRICS]
    missing = [c for c in need if c not in df.columns]
    if missing and not (df.empty and set(missing) <= {f"test_{m}" for m in METRICS}):
        raise UserError(f"{path}: missing column(s) {missing}; found {list(df.columns)}")
    for c in [f"test_{m}" for m in METRICS]:
        if c not in df.columns:
            df[c] = np.nan
    return df


def _read_plan(results_dir: Path) -> pd.DataFrame | None:
    path = results_dir / "plan.json"
    if not path.is_file():
        return None
    try:
        runs = json.loads(path.read_text()).get("runs", [])
        plan = pd.DataFrame(runs)
    except Exception as exc:
        raise UserError(f"{path}: not a readable plan ({exc}); expected {{\"runs\": [...]}}") from None
    if plan.empty:
        return plan
    if "run_id" not in plan.columns:
        raise UserError(f"{path}: runs lack 'run_id'")
    plan["run_id"] = plan["run_id"].astype(str)
    return plan


class _Predictions:
    """Test predictions of the ok runs, loaded once, aligned per fold on test_index."""

    def __init__(self, results_dir: Path, runs: pd.DataFrame, notes: list, problems: list):
        self.dir = results_dir
        self.notes = notes
        self.problems = problems
        self.by_run: dict[str, dict] = {}
        self.n_train: list[tuple[int, int]] = []
        self.fold_index: dict[Any, np.ndarray] = {}
        self._load(runs)

    def _load(self, runs: pd.DataFrame) -> None:
        raw: dict[str, dict] = {}
        for run_id, fold in zip(runs["run_id"], runs["fold"]):
            path = self.dir / "runs" / run_id / "predictions.npz"
            if not path.is_file():
                self.problems.append({"run_id": run_id, "reason": f"{path} missing"})
                continue
            try:
                with np.load(path, allow_pickle=False) as z:
                    yt = np.asarray(z["test_y_true"]).astype(np.int64, copy=False)
                    yp = np.asarray(z["test_y_pred"]).astype(np.int64, copy=False)
                    pr = np.asarray(z["test_proba"], dtype=np.float32) if "test_proba" in z.files else None
                    ix = (np.asarray(z["test_index"]).astype(np.int64, copy=False)
                          if "test_index" in z.files else np.arange(yt.size))
                    ntr = int(np.asarray(z["n_train"]).reshape(-1)[0]) if "n_train" in z.files else None
            except Exception as exc:
                self.problems.append({"run_id": run_id, "reason": f"{path} unreadable ({exc})"})
                continue
            if not (yt.size == yp.size == ix.size) or (pr is not None and pr.shape[0] != yt.size):
                self.problems.append({"run_id": run_id,
                                      "reason": f"{path}: test arrays differ in length"})
                continue
            order = np.argsort(ix, kind="stable")
            if not np.all(order == np.arange(order.size)):
                yt, yp, ix = yt[order], yp[order], ix[order]
                pr = pr[order] if pr is not None else None
            raw[run_id] = {"fold": fold, "y_true": yt, "y_pred": yp, "proba": pr, "index": ix}
            if ntr:
                self.n_train.append((yt.size, ntr))
        # per fold: the utterances every run of the fold has, and one y_true per utterance
        folds: dict[Any, list[str]] = {}
        for rid, r in raw.items():
            folds.setdefault(r["fold"], []).append(rid)
        for fold, rids in folds.items():
            ref = raw[rids[0]]["index"]
            common = ref
            for rid in rids[1:]:
                ix = raw[rid]["index"]
                if ix.size != common.size or not np.array_equal(ix, common):
                    common = np.intersect1d(common, ix, assume_unique=True)
            if any(raw[r]["index"].size != common.size for r in rids):
                self.notes.append(f"fold {fold}: runs' test_index sets differ; utterance tests use "
                                  f"the {common.size} utterances all runs of the fold share")
            self.fold_index[fold] = common
            truth = None
            for rid in rids:
                r = raw[rid]
                if r["index"].size != common.size:
                    pos = np.searchsorted(r["index"], common)
                    r = {**r, "y_true": r["y_true"][pos], "y_pred": r["y_pred"][pos],
                         "proba": r["proba"][pos] if r["proba"] is not None else None,
                         "index": common}
                if truth is None:
                    truth = r["y_true"]
                elif not np.array_equal(truth, r["y_true"]):
                    self.problems.append({"run_id": rid, "reason": f"test_y_true disagrees with "
                                          f"other runs of fold {fold} at the same test_index"})
                    continue
                self.by_run[rid] = r

    def correct(self, run_id: str) -> np.ndarray | None:
        r = self.by_run.get(run_id)
        return None if r is None else r["y_pred"] == r["y_true"]


# ======================================================================================
# rows
# ======================================================================================


def _row(family, metric, a, b, unit, test, **kw) -> dict:
    ma, xa = a
    mb, xb = b
    row = {"family": family, "metric": metric, "a": _label(ma, xa) if ma else "",
           "b": _label(mb, xb) if mb else "", "model_a": ma, "modalities_a": xa,
           "model_b": mb, "modalities_b": xb, "unit": unit, "test": test, "n": 0,
           "statistic": NAN, "pvalue": NAN, "pvalue_adj": NAN, "estimate": NAN, "ci_low": NAN,
           "ci_high": NAN, "effect_size": NAN, "effect_name": "", "p_left": NAN, "p_rope": NAN,
           "p_right": NAN, "equivalent": pd.NA, "significant": pd.NA, "n_significant": pd.NA,
           "note": ""}
    row.update(kw)
    return row


def _add_note(row: dict, text: str) -> None:
    if text:
        row["note"] = f"{row['note']}; {text}" if row["note"] else text


def _fill(row: dict, res, *notes: str, effect: bool = False) -> None:
    """Copy a test result's statistic, p value, estimate and CI into row (and its effect size and name
    when effect), then append notes in order (empty ones are skipped)."""
    row.update(statistic=res.statistic, pvalue=res.pvalue, estimate=res.estimate,
               ci_low=res.ci_low, ci_high=res.ci_high)
    if effect:
        row.update(effect_size=res.effect_size, effect_name=res.effect_name)
    for text in notes:
        _add_note(row, text)


def _safe(fn, *args, **kw):
    try:
        return fn(*args, **kw), ""
    except ValueError as exc:
        return None, str(exc)


def _floor_note(n: int, alpha: float) -> str:
    if n >= 1 and S.min_wilcoxon_p(n) >= alpha:
        return (f"with n = {n} the smallest attainable two-sided Wilcoxon p is "
                f"{S.min_wilcoxon_p(n):.4g} >= alpha {alpha:g}: significance is impossible")
    return ""


def _run_rows(family, metric, a, b, pairs: pd.DataFrame, cfg: dict, ratio: float,
              bayes_samples: int) -> list[dict]:
    sa = pairs["score_a"].to_numpy(float)
    sb = pairs["score_b"].to_numpy(float)
    n = sa.size
    alpha, margin, rope = cfg["alpha"], cfg["margin"], cfg["rope"]
    rows = []
    base = dict(family=family, metric=metric, a=a, b=b, unit="run")
    few = f"{n} paired run(s): too few for this test" if n < 2 else ""

    r = _row(test="wilcoxon", n=n, **base)
    res, err = _safe(S.wilcoxon, sa, sb) if n >= 2 else (None, few)
    if res:
        _fill(r, res, f"{res.method}; Hodges-Lehmann estimate, {100 * res.ci_level:.1f}% signed-rank CI",
              res.note, _floor_note(n, alpha), effect=True)
    _add_note(r, err)
    rows.append(r)

    r = _row(test="paired_t", n=n, **base)
    res, err = _safe(S.paired_t, sa, sb) if n >= 2 else (None, few)
    if res:
        _fill(r, res, "treats seeds sharing a test fold as independent (anti-conservative)", res.note,
              effect=True)
    _add_note(r, err)
    rows.append(r)

    r = _row(test="corrected_resampled_t", n=n, **base)
    res, err = _safe(S.corrected_resampled_t, [sb - sa], 1.0, ratio) if n >= 2 else (None, few)  # interim
    if res:
        _fill(r, res, f"Nadeau-Bengio variance factor 1/J + {ratio:.3g} (n_test/n_train)", res.note)
    _add_note(r, err)
    rows.append(r)

    r = _row(test="tost", n=n, **base)
    res, err = _safe(S.tost, sa, sb, margin, alpha) if n >= 2 else (None, few)
    if res:
        _fill(r, res, f"equivalence within +-{margin:g}; CI is {100 * (1 - 2 * alpha):g}%; "
                      f"equivalent = adjusted p < alpha", res.note)
    _add_note(r, err)
    rows.append(r)

    r = _row(test="bayes_signrank", n=n, **base)
    res, err = _safe(S.bayes_signrank, sa, sb, rope, bayes_samples, 0) if n >= 1 else (None, "no paired runs")
    if res:
        r.update(estimate=res.estimate, p_left=res.p_left, p_rope=res.p_rope,
                 p_right=res.p_right, equivalent=bool(res.p_rope > ROPE_DECISION))
        _add_note(r, f"rope +-{rope:g}, {bayes_samples} posterior samples; equivalent = "
                     f"P(rope) > {ROPE_DECISION}")
    _add_note(r, err)
    rows.append(r)

    r = _row(test="mixed_model", n=n, **base)
    if n >= 2:
        folds = pairs["fold"].to_numpy()
        res, err = _safe(S.mixed_model, np.concatenate([sa, sb]),
                         np.repeat(np.array(["a", "b"]), n), np.concatenate([folds, folds]),
                         a="a", b="b", alpha=alpha)
    else:
        res, err = None, few
    if res:
        _fill(r, res, f"{res.method}: score ~ model + (1 | fold), {res.n} scores of {n} pairs, "
                      f"{res.n_groups} fold(s)", res.note,
              ("warnings: " + " | ".join(res.warnings)) if res.warnings else "")
    _add_note(r, err)
    rows.append(r)
    return rows


def _fold_rows(family, metric, a, b, pairs: pd.DataFrame, cfg: dict) -> list[dict]:
    means = pairs.groupby("fold", sort=True)[["score_a", "score_b"]].mean()
    n = len(means)
    sa, sb = means["score_a"].to_numpy(), means["score_b"].to_numpy()
    base = dict(family=family, metric=metric, a=a, b=b, unit="fold")
    rows = []
    few = (f"{n} fold(s): fold-level tests need at least 2 folds" if n < 2 else "")
    r = _row(test="wilcoxon", n=n, **base)
    res, err = _safe(S.wilcoxon, sa, sb) if n >= 2 else (None, few)
    if res:
        _fill(r, res, f"{res.method}; per-fold means over paired seeds", res.note, effect=True)
    _add_note(r, _floor_note(n, cfg["alpha"]) if n >= 2 else "")
    _add_note(r, err)
    rows.append(r)
    r = _row(test="paired_t", n=n, **base)
    res, err = _safe(S.paired_t, sa, sb) if n >= 2 else (None, few)
    if res:
        _fill(r, res, "per-fold means over paired seeds", res.note, effect=True)
    _add_note(r, err)
    rows.append(r)
    return rows


def _utterance_rows(family, a, b, pairs: pd.DataFrame, runs_ok: pd.DataFrame,
                    preds: _Predictions | None, cfg: dict) -> list[dict]:
    base = dict(family=family, metric="accuracy", a=a, b=b, unit="utterance")
    per = _row(test="mcnemar_per_run", **base)
    pooled = _row(test="mcnemar_pooled", **base)
    if preds is None:
        for r in (per, pooled):
            _add_note(r, "no predictions loaded")
        return [per, pooled]
    # --- per (fold, seed) pair
    n01s, n10s, ns, missing = [], [], [], 0
    for rid_a, rid_b in zip(pairs["run_id_a"], pairs["run_id_b"]):
        ca, cb = preds.correct(rid_a), preds.correct(rid_b)
        if ca is None or cb is None:
            missing += 1
            continue
        n01s.append(int(np.count_nonzero(ca & ~cb)))
        n10s.append(int(np.count_nonzero(~ca & cb)))
        ns.append(ca.size)
    if ns:
        ps = S.mcnemar_exact_pvalues(n01s, n10s)
        holm = S.correct(ps, "holm", cfg["alpha"])
        n_sig = int(holm.reject.sum())
        acc_diff = (np.array(n10s) - np.array(n01s)) / np.array(ns)
        b_wins = int(np.sum(np.array(n10s) > np.array(n01s)))
        per.update(n=len(ns), pvalue=float(np.min(holm.pvalues_adj)), n_significant=n_sig,
                   estimate=float(acc_diff.mean()),
                   effect_size=float(np.mean(np.array(n10s) > np.array(n01s))),
                   effect_name="share_runs_b_ahead")
        _add_note(per, f"exact McNemar in each of {len(ns)} paired runs: {n_sig} significant "
                       f"after Holm over the runs, b ahead in {b_wins}; pvalue = smallest "
                       f"Holm-adjusted p (a test that any run differs)")
    else:
        _add_note(per, "no paired runs with predictions")
    if missing:
        _add_note(per, f"{missing} paired run(s) without usable predictions skipped")
    # --- pooled seed ensembles per fold
    yt_all, ea_all, eb_all, used_folds = [], [], [], []
    ra = runs_ok.loc[runs_ok["cfg"] == _label(*a)]
    rb = runs_ok.loc[runs_ok["cfg"] == _label(*b)]
    for fold in sorted(set(ra["fold"]) & set(rb["fold"])):
        ens = []
        for sub in (ra[ra["fold"] == fold], rb[rb["fold"] == fold]):
            probs = [preds.by_run[r]["proba"] for r in sub["run_id"] if r in preds.by_run
                     and preds.by_run[r]["proba"] is not None]
            ens.append(np.mean(np.stack(probs), axis=0).argmax(axis=1) if probs else None)
        if ens[0] is None or ens[1] is None:
            continue
        any_run = next(r for r in ra[ra["fold"] == fold]["run_id"] if r in preds.by_run)
        yt_all.append(preds.by_run[any_run]["y_true"])
        ea_all.append(ens[0])
        eb_all.append(ens[1])
        used_folds.append(fold)
    if used_folds:
        res = S.mcnemar(np.concatenate(yt_all), np.concatenate(ea_all), np.concatenate(eb_all),
                        alpha=cfg["alpha"])
        pooled.update(n=res.n, statistic=res.statistic, pvalue=res.pvalue,
                      estimate=res.estimate, ci_low=res.ci_low, ci_high=res.ci_high,
                      effect_size=res.effect_size, effect_name=res.effect_name)
        _add_note(pooled, f"exact McNemar on seed ensembles (mean test_proba over seeds, argmax) "
                          f"of {len(used_folds)} fold(s): n01 = {res.n01} (a right, b wrong), "
                          f"n10 = {res.n10}; estimate = ensemble accuracy b - a, Wald CI")
        _add_note(pooled, res.note)
    else:
        _add_note(pooled, "no fold with predictions (test_proba) of both configurations")
    return [per, pooled]


def _rank_rows(family, metric, cfgs: list[tuple[str, str]], runs_ok: pd.DataFrame,
               cfg: dict, meta_out: dict) -> list[dict]:
    """Friedman + Nemenyi over the configurations: run unit (blocks = (fold, seed)) and fold
    unit (blocks = folds, per-fold means)."""
    labels = [_label(*c) for c in cfgs]
    col = f"test_{metric}"
    sub = runs_ok[runs_ok["cfg"].isin(labels)]
    rows = []
    for unit in ("run", "fold"):
        if unit == "run":
            table = sub.pivot_table(index=["fold", "seed"], columns="cfg", values=col,
                                    aggfunc="mean")
        else:
            table = sub.groupby(["fold", "cfg"])[col].mean().unstack("cfg")
        table = table.reindex(columns=labels)
        n_all = len(table)
        table = table.dropna()
        N = len(table)
        fr = _row(family, metric, ("", ""), ("", ""), unit, "friedman", n=N)
        _add_note(fr, f"{len(cfgs)} models: {', '.join(labels)}; blocks = "
                      f"{'(fold, seed)' if unit == 'run' else 'folds (per-fold means)'}")
        if n_all > N:
            _add_note(fr, f"{n_all - N} incomplete block(s) dropped")
        res, err = _safe(S.friedman, table.to_numpy(), labels) if N >= 2 else (None, f"{N} complete block(s): too few")
        if res:
            nem = S.nemenyi(table.to_numpy(), labels, cfg["alpha"])
            fr.update(statistic=res.statistic, pvalue=res.pvalue)
            ranks = ", ".join(f"{l}={r:.2f}" for l, r in zip(labels, res.avg_ranks))
            _add_note(fr, f"average ranks (1 = best): {ranks}; Nemenyi CD = {nem.cd:.3f} "
                          f"(q = {nem.q_alpha:.3f}, alpha {cfg['alpha']:g}); Iman-Davenport "
                          f"p = {res.iman_davenport_pvalue:.3g}")
            _add_note(fr, res.note)
            meta_out.setdefault(metric, {})[unit] = {
                "labels": labels, "avg_ranks": list(res.avg_ranks), "n_blocks": N,
                "cd": nem.cd, "q_alpha": nem.q_alpha, "alpha": cfg["alpha"],
                "statistic": res.statistic, "pvalue": res.pvalue}
            rows.append(fr)
            for i, j, diff, p, _sig in nem.pairs:
                r = _row(family, metric, cfgs[i], cfgs[j], unit, "nemenyi", n=N, statistic=abs(diff),
                         pvalue=p, pvalue_adj=p, estimate=diff, effect_size=NAN)
                _add_note(r, f"estimate = avg rank a - avg rank b (> 0: b ranked better); "
                             f"CD = {nem.cd:.3f}; p already controls the family-wise error over "
                             f"all pairs (not corrected again)")
                rows.append(r)
        else:
            _add_note(fr, err)
            rows.append(fr)
    return rows


# ======================================================================================
# analyze
# ======================================================================================


def analyze(results_dir, *, alpha: float | None = None, correction: str | None = None,
            margin: float | None = None, bayes_samples: int = 5000) -> StudyStats:
    """Analyse a results folder.  ``alpha``, ``correction`` ('holm' | 'fdr_bh') and ``margin``
    (equivalence margin and ROPE, accuracy fraction) default to study.yaml's ``stats``
    section (0.05, holm, 0.01); a ``stats.rope`` key, if present, sets the ROPE separately.
    Raises UserError for an unusable folder."""
    t0 = time.perf_counter()
    results_dir = Path(results_dir)
    study_path = results_dir / "study.yaml"
    runs = _read_runs(results_dir)
    study = _read_yaml(study_path)
    cfg = _settings(study, study_path, alpha, correction, margin)
    notes: list[str] = []
    if not study_path.is_file():
        notes.append(f"{study_path} missing: stats settings are the defaults")
    plan = _read_plan(results_dir)

    runs = runs.copy()
    runs["run_id"] = runs["run_id"].astype(str)
    runs["modalities"] = runs["modalities"].astype(str)
    runs["model"] = runs["model"].astype(str)
    runs["status"] = runs["status"].fillna("").astype(str)
    runs["cfg"] = runs["model"] + ":" + runs["modalities"]

    # ---- failed / missing / duplicates
    excluded: dict = {"failed": {}, "n_failed": 0, "missing": {}, "n_missing": 0,
                      "unpaired": [], "duplicates": [], "predictions": [], "no_metric": []}
    bad = runs[runs["status"] != "ok"]
    if len(bad):
        cnt = bad.groupby("cfg").size()
        excluded["failed"] = {k: int(v) for k, v in cnt.items()}
        excluded["n_failed"] = int(len(bad))
        excluded["failed_runs"] = bad["run_id"].tolist()
        notes.append(f"{len(bad)} failed run(s) excluded: "
                     + ", ".join(f"{k} x{v}" for k, v in excluded["failed"].items()))
    if plan is not None and len(plan):
        missing = plan[~plan["run_id"].isin(runs["run_id"])]
        if len(missing):
            lab = [_label(str(m), str(x)) for m, x in zip(missing.get("model", ""),
                                                          missing.get("modalities", ""))]
            excluded["missing"] = {k: int(v) for k, v in pd.Series(lab).value_counts().items()}
            excluded["n_missing"] = int(len(missing))
            notes.append(f"{len(missing)} planned run(s) have no result yet")
    elif plan is None:
        notes.append(f"{results_dir / 'plan.json'} missing: planned-but-missing runs not counted")
    ok = runs[runs["status"] == "ok"].copy()
    for m in METRICS:
        ok[f"test_{m}"] = pd.to_numeric(ok[f"test_{m}"], errors="coerce")
    dup = ok.duplicated(subset=["model", "modalities", "fold", "seed"], keep="last")
    if dup.any():
        excluded["duplicates"] = ok.loc[dup, "run_id"].tolist()
        notes.append(f"{int(dup.sum())} duplicate ok run(s) of the same (model, modalities, "
                     f"fold, seed): the last one in runs.csv is used")
        ok = ok[~dup]
    nometric = ok[ok[[f"test_{m}" for m in METRICS]].isna().any(axis=1)]
    if len(nometric):
        excluded["no_metric"] = nometric["run_id"].tolist()
        notes.append(f"{len(nometric)} ok run(s) lack a test metric in runs.csv (excluded from "
                     f"that metric's tests)")

    configs = {(m, x) for m, x in zip(runs["model"], runs["modalities"])}
    ok_configs = {(m, x) for m, x in zip(ok["model"], ok["modalities"])}

    # ---- comparisons
    comparisons: list[tuple[str, tuple, tuple]] = []
    for mods in COMBINATIONS + tuple(sorted({x for _, x in configs} - set(COMBINATIONS))):
        if ("self", mods) in configs and ("cross", mods) in configs:
            comparisons.append(("self_vs_cross", ("self", mods), ("cross", mods)))
    abl = [(m, "AVT") for m in MODEL_ORDER if (m, "AVT") in configs]
    for x, y in combinations(abl, 2):
        comparisons.append(("ablation_AVT", x, y))
    self_mods = [x for x in COMBINATIONS if ("self", x) in configs]
    ref = None
    if len(self_mods) >= 2:
        if ("self", "AVT") in ok_configs:
            ref = "AVT"
            why = "AVT (all modalities)"
        else:
            accs = ok[ok["model"] == "self"].groupby("modalities")["test_accuracy"].mean()
            accs = accs[accs.index.isin(self_mods)]
            ref = str(accs.idxmax()) if len(accs) else None
            why = f"{ref} (highest mean test accuracy; self has no AVT results)"
        if ref:
            for x in self_mods:
                if x != ref:
                    comparisons.append(("modalities_self", ("self", x), ("self", ref)))
            notes.append(f"modalities_self: each self combination against {why}; "
                         f"estimates are {ref} - other")

    # ---- Nadeau-Bengio ratio and predictions
    involved = {_label(*c) for _, x, y in comparisons for c in (x, y)}
    ok_inv = ok[ok["cfg"].isin(involved)]
    preds = None
    if len(ok_inv):
        preds = _Predictions(results_dir, ok_inv[["run_id", "fold"]], notes, excluded["predictions"])
        if excluded["predictions"]:
            notes.append(f"{len(excluded['predictions'])} ok run(s) without usable predictions: "
                         f"left out of the utterance-level tests")
    if preds is not None and preds.n_train:
        arr = np.array(preds.n_train, dtype=float)
        ratio = float(np.mean(arr[:, 0] / arr[:, 1]))
        ratio_src = f"mean n_test/n_train over {len(arr)} runs' predictions.npz"
    else:
        ratio = DEFAULT_RATIO
        ratio_src = "default 0.25 (n_train not in predictions.npz)"

    rows: list[dict] = []
    pair_diffs: dict = {}
    rank_meta: dict = {}
    for fam, a, b in comparisons:
        ra = ok[ok["cfg"] == _label(*a)]
        rb = ok[ok["cfg"] == _label(*b)]
        pairs_all = ra.merge(rb, on=["fold", "seed"], how="outer", suffixes=("_a", "_b"),
                             indicator=True)
        unp = pairs_all[pairs_all["_merge"] != "both"]
        for _, u in unp.iterrows():
            side, twin = (("a", b) if u["_merge"] == "left_only" else ("b", a))
            twin_runs = runs[(runs["cfg"] == _label(*twin)) & (runs["fold"] == u["fold"])
                             & (runs["seed"] == u["seed"])]
            reason = ("twin failed" if len(twin_runs) else "twin missing")
            excluded["unpaired"].append({
                "family": fam, "a": _label(*a), "b": _label(*b), "run_id": u[f"run_id_{side}"],
                "config": _label(*(a if side == "a" else b)), "fold": _py(u["fold"]),
                "seed": _py(u["seed"]), "reason": f"{reason}: {_label(*twin)}"})
        pairs = pairs_all[pairs_all["_merge"] == "both"].sort_values(["fold", "seed"])
        unp_note = f"{len(unp)} unpaired run(s) excluded (twin missing or failed)" if len(unp) else ""
        for metric in METRICS:
            p = pairs[["fold", "seed", "run_id_a", "run_id_b"]].copy()
            p["score_a"] = pairs[f"test_{metric}_a"].to_numpy()
            p["score_b"] = pairs[f"test_{metric}_b"].to_numpy()
            p = p.dropna(subset=["score_a", "score_b"])
            new = _run_rows(fam, metric, a, b, p, cfg, ratio, bayes_samples)
            new += _fold_rows(fam, metric, a, b, p, cfg)
            if metric == "accuracy":
                new += _utterance_rows(fam, a, b, pairs, ok, preds, cfg)
            for r in new:
                _add_note(r, unp_note)
                if len(p) == 0 and r["unit"] != "utterance" and "paired run" not in r["note"]:
                    _add_note(r, "no paired runs")
            rows += new
            d = p["score_b"].to_numpy() - p["score_a"].to_numpy()
            fd = (p.assign(d=d).groupby("fold")["d"].mean().to_numpy() if len(p) else np.array([]))
            pair_diffs.setdefault((fam, metric), []).append((d, fd))
    if len(abl) >= 3:
        for metric in METRICS:
            rows += _rank_rows("ablation_AVT", metric, abl, ok, cfg, rank_meta)
    if excluded["unpaired"]:
        notes.append(f"{len(excluded['unpaired'])} unpaired run(s) (per comparison) excluded from "
                     f"paired tests: see excluded['unpaired']")

    df = pd.DataFrame(rows, columns=COLUMNS) if rows else pd.DataFrame(columns=COLUMNS)
    df = _finish(df, cfg)

    # ---- meta
    folds = sorted({_py(f) for f in ok["fold"]}) if len(ok) else []
    seeds = sorted({_py(s) for s in ok["seed"]}) if len(ok) else []
    mdd: dict = {}
    for (fam, metric), lst in pair_diffs.items():
        out = {}
        for unit, k in (("run", 0), ("fold", 1)):
            ds = [x[k] for x in lst if x[k].size >= 2]
            if not ds:
                continue
            sd = float(np.sqrt(np.mean([np.var(x, ddof=1) for x in ds])))
            n = int(np.median([x.size for x in ds]))
            out[unit] = {"n": n, "sd_diff": sd, "alpha": cfg["alpha"], "power": 0.8,
                         "mdd": S.min_detectable_difference(n, sd, cfg["alpha"], 0.8)}
        if out:
            out["note"] = ("smallest true mean difference (b - a) a paired t test detects with "
                           "80% power, sd pooled over the family's pairs; the run-unit value "
                           "assumes independent runs and is optimistic")
            mdd.setdefault(fam, {})[metric] = out
    meta = {
        "study": study.get("name", results_dir.name) if isinstance(study, dict) else results_dir.name,
        "results_dir": str(results_dir),
        **cfg,
        "n_folds": len(folds), "folds": folds, "n_seeds": len(seeds), "seeds": seeds,
        "n_runs": int(len(runs)), "n_ok": int(len(ok)),
        "nb_ratio": ratio, "nb_ratio_source": ratio_src,
        "bayes_samples": int(bayes_samples), "rope_decision": ROPE_DECISION,
        "min_wilcoxon_p_folds": S.min_wilcoxon_p(len(folds)) if folds else NAN,
        "modalities_reference": ref,
        "families": {
            "self_vs_cross": "self vs cross per modality combination (estimate = cross - self)",
            "ablation_AVT": "all pairs of AVT models in the order " + ", ".join(MODEL_ORDER)
                            + " (estimate = later - earlier); Friedman + Nemenyi over all",
            "modalities_self": f"self: each combination vs {ref} (estimate = {ref} - other)",
        },
        "min_detectable_difference": mdd,
        "friedman": rank_meta,
        "sign_convention": "estimate = b - a",
        "columns": COLUMNS,
        "seconds": round(time.perf_counter() - t0, 3),
    }
    if folds and S.min_wilcoxon_p(len(folds)) >= cfg["alpha"]:
        notes.append(f"with {len(folds)} folds the smallest attainable two-sided Wilcoxon p is "
                     f"{S.min_wilcoxon_p(len(folds)):.4g}: fold-level Wilcoxon tests cannot be "
                     f"significant at alpha {cfg['alpha']:g}")
    if len(folds) == 1:
        notes.append("one fold: fold-level tests are NaN; run-level tests compare seeds only")
    return StudyStats(rows=df, notes=tuple(notes), excluded=excluded, meta=_jsonable(meta))


def _finish(df: pd.DataFrame, cfg: dict) -> pd.DataFrame:
    """Multiple-testing correction within family x metric x unit x test; significance and
    equivalence flags; dtypes."""
    df = df.copy()
    for c in _FLOAT:
        df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
    if len(df):
        mask = df["test"] != "nemenyi"
        for _, idx in df[mask].groupby(["family", "metric", "unit", "test"], sort=False).groups.items():
            res = S.correct(df.loc[idx, "pvalue"].to_numpy(), cfg["correction"], cfg["alpha"])
            df.loc[idx, "pvalue_adj"] = res.pvalues_adj
    sig = pd.array([pd.NA] * len(df), dtype="boolean")
    eq = pd.array(df["equivalent"].tolist(), dtype="boolean") if len(df) else pd.array([], dtype="boolean")
    for i, (test, padj) in enumerate(zip(df["test"], df["pvalue_adj"])):
        if test in ("tost", "bayes_signrank"):
            if test == "tost":
                eq[i] = pd.NA if math.isnan(padj) else bool(padj < cfg["alpha"])
            continue
        sig[i] = pd.NA if math.isnan(padj) else bool(padj < cfg["alpha"])
    df["significant"] = sig
    df["equivalent"] = eq
    df["n"] = pd.to_numeric(df["n"]).astype("int64")
    df["n_significant"] = pd.array(df["n_significant"].tolist(), dtype="Int64")
    for c in _TEXT:
        df[c] = df[c].fillna("").astype(str)
    return df[COLUMNS].reset_index(drop=True)


def _py(v):
    if isinstance(v, np.generic):
        return v.item()
    return v


def _jsonable(o):
    if isinstance(o, dict):
        return {str(k): _jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_jsonable(v) for v in o]
    if isinstance(o, np.generic):
        o = o.item()
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if o is pd.NA:
        return None
    return o


# ======================================================================================
# writing / reading
# ======================================================================================


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_stats(stats: StudyStats, results_dir) -> None:
    """Write stats.csv (the rows) and stats.json (notes, excluded, meta, rows), each
    atomically (temp file + os.replace)."""
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise UserError(f"results folder {results_dir} does not exist")
    csv_text = stats.rows.to_csv(index=False)
    rows_json = json.loads(stats.rows.to_json(orient="records"))
    payload = {"version": 1, "notes": list(stats.notes), "excluded": _jsonable(stats.excluded),
               "meta": _jsonable(stats.meta), "columns": COLUMNS, "rows": rows_json}
    _atomic_write(results_dir / "stats.csv", csv_text)
    _atomic_write(results_dir / "stats.json",
                  json.dumps(payload, indent=1, allow_nan=False, default=_json_default))


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if o is pd.NA:
        return None
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def normalise_rows(df: pd.DataFrame, *, floats=_FLOAT, to_bool=None) -> pd.DataFrame:
    """A copy of a stats table with every COLUMNS column (missing ones added as NA; extra columns kept;
    index reset): the `floats` columns as float (NaN where not a number), the text columns as str ('' where
    missing) and the flag columns mapped through `to_bool` (default: only "true"/"false" count), as object
    columns of True, False or pd.NA. The single column coercion behind load_stats and the report."""
    to_bool = to_bool or _bool
    df = df.copy()
    for c in COLUMNS:
        if c not in df.columns:
            df[c] = pd.NA
    for c in floats:
        df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
    for c in _TEXT:
        df[c] = df[c].map(_text)
    for c in _BOOL:
        df[c] = df[c].map(to_bool).astype(object)
    return df.reset_index(drop=True)


def _text(v) -> str:
    return "" if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)) else str(v)


def _normalise(df: pd.DataFrame) -> pd.DataFrame:
    df = normalise_rows(df)
    for c in _BOOL:
        df[c] = pd.array(list(df[c]), dtype="boolean")
    df["n"] = pd.to_numeric(df["n"], errors="coerce").fillna(0).astype("int64")
    df["n_significant"] = pd.array(pd.to_numeric(df["n_significant"], errors="coerce"), dtype="Int64")
    return df[COLUMNS].reset_index(drop=True)


def _bool(v):
    if v is None or v is pd.NA:
        return pd.NA
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, float) and math.isnan(v):
        return pd.NA
    t = str(v).strip().lower()
    return True if t == "true" else False if t == "false" else pd.NA


def load_stats(results_dir) -> StudyStats:
    """Read stats.csv and stats.json written by :func:`write_stats`."""
    results_dir = Path(results_dir)
    csv_path = results_dir / "stats.csv"
    json_path = results_dir / "stats.json"
    if not csv_path.is_file():
        raise UserError(f"{csv_path} is missing: run 'harness stats {results_dir}' first")
    try:
        df = pd.read_csv(csv_path, keep_default_na=False, na_values=[""],
                         dtype={c: str for c in _TEXT + _BOOL})
    except Exception as exc:
        raise UserError(f"{csv_path}: not a readable CSV table ({exc})") from None
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise UserError(f"{csv_path}: missing column(s) {missing}")
    payload: dict = {}
    if json_path.is_file():
        try:
            payload = json.loads(json_path.read_text())
        except Exception as exc:
            raise UserError(f"{json_path}: not readable JSON ({exc})") from None
    meta = payload.get("meta", {})
    return StudyStats(rows=_normalise(df), notes=tuple(payload.get("notes", ())),
                      excluded=payload.get("excluded", {}), meta=meta)


# ======================================================================================
# summary
# ======================================================================================


def _fp(p) -> str:
    if p is None or not np.isfinite(p):
        return "  n/a"
    return "<.001" if p < 0.001 else f"{p:.3f}"


def _pp(x) -> str:
    return "   n/a" if x is None or not np.isfinite(x) else f"{100 * x:+6.2f}"


def format_summary(stats: StudyStats) -> str:
    """A readable terminal summary: one line per comparison and metric."""
    m = stats.meta
    alpha = m.get("alpha", 0.05)
    lines = [f"Study {m.get('study', '?')}: {m.get('n_ok', '?')} ok runs of {m.get('n_runs', '?')}, "
             f"{m.get('n_folds', '?')} fold(s) x {m.get('n_seeds', '?')} seed(s); alpha {alpha:g}, "
             f"{m.get('correction', '?')} within family x metric x unit x test; "
             f"equivalence margin / ROPE +-{100 * m.get('margin', 0.01):g} pp."]
    lines.append("Differences are b - a in percentage points; * = significant after correction.")
    df = stats.rows
    if df.empty:
        lines.append("No comparisons (need self and cross, several AVT models, or several self "
                     "combinations).")
    for fam in dict.fromkeys(df["family"]):
        for metric in dict.fromkeys(df.loc[df["family"] == fam, "metric"]):
            sub = df[(df["family"] == fam) & (df["metric"] == metric)]
            lines.append("")
            lines.append(f"== {fam} / {metric} ==")
            lines.append(f"  {'b - a':<28} {'n':>3} {'mean':>6} {'HL 95% CI':>17}  "
                         f"{'Wilc':>6} {'t_NB':>6} {'fold W':>6} {'McN':>6}  equivalence")
            pairs = sub[sub["test"].isin(RUN_TESTS)][["a", "b"]].drop_duplicates()
            for a, b in pairs.itertuples(index=False):
                s = sub[(sub["a"] == a) & (sub["b"] == b)]

                def get(unit, test):
                    r = s[(s["unit"] == unit) & (s["test"] == test)]
                    return r.iloc[0] if len(r) else None

                def pcell(r):
                    if r is None:
                        return "     -"
                    star = "*" if r["significant"] is True else " "
                    return f"{_fp(r['pvalue_adj'])}{star}"

                w, t, crt = get("run", "wilcoxon"), get("run", "paired_t"), get("run", "corrected_resampled_t")
                fw, mc = get("fold", "wilcoxon"), get("utterance", "mcnemar_pooled")
                tst, bay = get("run", "tost"), get("run", "bayes_signrank")
                ci = (f"[{_pp(w['ci_low'])},{_pp(w['ci_high'])}]" if w is not None else "")
                eq = []
                if tst is not None and tst["equivalent"] is not pd.NA:
                    eq.append("TOST " + ("yes" if tst["equivalent"] else "no"))
                if bay is not None and np.isfinite(bay["p_rope"]):
                    eq.append(f"P(</=/>) {bay['p_left']:.2f}/{bay['p_rope']:.2f}/{bay['p_right']:.2f}")
                lines.append(f"  {b + ' - ' + a:<28} {int(t['n']) if t is not None else 0:>3} "
                             f"{_pp(t['estimate']) if t is not None else '':>6} {ci:>17}  "
                             f"{pcell(w):>6} {pcell(crt):>6} {pcell(fw):>6} {pcell(mc):>6}  "
                             f"{'; '.join(eq)}")
                pr = get("utterance", "mcnemar_per_run")
                if pr is not None and pr["n_significant"] is not pd.NA:
                    lines[-1] += f"; McNemar per run: {int(pr['n_significant'])}/{int(pr['n'])} sig."
            for unit in ("run", "fold"):
                fr = sub[(sub["test"] == "friedman") & (sub["unit"] == unit)]
                for _, r in fr.iterrows():
                    star = "*" if r["significant"] is True else ""
                    lines.append(f"  Friedman ({unit}, {int(r['n'])} blocks): p {_fp(r['pvalue'])}{star}; "
                                 f"{r['note']}")
                nem = sub[(sub["test"] == "nemenyi") & (sub["unit"] == unit)
                          & (sub["significant"] == True)]  # noqa: E712
                if len(fr):
                    lines.append(f"  Nemenyi ({unit}) pairs that differ: "
                                 + (", ".join(f"{r.b} vs {r.a}" for r in nem.itertuples()) or "none"))
    lines.append("")
    lines.append("Columns: Wilc = Wilcoxon on paired runs, t_NB = Nadeau-Bengio corrected t, "
                 "fold W = Wilcoxon on fold means, McN = McNemar on pooled seed ensembles "
                 "(adjusted p-values).")
    mdd = m.get("min_detectable_difference", {})
    for fam, per in mdd.items():
        for metric, d in per.items():
            parts = [f"{u} n={v['n']}: {100 * v['mdd']:.2f} pp" for u, v in d.items()
                     if isinstance(v, dict) and v.get("mdd") is not None]
            if parts:
                lines.append(f"Min. detectable difference (80% power) {fam}/{metric}: " + ", ".join(parts))
    if stats.notes:
        lines.append("")
        lines.append("Notes:")
        lines += [f"  - {n}" for n in stats.notes]
    ex = stats.excluded or {}
    if ex.get("unpaired"):
        lines.append("Unpaired runs:")
        for u in ex["unpaired"][:20]:
            lines.append(f"  - {u['run_id']} ({u['config']}, fold {u['fold']}, seed {u['seed']}) "
                         f"in {u['family']}: {u['reason']}")
        if len(ex["unpaired"]) > 20:
            lines.append(f"  ... and {len(ex['unpaired']) - 20} more")
    return "\n".join(lines)
