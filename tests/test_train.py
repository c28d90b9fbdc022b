"""One run: metrics equal scikit-learn's, determinism, early stopping, LR schedule, failures."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from harness import train as train_mod
from harness.metrics import classification_metrics
from harness.plan import make_plan
from harness.study import parse_study

from conftest import quick_study


def spec_for(data, **over):
    study = parse_study(quick_study(data, **over), source="t.yaml")
    return make_plan(study, "fp").runs[0]


def test_metrics_equal_sklearn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 7, 300)
    p = np.where(rng.random(300) < 0.5, y, rng.integers(0, 7, 300))
    m = classification_metrics(y, p, 7)
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, p), abs=1e-12)
    assert m["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, p), abs=1e-12)
    assert m["macro_f1"] == pytest.approx(skm.f1_score(y, p, average="macro"), abs=1e-12)
    assert m["weighted_f1"] == pytest.approx(skm.f1_score(y, p, average="weighted"), abs=1e-12)
    assert m["weighted_precision"] == pytest.approx(skm.precision_score(y, p, average="weighted"), abs=1e-12)
    assert m["per_class_recall"] == pytest.approx(list(skm.recall_score(y, p, average=None)), abs=1e-12)
    assert m["confusion_matrix"] == skm.confusion_matrix(y, p).tolist()


@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")
def test_balanced_accuracy_ignores_absent_class_like_sklearn():
    y = np.array([0, 0, 1, 1, 2])
    p = np.array([0, 1, 1, 1, 3])
    assert classification_metrics(y, p, 7)["balanced_accuracy"] == pytest.approx(
        skm.balanced_accuracy_score(y, p))


def test_same_spec_same_metrics_and_predictions(small_data):
    spec = spec_for(small_data, modalities=["AVT"], training={"max_epochs": 3, "patience": 3})
    a, b = train_mod.run(spec), train_mod.run(spec)
    assert a.ok and b.ok, (a.result.get("error"), b.result.get("error"))
    assert a.result["metrics"] == b.result["metrics"]
    np.testing.assert_array_equal(a.predictions["test_proba"], b.predictions["test_proba"])
    assert [h["train_loss"] for h in a.history] == [h["train_loss"] for h in b.history]
    other = train_mod.run(spec_for(small_data, modalities=["AVT"], seeds=[2],
                                   training={"max_epochs": 3, "patience": 3}))
    assert [h["train_loss"] for h in other.history] != [h["train_loss"] for h in a.history]


def test_predictions_and_result_contents(small_data):
    out = train_mod.run(spec_for(small_data))
    p = out.predictions
    n = len(p["test_y_true"])
    assert p["test_proba"].shape == (n, 7) and np.allclose(p["test_proba"].sum(1), 1, atol=1e-5)
    assert np.array_equal(p["test_y_pred"], p["test_proba"].argmax(1))
    assert len(np.unique(p["test_index"])) == n
    acc = (p["test_y_pred"] == p["test_y_true"]).mean()
    assert out.result["metrics"]["test"]["accuracy"] == pytest.approx(acc)
    assert 1 <= out.result["best_epoch"] <= out.result["epochs"] <= 4


def _replay_plateau(dev_losses, lr0, factor, patience, threshold=1e-4):
    """ReduceLROnPlateau's rule (mode min, rel threshold 1e-4, as torch's defaults), replayed."""
    lrs, lr, best, bad = [], lr0, float("inf"), 0
    for loss in dev_losses:
        lrs.append(lr)  # the lr used during this epoch
        if loss < best * (1 - threshold):
            best, bad = loss, 0
        else:
            bad += 1
        if bad > patience:
            lr, bad = lr * factor, 0
    return lrs


def test_early_stopping_and_lr_schedule(small_data):
    # lr so high nothing is learnt well: dev accuracy plateaus early, loss does not improve.
    spec = spec_for(small_data, training={"max_epochs": 40, "patience": 3, "lr_patience": 1,
                                          "lr_factor": 0.5, "lr": 0.05})
    out = train_mod.run(spec)
    assert out.ok, out.result.get("error")
    h = out.history
    dev_acc = [e["dev_accuracy"] for e in h]
    best = out.result["best_epoch"]
    assert dev_acc[best - 1] == max(dev_acc)
    assert dev_acc.index(max(dev_acc)) == best - 1  # the first epoch reaching the best
    # stops exactly `patience` epochs after the last improvement (unless capped)
    assert len(h) == min(best + 3, 40)
    lrs = [e["lr"] for e in h]
    assert lrs == pytest.approx(_replay_plateau([e["dev_loss"] for e in h], 0.05, 0.5, 1))
    assert min(lrs) < 0.05  # the schedule did act


def test_nan_loss_recorded_as_failed(small_data, monkeypatch):
    real = train_mod.build_model

    def broken(*a, **k):
        net = real(*a, **k)
        fwd = net.forward
        net.forward = lambda batch: fwd(batch) * float("nan")
        return net

    monkeypatch.setattr(train_mod, "build_model", broken)
    out = train_mod.run(spec_for(small_data))
    assert out.result["status"] == "failed"
    assert "NonFiniteLoss" in out.result["error"] and "nan" in out.result["error"]
    assert "Traceback" in out.traceback


def test_exception_recorded_as_failed(small_data, tmp_path):
    spec = spec_for(small_data)
    from dataclasses import replace

    bad = replace(spec, data=replace(spec.data, path=str(tmp_path / "gone")))
    out = train_mod.run(bad)
    assert out.result["status"] == "failed" and "gone" in out.result["error"]


def test_nan_in_data_skipped_by_workers_still_fails_the_run(small_data, tmp_path):
    """Workers skip the NaN scan (run-study did it); a NaN reaching training fails the run."""
    import shutil

    from harness.data.iemocap import load_fold
    from harness.errors import DataError

    data = tmp_path / "data"
    shutil.copytree(small_data, data)
    path = data / "fold01" / "train_audio_mfcc.npy"
    a = np.load(path)
    a[:, 0, 0] = np.nan
    np.save(path, a)
    with pytest.raises(DataError, match="train_audio_mfcc.npy"):
        load_fold(data, 1, n_classes=7)
    assert load_fold(data, 1, n_classes=7, check_finite=False).train.n > 0
    out = train_mod.run(spec_for(data, modalities=["AT"]))
    assert out.result["status"] == "failed" and "NonFiniteLoss" in out.result["error"]
