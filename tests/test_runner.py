"""Orchestration: run ids, atomic store, resume (also after SIGKILL), failures, lock, backends
agree, parallel defaults, workers ending with their parent."""

from __future__ import annotations

import io
import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness import train as train_mod
from harness.cli import main
from harness.errors import StudyError
from harness.plan import make_plan
from harness.runner import exit_when_orphaned, execute, parallelism, resolve_specs, watch_parent
from harness.store import Store
from harness.study import parse_study

from conftest import quick_study


def plan_for(data, **over):
    return make_plan(parse_study(quick_study(data, **over), source="t.yaml"), "fp0")


def test_run_ids_stable_and_sensitive(small_data):
    base = plan_for(small_data).runs[0]
    assert base.run_id == plan_for(small_data).runs[0].run_id
    same = [replace(base, device="cuda:0"),
            replace(base, data=replace(base.data, path="/moved/elsewhere"))]
    assert all(s.run_id == base.run_id for s in same)
    changed = [
        replace(base, seed=2), replace(base, fold=2), replace(base, model="self_nosp"),
        replace(base, modalities="AT"),
        replace(base, training=replace(base.training, lr=0.01)),
        replace(base, training=replace(base.training, dtype="float64")),
        replace(base, model_cfg=replace(base.model_cfg, hidden=30)),
        replace(base, data=replace(base.data, fingerprint="other")),
        replace(base, data=replace(base.data, audio_norm="standardize")),
        replace(base, threads=2),  # a CPU run's numbers depend on its thread count
    ]
    ids = {c.run_id for c in changed}
    assert base.run_id not in ids and len(ids) == len(changed)
    two = plan_for(small_data, execution={"threads_per_job": 2}).runs[0]
    assert two.threads == 2 and two.run_id == replace(base, threads=2).run_id


def _run(data, results, **over):
    plan = plan_for(data, **over)
    store = Store(results)
    store.write_study("name: t\n", [])
    return plan, store, execute(plan, store, quiet=True)


def test_resume_skips_done_and_redoes_half_written(small_data, tmp_path):
    plan, store, s1 = _run(small_data, tmp_path / "r", seeds=[1, 2])
    assert (s1.ok, s1.skipped) == (2, 0)
    done, half = plan.runs
    before = (store.run_dir(done.run_id) / "result.json").stat().st_mtime_ns
    # simulate a crash mid-write of `half`: folder without result.json, plus a temp folder
    (store.run_dir(half.run_id) / "result.json").unlink()
    (store.runs_dir / f".tmp-{half.run_id}-x").mkdir()
    assert store.clean_temp() == 1
    s2 = execute(plan, store, quiet=True)
    assert (s2.ok, s2.skipped) == (1, 1)
    assert (store.run_dir(done.run_id) / "result.json").stat().st_mtime_ns == before
    table = pd.read_csv(store.root / "runs.csv")
    assert list(table["seed"]) == [1, 2] and set(table["status"]) == {"ok"}
    s3 = execute(plan, store, quiet=True, force=True)
    assert s3.ok == 2 and s3.skipped == 0
    # nothing left: no progress bar at all (an empty one printed a '0 run' line twice)
    shown = io.StringIO()
    s4 = execute(plan, store, progress_stream=shown)
    assert (s4.ok, s4.skipped) == (0, 2) and shown.getvalue() == ""


def test_failed_run_does_not_stop_study_and_is_retried(small_data, tmp_path, monkeypatch):
    real_fit = train_mod.fit
    calls = []

    def flaky(spec, fold, device="cpu", progress=None):
        calls.append(spec.seed)
        if spec.seed == 1:
            raise RuntimeError("boom")
        return real_fit(spec, fold, device)

    monkeypatch.setattr(train_mod, "fit", flaky)
    plan, store, s = _run(small_data, tmp_path / "r", seeds=[1, 2],
                          execution={"backend": "sequential", "retries": 1})
    assert s.ok == 1 and [rid for rid, _ in s.failed] == [plan.runs[0].run_id]
    assert "RuntimeError: boom" in s.failed[0][1] and s.exit_code == 1
    assert calls.count(1) == 2  # tried, then retried once
    failed_dir = store.run_dir(plan.runs[0].run_id)
    assert json.loads((failed_dir / "result.json").read_text())["status"] == "failed"
    assert "boom" in (failed_dir / "traceback.txt").read_text()
    table = pd.read_csv(store.root / "runs.csv")
    assert list(table["status"]) == ["failed", "ok"]
    # a new invocation re-tries the failed run and keeps the ok one
    monkeypatch.setattr(train_mod, "fit", real_fit)
    s2 = execute(plan, store, quiet=True)
    assert s2.ok == 1 and s2.skipped == 1 and not s2.failed


def _hold_lock(root, ready, release):
    with Store(root).lock():
        ready.set()
        release.wait(30)


