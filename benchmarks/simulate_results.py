"""Simulated results folders in harness's own format, for calibrating the statistics (not for timing).

Two models, `self` (a) and `cross` (b), on AVT, 5 folds x 10 seeds, ~1,000 test utterances per fold,
7 classes in IEMOCAP proportions. Each run's predictions come from a latent multinomial-logit
classifier, so that the dependence the real study has is all there:

    logit[u, c] = prior * log(pi_c) + bias[run, c] + gumbel[run, u, c]
                  + [c == y_u] * (mu + fold_shift[k] + model_effect[m, k] + skill[run] - difficulty[u])

* difficulty[u]        shared by every run that sees utterance u (both models, all seeds);
* fold_shift[k]        the session moves both models together;
* model_effect[m, k]   b - a = effect + delta_k, delta_k ~ N(0, interaction_sd) (split +-1/2 over
                       the models): the model x session interaction; mean 0 under the nulls;
* skill[run], bias[run, c]   training noise of one seed (overall skill and class preference);
* gumbel               per-utterance noise of one run.

`effect` is given in points of expected balanced accuracy (the primary metric) and converted to a
logit shift by `logit_shift()`, measured on this model. The folder is written through harness's own
writers (study.dump_study / Store.write_study / Store.save / Store.write_runs_table), so `harness
stats` reads it exactly as it reads a real study.

    python benchmarks/simulate_results.py OUT_DIR [--scenario null_session] [--seed 0]
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

CLASSES = ("angry", "excited", "happy", "sad", "frustrated", "surprise", "neutral")
CLASS_COUNTS = np.array([1103, 1041, 595, 1084, 1849, 107, 1708])  # IEMOCAP (Yoon et al.)
PI = CLASS_COUNTS / CLASS_COUNTS.sum()


@dataclass(frozen=True)
class Knobs:
    """Scales of the latent model (logit units); chosen so that accuracy ~ 0.57, balanced accuracy
    ~ 0.50, the seed SD of a run's accuracy ~ 1.5 points and the session SD ~ 3.4 points."""

    mu: float = 2.10            # correct-class advantage of an average run
    prior: float = 0.9          # pull towards frequent classes (accuracy > balanced accuracy)
    difficulty_sd: float = 1.5  # utterance difficulty, shared by all runs
    fold_sd: float = 0.15       # session shift, shared by both models
    skill_sd: float = 0.04      # one seed's overall skill
    bias_sd: float = 0.08       # one seed's class preference
    n_folds: int = 5
    n_seeds: int = 10
    n_test: int = 1000          # test utterances per fold
    n_dev: int = 100            # dev utterances per run


@dataclass(frozen=True)
class Scenario:
    name: str
    effect_points: float = 0.0  # true b - a in points of expected balanced accuracy
    interaction_sd: float = 0.0  # SD of the per-session effect (logit units)
    label: str = ""


SCENARIOS = {
    "null": Scenario("null", 0.0, 0.0, "null: exchangeable"),
    "null_session": Scenario("null_session", 0.0, 0.07, "null: effect varies by session, mean 0"),
    "plus1": Scenario("plus1", 1.0, 0.0, "true +1 point"),
    "plus3": Scenario("plus3", 3.0, 0.0, "true +3 points"),
}


def _logits(rng, y, difficulty, boost, knobs: Knobs) -> np.ndarray:
    """One run's class logits for utterances with labels y (boost: the run's correct-class shift)."""
    k = len(CLASSES)
    logit = knobs.prior * np.log(PI) + rng.normal(0.0, knobs.bias_sd, k)
    out = rng.gumbel(size=(y.size, k)) + logit
    out[np.arange(y.size), y] += knobs.mu + boost - difficulty
    return out


def _balanced_accuracy(y, pred) -> float:
    k = len(CLASSES)
    hits = np.bincount(y[pred == y], minlength=k)
    support = np.bincount(y, minlength=k)
    present = support > 0
    return float((hits[present] / support[present]).mean())


def _accuracy(y, pred) -> float:
    return float((y == pred).mean())


