"""harness regress: moved cell, missing and extra runs, malformed baseline, --update round trip.

The results folder is written by hand (through the store's writers) from known predictions,
so the tests need no training: 4 runs (self on T and AT, fold 1, seeds 1 and 2).
"""

from __future__ import annotations

import json
import shutil
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from harness.cli import main
from harness.metrics import classification_metrics
from harness.store import Store
from harness.study import dump_study, parse_study

from conftest import quick_study

RUNS = [("self", m, 1, seed) for m in ("T", "AT") for seed in (1, 2)]


def _outcome(model, modalities, fold, seed, rng) -> SimpleNamespace:
    """One consistent run: metrics computed from its own predictions."""
    preds, metrics = {"n_train": np.int64(300)}, {}
    for split, n in (("test", 40), ("dev", 30)):
        y_true = rng.integers(0, 7, n)
        y_pred = np.where(rng.random(n) < 0.5, y_true, rng.integers(0, 7, n))
        preds.update({f"{split}_y_true": y_true, f"{split}_y_pred": y_pred})
        metrics[split] = classification_metrics(y_true, y_pred, 7)
    epochs = int(rng.integers(2, 6))
    result = {"run_id": f"{model}-{modalities}-f{fold}-s{seed}-hand", "model": model,
              "modalities": modalities, "fold": fold, "seed": seed, "status": "ok",
              "epochs": epochs, "best_epoch": epochs - 1, "train_seconds": 1.0, "n_params": 10,
              "device": "cpu", "metrics": metrics, "error": None}
    return SimpleNamespace(result=result, predictions=preds, history=[], traceback="")


def write_results(root, runs=RUNS, max_epochs=5):
    """A results folder for `runs` (model, modalities, fold, seed), as run-study lays it out."""
    study = parse_study(quick_study(root / "data", models=["self"], modalities=["T", "AT"],
                                    seeds=[1, 2], training={"max_epochs": max_epochs},
                                    report={"figures": False}), source="s")
    store = Store(root)
    rng = np.random.default_rng(0)
    outcomes = [_outcome(*run, rng) for run in runs]
    store.write_study(dump_study(study), [{k: o.result[k] for k in
                                           ("run_id", "model", "modalities", "fold", "seed")}
                                          for o in outcomes])
    for o in outcomes:
        store.save({"run_id": o.result["run_id"]}, o)
    return root


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    return write_results(tmp_path_factory.mktemp("regress") / "t")


@pytest.fixture
def results(made, tmp_path):
    return shutil.copytree(made, tmp_path / "t")


@pytest.fixture
def baseline(results, tmp_path):
    path = tmp_path / "base.csv"
    assert main(["regress", str(results), "--baseline", str(path), "--update", "--quiet"]) == 0
    return path


def test_update_round_trip_passes(results, baseline, capsys):
    text = baseline.read_text()
    assert main(["regress", str(results), "--baseline", str(baseline)]) == 0
    assert "hold" in capsys.readouterr().out
    df = pd.read_csv(baseline)
    assert list(df["level"]).count("run") == 4 and list(df["level"]).count("config") == 2
    # update again: byte-identical, says nothing changed
    assert main(["regress", str(results), "--baseline", str(baseline), "--update"]) == 0
    assert "no cell changed" in capsys.readouterr().out
    assert baseline.read_text() == text


def test_moved_cell_exit_1_names_it(results, baseline, capsys):
    df = pd.read_csv(baseline, dtype=str)
    row = df.index[(df["level"] == "run") & (df["modalities"] == "AT") & (df["seed"] == "2")][0]
    df.loc[row, "test_accuracy"] = f"{float(df.loc[row, 'test_accuracy']) + 0.01:.6f}"
    df.to_csv(baseline, index=False)
    assert main(["regress", str(results), "--baseline", str(baseline)]) == 1
    err = capsys.readouterr().err
    lines = [l for l in err.splitlines() if "test_accuracy" in l]
    assert len(lines) == 1 and "AT" in lines[0] and "-0.01" in lines[0]
    # a tolerance above the move lets it pass
    assert main(["regress", str(results), "--baseline", str(baseline), "--atol", "0.02", "--quiet"]) == 0


