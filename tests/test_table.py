"""harness.table: the one reader of a results folder, and its consistency checks."""

from __future__ import annotations

import json
import shutil
import numpy as np
import pytest
import yaml

from harness import table
from harness.cli import main
from harness.errors import UserError
from harness.study import dump_study, load_study, parse_study

from conftest import quick_study


@pytest.fixture(scope="module")
def made(small_data, tmp_path_factory):
    """A real results folder of a one-run study (2 epochs), and its study file."""
    tmp = tmp_path_factory.mktemp("table")
    path = tmp / "study.yaml"
    path.write_text(yaml.safe_dump(quick_study(small_data, training={"max_epochs": 2, "patience": 2})))
    assert main(["run-study", str(path), "--results-dir", str(tmp / "r"), "--no-report", "--quiet"]) == 0
    return tmp / "r" / "t", path


@pytest.fixture
def folder(made, tmp_path):
    """A private copy of the results folder, free to edit."""
    return shutil.copytree(made[0], tmp_path / "t")


def _run(folder):
    (run_dir,) = [p for p in (folder / "runs").iterdir() if p.is_dir()]
    return run_dir, json.loads((run_dir / "result.json").read_text())


def _edit(run_dir, **changes):
    result = json.loads((run_dir / "result.json").read_text())
    for dotted, value in changes.items():
        target = result
        *parents, last = dotted.split("__")
        for key in parents:
            target = target[key]
        target[last] = value
    (run_dir / "result.json").write_text(json.dumps(result))


def test_round_trip_of_a_real_results_folder(made, folder):
    _, study_path = made
    (folder / "runs.csv").write_text("garbage, never read\n")  # a view: the table ignores it
    res = table.load(folder)
    run_dir, result = _run(folder)
    assert res.problems == () and res.notes == ()
    asked = load_study(study_path)
    assert (res.study.name, res.study.models, res.study.folds, res.study.training) == \
        (asked.name, asked.models, asked.folds, asked.training)
    # the resolved study.yaml round-trips: parsed and dumped again, it is the file (less the
    # data fingerprint and corpus summary, which run-study records beside the settings)
    written = yaml.safe_load(res.study_text)
    assert written["data"].pop("fingerprint") == res.fingerprint
    assert written["data"].pop("corpus", {}) == res.corpus
    assert yaml.safe_load(dump_study(res.study)) == written
    assert res.fingerprint and res.study_text.startswith("name: t")
    assert list(res.plan["run_id"]) == [run_dir.name] == list(res.runs["run_id"])
    row = res.runs.iloc[0]
    assert (row["model"], row["modalities"], row["fold"], row["seed"], row["status"]) == ("self", "T", 1, 1, "ok")
    assert row["epochs"] == result["epochs"] <= 2
    assert row["test_accuracy"] == result["metrics"]["test"]["accuracy"]
    assert row["dev_macro_f1"] == result["metrics"]["dev"]["macro_f1"]
    pred = res.predictions(run_dir.name)
    assert row["n_test"] == pred["test_y_true"].size and row["n_train"] == int(pred["n_train"])
    assert np.mean(pred["test_y_true"] == pred["test_y_pred"]) == pytest.approx(row["test_accuracy"])
    assert len(res.history(run_dir.name)) == result["epochs"]
    assert res.stats_json() is None and res.result(run_dir.name) == result
    assert table.check_run(run_dir) == []


def test_resolved_study_round_trips_through_dump_study(small_data):
    raw = quick_study(small_data, models={"self": ["T", "AV"], "cross": None}, modalities=["AVT"],
                      execution={"cluster": {"kind": "slurm", "job_extra_directives": ["--gpus=1"]}})
    study = parse_study(raw, source="x")
    again = parse_study(yaml.safe_load(dump_study(study)), source="x")
    assert again == study


def test_epochs_above_max_epochs_reported_and_run_left_out(folder):
    run_dir, _ = _run(folder)
    _edit(run_dir, epochs=99)
    res = table.load(folder)
    assert res.runs.empty
    (problem,) = res.problems
    assert str(run_dir / "result.json") in problem and "99" in problem and "max_epochs 2" in problem
    assert table.check_run(run_dir) == [problem]
    # without the checks the edited number is what the table shows
    assert table.load(folder, check=False).runs["epochs"].tolist() == [99]


def test_accuracy_contradicting_predictions_reported(folder):
    run_dir, result = _run(folder)
    acc = result["metrics"]["test"]["accuracy"]
    _edit(run_dir, metrics__test__accuracy=min(1.0, acc + 0.1))
    (problem,) = table.load(folder).problems
    assert "metrics.test.accuracy" in problem and "predictions.npz" in problem and run_dir.name in problem


@pytest.mark.parametrize("changes, needle", [
    ({"status": "done"}, "status must be ok or failed; found 'done'"),
    ({"metrics": {}}, "metrics.test lacks accuracy"),
    ({"best_epoch": 5}, "best_epoch must be in 1..epochs"),
    ({"seed": 7}, "seed is 7, the plan says 1"),
    ({"fold": None}, "fold must be an integer; found None"),
])
def test_other_disagreements_reported(folder, changes, needle):
    run_dir, _ = _run(folder)
    _edit(run_dir, **changes)
    res = table.load(folder)
    assert res.runs.empty and any(needle in p for p in res.problems), res.problems
    assert any("left out" in n for n in res.notes)


def test_missing_predictions_reported(folder):
    run_dir, _ = _run(folder)
    (run_dir / "predictions.npz").unlink()
    (problem,) = table.load(folder).problems
    assert "predictions.npz: missing" in problem


def test_without_plan_every_run_folder_is_read(folder):
    (folder / "plan.json").unlink()
    (folder / "runs" / ".tmp-half-written").mkdir()
    res = table.load(folder)
    assert res.plan is None and len(res.runs) == 1
    assert any("plan.json is missing" in n for n in res.notes)


def test_planned_run_without_result_is_a_note(folder):
    run_dir, _ = _run(folder)
    shutil.rmtree(run_dir)
    res = table.load(folder)
    assert res.runs.empty and res.problems == ()
    assert any("1 of 1 planned run(s) have no result.json yet" in n for n in res.notes)


def test_missing_or_foreign_folder_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="nowhere.*does not exist"):
        table.load(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="empty is not a results folder"):
        table.load(tmp_path / "empty")


@pytest.mark.parametrize("text, needle", [
    ("name: [unclosed\n", "not a readable YAML"),
    ("name: t\n", "missing required key 'data'"),
])
def test_bad_study_yaml_is_a_user_error_naming_it(folder, text, needle):
    (folder / "study.yaml").write_text(text)
    with pytest.raises(UserError, match="study.yaml") as err:
        table.load(folder)
    assert needle in str(err.value)


def test_bad_plan_and_stats_json_are_user_errors(folder):
    (folder / "stats.json").write_text("{not json")
    with pytest.raises(UserError, match="stats.json is not readable JSON"):
        table.load(folder).stats_json()
    (folder / "plan.json").write_text('{"runs": [{"run_id": "x"}]}')
    with pytest.raises(UserError, match="plan.json must be"):
        table.load(folder)


def test_run_study_redoes_a_run_whose_files_disagree(made, folder, capsys):
    run_dir, result = _run(folder)
    _edit(run_dir, epochs=99)
    assert main(["run-study", str(made[1]), "--results-dir", str(folder.parent), "--no-report",
                 "--quiet"]) == 0
    assert "epochs 99 exceeds training.max_epochs 2" in capsys.readouterr().err
    res = table.load(folder)
    assert res.problems == () and res.runs["epochs"].tolist() == [result["epochs"]]
