"""Synthetic data in the exact file format of the Yoon et al. IEMOCAP pre-processing.

The real IEMOCAP features are licensed and absent, so :func:`make_synthetic` writes a data
root that the real reader (:mod:`harness.data.iemocap`) reads unchanged: five folders
``fold01`` ... ``fold05``, each holding, for split in train/dev/test::

    {split}_audio_mfcc.npy      [N, Ta, Da] float32   MFCC frames, zero after audio_seqN
    {split}_audio_seqN.npy      [N]         int64     valid audio frames
    {split}_audio_prosody.npy   [N, 35]     float32   prosody (unused by the models)
    {split}_nlp_trans.npy       [N, L]      int64     token ids, 0 = padding after the words
    {split}_video.npy           [N, Tv, Dv] float32   video features, zero after video_seqN
    {split}_video_seqN.npy      [N]         int64     valid video frames (0 for ~2%: dropped)
    {split}_label.npy           [N]         int64     class id 0..6

plus ``W_embedding.npy`` [vocab, E] float32 and ``dic.pkl`` (word -> id) per fold, and
``SYNTHETIC.json`` at the root (written last).

How the data is made
--------------------
* 7 classes in IEMOCAP's proportions (angry, excited, happy, sad, frustrated, surprise,
  neutral). Every utterance belongs to one of 5 "sessions" (classes stratified over
  sessions, at least 2 utterances of each class per session). Each session is cut in two
  stratified halves A and B. Fold k (leave-one-session-out): test = session k, dev = half
  B of session k+1 (wrapping 5 -> 1), train = everything else. Every class is therefore
  present in every split of every fold.
* Class signal per modality m: with probability ``SIGNAL[m]`` modality m of an utterance
  *expresses* the true class; otherwise it shows no class (an emotion not shown in that
  channel). Since the modalities are independent given the class, combining them helps,
  and uni-modal accuracy is ordered like SIGNAL: text > video > audio. (Logistic
  regression on pooled features, small preset, mean of 5 folds x 3 seeds: T 0.68,
  V 0.55, A 0.47, A+V 0.63, A+V+T 0.80; majority class 0.25.)
* Audio / video: every valid frame = prototype(shown class) + utterance noise + frame
  noise (prototype norm ``PROTO_NORM``, zero for "no class"; utterance noise 1 per dim,
  frame noise ``FRAME_NOISE`` per dim). MFCCs then get a realistic per-dimension offset and scale
  (c0 around -300, coefficients and their deltas shrinking), so standardising audio
  matters. Padding frames are exactly 0.
* Text: utterance length ~ log-normal; each word is, with probability ``TEXT_CUE_RATE``, one
  of the shown class's cue words, else a common word (Zipf); no cue words if no class. Cue-word embeddings lean
  towards a class direction, like emotion words in GloVe.

Everything is deterministic in ``seed`` (identical bytes). Large arrays are generated in
chunks of utterances and written through ``np.lib.format.open_memmap`` so memory stays
bounded at the full IEMOCAP shapes; every file is written under a temporary name and moved
into place with ``os.replace``.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np

from harness.errors import DataError, UserError
from harness.io import atomic_write_bytes, atomic_writer

from .corpus import CorpusEntry, register_corpus
from .iemocap import CLASS_COUNTS, CLASS_NAMES, IEMOCAP_SHAPES, SPLITS, YoonCorpus
from .synthetic_features import FRAME_NOISE, PROTO_NORM  # noqa: F401 - documented here
from .synthetic_features import N_SESSIONS, PROSODY_DIM, write_features
from .synthetic_features import fold_path as _fold_path

GENERATOR_VERSION = 1

#: Class-signal strength per modality: the probability that this modality of an utterance
#: expresses the utterance's true class (otherwise it shows no class: features around a
#: zero prototype, text without cue words). Text > video > audio, so uni-modal accuracy
#: orders T > V > A, and fusion helps because the modalities fail independently.
SIGNAL: dict[str, float] = {"T": 0.7, "V": 0.55, "A": 0.35}

#: Probability that a word of an utterance is a cue word of the class its text shows.
TEXT_CUE_RATE = 0.35
#: Weight of the class direction in the embeddings of cue words.
CUE_LEAN = 1.0
#: Fraction of utterances with video_seqN == 0 (the reader drops them).
NO_VIDEO_RATE = 0.02
#: Fraction of a session that forms its half B (the dev part of another fold).
DEV_PART = 0.5
MIN_UTTERANCES = 100

_IS = IEMOCAP_SHAPES
#: Sizes of each preset. ``utterances`` is the default number of utterances.
PRESETS: dict[str, dict] = {
    # Shrunk so that a tri-modal training run takes seconds on one CPU core.
    "small": dict(audio_frames=40, audio_dim=20, video_frames=8, video_dim=32, text_len=16,
                  embed_dim=32, vocab_size=300, utterances=900, text_mean_len=9,
                  cue_words=6),
    # The real format's shapes.
    "iemocap": dict(audio_frames=_IS.audio_frames, audio_dim=_IS.audio_dim,
                    video_frames=_IS.video_frames, video_dim=_IS.video_dim,
                    text_len=_IS.text_len, embed_dim=_IS.embed_dim,
                    vocab_size=_IS.vocab_size, utterances=sum(CLASS_COUNTS),
                    text_mean_len=18, cue_words=25),
}

_MARKER = "SYNTHETIC.json"
_PARTIAL = ".SYNTHETIC.partial"  # present while generating: the folder is ours to overwrite


# ----------------------------------------------------------------------------------------
# public API
# ----------------------------------------------------------------------------------------
def make_synthetic(out, preset: str = "small", utterances: int | None = None, seed: int = 0,
                   quiet: bool = True) -> Path:
    """Write a complete synthetic data root (5 folds) to ``out`` and return its path.

    ``utterances`` overrides the preset's default count (at least 100). Raises
    :class:`DataError` if ``out`` is a non-empty folder that is not synthetic data written
    by this function (it never overwrites a user's folder), :class:`UserError` for a bad
    preset / count / seed.
    """
    cfg, n_utt, seed = _resolve(preset, utterances, seed)
    out = Path(out)
    _claim_folder(out)
    (out / _PARTIAL).write_text("generation in progress\n")
    (out / _MARKER).unlink(missing_ok=True)   # no valid marker while files are replaced

    plan = _plan(cfg, n_utt, seed)
    _write_vocab(out, cfg, plan)
    _write_small_arrays(out, plan)
    write_features(out, cfg, plan, seed, quiet)

    meta = {"preset": preset, "utterances": n_utt, "seed": seed, "signal": dict(SIGNAL),
            "generator_version": GENERATOR_VERSION}
    atomic_write_bytes(out / _MARKER, (json.dumps(meta, indent=2, sort_keys=True) + "\n")
                        .encode())
    (out / _PARTIAL).unlink(missing_ok=True)
    return out


def ensure_synthetic(root, preset: str, seed: int = 0, utterances: int | None = None) -> None:
    """Make sure ``root`` holds synthetic data with these parameters, generating it if absent.

    Does nothing if ``root/SYNTHETIC.json`` matches (preset, seed, utterances, generator
    version); generates if it is absent; raises :class:`DataError` naming both parameter
    sets if it exists with different ones.
    """
    _, n_utt, seed = _resolve(preset, utterances, seed)
    root = Path(root)
    want = {"preset": preset, "utterances": n_utt, "seed": seed,
            "generator_version": GENERATOR_VERSION}
    marker = root / _MARKER
    if marker.is_file():
        try:
            have = json.loads(marker.read_text())
        except (OSError, ValueError) as exc:
            raise DataError(f"{marker}: not valid JSON ({exc})") from None
        have_sub = {k: have.get(k) for k in want} if isinstance(have, dict) else have
        if have_sub != want:
            raise DataError(
                f"{root} holds synthetic data made with {_fmt(have_sub)} but "
                f"{_fmt(want)} was asked for; use another data folder or delete this one")
        return
    make_synthetic(root, preset=preset, utterances=n_utt, seed=seed)


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


# ----------------------------------------------------------------------------------------
# planning: labels, sessions, folds, lengths, apparent classes, tokens
# ----------------------------------------------------------------------------------------
def _resolve(preset, utterances, seed):
    if preset not in PRESETS:
        raise UserError(f"unknown synthetic preset {preset!r}: allowed {sorted(PRESETS)}")
    cfg = PRESETS[preset]
    n_utt = cfg["utterances"] if utterances is None else utterances
    if isinstance(n_utt, bool) or not isinstance(n_utt, (int, np.integer)) \
            or n_utt < MIN_UTTERANCES:
        raise UserError(f"synthetic utterances must be an integer >= {MIN_UTTERANCES}, "
                        f"found {utterances!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise UserError(f"synthetic seed must be a non-negative integer, found {seed!r}")
    return cfg, int(n_utt), int(seed)


def _fmt(d) -> str:
    if not isinstance(d, dict):
        return repr(d)
    return "(" + ", ".join(f"{k}={d[k]!r}" for k in sorted(d)) + ")"


def _claim_folder(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise DataError(f"{out}: exists and is not a folder; cannot write synthetic data")
    if out.is_dir() and any(out.iterdir()) and not (out / _MARKER).is_file() \
            and not (out / _PARTIAL).is_file():
        raise DataError(f"{out}: folder is not empty and holds no {_MARKER}; refusing to "
                        f"write synthetic data over it (choose an empty or new folder)")
    out.mkdir(parents=True, exist_ok=True)


def _class_counts(n: int) -> np.ndarray:
    """IEMOCAP class proportions scaled to n (largest remainder), >= 2 per session each."""
    p = np.asarray(CLASS_COUNTS, float) / sum(CLASS_COUNTS)
    raw = n * p
    counts = np.floor(raw).astype(np.int64)
    for i in np.argsort(-(raw - counts), kind="stable")[: n - counts.sum()]:
        counts[i] += 1
    need = 2 * N_SESSIONS
    for c in range(len(counts)):
        while counts[c] < need:
            counts[int(np.argmax(counts))] -= 1
            counts[c] += 1
    return counts


def _plan(cfg: dict, n: int, seed: int) -> dict:
    """Everything except the big per-frame arrays (all [n] or [n, small]).

    The steps draw from one generator in a fixed order: reordering them changes the data.
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0]))
    k = len(CLASS_NAMES)
    label, session, part = _sessions(rng, n, k)
    no_video = _no_video(rng, n, k, label, session, part)
    # class shown by each modality: the true one with probability SIGNAL[m], else none (k)
    apparent = {}
    for m in "AVT":
        apparent[m] = np.where(rng.random(n) < SIGNAL[m], label, k)
    audio_len, video_len, text_len = _lengths(rng, cfg, n, no_video)
    tokens = _tokens(rng, cfg, n, k, apparent["T"], text_len)
    split_of, pos = _fold_positions(rng, n, session, part)
    prosody_proto = np.vstack([rng.standard_normal((k, PROSODY_DIM)), np.zeros(PROSODY_DIM)])
    return dict(n=n, label=label, session=session, part=part, apparent=apparent,
                audio_len=audio_len, video_len=video_len, tokens=tokens,
                split_of=split_of, pos=pos, prosody_proto=prosody_proto, rng=rng)


