"""Every check of an MMSA feature pickle: one DataError naming the file, split and key.

The counterparts of the Yoon reader's checks: a split or a key the study needs is missing,
N disagrees across a split's arrays, a feature array is not float [N, frames, dims], NaN or
inf, a length beyond the padded size, a label outside [-3, 3] (or a class id outside the
study's classes), feature sizes that differ between splits.
"""

from __future__ import annotations

import numpy as np

from harness.errors import DataError

from .npy import first_nonfinite_row

SPLIT_NAMES = ("train", "valid", "test")
_MODALITY = {"A": "audio", "V": "vision", "T": "text"}
_FEATURES = ("text", "audio", "vision")
_LABEL_RANGE = (-3.0, 3.0)

# (id of the arrays dict, rule, classes, modalities) -> True: checks are not repeated
_DONE: dict[tuple, bool] = {}


def modality_keys(modalities: str) -> list[tuple[str, str]]:
    """[(letter, pickle key)] of a combination such as "AVT", in A, V, T order."""
    return [(m, _MODALITY[m]) for m in "AVT" if m in modalities]


def label_key(rule: str) -> str:
    return "classification_labels" if rule == "classification_labels" else "regression_labels"


def check_pickle(path, arrays: dict, rule: str, n_classes: int, modalities: str = "",
                 finite: bool = True) -> None:
    """DataError for the first problem found (cached per loaded file and settings).

    ``finite=False`` skips the NaN/inf scan (a full read of the features)."""
    key = (id(arrays), rule, n_classes, modalities, finite)
    if _DONE.get(key):
        return
    for split in SPLIT_NAMES:
        part = arrays[split]
        _check_keys(path, split, part, rule, modalities)
        n = _check_rows(path, split, part, rule)
        _check_features(path, split, part, finite)
        _check_lengths(path, split, part)
        _check_labels(path, split, part, rule, n_classes)
        if n == 0:
            raise DataError(f"{path}: split '{split}' has no utterances")
    _check_splits_agree(path, arrays)
    if len(_DONE) > 64:
        _DONE.clear()
    _DONE[key] = True


def _where(path, split, key) -> str:
    return f"{path}: split '{split}', key '{key}'"


def _check_keys(path, split, part, rule, modalities) -> None:
    need = [(k, f"the {m} modality of the study's combinations")
            for m, k in modality_keys(modalities)]
    need.append((label_key(rule), f"data.labels {rule}"))
    for key, why in need:
        if key not in part:
            raise DataError(f"{path}: split '{split}' has no key '{key}' (needed by {why}); "
                            f"found keys {sorted(part)}")


def _check_rows(path, split, part, rule) -> int:
    ref = label_key(rule)
    n = len(part[ref])
    for key, arr in part.items():
        if arr.ndim == 0 or arr.shape[0] != n:
            rows = arr.shape[0] if arr.ndim else "no"
            raise DataError(f"{_where(path, split, key)}: has {rows} rows but '{ref}' has "
                            f"{n}; every array of a split must cover the same utterances")
    return n


def _check_features(path, split, part, finite: bool) -> None:
    for key in _FEATURES:
        if key not in part:
            continue
        arr = part[key]
        if arr.ndim != 3 or arr.dtype.kind != "f":
            raise DataError(f"{_where(path, split, key)}: expected a float array [N, frames, "
                            f"dims], found shape {tuple(arr.shape)} dtype {arr.dtype}")
        row = first_nonfinite_row(arr) if finite else None
        if row is not None:
            raise DataError(f"{_where(path, split, key)}: contains NaN or infinite values "
                            f"(first in row {row}); expected finite features (MMSA's own "
                            f"loader zeroes -inf audio: do the same in your copy)")


def _check_lengths(path, split, part) -> None:
    for key in ("audio", "vision"):
        lk = f"{key}_lengths"
        if lk not in part:
            continue
        lengths = part[lk]
        if lengths.ndim != 1 or lengths.dtype.kind not in "iu":
            raise DataError(f"{_where(path, split, lk)}: expected [N] integer frame counts, "
                            f"found shape {tuple(lengths.shape)} dtype {lengths.dtype}")
        if key not in part or not lengths.size:
            continue
        frames = part[key].shape[1]
        bad = np.flatnonzero((lengths < 0) | (lengths > frames))
        if bad.size:
            raise DataError(f"{_where(path, split, lk)}: length {int(lengths[bad[0]])} "
                            f"(row {int(bad[0])}) is beyond the padded size: '{key}' has "
                            f"{frames} frames (allowed 0..{frames})")


def _check_labels(path, split, part, rule, n_classes) -> None:
    key = label_key(rule)
    y = part[key]
    if y.ndim == 2 and y.shape[1] == 1:
        y = part[key] = y.reshape(-1)
    if y.ndim != 1:
        raise DataError(f"{_where(path, split, key)}: expected [N] labels, found shape "
                        f"{tuple(y.shape)}")
    if rule == "classification_labels":
        ok = y.dtype.kind in "iu" or (y.dtype.kind == "f" and np.all(np.mod(y, 1) == 0))
        if not ok:
            raise DataError(f"{_where(path, split, key)}: expected integer class ids, found "
                            f"dtype {y.dtype}")
        lo, hi = 0, n_classes - 1
    else:
        if y.dtype.kind not in "fiu":
            raise DataError(f"{_where(path, split, key)}: expected numbers, found dtype "
                            f"{y.dtype}")
        lo, hi = _LABEL_RANGE
    bad = np.flatnonzero(~np.isfinite(y.astype(np.float64)) | (y < lo) | (y > hi))
    if bad.size:
        what = f"class ids 0..{hi} ({n_classes} classes in the study)" \
            if rule == "classification_labels" else f"sentiment in [{lo:g}, {hi:g}]"
        raise DataError(f"{_where(path, split, key)}: label {y[bad[0]]} (row {int(bad[0])}) "
                        f"is outside {what}")


def _check_splits_agree(path, arrays) -> None:
    """Feature sizes (frames, dims) must agree between splits (train is the reference)."""
    for key in _FEATURES:
        if key not in arrays["train"]:
            continue
        want = arrays["train"][key].shape[1:]
        for split in SPLIT_NAMES[1:]:
            if key in arrays[split] and arrays[split][key].shape[1:] != want:
                raise DataError(f"{_where(path, split, key)}: [frames, dims] is "
                                f"{list(arrays[split][key].shape[1:])} but train has "
                                f"{list(want)}; splits must agree")
