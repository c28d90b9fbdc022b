"""Tests for harness.analysis on small fake results folders built in tmp_path."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from harness import analysis as A
from harness.errors import UserError

N_CLASSES = 4


def _balanced_accuracy(y, p):
    return float(np.mean([np.mean(p[y == c] == c) for c in np.unique(y)]))


def make_study(root: Path, skills: dict, folds=(1, 2, 3, 4, 5), seeds=(0, 1, 2), n_utt=300,
               failed=(), missing=(), copy_of: dict | None = None, n_train=1200,
               stats_cfg: dict | None = None, seed: int = 0) -> Path:
    """Write a fake results folder.

    skills: {"model:MODS": probability that a prediction is correct}.
    failed: {(label, fold, seed)} written with status "failed" (no predictions).
    missing: {(label, fold, seed)} planned but absent from runs.csv.
    copy_of: {"model:MODS": "other:MODS"} -> identical predictions to the other configuration.
    """
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    (root / "runs").mkdir(exist_ok=True)
    study = {"name": root.name, "data": {"format": "synthetic", "path": "none",
                                         "classes": ["ang", "hap", "neu", "sad"]},
             "stats": stats_cfg or {"alpha": 0.05, "correction": "holm",
                                    "equivalence_margin": 0.01}}
    (root / "study.yaml").write_text(yaml.safe_dump(study))
    truth = {f: rng.integers(0, N_CLASSES, n_utt) for f in folds}
    index = {f: np.arange(n_utt, dtype=np.int64) + 10000 * f for f in folds}
    plan, rows, made = [], [], {}
    copy_of = copy_of or {}
    order = sorted(skills, key=lambda k: k in copy_of)   # originals first
    for label in order:
        model, mods = label.split(":")
        for f in folds:
            for s in seeds:
                run_id = f"{model}-{mods}-f{f}-s{s}"
                plan.append({"run_id": run_id, "model": model, "modalities": mods, "fold": f,
                             "seed": s})
                key = (label, f, s)
                if key in missing:
                    continue
                if key in failed:
                    rows.append({"run_id": run_id, "model": model, "modalities": mods, "fold": f,
                                 "seed": s, "status": "failed", "error": "boom"})
                    continue
                y = truth[f]
                if label in copy_of:
                    pred, proba = made[(copy_of[label], f, s)]
                else:
                    right = rng.random(n_utt) < skills[label]
                    pred = np.where(right, y, (y + rng.integers(1, N_CLASSES, n_utt)) % N_CLASSES)
                    proba = rng.random((n_utt, N_CLASSES)).astype(np.float32)
                    proba[np.arange(n_utt), pred] += 1.0
                    proba /= proba.sum(axis=1, keepdims=True)
                made[key] = (pred, proba)
                perm = rng.permutation(n_utt)          # stored unsorted on purpose
                d = root / "runs" / run_id
                d.mkdir(exist_ok=True)
                np.savez(d / "predictions.npz", test_y_true=y[perm], test_y_pred=pred[perm],
                         test_proba=proba[perm], test_index=index[f][perm],
                         dev_y_true=y[:10], dev_y_pred=pred[:10], dev_proba=proba[:10],
                         dev_index=np.arange(10), n_train=np.int64(n_train))
                acc = float(np.mean(pred == y))
                rows.append({"run_id": run_id, "model": model, "modalities": mods, "fold": f,
                             "seed": s, "status": "ok", "epochs": 10, "best_epoch": 5,
                             "train_seconds": 1.0, "n_params": 1000,
                             "dev_accuracy": acc, "dev_balanced_accuracy": acc,
                             "dev_macro_f1": acc, "dev_weighted_f1": acc,
                             "test_accuracy": acc, "test_balanced_accuracy": _balanced_accuracy(y, pred),
                             "test_macro_f1": acc, "test_weighted_f1": acc, "error": ""})
    (root / "plan.json").write_text(json.dumps({"runs": plan}))
    pd.DataFrame(rows).to_csv(root / "runs.csv", index=False)
    return root


def _sel(st, **kw):
    df = st.rows
    for k, v in kw.items():
        df = df[df[k] == v]
    return df


def _one(st, **kw):
    df = _sel(st, **kw)
    assert len(df) == 1, (kw, len(df))
    return df.iloc[0]


@pytest.fixture
def no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def test_clearly_better_model_is_significant(tmp_path, no_warnings):
    root = make_study(tmp_path / "better", {"self:AVT": 0.55, "cross:AVT": 0.75},
                      seeds=(0, 1, 2, 3))
    st = A.analyze(root)
    assert list(st.rows.columns) == A.COLUMNS
    fam = _sel(st, family="self_vs_cross", metric="accuracy")
    for test in ("wilcoxon", "paired_t", "corrected_resampled_t", "mixed_model"):
        r = _one(st, family="self_vs_cross", metric="accuracy", unit="run", test=test)
        assert r["a"] == "self:AVT" and r["b"] == "cross:AVT"
        assert r["n"] == 20
        assert r["estimate"] == pytest.approx(0.2, abs=0.03), test      # b - a
        assert r["significant"] is True or r["significant"] == True, test  # noqa: E712
        assert r["pvalue_adj"] < 0.05
    w = _one(st, family="self_vs_cross", metric="accuracy", unit="run", test="wilcoxon")
    # accuracies on 300 utterances tie (multiples of 1/300): normal approximation, as R would
    assert "normal" in w["note"] and w["pvalue"] < 1e-3
    assert w["effect_size"] == pytest.approx(1.0) and w["effect_name"] == "rank_biserial"
    # fold level: 5 folds -> the 0.0625 floor, never significant, and the note says so
    fw = _one(st, family="self_vs_cross", metric="accuracy", unit="fold", test="wilcoxon")
    assert fw["n"] == 5 and fw["pvalue"] == pytest.approx(0.0625)
    assert fw["significant"] == False and "0.0625" in fw["note"]  # noqa: E712
    ft = _one(st, family="self_vs_cross", metric="accuracy", unit="fold", test="paired_t")
    assert ft["significant"] == True  # noqa: E712
    # Bayesian: b - a far right of the ROPE
    bay = _one(st, family="self_vs_cross", metric="accuracy", unit="run", test="bayes_signrank")
    assert bay["p_right"] > 0.95 and bay["equivalent"] == False  # noqa: E712
    assert _one(st, family="self_vs_cross", metric="accuracy", unit="run",
                test="tost")["equivalent"] == False  # noqa: E712
    # utterance level
    pr = _one(st, family="self_vs_cross", metric="accuracy", unit="utterance", test="mcnemar_per_run")
    assert pr["n"] == 20 and pr["n_significant"] >= 15
    po = _one(st, family="self_vs_cross", metric="accuracy", unit="utterance", test="mcnemar_pooled")
    assert po["n"] == 5 * 300 and po["significant"] == True and po["estimate"] > 0.1  # noqa: E712
    # no McNemar for balanced accuracy
    assert not len(_sel(st, metric="balanced_accuracy", unit="utterance"))
    assert len(_sel(st, family="self_vs_cross", metric="balanced_accuracy", unit="run",
                    test="wilcoxon")) == 1
    # the AVT pair is also part of the (two-model) ablation family; no Friedman with 2 models
    assert len(_sel(st, family="ablation_AVT", metric="accuracy", unit="run", test="wilcoxon")) == 1
    assert not len(_sel(st, test="friedman"))
    # meta
    m = st.meta
    assert m["alpha"] == 0.05 and m["correction"] == "holm" and m["margin"] == 0.01
    assert m["n_folds"] == 5 and m["n_seeds"] == 4
    assert m["nb_ratio"] == pytest.approx(300 / 1200)
    mdd = m["min_detectable_difference"]["self_vs_cross"]["accuracy"]
    assert mdd["run"]["n"] == 20 and mdd["run"]["mdd"] > 0
    assert mdd["fold"]["n"] == 5
    assert len(fam) == 6 + 2 + 2
    text = A.format_summary(st)
    assert "cross:AVT - self:AVT" in text and "self_vs_cross" in text


def test_identical_models_not_significant_and_equivalent(tmp_path, no_warnings):
    root = make_study(tmp_path / "same", {"self:AVT": 0.6, "cross:AVT": 0.6},
                      copy_of={"cross:AVT": "self:AVT"})
    st = A.analyze(root)
    rows = _sel(st, family="self_vs_cross")
    assert len(rows) == 2 * 8 + 2
    assert not (rows["significant"] == True).any()  # noqa: E712
    tested = rows[rows["significant"].notna()]
    assert len(tested) == 2 * 6 + 2        # every p-value test gave a verdict (no NaN)
    assert (tested["pvalue"] == 1.0).all()
    assert (rows["estimate"].fillna(0) == 0).all()
    for metric in ("accuracy", "balanced_accuracy"):
        assert _one(st, family="self_vs_cross", metric=metric, unit="run",
                    test="tost")["equivalent"] == True  # noqa: E712
        bay = _one(st, family="self_vs_cross", metric=metric, unit="run", test="bayes_signrank")
        assert bay["p_rope"] == 1.0 and bay["equivalent"] == True  # noqa: E712
    pr = _one(st, family="self_vs_cross", metric="accuracy", unit="utterance", test="mcnemar_per_run")
    assert pr["n_significant"] == 0 and pr["pvalue"] == 1.0


def test_failed_missing_and_unpaired_runs_are_counted(tmp_path):
    failed = {("cross:AVT", 1, 0), ("cross:AVT", 2, 1)}
    missing = {("self:AVT", 3, 2)}
    root = make_study(tmp_path / "holes", {"self:AVT": 0.6, "cross:AVT": 0.65},
                      failed=failed, missing=missing)
    st = A.analyze(root)
    ex = st.excluded
    assert ex["n_failed"] == 2 and ex["failed"] == {"cross:AVT": 2}
    assert ex["n_missing"] == 1 and ex["missing"] == {"self:AVT": 1}
    unp = {(u["run_id"], u["reason"]) for u in ex["unpaired"]}
    assert unp == {("self-AVT-f1-s0", "twin failed: cross:AVT"),
                   ("self-AVT-f2-s1", "twin failed: cross:AVT"),
                   ("cross-AVT-f3-s2", "twin missing: self:AVT")}
    r = _one(st, family="self_vs_cross", metric="accuracy", unit="run", test="wilcoxon")
    assert r["n"] == 15 - 3
    assert "3 unpaired run(s)" in r["note"]
    assert any("failed run(s) excluded" in n for n in st.notes)
    assert any("unpaired" in n for n in st.notes)
    assert "self-AVT-f1-s0" in A.format_summary(st)


def test_write_load_round_trip(tmp_path):
    root = make_study(tmp_path / "rt", {"self:AV": 0.6, "self:AVT": 0.62, "cross:AV": 0.61,
                                        "cross:AVT": 0.66, "cross_self:AVT": 0.63},
                      folds=(1, 2, 3), seeds=(0, 1), n_utt=120)
    st = A.analyze(root)
    A.write_stats(st, root)
    assert (root / "stats.csv").is_file() and (root / "stats.json").is_file()
    assert not [p for p in root.iterdir() if p.name.endswith(".tmp")]
    json.loads((root / "stats.json").read_text())          # strict JSON (no NaN)
    back = A.load_stats(root)
    pd.testing.assert_frame_equal(back.rows, st.rows, check_exact=False, rtol=1e-12)
    assert back.notes == st.notes
    assert back.meta["alpha"] == st.meta["alpha"]
    assert back.excluded["n_failed"] == st.excluded["n_failed"]
    # families present
    fams = set(st.rows["family"])
    assert fams == {"self_vs_cross", "ablation_AVT", "modalities_self"}
    fr = _sel(st, family="ablation_AVT", test="friedman")
    assert set(fr["unit"]) == {"run", "fold"} and len(fr) == 4
    nem = _sel(st, family="ablation_AVT", metric="accuracy", unit="run", test="nemenyi")
    assert len(nem) == 3 and (nem["pvalue"] == nem["pvalue_adj"]).all()
    ms = _sel(st, family="modalities_self", metric="accuracy", unit="run", test="wilcoxon")
    assert ms[["a", "b"]].values.tolist() == [["self:AV", "self:AVT"]]


def test_holm_within_family_metric_unit_test(tmp_path):
    skills = {"self:AVT": 0.6, "cross:AVT": 0.6, "cross_self:AVT": 0.7, "self_nosp:AVT": 0.61}
    root = make_study(tmp_path / "holm", skills, seeds=(0, 1))
    st = A.analyze(root)
    g = _sel(st, family="ablation_AVT", metric="accuracy", unit="run", test="paired_t")
    assert len(g) == 6
    from harness.stats import correct
    assert np.allclose(g["pvalue_adj"], correct(g["pvalue"].to_numpy(), "holm").pvalues_adj)
    # the order of pairs follows the model registry; estimate = b - a
    r = _one(st, family="ablation_AVT", metric="accuracy", unit="run", test="paired_t",
             a="self:AVT", b="cross_self:AVT")
    assert r["estimate"] > 0.05 and r["significant"] == True  # noqa: E712
    fr = _one(st, family="ablation_AVT", metric="accuracy", unit="run", test="friedman")
    assert fr["significant"] == True and fr["n"] == 10  # noqa: E712
    ranks = st.meta["friedman"]["accuracy"]["run"]
    best = ranks["labels"][int(np.argmin(ranks["avg_ranks"]))]
    assert best == "cross_self:AVT"
    fdr = A.analyze(root, correction="fdr_bh")
    g2 = _sel(fdr, family="ablation_AVT", metric="accuracy", unit="run", test="paired_t")
    assert np.allclose(g2["pvalue_adj"], correct(g2["pvalue"].to_numpy(), "fdr_bh").pvalues_adj)
    assert fdr.meta["correction"] == "fdr_bh"


def test_one_fold_study_does_not_crash(tmp_path, no_warnings):
    root = make_study(tmp_path / "one", {"self:AVT": 0.55, "cross:AVT": 0.7}, folds=(3,),
                      seeds=(0, 1, 2, 3, 4))
    st = A.analyze(root)
    fold_rows = _sel(st, unit="fold")
    assert len(fold_rows) and fold_rows["pvalue"].isna().all()
    assert fold_rows["significant"].isna().all()
    assert all("at least 2 folds" in n for n in fold_rows["note"])
    mm = _one(st, family="self_vs_cross", metric="accuracy", unit="run", test="mixed_model")
    assert np.isfinite(mm["pvalue"]) and "one fold" in mm["note"]
    assert st.meta["n_folds"] == 1
    A.format_summary(st)


def test_settings_from_study_yaml_and_overrides(tmp_path):
    root = make_study(tmp_path / "cfg", {"self:AVT": 0.6, "cross:AVT": 0.6}, seeds=(0, 1),
                      stats_cfg={"alpha": 0.1, "correction": "fdr_bh", "equivalence_margin": 0.02})
    st = A.analyze(root)
    assert (st.meta["alpha"], st.meta["correction"], st.meta["margin"], st.meta["rope"]) == (
        0.1, "fdr_bh", 0.02, 0.02)
    st2 = A.analyze(root, alpha=0.01, margin=0.005)
    assert st2.meta["alpha"] == 0.01 and st2.meta["rope"] == 0.005
    with pytest.raises(UserError, match="correction"):
        A.analyze(root, correction="bonferroni")


def test_bad_folders_raise_user_error(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        A.analyze(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="runs.csv"):
        A.analyze(tmp_path / "empty")
    with pytest.raises(UserError, match="stats.csv"):
        A.load_stats(tmp_path / "empty")


def test_missing_predictions_are_reported(tmp_path):
    root = make_study(tmp_path / "nopred", {"self:AVT": 0.6, "cross:AVT": 0.7}, seeds=(0, 1))
    (root / "runs" / "cross-AVT-f2-s1" / "predictions.npz").unlink()
    st = A.analyze(root)
    assert [p["run_id"] for p in st.excluded["predictions"]] == ["cross-AVT-f2-s1"]
    pr = _one(st, family="self_vs_cross", metric="accuracy", unit="utterance", test="mcnemar_per_run")
    assert pr["n"] == 9 and "skipped" in pr["note"]
    # run-level tests still use runs.csv metrics for all 10 pairs
    assert _one(st, family="self_vs_cross", metric="accuracy", unit="run", test="wilcoxon")["n"] == 10


def test_pooled_mcnemar_uses_seed_ensembles(tmp_path):
    root = make_study(tmp_path / "ens", {"self:AVT": 0.6, "cross:AVT": 0.6},
                      folds=(1, 2), seeds=(0, 1, 2), n_utt=50,
                      copy_of={"cross:AVT": "self:AVT"})
    # make b's seed-0 predictions of fold 1 all correct: the ensemble (mean proba) changes
    p = root / "runs" / "cross-AVT-f1-s0" / "predictions.npz"
    z = dict(np.load(p))
    proba = np.zeros_like(z["test_proba"])
    proba[np.arange(len(proba)), z["test_y_true"]] = 1.0
    z["test_proba"], z["test_y_pred"] = proba, z["test_y_true"].copy()
    np.savez(p, **z)
    st = A.analyze(root)
    po = _one(st, family="self_vs_cross", metric="accuracy", unit="utterance", test="mcnemar_pooled")
    # independent ensemble computation
    n01 = n10 = 0
    for f in (1, 2):
        ea, eb, y = [], [], None
        for s in (0, 1, 2):
            for lab, acc in (("self", ea), ("cross", eb)):
                z = np.load(root / "runs" / f"{lab}-AVT-f{f}-s{s}" / "predictions.npz")
                o = np.argsort(z["test_index"])
                acc.append(z["test_proba"][o])
                y = z["test_y_true"][o]
        ca = np.mean(ea, axis=0).argmax(1) == y
        cb = np.mean(eb, axis=0).argmax(1) == y
        n01 += int(np.sum(ca & ~cb))
        n10 += int(np.sum(~ca & cb))
    assert f"n01 = {n01} " in po["note"] and f"n10 = {n10};" in po["note"]
    assert po["n"] == 100 and po["estimate"] == pytest.approx((n10 - n01) / 100)


def test_analysis_on_a_study_of_realistic_shape(tmp_path):
    # speed is measured in benchmarks/bench_stats_report.py, not here
    # 14 configurations x 5 folds x 4 seeds = 280 runs of 400 utterances
    skills = {f"self:{m}": 0.5 + 0.02 * i for i, m in enumerate(["A", "V", "T", "AV", "AT", "VT", "AVT"])}
    skills.update({f"cross:{m}": 0.6 for m in ["AV", "AT", "VT", "AVT"]})
    skills.update({f"{m}:AVT": 0.62 for m in ["cross_self", "self_nosp", "cross_nosp"]})
    root = make_study(tmp_path / "big", skills, seeds=(0, 1, 2, 3), n_utt=400)
    st = A.analyze(root)
    assert len(_sel(st, family="self_vs_cross", metric="accuracy", unit="run",
                    test="wilcoxon")) == 4
    assert len(_sel(st, family="ablation_AVT", metric="accuracy", unit="run",
                    test="wilcoxon")) == 10
    assert len(_sel(st, family="modalities_self", metric="accuracy", unit="run",
                    test="wilcoxon")) == 6
