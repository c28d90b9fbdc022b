"""A split whose audio/video rows live in memory-mapped .npy files (the Yoon reader's splits).

Reading a batch copies only the rows asked for; pickling a split (to a worker) sends the
small arrays and the file paths, never the big arrays.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch


class Split:
    """One split: rows of memory-mapped audio/video .npy files, token ids looked up in an
    embedding matrix, labels (the Yoon reader keeps utterances whose video_seqN is not 0).

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
        self._paths = paths            # "A" / "V" -> Path of a .npy file
        self._tokens = tokens          # [n, L] int64, kept rows only
        self._embedding = embedding    # [vocab, E] float, in memory
        self._maps: dict[str, np.ndarray] = {}

    def __repr__(self) -> str:
        return f"Split({self.name!r}, n={self.n})"

    def __len__(self) -> int:
        return self.n

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

        Returns ``{"A": [B, Ta, Da], "V": [B, Tv, Dv], "T": [B, L, E]}`` with only the
        requested modalities (letters among "AVT"); the labels are ``self.labels[rows]``.
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
            a = self._gather("A", orig).astype(np_dtype, copy=False)
            if self.audio_mean is not None:
                valid = np.arange(a.shape[1])[None, :] < self.audio_len[rows][:, None]
                a = np.where(valid[..., None],
                             (a - self.audio_mean.astype(np_dtype)) / self.audio_std.astype(np_dtype),
                             np_dtype(0)).astype(np_dtype, copy=False)
            out["A"] = torch.from_numpy(np.ascontiguousarray(a)).to(dtype)
        if "V" in modalities:
            v = self._gather("V", orig).astype(np_dtype, copy=False)
            out["V"] = torch.from_numpy(np.ascontiguousarray(v)).to(dtype)
        if "T" in modalities:
            t = self._embedding[self._tokens[rows]].astype(np_dtype, copy=False)  # [B, L, E]
            out["T"] = torch.from_numpy(np.ascontiguousarray(t)).to(dtype)
        return out
