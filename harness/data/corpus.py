"""The corpus seam: what a data format must provide, and the registry ``data.format -> reader``.

A corpus reader turns a study's ``data`` section into a :class:`Corpus`: its fold ids, input
shapes, class names, a fingerprint and its checks; a :class:`Fold` holds train/dev/test
:class:`Split` s, and ``Split.batch(rows, modalities)`` gives the model its input dict
(``"A"`` [B, frames, features], ``"V"`` [B, frames, features], ``"T"`` [B, tokens, embedding],
only the run's modalities). Labels are ``Split.labels``, never part of the batch.

Adding a corpus is one call, from any module::

    register_corpus(CorpusEntry("my_format", open=MyCorpus, description="..."))

after which ``data.format: my_format`` validates, plans and trains: study, plan, train and
the CLI only talk to this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Protocol, runtime_checkable

import numpy as np
import torch

from harness.errors import DataError, StudyError, UserError

if TYPE_CHECKING:  # pragma: no cover - import cycle: study parsing asks this registry
    from harness.models import InputShapes
    from harness.study import DataConfig, Study


@runtime_checkable
class Split(Protocol):
    """One split (train, dev or test) of one fold."""

    name: str
    labels: np.ndarray   # int64 [n]: class ids 0..n_classes-1
    index: np.ndarray    # int64 [n]: row of each utterance in the split's source arrays

    def __len__(self) -> int: ...

    def batch(self, rows: np.ndarray, modalities: str,
              dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
        """Model input for positions ``rows`` (0..n-1): only the keys of ``modalities``."""
        ...


@runtime_checkable
class Fold(Protocol):
    """A train/dev/test partition; early stopping reads dev, the result is test."""

    train: Split
    dev: Split
    test: Split
    shapes: "InputShapes"   # the fields of InputShapes (audio_frames ... text_tokens)
    n_classes: int


@runtime_checkable
class Corpus(Protocol):
    """An opened data set (cheap to open: arrays are read or mapped when a fold is loaded)."""

    format: str
    folds: tuple[int, ...]          # fold ids it holds (one fixed split: (1,))
    shapes: "InputShapes"           # what the encoders must know
    class_names: tuple[str, ...]    # in label-id order

    def fingerprint(self, folds) -> str:
        """Short hash of everything the runs of ``folds`` read (part of every run id)."""
        ...

    def check(self, folds, modalities: str = "AVT") -> None:
        """Every check of the format for these folds and modality letters (DataError naming
        file/split and key); writes nothing."""
        ...

    def load_fold(self, fold: int) -> Fold: ...

    def describe(self) -> dict:
        """Sizes for reports: splits per fold, class counts, dropped rows."""
        ...

    def notes(self, folds) -> list[str]:
        """What a user should know before the runs (e.g. how many utterances are dropped)."""
        ...


@dataclass(frozen=True)
class CorpusEntry:
    """One data format: how to open it and what its study section may say."""

    format: str
    #: (data section, expanded data path, class names) -> Corpus
    open: Callable[["DataConfig", Path, tuple[str, ...]], Corpus]
    description: str = ""
    #: data.* keys besides format/path/classes this format reads (others are errors)
    options: tuple[str, ...] = ()
    #: allowed data.labels values; the first is the default ((): the key is not used)
    labels: tuple[str, ...] = ()
    #: one fixed train/dev/test split: the study must say ``folds: 1``
    fixed_split: bool = False
    #: class names when the study gives none (default: the data section's default); the
    #: study must then give exactly as many, except under the label rules listed next
    default_classes: Callable[["DataConfig"], tuple[str, ...]] | None = None
    #: label rules whose class count the file decides (data.classes may name any number)
    rules_with_own_classes: tuple[str, ...] = ()
    #: InputShapes without the data (validate, dry runs); None: unknown until read
    declared_shapes: Callable[["DataConfig", int], "InputShapes"] | None = None
    #: writes the data at its path if absent (synthetic formats): (data, path, say) -> None
    generate: Callable[["DataConfig", Path, Callable[[str], None]], None] | None = None
    #: what data.path must hold, for messages
    path_hint: str = "the data"
    #: drops the format's in-process copy of its data (see :func:`release_data`)
    release: Callable[[], None] | None = None


CORPORA: dict[str, CorpusEntry] = {}


def register_corpus(entry: CorpusEntry) -> CorpusEntry:
    """Add (or replace) a data format; returns the entry."""
    if not isinstance(entry.format, str) or not entry.format:
        raise ValueError(f"a corpus format must be a non-empty string, got {entry.format!r}")
    CORPORA[entry.format] = entry
    return entry


def entry_for(fmt: str) -> CorpusEntry:
    """The registered entry of ``fmt`` (UserError naming the known formats)."""
    if fmt not in CORPORA:
        raise UserError(f"unknown data.format {fmt!r}; registered: {', '.join(CORPORA)}")
    return CORPORA[fmt]


# ----------------------------------------------------------------------------------------
# opening: from a study (CLI, plan) or from a run's data reference (training workers)
# ----------------------------------------------------------------------------------------
def open_corpus(study: "Study") -> Corpus:
    """The study's corpus (its data must exist; DataError otherwise)."""
    return entry_for(study.data.format).open(study.data, study.data_path, study.data.classes)


#: (format, path, mtime, options...) -> Corpus: one open corpus per worker process, so a
#: large file is read once per process and shared by every run the process trains.
_OPEN: dict[tuple, Corpus] = {}
_FOLDS: dict[tuple, Fold] = {}