@functools.lru_cache(maxsize=None)
def _curve(knobs: Knobs) -> tuple[np.ndarray, dict]:
    """Expected b - a (accuracy, balanced accuracy) against the logit effect d, with a = -d/2 and
    b = +d/2 (a fixed-seed Monte Carlo on 60k utterances; both sides share the noise, so the curve is
    smooth)."""
    rng = np.random.default_rng(12345)
    n = 60_000
    y = rng.choice(len(CLASSES), size=n, p=PI)
    diff = rng.normal(0.0, knobs.difficulty_sd, n)
    gum = rng.gumbel(size=(n, len(CLASSES))) + knobs.prior * np.log(PI)
    gum[np.arange(n), y] += knobs.mu - diff
    effects = np.linspace(0.0, 0.6, 25)
    out = {"accuracy": [], "balanced_accuracy": []}
    for d in effects:
        preds = []
        for side in (-d / 2, d / 2):
            z = gum.copy()
            z[np.arange(n), y] += side
            preds.append(z.argmax(axis=1))
        out["accuracy"].append(_accuracy(y, preds[1]) - _accuracy(y, preds[0]))
        out["balanced_accuracy"].append(_balanced_accuracy(y, preds[1]) - _balanced_accuracy(y, preds[0]))
    return effects, {k: np.array(v) for k, v in out.items()}


def logit_shift(points: float, knobs: Knobs = Knobs()) -> float:
    """The logit effect d (b = +d/2, a = -d/2) whose expected balanced-accuracy gain is `points`."""
    if points == 0:
        return 0.0
    effects, curve = _curve(knobs)
    return float(np.interp(points / 100.0, curve["balanced_accuracy"], effects))


def true_difference(scenario: "Scenario | str", metric: str, knobs: Knobs = Knobs()) -> float:
    """The expected b - a of a scenario in `metric` (a fraction): what an interval should cover.
    Under the nulls it is 0 (the session effects are symmetric around 0)."""
    sc = SCENARIOS[scenario] if isinstance(scenario, str) else scenario
    if sc.effect_points == 0:
        return 0.0
    if metric == "balanced_accuracy":
        return sc.effect_points / 100.0
    effects, curve = _curve(knobs)
    return float(np.interp(logit_shift(sc.effect_points, knobs), effects, curve[metric]))


def _study(name: str, knobs: Knobs):
    from harness.study import Study, parse_study

    raw = {"name": name,
           "data": {"format": "synthetic", "path": "/nonexistent/simulated-for-calibration",
                    "preset": "iemocap", "utterances": knobs.n_folds * knobs.n_test,
                    "classes": list(CLASSES)},
           "models": {"self": ["AVT"], "cross": ["AVT"]}, "modalities": ["AVT"],
           "folds": list(range(1, knobs.n_folds + 1)), "seeds": list(range(1, knobs.n_seeds + 1))}
    if "comparisons" in Study.__dataclass_fields__:
        # declared, so the analysis does not form the same pair twice (self_vs_cross and ablation_AVT)
        raw["comparisons"] = [{"a": "self", "b": "cross"}]
    return parse_study(raw, source="<simulated>")


@dataclass
class _Outcome:
    """What Store.save reads of harness.train.RunOutcome (importing train would load torch)."""

    result: dict
    predictions: dict
    history: tuple = ()
    traceback: str = ""


def _plan(study, seed: int) -> list[dict]:
    """plan.json rows. Run ids are not harness.plan's hashes (which need torch and the model code):
    the statistics only require them unique and stable."""
    return [{"run_id": f"{m}-{c}-f{f}-s{s}-sim{seed}", "model": m, "modalities": c, "fold": f, "seed": s}
            for m in study.models for c in study.combinations_for(m) for f in study.folds
            for s in study.seeds]


