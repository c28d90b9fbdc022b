"""Reader for the Yoon et al. pre-processing of IEMOCAP (and synthetic data in its format).

Layout: one folder per fold ``root/fold01`` ... ``root/fold05``; each holds, for split in
train/dev/test::

    {split}_audio_mfcc.npy      [N, Ta=1000, Da=120] float   MFCC frames
    {split}_audio_seqN.npy      [N]                  int     valid audio frames
    {split}_audio_prosody.npy   [N, 35]              float   prosody (unused; N checked)
    {split}_nlp_trans.npy       [N, L=128]           int     token ids, 0 = padding
    {split}_video.npy           [N, Tv=32, Dv=2048]  float   ResNet features per frame
    {split}_video_seqN.npy      [N]                  int     valid video frames
    {split}_label.npy           [N]                  int     class id 0..n_classes-1

and ``W_embedding.npy`` [vocab, E=300] float (GloVe rows of the token ids). ``dic.pkl``
(word -> id) is optional: nothing reads it (the token ids index W_embedding directly), so a
fold without it is complete; when present its bytes enter the fingerprint. Arrays are
memory-mapped; utterances whose video_seqN is 0 are dropped from every split; text is looked
up through W_embedding per batch.

This module is the only one that knows these file names and the ``foldNN`` folders: the
rest of harness reaches it through :mod:`harness.data.corpus` (format ``iemocap_yoon``).
Every problem found in the files is a :class:`~harness.errors.DataError` whose message names
the file, what was expected and what was found.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.errors import DataError, UserError

from .corpus import CorpusEntry, register_corpus
from .npy import (CACHE, check_array, check_finite, check_range, open_npy, stamp,
                  valid_frame_stats)
from .split import Split

SPLITS = ("train", "dev", "test")
#: IEMOCAP's 7 classes (label ids 0..6) and their utterance counts (7487 in all).
CLASS_NAMES = ("angry", "excited", "happy", "sad", "frustrated", "surprise", "neutral")
CLASS_COUNTS = (1103, 1041, 595, 1084, 1849, 107, 1708)
AUDIO_NORMS = ("none", "standardize")
N_FOLDS = 5
OPTIONAL_FILES = ("dic.pkl",)   # may be absent; not read


@dataclass(frozen=True)
class Shapes:
    """Sizes a model needs."""
    audio_frames: int   # Ta
    audio_dim: int      # Da
    video_frames: int   # Tv
    video_dim: int      # Dv
    text_len: int       # L
    embed_dim: int      # E
    vocab_size: int     # rows of W_embedding

    @property
    def text_tokens(self) -> int:
        """L under the name the models' InputShapes use."""
        return self.text_len


#: Declared shapes of the real format (used when the data is absent, e.g. dry runs).
IEMOCAP_SHAPES = Shapes(audio_frames=1000, audio_dim=120, video_frames=32, video_dim=2048,
                        text_len=128, embed_dim=300, vocab_size=3000)

# file key -> (dtype kind "f"/"i", ndim, what it should be)
_FILES = {
    "audio_mfcc": ("f", 3, "[N, frames, dims] float MFCC"),
    "audio_seqN": ("i", 1, "[N] integer count of valid audio frames"),
    "audio_prosody": ("f", 2, "[N, 35] float prosody"),
    "nlp_trans": ("i", 2, "[N, tokens] integer token ids"),
    "video": ("f", 3, "[N, frames, dims] float video features"),
    "video_seqN": ("i", 1, "[N] integer count of valid video frames"),
    "label": ("i", 1, "[N] integer class ids"),
}
_EMBED = ("f", 2, "[vocab, dims] float word embeddings")
# Kept for callers of the old private names (tests monkeypatch the chunk size through npy).
_CACHE = CACHE


# ----------------------------------------------------------------------------------------
# small helpers and cheap metadata
# ----------------------------------------------------------------------------------------
def fold_dir(root, fold: int) -> Path:
    """``root/fold01`` for fold 1 etc."""
    if isinstance(fold, bool) or not isinstance(fold, (int, np.integer)) or fold < 1:
        raise UserError(f"fold must be a positive integer (1..{N_FOLDS}), found {fold!r}")
    return Path(root) / f"fold{int(fold):02d}"


def fold_ids(root) -> tuple[int, ...]:
    """Fold numbers present under ``root`` (folders ``foldNN``)."""
    root = Path(root)
    if not root.is_dir():
        return ()
    ids = [int(m.group(1)) for p in root.iterdir()
           if p.is_dir() and (m := re.fullmatch(r"fold(\d{2,})", p.name)) and int(m.group(1)) > 0]
    return tuple(sorted(ids))


def _missing_fold(d: Path, root) -> DataError:
    return DataError(f"{d}: fold folder is missing (expected {d.name} with the IEMOCAP "
                     f"files under data root {root})")


