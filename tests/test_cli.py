"""End to end through the command line: make-synthetic, run-study, resume after SIGKILL, report."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.cli import main
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
    """self {T, AVT} and cross {AVT}, fold 1, seeds 1 and 2: 6 runs, all ok, identical twice."""
    study = quick_study(small_data, models={"self": ["T", "AVT"], "cross": ["AVT"]}, seeds=[1, 2],
                        training={"max_epochs": 8, "patience": 3})
    path = write_study(study)
    tables = []
    for name in ("a", "b"):
        code = main(["run-study", str(path), "--results-dir", str(tmp_path / name),
                     "--reports-dir", str(tmp_path / f"rep-{name}"), "--quiet"])
        assert code == 0
        t = pd.read_csv(tmp_path / name / "t" / "runs.csv", dtype={"modalities": str})
        assert len(t) == 6 and set(t["status"]) == {"ok"}
        for run_id in t["run_id"]:
            assert (tmp_path / name / "t" / "runs" / run_id / "predictions.npz").is_file()
        tables.append(t)
    tri = tables[0][tables[0]["modalities"] == "AVT"]
    assert (tri["test_balanced_accuracy"] > 0.30).all()
    cols = [c for c in tables[0].columns if c.startswith(("test_", "dev_"))] + ["run_id", "epochs"]
    pd.testing.assert_frame_equal(tables[0][cols], tables[1][cols])
    report = (tmp_path / "rep-a" / "t" / "report.md").read_text()
    assert "AVT" in report


def _result_mtimes(root: Path) -> dict:
    return {p.parent.name: p.stat().st_mtime_ns for p in root.glob("runs/*/result.json")}


def test_sigkill_then_resume_completes_without_touching_finished(small_data, tmp_path, write_study):
    # 12 runs: far more than can finish between the poll that sees 2 results and the kill
    study = quick_study(small_data, models=["self"], modalities=["T", "V", "AT"], seeds=[1, 2, 3, 4],
                        execution={"backend": "loky", "jobs": 2, "threads_per_job": 1},
                        training={"max_epochs": 3, "patience": 3})
    path = write_study(study)
    results = tmp_path / "r"
    cmd = [sys.executable, "-m", "harness.cli", "run-study", str(path), "--results-dir", str(results),
           "--no-report", "--quiet"]
    proc = subprocess.Popen(cmd, start_new_session=True, stdin=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and len(_result_mtimes(results / "t")) < 2:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the parent and its loky workers
    proc.wait()
    finished = _result_mtimes(results / "t")
    assert 2 <= len(finished) < 12, finished
    subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL, timeout=300)
    after = _result_mtimes(results / "t")
    assert len(after) == 12
    assert all(after[k] == v for k, v in finished.items())  # finished runs untouched
    t = pd.read_csv(results / "t" / "runs.csv")
    assert len(t) == 12 and set(t["status"]) == {"ok"}
    assert not list((results / "t" / "runs").glob(".tmp-*"))
    # the same metrics as an uninterrupted study
    assert main(["run-study", str(path), "--results-dir", str(tmp_path / "u"), "--no-report", "--quiet"]) == 0
    u = pd.read_csv(tmp_path / "u" / "t" / "runs.csv")
    pd.testing.assert_frame_equal(t.filter(regex="^(run_id|test_)"), u.filter(regex="^(run_id|test_)"))


def test_stats_and_report_from_results_folder_alone(small_data, tmp_path, write_study, capsys):
    data = tmp_path / "data"
    shutil.copytree(small_data, data)
    study = quick_study(data, models=["self", "cross"], modalities=["AT"], seeds=[1, 2],
                        training={"max_epochs": 2, "patience": 2})
    path = write_study(study)
    assert main(["run-study", str(path), "--results-dir", str(tmp_path / "r"), "--no-report", "--quiet"]) == 0
    shutil.rmtree(data)  # the data are gone: stats and report work from the results folder
    assert main(["stats", str(tmp_path / "r" / "t"), "--quiet"]) == 0
    assert main(["report", str(tmp_path / "r" / "t"), "--reports-dir", str(tmp_path / "rep"), "--quiet"]) == 0
    assert (tmp_path / "rep" / "report.md").is_file() and (tmp_path / "rep" / "report.tex").is_file()
    assert json.loads((tmp_path / "r" / "t" / "stats.json").read_text())
