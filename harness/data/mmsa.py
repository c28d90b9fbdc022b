"""Reader for the MMSA toolkit's feature pickles (CMU-MOSI, CMU-MOSEI, CH-SIMS): ``data.format: mmsa``.

One pickle (``data.path``) holds a dict with ``train``, ``valid`` and ``test``, each a dict of
arrays over the same N utterances::

    text                 [N, L, Dt]  float   GloVe or BERT vectors per token
    audio                [N, La, Da] float   acoustic frames (COVAREP, librosa, ...)
    vision               [N, Lv, Dv] float   visual frames (Facet, OpenFace, ...)
    audio_lengths        [N] int (optional)  valid audio frames; later frames are padding
    vision_lengths       [N] int (optional)  valid vision frames
    regression_labels    [N] float           sentiment in [-3, 3] (CH-SIMS: [-1, 1])
    classification_labels [N] int (optional) the file's own classes
    id, raw_text, annotations, text_bert ...   ignored

There is one fixed split: fold 1 = (train, valid, test), ``valid`` serving as the dev split.
Class labels follow ``data.labels`` (the conventions of the MMSA toolkit's ``metricsTop.py``,
Yu et al. 2021, and of CMU-MOSI's 7-point scale, Zadeh et al. 2016):

* ``acc2``: negative (y < 0) vs non-negative (y >= 0) -- MMSA's "Has0_acc_2";
* ``acc2_nonzero``: negative (y < 0) vs positive (y > 0), utterances labelled exactly 0
  dropped from every split (counted in ``describe()``) -- MMSA's "Non0_acc_2";
* ``acc7``: ``round(clip(y, -3, 3)) + 3`` with NumPy's round-half-to-even, as MMSA's
  ``Mult_acc_7``; 7 classes named by the CMU-MOSI scale (strongly negative ... strongly positive);
* ``classification_labels``: the file's own ids (MMSA: 0 negative, 1 neutral, 2 positive).

The pickle is unpickled once (an unpickler that accepts only NumPy arrays and plain
containers; still, read only pickles you trust), its arrays written to a memory-mapped .npy
cache next to it (:mod:`.mmsa_cache`) that every process maps once (a module-level cache
keyed by path, size and mtime): parallel workers share one copy through the page cache.
Frames after a given length are set to zero in every batch.
"""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import numpy as np
import torch

from harness.errors import DataError

from . import mmsa_cache
from .corpus import CorpusEntry, register_corpus
from .mmsa_checks import SPLIT_NAMES, check_pickle, modality_keys

#: label rule -> class names in label-id order
LABEL_RULES: dict[str, tuple[str, ...]] = {
    "acc2": ("negative", "non-negative"),
    "acc2_nonzero": ("negative", "positive"),
    "acc7": ("strongly negative", "negative", "weakly negative", "neutral",
             "weakly positive", "positive", "strongly positive"),
    "classification_labels": ("negative", "neutral", "positive"),
}
#: CMU-MOSI's MMSA shapes (unaligned_50.pkl), used only while the file is absent
MOSI_SHAPES = dict(audio_frames=500, audio_dim=5, video_frames=375, video_dim=20,
                   embed_dim=768, text_tokens=50)

# (resolved path, size, mtime_ns) -> {split: {key: array}}: one copy per process
_LOADED: dict[tuple, dict] = {}


def _file_key(path: Path) -> tuple:
    st = path.stat()
    return (str(path.resolve()), st.st_size, st.st_mtime_ns)


class _ArraysOnly(pickle.Unpickler):
    """Unpickles NumPy arrays, numbers, strings and containers; refuses any other class."""

    _ALLOWED = {("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
                ("builtins", "list"), ("builtins", "dict"), ("builtins", "tuple"),
                ("builtins", "set"), ("builtins", "bytearray"),
                ("collections", "OrderedDict")}

    def find_class(self, module, name):
        np_core = module in ("numpy.core.multiarray", "numpy._core.multiarray",
                             "numpy.core.numeric", "numpy._core.numeric")
        if (module, name) in self._ALLOWED or (
                np_core and name in ("_reconstruct", "scalar", "_frombuffer")):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"it holds a {module}.{name} object; harness reads only "
                                     f"NumPy arrays, numbers, strings, lists and dicts")


