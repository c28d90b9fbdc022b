"""harness regress: moved cell, missing and extra runs, malformed baseline, --update round trip."""

from __future__ import annotations

import pandas as pd
import pytest

from harness.cli import main

from conftest import quick_study


@pytest.fixture(scope="module")
def results(small_data, tmp_path_factory):
    import yaml

    tmp = tmp_path_factory.mktemp("regress")
    study = quick_study(small_data, models=["self"], modalities=["T", "AT"], seeds=[1, 2],
                        training={"max_epochs": 2, "patience": 2})
    path = tmp / "study.yaml"
    path.write_text(yaml.safe_dump(study))
    assert main(["run-study", str(path), "--results-dir", str(tmp / "r"), "--no-report", "--quiet"]) == 0
    return tmp / "r" / "t"


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
