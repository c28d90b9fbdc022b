"""A memory-mapped copy of an MMSA pickle's arrays, so processes share one copy of the data.

A pickle must be read whole into each process that unpickles it: with parallel workers a
multi-gigabyte corpus (CMU-MOSEI) would be held once per worker. So once the pickle has
passed every check (``validate`` or ``run-study``, before any training), its arrays (float32
features, labels, lengths) are written as .npy files in ``<file>.harness-npy/`` next to it
(a faulty pickle leaves nothing behind); every process then memory-maps them, and the operating
system keeps one copy in its page cache for all of them. The folder records the pickle's
size and modification time and is rebuilt when they change; it may be deleted at any time.
Where the data folder is read-only the arrays stay in each process' memory instead.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

SUFFIX = ".harness-npy"
VERSION = 1


def cache_dir(path: Path) -> Path:
    return path.with_name(path.name + SUFFIX)


def _stamp(path: Path) -> dict:
    st = path.stat()
    return {"version": VERSION, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def read(path: Path) -> dict | None:
    """{split: {key: read-only memmap}} if a current cache exists, else None."""
    d = cache_dir(path)
    try:
        meta = json.loads((d / "SOURCE.json").read_text())
        if {k: meta.get(k) for k in ("version", "size", "mtime_ns")} != _stamp(path):
            return None
        return {split: {k: np.load(d / f"{split}.{k}.npy", mmap_mode="r", allow_pickle=False)
                        for k in keys} for split, keys in meta["arrays"].items()}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write(path: Path, arrays: dict) -> dict | None:
    """Write the cache for ``arrays`` and return it memory-mapped (None if it cannot be)."""
    d = cache_dir(path)
    tmp = d.with_name(f"{d.name}.tmp{os.getpid()}")
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        for split, part in arrays.items():
            for k, arr in part.items():
                np.save(tmp / f"{split}.{k}.npy", np.ascontiguousarray(arr), allow_pickle=False)
        meta = {**_stamp(path), "arrays": {s: sorted(p) for s, p in arrays.items()}}
        (tmp / "SOURCE.json").write_text(json.dumps(meta, indent=1) + "\n")   # written last
        if d.exists():
            shutil.rmtree(d)                      # stale: the pickle changed
        os.replace(tmp, d)
    except (OSError, ValueError):                 # read-only folder, object arrays, a race
        shutil.rmtree(tmp, ignore_errors=True)
        return read(path)
    return read(path)
