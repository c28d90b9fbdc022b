"""Study files: load YAML, validate every key, expand defaults into a frozen `Study`.

A study asks one question with many seeded trainings. Every user mistake becomes a
`StudyError` whose message names the file, the dotted key, what is allowed and what was
found (with the closest valid name when a name is misspelled).
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from .errors import StudyError

MODALITY_ORDER = "AVT"
ALL_COMBINATIONS = ("A", "V", "T", "AV", "AT", "VT", "AVT")
MODEL_NAMES = ("self", "cross", "cross_self", "self_nosp", "cross_nosp")
# Models built on cross-modal attention are undefined for one modality.
NEEDS_TWO_MODALITIES = frozenset({"cross", "cross_self", "cross_nosp"})
IEMOCAP_CLASSES = ("angry", "excited", "happy", "sad", "frustrated", "surprise", "neutral")
DATA_FORMATS = ("iemocap_yoon", "synthetic")
SYNTHETIC_PRESETS = ("small", "iemocap")


# --- configuration sections: each field carries its default (the paper's value) -----------


@dataclass(frozen=True)
class DataConfig:
    format: str = "iemocap_yoon"  # iemocap_yoon | synthetic
    path: str = ""  # data root holding fold01..fold05; $ENV and ~ expanded
    preset: str = "small"  # synthetic only: small | iemocap
    utterances: int | None = None  # synthetic only: corpus size (None: the preset's)
    seed: int = 0  # synthetic only: generator seed
    classes: tuple[str, ...] = IEMOCAP_CLASSES  # class names in label-id order
    audio_norm: str = "none"  # none (published code) | standardize (train statistics)


@dataclass(frozen=True)
class TrainingConfig:
    max_epochs: int = 200  # safety cap; the published code has none
    batch_size: int = 32
    lr: float = 1e-3  # Adam
    patience: int = 10  # early stop: epochs without a better dev accuracy
    lr_patience: int = 10  # ReduceLROnPlateau on dev loss
    lr_factor: float = 0.1
    dtype: str = "float32"  # float32 | float64 (the published numerics)
    amp: str = "none"  # none | bf16 | fp16: autocast on CUDA only


@dataclass(frozen=True)
class ModelConfig:
    hidden: int = 60  # GRU units per direction; sequence features are 2*hidden wide
    heads: int = 6
    attn_dropout: float = 0.1
    text_dropout: float = 0.25  # on the word embeddings, training only
    audio_conv_channels: int | None = None  # None: frames // 2 (1000 -> 500, the paper)
    video_conv_channels: int | None = None  # None: round(frames * 25 / 32) (32 -> 25)
    proj_dim: int = 60  # linear layer between pooling and classifier


@dataclass(frozen=True)
class ClusterConfig:
    kind: str = "local"  # local | address | slurm
    address: str | None = None  # scheduler address when kind == address
    workers: int | None = None  # local: worker processes; slurm: jobs to scale to
    threads_per_worker: int = 1
    memory: str = "8GB"  # slurm: per job
    cores: int = 1  # slurm: per job
    walltime: str = "04:00:00"  # slurm
    queue: str | None = None  # slurm partition
    account: str | None = None  # slurm
    job_extra_directives: tuple[str, ...] = ()  # slurm: extra #SBATCH lines


@dataclass(frozen=True)
class ExecutionConfig:
    backend: str = "sequential"  # sequential | loky | dask
    jobs: int = 1  # parallel runs (loky workers, dask tasks in flight)
    threads_per_job: int | None = None  # torch threads per run; None: cores // jobs
    device: str = "auto"  # auto | cpu | cuda
    runs_per_gpu: int = 1  # with cuda: runs sharing one GPU
    retries: int = 0  # extra attempts for failed runs within one invocation
    cluster: ClusterConfig = field(default_factory=ClusterConfig)


@dataclass(frozen=True)
class StatsConfig:
    alpha: float = 0.05
    correction: str = "holm"  # holm | fdr_bh
    equivalence_margin: float = 0.01  # accuracy fraction: one point


@dataclass(frozen=True)
class ReportConfig:
    paper_values: str = "auto"  # auto (real IEMOCAP only) | always | never
    figures: bool = True


@dataclass(frozen=True)
class Study:
    name: str
    data: DataConfig
    models: tuple[str, ...]
    modalities: tuple[str, ...]  # the default combinations
    folds: tuple[int, ...]
    seeds: tuple[int, ...]
    training: TrainingConfig
    model: ModelConfig
    execution: ExecutionConfig
    stats: StatsConfig
    report: ReportConfig
    source: str = ""  # the file it came from
    model_modalities: dict = field(default_factory=dict)  # model -> its own combinations

    @property
    def data_path(self) -> Path:
        """data.path with $VARS and ~ expanded (StudyError when a variable is unset)."""
        try:
            return Path(expand_path(self.data.path))
        except StudyError as exc:
            raise StudyError(f"{self.source}: {exc}") from None

    def requested_combinations(self, model: str) -> tuple[str, ...]:
        return self.model_modalities.get(model, self.modalities)

    @property
    def n_classes(self) -> int:
        return len(self.data.classes)

    def combinations_for(self, model: str) -> tuple[str, ...]:
        """Modality combinations this model runs on (cross models skip uni-modal ones)."""
        combos = self.requested_combinations(model)
        if model in NEEDS_TWO_MODALITIES:
            return tuple(m for m in combos if len(m) >= 2)
        return combos

    def all_combinations(self) -> tuple[str, ...]:
        used = {c for m in self.models for c in self.combinations_for(m)}
        return tuple(c for c in ALL_COMBINATIONS if c in used)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("source")
        own = d.pop("model_modalities")
        if own:  # written back in the mapping form it came in
            d["models"] = {m: list(own[m]) if m in own else None for m in self.models}
        return _plain(d)


def _plain(x):
    """Tuples to lists, recursively, so YAML/JSON dumps are plain."""
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    return x


# --- validation helpers -------------------------------------------------------------------


class _Ctx:
    """Where we are in the file, for messages."""

    def __init__(self, source: str):
        self.source = source

    def fail(self, key: str, allowed: str, found: Any) -> StudyError:
        return StudyError(
            f"{self.source}: key '{key}' must be {allowed}. Got {found!r} instead."
        )


def _suggest(word: str, options) -> str:
    close = difflib.get_close_matches(str(word), list(options), n=1, cutoff=0.5)
    return f" Did you mean '{close[0]}'?" if close else ""


def _check_keys(ctx: _Ctx, section: dict, allowed, where: str) -> None:
    for key in section:
        if key not in allowed:
            path = f"{where}.{key}" if where else str(key)
            raise StudyError(
                f"{ctx.source}: unknown key '{path}'.{_suggest(key, allowed)} "
                f"Allowed keys{' in ' + repr(where) if where else ''}: {', '.join(sorted(allowed))}."
            )


def _section(ctx: _Ctx, raw: dict, key: str) -> dict:
    value = raw.get(key, {})
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ctx.fail(key, "a mapping of settings", value)
    return value


def _int(ctx, key, value, minimum=None, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ctx.fail(key, "an integer" + (f" >= {minimum}" if minimum is not None else ""), value)
    if minimum is not None and value < minimum:
        raise ctx.fail(key, f"an integer >= {minimum}", value)
    return value


def _float(ctx, key, value, low=None, high=None, low_open=False):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ctx.fail(key, "a number", value)
    value = float(value)
    bad_low = low is not None and (value <= low if low_open else value < low)
    bad_high = high is not None and value > high
    if bad_low or bad_high:
        lo = f"{'>' if low_open else '>='} {low}" if low is not None else ""
        hi = f"<= {high}" if high is not None else ""
        raise ctx.fail(key, "a number " + " and ".join(s for s in (lo, hi) if s), value)
    return value


def _bool(ctx, key, value):
    if not isinstance(value, bool):
        raise ctx.fail(key, "true or false", value)
    return value


def _str_list(ctx, key, value):
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ctx.fail(key, "a list of strings", value)
    return tuple(value)


def _choice(ctx, key, value, options):
    if value not in options:
        raise StudyError(
            f"{ctx.source}: key '{key}' must be one of {', '.join(map(str, options))}. "
            f"Got {value!r} instead.{_suggest(value, options)}"
        )
    return value


def _build(ctx: _Ctx, cls, raw: dict, where: str, checks: dict):
    """Dataclass `cls` from `raw`, unknown keys rejected, each value through checks[key]."""
    names = [f.name for f in fields(cls)]
    _check_keys(ctx, raw, names, where)
    values = {}
    for key, value in raw.items():
        check = checks.get(key)
        values[key] = check(f"{where}.{key}", value) if check else value
    return cls(**values)


def expand_path(value: str) -> str:
    """Expand $VAR, ${VAR} and ~; an unset variable is an error, not an empty string."""
    missing = [
        m.group(1) or m.group(2)
        for m in re.finditer(r"\$(?:\{(\w+)\}|(\w+))", value)
        if (m.group(1) or m.group(2)) not in os.environ
    ]
    if missing:
        raise StudyError(
            f"environment variable ${missing[0]} used in data.path ({value!r}) is not set. "
            f"Set it to the folder holding fold01..fold05, e.g. export {missing[0]}=/data/iemocap."
        )
    return os.path.expanduser(os.path.expandvars(value))


def normalise_combination(text: str) -> str:
    """'TA' -> 'AT', 'avt' -> 'AVT'; raises ValueError on anything else."""
    letters = str(text).upper().replace("+", "")
    if not letters or any(c not in MODALITY_ORDER for c in letters) or len(set(letters)) != len(letters):
        raise ValueError(text)
    return "".join(c for c in MODALITY_ORDER if c in letters)


def _id_list(ctx, key, value, what):
    """A positive count n -> (1..n), or a list of distinct non-negative integers."""
    allowed = f"a list of distinct non-negative integers or a positive count of {what}"
    if isinstance(value, bool):
        raise ctx.fail(key, allowed, value)
    if isinstance(value, int):
        if value < 1:
            raise ctx.fail(key, allowed, value)
        return tuple(range(1, value + 1))
    if not isinstance(value, list) or not value:
        raise ctx.fail(key, allowed, value)
    for v in value:
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ctx.fail(key, allowed, v)
    if len(set(value)) != len(value):
        raise ctx.fail(key, allowed + " (no repeats)", value)
    return tuple(value)


# --- the loader ---------------------------------------------------------------------------

TOP_KEYS = (
    "name", "data", "models", "modalities", "folds", "seeds",
    "training", "model", "execution", "stats", "report",
)


def load_study(path: str | os.PathLike, overrides: dict | None = None) -> Study:
    """Read and validate a study file. `overrides` (e.g. {"execution": {"jobs": 2}}) win."""
    path = Path(path)
    if not path.is_file():
        raise StudyError(f"study file {path} does not exist (or is not a file).")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise StudyError(f"{path}: invalid YAML{where}: {problem}.") from None
    except UnicodeDecodeError:
        raise StudyError(f"{path}: not a text (UTF-8) YAML file.") from None
    return parse_study(raw, source=str(path), overrides=overrides)


def parse_study(raw: Any, source: str = "<study>", overrides: dict | None = None) -> Study:
    ctx = _Ctx(source)
    if not isinstance(raw, dict):
        raise StudyError(f"{source}: a study file must be a YAML mapping with keys "
                         f"{', '.join(TOP_KEYS)}. Got {type(raw).__name__} instead.")
    raw = dict(raw)
    for section, values in (overrides or {}).items():
        raw[section] = {**(raw.get(section) or {}), **values}
    _check_keys(ctx, raw, TOP_KEYS, "")
    for required in ("name", "data", "models", "folds", "seeds"):
        if required not in raw:
            raise StudyError(f"{source}: missing required key '{required}'.")

    name = raw["name"]
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
        raise ctx.fail("name", "a folder-safe name (letters, digits, '_', '-', '.')", name)

    data = _parse_data(ctx, _section(ctx, raw, "data"))
    models, own = _parse_models(ctx, raw["models"])
    modalities = _parse_modalities(ctx, raw.get("modalities", "all"), "modalities")
    own = {m: _parse_modalities(ctx, v, f"models.{m}") for m, v in own.items() if v is not None}
    folds = _id_list(ctx, "folds", raw["folds"], "folds")
    if 0 in folds:
        raise ctx.fail("folds", "fold numbers starting at 1 (fold01 is fold 1)", list(folds))
    seeds = _id_list(ctx, "seeds", raw["seeds"], "seeds")

    training = _build(ctx, TrainingConfig, _section(ctx, raw, "training"), "training", {
        "max_epochs": lambda k, v: _int(ctx, k, v, 1),
        "batch_size": lambda k, v: _int(ctx, k, v, 1),
        "lr": lambda k, v: _float(ctx, k, v, 0, low_open=True),
        "patience": lambda k, v: _int(ctx, k, v, 1),
        "lr_patience": lambda k, v: _int(ctx, k, v, 0),
        "lr_factor": lambda k, v: _float(ctx, k, v, 0, 1, low_open=True),
        "dtype": lambda k, v: _choice(ctx, k, v, ("float32", "float64")),
        "amp": lambda k, v: _choice(ctx, k, v, ("none", "bf16", "fp16")),
    })
    model = _build(ctx, ModelConfig, _section(ctx, raw, "model"), "model", {
        "hidden": lambda k, v: _int(ctx, k, v, 1),
        "heads": lambda k, v: _int(ctx, k, v, 1),
        "attn_dropout": lambda k, v: _float(ctx, k, v, 0, 1),
        "text_dropout": lambda k, v: _float(ctx, k, v, 0, 1),
        "audio_conv_channels": lambda k, v: _int(ctx, k, v, 1, allow_none=True),
        "video_conv_channels": lambda k, v: _int(ctx, k, v, 1, allow_none=True),
        "proj_dim": lambda k, v: _int(ctx, k, v, 1),
    })
    if (2 * model.hidden) % model.heads:
        raise ctx.fail("model.heads", f"a divisor of 2*hidden = {2 * model.hidden}", model.heads)
    execution = _parse_execution(ctx, _section(ctx, raw, "execution"))
    stats = _build(ctx, StatsConfig, _section(ctx, raw, "stats"), "stats", {
        "alpha": lambda k, v: _float(ctx, k, v, 0, 0.5, low_open=True),
        "correction": lambda k, v: _choice(ctx, k, v, ("holm", "fdr_bh")),
        "equivalence_margin": lambda k, v: _float(ctx, k, v, 0, 1, low_open=True),
    })
    report = _build(ctx, ReportConfig, _section(ctx, raw, "report"), "report", {
        "paper_values": lambda k, v: _choice(ctx, k, v, ("auto", "always", "never")),
        "figures": lambda k, v: _bool(ctx, k, v),
    })

    study = Study(name=name, data=data, models=models, modalities=modalities, folds=folds,
                  seeds=seeds, training=training, model=model, execution=execution,
                  stats=stats, report=report, source=source, model_modalities=own)
    for m in models:
        if not study.combinations_for(m):
            raise StudyError(
                f"{source}: model '{m}' gets no run: it needs at least two modalities, and "
                f"its combinations are only uni-modal: {list(study.requested_combinations(m))}. "
                f"Add a combination such as AV or AVT, or remove '{m}' from 'models'."
            )
    return study


def _parse_data(ctx: _Ctx, raw: dict) -> DataConfig:
    def classes(key, v):
        if not isinstance(v, list) or len(v) < 2 or not all(isinstance(c, str) and c for c in v):
            raise ctx.fail(key, "a list of at least two class names in label-id order", v)
        if len(set(v)) != len(v):
            raise ctx.fail(key, "distinct class names", v)
        return tuple(v)

    def path(key, v):
        if not isinstance(v, str) or not v.strip():
            raise ctx.fail(key, "a folder path (environment variables such as $IEMOCAP_DIR allowed)", v)
        return v  # expanded when used (Study.data_path), so validate works without the data

    data = _build(ctx, DataConfig, raw, "data", {
        "format": lambda k, v: _choice(ctx, k, v, DATA_FORMATS),
        "path": path,
        "preset": lambda k, v: _choice(ctx, k, v, SYNTHETIC_PRESETS),
        "utterances": lambda k, v: _int(ctx, k, v, 50, allow_none=True),
        "seed": lambda k, v: _int(ctx, k, v, 0),
        "classes": classes,
        "audio_norm": lambda k, v: _choice(ctx, k, v, ("none", "standardize")),
    })
    if not data.path:
        raise StudyError(f"{ctx.source}: missing required key 'data.path' (the folder holding fold01..fold05).")
    return data


def _parse_models(ctx: _Ctx, value) -> tuple[tuple[str, ...], dict]:
    """A list of model names, or a mapping name -> its own combinations (null: 'modalities')."""
    own = {}
    if isinstance(value, dict):
        own = dict(value)
        value = list(value)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise ctx.fail("models", f"a non-empty list drawn from {', '.join(MODEL_NAMES)} (or a "
                       "mapping from those names to their modality combinations)", value)
    for m in value:
        if m not in MODEL_NAMES:
            raise StudyError(
                f"{ctx.source}: unknown model {m!r} in 'models'.{_suggest(m, MODEL_NAMES)} "
                f"Allowed: {', '.join(MODEL_NAMES)}."
            )
    if len(set(value)) != len(value):
        raise ctx.fail("models", "a list without repeats", value)
    return tuple(value), own


def _parse_modalities(ctx: _Ctx, value, key: str) -> tuple[str, ...]:
    if value == "all":
        return ALL_COMBINATIONS
    if isinstance(value, str):
        value = [value]
    allowed = "'all' or a list of combinations of the letters A, V, T such as [T, AV, AVT]"
    if not isinstance(value, list) or not value:
        raise ctx.fail(key, allowed, value)
    out = []
    for v in value:
        try:
            out.append(normalise_combination(v))
        except ValueError:
            raise ctx.fail(key, allowed, v) from None
    if len(set(out)) != len(out):
        raise ctx.fail(key, "a list without repeats (letter order does not matter)", value)
    return tuple(sorted(out, key=ALL_COMBINATIONS.index))


def _parse_execution(ctx: _Ctx, raw: dict) -> ExecutionConfig:
    raw = dict(raw)
    cluster_raw = raw.pop("cluster", None) or {}
    if isinstance(cluster_raw, str):
        cluster_raw = {"kind": cluster_raw}
    if not isinstance(cluster_raw, dict):
        raise ctx.fail("execution.cluster", "local, slurm, or a mapping with 'kind'", cluster_raw)
    cluster = _build(ctx, ClusterConfig, cluster_raw, "execution.cluster", {
        "kind": lambda k, v: _choice(ctx, k, v, ("local", "address", "slurm")),
        "workers": lambda k, v: _int(ctx, k, v, 1, allow_none=True),
        "threads_per_worker": lambda k, v: _int(ctx, k, v, 1),
        "cores": lambda k, v: _int(ctx, k, v, 1),
        "job_extra_directives": lambda k, v: _str_list(ctx, k, v),
    })
    if cluster.kind == "address" and not cluster.address:
        raise StudyError(f"{ctx.source}: execution.cluster.kind is 'address' but "
                         "execution.cluster.address (e.g. tcp://host:8786) is missing.")
    execution = _build(ctx, ExecutionConfig, raw, "execution", {
        "backend": lambda k, v: _choice(ctx, k, v, ("sequential", "loky", "dask")),
        "jobs": lambda k, v: _int(ctx, k, v, 1),
        "threads_per_job": lambda k, v: _int(ctx, k, v, 1, allow_none=True),
        "device": lambda k, v: _choice(ctx, k, v, ("auto", "cpu", "cuda")),
        "runs_per_gpu": lambda k, v: _int(ctx, k, v, 1),
        "retries": lambda k, v: _int(ctx, k, v, 0),
    })
    return ExecutionConfig(**{**{f.name: getattr(execution, f.name) for f in fields(execution)},
                              "cluster": cluster})


def dump_study(study: Study) -> str:
    """The resolved study as YAML (what lands in results/<study>/study.yaml)."""
    return yaml.safe_dump(study.to_dict(), sort_keys=False)
