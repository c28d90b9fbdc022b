"""Build a model from the registry or a reference, count its parameters, probe a user model."""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from .registry import MODELS, ModelEntry, resolve_kernels
from .shapes import InputShapes
from .user import ModelError, fault, load_callable

PROBE_UTTERANCES = 2


@dataclass(frozen=True)
class ModelRef:
    """How a worker finds a model defined outside harness (part of the run id)."""

    import_path: str  # module:callable
    params: dict = field(default_factory=dict)  # keyword arguments for the callable
    source_sha256: str = ""  # of the file defining the callable
    source_file: str = ""  # where it was found when planned (not part of the run id)
    import_root: str = ""  # the sys.path folder it was imported from when planned (idem)

    def identity(self) -> dict:
        return {"import": self.import_path, "params": self.params,
                "source_sha256": self.source_sha256}

    @classmethod
    def of(cls, entry: ModelEntry) -> "ModelRef":
        return cls(entry.import_path, dict(entry.params), entry.source_sha256, entry.source_file,
                   import_root(entry.import_path, entry.source_file))


def import_root(import_path: str, source_file: str) -> str:
    """The folder that has to be on sys.path for ``import_path`` to find ``source_file``."""
    if not source_file:
        return ""
    depth = import_path.partition(":")[0].count(".") + (Path(source_file).name == "__init__.py")
    return str(Path(source_file).resolve().parents[depth])


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def build_model(model: str, modalities: str, shapes: InputShapes, cfg, device: str = "cpu") -> nn.Module:
    """A built-in (or registered) model with the study's ``model:`` settings ``cfg``."""
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; known: {', '.join(MODELS)}")
    entry = MODELS[model]
    if len(modalities) < entry.min_modalities:
        raise ValueError(f"model {model!r} needs at least {entry.min_modalities} modalities, "
                         f"got {modalities!r}")
    if not entry.builtin:
        return entry.builder(modalities, shapes, **entry.params)
    settings = asdict(cfg)
    settings["kernels"] = resolve_kernels(settings.get("kernels", "auto"), device)
    return entry.builder(modalities, shapes, **settings)


def parameter_count(model: str, modalities: str, shapes: InputShapes, cfg) -> int:
    """Trainable parameters of a built-in model without allocating the weights (meta device)."""
    with torch.device("meta"):
        return count_parameters(build_model(model, modalities, shapes, cfg))


def build_from_ref(name: str, ref: ModelRef, modalities: str, shapes: InputShapes) -> nn.Module:
    """In a worker: import the model, check its source is the one planned, build it.

    A worker whose sys.path lacks the model's folder (one started before it was set, or a
    Dask worker on this machine) tries the folder the planning process imported it from;
    the source hash still has to match."""
    module = ref.import_path.partition(":")[0]
    if ref.import_root and importlib.util.find_spec(module.split(".")[0]) is None \
            and Path(ref.import_root).is_dir():
        sys.path.append(ref.import_root)
    builder, file, digest = load_callable(name, ref.import_path)
    if ref.source_sha256 and digest != ref.source_sha256:
        raise RuntimeError(f"the source of model '{name}' ({file}) changed after the study was "
                           "planned; run the study again to plan runs for the new source")
    return builder(modalities, shapes, **ref.params)


def probe_batch(modalities: str, shapes: InputShapes, dtype=torch.float32) -> dict[str, torch.Tensor]:
    """Random inputs for a few utterances, shaped as the corpus delivers them."""
    g = torch.Generator().manual_seed(0)
    dims = {"A": (shapes.audio_frames, shapes.audio_dim), "V": (shapes.video_frames, shapes.video_dim),
            "T": (shapes.text_tokens, shapes.embed_dim)}
    return {m: torch.randn(PROBE_UTTERANCES, *dims[m], generator=g, dtype=dtype) for m in modalities}


def probe(entry: ModelEntry, modalities: str, shapes: InputShapes, dtype=torch.float32) -> int:
    """Build a non-built-in model, run forward and backward on a probe batch; its parameter count.

    Any fault is a ModelError naming the model and quoting the user's line. The global RNG
    state is left as it was.
    """
    where, name = entry.import_path, entry.name
    kwargs = "".join(f", {k}={v!r}" for k, v in entry.params.items())
    call = f"{where.rpartition(':')[2]}({modalities!r}, shapes{kwargs})"
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        try:
            net = entry.builder(modalities, shapes, **entry.params)
        except Exception as exc:
            raise fault(name, where, f"{call} raised", exc) from None
        if not isinstance(net, nn.Module):
            raise ModelError(f"model '{name}' ({where}): {call} returned {type(net).__name__}, "
                             "not a torch.nn.Module.")
        n_params = count_parameters(net)
        if n_params == 0:
            raise ModelError(f"model '{name}' ({where}): the module built for {modalities} has no "
                             "trainable parameters.")
        try:
            net = net.to(dtype).train()
            out = net(probe_batch(modalities, shapes, dtype))
        except Exception as exc:
            raise fault(name, where, f"forward failed on a {PROBE_UTTERANCES}-utterance probe batch "
                        f"of {modalities}", exc) from None
        _check_output(name, where, modalities, out, shapes.n_classes)
    return n_params


def _check_output(name: str, where: str, modalities: str, out, n_classes: int) -> None:
    want = (PROBE_UTTERANCES, n_classes)
    if not isinstance(out, torch.Tensor):
        raise ModelError(f"model '{name}' ({where}): forward on {modalities} must return a Tensor "
                         f"of logits [B, n_classes] = {list(want)}; got {type(out).__name__}.")
    if tuple(out.shape) != want:
        raise ModelError(f"model '{name}' ({where}): forward on a {PROBE_UTTERANCES}-utterance "
                         f"batch of {modalities} must return logits of shape {list(want)} "
                         f"[B, n_classes]; got {list(out.shape)}.")
    if not out.requires_grad:
        raise ModelError(f"model '{name}' ({where}): its output on {modalities} does not depend on "
                         "its parameters (no gradient flows), so it cannot be trained.")
