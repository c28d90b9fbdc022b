"""Tests for harness.analysis on small fake results folders built in tmp_path (read by harness.table)."""

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
from harness.stats.registry import TESTS, TestEntry, register_test, unregister_test

N_CLASSES = 4
BUILTIN = {"self", "cross", "cross_self", "self_nosp", "cross_nosp"}


def _balanced_accuracy(y, p):
    return float(np.mean([np.mean(p[y == c] == c) for c in np.unique(y)]))


def _metrics(y, p):
    acc = float(np.mean(p == y))
    return {"accuracy": acc, "balanced_accuracy": _balanced_accuracy(y, p), "macro_f1": acc,
            "weighted_f1": acc, "n": int(y.size)}


def _study_yaml(root: Path, skills: dict, folds, seeds, stats_cfg, comparisons) -> dict:
    models: dict = {}
    for label in skills:
        m, mods = label.split(":")
        models.setdefault(m, []).append(mods)
    spec = {m: (v if m in BUILTIN else {"import": "toymodels.fusion:Late", "modalities": v})
            for m, v in models.items()}
    study = {"name": root.name, "data": {"format": "synthetic", "path": "none",
                                         "classes": ["ang", "hap", "neu", "sad"]},
             "models": spec, "folds": list(folds), "seeds": list(seeds),
             "stats": stats_cfg or {"alpha": 0.05, "correction": "holm",
                                    "equivalence_margin": 0.01}}
    if comparisons:
        study["comparisons"] = comparisons
    return study


def make_study(root: Path, skills: dict, folds=(1, 2, 3, 4, 5), seeds=(0, 1, 2), n_utt=300,
               failed=(), missing=(), copy_of: dict | None = None, n_train=1200,
               stats_cfg: dict | None = None, seed: int = 0, comparisons=None,
               fold_skill: dict | None = None) -> Path:
    """Write a fake results folder (study.yaml, plan.json, runs/<id>/result.json + predictions).

    skills: {"model:MODS": probability that a prediction is correct}.
    failed / missing: {(label, fold, seed)} written with status "failed" / not written.
    copy_of: {"model:MODS": "other:MODS"} -> identical predictions to the other configuration.
    fold_skill: {("model:MODS", fold): skill} overrides a configuration's skill on one fold.
    """
    rng = np.random.default_rng(seed)
    (root / "runs").mkdir(parents=True, exist_ok=True)
    study = _study_yaml(root, skills, folds, seeds, stats_cfg, comparisons)
    (root / "study.yaml").write_text(yaml.safe_dump(study))
    truth = {f: rng.integers(0, N_CLASSES, n_utt) for f in folds}
    plan, made = [], {}
    copy_of = copy_of or {}
    for label in sorted(skills, key=lambda k: k in copy_of):          # originals first
        model, mods = label.split(":")
        for f in folds:
            for s in seeds:
                run_id = f"{model}-{mods}-f{f}-s{s}"
                plan.append({"run_id": run_id, "model": model, "modalities": mods, "fold": f,
                             "seed": s})
                if (label, f, s) in missing:
                    continue
                d = root / "runs" / run_id
                d.mkdir()
                base = {"run_id": run_id, "model": model, "modalities": mods, "fold": f, "seed": s}
                if (label, f, s) in failed:
                    (d / "result.json").write_text(json.dumps({**base, "status": "failed",
                                                               "error": "boom"}))
                    continue
                y = truth[f]
                if label in copy_of:
                    pred, proba = made[(copy_of[label], f, s)]
                else:
                    skill = (fold_skill or {}).get((label, f), skills[label])
                    right = rng.random(n_utt) < skill
                    pred = np.where(right, y, (y + rng.integers(1, N_CLASSES, n_utt)) % N_CLASSES)
                    proba = rng.random((n_utt, N_CLASSES)).astype(np.float32)
                    proba[np.arange(n_utt), pred] += 1.0
                    proba /= proba.sum(axis=1, keepdims=True)
                made[(label, f, s)] = (pred, proba)
                perm = rng.permutation(n_utt)          # stored unsorted on purpose
                np.savez(d / "predictions.npz", test_y_true=y[perm], test_y_pred=pred[perm],
                         test_proba=proba[perm], test_index=(np.arange(n_utt) + 10000 * f)[perm],
                         dev_y_true=y[:10], dev_y_pred=pred[:10], dev_proba=proba[:10],
                         dev_index=np.arange(10), n_train=np.int64(n_train))
                result = {**base, "status": "ok", "epochs": 10, "best_epoch": 5,
                          "train_seconds": 1.0, "n_params": 1000, "device": "cpu", "error": None,
                          "metrics": {"test": _metrics(y, pred), "dev": _metrics(y[:10], pred[:10])}}
                (d / "result.json").write_text(json.dumps(result))
    (root / "plan.json").write_text(json.dumps({"runs": plan}))
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


