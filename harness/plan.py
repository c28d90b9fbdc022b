"""Study -> list of RunSpecs, each with a content-addressed run id.

A run id is a hash of everything that changes a run's result: model, modalities, fold,
seed, every training and model setting (including the resolved `model.kernels`), the data
fingerprint, the audio normalisation, the class count, and RESULT_VERSION (bumped when the
code changes what a run computes) with torch's major.minor version. A model defined outside
harness enters by its import path, its params and the sha256 of the file defining its
callable (instead of the `model:` settings, which it does not read). It deliberately leaves out the data *path* (moving the
data keeps results valid), the study name and the device (where a run executes is not
what it is; CPU/GPU differences are documented instead). The torch thread count enters
only when it is not the default 1: a CPU run's numbers depend on it (measured), so a study
resumed with another `threads_per_job` does not mix the two.
Editing a study therefore re-uses exactly the runs that are still valid.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch

from .models import MODELS, InputShapes, ModelEntry, ModelRef, parameter_count, probe, resolve_kernels
from .models.user import user_entry
from .study import ModelConfig, Study, TrainingConfig

# Bump when a code change alters what a run computes (model, training loop, data reading).
RESULT_VERSION = 2


@dataclass(frozen=True)
class DataRef:
    """Which data a run reads, and how."""

    format: str
    path: str
    fingerprint: str
    audio_norm: str
    n_classes: int
    labels: str = ""  # the corpus' label rule (mmsa); its effect is in the fingerprint


@dataclass(frozen=True)
class RunSpec:
    model: str
    modalities: str
    fold: int
    seed: int
    data: DataRef
    training: TrainingConfig
    model_cfg: ModelConfig
    device: str = "cpu"  # resolved at execution, not part of the id
    threads: int = 1  # torch threads; in the id when not 1 (the numbers depend on it)
    model_ref: ModelRef | None = None  # models outside harness: import path, params, source hash

    def identity(self) -> dict:
        return {
            "model": self.model,
            "modalities": self.modalities,
            "fold": self.fold,
            "seed": self.seed,
            "data": {
                "fingerprint": self.data.fingerprint,
                "audio_norm": self.data.audio_norm,
                "n_classes": self.data.n_classes,
                "format": self.data.format,
            },
            "training": asdict(self.training),
            **({"model_ref": self.model_ref.identity()} if self.model_ref else
               {"model_cfg": asdict(self.model_cfg)}),
            "result_version": RESULT_VERSION,
            "torch": ".".join(torch.__version__.split(".")[:2]),
            **({"threads": self.threads} if self.threads != 1 else {}),
        }

    @property
    def run_id(self) -> str:
        blob = json.dumps(self.identity(), sort_keys=True, separators=(",", ":"))
        digest = hashlib.sha256(blob.encode()).hexdigest()[:12]
        return f"{self.model}-{self.modalities}-f{self.fold}-s{self.seed}-{digest}"

    @property
    def key(self) -> tuple:
        return (self.model, self.modalities, self.fold, self.seed)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["run_id"] = self.run_id
        d["identity"] = self.identity()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "RunSpec":
        return cls(
            model=d["model"], modalities=d["modalities"], fold=d["fold"], seed=d["seed"],
            data=DataRef(**d["data"]), training=TrainingConfig(**d["training"]),
            model_cfg=ModelConfig(**d["model_cfg"]), device=d.get("device", "cpu"),
            threads=d.get("threads", 1),
            model_ref=ModelRef(**d["model_ref"]) if d.get("model_ref") else None,
        )


@dataclass(frozen=True)
class Plan:
    study: Study
    runs: tuple[RunSpec, ...]
    notes: tuple[str, ...]
    shapes: InputShapes
    data_present: bool
    probed: dict = field(default_factory=dict)  # (model, combination) -> parameters (probed models)

    def counts(self) -> dict[tuple[str, str], int]:
        out: dict[tuple[str, str], int] = {}
        for r in self.runs:
            out[(r.model, r.modalities)] = out.get((r.model, r.modalities), 0) + 1
        return out

    def parameter_counts(self) -> dict[tuple[str, str], int]:
        return {
            key: self.probed[key] if key in self.probed else
            parameter_count(key[0], key[1], self.shapes, self.study.model)
            for key in self.counts()
        }


def input_shapes(study: Study) -> tuple[InputShapes, bool]:
    """Shapes from the data when present, else the format's declared shapes."""
    from .data.corpus import study_shapes

    return study_shapes(study)


def data_root(study: Study) -> Path | None:
    """The expanded data path, or None when it names an unset environment variable."""
    from .errors import StudyError

    try:
        return study.data_path
    except StudyError:
        return None


def resolve_study(study: Study) -> Study:
    """The study with every 'auto' that changes results decided (model.kernels, from
    execution.device): what the run ids and the results folder's study.yaml record."""
    kernels = resolve_kernels(study.model.kernels, study.execution.device)
    return replace(study, model=replace(study.model, kernels=kernels))


def model_entries(study: Study) -> dict[str, ModelEntry]:
    """Registry entries of the study's models; its own models imported now (ModelError)."""
    out = {}
    for name in study.models:
        if name in study.user_models:
            u = study.user_models[name]
            out[name] = user_entry(name, u.import_path, u.params)
        else:
            out[name] = MODELS[name]
    return out


def probe_models(study: Study, entries: dict[str, ModelEntry], shapes: InputShapes) -> dict:
    """Build and run every model from outside harness on each of its combinations, before
    anything is written; (model, combination) -> parameter count."""
    dtype = getattr(torch, study.training.dtype)
    return {(name, combo): probe(entry, combo, shapes, dtype)
            for name, entry in entries.items() if not entry.builtin
            for combo in study.combinations_for(name)}


def check_models(study: Study) -> None:
    """Import and probe the study's own models with the shapes known now (ModelError)."""
    if any(m in study.user_models or not MODELS[m].builtin for m in study.models):
        study = resolve_study(study)
        probe_models(study, model_entries(study), input_shapes(study)[0])


def make_plan(study: Study, fingerprint: str | None = None) -> Plan:
    """Every (model, combination, fold, seed) the study asks for, in a stable order.

    Imports and probes the study's own models (ModelError, exit 2, on any fault)."""
    study = resolve_study(study)
    shapes, present = input_shapes(study)
    entries = model_entries(study)
    probed = probe_models(study, entries, shapes)
    root = data_root(study)
    data = DataRef(study.data.format, str(root or study.data.path), fingerprint or "absent",
                   study.data.audio_norm, study.n_classes, study.data.labels)
    notes = []
    runs = []
    for model in study.models:
        combos = study.combinations_for(model)
        skipped = [m for m in study.requested_combinations(model) if m not in combos]
        if skipped:
            notes.append(f"{model}: skips uni-modal {', '.join(skipped)} "
                         f"(cross-modal attention needs two modalities)")
        ref = None if entries[model].builtin else ModelRef.of(entries[model])
        for combo in combos:
            for fold in study.folds:
                for seed in study.seeds:
                    runs.append(RunSpec(model, combo, fold, seed, data, study.training, study.model,
                                        threads=study.execution.threads_per_job or 1, model_ref=ref))
    return Plan(study, tuple(runs), tuple(notes), shapes, present, probed)
