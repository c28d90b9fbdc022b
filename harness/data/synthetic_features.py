"""The per-frame arrays of the synthetic Yoon-layout data (MFCC, prosody, video).

Generated in chunks of utterances and written row by row at their place in every fold's
files, so memory stays bounded at the full IEMOCAP shapes (see :mod:`.synthetic`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .iemocap import CLASS_NAMES, SPLITS, fold_dir

#: Norm of the class prototypes of audio/video in units of the per-dim utterance noise.
PROTO_NORM = 4.0
#: Per-frame noise std (per dim) of audio/video, relative to the utterance noise.
FRAME_NOISE = 1.5
PROSODY_DIM = 35
N_SESSIONS = 5
_CHUNK_BYTES = 48 * 2**20        # audio+video bytes generated per chunk of utterances


def fold_path(out: Path, f: int) -> Path:
    """The folder of fold f + 1 (the reader's naming), created if absent."""
    p = fold_dir(out, f + 1)
    p.mkdir(exist_ok=True)
    return p


def _mfcc_affine(rng: np.random.Generator, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension (offset, scale) that make standard features look like MFCC+deltas."""
    offset = np.zeros(dim)
    scale = np.zeros(dim)
    for b, idx in enumerate(np.array_split(np.arange(dim), 3)):  # static, delta, delta-delta
        decay = np.geomspace(40.0, 3.0, len(idx)) / (1.0 + 4.0 * b)
        scale[idx] = decay * np.exp(0.2 * rng.standard_normal(len(idx)))
        offset[idx] = (rng.standard_normal(len(idx)) * 15.0 * decay / 40.0) if b else \
            rng.standard_normal(len(idx)) * 10.0
    offset[0] = -300.0 + 20.0 * rng.standard_normal()   # c0: log energy
    return offset.astype(np.float32), scale.astype(np.float32)


def _prototypes(rng, k, dim):
    """[k + 1, dim]: k class prototypes of norm PROTO_NORM, then a zero row ("no class")."""
    p = rng.standard_normal((k, dim))
    p = PROTO_NORM * p / np.linalg.norm(p, axis=1, keepdims=True)
    return np.vstack([p, np.zeros((1, dim))]).astype(np.float32)


def _frames(rng, proto, n_frames, lengths):
    """[B, T, D] = proto + utterance noise + frame noise on valid frames, zeros after."""
    b, d = proto.shape
    x = rng.standard_normal((b, n_frames, d), dtype=np.float32)
    x *= np.float32(FRAME_NOISE)
    x += (proto + rng.standard_normal((b, d), dtype=np.float32))[:, None, :]
    x[np.arange(n_frames)[None, :] >= lengths[:, None]] = 0.0
    return x


def write_features(out: Path, cfg: dict, plan: dict, seed: int, quiet: bool) -> None:
    """MFCC, prosody and video, generated in chunks of utterances and written in place."""
    rng, k = plan["rng"], len(CLASS_NAMES)
    ta, da = cfg["audio_frames"], cfg["audio_dim"]
    tv, dv = cfg["video_frames"], cfg["video_dim"]
    proto_a, proto_v = _prototypes(rng, k, da), _prototypes(rng, k, dv)      # [k+1, D]
    offset, scale = _mfcc_affine(rng, da)                                     # [Da] each

    specs = {"audio_mfcc": (ta, da), "audio_prosody": (PROSODY_DIM,), "video": (tv, dv)}
    files = {}            # (fold, split, key) -> (temp path, path, open file, header bytes)
    try:
        for f in range(N_SESSIONS):
            d = fold_path(out, f)
            for s, split in enumerate(SPLITS):
                rows = int((plan["split_of"][f] == s).sum())
                for key, shape in specs.items():
                    path = d / f"{split}_{key}.npy"
                    tmp = path.with_name(path.name + ".tmp")
                    # header + (sparse) zero rows; rows are then written chunk by chunk with
                    # pwrite, which keeps memory bounded (no written pages held in a mapping)
                    mm = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32,
                                                   shape=(rows, *shape))
                    header = mm.offset
                    del mm
                    files[f, s, key] = (tmp, path, open(tmp, "r+b"), header)
        _fill_features(files, cfg, plan, seed, quiet, proto_a, proto_v, offset, scale)
    finally:
        for _, _, fh, _ in files.values():
            fh.close()
    for tmp, path, _, _ in files.values():
        os.replace(tmp, path)


def _fill_features(files, cfg, plan, seed, quiet, proto_a, proto_v, offset, scale) -> None:
    """Generate the features chunk by chunk and write each row at its place in every fold."""
    n = plan["n"]
    ta, da = cfg["audio_frames"], cfg["audio_dim"]
    tv, dv = cfg["video_frames"], cfg["video_dim"]
    chunk = max(1, _CHUNK_BYTES // (4 * (ta * da + tv * dv)))
    starts = range(0, n, chunk)
    if not quiet:
        from tqdm import tqdm
        starts = tqdm(starts, desc="synthetic data", unit="chunk")
    for ci, i0 in enumerate(starts):
        sl = slice(i0, min(n, i0 + chunk))
        crng = np.random.default_rng(np.random.SeedSequence([seed, 1, ci]))
        lengths = plan["audio_len"][sl]
        audio = _frames(crng, proto_a[plan["apparent"]["A"][sl]], ta, lengths)  # [b, Ta, Da]
        audio *= scale
        audio += offset
        audio[np.arange(ta)[None, :] >= lengths[:, None]] = 0.0               # padding = 0
        prosody = (0.5 * plan["prosody_proto"][plan["apparent"]["A"][sl]]     # [b, 35]
                   + crng.standard_normal((sl.stop - sl.start, PROSODY_DIM))).astype(np.float32)
        video = _frames(crng, proto_v[plan["apparent"]["V"][sl]], tv,          # [b, Tv, Dv]
                        plan["video_len"][sl])
        feats = {"audio_mfcc": audio, "audio_prosody": prosody, "video": video}
        for (f, s, key), (_, _, fh, header) in files.items():
            sel = np.flatnonzero(plan["split_of"][f][sl] == s)
            arr = feats[key]
            row_bytes = arr[0].nbytes
            for i, p in zip(sel, plan["pos"][f][sl][sel]):
                _pwrite_all(fh.fileno(), memoryview(arr[i]).cast("B"),
                            header + int(p) * row_bytes)


def _pwrite_all(fd: int, buf: memoryview, offset: int) -> None:
    while len(buf):
        done = os.pwrite(fd, buf, offset)
        buf, offset = buf[done:], offset + done
