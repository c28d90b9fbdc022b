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

and ``W_embedding.npy`` [vocab, E=300] float (GloVe rows of the token ids) and ``dic.pkl``
(word -> id; not read). Arrays are memory-mapped; utterances whose video_seqN is 0 are
dropped from every split; text is looked up through W_embedding per batch.

Every problem found in the files is a :class:`~harness.errors.DataError` whose message names
the file, what was expected and what was found.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from harness.errors import DataError, UserError

SPLITS = ("train", "dev", "test")
#: IEMOCAP's 7 classes (label ids 0..6) and their utterance counts (7487 in all).
CLASS_NAMES = ("angry", "excited", "happy", "sad", "frustrated", "surprise", "neutral")
CLASS_COUNTS = (1103, 1041, 595, 1084, 1849, 107, 1708)
AUDIO_NORMS = ("none", "standardize")
N_FOLDS = 5

_STD_FLOOR = 1e-8
_CHUNK_BYTES = 64 * 2**20   # bytes read at once by the chunked checks / statistics


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

# (kind, path, size, mtime_ns, inode, ...) -> result of an expensive check
_CACHE: dict[tuple, object] = {}


# ----------------------------------------------------------------------------------------
# small helpers
# ----------------------------------------------------------------------------------------
def fold_dir(root, fold: int) -> Path:
    """``root/fold01`` for fold 1 etc."""
    if isinstance(fold, bool) or not isinstance(fold, (int, np.integer)) or fold < 1:
        raise UserError(f"fold must be a positive integer (1..{N_FOLDS}), found {fold!r}")
    return Path(root) / f"fold{int(fold):02d}"


def _stamp(path: Path) -> tuple:
    st = os.stat(path)
    return (str(path.resolve()), st.st_size, st.st_mtime_ns, st.st_ino)


def _open(path: Path, what: str) -> np.ndarray:
    """Memory-map a .npy file (read-only); DataError if missing or unreadable."""
    if not path.is_file():
        raise DataError(f"{path}: file is missing (expected {what})")
    try:
        with open(path, "rb") as fh:
            magic = fh.read(6)
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc})") from None
    if magic != b"\x93NUMPY":
        raise DataError(f"{path}: not a valid .npy file (it does not start with the .npy "
                        f"magic bytes; expected {what})")
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - any numpy failure means "not a usable .npy"
        raise DataError(f"{path}: not a valid .npy file (expected {what}); numpy says: "
                        f"{exc}") from None


def _check_array(path: Path, arr: np.ndarray, spec: tuple) -> None:
    kind, ndim, what = spec
    if arr.ndim != ndim:
        raise DataError(f"{path}: expected a {ndim}-D array {what}, found shape "
                        f"{tuple(arr.shape)}")
    ok = arr.dtype.kind == "f" if kind == "f" else arr.dtype.kind in "iu"
    if not ok:
        want = "a float dtype (float32/float64)" if kind == "f" else "an integer dtype"
        raise DataError(f"{path}: expected {what} with {want}, found dtype {arr.dtype}")


