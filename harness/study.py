"""Study files: load YAML, validate every key, expand defaults into a frozen `Study`.

A study asks one question with many seeded trainings. Every user mistake becomes a
`StudyError` whose message names the file, the dotted key, what is allowed and what was
found (with the closest valid name when a name is misspelled).
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from .errors import StudyError
from .models.registry import KERNEL_SETTINGS, builtin_names, min_modalities
from .models.shapes import ALL_COMBINATIONS, MODALITY_ORDER  # noqa: F401
from .study_check import (Ctx as _Ctx, build_section as _build, check_bool as _bool,  # noqa: F401
                          check_choice as _choice, check_float as _float, check_int as _int,
                          check_keys as _check_keys, check_str_list as _str_list,
                          expand_path, id_list as _id_list, normalise_combination,
                          parse_modalities as _parse_modalities, section as _section,
                          suggest as _suggest)
from .study_models import (Comparison, UserModel, parse_comparisons as _parse_comparisons,  # noqa: F401
                           parse_models as _parse_models)
# Derived from the model registry (harness.models.registry); kept for older imports.
MODEL_NAMES = builtin_names()
NEEDS_TWO_MODALITIES = frozenset(m for m in MODEL_NAMES if min_modalities(m) >= 2)
IEMOCAP_CLASSES = ("angry", "excited", "happy", "sad", "frustrated", "surprise", "neutral")
SYNTHETIC_PRESETS = ("small", "iemocap")


# --- configuration sections: each field carries its default (the paper's value) -----------


@dataclass(frozen=True)
class DataConfig:
    format: str = "iemocap_yoon"  # a registered format: iemocap_yoon | synthetic | mmsa
    path: str = ""  # the data (folder or file, per format); $ENV and ~ expanded
    preset: str = "small"  # synthetic only: small | iemocap
    utterances: int | None = None  # synthetic only: corpus size (None: the preset's)
    seed: int = 0  # synthetic only: generator seed
    classes: tuple[str, ...] = IEMOCAP_CLASSES  # class names in label-id order
    audio_norm: str = "none"  # none (published code) | standardize (train statistics)
    labels: str = ""  # mmsa only: acc2 (default) | acc2_nonzero | acc7 | classification_labels


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
    # auto | harness | torch: the attention/GRU implementation. 'harness' = CPU kernels
    # (own dropout stream), 'torch' = nn modules; auto -> harness on CPU, torch on CUDA,
    # resolved from execution.device before planning and recorded in the run id.
    kernels: str = "auto"


@dataclass(frozen=True)
class ClusterConfig:
    kind: str = "local"  # local | address | slurm
    address: str | None = None  # scheduler address when kind == address
    workers: int | None = None  # local: worker processes; slurm: jobs to scale to
    threads_per_worker: int = 1  # runs at once in each dask worker process
    memory: str = "8GB"  # slurm: per job
    cores: int = 1  # slurm: per job
    walltime: str = "04:00:00"  # slurm
    queue: str | None = None  # slurm partition
    account: str | None = None  # slurm
    job_extra_directives: tuple[str, ...] = ()  # slurm: extra #SBATCH lines


@dataclass(frozen=True)
class ExecutionConfig:
    backend: str = "auto"  # auto (loky when jobs > 1, else sequential) | sequential | loky | dask
    jobs: int = 1  # parallel runs (loky workers, dask tasks in flight)
    # torch threads per run. 1 whatever the machine: a CPU run's numbers depend on its thread
    # count (measured), and more threads than free cores collapse under load (OpenMP).
    threads_per_job: int = 1
    device: str = "auto"  # auto | cpu | cuda
    runs_per_gpu: int = 1  # with cuda: runs sharing one GPU
    retries: int = 0  # extra attempts for failed runs within one invocation
    cluster: ClusterConfig = field(default_factory=ClusterConfig)


@dataclass(frozen=True)
class PrimaryConfig:
    """The pre-registered primary analysis: the headline verdicts come from this test alone."""

    metric: str = "balanced_accuracy"  # the paper's WA
    unit: str = "fold"  # run | fold: per-fold means, the generalisation unit
    test: str = "paired_t"  # a test of harness.stats.registry giving a difference verdict


@dataclass(frozen=True)
class StatsConfig:
    alpha: float = 0.05
    correction: str = "holm"  # holm | fdr_bh
    equivalence_margin: float = 0.01  # accuracy fraction: one point
    primary: PrimaryConfig = field(default_factory=PrimaryConfig)


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
    user_models: dict = field(default_factory=dict)  # name -> UserModel (import path, params)
    comparisons: tuple = ()  # Comparison, ...; empty: the paper's families

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
        least = 1 if model in self.user_models else min_modalities(model)
        return tuple(m for m in combos if len(m) >= least)

    def comparison_combinations(self, c: Comparison) -> tuple[str, ...]:
        """Combinations a declared comparison covers: `on`, or every one both models have."""
        if c.on is not None:
            return c.on
        shared = set(self.combinations_for(c.a)) & set(self.combinations_for(c.b))
        return tuple(m for m in ALL_COMBINATIONS if m in shared)

    def all_combinations(self) -> tuple[str, ...]:
        used = {c for m in self.models for c in self.combinations_for(m)}
        return tuple(c for c in ALL_COMBINATIONS if c in used)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("source")
        own = d.pop("model_modalities")
        user = d.pop("user_models")
        if own or user:  # written back in the mapping form it came in
            d["models"] = {m: list(own[m]) if m in own else None for m in self.models}
            for m, u in self.user_models.items():
                d["models"][m] = {"import": u.import_path,
                                  **({"modalities": list(own[m])} if m in own else {}),
                                  **({"params": u.params} if u.params else {})}
        comparisons = d.pop("comparisons")
        if comparisons:
            d["comparisons"] = [{"a": c.a, "b": c.b, **({"on": list(c.on)} if c.on else {})}
                                for c in self.comparisons]
        return _plain(d)


def _plain(x):
    """Tuples to lists, recursively, so YAML/JSON dumps are plain."""
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    return x


# --- the loader ---------------------------------------------------------------------------

TOP_KEYS = (
    "name", "data", "models", "modalities", "folds", "seeds",
    "training", "model", "execution", "stats", "report", "comparisons",
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
    if raw is None:
        raise StudyError(f"{path}: the study file is empty. It needs at least the keys name, "
                         "data, models, folds and seeds (see README, 'The study file, key by key').")
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
    models, own, user = _parse_models(ctx, raw["models"])
    modalities = _parse_modalities(ctx, raw.get("modalities", "all"), "modalities")
    own = {m: _parse_modalities(ctx, v, f"models.{m}" + (".modalities" if m in user else ""))
           for m, v in own.items() if v is not None}
    folds = _id_list(ctx, "folds", raw["folds"], "folds (fold numbers start at 1)", minimum=1)
    _check_folds_for_data(ctx, data, folds)
    seeds = _id_list(ctx, "seeds", raw["seeds"], "seeds")

    training = _parse_training(ctx, _section(ctx, raw, "training"))
    model = _parse_model(ctx, _section(ctx, raw, "model"))
    execution = _parse_execution(ctx, _section(ctx, raw, "execution"))
    stats = _build(ctx, StatsConfig, _section(ctx, raw, "stats"), "stats", {
        "alpha": lambda k, v: _float(ctx, k, v, 0, 0.5, low_open=True),
        "correction": lambda k, v: _choice(ctx, k, v, ("holm", "fdr_bh")),
        "equivalence_margin": lambda k, v: _float(ctx, k, v, 0, 1, low_open=True),
        "primary": lambda k, v: _parse_primary(ctx, k, v),
    })
    report = _build(ctx, ReportConfig, _section(ctx, raw, "report"), "report", {
        "paper_values": lambda k, v: _choice(ctx, k, v, ("auto", "always", "never")),
        "figures": lambda k, v: _bool(ctx, k, v),
    })

    study = Study(name=name, data=data, models=models, modalities=modalities, folds=folds,
                  seeds=seeds, training=training, model=model, execution=execution,
                  stats=stats, report=report, source=source, model_modalities=own,
                  user_models=user)
    for m in models:
        if not study.combinations_for(m):
            raise StudyError(
                f"{source}: model '{m}' gets no run: it needs at least two modalities, and "
                f"its combinations are only uni-modal: {list(study.requested_combinations(m))}. "
                f"Add a combination such as AV or AVT, or remove '{m}' from 'models'."
            )
    comparisons = _parse_comparisons(ctx, raw.get("comparisons"), study)
    return replace(study, comparisons=comparisons) if comparisons else study


def _parse_training(ctx: _Ctx, raw: dict) -> TrainingConfig:
    return _build(ctx, TrainingConfig, raw, "training", {
        "max_epochs": lambda k, v: _int(ctx, k, v, 1),
        "batch_size": lambda k, v: _int(ctx, k, v, 1),
        "lr": lambda k, v: _float(ctx, k, v, 0, low_open=True),
        "patience": lambda k, v: _int(ctx, k, v, 1),
        "lr_patience": lambda k, v: _int(ctx, k, v, 0),
        "lr_factor": lambda k, v: _float(ctx, k, v, 0, 1, low_open=True),
        "dtype": lambda k, v: _choice(ctx, k, v, ("float32", "float64")),
        "amp": lambda k, v: _choice(ctx, k, v, ("none", "bf16", "fp16")),
    })


def _parse_model(ctx: _Ctx, raw: dict) -> ModelConfig:
    model = _build(ctx, ModelConfig, raw, "model", {
        "hidden": lambda k, v: _int(ctx, k, v, 1),
        "heads": lambda k, v: _int(ctx, k, v, 1),
        "attn_dropout": lambda k, v: _float(ctx, k, v, 0, 1),
        "text_dropout": lambda k, v: _float(ctx, k, v, 0, 1),
        "audio_conv_channels": lambda k, v: _int(ctx, k, v, 1, allow_none=True),
        "video_conv_channels": lambda k, v: _int(ctx, k, v, 1, allow_none=True),
        "proj_dim": lambda k, v: _int(ctx, k, v, 1),
        "kernels": lambda k, v: _choice(ctx, k, v, KERNEL_SETTINGS),
    })
    if (2 * model.hidden) % model.heads:
        raise ctx.fail("model.heads", f"a divisor of 2*hidden = {2 * model.hidden}", model.heads)
    return model


def _parse_data(ctx: _Ctx, raw: dict) -> DataConfig:
    """The data section; which keys a format reads comes from its corpus registry entry."""
    from .data.corpus import CORPORA

    def classes(key, v):
        if not isinstance(v, list) or len(v) < 2 or not all(isinstance(c, str) and c for c in v):
            raise ctx.fail(key, "a list of at least two class names in label-id order", v)
        if len(set(v)) != len(v):
            raise ctx.fail(key, "distinct class names", v)
        return tuple(v)

    def path(key, v):
        if not isinstance(v, str) or not v.strip():
            raise ctx.fail(key, "a path (environment variables such as $IEMOCAP_DIR allowed)", v)
        return v  # expanded when used (Study.data_path), so validate works without the data

    data = _build(ctx, DataConfig, raw, "data", {
        "format": lambda k, v: _choice(ctx, k, v, tuple(CORPORA)),
        "path": path,
        "preset": lambda k, v: _choice(ctx, k, v, SYNTHETIC_PRESETS),
        "utterances": lambda k, v: _int(ctx, k, v, 50, allow_none=True),
        "seed": lambda k, v: _int(ctx, k, v, 0),
        "classes": classes,
        "audio_norm": lambda k, v: _choice(ctx, k, v, ("none", "standardize")),
        "labels": lambda k, v: _str(ctx, k, v, "a label rule name"),
    })
    entry = CORPORA[data.format]
    if not data.path:
        raise StudyError(f"{ctx.source}: missing required key 'data.path' ({entry.path_hint}).")
    # A key of another format is an error unless it holds its default (a resolved study.yaml
    # lists every key, and must read back).
    for key in ("preset", "utterances", "seed", "audio_norm", "labels"):
        if key in raw and key not in entry.options and not (key == "labels" and entry.labels) \
                and getattr(data, key) != getattr(DataConfig(), key):
            raise StudyError(f"{ctx.source}: key 'data.{key}' does not apply to data.format "
                             f"'{data.format}' (its keys: format, path, classes"
                             f"{''.join(', ' + o for o in entry.options)}"
                             f"{', labels' if entry.labels else ''}). Remove it.")
    return _data_labels_and_classes(ctx, raw, data, entry)


def _data_labels_and_classes(ctx: _Ctx, raw: dict, data: DataConfig, entry) -> DataConfig:
    """Resolve data.labels (the format's default rule) and the classes the rule implies."""
    labels = data.labels
    if entry.labels:
        labels = _choice(ctx, "data.labels", labels or entry.labels[0], entry.labels)
    classes = data.classes
    if entry.default_classes is not None:
        want = entry.default_classes(replace(data, labels=labels))
        if "classes" not in raw:
            classes = want
        elif len(classes) != len(want) and labels not in entry.rules_with_own_classes:
            rule = f" with data.labels {labels}" if labels else ""
            raise ctx.fail("data.classes", f"{len(want)} class names for data.format "
                           f"{data.format}{rule} (default {list(want)})", list(classes))
    return replace(data, labels=labels, classes=classes)


def _str(ctx, key, value, allowed):
    if not isinstance(value, str):
        raise ctx.fail(key, allowed, value)
    return value


def _check_folds_for_data(ctx: _Ctx, data: DataConfig, folds: tuple[int, ...]) -> None:
    """A corpus with one fixed train/dev/test split has exactly one fold: 1."""
    from .data.corpus import CORPORA

    if CORPORA[data.format].fixed_split and folds != (1,):
        raise ctx.fail("folds", f"1 for data.format {data.format} (one fixed train/valid/test "
                       f"split: the seeds carry the design)", list(folds))


def _parse_primary(ctx: _Ctx, key: str, raw) -> PrimaryConfig:
    """stats.primary: metric, unit and test, checked against the test registry."""
    from .metrics import SUMMARY_METRICS
    from .stats.registry import primary_choices

    if not isinstance(raw, dict):
        raise ctx.fail(key, "a mapping with metric, unit and test", raw)
    primary = _build(ctx, PrimaryConfig, raw, key, {
        "metric": lambda k, v: _choice(ctx, k, v, tuple(SUMMARY_METRICS)),
        "unit": lambda k, v: _choice(ctx, k, v, ("run", "fold")),
    })
    choices = primary_choices()
    if (primary.test, primary.unit) not in choices:
        allowed = ", ".join(f"{t} at unit {u}" for t, u in choices)
        raise StudyError(f"{ctx.source}: key '{key}.test' must name a test that gives a "
                         f"difference verdict at unit {primary.unit!r} ({allowed}). Got "
                         f"{primary.test!r} instead.{_suggest(primary.test, [t for t, _ in choices])}")
    return primary


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
        "backend": lambda k, v: _choice(ctx, k, v, ("auto", "sequential", "loky", "dask")),
        "jobs": lambda k, v: _int(ctx, k, v, 1),
        # null: what an older resolved study.yaml holds (cores // jobs then); now 1
        "threads_per_job": lambda k, v: _int(ctx, k, v, 1, allow_none=True) or 1,
        "device": lambda k, v: _choice(ctx, k, v, ("auto", "cpu", "cuda")),
        "runs_per_gpu": lambda k, v: _int(ctx, k, v, 1),
        "retries": lambda k, v: _int(ctx, k, v, 0),
    })
    if execution.backend == "sequential" and execution.jobs > 1:
        raise StudyError(f"{ctx.source}: execution.jobs is {execution.jobs} but execution.backend "
                         "is 'sequential', which runs one run at a time. Use backend auto or "
                         "loky (runs in parallel on this machine), or jobs: 1.")
    return ExecutionConfig(**{**{f.name: getattr(execution, f.name) for f in fields(execution)},
                              "cluster": cluster})


def dump_study(study: Study) -> str:
    """The resolved study as YAML (what lands in results/<study>/study.yaml)."""
    return yaml.safe_dump(study.to_dict(), sort_keys=False)
