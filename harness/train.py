"""One training run: seed, fit with early stopping, evaluate the best-dev weights once on test.

The published procedure: Adam (lr 1e-3), batch 32, shuffled; cross-entropy;
ReduceLROnPlateau on dev loss (patience 10, factor 0.1); early stopping after `patience`
epochs without a better dev accuracy; the best-dev weights evaluated once on test.
Differences, all of which leave what is computed unchanged up to rounding: float32 by
default (`training.dtype: float64` for the published numerics), the test split is not
evaluated every epoch, the best weights are kept in memory, `max_epochs` caps training.
"""

from __future__ import annotations

import copy
import random
import time
import traceback
from contextlib import nullcontext
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from . import __version__
from .metrics import classification_metrics
from .models import InputShapes, build_from_ref, build_model, count_parameters
from .plan import RunSpec


class NonFiniteLoss(RuntimeError):
    pass


@dataclass
class RunOutcome:
    """What one run produced: the result record, predictions and per-epoch history."""

    result: dict
    predictions: dict[str, np.ndarray] = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)
    traceback: str = ""

    @property
    def ok(self) -> bool:
        return self.result.get("status") == "ok"


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch (init, dropout); return the generator for shuffling."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("execution.device is 'cuda' but torch sees no CUDA device")
    return device


def _batch(split, rows, spec: RunSpec, device: str, dtype) -> tuple[dict, torch.Tensor]:
    """(model input on the device, labels [B] int64 on the device) for ``rows`` of a split."""
    inputs = _to_device(split.batch(rows, spec.modalities, dtype), device, dtype)
    y = torch.from_numpy(np.ascontiguousarray(split.labels[rows], dtype=np.int64))
    return inputs, y.to(device, non_blocking=True)


def _to_device(batch: dict, device: str, dtype: torch.dtype) -> dict:
    out = {}
    for k, v in batch.items():
        v = v.to(device, non_blocking=True)
        out[k] = v.to(dtype) if v.is_floating_point() else v
    return out


def _autocast(spec: RunSpec, device: str):
    if device != "cuda" or spec.training.amp == "none":
        return nullcontext()
    dtype = torch.bfloat16 if spec.training.amp == "bf16" else torch.float16
    return torch.autocast("cuda", dtype=dtype)


@torch.no_grad()
def evaluate(model, split, spec: RunSpec, device: str, dtype) -> dict:
    """Loss, predictions and probabilities over a whole split, in file order."""
    model.eval()
    bs = max(spec.training.batch_size, 64)
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    probs = []
    n = len(split)
    for start in range(0, n, bs):
        rows = np.arange(start, min(start + bs, n))
        batch, y = _batch(split, rows, spec, device, dtype)
        with _autocast(spec, device):
            logits = model(batch)
        logits = logits.float()
        loss_sum += nn.functional.cross_entropy(logits, y, reduction="sum").double()
        probs.append(torch.softmax(logits, dim=-1).cpu())
    proba = torch.cat(probs).numpy().astype(np.float32)
    y_pred = proba.argmax(axis=1)
    return {
        "loss": float(loss_sum) / max(n, 1),
        "proba": proba,
        "y_pred": y_pred,
        "accuracy": float((y_pred == split.labels).mean()),
    }


def build_run_model(spec: RunSpec, shapes: InputShapes) -> nn.Module:
    """The run's model, built the same way for every model: a built-in from the registry with
    the study's `model:` settings, or a model from outside harness imported by its path (in
    this process: a worker) and checked against the source hash it was planned with."""
    if spec.model_ref is not None:
        return build_from_ref(spec.model, spec.model_ref, spec.modalities, shapes)
    return build_model(spec.model, spec.modalities, shapes, spec.model_cfg)


