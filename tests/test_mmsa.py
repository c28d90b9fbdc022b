"""MMSA feature pickles: layout, label rules, checks (exit 2 naming split and key), batches,
shapes, one load per process, and studies on the synthetic pickle through training."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from harness.cli import main
from harness.data import corpus, mmsa
from harness.data.synthetic_mmsa import SIGNAL, make_synthetic_mmsa
from harness.errors import DataError, StudyError
from harness.models import build_model, count_parameters
from harness.study import ModelConfig, parse_study


@pytest.fixture(scope="module")
def pkl(tmp_path_factory):
    return make_synthetic_mmsa(tmp_path_factory.mktemp("mmsa") / "syn.pkl", seed=0)


def study(path, labels=None, **over):
    data = {"format": "mmsa", "path": str(path)}
    if labels:
        data["labels"] = labels
    raw = {"name": "m", "data": data, "models": ["self"], "modalities": ["AVT"], "folds": 1,
           "seeds": 1, "training": {"max_epochs": 2, "patience": 2}}
    raw.update(over)
    return parse_study(raw, source="s.yaml")


def raw_split(path, split="test"):
    with open(path, "rb") as fh:
        return pickle.load(fh)[split]


# --- label rules ------------------------------------------------------------------------
def test_label_rules_and_class_names(pkl):
    y = raw_split(pkl)["regression_labels"]
    want = {"acc2": (y >= 0).astype(int), "acc2_nonzero": (y[y != 0] > 0).astype(int),
            "acc7": (np.round(np.clip(y, -3, 3)) + 3).astype(int),
            "classification_labels": raw_split(pkl)["classification_labels"].astype(int)}
    for rule, labels in want.items():
        s = study(pkl, rule)
        assert s.data.labels == rule and s.data.classes == mmsa.LABEL_RULES[rule]
        fold = corpus.open_corpus(s).load_fold(1)
        np.testing.assert_array_equal(fold.test.labels, labels)
    assert study(pkl).data.labels == "acc2"                      # the default rule
    assert study(pkl, "acc7").n_classes == 7


def test_acc2_nonzero_drops_zeros_and_says_how_many(pkl):
    c = corpus.open_corpus(study(pkl, "acc2_nonzero"))
    d = c.describe()
    for split, name in (("train", "train"), ("valid", "dev"), ("test", "test")):
        zeros = int((raw_split(pkl, split)["regression_labels"] == 0).sum())
        assert d["dropped"][name] == zeros
        assert d["folds"][1][name] == len(raw_split(pkl, split)["regression_labels"]) - zeros
    assert sum(d["dropped"].values()) > 0
    note = c.notes((1,))[0]
    assert f"train {d['dropped']['train']} of {len(raw_split(pkl, 'train')['regression_labels'])}" in note
    assert corpus.open_corpus(study(pkl, "acc2")).notes((1,)) == []


def test_acc7_rounds_half_to_even_like_mmsa(tmp_path):
    p = make_synthetic_mmsa(tmp_path / "a.pkl")
    with open(p, "rb") as fh:
        data = pickle.load(fh)
    data["test"]["regression_labels"][:6] = [-2.5, -0.5, 0.5, 1.5, 2.5, 3.0]
    with open(p, "wb") as fh:
        pickle.dump(data, fh)
    labels = corpus.open_corpus(study(p, "acc7")).load_fold(1).test.labels[:6]
    assert labels.tolist() == [1, 3, 3, 5, 5, 6]                 # np.round: half to even


# --- batches, shapes, caching -------------------------------------------------------------
def test_batch_keys_lengths_and_shapes(pkl):
    c = corpus.open_corpus(study(pkl))
    part = raw_split(pkl, "valid")
    fold = c.load_fold(1)
    rows = np.array([4, 0, 7])
    b = fold.dev.batch(rows, "AV")
    assert set(b) == {"A", "V"} and b["A"].dtype == torch.float32
    for letter, key in (("A", "audio"), ("V", "vision")):
        x, n = part[key][rows], part[f"{key}_lengths"][rows]
        np.testing.assert_array_equal(b[letter].numpy(), x)
        for i in range(3):                                        # frames after the length
            assert not b[letter][i, n[i]:].any()
    s = c.shapes
    assert (s.audio_frames, s.audio_dim) == part["audio"].shape[1:]
    assert (s.video_frames, s.video_dim) == part["vision"].shape[1:]
    assert (s.text_tokens, s.embed_dim) == part["text"].shape[1:]
    assert set(fold.test.batch(rows, "T")) == {"T"}


def test_parameter_counts_follow_shapes(pkl, tmp_path):
    big = make_synthetic_mmsa(tmp_path / "big.pkl", text_dim=40)
    small_s = corpus.open_corpus(study(pkl)).shapes
    big_s = corpus.open_corpus(study(big)).shapes
    assert big_s.embed_dim == 40 and small_s.embed_dim == 16
    n = [count_parameters(build_model("self", "T", s, ModelConfig())) for s in (small_s, big_s)]
    assert n[1] > n[0]
    mix = build_model("self", "A", small_s, ModelConfig()).encoders["A"].mix
    assert mix.in_channels == small_s.audio_frames               # frame mixing follows frames


def test_loaded_once_and_shared_through_the_npy_cache(pkl, tmp_path, monkeypatch):
    import shutil

    from harness.data import mmsa_cache
    from harness.plan import make_plan

    p = tmp_path / "c.pkl"
    shutil.copy(pkl, p)
    s = study(p)
    corpus.release_data()
    calls = []
    real = mmsa._ArraysOnly.load
    monkeypatch.setattr(mmsa._ArraysOnly, "load", lambda self: calls.append(1) or real(self))
    plan = make_plan(s, "x")
    assert not mmsa_cache.cache_dir(p).exists()                    # written after the checks
    corpus.open_corpus(s).check((1,), "AVT")                       # as run-study does first
    a = corpus.load_run_fold(plan.runs[0].data, 1)
    b = corpus.load_run_fold(plan.runs[0].data, 1)
    assert a is b and len(calls) == 1                              # unpickled once
    arrays = mmsa.load_pickle(p)["train"]
    assert a.train._arrays is arrays and isinstance(arrays["audio"], np.memmap)
    assert mmsa_cache.cache_dir(p).is_dir()
    corpus.release_data()                                          # as a fresh worker
    assert isinstance(mmsa.load_pickle(p)["test"]["text"], np.memmap) and len(calls) == 1
    _corrupt(p, lambda d: d["test"]["regression_labels"].__setitem__(0, -3.0))
    corpus.release_data()                                          # a changed file: rebuilt
    assert mmsa.load_pickle(p)["test"]["regression_labels"][0] == -3.0 and len(calls) == 2


# --- study rules --------------------------------------------------------------------------
@pytest.mark.parametrize("over, words", [
    ({"folds": 5}, ["folds", "one fixed"]),
    ({"folds": [2]}, ["folds", "1 for data.format mmsa"]),
])
def test_single_split_needs_folds_1(pkl, over, words):
    with pytest.raises(StudyError) as err:
        study(pkl, **over)
    for w in words:
        assert w in str(err.value)


def test_bad_rules_and_classes(pkl):
    with pytest.raises(StudyError, match="data.labels.*acc7"):
        study(pkl, "acc5")
    with pytest.raises(StudyError, match="data.classes.*7 class names"):
        parse_study({"name": "m", "data": {"format": "mmsa", "path": "x.pkl", "labels": "acc7",
                                           "classes": ["neg", "pos"]},
                     "models": ["self"], "folds": 1, "seeds": 1})
    s = parse_study({"name": "m", "data": {"format": "mmsa", "path": "x.pkl",
                                           "labels": "classification_labels",
                                           "classes": ["neg", "weak", "neu", "pos"]},
                     "models": ["self"], "folds": 1, "seeds": 1})
    assert s.n_classes == 4                                      # the file decides the count


# --- checks: every one exits 2 naming split and key, nothing written ----------------------
def _corrupt(path, fn):
    with open(path, "rb") as fh:
        data = pickle.load(fh)
    fn(data)
    with open(path, "wb") as fh:
        pickle.dump(data, fh)


def _nan(d):
    d["valid"]["audio"][3, 2, 1] = np.nan


CASES = [
    (lambda d: d.pop("valid"), ["splits", "valid"]),
    (lambda d: d["test"].pop("vision"), ["'test'", "'vision'", "modality"]),
    (lambda d: d["train"].update(audio=d["train"]["audio"][:-1]), ["'train'", "'audio'", "rows"]),
    (lambda d: d["test"].update(text=d["test"]["text"].astype(np.int32)), ["'test'", "'text'", "float"]),
    (_nan, ["'valid'", "'audio'", "NaN"]),
    (lambda d: d["train"]["vision_lengths"].__setitem__(5, 999), ["'train'", "'vision_lengths'", "padded"]),
    (lambda d: d["test"]["regression_labels"].__setitem__(0, 3.5), ["'test'", "'regression_labels'", "[-3, 3]"]),
    (lambda d: d["valid"].update(audio=d["valid"]["audio"][:, :, :3]), ["'valid'", "'audio'", "splits must agree"]),
]


@pytest.mark.parametrize("fn, words", CASES)
def test_each_fault_exits_2_naming_split_and_key(pkl, tmp_path, write_study, capsys, fn, words):
    p = tmp_path / "bad.pkl"
    p.write_bytes(pkl.read_bytes())
    _corrupt(p, fn)
    path = write_study({"name": "bad", "data": {"format": "mmsa", "path": str(p)},
                        "models": ["self"], "modalities": ["AVT"], "folds": 1, "seeds": 1})
    results = tmp_path / "results"
    assert main(["run-study", str(path), "--results-dir", str(results), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for w in words:
        assert w in err, err
    assert not results.exists()                                    # nothing written
    assert not p.with_name(p.name + ".harness-npy").exists()


def test_not_a_dict_and_foreign_objects(tmp_path):
    p = tmp_path / "x.pkl"
    p.write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(DataError, match="expected a dict with splits.*found list"):
        mmsa.load_pickle(p)
    p.write_bytes(pickle.dumps({"train": {"audio": DataError("x")}}))
    with pytest.raises(DataError, match="harness.errors.DataError"):
        mmsa.load_pickle(p)


def test_rule_needing_a_missing_key(pkl, tmp_path):
    p = tmp_path / "c.pkl"
    p.write_bytes(pkl.read_bytes())
    _corrupt(p, lambda d: [d[s].pop("classification_labels") for s in d])
    with pytest.raises(DataError, match="'classification_labels'.*data.labels classification"):
        corpus.open_corpus(study(p, "classification_labels")).check((1,))


# --- the planted signal and studies through training -----------------------------------------
def test_text_carries_the_strongest_signal(pkl):
    from sklearn.linear_model import LogisticRegression

    fold = corpus.open_corpus(study(pkl)).load_fold(1)
    acc = {}
    for m in "AVT":
        x = [s.batch(np.arange(len(s)), m)[m].numpy().mean(axis=1) for s in (fold.train, fold.test)]
        clf = LogisticRegression(max_iter=2000).fit(x[0], fold.train.labels)
        acc[m] = clf.score(x[1], fold.test.labels)
    chance = np.bincount(fold.test.labels).max() / len(fold.test)
    assert SIGNAL["text"] > SIGNAL["vision"] > SIGNAL["audio"]
    assert acc["T"] > acc["V"] > chance and acc["T"] > acc["A"], acc


@pytest.fixture(scope="module")
def cli_pkl(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "syn.pkl"
    assert main(["make-synthetic", "--format", "mmsa", str(out), "--quiet"]) == 0
    return out


@pytest.mark.parametrize("labels", ["acc2", "acc7"])
def test_self_and_cross_study_through_stats_and_report(cli_pkl, tmp_path, write_study, labels):
    name = f"mmsa_{labels}"
    path = write_study({"name": name,
                        "data": {"format": "mmsa", "path": str(cli_pkl), "labels": labels},
                        "models": ["self", "cross"], "modalities": ["AV", "AVT"], "folds": 1,
                        "seeds": 2, "training": {"max_epochs": 1, "patience": 1},
                        "report": {"figures": False}})
    results, reports = tmp_path / "results", tmp_path / "reports"
    rc = main(["run-study", str(path), "--results-dir", str(results), "--reports-dir",
               str(reports), "--quiet"])
    assert rc == 0
    from harness import table

    folder = table.load(results / name)
    runs = folder.runs
    assert len(runs) == 8 and set(runs.status) == {"ok"}
    assert set(runs.model) == {"self", "cross"} and set(runs.modalities) == {"AV", "AVT"}
    assert set(runs.fold) == {1} and set(runs.seed) == {1, 2}
    n_classes = 2 if labels == "acc2" else 7
    assert folder.predictions(runs.run_id.iloc[0])["test_proba"].shape[1] == n_classes
    assert folder.study.data.labels == labels and folder.study.n_classes == n_classes
    stats = folder.stats_json()
    assert stats["meta"]["n_folds"] == 1 and stats["headline"]
    report = (reports / name / "report.md").read_text()
    assert f"labels '{labels}'" in report and mmsa.LABEL_RULES[labels][-1] in report
    assert "fold 1: train 200, dev 60, test 120" in report          # recorded by run-study
    assert folder.corpus["split_sizes"] == {1: {"train": 200, "dev": 60, "test": 120}}