def load_pickle(path: Path) -> dict:
    """The arrays of an MMSA pickle, once per process: memory-mapped from the shared .npy
    cache (:mod:`.mmsa_cache`) when it exists, else unpickled (see :func:`share`)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: MMSA feature pickle is missing (data.path must name the "
                        f".pkl file, e.g. unaligned_50.pkl)")
    key = _file_key(path)
    if key not in _LOADED:
        _LOADED.clear()                 # one corpus per process: drop a previous file
        arrays = mmsa_cache.read(path)
        if arrays is None:
            try:
                with open(path, "rb") as fh:
                    raw = _ArraysOnly(fh).load()
            except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
                    ImportError, IndexError, KeyError) as exc:
                raise DataError(f"{path}: not a readable MMSA feature pickle ({exc})") from None
            arrays = _keep_arrays(path, raw)
            del raw
        _LOADED[key] = arrays
    return _LOADED[key]


def share(path: Path) -> None:
    """Once every check has passed: write the .npy cache and map it in place of the
    unpickled arrays (a faulty pickle leaves nothing behind)."""
    key = _file_key(Path(path))
    arrays = _LOADED.get(key)
    if arrays is None or any(isinstance(a, np.memmap)
                             for part in arrays.values() for a in part.values()):
        return
    mapped = mmsa_cache.write(Path(path), arrays)
    if mapped is not None:
        _LOADED[key] = mapped


def _keep_arrays(path: Path, raw) -> dict:
    """Only the keys harness uses, as NumPy arrays; frees the rest as it goes."""
    if not isinstance(raw, dict) or not all(s in raw for s in SPLIT_NAMES):
        found = sorted(map(str, raw)) if isinstance(raw, dict) else type(raw).__name__
        raise DataError(f"{path}: expected a dict with splits {list(SPLIT_NAMES)} (MMSA "
                        f"layout), found {found}")
    out = {}
    for split in SPLIT_NAMES:
        part = raw.pop(split)
        if not isinstance(part, dict):
            raise DataError(f"{path}: split '{split}' must be a dict of arrays, found "
                            f"{type(part).__name__}")
        out[split] = {}
        for k in ("text", "audio", "vision", "audio_lengths", "vision_lengths",
                  "regression_labels", "classification_labels"):
            if k in part:
                out[split][k] = _as_array(path, split, k, part.pop(k))
        part.clear()
    return out


def _as_array(path, split, key, value) -> np.ndarray:
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise DataError(f"{path}: split '{split}', key '{key}' is not an array ({exc})") from None
    if arr.dtype.kind == "f" and arr.ndim == 3 and arr.dtype != np.float32:
        arr = arr.astype(np.float32)    # the models run in float32; halves float64 files
    return arr


# ----------------------------------------------------------------------------------------
class MMSASplit:
    """One split of the pickle (after the label rule); rows are gathered per batch."""

    def __init__(self, name: str, arrays: dict, index: np.ndarray, labels: np.ndarray):
        self.name = name
        self.index = index                   # int64 [n]: row in the pickle's split
        self.labels = labels                 # int64 [n]
        self._arrays = arrays                # shared with the process cache: never copied

    def __len__(self) -> int:
        return len(self.index)

    def __repr__(self) -> str:
        return f"MMSASplit({self.name!r}, n={len(self)})"

    def batch(self, rows, modalities: str, dtype: torch.dtype = torch.float32) -> dict:
        """``{"A": [B, La, Da], "V": [B, Lv, Dv], "T": [B, L, Dt]}`` for the run's letters."""
        rows = np.asarray(rows, dtype=np.int64)
        orig = self.index[rows]
        out = {}
        for letter, key in modality_keys(modalities):
            x = np.array(self._arrays[key][orig])                    # [B, T, D] copy
            lengths = self._arrays.get(f"{key}_lengths")
            if lengths is not None:                                  # padding frames -> 0
                x[np.arange(x.shape[1])[None, :] >= lengths[orig][:, None]] = 0.0
            out[letter] = torch.from_numpy(x).to(dtype)
        return out


class MMSAFold:
    """The one fixed split: train, valid (the dev split) and test."""

    def __init__(self, splits: dict, shapes, n_classes: int):
        self.train, self.dev, self.test = splits["train"], splits["valid"], splits["test"]
        self.shapes, self.n_classes, self.fold = shapes, n_classes, 1

    def split(self, name: str):
        return {"train": self.train, "dev": self.dev, "valid": self.dev, "test": self.test}[name]


