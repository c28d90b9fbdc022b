"""IEMOCAP reader: reading, dropping, batches, audio standardisation, errors, fingerprint."""

import pickle
import shutil

import numpy as np
import pytest
import torch

import harness.data.npy as npy
from harness.data import (PRESETS, Shapes, fingerprint, fold_dir, load_fold,
                          make_synthetic, read_shapes)
from harness.errors import DataError, UserError

CFG = PRESETS["small"]


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return make_synthetic(tmp_path_factory.mktemp("data") / "syn", preset="small", seed=0)


@pytest.fixture
def copy(root, tmp_path):
    """A private copy of fold01 of the synthetic root, to corrupt."""
    dst = tmp_path / "root"
    shutil.copytree(root / "fold01", dst / "fold01")
    return dst


def raw(root, split, key, fold=1):
    return np.load(fold_dir(root, fold) / f"{split}_{key}.npy")


# ----------------------------------------------------------------------------------------
def test_read_shapes_and_load(root):
    shapes = read_shapes(root)
    assert shapes == Shapes(CFG["audio_frames"], CFG["audio_dim"], CFG["video_frames"],
                            CFG["video_dim"], CFG["text_len"], CFG["embed_dim"],
                            CFG["vocab_size"])
    fold = load_fold(root, 2, n_classes=7)
    assert fold.shapes == shapes and fold.fold == 2 and fold.n_classes == 7
    assert [fold.split(s).name for s in ("train", "dev", "test")] == ["train", "dev", "test"]


def test_drops_utterances_without_video(root):
    fold = load_fold(root, 1, 7)
    for split in ("train", "dev", "test"):
        sp = fold.split(split)
        vseq = raw(root, split, "video_seqN")
        np.testing.assert_array_equal(sp.index, np.flatnonzero(vseq != 0))
        assert sp.n == (vseq != 0).sum()
        assert sp.index.dtype == np.int64 and sp.labels.dtype == np.int64
        np.testing.assert_array_equal(sp.labels, raw(root, split, "label")[sp.index])
    assert fold.train.n < len(raw(root, "train", "label"))   # some were dropped


def test_batch_contents_and_order(root):
    fold = load_fold(root, 1, 7)
    sp = fold.dev
    rows = np.array([5, 0, 17, 3, 3, sp.n - 1])                  # unsorted, repeated
    b = sp.batch(rows, "AVT")
    assert set(b) == {"A", "V", "T"}          # model input only: labels are sp.labels
    orig = sp.index[rows]
    np.testing.assert_array_equal(b["A"].numpy(), raw(root, "dev", "audio_mfcc")[orig])
    np.testing.assert_array_equal(b["V"].numpy(), raw(root, "dev", "video")[orig])
    w = np.load(fold_dir(root, 1) / "W_embedding.npy")
    tokens = raw(root, "dev", "nlp_trans")[orig]
    np.testing.assert_array_equal(b["T"].numpy(), w[tokens])     # [B, L, E] lookup
    assert tuple(b["T"].shape) == (6, CFG["text_len"], CFG["embed_dim"])
    np.testing.assert_array_equal(sp.labels[rows], raw(root, "dev", "label")[orig])
    assert len(sp) == sp.n and b["A"].dtype == torch.float32
    # one at a time gives the same rows
    for i, r in enumerate(rows):
        one = sp.batch(np.array([r]), "V")
        assert set(one) == {"V"}
        assert torch.equal(one["V"][0], b["V"][i])
    b64 = sp.batch(rows, "T", dtype=torch.float64)
    assert set(b64) == {"T"} and b64["T"].dtype == torch.float64
    with pytest.raises(IndexError):
        sp.batch(np.array([sp.n]), "A")
    with pytest.raises(ValueError):
        sp.batch(np.array([0]), "AX")


def _valid_frames(root, split, index):
    x = raw(root, split, "audio_mfcc")[index].astype(np.float64)
    n = raw(root, split, "audio_seqN")[index]
    return x[np.arange(x.shape[1])[None, :] < n[:, None]]        # [frames, Da]