def _row_blocks(arr: np.ndarray):
    """Yield (rows slice, in-memory block) of about _CHUNK_BYTES each, in row order.

    A C-ordered memmap is read with plain file reads, so the pages seen do not stay mapped
    (memory stays bounded by one block even for a 3.6 GB audio file).
    """
    n = arr.shape[0]
    row_elems = int(np.prod(arr.shape[1:], dtype=np.int64))
    step = max(1, _CHUNK_BYTES // max(1, arr.itemsize * row_elems))
    direct = isinstance(arr, np.memmap) and arr.filename and arr.flags.c_contiguous
    fh = open(arr.filename, "rb") if direct else None
    try:
        for i in range(0, n, step):
            sl = slice(i, min(n, i + step))
            if fh is None:
                yield sl, np.asarray(arr[sl])
                continue
            fh.seek(arr.offset + i * row_elems * arr.itemsize)
            count = (sl.stop - sl.start) * row_elems
            block = np.fromfile(fh, dtype=arr.dtype, count=count)
            if block.size != count:                     # file shrank under us
                raise DataError(f"{arr.filename}: shorter than its .npy header says")
            yield sl, block.reshape(sl.stop - sl.start, *arr.shape[1:])
    finally:
        if fh is not None:
            fh.close()


def _check_finite(path: Path, arr: np.ndarray) -> None:
    """DataError if any NaN/inf is in ``arr`` (read in chunks; result cached per file)."""
    key = ("finite", *_stamp(path))
    if _CACHE.get(key):
        return
    for sl, block in _row_blocks(arr):
        if np.isfinite(block.sum(dtype=np.float64)):
            continue
        bad = ~np.isfinite(block.reshape(block.shape[0], -1)).all(axis=1)
        if bad.any():   # (a finite float64 block can overflow its sum: then nothing is bad)
            row = sl.start + int(np.flatnonzero(bad)[0])
            raise DataError(f"{path}: contains NaN or infinite values (first in row {row}); "
                            f"expected finite features")
    _CACHE[key] = True


def _check_range(path: Path, arr: np.ndarray, lo: int, hi: int, what: str) -> None:
    """DataError unless lo <= arr <= hi (arr is a small integer array)."""
    if arr.size == 0:
        return
    mn, mx = int(arr.min()), int(arr.max())
    if mn < lo or mx > hi:
        bad = mn if mn < lo else mx
        row = int(np.flatnonzero((arr < lo) | (arr > hi))[0] // max(1, arr[0].size))
        raise DataError(f"{path}: {what} must be in {lo}..{hi}, found {bad} (row {row})")


# ----------------------------------------------------------------------------------------
# cheap metadata
# ----------------------------------------------------------------------------------------
def read_shapes(root, fold: int = 1) -> Shapes:
    """Shapes of a data root, from the .npy headers of one fold's train files (cheap)."""
    d = fold_dir(root, fold)
    if not d.is_dir():
        raise DataError(f"{d}: fold folder is missing (expected {d.name} with the IEMOCAP "
                        f"files under data root {root})")
    mfcc = _open(d / "train_audio_mfcc.npy", _FILES["audio_mfcc"][2])
    video = _open(d / "train_video.npy", _FILES["video"][2])
    text = _open(d / "train_nlp_trans.npy", _FILES["nlp_trans"][2])
    emb = _open(d / "W_embedding.npy", _EMBED[2])
    _check_array(d / "train_audio_mfcc.npy", mfcc, _FILES["audio_mfcc"])
    _check_array(d / "train_video.npy", video, _FILES["video"])
    _check_array(d / "train_nlp_trans.npy", text, _FILES["nlp_trans"])
    _check_array(d / "W_embedding.npy", emb, _EMBED)
    return Shapes(audio_frames=mfcc.shape[1], audio_dim=mfcc.shape[2],
                  video_frames=video.shape[1], video_dim=video.shape[2],
                  text_len=text.shape[1], embed_dim=emb.shape[1], vocab_size=emb.shape[0])


def is_synthetic(root) -> dict | None:
    """Contents of ``root/SYNTHETIC.json`` if present (data made by make_synthetic), else None."""
    p = Path(root) / "SYNTHETIC.json"
    if not p.is_file():
        return None
    try:
        meta = json.loads(p.read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"{p}: not valid JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise DataError(f"{p}: expected a JSON object, found {type(meta).__name__}")
    return meta


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
            raise DataError(f"{d}: fold folder is missing (expected {d.name} under data "
                            f"root {root})")
        h.update(f"fold{fold}".encode())
        for name, path, spec in _fold_files(d):
            arr = _open(path, spec[2])
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
# splits and folds
# ----------------------------------------------------------------------------------------
class Split:
    """One split of one fold, after dropping utterances whose video_seqN is 0.

    Attributes: ``name``; ``n`` kept utterances; ``index`` int64 [n] original row indices
    (in the split's files) of the kept utterances; ``labels`` int64 [n]; ``audio_len`` and
    ``video_len`` int64 [n] valid frames (clipped to the frame count); ``audio_mean`` /
    ``audio_std`` float64 [Da] when audio is standardised (else None).

    Picklable without copying the big arrays: the memmaps are re-opened from their paths.
    """

    def __init__(self, name: str, paths: dict[str, Path], index: np.ndarray,
                 labels: np.ndarray, audio_len: np.ndarray, video_len: np.ndarray,
                 tokens: np.ndarray, embedding: np.ndarray, audio_mean=None, audio_std=None):
        self.name = name
        self.index = index
        self.n = int(len(index))
        self.labels = labels
        self.audio_len = audio_len
        self.video_len = video_len
        self.audio_mean = audio_mean
        self.audio_std = audio_std
        self._paths = paths            # "audio_mfcc" / "video" -> Path
        self._tokens = tokens          # [n, L] int64, kept rows only
        self._embedding = embedding    # [vocab, E] float, in memory
        self._maps: dict[str, np.ndarray] = {}

    def __repr__(self) -> str:
        return f"Split({self.name!r}, n={self.n})"

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_maps"] = {}
        return state

    def _map(self, key: str) -> np.ndarray:
        if key not in self._maps:
            self._maps[key] = np.load(self._paths[key], mmap_mode="r", allow_pickle=False)
        return self._maps[key]

    def _gather(self, key: str, orig: np.ndarray) -> np.ndarray:
        """Rows ``orig`` of a memmapped array, returned as asked.

        The rows are read in ascending file order, each copied straight into its place in
        the result (one copy; a fancy-indexed read followed by a reordering made two).
        """
        src = self._map(key)
        out = np.empty((len(orig),) + src.shape[1:], dtype=src.dtype)
        for i in np.argsort(orig, kind="stable"):
            out[i] = src[orig[i]]
        return out

    def batch(self, rows: np.ndarray, modalities: str,
              dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
        """Tensors for positions ``rows`` (0..n-1) of the kept utterances, in that order.

        Returns ``{"A": [B, Ta, Da], "V": [B, Tv, Dv], "T": [B, L, E], "y": int64 [B]}``
        with only the requested modalities (letters among "AVT"; "y" always).
        """
        rows = np.asarray(rows)
        if rows.ndim != 1 or (rows.size and rows.dtype.kind not in "iu"):
            raise ValueError(f"rows must be a 1-D integer array, got shape {rows.shape} "
                             f"dtype {rows.dtype}")
        rows = rows.astype(np.int64)
        if rows.size and (rows.min() < 0 or rows.max() >= self.n):
            raise IndexError(f"rows must be in 0..{self.n - 1} for split {self.name!r}")
        if set(modalities) - set("AVT"):
            raise ValueError(f"modalities must be letters among 'AVT', got {modalities!r}")
        np_dtype = np.float64 if dtype == torch.float64 else np.float32
        orig = self.index[rows]
        out: dict[str, torch.Tensor] = {}
        if "A" in modalities:
            a = self._gather("audio_mfcc", orig).astype(np_dtype, copy=False)
            if self.audio_mean is not None:
                valid = np.arange(a.shape[1])[None, :] < self.audio_len[rows][:, None]
                a = np.where(valid[..., None],
                             (a - self.audio_mean.astype(np_dtype)) / self.audio_std.astype(np_dtype),
                             np_dtype(0)).astype(np_dtype, copy=False)
            out["A"] = torch.from_numpy(np.ascontiguousarray(a)).to(dtype)
        if "V" in modalities:
            v = self._gather("video", orig).astype(np_dtype, copy=False)
            out["V"] = torch.from_numpy(np.ascontiguousarray(v)).to(dtype)
        if "T" in modalities:
            t = self._embedding[self._tokens[rows]].astype(np_dtype, copy=False)  # [B, L, E]
            out["T"] = torch.from_numpy(np.ascontiguousarray(t)).to(dtype)
        out["y"] = torch.from_numpy(self.labels[rows].copy())
        return out


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
    """Per-dim mean/std [Da] of the valid frames (frame < lengths) of the rows where ``keep``.

    Read in blocks of rows (never the whole array), merged with Chan et al.'s pairwise
    update; cached per file state.
    """
    key = ("stats", *_stamp(path), *stamp_extra)
    if key in _CACHE:
        return _CACHE[key]
    d = mfcc.shape[2]
    count, mean, m2 = 0, np.zeros(d), np.zeros(d)
    frames = np.arange(mfcc.shape[1])
    for sl, block in _row_blocks(mfcc):                                 # [b, Ta, Da]
        k = keep[sl]
        valid_mask = (frames[None, :] < lengths[sl][:, None]) & k[:, None]
        valid = block[valid_mask].astype(np.float64)                    # [frames, Da]
        if not len(valid):
            continue
        bn, bmean = len(valid), valid.mean(axis=0)
        bm2 = ((valid - bmean) ** 2).sum(axis=0)
        delta, tot = bmean - mean, count + bn                           # Chan et al. merge
        mean = mean + delta * bn / tot
        m2 = m2 + bm2 + delta ** 2 * count * bn / tot
        count = tot
    if count == 0:
        raise DataError(f"{path}: no valid audio frames in the kept training utterances "
                        f"(all audio_seqN are 0); cannot standardise audio")
    std = np.maximum(np.sqrt(m2 / count), _STD_FLOOR)
    _CACHE[key] = (mean, std)
    return mean, std


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
    if audio_norm not in AUDIO_NORMS:
        raise UserError(f"audio normalisation must be one of {list(AUDIO_NORMS)}, "
                        f"found {audio_norm!r}")
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) \
            or n_classes < 2:
        raise UserError(f"n_classes must be an integer >= 2, found {n_classes!r}")
    root = Path(root)
    d = fold_dir(root, fold)
    if not d.is_dir():
        raise DataError(f"{d}: fold folder is missing (expected {d.name} with the IEMOCAP "
                        f"files under data root {root})")

    # --- open everything and check structure (cheap: headers only) ---------------------
    emb_path = d / "W_embedding.npy"
    emb = _open(emb_path, _EMBED[2])
    _check_array(emb_path, emb, _EMBED)
    if emb.shape[0] < 2 or emb.shape[1] < 1:
        raise DataError(f"{emb_path}: expected at least 2 rows (padding + words) and 1 "
                        f"column, found shape {tuple(emb.shape)}")
    arrays: dict[str, dict[str, np.ndarray]] = {}
    paths: dict[str, dict[str, Path]] = {}
    for split in SPLITS:
        arrays[split], paths[split] = {}, {}
        for key, spec in _FILES.items():
            p = d / f"{split}_{key}.npy"
            arr = _open(p, spec[2])
            _check_array(p, arr, spec)
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
    # feature sizes must agree between splits (train is the reference)
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

    # --- contents: labels, lengths, token ids (small arrays, read fully) ---------------
    vocab = emb.shape[0]
    small: dict[str, dict[str, np.ndarray]] = {}
    for split in SPLITS:
        a, p = arrays[split], paths[split]
        lab = np.asarray(a["label"]).astype(np.int64)
        _check_range(p["label"], lab, 0, n_classes - 1, "labels (class ids)")
        aseq = np.asarray(a["audio_seqN"]).astype(np.int64)
        vseq = np.asarray(a["video_seqN"]).astype(np.int64)
        _check_range(p["audio_seqN"], aseq, 0, np.iinfo(np.int64).max, "valid frame counts")
        _check_range(p["video_seqN"], vseq, 0, np.iinfo(np.int64).max, "valid frame counts")
        tok = np.asarray(a["nlp_trans"])
        _check_range(p["nlp_trans"], tok, 0, vocab - 1,
                     f"token ids (rows of {emb_path.name}, vocabulary size {vocab})")
        small[split] = dict(label=lab, audio_seqN=np.minimum(aseq, a["audio_mfcc"].shape[1]),
                            video_seqN=np.minimum(vseq, a["video"].shape[1]), tokens=tok)

    # --- NaN / inf (chunked, cached per file) -------------------------------------------
    if check_finite:
        _check_finite(emb_path, emb)
        for split in SPLITS:
            for key in ("audio_mfcc", "audio_prosody", "video"):
                _check_finite(paths[split][key], arrays[split][key])

    # --- drop video_seqN == 0, audio statistics, build splits ---------------------------
    embedding = np.ascontiguousarray(emb)                     # [vocab, E] in memory
    kept = {}
    for split in SPLITS:
        idx = np.flatnonzero(small[split]["video_seqN"] != 0).astype(np.int64)
        if len(idx) == 0:
            raise DataError(f"{paths[split]['video_seqN']}: every utterance has "
                            f"video_seqN 0, so split {split!r} is empty after dropping them")
        kept[split] = idx
    mean = std = None
    if audio_norm == "standardize":
        tr = small["train"]
        keep = np.zeros(len(tr["label"]), bool)
        keep[kept["train"]] = True
        mean, std = _audio_stats(paths["train"]["audio_mfcc"], arrays["train"]["audio_mfcc"],
                                 keep, tr["audio_seqN"],
                                 _stamp(paths["train"]["audio_seqN"])
                                 + _stamp(paths["train"]["video_seqN"]))
    splits = {}
    for split in SPLITS:
        idx, s = kept[split], small[split]
        splits[split] = Split(
            name=split,
            paths={"audio_mfcc": paths[split]["audio_mfcc"], "video": paths[split]["video"]},
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
