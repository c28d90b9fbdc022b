"""Orchestration: run ids, atomic store, resume, failures, lock, backends agree."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from harness import train as train_mod
from harness.cli import main
from harness.plan import make_plan
from harness.runner import execute
from harness.store import Store
from harness.study import parse_study

from conftest import quick_study


def plan_for(data, **over):
    return make_plan(parse_study(quick_study(data, **over), source="t.yaml"), "fp0")


def test_run_ids_stable_and_sensitive(small_data):
    base = plan_for(small_data).runs[0]
    assert base.run_id == plan_for(small_data).runs[0].run_id
    same = [replace(base, device="cuda:0", threads=7),
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
    ]
    ids = {c.run_id for c in changed}
    assert base.run_id not in ids and len(ids) == len(changed)


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


def test_loky_and_dask_give_the_same_metrics(small_data, tmp_path):
    pytest.importorskip("dask.distributed")
    over = dict(models=["self", "cross"], modalities=["AT"], seeds=[1, 2],
                training={"max_epochs": 2, "patience": 2})
    tables = {}
    for backend in ("sequential", "loky", "dask"):
        ex = {"backend": backend, "jobs": 2, "threads_per_job": 1}
        if backend == "dask":
            ex["cluster"] = {"kind": "local", "workers": 2}
        plan, store, s = _run(small_data, tmp_path / backend, execution=ex, **over)
        assert s.ok == 4, s.failed
        t = pd.read_csv(store.root / "runs.csv")
        tables[backend] = t.filter(regex="^(run_id|test_|dev_|epochs)")
    pd.testing.assert_frame_equal(tables["sequential"], tables["loky"])
    pd.testing.assert_frame_equal(tables["sequential"], tables["dask"])