def _sessions(rng, n: int, k: int):
    """Labels stratified over sessions, then the session halves A (0) / B (1), shuffled."""
    counts = _class_counts(n)
    label = np.repeat(np.arange(k), counts)
    session = np.empty(n, np.int64)
    for c in range(k):
        idx = np.flatnonzero(label == c)
        per = np.full(N_SESSIONS, len(idx) // N_SESSIONS)
        per[rng.permutation(N_SESSIONS)[: len(idx) % N_SESSIONS]] += 1
        session[idx] = np.repeat(np.arange(N_SESSIONS), per)
    part = np.zeros(n, np.int64)
    for s in range(N_SESSIONS):
        for c in range(k):
            idx = np.flatnonzero((session == s) & (label == c))
            n_b = min(max(1, round(len(idx) * DEV_PART)), len(idx) - 1)
            part[rng.permutation(idx)[:n_b]] = 1
    # mix the canonical order so chunks hold all sessions and classes
    perm = rng.permutation(n)
    return label[perm], session[perm], part[perm]


def _no_video(rng, n: int, k: int, label, session, part) -> np.ndarray:
    """Utterances without video (never the last of a (session, class, half) group)."""
    group = (session * k + label) * 2 + part
    left = np.bincount(group, minlength=N_SESSIONS * k * 2)
    no_video = np.zeros(n, bool)
    target = round(NO_VIDEO_RATE * n)
    for i in rng.permutation(n):
        if no_video.sum() >= target:
            break
        if left[group[i]] > 1:
            left[group[i]] -= 1
            no_video[i] = True
    return no_video


def _lengths(rng, cfg: dict, n: int, no_video):
    """Valid audio frames, video frames (0 without video) and words per utterance."""
    ta, tv, tl = cfg["audio_frames"], cfg["video_frames"], cfg["text_len"]
    audio_len = np.clip(np.rint(ta * 0.45 * np.exp(0.5 * rng.standard_normal(n))),
                        max(1, ta // 20), ta).astype(np.int64)
    video_len = np.clip(np.rint(tv * 0.7 * np.exp(0.4 * rng.standard_normal(n))),
                        1, tv).astype(np.int64)
    video_len[no_video] = 0
    text_len = np.clip(np.rint(cfg["text_mean_len"] * np.exp(0.5 * rng.standard_normal(n))),
                       2, tl).astype(np.int64)
    return audio_len, video_len, text_len


def _tokens(rng, cfg: dict, n: int, k: int, shown, text_len) -> np.ndarray:
    """[n, L] ids: 1 .. k*cue are cue words (class c owns a block), the rest common words."""
    tl, vocab, cue = cfg["text_len"], cfg["vocab_size"], cfg["cue_words"]
    n_common = vocab - 1 - k * cue
    zipf = 1.0 / (np.arange(n_common) + 2.0)
    zipf /= zipf.sum()
    is_cue = (rng.random((n, tl)) < TEXT_CUE_RATE) & (shown < k)[:, None]
    cue_tok = 1 + np.minimum(shown, k - 1)[:, None] * cue + rng.integers(0, cue, size=(n, tl))
    common_tok = 1 + k * cue + rng.choice(n_common, size=(n, tl), p=zipf)
    tokens = np.where(is_cue, cue_tok, common_tok).astype(np.int64)
    tokens[np.arange(tl)[None, :] >= text_len[:, None]] = 0
    return tokens


def _fold_positions(rng, n: int, session, part):
    """Split (0 train / 1 dev / 2 test) and row position of every utterance in every fold."""
    split_of = np.empty((N_SESSIONS, n), np.int64)
    pos = np.empty((N_SESSIONS, n), np.int64)
    for f in range(N_SESSIONS):
        sp = np.zeros(n, np.int64)
        sp[(session == (f + 1) % N_SESSIONS) & (part == 1)] = 1
        sp[session == f] = 2
        split_of[f] = sp
        for s in range(3):
            members = rng.permutation(np.flatnonzero(sp == s))
            pos[f, members] = np.arange(len(members))
    return split_of, pos


# ----------------------------------------------------------------------------------------
# writing
# ----------------------------------------------------------------------------------------
def _atomic_save(path: Path, arr: np.ndarray) -> None:
    with atomic_writer(path, "wb") as fh:
        np.save(fh, arr, allow_pickle=False)


def _write_vocab(out: Path, cfg: dict, plan: dict) -> None:
    """W_embedding [vocab, E] (row 0 = padding = zeros) and dic.pkl, same in every fold."""
    rng = plan["rng"]
    vocab, e, cue, k = cfg["vocab_size"], cfg["embed_dim"], cfg["cue_words"], len(CLASS_NAMES)
    w = 0.4 * rng.standard_normal((vocab, e))
    class_dir = 0.4 * rng.standard_normal((k, e))
    for c in range(k):
        w[1 + c * cue: 1 + (c + 1) * cue] += CUE_LEAN * class_dir[c]
    w[0] = 0.0
    w = w.astype(np.float32)
    words = {}
    for c, name in enumerate(CLASS_NAMES):
        for j in range(cue):
            words[f"{name}_{j}"] = 1 + c * cue + j
    for j in range(vocab - 1 - k * cue):
        words[f"word{j:05d}"] = 1 + k * cue + j
    dic = pickle.dumps(words, protocol=4)
    for f in range(N_SESSIONS):
        d = _fold_path(out, f)
        _atomic_save(d / "W_embedding.npy", w)
        atomic_write_bytes(d / "dic.pkl", dic)


def _write_small_arrays(out: Path, plan: dict) -> None:
    """Per-utterance arrays: labels, sequence lengths, tokens."""
    per_utt = {"label": plan["label"], "audio_seqN": plan["audio_len"],
               "video_seqN": plan["video_len"], "nlp_trans": plan["tokens"]}
    for f in range(N_SESSIONS):
        d = _fold_path(out, f)
        for s, split in enumerate(SPLITS):
            members = np.flatnonzero(plan["split_of"][f] == s)
            order = members[np.argsort(plan["pos"][f, members])]
            for key, arr in per_utt.items():
                _atomic_save(d / f"{split}_{key}.npy", np.ascontiguousarray(arr[order]))


# ----------------------------------------------------------------------------------------
# the corpus seam: format "synthetic" = this generator + the Yoon reader
# ----------------------------------------------------------------------------------------
def _generate(data, root: Path, say) -> None:
    if not (Path(root) / _MARKER).is_file():
        say(f"generating synthetic '{data.preset}' data in {root} ...")
    ensure_synthetic(root, data.preset, seed=data.seed, utterances=data.utterances)


def _declared_shapes(data, n_classes: int):
    from harness.models.shapes import InputShapes

    p = PRESETS[data.preset]
    return InputShapes(p["audio_frames"], p["audio_dim"], p["video_frames"], p["video_dim"],
                       p["embed_dim"], n_classes, text_tokens=p["text_len"])


register_corpus(CorpusEntry(
    "synthetic", open=YoonCorpus, generate=_generate, declared_shapes=_declared_shapes,
    description="synthetic data in the Yoon et al. IEMOCAP layout, generated on first use",
    options=("preset", "utterances", "seed", "audio_norm"),
    path_hint="a folder for the generated fold01..fold05 (created if absent)"))