def _train_epoch(model, opt, train, spec: RunSpec, gen, device: str, dtype) -> tuple[float, float]:
    """One shuffled pass over the training split; (mean loss, accuracy)."""
    model.train()
    n, bs = len(train), spec.training.batch_size
    perm = torch.randperm(n, generator=gen).numpy()
    # Accumulated on the device: no host sync per step.
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    correct = torch.zeros((), dtype=torch.int64, device=device)
    for start in range(0, n, bs):
        rows = perm[start:start + bs]
        batch, y = _batch(train, rows, spec, device, dtype)
        with _autocast(spec, device):
            logits = model(batch)
            loss = nn.functional.cross_entropy(logits.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss_sum += loss.detach().double() * len(rows)
        correct += (logits.detach().argmax(1) == y).sum()
    return float(loss_sum) / n, int(correct) / n


def fit(spec: RunSpec, fold, device: str = "cpu", progress=None) -> RunOutcome:
    """Train one run on an already loaded fold. Exceptions propagate (see `run`)."""
    dtype = getattr(torch, spec.training.dtype)
    gen = seed_everything(spec.seed)
    shapes = InputShapes(fold.shapes.audio_frames, fold.shapes.audio_dim, fold.shapes.video_frames,
                         fold.shapes.video_dim, fold.shapes.embed_dim, fold.n_classes,
                         text_tokens=fold.shapes.text_tokens)
    model = build_run_model(spec, shapes).to(device=device, dtype=dtype)
    n_params = count_parameters(model)
    opt = torch.optim.Adam(model.parameters(), lr=spec.training.lr)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
        opt, mode="min", factor=spec.training.lr_factor, patience=spec.training.lr_patience)

    best_acc, best_epoch, best_state, best_dev, wait = -1.0, 0, None, None, 0
    history = []
    t0 = time.perf_counter()
    for epoch in range(1, spec.training.max_epochs + 1):
        train_loss, train_acc = _train_epoch(model, opt, fold.train, spec, gen, device, dtype)
        if not np.isfinite(train_loss):
            raise NonFiniteLoss(f"training loss became {train_loss} in epoch {epoch}")
        d = evaluate(model, fold.dev, spec, device, dtype)
        if not np.isfinite(d["loss"]):
            raise NonFiniteLoss(f"dev loss became {d['loss']} in epoch {epoch}")
        lr = opt.param_groups[0]["lr"]
        sched.step(d["loss"])
        history.append({"epoch": epoch, "train_loss": train_loss, "train_accuracy": train_acc,
                        "dev_loss": d["loss"], "dev_accuracy": d["accuracy"], "lr": lr})
        if d["accuracy"] > best_acc:
            best_acc, best_epoch, best_dev, wait = d["accuracy"], epoch, d, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            wait += 1
        if progress:
            progress(epoch)
        if wait >= spec.training.patience:
            break
    train_seconds = time.perf_counter() - t0

    model.load_state_dict(best_state)
    test = evaluate(model, fold.test, spec, device, dtype)
    result = {"status": "ok", "epochs": len(history), "best_epoch": best_epoch,
              "train_seconds": train_seconds, "n_params": n_params}
    return _outcome(result, fold, best_dev, test, history)


def _outcome(result: dict, fold, dev: dict, test: dict, history: list) -> RunOutcome:
    """Metrics of the best-dev weights on dev and test, and the predictions to keep."""
    result["metrics"] = {
        "dev": {**classification_metrics(fold.dev.labels, dev["y_pred"], fold.n_classes),
                "loss": dev["loss"]},
        "test": {**classification_metrics(fold.test.labels, test["y_pred"], fold.n_classes),
                 "loss": test["loss"]},
    }
    predictions = {"n_train": np.int64(len(fold.train))}
    for name, split, out in (("test", fold.test, test), ("dev", fold.dev, dev)):
        predictions.update({
            f"{name}_y_true": split.labels.astype(np.int64),
            f"{name}_y_pred": out["y_pred"].astype(np.int64),
            f"{name}_proba": out["proba"],
            f"{name}_index": split.index.astype(np.int64),
        })
    return RunOutcome(result=result, predictions=predictions, history=history)


def _base_record(spec: RunSpec, device: str) -> dict:
    return {
        "run_id": spec.run_id,
        "model": spec.model,
        "modalities": spec.modalities,
        "fold": spec.fold,
        "seed": spec.seed,
        "device": device,
        "threads": spec.threads,
        "torch_version": torch.__version__,
        "harness_version": __version__,
    }


def run(spec: RunSpec, load_fold=None) -> RunOutcome:
    """Execute one run; never raises: any failure comes back as status 'failed'."""
    device = spec.device
    started = time.time()
    try:
        device = resolve_device(spec.device)
        if device == "cpu":
            torch.set_num_threads(spec.threads)
        loader = load_fold or _cached_fold
        fold = loader(spec.data, spec.fold)
        outcome = fit(spec, fold, device)
    except Exception as exc:  # the study goes on; the reason and traceback are kept
        reason = f"{type(exc).__name__}: {exc}"
        outcome = RunOutcome(result={"status": "failed", "error": reason},
                             traceback=traceback.format_exc())
    outcome.result = {**_base_record(spec, device), **outcome.result,
                      "started": started, "finished": time.time()}
    outcome.result.setdefault("error", None)
    return outcome


def _cached_fold(data, fold: int):
    """The run's fold through the corpus registry: one open corpus and one loaded fold per
    worker process, reused across its runs (a large file is read once per process)."""
    from .data.corpus import load_run_fold

    return load_run_fold(data, fold)
