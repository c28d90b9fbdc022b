"""Synthetic generator: file set, shapes, folds, determinism, safety, learnability."""

import hashlib
import json
import os

import numpy as np
import pytest

from harness.data import (CLASS_COUNTS, IEMOCAP_SHAPES, PRESETS, SIGNAL, SPLITS,
                          ensure_synthetic, is_synthetic, load_fold, make_synthetic,
                          read_shapes)
from harness.errors import DataError, UserError

KEYS = ("audio_mfcc", "audio_seqN", "audio_prosody", "nlp_trans", "video", "video_seqN",
        "label")


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return make_synthetic(tmp_path_factory.mktemp("syn") / "data", preset="small", seed=0)


def _digest(root):
    """sha256 of every file under root, by relative path."""
    out = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            p = os.path.join(dirpath, name)
            out[os.path.relpath(p, root)] = hashlib.sha256(open(p, "rb").read()).hexdigest()
    return out


def test_every_file_of_every_fold_with_right_shapes(root):
    cfg = PRESETS["small"]
    meta = json.loads((root / "SYNTHETIC.json").read_text())
    assert meta == {"preset": "small", "utterances": cfg["utterances"], "seed": 0,
                    "signal": SIGNAL, "generator_version": meta["generator_version"]}
    assert is_synthetic(root) == meta
    names = sorted(os.listdir(root))
    assert names == ["SYNTHETIC.json"] + [f"fold{k:02d}" for k in range(1, 6)]
    for k in range(1, 6):
        d = root / f"fold{k:02d}"
        want = {"W_embedding.npy", "dic.pkl"} | {f"{s}_{key}.npy" for s in SPLITS
                                                  for key in KEYS}
        assert set(os.listdir(d)) == want          # nothing else (no temp files)
        w = np.load(d / "W_embedding.npy")
        assert w.shape == (cfg["vocab_size"], cfg["embed_dim"]) and w.dtype == np.float32
        assert not w[0].any()                      # padding row
        total = 0
        for s in SPLITS:
            a = {key: np.load(d / f"{s}_{key}.npy") for key in KEYS}
            n = len(a["label"])
            total += n
            assert a["audio_mfcc"].shape == (n, cfg["audio_frames"], cfg["audio_dim"])
            assert a["audio_prosody"].shape == (n, 35)
            assert a["video"].shape == (n, cfg["video_frames"], cfg["video_dim"])
            assert a["nlp_trans"].shape == (n, cfg["text_len"])
            for key in ("audio_mfcc", "audio_prosody", "video"):
                assert a[key].dtype == np.float32
            for key in ("audio_seqN", "video_seqN", "label", "nlp_trans"):
                assert a[key].dtype == np.int64 and a[key].shape[0] == n
            assert a["nlp_trans"].max() < cfg["vocab_size"] and a["nlp_trans"].min() >= 0
            # every class present in every split, also after dropping missing video
            assert set(a["label"][a["video_seqN"] > 0]) == set(range(7))
        assert total == cfg["utterances"]


def test_padding_missing_video_and_mfcc_scale(root):
    d = root / "fold01"
    mfcc = np.load(d / "train_audio_mfcc.npy")
    aseq = np.load(d / "train_audio_seqN.npy")
    frames = np.arange(mfcc.shape[1])
    valid = frames[None, :] < aseq[:, None]
    assert not mfcc[~valid].any() and (aseq >= 1).all()
    tok = np.load(d / "train_nlp_trans.npy")
    length = (tok > 0).sum(1)
    assert not tok[np.arange(tok.shape[1])[None, :] >= length[:, None]].any()
    video = np.load(d / "train_video.npy")
    vseq = np.load(d / "train_video_seqN.npy")
    assert not video[np.arange(video.shape[1])[None, :] >= vseq[:, None]].any()
    assert 0.005 < np.mean(vseq == 0) < 0.05
    # MFCCs are not standard: offsets and scales far from 0 / 1
    x = mfcc[valid]
    assert x[:, 0].mean() < -200
    assert x.std(0).max() > 10 and x.std(0).min() < 3


def test_class_proportions_and_leave_one_session_out(root):
    cfg = PRESETS["small"]
    labels = np.concatenate([np.load(root / f"fold{k:02d}" / "test_label.npy")
                             for k in range(1, 6)])   # the 5 test sets partition the data
    assert len(labels) == cfg["utterances"]
    p = np.bincount(labels, minlength=7) / len(labels)
    np.testing.assert_allclose(p, np.array(CLASS_COUNTS) / sum(CLASS_COUNTS), atol=0.02)

    def rows(k, split):   # prosody rows identify utterances
        a = np.load(root / f"fold{k:02d}" / f"{split}_audio_prosody.npy")
        return {r.tobytes() for r in a}
    for k in range(1, 6):
        nxt = k % 5 + 1
        tr, dv, te = rows(k, "train"), rows(k, "dev"), rows(k, "test")
        assert not (tr & dv) and not (tr & te) and not (dv & te)
        assert dv < rows(nxt, "test")              # dev = part of the next session
        assert 0.05 < len(dv) / cfg["utterances"] < 0.15