def _metrics(y, pred) -> dict:
    """The dict of harness.metrics.classification_metrics, from one confusion matrix (numpy; sklearn's
    six calls per split would dominate the time of a replicate). Equality is checked in calibration."""
    k = len(CLASSES)
    cm = np.bincount(y * k + pred, minlength=k * k).reshape(k, k)
    support, predicted, tp = cm.sum(1), cm.sum(0), np.diag(cm).astype(float)
    recall = np.divide(tp, support, out=np.zeros(k), where=support > 0)
    precision = np.divide(tp, predicted, out=np.zeros(k), where=predicted > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(k),
                   where=(precision + recall) > 0)
    w = support / support.sum()
    return {"accuracy": float(tp.sum() / y.size), "balanced_accuracy": float(recall[support > 0].mean()),
            "macro_f1": float(f1.mean()), "weighted_f1": float((f1 * w).sum()),
            "macro_precision": float(precision.mean()), "weighted_precision": float((precision * w).sum()),
            "per_class_recall": recall.tolist(), "confusion_matrix": cm.tolist(), "n": int(y.size)}


def simulate_folder(out_dir, scenario: Scenario | str, seed: int, *, knobs: Knobs = Knobs()) -> Path:
    """Write one simulated results folder (study.yaml, plan.json, runs/<id>/, runs.csv); return it."""
    from harness.store import Store
    from harness.study import dump_study

    sc = SCENARIOS[scenario] if isinstance(scenario, str) else scenario
    rng = np.random.default_rng(seed)
    k, nf, nt = len(CLASSES), knobs.n_folds, knobs.n_test
    n_all = nf * nt
    y_all = rng.choice(k, size=n_all, p=PI)
    diff_all = rng.normal(0.0, knobs.difficulty_sd, n_all)
    fold_shift = rng.normal(0.0, knobs.fold_sd, nf)
    delta = logit_shift(sc.effect_points, knobs) + rng.normal(0.0, sc.interaction_sd, nf)
    effect = {"self": -delta / 2, "cross": delta / 2}

    study = _study(f"simulated-{sc.name}-{seed}", knobs)
    plan = _plan(study, seed)
    store = Store(out_dir)
    store.write_study(dump_study(study), plan)
    n_train = (nf - 1) * nt - knobs.n_dev
    for spec in plan:
        f = spec["fold"] - 1
        test_idx = np.arange(f * nt, (f + 1) * nt)
        boost = fold_shift[f] + effect[spec["model"]][f] + rng.normal(0.0, knobs.skill_sd)
        pred = {}
        for split, idx in (("test", test_idx), ("dev", None)):
            if idx is None:  # dev: other utterances, same run (difficulty drawn afresh)
                y = rng.choice(k, size=knobs.n_dev, p=PI)
                logits = _logits(rng, y, rng.normal(0.0, knobs.difficulty_sd, y.size), boost, knobs)
                idx = np.arange(n_all, n_all + y.size)
            else:
                y = y_all[idx]
                logits = _logits(rng, y, diff_all[idx], boost, knobs)
            proba = np.exp(logits - logits.max(axis=1, keepdims=True))
            proba /= proba.sum(axis=1, keepdims=True)
            pred.update({f"{split}_y_true": y.astype(np.int64), f"{split}_y_pred": logits.argmax(1),
                         f"{split}_proba": proba.astype(np.float32), f"{split}_index": idx})
        pred["n_train"] = np.int64(n_train)
        result = {**spec, "device": "cpu", "status": "ok",
                  "epochs": 20, "best_epoch": 10, "train_seconds": 1.0, "n_params": 0,
                  "metrics": {s: _metrics(pred[f"{s}_y_true"], pred[f"{s}_y_pred"])
                              for s in ("dev", "test")},
                  "error": None, "simulated": True}
        store.save({**spec, "simulated": True}, _Outcome(result, pred))
    if importlib.util.find_spec("harness.table") is None:
        # harness before issue 12 read runs.csv; since then the stats read runs/*/result.json
        # through harness.table and runs.csv is only a view for people (not written here: time)
        store.write_runs_table([r["run_id"] for r in plan])
    return Path(out_dir)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out_dir")
    ap.add_argument("--scenario", choices=sorted(SCENARIOS), default="null")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    path = simulate_folder(args.out_dir, args.scenario, args.seed)
    print(f"wrote {path} ({SCENARIOS[args.scenario].label}; simulated, for calibration only)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