def test_standardize_uses_training_statistics(root, copy, monkeypatch):
    monkeypatch.setattr(npy, "_CHUNK_BYTES", 20_000)          # force many chunks
    fold = load_fold(copy, 1, 7, audio_norm="standardize")
    frames = _valid_frames(copy, "train", fold.train.index)
    np.testing.assert_allclose(fold.train.audio_mean, frames.mean(0), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(fold.train.audio_std, frames.std(0), rtol=1e-9)
    # normalised train valid frames: mean ~0, std ~1; padding frames stay 0
    b = fold.train.batch(np.arange(fold.train.n), "A")["A"].numpy()
    valid = np.arange(b.shape[1])[None, :] < fold.train.audio_len[:, None]
    np.testing.assert_allclose(b[valid].mean(0), 0, atol=1e-4)
    np.testing.assert_allclose(b[valid].std(0), 1, atol=1e-4)
    assert not b[~valid].any()
    dev_before = fold.dev.batch(np.arange(4), "A")["A"].numpy()
    # change dev and test audio: the statistics must not move
    for split in ("dev", "test"):
        p = fold_dir(copy, 1) / f"{split}_audio_mfcc.npy"
        np.save(p, np.load(p) * 10 + 5)
    again = load_fold(copy, 1, 7, audio_norm="standardize")
    np.testing.assert_array_equal(again.train.audio_mean, fold.train.audio_mean)
    np.testing.assert_array_equal(again.train.audio_std, fold.train.audio_std)
    np.testing.assert_array_equal(again.dev.audio_mean, fold.train.audio_mean)
    dev_after = again.dev.batch(np.arange(4), "A")["A"].numpy()
    valid = np.arange(dev_after.shape[1])[None, :] < again.dev.audio_len[:4, None]
    changed = raw(copy, "dev", "audio_mfcc")[again.dev.index[:4]].astype(np.float64)
    expect = (changed - fold.train.audio_mean) / fold.train.audio_std
    np.testing.assert_allclose(dev_after[valid], expect[valid], rtol=1e-4, atol=1e-4)
    assert not np.allclose(dev_after[valid], dev_before[valid])
    assert not dev_after[~valid].any()


def test_none_keeps_raw_mfcc(root):
    fold = load_fold(root, 1, 7, audio_norm="none")
    assert fold.train.audio_mean is None
    b = fold.train.batch(np.arange(3), "A")["A"].numpy()
    np.testing.assert_array_equal(b, raw(root, "train", "audio_mfcc")[fold.train.index[:3]])
    with pytest.raises(UserError, match="standardize"):
        load_fold(root, 1, 7, audio_norm="zscore")


def test_split_pickles_without_arrays(root):
    fold = load_fold(root, 1, 7, audio_norm="standardize")
    blob = pickle.dumps(fold.test)
    assert len(blob) < 200_000
    back = pickle.loads(blob)
    rows = np.array([2, 1])
    for m in "AVT":
        assert torch.equal(back.batch(rows, m)[m], fold.test.batch(rows, m)[m])


# ----------------------------------------------------------------------------------------
# malformed data: one DataError naming the file
def _save(copy, name, arr):
    np.save(fold_dir(copy, 1) / name, arr)


def _expect(copy, fname, *words):
    with pytest.raises(DataError) as err:
        load_fold(copy, 1, 7)
    msg = str(err.value)
    assert fname in msg, msg
    for w in words:
        assert w in msg, msg
    return msg


def test_missing_fold_folder(copy):
    with pytest.raises(DataError, match="fold03"):
        load_fold(copy, 3, 7)
    with pytest.raises(DataError, match="fold03"):
        read_shapes(copy, 3)


def test_missing_file(copy):
    (fold_dir(copy, 1) / "dev_video.npy").unlink()
    _expect(copy, "dev_video.npy", "missing")


def test_wrong_shape(copy):
    a = raw(copy, "train", "audio_mfcc")
    _save(copy, "train_audio_mfcc.npy", a.reshape(a.shape[0], -1))
    _expect(copy, "train_audio_mfcc.npy", "3-D")


def test_feature_dim_disagrees_between_splits(copy):
    _save(copy, "test_video.npy", raw(copy, "test", "video")[:, :, :5])
    _expect(copy, "test_video.npy", "train_video.npy")


def test_wrong_dtype(copy):
    _save(copy, "dev_label.npy", raw(copy, "dev", "label").astype(np.float32))
    _expect(copy, "dev_label.npy", "integer", "float32")
    _save(copy, "dev_label.npy", raw(copy, "dev", "label").astype(np.int16))   # ok
    _save(copy, "train_video.npy", raw(copy, "train", "video").astype(np.int32))
    _expect(copy, "train_video.npy", "float", "int32")


def test_float64_and_other_int_dtypes_accepted(copy):
    _save(copy, "train_audio_mfcc.npy", raw(copy, "train", "audio_mfcc").astype(np.float64))
    _save(copy, "train_nlp_trans.npy", raw(copy, "train", "nlp_trans").astype(np.uint16))
    ref = load_fold(copy, 1, 7, audio_norm="standardize")
    _save(copy, "train_audio_mfcc.npy", np.asfortranarray(raw(copy, "train", "audio_mfcc")))
    fold = load_fold(copy, 1, 7, audio_norm="standardize")       # Fortran order: same result
    np.testing.assert_allclose(fold.train.audio_mean, ref.train.audio_mean, rtol=1e-12)
    b = fold.train.batch(np.arange(2), "AT")
    assert b["A"].dtype == torch.float32 and b["T"].dtype == torch.float32


def test_n_mismatch(copy):
    _save(copy, "test_audio_prosody.npy", raw(copy, "test", "audio_prosody")[:-1])
    _expect(copy, "test_audio_prosody.npy", "test_label.npy")


def test_label_out_of_range(copy):
    lab = raw(copy, "train", "label")
    lab[7] = 7
    _save(copy, "train_label.npy", lab)
    _expect(copy, "train_label.npy", "0..6", "found 7")


def test_nan_in_audio(copy, monkeypatch):
    monkeypatch.setattr(npy, "_CHUNK_BYTES", 20_000)          # NaN in a later chunk
    a = raw(copy, "dev", "audio_mfcc")
    a[a.shape[0] - 2, 3, 1] = np.nan
    _save(copy, "dev_audio_mfcc.npy", a)
    _expect(copy, "dev_audio_mfcc.npy", "NaN", f"row {a.shape[0] - 2}")


def test_nan_found_after_a_cached_check(copy):
    load_fold(copy, 1, 7)                                          # caches "finite"
    w = np.load(fold_dir(copy, 1) / "W_embedding.npy")
    w[3, 0] = np.inf
    _save(copy, "W_embedding.npy", w)
    _expect(copy, "W_embedding.npy", "NaN or infinite")


def test_token_beyond_vocab(copy):
    tok = raw(copy, "test", "nlp_trans")
    tok[1, 0] = CFG["vocab_size"]
    _save(copy, "test_nlp_trans.npy", tok)
    _expect(copy, "test_nlp_trans.npy", "W_embedding.npy", str(CFG["vocab_size"]))


def test_not_an_npy_file(root, copy):
    p = fold_dir(copy, 1) / "train_video_seqN.npy"
    p.write_text("this is not numpy")
    _expect(copy, "train_video_seqN.npy", "not a valid .npy")
    shutil.copy(fold_dir(root, 1) / "train_video_seqN.npy", p)
    p = fold_dir(copy, 1) / "train_video.npy"
    p.write_bytes(p.read_bytes()[:-100])                           # truncated
    _expect(copy, "train_video.npy", "not a valid .npy")


# ----------------------------------------------------------------------------------------
def test_fingerprint(root, copy):
    a = fingerprint(root, [1])
    assert len(a) == 16 and int(a, 16) >= 0
    assert fingerprint(root, [1]) == a == fingerprint(copy, [1])
    assert fingerprint(root, [1, 2]) != a
    lab = raw(copy, "dev", "label")
    lab[0] = (lab[0] + 1) % 7
    _save(copy, "dev_label.npy", lab)
    b = fingerprint(copy, [1])
    assert b != a
    _save(copy, "dev_label.npy", raw(root, "dev", "label"))
    assert fingerprint(copy, [1]) == a
    _save(copy, "train_audio_mfcc.npy", raw(root, "train", "audio_mfcc")[:, :-1])
    assert fingerprint(copy, [1]) != a
    with pytest.raises(DataError, match="fold04"):
        fingerprint(copy, [4])


def test_dic_pkl_is_optional(root, copy):
    """dic.pkl is not read (token ids index W_embedding): a fold without it is complete."""
    with_dic = load_fold(copy, 1, 7)
    (fold_dir(copy, 1) / "dic.pkl").unlink()
    without = load_fold(copy, 1, 7)
    rows = np.arange(5)
    assert torch.equal(without.test.batch(rows, "T")["T"], with_dic.test.batch(rows, "T")["T"])
    assert fingerprint(copy, [1]) != fingerprint(root, [1])   # its bytes count when present


# ----------------------------------------------------------------------------------------
# the corpus seam: a format registered at run time, with no edit to any other module
class _ToySplit:
    def __init__(self, name, x, y):
        self.name, self._x, self.labels = name, x, y
        self.index = np.arange(len(y), dtype=np.int64)

    def __len__(self):
        return len(self.labels)

    def batch(self, rows, modalities, dtype=torch.float32):
        return {m: torch.from_numpy(self._x[m][rows]).to(dtype) for m in modalities}


class _ToyFold:
    def __init__(self, fold, shapes):
        rng = np.random.default_rng(fold)
        self.shapes, self.n_classes = shapes, shapes.n_classes
        sizes = {"A": (shapes.audio_frames, shapes.audio_dim),
                 "V": (shapes.video_frames, shapes.video_dim),
                 "T": (shapes.text_tokens, shapes.embed_dim)}
        for split, n in (("train", 40), ("dev", 12), ("test", 16)):
            y = rng.integers(0, shapes.n_classes, n)
            x = {m: (rng.standard_normal((n, *s)) + y[:, None, None]).astype(np.float32)
                 for m, s in sizes.items()}
            setattr(self, split, _ToySplit(split, x, y))


class _ToyCorpus:
    folds = (1, 2)

    def __init__(self, data, path, classes):
        from harness.models import InputShapes

        self.format, self.class_names = data.format, tuple(classes)
        self.shapes = InputShapes(6, 3, 4, 5, 8, len(classes), text_tokens=7)

    def fingerprint(self, folds):
        return "toy" + "".join(map(str, folds))

    def check(self, folds, modalities="AVT"):
        pass

    def load_fold(self, fold):
        return _ToyFold(fold, self.shapes)

    def notes(self, folds):
        return []

    def describe(self):
        return {"format": self.format, "folds": {f: {"train": 40, "dev": 12, "test": 16}
                                                  for f in self.folds}}


def test_toy_corpus_registered_at_run_time_plans_and_trains(tmp_path, write_study, monkeypatch):
    from harness import table
    from harness.cli import main
    from harness.data import corpus as corpus_mod
    from harness.data.corpus import Corpus, CorpusEntry, Fold, Split, register_corpus

    monkeypatch.setattr(corpus_mod, "CORPORA", dict(corpus_mod.CORPORA))  # undone after
    register_corpus(CorpusEntry("toy_corpus", open=_ToyCorpus, description="toy"))
    c = _ToyCorpus(type("D", (), {"format": "toy_corpus"}), tmp_path, ("a", "b", "c"))
    assert isinstance(c, Corpus) and isinstance(c.load_fold(1), Fold)
    assert isinstance(c.load_fold(1).test, Split)
    path = write_study({"name": "toy", "data": {"format": "toy_corpus", "path": str(tmp_path),
                                               "classes": ["a", "b", "c"]},
                        "models": ["self", "cross"], "modalities": ["AT", "AVT"],
                        "folds": [2], "seeds": [1],
                        "training": {"max_epochs": 1}, "execution": {"backend": "sequential"}})
    results = tmp_path / "results"
    assert main(["run-study", str(path), "--results-dir", str(results), "--quiet",
                 "--no-report"]) == 0
    runs = table.load(results / "toy").runs
    assert len(runs) == 4 and set(runs.status) == {"ok"} and set(runs.epochs) == {1}
    assert set(runs.fold) == {2} and set(runs.n_test) == {16}