def test_lock_blocks_second_writer_and_dies_with_holder(small_data, tmp_path, write_study, capsys):
    results = tmp_path / "results"
    ctx = mp.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(results / "t", ready, release))
    holder.start()
    assert ready.wait(30)
    path = write_study(quick_study(small_data))
    code = main(["run-study", str(path), "--results-dir", str(results), "--no-report", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "in use by another run-study" in err and f"pid {holder.pid}" in err
    holder.kill()  # killed: the kernel drops its flock; the lock file stays
    holder.join()
    assert (results / "t" / ".lock").exists()
    with Store(results / "t").lock():
        pass


# --- defaults: parallel when asked, one thread per run, whatever the machine --------------


@pytest.mark.parametrize("execution, expected", [
    ({}, ("sequential", 1)),
    ({"jobs": 2}, ("loky", 2)),  # jobs > 1 without a backend runs in parallel
    ({"backend": "loky", "jobs": 3}, ("loky", 3)),
    ({"backend": "auto", "jobs": 1}, ("sequential", 1)),
])
def test_jobs_decide_the_backend_and_threads_stay_one(small_data, execution, expected):
    plan = plan_for(small_data, execution={"device": "cpu", **execution})
    assert parallelism(plan) == expected
    assert {s.threads for s in resolve_specs(plan, "cpu")} == {1}


def test_sequential_with_several_jobs_is_refused(small_data):
    with pytest.raises(StudyError, match="execution.jobs is 2 but execution.backend is 'sequential'"):
        plan_for(small_data, execution={"backend": "sequential", "jobs": 2})


# --- workers end with the process that started them -----------------------------------------


class _Polled(Exception):
    pass


def test_worker_watch_exits_once_parent_is_gone_and_waits_while_it_lives():
    exits = []

    def no_sleep(_):
        raise _Polled

    # a parent pid that is not ours any more (our parent died; we were re-parented)
    gone = os.getppid() + 1_000_000
    exit_when_orphaned(gone, 1.0, exit=exits.append, sleep=no_sleep)
    assert exits == [1]
    # while the parent lives, the watch waits (sleeps) instead of exiting
    with pytest.raises(_Polled):
        exit_when_orphaned(os.getppid(), 1.0, exit=exits.append, sleep=no_sleep)
    assert exits == [1]


def test_watch_only_in_direct_children():
    assert watch_parent(os.getpid()) is False  # sequential: the runs execute in the parent
    assert watch_parent(os.getppid() + 1_000_000) is False  # remote dask worker: not our parent


# --- SIGKILL part-way, then resume ------------------------------------------------------------

# Runs run-study in a child that SIGKILLs itself in the middle of storing its second run:
# that run's temp folder (with its result.json) is written, the rename never happens.
_KILL_AT_SECOND_SAVE = """
import os, signal, sys
from harness.cli import main
real_rename, renames = os.rename, []
def rename(src, dst):
    if os.path.basename(str(src)).startswith(".tmp-"):
        renames.append(src)
        if len(renames) == 2:
            os.kill(os.getpid(), signal.SIGKILL)
    return real_rename(src, dst)
os.rename = rename
sys.exit(main(sys.argv[1:]))
"""


def _stored(root: Path) -> dict:
    """run id -> mtime of its result.json, for the stored runs (not temp folders)."""
    return {p.parent.name: p.stat().st_mtime_ns for p in root.glob("runs/*/result.json")
            if not p.parent.name.startswith(".")}


def test_sigkill_mid_write_then_resume_on_loky(small_data, tmp_path, write_study):
    # (The same at study size, killed from outside: benchmarks/check_orchestrator.py.)
    study = quick_study(small_data, seeds=[1, 2, 3], training={"max_epochs": 1})
    args = ["run-study", str(write_study(study)), "--results-dir", str(tmp_path / "r"),
            "--no-report", "--quiet"]
    child = subprocess.run([sys.executable, "-c", _KILL_AT_SECOND_SAVE, *args],
                           stdin=subprocess.DEVNULL, timeout=300)
    assert child.returncode == -signal.SIGKILL
    root = tmp_path / "r" / "t"
    finished = _stored(root)
    (half,) = list((root / "runs").glob(".tmp-*"))
    killed = json.loads((half / "result.json").read_text())
    with np.load(half / "predictions.npz") as z:
        killed_proba = z["test_proba"]
    assert len(finished) == 1 and killed["run_id"] not in finished

    # resume with two loky workers (the lock died with the child): the 2 runs left
    assert main(args + ["--jobs", "2"]) == 0
    after = _stored(root)
    assert len(after) == 3 and all(after[k] == v for k, v in finished.items())
    assert not list((root / "runs").glob(".tmp-*"))
    # the run killed while being stored, trained again in a loky worker: the same numbers
    redone = json.loads((root / "runs" / killed["run_id"] / "result.json").read_text())
    assert redone["metrics"] == killed["metrics"] and redone["epochs"] == killed["epochs"]
    with np.load(root / "runs" / killed["run_id"] / "predictions.npz") as z:
        np.testing.assert_array_equal(z["test_proba"], killed_proba)