def _head(st, a, b, mods="AVT"):
    hits = [h for h in st.headline if (h["a"], h["b"], h["modalities"]) == (a, b, mods)]
    assert len(hits) == 1, (a, b, mods, st.headline)
    return hits[0]


@pytest.fixture
def no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def test_clearly_better_model(tmp_path, no_warnings):
    root = make_study(tmp_path / "better", {"self:AVT": 0.55, "cross:AVT": 0.75},
                      seeds=(0, 1, 2, 3))
    st = A.analyze(root, bayes_samples=500)
    assert list(st.rows.columns) == A.COLUMNS
    for test in ("wilcoxon", "paired_t", "mixed_model"):
        r = _one(st, family="self_vs_cross", metric="accuracy", unit="run", test=test)
        assert (r["a"], r["b"], r["n"]) == ("self:AVT", "cross:AVT", 20)
        assert r["estimate"] == pytest.approx(0.2, abs=0.03), test      # b - a
        assert r["significant"] == True and r["pvalue_adj"] < 0.05, test  # noqa: E712
        assert r["ci_method"] and 0.9 < r["ci_coverage"] < 1
    crt = _one(st, family="self_vs_cross", metric="accuracy", test="corrected_resampled_t")
    assert crt["n"] == 5 and "J = 5 folds" in crt["note"] and crt["significant"] == True  # noqa: E712
    w = _one(st, family="self_vs_cross", metric="accuracy", unit="run", test="wilcoxon")
    assert "normal" in w["note"] and w["effect_name"] == "rank_biserial"
    # fold Wilcoxon: 5 folds -> floor 0.0625, flagged with its attainable p and coverage
    fw = _one(st, family="self_vs_cross", metric="accuracy", unit="fold", test="wilcoxon")
    assert fw["pvalue"] == pytest.approx(0.0625) and fw["min_attainable_p"] == pytest.approx(0.0625)
    assert fw["significant"] == False and "cannot reach alpha" in fw["note"]  # noqa: E712
    assert fw["ci_coverage"] == pytest.approx(0.9375)      # exact signed-rank level at n = 5
    # McNemar describes: no significant flag, no adjusted p
    po = _one(st, family="self_vs_cross", metric="accuracy", test="mcnemar_pooled")
    assert po["role"] == "description" and po["significant"] is pd.NA
    assert po["n"] == 5 * 300 and po["pvalue"] < 1e-6 and np.isnan(po["pvalue_adj"])
    assert not len(_sel(st, metric="balanced_accuracy", unit="utterance"))
    # the primary row and the headline
    prim = _sel(st, role="primary")
    assert set(zip(prim["metric"], prim["unit"], prim["test"])) == {
        ("balanced_accuracy", "fold", "paired_t")}
    h = _head(st, "self", "cross")
    assert h["verdict"] == "b_better" and h["reason"] == "" and h["n"] == 5
    assert st.meta["primary"] == {"metric": "balanced_accuracy", "unit": "fold", "test": "paired_t"}
    assert len(st.headline) == 1            # the AVT pair of ablation_AVT is not repeated
    text = A.format_summary(st)
    assert "cross:AVT - self:AVT" in text and "b_better" in text
    assert "0.001*" in text or "<.001*" in text                   # the marker is printed


