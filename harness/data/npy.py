"""Checked, chunked access to .npy files (memory-mapped, read-only) for the corpus readers.

Every problem is a :class:`~harness.errors.DataError` naming the file, what was expected and
what was found. Expensive checks are cached per file state (path, size, mtime, inode).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from harness.errors import DataError

_CHUNK_BYTES = 64 * 2**20   # bytes read at once by the chunked checks / statistics
_STD_FLOOR = 1e-8

# (kind, path, size, mtime_ns, inode, ...) -> result of an expensive check
CACHE: dict[tuple, object] = {}


def stamp(path: Path) -> tuple:
    """What identifies a file's current contents cheaply (for caches)."""
    st = os.stat(path)
    return (str(Path(path).resolve()), st.st_size, st.st_mtime_ns, st.st_ino)


def open_npy(path: Path, what: str) -> np.ndarray:
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


def check_array(path, arr: np.ndarray, spec: tuple) -> None:
    """DataError unless ``arr`` has spec = (kind "f"/"i", ndim, description)."""
    kind, ndim, what = spec
    if arr.ndim != ndim:
        raise DataError(f"{path}: expected a {ndim}-D array {what}, found shape "
                        f"{tuple(arr.shape)}")
    ok = arr.dtype.kind == "f" if kind == "f" else arr.dtype.kind in "iu"
    if not ok:
        want = "a float dtype (float32/float64)" if kind == "f" else "an integer dtype"
        raise DataError(f"{path}: expected {what} with {want}, found dtype {arr.dtype}")


def row_blocks(arr: np.ndarray):
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


def first_nonfinite_row(arr: np.ndarray) -> int | None:
    """Row of the first NaN/inf in ``arr`` (read in chunks), or None."""
    for sl, block in row_blocks(arr):
        if np.isfinite(block.sum(dtype=np.float64)):
            continue
        bad = ~np.isfinite(block.reshape(block.shape[0], -1)).all(axis=1)
        if bad.any():   # (a finite float64 block can overflow its sum: then nothing is bad)
            return sl.start + int(np.flatnonzero(bad)[0])
    return None


def check_finite(path: Path, arr: np.ndarray) -> None:
    """DataError if any NaN/inf is in the file's array (result cached per file)."""
    key = ("finite", *stamp(path))
    if CACHE.get(key):
        return
    row = first_nonfinite_row(arr)
    if row is not None:
        raise DataError(f"{path}: contains NaN or infinite values (first in row {row}); "
                        f"expected finite features")
    CACHE[key] = True


def check_range(where, arr: np.ndarray, lo, hi, what: str) -> None:
    """DataError unless lo <= arr <= hi; ``where`` names the file (or split and key)."""
    if arr.size == 0:
        return
    mn, mx = arr.min(), arr.max()
    if mn < lo or mx > hi:
        bad = mn if mn < lo else mx
        row = int(np.flatnonzero((arr < lo) | (arr > hi))[0] // max(1, arr[0].size))
        raise DataError(f"{where}: {what} must be in {lo}..{hi}, found {bad} (row {row})")


def valid_frame_stats(mfcc: np.ndarray, keep: np.ndarray,
                      lengths: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """(count, mean [D], std [D]) of the valid frames (frame < lengths) of rows where ``keep``.

    Read in blocks of rows (never the whole array), merged with Chan et al.'s pairwise update.
    """
    d = mfcc.shape[2]
    count, mean, m2 = 0, np.zeros(d), np.zeros(d)
    frames = np.arange(mfcc.shape[1])
    for sl, block in row_blocks(mfcc):                                  # [b, T, D]
        valid_mask = (frames[None, :] < lengths[sl][:, None]) & keep[sl][:, None]
        valid = block[valid_mask].astype(np.float64)                    # [frames, D]
        if not len(valid):
            continue
        bn, bmean = len(valid), valid.mean(axis=0)
        bm2 = ((valid - bmean) ** 2).sum(axis=0)
        delta, tot = bmean - mean, count + bn                           # Chan et al. merge
        mean = mean + delta * bn / tot
        m2 = m2 + bm2 + delta ** 2 * count * bn / tot
        count = tot
    std = np.maximum(np.sqrt(m2 / max(count, 1)), _STD_FLOOR)
    return count, mean, std