def read_shapes(root, fold: int = 1) -> Shapes:
    """Shapes of a data root, from the .npy headers of one fold's train files (cheap)."""
    d = fold_dir(root, fold)
    if not d.is_dir():
        raise _missing_fold(d, root)
    arrays = {}
    for key, name in (("audio_mfcc", "train_audio_mfcc"), ("video", "train_video"),
                      ("nlp_trans", "train_nlp_trans")):
        arrays[key] = open_npy(d / f"{name}.npy", _FILES[key][2])
        check_array(d / f"{name}.npy", arrays[key], _FILES[key])
    emb = open_npy(d / "W_embedding.npy", _EMBED[2])
    check_array(d / "W_embedding.npy", emb, _EMBED)
    mfcc, video = arrays["audio_mfcc"], arrays["video"]
    return Shapes(audio_frames=mfcc.shape[1], audio_dim=mfcc.shape[2],
                  video_frames=video.shape[1], video_dim=video.shape[2],
                  text_len=arrays["nlp_trans"].shape[1], embed_dim=emb.shape[1],
                  vocab_size=emb.shape[0])


def _fold_files(d: Path) -> list[tuple[str, Path, tuple]]:
    out = [("W_embedding", d / "W_embedding.npy", _EMBED)]
    for split in SPLITS:
        for key, spec in _FILES.items():
            out.append((f"{split}_{key}", d / f"{split}_{key}.npy", spec))
    return out


def fingerprint(root, folds) -> str:
    """16 hex chars identifying the data of ``folds`` (cheap, stable across calls).

    Hashes every file's shape and dtype, the whole of every small array (labels, lengths,
    token ids, ...) and a fixed sample of 17 rows of every large one (MFCC, video, ...), plus
    dic.pkl's bytes when present.
    """
    h = hashlib.sha256(b"harness-iemocap-fingerprint-v1")
    for fold in sorted({int(f) for f in folds}):
        d = fold_dir(root, fold)
        if not d.is_dir():
            raise _missing_fold(d, root)
        h.update(f"fold{fold}".encode())
        for name, path, spec in _fold_files(d):
            arr = open_npy(path, spec[2])
            h.update(f"{name}|{arr.shape}|{arr.dtype.str}|".encode())
            if arr.nbytes <= 16 * 2**20:
                h.update(np.ascontiguousarray(arr).tobytes())
            elif arr.shape[0]:
                rows = np.unique(np.linspace(0, arr.shape[0] - 1, 17).round().astype(int))
                h.update(np.ascontiguousarray(arr[rows]).tobytes())
        dic = d / "dic.pkl"
        if dic.is_file():
            h.update(hashlib.sha256(dic.read_bytes()).digest())
    return h.hexdigest()[:16]


# ----------------------------------------------------------------------------------------
# folds
# ----------------------------------------------------------------------------------------
@dataclass
class Fold:
    """One fold of a data root: shapes, class count and its three splits."""
    root: Path
    fold: int
    shapes: Shapes
    n_classes: int
    train: Split
    dev: Split
    test: Split
    audio_norm: str = "none"

    def split(self, name: str) -> Split:
        if name not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {name!r}")
        return getattr(self, name)


def _audio_stats(path: Path, mfcc: np.ndarray, keep: np.ndarray, lengths: np.ndarray,
                 stamp_extra: tuple) -> tuple[np.ndarray, np.ndarray]:
    """Per-dim mean/std [Da] of the valid training frames; cached per file state."""
    key = ("stats", *stamp(path), *stamp_extra)
    if key in CACHE:
        return CACHE[key]
    count, mean, std = valid_frame_stats(mfcc, keep, lengths)
    if count == 0:
        raise DataError(f"{path}: no valid audio frames in the kept training utterances "
                        f"(all audio_seqN are 0); cannot standardise audio")
    CACHE[key] = (mean, std)
    return mean, std


def _check_args(audio_norm, n_classes) -> None:
    if audio_norm not in AUDIO_NORMS:
        raise UserError(f"audio normalisation must be one of {list(AUDIO_NORMS)}, "
                        f"found {audio_norm!r}")
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) \
            or n_classes < 2:
        raise UserError(f"n_classes must be an integer >= 2, found {n_classes!r}")