def test_flipping_a_and_b_flips_the_verdict(tmp_path):
    good = make_study(tmp_path / "up", {"self:AVT": 0.55, "cross:AVT": 0.7}, seeds=(0, 1))
    bad = make_study(tmp_path / "down", {"self:AVT": 0.7, "cross:AVT": 0.55}, seeds=(0, 1))
    up, down = A.analyze(good, bayes_samples=200), A.analyze(bad, bayes_samples=200)
    assert _head(up, "self", "cross")["verdict"] == "b_better"
    assert _head(down, "self", "cross")["verdict"] == "a_better"
    assert _head(down, "self", "cross")["estimate"] < 0 < _head(up, "self", "cross")["estimate"]


def test_a_test_that_cannot_reach_alpha_gives_no_difference_with_the_reason(tmp_path):
    cfg = {"primary": {"metric": "accuracy", "unit": "fold", "test": "wilcoxon"}}
    root = make_study(tmp_path / "floor", {"self:AVT": 0.5, "cross:AVT": 0.8}, seeds=(0, 1),
                      stats_cfg=cfg)
    st = A.analyze(root, bayes_samples=200)
    h = _head(st, "self", "cross")
    assert (h["test"], h["unit"], h["metric"]) == ("wilcoxon", "fold", "accuracy")
    assert h["verdict"] == "no_difference_detected"
    assert h["reason"] == "cannot reach alpha at n = 5: smallest attainable p = 0.0625"


def test_identical_models_are_equivalent(tmp_path, no_warnings):
    root = make_study(tmp_path / "same", {"self:AVT": 0.6, "cross:AVT": 0.6},
                      copy_of={"cross:AVT": "self:AVT"})
    st = A.analyze(root, bayes_samples=500)
    rows = _sel(st, family="self_vs_cross")
    assert not (rows["significant"] == True).any()  # noqa: E712
    tested = rows[rows["significant"].notna()]
    assert len(tested) and (tested["pvalue"] == 1.0).all()
    assert (rows["estimate"].fillna(0) == 0).all()
    for unit in ("run", "fold"):
        assert _one(st, family="self_vs_cross", metric="accuracy", unit=unit,
                    test="tost")["equivalent"] == True  # noqa: E712
    bay = _one(st, family="self_vs_cross", metric="accuracy", test="bayes_signrank")
    assert bay["p_rope"] == 1.0 and bay["equivalent"] == True  # noqa: E712
    h = _head(st, "self", "cross")
    assert h["verdict"] == "equivalent" and "TOST" in h["reason"]


def test_bayes_verdict_withheld_with_few_folds(tmp_path):
    root = make_study(tmp_path / "two", {"self:AVT": 0.5, "cross:AVT": 0.7}, folds=(1, 2),
                      seeds=(0, 1))
    bay = _one(A.analyze(root, bayes_samples=200), family="self_vs_cross", metric="accuracy",
               test="bayes_signrank")
    assert bay["p_right"] > 0.95 and bay["equivalent"] is pd.NA and "withheld" in bay["note"]


def test_failed_missing_and_unpaired_runs_are_counted(tmp_path):
    failed = {("cross:AVT", 1, 0), ("cross:AVT", 2, 1)}
    missing = {("self:AVT", 3, 2)}
    root = make_study(tmp_path / "holes", {"self:AVT": 0.6, "cross:AVT": 0.65},
                      failed=failed, missing=missing)
    st = A.analyze(root, bayes_samples=200)
    ex = st.excluded
    assert ex["n_failed"] == 2 and ex["failed"] == {"cross:AVT": 2}
    assert ex["n_missing"] == 1 and ex["missing"] == {"self:AVT": 1}
    unp = {(u["run_id"], u["reason"]) for u in ex["unpaired"] if u["family"] == "self_vs_cross"}
    assert unp == {("self-AVT-f1-s0", "twin failed: cross:AVT"),
                   ("self-AVT-f2-s1", "twin failed: cross:AVT"),
                   ("cross-AVT-f3-s2", "twin missing: self:AVT")}
    r = _one(st, family="self_vs_cross", metric="accuracy", unit="run", test="wilcoxon")
    assert r["n"] == 15 - 3 and "3 unpaired run(s)" in r["note"]
    assert any("failed run(s) excluded" in n for n in st.notes)
    assert "self-AVT-f1-s0" in A.format_summary(st)


