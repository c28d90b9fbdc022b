"""Pairing: runs of a and b on (fold, seed), and their test predictions aligned per fold."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..stats.registry import PairData, Settings
from .families import Pair
from .source import as_python


def pair_runs(pair: Pair, ok: pd.DataFrame, runs: pd.DataFrame) -> tuple[pd.DataFrame, list[dict]]:
    """(paired runs sorted by fold, seed; the unpaired runs with the reason)."""
    la, lb = pair.labels
    ra, rb = ok[ok["cfg"] == la], ok[ok["cfg"] == lb]
    both = ra.merge(rb, on=["fold", "seed"], how="outer", suffixes=("_a", "_b"), indicator=True)
    unpaired = []
    for _, u in both[both["_merge"] != "both"].iterrows():
        side, twin = ("a", lb) if u["_merge"] == "left_only" else ("b", la)
        twin_runs = runs[(runs["cfg"] == twin) & (runs["fold"] == u["fold"])
                         & (runs["seed"] == u["seed"])]
        unpaired.append({"family": pair.family, "a": la, "b": lb, "run_id": u[f"run_id_{side}"],
                         "config": la if side == "a" else lb, "fold": as_python(u["fold"]),
                         "seed": as_python(u["seed"]),
                         "reason": f"{'twin failed' if len(twin_runs) else 'twin missing'}: {twin}"})
    paired = both[both["_merge"] == "both"].sort_values(["fold", "seed"])
    return paired, unpaired


def pair_data(paired: pd.DataFrame, metric: str, settings: Settings, n_folds: int,
              sizes: tuple[float, float], utterances=None) -> PairData:
    """The PairData of one metric: scores of the pairs where both runs have the metric."""
    p = paired[["fold", "seed", "run_id_a", "run_id_b"]].copy()
    p["score_a"] = paired[f"test_{metric}_a"].to_numpy(float)
    p["score_b"] = paired[f"test_{metric}_b"].to_numpy(float)
    p = p.dropna(subset=["score_a", "score_b"]).reset_index(drop=True)
    return PairData(metric=metric, runs=p, settings=settings, n_folds=n_folds,
                    n_train=sizes[0], n_test=sizes[1], utterances=utterances)


class Predictions:
    """Test predictions of ok runs, loaded once per run through the results folder and aligned
    per fold on test_index (the utterances every run of the fold has)."""

    def __init__(self, folder, ok: pd.DataFrame, notes: list, problems: list):
        self.folder, self.notes, self.problems = folder, notes, problems
        self.fold_of = dict(zip(ok["run_id"], ok["fold"]))
        self.by_run: dict[str, dict] = {}
        self._done_folds: set = set()

    def _load_one(self, run_id: str) -> dict | None:
        z = self.folder.predictions(run_id)
        if z is None or "test_y_true" not in z or "test_y_pred" not in z:
            self.problems.append({"run_id": run_id, "reason": "predictions.npz missing or "
                                  "without test_y_true / test_y_pred"})
            return None
        yt = np.asarray(z["test_y_true"]).astype(np.int64, copy=False)
        yp = np.asarray(z["test_y_pred"]).astype(np.int64, copy=False)
        pr = np.asarray(z["test_proba"], dtype=np.float32) if "test_proba" in z else None
        ix = (np.asarray(z["test_index"]).astype(np.int64, copy=False) if "test_index" in z
              else np.arange(yt.size))
        if not (yt.size == yp.size == ix.size) or (pr is not None and pr.shape[0] != yt.size):
            self.problems.append({"run_id": run_id, "reason": "test arrays differ in length"})
            return None
        o = np.argsort(ix, kind="stable")
        return {"y_true": yt[o], "y_pred": yp[o], "proba": pr[o] if pr is not None else None,
                "index": ix[o]}

    def _load_fold(self, fold: Any) -> None:
        """Align every run of a fold on the test_index values they all share."""
        if fold in self._done_folds:
            return
        self._done_folds.add(fold)
        raw = {r: self._load_one(r) for r, f in self.fold_of.items() if f == fold}
        raw = {r: v for r, v in raw.items() if v is not None}
        if not raw:
            return
        common = None
        for v in raw.values():
            common = v["index"] if common is None else np.intersect1d(common, v["index"],
                                                                      assume_unique=True)
        if any(v["index"].size != common.size for v in raw.values()):
            self.notes.append(f"fold {fold}: runs' test_index sets differ; utterance tests use "
                              f"the {common.size} utterances all runs of the fold share")
        truth = None
        for rid, v in raw.items():
            if v["index"].size != common.size:
                pos = np.searchsorted(v["index"], common)
                v = {k: (x[pos] if x is not None else None) for k, x in v.items()}
            if truth is None:
                truth = v["y_true"]
            elif not np.array_equal(truth, v["y_true"]):
                self.problems.append({"run_id": rid, "reason": f"test_y_true disagrees with "
                                      f"other runs of fold {fold} at the same test_index"})
                continue
            self.by_run[rid] = v

    def get(self, run_id: str) -> dict | None:
        fold = self.fold_of.get(run_id)
        if fold is None:
            return None
        self._load_fold(fold)
        return self.by_run.get(run_id)


class PairUtterances:
    """The Utterances protocol of harness.stats.registry for one pair."""

    def __init__(self, preds: Predictions, paired: pd.DataFrame, ok: pd.DataFrame, pair: Pair):
        self.preds, self.paired, self.ok, self.pair = preds, paired, ok, pair

    def paired_correct(self):
        out, missing = [], 0
        for rid_a, rid_b in zip(self.paired["run_id_a"], self.paired["run_id_b"]):
            ra, rb = self.preds.get(rid_a), self.preds.get(rid_b)
            if ra is None or rb is None:
                missing += 1
                continue
            out.append((ra["y_pred"] == ra["y_true"], rb["y_pred"] == rb["y_true"]))
        return out, missing

    def ensembles(self):
        la, lb = self.pair.labels
        ra, rb = self.ok[self.ok["cfg"] == la], self.ok[self.ok["cfg"] == lb]
        ys, eas, ebs, used = [], [], [], []
        for fold in sorted(set(ra["fold"]) & set(rb["fold"])):
            ens, truth = [], None
            for side in (ra, rb):
                got = [self.preds.get(r) for r in side.loc[side["fold"] == fold, "run_id"]]
                got = [g for g in got if g is not None and g["proba"] is not None]
                ens.append(np.mean(np.stack([g["proba"] for g in got]), axis=0).argmax(axis=1)
                           if got else None)
                truth = got[0]["y_true"] if got else truth
            if ens[0] is None or ens[1] is None:
                continue
            ys.append(truth)
            eas.append(ens[0])
            ebs.append(ens[1])
            used.append(as_python(fold))
        if not used:
            return None
        return np.concatenate(ys), np.concatenate(eas), np.concatenate(ebs), used


def diffs_summary(data: PairData) -> tuple[np.ndarray, np.ndarray]:
    """(run differences, per-fold mean differences) b - a, for the power summary."""
    d = (data.runs["score_b"] - data.runs["score_a"]).to_numpy(float)
    fd = (data.runs.assign(d=d).groupby("fold")["d"].mean().to_numpy(float)
          if len(data.runs) else np.array([]))
    return d, fd


__all__ = ["pair_runs", "pair_data", "Predictions", "PairUtterances", "diffs_summary"]