def _open_arrays(d: Path):
    """Memory-map every file of a fold and check dtypes, ranks and row counts (headers only)."""
    emb_path = d / "W_embedding.npy"
    emb = open_npy(emb_path, _EMBED[2])
    check_array(emb_path, emb, _EMBED)
    if emb.shape[0] < 2 or emb.shape[1] < 1:
        raise DataError(f"{emb_path}: expected at least 2 rows (padding + words) and 1 "
                        f"column, found shape {tuple(emb.shape)}")
    arrays: dict[str, dict[str, np.ndarray]] = {}
    paths: dict[str, dict[str, Path]] = {}
    for split in SPLITS:
        arrays[split], paths[split] = {}, {}
        for key, spec in _FILES.items():
            p = d / f"{split}_{key}.npy"
            arr = open_npy(p, spec[2])
            check_array(p, arr, spec)
            arrays[split][key], paths[split][key] = arr, p
        ref = paths[split]["label"]
        n = arrays[split]["label"].shape[0]
        for key, arr in arrays[split].items():
            if arr.shape[0] != n:
                raise DataError(f"{paths[split][key]}: has {arr.shape[0]} utterances but "
                                f"{ref.name} has {n}; all {split} files must have the "
                                f"same number of rows")
        if n == 0:
            raise DataError(f"{ref}: split {split!r} has no utterances")
    _check_splits_agree(arrays, paths)
    return emb_path, emb, arrays, paths


def _check_splits_agree(arrays, paths) -> None:
    """Feature sizes must agree between splits (train is the reference)."""
    for key, dims, what in (("audio_mfcc", slice(1, 3), "[frames, dims]"),
                            ("video", slice(1, 3), "[frames, dims]"),
                            ("audio_prosody", slice(1, 2), "[dims]"),
                            ("nlp_trans", slice(1, 2), "[tokens]")):
        want = arrays["train"][key].shape[dims]
        for split in SPLITS[1:]:
            got = arrays[split][key].shape[dims]
            if got != want:
                raise DataError(f"{paths[split][key]}: {what} is {list(got)} but "
                                f"{paths['train'][key].name} has {list(want)}; splits must "
                                f"agree")


def _read_small(arrays, paths, n_classes: int, emb_path: Path, vocab: int) -> dict:
    """Labels, lengths and token ids of every split, range-checked (small arrays, read fully)."""
    small = {}
    for split in SPLITS:
        a, p = arrays[split], paths[split]
        lab = np.asarray(a["label"]).astype(np.int64)
        check_range(p["label"], lab, 0, n_classes - 1, "labels (class ids)")
        aseq = np.asarray(a["audio_seqN"]).astype(np.int64)
        vseq = np.asarray(a["video_seqN"]).astype(np.int64)
        check_range(p["audio_seqN"], aseq, 0, np.iinfo(np.int64).max, "valid frame counts")
        check_range(p["video_seqN"], vseq, 0, np.iinfo(np.int64).max, "valid frame counts")
        tok = np.asarray(a["nlp_trans"])
        check_range(p["nlp_trans"], tok, 0, vocab - 1,
                    f"token ids (rows of {emb_path.name}, vocabulary size {vocab})")
        small[split] = dict(label=lab, audio_seqN=np.minimum(aseq, a["audio_mfcc"].shape[1]),
                            video_seqN=np.minimum(vseq, a["video"].shape[1]), tokens=tok)
    return small


def _kept_rows(small, paths) -> dict[str, np.ndarray]:
    """Rows whose video_seqN is not 0, per split (an empty split is an error)."""
    kept = {}
    for split in SPLITS:
        idx = np.flatnonzero(small[split]["video_seqN"] != 0).astype(np.int64)
        if len(idx) == 0:
            raise DataError(f"{paths[split]['video_seqN']}: every utterance has "
                            f"video_seqN 0, so split {split!r} is empty after dropping them")
        kept[split] = idx
    return kept


def load_fold(root, fold: int, n_classes: int, audio_norm: str = "none",
              check_finite: bool = True) -> Fold:
    """Open and check one fold; see the module docstring for the format.

    ``audio_norm``: "none" (raw MFCCs, as the published code) or "standardize" (per-dim
    mean/std of the training split's valid frames, applied to valid frames of every split;
    padding frames become 0).
    ``check_finite=False`` skips the NaN/inf scan of the feature arrays (a full read of
    the fold): training workers use it because run-study has scanned every planned fold
    before starting them. Every other check is cheap and always done.
    """
    _check_args(audio_norm, n_classes)
    root = Path(root)
    d = fold_dir(root, fold)
    if not d.is_dir():
        raise _missing_fold(d, root)
    emb_path, emb, arrays, paths = _open_arrays(d)
    vocab = emb.shape[0]
    small = _read_small(arrays, paths, n_classes, emb_path, vocab)
    if check_finite:                                 # chunked, cached per file
        _check_finite_all(emb_path, emb, arrays, paths)
    kept = _kept_rows(small, paths)
    mean = std = None
    if audio_norm == "standardize":
        tr = small["train"]
        keep = np.zeros(len(tr["label"]), bool)
        keep[kept["train"]] = True
        mean, std = _audio_stats(paths["train"]["audio_mfcc"], arrays["train"]["audio_mfcc"],
                                 keep, tr["audio_seqN"],
                                 stamp(paths["train"]["audio_seqN"])
                                 + stamp(paths["train"]["video_seqN"]))
    embedding = np.ascontiguousarray(emb)                     # [vocab, E] in memory
    splits = {}
    for split in SPLITS:
        idx, s = kept[split], small[split]
        splits[split] = Split(
            name=split,
            paths={"A": paths[split]["audio_mfcc"], "V": paths[split]["video"]},
            index=idx, labels=s["label"][idx], audio_len=s["audio_seqN"][idx],
            video_len=s["video_seqN"][idx],
            tokens=np.ascontiguousarray(s["tokens"][idx]).astype(np.int64),
            embedding=embedding, audio_mean=mean, audio_std=std)
    mf, vd = arrays["train"]["audio_mfcc"], arrays["train"]["video"]
    shapes = Shapes(audio_frames=mf.shape[1], audio_dim=mf.shape[2],
                    video_frames=vd.shape[1], video_dim=vd.shape[2],
                    text_len=arrays["train"]["nlp_trans"].shape[1],
                    embed_dim=emb.shape[1], vocab_size=vocab)
    return Fold(root=root, fold=int(fold), shapes=shapes, n_classes=int(n_classes),
                train=splits["train"], dev=splits["dev"], test=splits["test"],
                audio_norm=audio_norm)


