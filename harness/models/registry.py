"""The model registry: one entry per model; every list of model names derives from it.

A model is a callable ``builder(modalities, shapes, **params) -> nn.Module`` whose module
maps a batch dict (``"A"``, ``"V"``, ``"T"`` tensors of the run's modalities) to logits
``[B, n_classes]``. The paper's five models are entries here; a study adds its own models
by import path (harness.models.user), and code may add entries with :func:`register_model`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable

from .shapes import MODALITY_ORDER

# Relative cost of a modality's encoder and of an attention block whose query is that
# modality: audio's 500-step sequences dominate, then text's 128 tokens, then video's 25.
_WEIGHT = {"A": 4, "T": 2, "V": 1}
KERNEL_SETTINGS = ("auto", "harness", "torch")


@dataclass(frozen=True)
class ModelEntry:
    """One model: how to build it and what the planner, runner and report need to know."""

    name: str
    builder: Callable[..., Any]  # builder(modalities, shapes, **params) -> nn.Module
    min_modalities: int = 1  # combinations with fewer modalities are skipped
    pairs: Callable[[str], list] | None = None  # modalities -> (query, key/value) pairs
    pooling: str | None = None  # statistical | concat (None: not a pair-attention model)
    cost: Callable[[str], float] | None = None  # modalities -> relative cost of a run
    label: str | None = None  # display name in reports (default: the name)
    params: dict = field(default_factory=dict)  # keyword arguments for the builder
    builtin: bool = False  # built-ins receive the study's `model:` settings as params
    import_path: str = ""  # module:callable (every non-built-in: how workers find it)
    source_sha256: str = ""  # of the file defining the callable (part of the run id)
    source_file: str = ""

    @property
    def display(self) -> str:
        return self.label or self.name

    def expected_cost(self, modalities: str) -> float:
        return self.cost(modalities) if self.cost else default_cost(modalities)


MODELS: dict[str, ModelEntry] = {}


def register_model(entry: ModelEntry, *, replace: bool = False) -> ModelEntry:
    """Add a model (a non-built-in gets its import path and source hash from its builder)."""
    if entry.name in MODELS and not replace:
        raise ValueError(f"model {entry.name!r} is already registered")
    if not entry.builtin and not entry.import_path:
        from .user import describe_callable

        path, file, digest = describe_callable(entry.builder)
        entry = dataclasses.replace(entry, import_path=path, source_file=file,
                                    source_sha256=digest)
    MODELS[entry.name] = entry
    return entry


def model_names() -> tuple[str, ...]:
    """Registered model names, in registry order (the default order of tables)."""
    return tuple(MODELS)


def builtin_names() -> tuple[str, ...]:
    return tuple(n for n, e in MODELS.items() if e.builtin)


def min_modalities(name: str) -> int:
    """Fewest modalities the model is defined for (1 for models the registry does not know)."""
    entry = MODELS.get(name)
    return entry.min_modalities if entry else 1


def order_models(names) -> list[str]:
    """Registry order first, then the others in the order given (e.g. a study's user models)."""
    names = list(dict.fromkeys(names))
    known = [n for n in MODELS if n in names]
    return known + [n for n in names if n not in MODELS]


def label(name: str) -> str:
    entry = MODELS.get(name)
    return entry.display if entry else name


def attention_pairs(model: str, modalities: str) -> list[tuple[str, str]]:
    """(query, key/value) modality pairs a registered model attends, in a fixed order."""
    entry = MODELS[model]
    if entry.pairs is None:
        raise ValueError(f"model {model!r} does not declare attention pairs")
    if sum(m in modalities for m in MODALITY_ORDER) < entry.min_modalities:
        raise ValueError(f"model {model!r} needs at least {entry.min_modalities} modalities, "
                         f"got {modalities!r}")
    return entry.pairs(modalities)


def default_cost(modalities: str) -> float:
    return float(sum(_WEIGHT[m] for m in modalities))


def expected_cost(model: str, modalities: str) -> float:
    """Rough relative cost of one run (longest runs are started first)."""
    entry = MODELS.get(model)
    return entry.expected_cost(modalities) if entry else default_cost(modalities)


def resolve_kernels(kernels: str, device: str) -> str:
    """model.kernels 'auto' -> 'harness' on the CPU, 'torch' on CUDA (execution.device auto:
    whichever torch sees). Decided once, before planning, so it can be part of the run id."""
    if kernels != "auto":
        return kernels
    if device == "auto":
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    return "torch" if device.startswith("cuda") else "harness"


# --- the paper's models -------------------------------------------------------------------


def _mods(modalities: str) -> list[str]:
    return [m for m in MODALITY_ORDER if m in modalities]


def self_pairs(modalities: str) -> list[tuple[str, str]]:
    return [(m, m) for m in _mods(modalities)]


def cross_pairs(modalities: str) -> list[tuple[str, str]]:
    mods = _mods(modalities)
    return [(t, s) for t in mods for s in mods if s != t]


def cross_self_pairs(modalities: str) -> list[tuple[str, str]]:
    return cross_pairs(modalities) + self_pairs(modalities)


def _fusion(name: str, pairs, pooling: str, min_mods: int, label: str | None = None) -> ModelEntry:
    def build(modalities: str, shapes, **settings):
        from .fusion import FusionModel

        return FusionModel(pairs(modalities), pooling, modalities, shapes, **settings)

    def cost(modalities: str) -> float:
        return float(sum(_WEIGHT[q] for q, _ in pairs(modalities)) + default_cost(modalities))

    build.__qualname__ = f"build_{name}"
    return ModelEntry(name=name, builder=build, min_modalities=min_mods, pairs=pairs,
                      pooling=pooling, cost=cost, label=label, builtin=True)


for _entry in (
    _fusion("self", self_pairs, "statistical", 1, "Self-attention"),
    _fusion("cross", cross_pairs, "statistical", 2, "Cross-attention"),
    _fusion("cross_self", cross_self_pairs, "statistical", 2),
    _fusion("self_nosp", self_pairs, "concat", 1),
    _fusion("cross_nosp", cross_pairs, "concat", 2),
):
    register_model(_entry)