class MMSACorpus:
    """An MMSA feature pickle as a :class:`harness.data.corpus.Corpus` (one fold: 1)."""

    folds = (1,)

    def __init__(self, data, path: Path, classes: tuple[str, ...]):
        self.format = data.format
        self.path = Path(path)
        self.labels_rule = data.labels or "acc2"
        self.class_names = tuple(classes)

    def _data(self, modalities: str = "", finite: bool = False) -> dict:
        # The NaN/inf scan reads every feature: run-study's check() does it once, before
        # any worker starts; workers skip it (a NaN reaching training fails the run anyway).
        arrays = load_pickle(self.path)
        check_pickle(self.path, arrays, self.labels_rule, len(self.class_names), modalities,
                     finite=finite)
        return arrays

    @property
    def shapes(self):
        from harness.models.shapes import InputShapes

        tr = self._data()["train"]
        dims = {k: tr[k].shape[1:] if k in tr else (1, 1) for k in ("text", "audio", "vision")}
        return InputShapes(audio_frames=dims["audio"][0], audio_dim=dims["audio"][1],
                           video_frames=dims["vision"][0], video_dim=dims["vision"][1],
                           embed_dim=dims["text"][1], n_classes=len(self.class_names),
                           text_tokens=dims["text"][0])

    def check(self, folds, modalities: str = "AVT") -> None:
        self._data(modalities, finite=True)
        share(self.path)

    def _labelled(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """(kept rows, class ids) of a split under the label rule."""
        part = self._data()[split]
        if self.labels_rule == "classification_labels":
            y = part["classification_labels"].astype(np.int64)
            return np.arange(len(y), dtype=np.int64), y
        y = part["regression_labels"].astype(np.float64).reshape(-1)
        keep = np.arange(len(y), dtype=np.int64)
        if self.labels_rule == "acc2_nonzero":
            keep = np.flatnonzero(y != 0).astype(np.int64)
        y = y[keep]
        if self.labels_rule == "acc7":
            return keep, (np.round(np.clip(y, -3, 3)) + 3).astype(np.int64)
        return keep, (y >= 0).astype(np.int64) if self.labels_rule == "acc2" \
            else (y > 0).astype(np.int64)

    def load_fold(self, fold: int = 1) -> MMSAFold:
        if fold != 1:
            raise DataError(f"{self.path}: an MMSA pickle has one fixed split (fold 1), "
                            f"fold {fold} was asked for")
        arrays = self._data()
        splits = {}
        for split in SPLIT_NAMES:
            keep, y = self._labelled(split)
            if len(keep) == 0:
                raise DataError(f"{self.path}: split '{split}' has no utterance left under "
                                f"data.labels {self.labels_rule}")
            splits[split] = MMSASplit("dev" if split == "valid" else split, arrays[split],
                                      keep, y)
        return MMSAFold(splits, self.shapes, len(self.class_names))

    def fingerprint(self, folds=(1,)) -> str:
        """Hash of the label rule, every used array's shape/dtype, labels, lengths and a
        fixed sample of 17 feature rows per array (cheap; a changed file changes it)."""
        h = hashlib.sha256(f"harness-mmsa-fingerprint-v1|{self.labels_rule}".encode())
        for split, part in self._data().items():
            for key in sorted(part):
                arr = part[key]
                h.update(f"{split}|{key}|{arr.shape}|{arr.dtype.str}|".encode())
                if arr.ndim <= 1:
                    h.update(np.ascontiguousarray(arr).tobytes())
                elif arr.shape[0]:
                    rows = np.unique(np.linspace(0, arr.shape[0] - 1, 17).round().astype(int))
                    h.update(np.ascontiguousarray(arr[rows]).tobytes())
        return h.hexdigest()[:16]

    def notes(self, folds=(1,)) -> list[str]:
        if self.labels_rule != "acc2_nonzero":
            return []
        d = self.describe()
        return ["data.labels acc2_nonzero drops the utterances labelled exactly 0: "
                + ", ".join(f"{s} {n} of {n + d['folds'][1][s]}" for s, n in d["dropped"].items())]

    def describe(self) -> dict:
        out = {"format": self.format, "path_name": self.path.name, "labels": self.labels_rule,
               "classes": list(self.class_names), "folds": {1: {}}, "class_counts": {},
               "dropped": {}}
        for split in SPLIT_NAMES:
            keep, y = self._labelled(split)
            name = "dev" if split == "valid" else split
            out["folds"][1][name] = int(len(keep))
            out["class_counts"][name] = np.bincount(y, minlength=len(self.class_names)).tolist()
            out["dropped"][name] = int(len(self._data()[split]["regression_labels"])
                                       - len(keep)) if self.labels_rule != \
                "classification_labels" else 0
        return out


def _declared_shapes(data, n_classes: int):
    from harness.models.shapes import InputShapes

    return InputShapes(n_classes=n_classes, **MOSI_SHAPES)


register_corpus(CorpusEntry(
    "mmsa", open=MMSACorpus, declared_shapes=_declared_shapes, fixed_split=True,
    description="MMSA toolkit feature pickle (CMU-MOSI, CMU-MOSEI, CH-SIMS): one fixed split",
    labels=tuple(LABEL_RULES), default_classes=lambda data: LABEL_RULES[data.labels or "acc2"],
    rules_with_own_classes=("classification_labels",),
    release=_LOADED.clear,
    path_hint="the MMSA feature pickle (.pkl) with train/valid/test"))
