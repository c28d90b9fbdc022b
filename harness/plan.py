"""Study -> list of RunSpecs, each with a content-addressed run id.

A run id is a hash of everything that changes a run's result: model, modalities, fold,
seed, every training and model setting, the data fingerprint, the audio normalisation,
the class count, and RESULT_VERSION (bumped when the code changes what a run computes)
with torch's major.minor version. It deliberately leaves out the data *path* (moving the
data keeps results valid), the study name, the device and thread counts (where a run
executes is not what it is; CPU/GPU rounding differences are documented instead).
Editing a study therefore re-uses exactly the runs that are still valid.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from .models import InputShapes, parameter_count
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
    threads: int = 1  # torch threads, not part of the id

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
            "model_cfg": asdict(self.model_cfg),
            "result_version": RESULT_VERSION,
            "torch": ".".join(torch.__version__.split(".")[:2]),
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
        )


@dataclass(frozen=True)
class Plan:
    study: Study
    runs: tuple[RunSpec, ...]
    notes: tuple[str, ...]
    shapes: InputShapes
    data_present: bool

    def counts(self) -> dict[tuple[str, str], int]:
        out: dict[tuple[str, str], int] = {}
        for r in self.runs:
            out[(r.model, r.modalities)] = out.get((r.model, r.modalities), 0) + 1
        return out

    def parameter_counts(self) -> dict[tuple[str, str], int]:
        return {
            key: parameter_count(key[0], key[1], self.shapes, self.study.model)
            for key in self.counts()
        }


def input_shapes(study: Study) -> tuple[InputShapes, bool]:
    """Shapes from the data when present, else the format's declared shapes."""
    from .data import iemocap, synthetic

    root = data_root(study)
    present = [f for f in study.folds if root is not None and iemocap.fold_dir(root, f).is_dir()]
    if present:
        s = iemocap.read_shapes(root, present[0])
    elif study.data.format == "synthetic":
        s = iemocap.Shapes(**{k: v for k, v in synthetic.PRESETS[study.data.preset].items()
                              if k in iemocap.Shapes.__dataclass_fields__})
    else:
        s = iemocap.IEMOCAP_SHAPES
    return InputShapes(s.audio_frames, s.audio_dim, s.video_frames, s.video_dim, s.embed_dim,
                       study.n_classes), bool(present)


def data_root(study: Study) -> Path | None:
    """The expanded data path, or None when it names an unset environment variable."""
    from .errors import StudyError

    try:
        return study.data_path
    except StudyError:
        return None


def make_plan(study: Study, fingerprint: str | None = None) -> Plan:
    """Every (model, combination, fold, seed) the study asks for, in a stable order."""
    shapes, present = input_shapes(study)
    root = data_root(study)
    data = DataRef(study.data.format, str(root or study.data.path), fingerprint or "absent",
                   study.data.audio_norm, study.n_classes)
    notes = []
    runs = []
    for model in study.models:
        combos = study.combinations_for(model)
        skipped = [m for m in study.requested_combinations(model) if m not in combos]
        if skipped:
            notes.append(f"{model}: skips uni-modal {', '.join(skipped)} "
                         f"(cross-modal attention needs two modalities)")
        for combo in combos:
            for fold in study.folds:
                for seed in study.seeds:
                    runs.append(RunSpec(model, combo, fold, seed, data, study.training, study.model))
    return Plan(study, tuple(runs), tuple(notes), shapes, present)


def default_threads(jobs: int) -> int:
    return max(1, (os.cpu_count() or 1) // max(1, jobs))