def test_write_load_round_trip_and_families(tmp_path):
    root = make_study(tmp_path / "rt", {"self:AV": 0.6, "self:AVT": 0.62, "cross:AV": 0.61,
                                        "cross:AVT": 0.66, "cross_self:AVT": 0.63},
                      folds=(1, 2, 3), seeds=(0, 1), n_utt=120)
    st = A.analyze(root, bayes_samples=200)
    A.write_stats(st, root)
    assert not [p for p in root.iterdir() if p.name.endswith(".tmp")]
    payload = json.loads((root / "stats.json").read_text())          # strict JSON (no NaN)
    assert payload["version"] == 2 and payload["columns"] == A.COLUMNS
    assert {"headline", "summaries", "ranks", "meta", "notes", "excluded"} <= set(payload)
    back = A.StudyStats.from_json(payload)
    pd.testing.assert_frame_equal(back.rows, st.rows, check_exact=False, rtol=1e-12)
    assert back.notes == st.notes and back.meta["alpha"] == st.meta["alpha"]
    assert A.load_stats(root).headline == back.headline
    assert set(st.rows["family"]) == {"self_vs_cross", "ablation_AVT", "modalities_self"}
    nem = _sel(st, family="ablation_AVT", metric="accuracy", unit="run", test="nemenyi")
    assert len(nem) == 3 and (nem["pvalue"] == nem["pvalue_adj"]).all()
    ms = _sel(st, family="modalities_self", metric="accuracy", unit="run", test="wilcoxon")
    assert ms[["a", "b"]].values.tolist() == [["self:AV", "self:AVT"]]
    # summaries and ranks: what the report shows, computed here
    s = [x for x in st.summaries if (x["model"], x["modalities"], x["metric"])
         == ("cross", "AVT", "accuracy")]
    runs = pd.DataFrame([json.loads((p / "result.json").read_text())["metrics"]["test"]
                         for p in sorted((root / "runs").glob("cross-AVT-*"))])
    assert s[0]["n_runs"] == 6 and s[0]["mean"] == pytest.approx(runs["accuracy"].mean())
    assert s[0]["ci_method"] == "t over 3 fold means"
    rk = [r for r in st.ranks if (r["metric"], r["unit"]) == ("accuracy", "fold")][0]
    assert rk["models"] == ["self", "cross", "cross_self"] and rk["n_blocks"] == 3
    assert rk["critical_difference"] == pytest.approx(rk["q_alpha"] * np.sqrt(3 * 4 / 18))


def test_holm_within_family_and_friedman(tmp_path):
    skills = {"self:AVT": 0.6, "cross:AVT": 0.6, "cross_self:AVT": 0.7, "self_nosp:AVT": 0.61}
    root = make_study(tmp_path / "holm", skills, seeds=(0, 1))
    st = A.analyze(root, bayes_samples=200)
    g = _sel(st, family="ablation_AVT", metric="accuracy", unit="run", test="paired_t")
    assert len(g) == 6
    from harness.stats import correct
    assert np.allclose(g["pvalue_adj"], correct(g["pvalue"].to_numpy(), "holm").pvalues_adj)
    r = _one(st, family="ablation_AVT", metric="accuracy", unit="run", test="paired_t",
             a="self:AVT", b="cross_self:AVT")              # registry order; b - a
    assert r["estimate"] > 0.05 and r["significant"] == True  # noqa: E712
    fr = _one(st, family="ablation_AVT", metric="accuracy", unit="run", test="friedman")
    assert fr["significant"] == True and fr["n"] == 10  # noqa: E712
    ranks = st.meta["friedman"]["accuracy"]["run"]
    assert ranks["labels"][int(np.argmin(ranks["avg_ranks"]))] == "cross_self:AVT"
    fdr = A.analyze(root, correction="fdr_bh", bayes_samples=200)
    g2 = _sel(fdr, family="ablation_AVT", metric="accuracy", unit="run", test="paired_t")
    assert np.allclose(g2["pvalue_adj"], correct(g2["pvalue"].to_numpy(), "fdr_bh").pvalues_adj)


