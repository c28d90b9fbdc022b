"""A synthetic MMSA feature pickle with a planted, learnable sentiment signal.

Layout as read by :mod:`harness.data.mmsa`: ``{"train", "valid", "test"}`` each holding
``text`` [N, L, Dt], ``audio`` [N, La, Da], ``vision`` [N, Lv, Dv] (float32),
``audio_lengths`` / ``vision_lengths`` [N] (int64; frames after them are 0),
``regression_labels`` [N] float32 in [-3, 3] (multiples of 0.2, about 6% exactly 0, like
averaged annotator scores), ``classification_labels`` [N] (0 negative, 1 neutral, 2 positive),
``id`` and ``raw_text`` (lists of strings).

How the signal is planted: each modality m of an utterance *shows* its sentiment with
probability ``SIGNAL[m]`` (text > vision > audio, so text is the strongest modality and
fusion helps); a shown modality's valid frames are ``(y / 3) * PROTO_NORM * u_m`` plus
utterance and frame noise, u_m a fixed unit direction; a silent one is noise only. Features
are linear in y, so both acc2 and acc7 are learnable above chance. Deterministic in ``seed``.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from harness.errors import UserError
from harness.io import atomic_writer

#: probability that a modality shows the utterance's sentiment
SIGNAL: dict[str, float] = {"text": 0.9, "vision": 0.6, "audio": 0.45}
PROTO_NORM = 4.0
FRAME_NOISE = 1.0

#: sizes: utterances per split, then (frames, dims) of text / audio / vision
PRESETS: dict[str, dict] = {
    # seconds per run on one CPU core
    "small": dict(train=200, valid=60, test=120, text=(10, 16), audio=(12, 5),
                  vision=(10, 8)),
    # CMU-MOSI's MMSA unaligned_50.pkl
    "mosi": dict(train=1284, valid=229, test=686, text=(50, 768), audio=(500, 5),
                 vision=(375, 20)),
    # CMU-MOSEI's MMSA unaligned_50.pkl (about 8 GB of float32)
    "mosei": dict(train=16326, valid=1871, test=4659, text=(50, 768), audio=(500, 74),
                  vision=(375, 35)),
}


def make_synthetic_mmsa(out, preset: str = "small", seed: int = 0, scale: float = 1.0,
                        text_dim: int | None = None, utterances: int | None = None) -> Path:
    """Write a synthetic MMSA pickle to ``out`` (a .pkl path) and return it.

    ``scale`` multiplies the utterance counts (benchmarks), or ``utterances`` sets their total
    (split proportions kept); ``text_dim`` overrides the text width (e.g. 300 for GloVe-sized
    text). Written under a temporary name, then renamed.
    """
    if preset not in PRESETS:
        raise UserError(f"unknown synthetic MMSA preset {preset!r}: allowed {sorted(PRESETS)}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise UserError(f"synthetic seed must be a non-negative integer, found {seed!r}")
    cfg = dict(PRESETS[preset])
    if utterances is not None:
        if isinstance(utterances, bool) or not isinstance(utterances, int) or utterances < 100:
            raise UserError(f"synthetic utterances must be an integer >= 100, found "
                            f"{utterances!r}")
        scale = utterances / (cfg["train"] + cfg["valid"] + cfg["test"])
    if text_dim is not None:
        cfg["text"] = (cfg["text"][0], int(text_dim))
    out = Path(out)
    if out.is_dir():
        raise UserError(f"{out}: is a folder; give the path of the .pkl file to write")
    out.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 7]))
    dirs = {m: _unit(rng, cfg[m][1]) for m in ("text", "audio", "vision")}
    data = {}
    for i, split in enumerate(("train", "valid", "test")):
        n = max(20, int(round(cfg[split] * scale)))
        srng = np.random.default_rng(np.random.SeedSequence([seed, 8, i]))
        data[split] = _split(srng, n, cfg, dirs, split)
    with atomic_writer(out, "wb") as fh:
        # protocol 5: arrays are written from their own buffers (no copy while dumping)
        pickle.dump(data, fh, protocol=5)
    return out


def _unit(rng, d: int) -> np.ndarray:
    u = rng.standard_normal(d)
    return (u / np.linalg.norm(u)).astype(np.float32)


def _labels(rng, n: int) -> np.ndarray:
    """Sentiment in [-3, 3], multiples of 0.2, about 6% exactly 0."""
    y = np.clip(np.round(rng.normal(0.3, 1.4, n) * 5) / 5, -3, 3)
    return y.astype(np.float32)


def _frames(rng, y, shows, direction, frames: int, lengths) -> np.ndarray:
    """[N, frames, D]: signal on shown utterances + noise, zeros after ``lengths``."""
    n, d = len(y), len(direction)
    x = np.empty((n, frames, d), np.float32)
    step = max(1, (32 << 20) // max(1, frames * d * 4))          # bounded temporaries
    for i in range(0, n, step):
        sl = slice(i, min(n, i + step))
        b = sl.stop - sl.start
        centre = (shows[sl] * y[sl] / 3.0 * PROTO_NORM)[:, None] * direction[None, :]
        centre = centre + rng.standard_normal((b, d), dtype=np.float32)
        x[sl] = centre[:, None, :] + FRAME_NOISE * rng.standard_normal((b, frames, d),
                                                                       dtype=np.float32)
        x[sl][np.arange(frames)[None, :] >= lengths[sl][:, None]] = 0.0
    return x


def _split(rng, n: int, cfg: dict, dirs: dict, split: str) -> dict:
    y = _labels(rng, n)
    out = {"id": [f"{split}_{i:05d}" for i in range(n)],
           "raw_text": [f"synthetic utterance {i}" for i in range(n)],
           "regression_labels": y,
           "classification_labels": np.where(y < 0, 0, np.where(y == 0, 1, 2)).astype(
               np.float32)}
    for m in ("text", "audio", "vision"):
        frames = cfg[m][0]
        lengths = np.clip(rng.integers(frames // 4, frames + 1, n), 1, frames).astype(np.int64)
        shows = (rng.random(n) < SIGNAL[m]).astype(np.float32)
        out[m] = _frames(rng, y, shows, dirs[m], frames, lengths)
        if m != "text":                     # MMSA stores lengths for audio and vision only
            out[f"{m}_lengths"] = lengths
    return out