def test_moved_epochs_compared_exactly(results, baseline, capsys):
    df = pd.read_csv(baseline, dtype=str)
    df.loc[0, "epochs"] = str(int(df.loc[0, "epochs"]) + 1)
    df.to_csv(baseline, index=False)
    assert main(["regress", str(results), "--baseline", str(baseline), "--atol", "1"]) == 1
    assert "epochs" in capsys.readouterr().err


def test_missing_and_extra_runs(results, baseline, capsys):
    df = pd.read_csv(baseline, dtype=str)
    removed = df.iloc[[0]]
    extra = df.iloc[[1]].copy()
    extra["seed"] = "99"
    pd.concat([df.iloc[1:], extra]).to_csv(baseline, index=False)
    assert main(["regress", str(results), "--baseline", str(baseline)]) == 1
    err = capsys.readouterr().err
    assert "missing" in err and "extra" in err and "99" in err
    assert removed.iloc[0]["modalities"] in err


@pytest.mark.parametrize("content, needle", [
    ("this is not,a baseline\n1,2\n", "lacks the column"),
    ("", "not a readable CSV"),
])
def test_malformed_baseline_exit_2(results, tmp_path, capsys, content, needle):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    assert main(["regress", str(results), "--baseline", str(path)]) == 2
    err = capsys.readouterr().err
    assert needle in err and "bad.csv" in err and "Traceback" not in err


def test_missing_baseline_and_other_study_exit_2(results, baseline, tmp_path, capsys):
    assert main(["regress", str(results), "--baseline", str(tmp_path / "none.csv")]) == 2
    assert "does not exist" in capsys.readouterr().err
    df = pd.read_csv(baseline, dtype=str)
    df["study"] = "another"
    df.to_csv(baseline, index=False)
    assert main(["regress", str(results), "--baseline", str(baseline)]) == 2
    assert "is for study 'another'" in capsys.readouterr().err


def test_non_numeric_cell_exit_2(results, baseline, capsys):
    df = pd.read_csv(baseline, dtype=str)
    df.loc[0, "test_accuracy"] = "high"
    df.to_csv(baseline, index=False)
    assert main(["regress", str(results), "--baseline", str(baseline)]) == 2
    assert "non-numeric" in capsys.readouterr().err


def _edit_result(results, modalities, seed, **changes):
    (run_dir,) = results.glob(f"runs/self-{modalities}-f1-s{seed}-*")
    result = json.loads((run_dir / "result.json").read_text())
    result.update(changes)
    (run_dir / "result.json").write_text(json.dumps(result))
    return result


def test_edited_result_json_is_seen_without_runs_csv(results, baseline, capsys):
    (results / "runs.csv").unlink(missing_ok=True)  # a view: regress never reads it
    assert main(["regress", str(results), "--baseline", str(baseline), "--quiet"]) == 0
    before = _edit_result(results, "AT", 2)["epochs"]
    _edit_result(results, "AT", 2, epochs=before - 1, best_epoch=1)
    assert main(["regress", str(results), "--baseline", str(baseline)]) == 1
    (line,) = [l for l in capsys.readouterr().err.splitlines() if " epochs " in l]
    # counts print as integers, not 146.000000
    assert line.split()[-3:] == [str(before), str(before - 1), "-1"]


def test_result_contradicting_predictions_is_a_regression(results, baseline, capsys):
    _edit_result(results, "T", 1, epochs=99)  # above training.max_epochs: not trusted
    assert main(["regress", str(results), "--baseline", str(baseline)]) == 1
    err = capsys.readouterr().err
    assert "epochs 99 exceeds training.max_epochs 5" in err and "missing" in err
    assert main(["regress", str(results), "--baseline", str(baseline), "--update"]) == 2
    assert "files disagree" in capsys.readouterr().err


def test_stats_and_report_name_a_run_whose_files_disagree(results, tmp_path, capsys):
    _edit_result(results, "AT", 1, epochs=99)
    for argv in (["stats", str(results)], ["report", str(results), "--reports-dir", str(tmp_path)]):
        assert main(argv + ["--quiet"]) == 0
        err = capsys.readouterr().err
        assert "warning:" in err and "self-AT-f1-s1-hand" in err and "epochs 99 exceeds" in err