def test_declared_comparisons_use_the_study_model_names(tmp_path):
    skills = {"self:AVT": 0.55, "cross:AVT": 0.6, "late:AVT": 0.7, "late:AT": 0.68,
              "self:AT": 0.5}
    root = make_study(tmp_path / "decl", skills, seeds=(0, 1),
                      comparisons=[["self", "late"], {"a": "cross", "b": "late", "on": ["AVT"]}])
    st = A.analyze(root, bayes_samples=200)
    assert set(st.rows["family"]) == {"comparisons", "ranks_AVT"}
    pt = _sel(st, family="comparisons", metric="accuracy", unit="fold", test="paired_t")
    assert pt[["a", "b"]].values.tolist() == [["self:AT", "late:AT"], ["self:AVT", "late:AVT"],
                                              ["cross:AVT", "late:AVT"]]
    assert set(pt["comparison"]) == {"self_vs_late", "cross_vs_late"}
    # Holm over the study's comparisons x combinations (3 hypotheses)
    from harness.stats import correct
    assert np.allclose(pt["pvalue_adj"], correct(pt["pvalue"].to_numpy(), "holm").pvalues_adj)
    heads = {(h["a"], h["b"], h["modalities"]): h["verdict"] for h in st.headline}
    assert heads == {("self", "late", "AT"): "b_better", ("self", "late", "AVT"): "b_better",
                     ("cross", "late", "AVT"): "b_better"}
    # Friedman / Nemenyi for any set of >= 3 models on a combination
    fr = _sel(st, family="ranks_AVT", test="friedman")
    assert len(fr) == 4 and "late:AVT" in fr.iloc[0]["note"]


def test_one_fixed_split(tmp_path, no_warnings):
    root = make_study(tmp_path / "one", {"self:AVT": 0.55, "cross:AVT": 0.7}, folds=(1,),
                      seeds=(0, 1, 2, 3, 4))
    st = A.analyze(root, bayes_samples=200)
    fold_rows = _sel(st, unit="fold")
    assert len(fold_rows) and fold_rows["pvalue"].isna().all()
    assert fold_rows["significant"].isna().all()
    assert all("not available: one fixed split" in n for n in fold_rows["note"])
    assert st.meta["primary"] == {"metric": "balanced_accuracy", "unit": "run", "test": "paired_t"}
    assert "training noise" in st.meta["primary_note"]
    h = _head(st, "self", "cross")
    assert (h["unit"], h["n"], h["verdict"]) == ("run", 5, "b_better")
    mm = _one(st, family="self_vs_cross", metric="accuracy", test="mixed_model")
    assert np.isfinite(mm["pvalue"]) and "one fold" in mm["note"]
    crt = _one(st, family="self_vs_cross", metric="accuracy", test="corrected_resampled_t")
    assert crt["n"] == 5 and "one split" in crt["note"] and "n_train 1200" in crt["note"]
    assert any("one fixed split" in n for n in st.notes)
    A.format_summary(st)


def test_a_test_registered_at_run_time_adds_its_rows(tmp_path):
    def sign_test(data, unit):
        a, b = data.scores(unit)
        from scipy.stats import binomtest
        k = int(np.sum(b > a))
        return {"statistic": k, "pvalue": binomtest(k, int(np.sum(a != b)) or 1).pvalue,
                "estimate": float(np.median(b - a)), "note": "toy sign test"}

    register_test(TestEntry("toy_sign", ("run", "fold"), "Sign test (toy)", "S", "secondary",
                            sign_test))
    try:
        root = make_study(tmp_path / "toy", {"self:AVT": 0.55, "cross:AVT": 0.7}, seeds=(0, 1))
        st = A.analyze(root, bayes_samples=200)
        A.write_stats(st, root)
        rows = [r for r in json.loads((root / "stats.json").read_text())["rows"]
                if r["test"] == "toy_sign"]
        assert {(r["metric"], r["unit"]) for r in rows} == {
            (m, u) for m in ("accuracy", "balanced_accuracy") for u in ("run", "fold")}
        run = [r for r in rows if (r["metric"], r["unit"]) == ("accuracy", "run")][0]
        assert run["statistic"] == 10 and run["significant"] is True and run["n"] == 10
    finally:
        unregister_test("toy_sign")
    assert "toy_sign" not in TESTS


