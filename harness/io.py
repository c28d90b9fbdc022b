"""Atomic file writes: the one helper every stage uses to write a file.

A file is written to a temporary file in the same folder, flushed to disk, then renamed
over the target with `os.replace`, so a reader (or a process killed mid-write) sees the
old file or the new one, never half of one. The temporary name starts with a dot and ends
in `.tmp`, so nobody mistakes a leftover for a result.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike, mode: str = "wb"):
    """Open a temporary file next to `path`; on a clean exit it replaces `path` atomically."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    text = "b" not in mode
    try:
        # newline="": text is written exactly as given (no platform newline translation)
        with os.fdopen(fd, mode, **({"encoding": "utf-8", "newline": ""} if text else {})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` atomically."""
    with atomic_writer(path, "wb") as f:
        f.write(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write `text` (UTF-8, newlines as given) to `path` atomically."""
    with atomic_writer(path, "w") as f:
        f.write(text)


def atomic_write_json(path: str | os.PathLike, obj, *, indent: int = 2, sort_keys: bool = True,
                      allow_nan: bool = True) -> None:
    """Write `obj` as JSON (numpy scalars/arrays and tuples allowed) to `path` atomically."""
    atomic_write_text(path, to_json(obj, indent=indent, sort_keys=sort_keys, allow_nan=allow_nan))


def to_json(obj, *, indent: int = 2, sort_keys: bool = True, allow_nan: bool = True) -> str:
    """JSON text of `obj` with a trailing newline; numpy values become plain numbers/lists."""
    return json.dumps(obj, indent=indent, sort_keys=sort_keys, allow_nan=allow_nan,
                      default=json_default) + "\n"


def json_default(x):
    """`default=` for json.dumps: numpy scalars and arrays, tuples, sets, paths."""
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating):
        return float(x)
    if isinstance(x, np.bool_):
        return bool(x)
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, (tuple, set, frozenset)):
        return list(x)
    if isinstance(x, Path):
        return str(x)
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")