def release_data() -> None:
    """Forget every opened corpus and loaded data in this process.

    run-study calls it before parallel workers start: they read the data themselves, so the
    parent need not keep a copy of a multi-gigabyte pickle while they train.
    """
    _OPEN.clear()
    _FOLDS.clear()
    for entry in CORPORA.values():
        if entry.release is not None:
            entry.release()


def _stamp(path: Path) -> tuple:
    try:
        st = path.stat()
    except OSError:
        return (str(path), None)
    return (str(path.resolve()), st.st_mtime_ns, st.st_size)


def open_for_run(data) -> Corpus:
    """The corpus a run reads, from its ``DataRef`` (cached per process by path + mtime).

    A worker needs the class count, not the names: they are placeholders here.
    """
    from harness.study import DataConfig

    classes = tuple(f"class{i}" for i in range(int(data.n_classes)))
    cfg = DataConfig(format=data.format, path=str(data.path), audio_norm=data.audio_norm,
                     labels=getattr(data, "labels", ""), classes=classes)
    key = (cfg.format, *_stamp(Path(cfg.path)), cfg.audio_norm, cfg.labels, classes)
    if key not in _OPEN:
        if len(_OPEN) >= 4:      # a worker serving many studies: drop old ones
            _OPEN.clear()
            _FOLDS.clear()
        _OPEN[key] = entry_for(cfg.format).open(cfg, Path(cfg.path), classes)
    return _OPEN[key]


def load_run_fold(data, fold: int) -> Fold:
    """One loaded fold per (corpus, fold) per process, reused across the process's runs."""
    corpus = open_for_run(data)
    key = (id(corpus), int(fold))
    if key not in _FOLDS:
        if len(_FOLDS) >= 8:
            _FOLDS.clear()
        _FOLDS[key] = corpus.load_fold(int(fold))
    return _FOLDS[key]


# ----------------------------------------------------------------------------------------
# what the CLI and the plan need
# ----------------------------------------------------------------------------------------
def study_shapes(study: "Study") -> tuple["InputShapes", bool]:
    """(shapes, read from the data?): the data's when its planned folds are there, else the
    format's declared shapes (UserError when the format declares none and the data is absent).
    """
    entry = entry_for(study.data.format)
    if data_exists(study):
        corpus = entry.open(study.data, study.data_path, study.data.classes)
        if any(f in corpus.folds for f in study.folds):
            return corpus.shapes, True
    if entry.declared_shapes is None:
        raise UserError(f"{study.source}: data.format {study.data.format} has no declared "
                        f"input shapes and its data ({study.data.path!r}) is absent")
    return entry.declared_shapes(study.data, study.n_classes), False


def data_exists(study: "Study") -> bool:
    """Whether the study's data.path exists (False when it names an unset variable)."""
    try:
        return study.data_path.exists()
    except StudyError:
        return False


def summary(corpus: Corpus, folds) -> dict:
    """What run-study records about the data in the resolved study.yaml (``data.corpus``):
    split sizes per planned fold, class counts per split and dropped utterances when the
    corpus gives them. The report header shows them; nothing re-reads the data."""
    d = corpus.describe()
    out = {"split_sizes": {int(f): dict(d["folds"][f]) for f in folds if f in d["folds"]}}
    names = list(corpus.class_names)
    if "class_counts" in d:
        out["class_counts"] = {s: dict(zip(names, map(int, c)))
                               for s, c in d["class_counts"].items()}
    if any(d.get("dropped", {}).values()):
        out["dropped"] = dict(d["dropped"])
    return out


def prepare(study: "Study", *, need: bool, say: Callable[[str], None],
            warn: Callable[[str], None]) -> "Corpus | None":
    """Generate synthetic data if asked, open the corpus and run every check of the planned folds.

    With ``need=False`` (validate, dry runs) absent data is a warning and nothing is written;
    returns None then. Problems in data that is there are always errors.
    """
    entry = entry_for(study.data.format)
    try:
        root = study.data_path
    except StudyError as exc:
        if need:
            raise
        warn(f"{exc} Using the format's declared shapes.")
        return None
    if entry.generate is not None:
        if need:
            entry.generate(study.data, root, say)
        elif not root.exists():
            say(f"note: run-study will generate the {study.data.format} data in data.path "
                f"{study.data.path!r} (not there yet); validate writes nothing.")
            return None
    if not root.exists():
        msg = (f"{study.source}: data.path {study.data.path!r} does not exist "
               f"(expected {entry.path_hint}).")
        if need:
            raise DataError(msg)
        warn(f"{msg} Using the format's declared shapes.")
        return None
    corpus = entry.open(study.data, root, study.data.classes)
    missing = [f for f in study.folds if f not in corpus.folds]
    if missing:
        msg = (f"{study.source}: data.path {study.data.path!r} has no fold "
               f"{', '.join(map(str, missing))} (it holds folds "
               f"{', '.join(map(str, corpus.folds)) or 'none'}; expected {entry.path_hint}).")
        if need:
            raise DataError(msg)
        warn(f"{msg} Using the shapes of the folds present, if any, else the format's "
             f"declared shapes.")
        return corpus
    letters = "".join(m for m in "AVT" if any(m in c for c in study.all_combinations()))
    corpus.check(study.folds, modalities=letters)
    for note in corpus.notes(study.folds):
        say(f"note: {note}")
    return corpus