def test_settings_from_study_yaml_and_overrides(tmp_path):
    root = make_study(tmp_path / "cfg", {"self:AVT": 0.6, "cross:AVT": 0.6}, seeds=(0, 1),
                      stats_cfg={"alpha": 0.1, "correction": "fdr_bh", "equivalence_margin": 0.02})
    st = A.analyze(root, bayes_samples=200)
    assert (st.meta["alpha"], st.meta["correction"], st.meta["margin"], st.meta["rope"]) == (
        0.1, "fdr_bh", 0.02, 0.02)
    st2 = A.analyze(root, alpha=0.01, margin=0.005, bayes_samples=200)
    assert st2.meta["alpha"] == 0.01 and st2.meta["rope"] == 0.005
    with pytest.raises(UserError, match="correction"):
        A.analyze(root, correction="bonferroni")


def test_bad_folders_raise_user_error(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        A.analyze(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="not a results folder"):
        A.analyze(tmp_path / "empty")
    root = make_study(tmp_path / "nostats", {"self:AVT": 0.6, "cross:AVT": 0.6}, seeds=(0,))
    with pytest.raises(UserError, match="stats.json"):
        A.load_stats(root)


def test_pooled_mcnemar_uses_seed_ensembles(tmp_path):
    root = make_study(tmp_path / "ens", {"self:AVT": 0.6, "cross:AVT": 0.6},
                      folds=(1, 2), seeds=(0, 1, 2), n_utt=50, copy_of={"cross:AVT": "self:AVT"})
    # b's seed-0 run of fold 1 gets its probabilities moved to the truth (predictions unchanged,
    # so result.json stays consistent): the ensemble changes
    p = root / "runs" / "cross-AVT-f1-s0" / "predictions.npz"
    z = dict(np.load(p))
    proba = np.zeros_like(z["test_proba"])
    proba[np.arange(len(proba)), z["test_y_true"]] = 3.0
    z["test_proba"] = proba
    np.savez(p, **z)
    st = A.analyze(root, bayes_samples=200)
    po = _one(st, family="self_vs_cross", metric="accuracy", test="mcnemar_pooled")
    n01 = n10 = 0
    for f in (1, 2):                                   # independent ensemble computation
        ea, eb, y = [], [], None
        for s in (0, 1, 2):
            for lab, acc in (("self", ea), ("cross", eb)):
                z = np.load(root / "runs" / f"{lab}-AVT-f{f}-s{s}" / "predictions.npz")
                o = np.argsort(z["test_index"])
                acc.append(z["test_proba"][o])
                y = z["test_y_true"][o]
        ca, cb = np.mean(ea, axis=0).argmax(1) == y, np.mean(eb, axis=0).argmax(1) == y
        n01 += int(np.sum(ca & ~cb))
        n10 += int(np.sum(~ca & cb))
    assert n10 > 0
    assert f"n01 = {n01} " in po["note"] and f"n10 = {n10};" in po["note"]
    assert po["n"] == 100 and po["estimate"] == pytest.approx((n10 - n01) / 100)


def test_stats_primary_is_checked_against_the_registry():
    from harness.errors import StudyError
    from harness.study import parse_study

    raw = {"name": "p", "data": {"format": "synthetic", "path": "x"}, "models": ["self", "cross"],
           "folds": 5, "seeds": 2}
    ok = parse_study({**raw, "stats": {"primary": {"unit": "run", "test": "mixed_model"}}})
    assert (ok.stats.primary.metric, ok.stats.primary.unit) == ("balanced_accuracy", "run")
    with pytest.raises(StudyError, match=r"stats\.primary\.test.*'mcnemar_pooled'"):
        parse_study({**raw, "stats": {"primary": {"test": "mcnemar_pooled"}}})
    with pytest.raises(StudyError, match=r"stats\.primary\.test.*'mixed_model'"):
        parse_study({**raw, "stats": {"primary": {"unit": "fold", "test": "mixed_model"}}})
    with pytest.raises(StudyError, match=r"stats\.primary\.metric"):
        parse_study({**raw, "stats": {"primary": {"metric": "f1"}}})