def _check_finite_all(emb_path, emb, arrays, paths) -> None:
    check_finite(emb_path, emb)
    for split in SPLITS:
        for key in ("audio_mfcc", "audio_prosody", "video"):
            check_finite(paths[split][key], arrays[split][key])


# ----------------------------------------------------------------------------------------
# the corpus seam (format "iemocap_yoon"; harness.data.synthetic registers "synthetic")
# ----------------------------------------------------------------------------------------
class YoonCorpus:
    """A data root in the Yoon et al. layout, as a :class:`harness.data.corpus.Corpus`."""

    def __init__(self, data, root: Path, classes: tuple[str, ...]):
        _check_args(data.audio_norm, len(classes))
        self.format = data.format
        self.root = Path(root)
        self.class_names = tuple(classes)
        self.audio_norm = data.audio_norm
        self.folds = fold_ids(self.root)
        self._shapes = None

    @property
    def shapes(self):
        """InputShapes from the headers of the first fold present."""
        from harness.models.shapes import InputShapes

        if self._shapes is None:
            if not self.folds:
                raise DataError(f"{self.root}: holds no fold folder (expected fold01 ... "
                                f"with the IEMOCAP files)")
            s = read_shapes(self.root, self.folds[0])
            self._shapes = InputShapes(s.audio_frames, s.audio_dim, s.video_frames,
                                       s.video_dim, s.embed_dim, len(self.class_names),
                                       text_tokens=s.text_len)
        return self._shapes

    def fingerprint(self, folds) -> str:
        return fingerprint(self.root, folds)

    def check(self, folds, modalities: str = "AVT") -> None:
        for f in folds:   # every check of the reader, the NaN/inf scan included
            load_fold(self.root, f, n_classes=len(self.class_names), audio_norm="none")

    def load_fold(self, fold: int) -> Fold:
        # run-study has checked every planned fold (NaN/inf included) before training starts;
        # a NaN slipping through another way still ends the run as failed (NonFiniteLoss).
        return load_fold(self.root, fold, n_classes=len(self.class_names),
                         audio_norm=self.audio_norm, check_finite=False)

    def notes(self, folds) -> list[str]:
        out = []
        for f in folds:
            fold = self.load_fold(f)
            dropped = {s: int(np.load(fold_dir(self.root, f) / f"{s}_label.npy",
                                      mmap_mode="r").shape[0]) - len(fold.split(s))
                       for s in SPLITS}
            if any(dropped.values()):
                out.append(f"fold {f}: utterances without video (video_seqN 0) dropped: "
                           + ", ".join(f"{s} {n}" for s, n in dropped.items()))
        return out

    def describe(self) -> dict:
        out = {"format": self.format, "classes": list(self.class_names), "folds": {}}
        for f in self.folds:
            fold = self.load_fold(f)
            out["folds"][f] = {s: len(fold.split(s)) for s in SPLITS}
        return out


def declared_shapes(data, n_classes: int):
    from harness.models.shapes import InputShapes

    s = IEMOCAP_SHAPES
    return InputShapes(s.audio_frames, s.audio_dim, s.video_frames, s.video_dim, s.embed_dim,
                       n_classes, text_tokens=s.text_len)


register_corpus(CorpusEntry(
    "iemocap_yoon", open=YoonCorpus, declared_shapes=declared_shapes,
    description="IEMOCAP as pre-processed by Yoon et al. (ICASSP 2020): fold01..fold05",
    options=("audio_norm",), path_hint="fold01..fold05 in the Yoon et al. format"))
