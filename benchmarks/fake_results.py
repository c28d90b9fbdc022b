"""A fake results folder FOR TIMING ONLY: random predictions on a 7,487-utterance corpus in 5 folds.

It has the layout `harness run-study` writes (study.yaml, plan.json, runs.csv, runs/<id>/result.json,
predictions.npz, history.csv), so statistics and report can be timed and tested without training.
Its numbers mean nothing unless `skill` is given (then chosen runs predict better than chance).

    python benchmarks/fake_results.py OUT_DIR [--runs N]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

# IEMOCAP (Yoon et al. pre-processing): 7 classes, 7,487 utterances
CLASSES = ["angry", "excited", "happy", "sad", "frustrated", "surprise", "neutral"]
CLASS_COUNTS = [1103, 1041, 595, 1084, 1849, 107, 1708]
SUMMARY = ["accuracy", "balanced_accuracy", "macro_f1", "weighted_f1"]
RUN_COLUMNS = (["run_id", "model", "modalities", "fold", "seed", "status", "epochs", "best_epoch", "train_seconds",
                "n_params", "device"] + [f"{s}_{m}" for s in ("dev", "test") for m in SUMMARY] + ["error"])
N_PARAMS = {"self": 1_141_834, "cross": 1_196_554, "cross_self": 1_374_214, "self_nosp": 1_104_994,
            "cross_nosp": 1_159_714}


def default_grid() -> list[tuple[str, str]]:
    """(model, modalities): self on all 7 combinations, cross on the 4 multi-modal ones, 3 ablations on AVT."""
    grid = [("self", m) for m in ["A", "V", "T", "AV", "AT", "VT", "AVT"]]
    grid += [("cross", m) for m in ["AV", "AT", "VT", "AVT"]]
    grid += [(m, "AVT") for m in ["cross_self", "self_nosp", "cross_nosp"]]
    return grid


def run_id_of(model: str, modalities: str, fold: int, seed: int) -> str:
    digest = hashlib.sha1(f"{model}|{modalities}|{fold}|{seed}".encode()).hexdigest()[:10]
    return f"{model}-{modalities}-f{fold}-s{seed}-{digest}"


def _metrics(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> dict:
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    tp = np.diag(cm).astype(float)
    recall = np.divide(tp, support, out=np.zeros(k), where=support > 0)
    precision = np.divide(tp, predicted, out=np.zeros(k), where=predicted > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(k), where=(precision + recall) > 0)
    w = support / support.sum()
    present = support > 0
    return {
        "accuracy": float(tp.sum() / cm.sum()),
        "balanced_accuracy": float(recall[present].mean()),
        "macro_f1": float(f1.mean()),
        "weighted_f1": float((f1 * w).sum()),
        "macro_precision": float(precision.mean()),
        "weighted_precision": float((precision * w).sum()),
        "per_class_recall": [float(r) for r in recall],
        "confusion_matrix": cm.tolist(),
        "n": int(cm.sum()),
    }


def _predict(rng, y: np.ndarray, k: int, skill: float) -> tuple[np.ndarray, np.ndarray]:
    """Random predictions; with probability `skill` an utterance is predicted correctly."""
    proba = rng.dirichlet(np.ones(k), size=len(y))
    right = rng.random(len(y)) < skill
    proba[right, y[right]] += 1.0
    proba /= proba.sum(axis=1, keepdims=True)
    return proba.argmax(axis=1), proba.astype(np.float32)


def _history(rng, final_dev: float, k: int) -> tuple[pd.DataFrame, int]:
    epochs = int(rng.integers(15, 61))
    e = np.arange(1, epochs + 1)
    start = 1.0 / k
    dev = start + (final_dev - start) * (1 - np.exp(-e / 6)) + rng.normal(0, 0.01, epochs)
    train_acc = start + (min(0.99, final_dev + 0.25) - start) * (1 - np.exp(-e / 8)) + rng.normal(0, 0.005, epochs)
    train_loss = np.log(k) * np.exp(-e / 12) + 0.2 + rng.normal(0, 0.01, epochs)
    dev_loss = np.log(k) * np.exp(-e / 10) + 0.6 + 0.004 * np.maximum(e - 20, 0) + rng.normal(0, 0.01, epochs)
    lr = np.where(e > 0.8 * epochs, 1e-4, 1e-3)
    hist = pd.DataFrame({"epoch": e, "train_loss": train_loss, "train_accuracy": np.clip(train_acc, 0, 1),
                         "dev_loss": dev_loss, "dev_accuracy": np.clip(dev, 0, 1), "lr": lr})
    return hist, int(np.argmax(dev) + 1)


def make_fake_results(out_dir, n_runs: int | None = None, *, n_folds: int = 5, n_seeds: int = 10,
                      grid: list[tuple[str, str]] | None = None, n_utterances: int = 7487,
                      skill: dict | None = None, n_failed: int = 0, data_format: str = "synthetic",
                      write_predictions: bool = True, write_history: bool = True, seed: int = 0,
                      name: str = "fake-for-timing-only") -> Path:
    """Write a fake results folder and return its path.

    n_runs: how many planned runs to keep (default: all = len(grid) x n_folds x n_seeds = 700); a smaller
      number keeps whole (fold, seed) blocks first, so every model appears.
    skill: {(model, modalities) or model: probability that an utterance is predicted correctly}; default 0
      (purely random predictions).
    n_failed: the last n_failed kept runs are written as failed (no metrics, an error message).
    data_format: study.yaml data.format ("synthetic" or "iemocap_yoon" to exercise the paper columns).
    """
    out = Path(out_dir)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    grid = grid or default_grid()
    skill = skill or {}
    k = len(CLASSES)
    counts = np.round(np.asarray(CLASS_COUNTS) * n_utterances / sum(CLASS_COUNTS)).astype(int)
    counts[-1] += n_utterances - counts.sum()
    labels = rng.permutation(np.repeat(np.arange(k), counts))
    fold_of = np.arange(n_utterances) % n_folds + 1  # folds are numbered from 1 (fold01)
    folds = list(range(1, n_folds + 1))
    seeds = list(range(1, n_seeds + 1))

    blocks = [(f, s) for s in seeds for f in folds]
    plan = [(m, c, f, s) for (f, s) in blocks for (m, c) in grid]
    keep = plan if n_runs is None else plan[:n_runs]
    sort_key = {mc: i for i, mc in enumerate(grid)}
    keep = sorted(keep, key=lambda r: (sort_key[(r[0], r[1])], r[2], r[3]))
    plan_rows = [{"run_id": run_id_of(*r), "model": r[0], "modalities": r[1], "fold": r[2], "seed": r[3]}
                 for r in keep]
    failed_ids = {row["run_id"] for row in plan_rows[len(plan_rows) - n_failed:]} if n_failed else set()

    models = list(dict.fromkeys(m for m, _ in grid))
    study = {
        "name": name,
        "data": {"format": data_format, "path": "/nonexistent/fake-data-for-timing-only", "preset": "iemocap",
                 "utterances": n_utterances, "seed": seed, "classes": CLASSES, "audio_norm": "none",
                 "fingerprint": hashlib.sha1(f"fake-{n_utterances}-{seed}".encode()).hexdigest()[:16]},
        "models": {m: [c for mm, c in grid if mm == m] for m in models},
        "modalities": ["A", "V", "T", "AV", "AT", "VT", "AVT"],
        "folds": folds, "seeds": seeds,
        "training": {"max_epochs": 200, "batch_size": 32, "lr": 0.001, "patience": 10},
        "execution": {"backend": "sequential", "jobs": 1, "device": "cpu"},
        "stats": {"alpha": 0.05, "correction": "holm", "equivalence_margin": 0.01},
        "report": {"paper_values": "auto", "figures": True},
    }
    header = ("# FOR TIMING ONLY: fake results written by benchmarks/fake_results.py.\n"
              "# Predictions are random (or drawn with a chosen skill); the numbers mean nothing.\n")
    (out / "study.yaml").write_text(header + yaml.safe_dump(study, sort_keys=False), encoding="utf-8")
    (out / "plan.json").write_text(json.dumps({"runs": plan_rows}, indent=1), encoding="utf-8")

    rows = []
    for pr in plan_rows:
        model, mods, fold, s = pr["model"], pr["modalities"], pr["fold"], pr["seed"]
        rid = pr["run_id"]
        rdir = out / "runs" / rid
        rdir.mkdir(parents=True, exist_ok=True)
        p = float(skill.get((model, mods), skill.get(model, 0.0)))
        test_idx = np.flatnonzero(fold_of == fold)
        other = np.flatnonzero(fold_of == (fold % n_folds) + 1)
        dev_idx = other[: len(other) // 2]
        record = {"run_id": rid, "model": model, "modalities": mods, "fold": fold, "seed": s,
                  "n_params": N_PARAMS.get(model, 1_000_000), "device": "cpu", "torch_version": "2.13.0+cpu",
                  "harness_version": "0.1.0"}
        if rid in failed_ids:
            record.update({"status": "failed", "epochs": None, "best_epoch": None,
                           "train_seconds": float(rng.uniform(1, 30)), "metrics": {},
                           "error": "RuntimeError: fake failure (for timing only)"})
        else:
            preds = {}
            metrics = {}
            for split, idx in (("dev", dev_idx), ("test", test_idx)):
                y = labels[idx]
                y_pred, proba = _predict(rng, y, k, p)
                metrics[split] = _metrics(y, y_pred, k)
                preds.update({f"{split}_y_true": y, f"{split}_y_pred": y_pred, f"{split}_proba": proba,
                              f"{split}_index": idx})
            hist, best = _history(rng, metrics["dev"]["accuracy"], k)
            epochs = len(hist)
            record.update({"status": "ok", "epochs": epochs, "best_epoch": best,
                           "train_seconds": float(epochs * rng.uniform(1.5, 3.0)), "metrics": metrics,
                           "error": None})
            if write_predictions:
                np.savez_compressed(rdir / "predictions.npz", **preds)
            if write_history:
                hist.to_csv(rdir / "history.csv", index=False)
        (rdir / "result.json").write_text(json.dumps(record, indent=1), encoding="utf-8")
        row = {c: record.get(c) for c in RUN_COLUMNS}
        for split in ("dev", "test"):
            for m in SUMMARY:
                row[f"{split}_{m}"] = (record["metrics"].get(split) or {}).get(m)
        rows.append(row)
    pd.DataFrame(rows, columns=RUN_COLUMNS).to_csv(out / "runs.csv", index=False)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out_dir")
    ap.add_argument("--runs", type=int, default=None, help="number of runs (default: all 700)")
    args = ap.parse_args(argv)
    path = make_fake_results(args.out_dir, args.runs)
    print(f"wrote {path} (FOR TIMING ONLY)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
