"""End to end through the command line: make-synthetic, run-study, stats, report, version.

Resuming after SIGKILL at study size is checked by benchmarks/check_orchestrator.py (minutes,
by hand); resume logic itself by tests/test_runner.py.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from harness import __version__, table
from harness.cli import build_parser, main
from harness.data.iemocap import load_fold

from conftest import SMALL_UTTERANCES, quick_study


def test_make_synthetic_cli_readable_by_real_reader(tmp_path):
    out = tmp_path / "syn"
    assert main(["make-synthetic", str(out), "--preset", "small", "--utterances", "150", "--quiet"]) == 0
    for f in range(1, 6):
        fold = load_fold(out, f, n_classes=7)
        assert fold.train.n > 0 and fold.test.n > 0


def test_bad_data_file_exit_2_names_file(tmp_path, write_study, capsys):
    data = tmp_path / "data"
    main(["make-synthetic", str(data), "--utterances", "150", "--quiet"])
    labels = data / "fold01" / "test_label.npy"
    y = np.load(labels)
    y[0] = 9
    np.save(labels, y)
    study = quick_study(data, data={"format": "iemocap_yoon", "path": str(data)})
    code = main(["run-study", str(write_study(study)), "--results-dir", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and "test_label.npy" in err and "Traceback" not in err
    assert not (tmp_path / "r").exists()


def test_issue_study_trains_learns_and_is_reproducible(small_data, tmp_path, write_study):
    """self {T, AVT} and cross {AVT}, fold 1, seed 1: 3 runs, all ok, identical twice."""
    study = quick_study(small_data, models={"self": ["T", "AVT"], "cross": ["AVT"]}, seeds=[1],
                        training={"max_epochs": 8, "patience": 3},
                        report={"figures": False})  # figures are tests/test_report.py's
    path = write_study(study)
    tables = []
    for name in ("a", "b"):
        code = main(["run-study", str(path), "--results-dir", str(tmp_path / name),
                     "--reports-dir", str(tmp_path / f"rep-{name}"), "--quiet"]
                    + (["--no-report"] if name == "b" else []))  # one report is enough
        assert code == 0
        t = table.load(tmp_path / name / "t").runs
        assert len(t) == 3 and set(t["status"]) == {"ok"}
        for run_id in t["run_id"]:
            assert (tmp_path / name / "t" / "runs" / run_id / "predictions.npz").is_file()
        tables.append(t)
    tri = tables[0][tables[0]["modalities"] == "AVT"]
    assert (tri["test_balanced_accuracy"] > 0.30).all()
    cols = [c for c in tables[0].columns if c.startswith(("test_", "dev_"))] + ["run_id", "epochs"]
    pd.testing.assert_frame_equal(tables[0][cols], tables[1][cols])
    report = (tmp_path / "rep-a" / "t" / "report.md").read_text()
    assert "AVT" in report


def test_stats_and_report_from_results_folder_alone(small_data, tmp_path, write_study, capsys):
    data = tmp_path / "data"
    shutil.copytree(small_data, data)
    study = quick_study(data, models=["self", "cross"], modalities=["AT"], seeds=[1, 2],
                        training={"max_epochs": 2, "patience": 2},
                        report={"figures": False})
    path = write_study(study)
    assert main(["run-study", str(path), "--results-dir", str(tmp_path / "r"), "--no-report", "--quiet"]) == 0
    shutil.rmtree(data)  # the data are gone: stats and report work from the results folder
    assert main(["stats", str(tmp_path / "r" / "t"), "--quiet"]) == 0
    # --reports-dir is the parent of <study>/, as for run-study
    assert main(["report", str(tmp_path / "r" / "t"), "--reports-dir", str(tmp_path / "rep"), "--quiet"]) == 0
    assert (tmp_path / "rep" / "t" / "report.md").is_file() and (tmp_path / "rep" / "t" / "report.tex").is_file()
    assert json.loads((tmp_path / "r" / "t" / "stats.json").read_text())


@pytest.mark.parametrize("flag", ["-V", "--version"])
def test_version_flags(flag, capsys):
    with pytest.raises(SystemExit) as stop:
        main([flag])
    assert stop.value.code == 0 and capsys.readouterr().out.strip() == f"harness {__version__}"
    assert "-V, --version" in build_parser().format_help()


def test_report_on_a_missing_folder_exit_2_names_it(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nowhere"), "--reports-dir", str(tmp_path / "rep")]) == 2
    err = capsys.readouterr().err
    assert "nowhere" in err and "does not exist" in err and "Traceback" not in err
    assert not (tmp_path / "rep").exists()