def test_determinism(root, tmp_path):
    same = make_synthetic(tmp_path / "same", preset="small", seed=0)
    assert _digest(same) == _digest(root)
    other = make_synthetic(tmp_path / "other", preset="small", seed=1)
    a, b = _digest(other), _digest(root)
    assert a.keys() == b.keys()
    differ = [k for k in a if a[k] != b[k]]
    assert any("audio_mfcc" in k for k in differ) and any("label" in k for k in differ)


def test_refuses_foreign_folder_and_regenerates_own(tmp_path):
    user = tmp_path / "mine"
    user.mkdir()
    (user / "notes.txt").write_text("precious")
    with pytest.raises(DataError, match="notes.txt|SYNTHETIC.json"):
        make_synthetic(user, preset="small")
    assert os.listdir(user) == ["notes.txt"]
    own = make_synthetic(tmp_path / "own", preset="small", utterances=120, seed=3)
    make_synthetic(own, preset="small", utterances=130, seed=3)     # ours: overwritten
    assert json.loads((own / "SYNTHETIC.json").read_text())["utterances"] == 130
    # an interrupted generation (partial marker, no SYNTHETIC.json) may be redone
    (own / "SYNTHETIC.json").unlink()
    (own / ".SYNTHETIC.partial").write_text("")
    make_synthetic(own, preset="small", utterances=120, seed=3)
    assert not (own / ".SYNTHETIC.partial").exists()


def test_ensure_synthetic(tmp_path):
    root = tmp_path / "d"
    ensure_synthetic(root, "small", seed=2, utterances=110)            # generates
    marker = root / "SYNTHETIC.json"
    stamp = marker.stat().st_mtime_ns
    ensure_synthetic(root, "small", seed=2, utterances=110)            # no-op
    assert marker.stat().st_mtime_ns == stamp
    with pytest.raises(DataError) as err:
        ensure_synthetic(root, "small", seed=5, utterances=110)
    assert "seed=2" in str(err.value) and "seed=5" in str(err.value)
    with pytest.raises(DataError):
        ensure_synthetic(root, "iemocap", seed=2, utterances=110)


def test_bad_arguments(tmp_path):
    with pytest.raises(UserError, match="preset"):
        make_synthetic(tmp_path / "x", preset="huge")
    with pytest.raises(UserError, match="utterances"):
        make_synthetic(tmp_path / "x", preset="small", utterances=10)
    assert not (tmp_path / "x").exists()


def test_signal_documented_order():
    assert SIGNAL["T"] > SIGNAL["V"] > SIGNAL["A"] > 0


def test_iemocap_preset_has_the_real_shapes(tmp_path):
    root = make_synthetic(tmp_path / "ie", preset="iemocap", utterances=100)
    assert read_shapes(root) == IEMOCAP_SHAPES
    fold = load_fold(root, 3, 7)
    b = fold.test.batch(np.arange(2), "AVT")
    assert tuple(b["A"].shape) == (2, 1000, 120) and tuple(b["V"].shape) == (2, 32, 2048)
    assert tuple(b["T"].shape) == (2, 128, 300)


def _pooled(split, m):
    """Mean over valid frames / words: [n, dims]."""
    x = split.batch(np.arange(split.n), m)[m].numpy()
    length = {"A": split.audio_len, "V": split.video_len}.get(m)
    if length is None:
        length = (np.abs(x).sum(-1) > 0).sum(1)
    return x.sum(1) / np.maximum(length, 1)[:, None]


def test_simple_classifier_learns_text_best(root):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    fold = load_fold(root, 1, 7, audio_norm="standardize")
    acc = {}
    for m in "TA":
        clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
        clf.fit(_pooled(fold.train, m), fold.train.labels)
        acc[m] = clf.score(_pooled(fold.test, m), fold.test.labels)
    chance = np.bincount(fold.test.labels).max() / fold.test.n     # majority class
    assert acc["T"] > chance + 0.2
    assert acc["T"] > acc["A"] + 0.05


def test_validate_says_synthetic_data_will_be_generated(tmp_path, write_study, capsys):
    from harness.cli import main

    data = tmp_path / "not_yet"
    path = write_study({"name": "v", "data": {"format": "synthetic", "path": str(data)},
                        "models": ["self"], "modalities": ["T"], "folds": [1], "seeds": [1]})
    assert main(["validate", str(path)]) == 0
    out, err = capsys.readouterr()
    assert "will generate" in out and "not_yet" in out, out
    assert "does not exist" not in out + err and "warning" not in err, err
    assert not data.exists()                                        # validate writes nothing


def test_synthetic_only_keys_rejected_for_real_data(tmp_path, write_study, capsys):
    from harness.cli import main

    base = {"name": "v", "models": ["self"], "modalities": ["T"], "folds": [1], "seeds": [1]}
    for key, value in (("preset", "iemocap"), ("utterances", 500), ("seed", 3)):
        path = write_study({**base, "data": {"format": "iemocap_yoon", "path": "$HOME/x",
                                             key: value}})
        assert main(["validate", str(path)]) == 2
        err = capsys.readouterr().err
        assert f"'data.{key}'" in err and "iemocap_yoon" in err, err
    # a resolved study.yaml lists every key at its default: it must read back
    path = write_study({**base, "data": {"format": "iemocap_yoon", "path": str(tmp_path),
                                         "preset": "small", "seed": 0}})
    from harness.study import load_study

    assert load_study(path).data.format == "iemocap_yoon"
