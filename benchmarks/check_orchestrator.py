"""Orchestrator checks at full study size, run by hand (minutes, not part of the test suite).

The test suite holds the fast versions: tests/test_runner.py kills run-study from inside
(SIGKILL while it stores its second run), resumes on loky and compares the redone run.
Here, at study size and killed from outside:

1. A 44-run study (self and cross over all combinations, 2 folds x 2 seeds, `jobs: 2`, the
   default backend and threads: loky, one thread per run)
   is killed with SIGKILL part-way, then run again: it must complete all 44 without touching
   the finished runs' result.json, and its runs.csv must have the same test metrics as an
   uninterrupted run.
2. An 8-run study on `backend: dask, cluster: local` with 2 workers must give the same test
   metrics as loky.

    python benchmarks/check_orchestrator.py [--workdir /tmp/harness-orch]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml


def study(name, data, models, modalities, execution, folds=2, seeds=2):
    return {
        "name": name,
        "data": {"format": "synthetic", "path": str(data), "preset": "small", "utterances": 300},
        "models": models, "modalities": modalities, "folds": folds, "seeds": seeds,
        "training": {"max_epochs": 4, "patience": 2},
        "execution": execution,
    }


def harness(*args, **kw):
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], stdin=subprocess.DEVNULL, **kw)


def mtimes(root: Path) -> dict:
    return {p.parent.name: p.stat().st_mtime_ns for p in root.glob("runs/*/result.json")}


def test_metrics(path: Path) -> pd.DataFrame:
    t = pd.read_csv(path / "runs.csv", dtype={"modalities": str})
    return t.filter(regex="^(run_id|status|test_)").sort_values("run_id").reset_index(drop=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", default="/tmp/harness-orch")
    ap.add_argument("--kill-after", type=int, default=15, help="finished runs before SIGKILL")
    args = ap.parse_args()
    work = Path(args.workdir)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    data = work / "data"
    loky = {"jobs": 2}  # backend auto -> loky; threads_per_job 1 (the defaults)

    # 1. SIGKILL part-way, resume, compare with an uninterrupted run.
    s = work / "kill.yaml"
    s.write_text(yaml.safe_dump(study("kill", data, ["self", "cross"], "all", loky)))
    harness("make-synthetic", str(data), "--utterances", "300", "--quiet", check=True)
    cmd = [sys.executable, "-m", "harness.cli", "run-study", str(s), "--results-dir",
           str(work / "killed"), "--no-report", "--quiet"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, start_new_session=True, stdin=subprocess.DEVNULL)
    root = work / "killed" / "kill"
    while len(mtimes(root)) < args.kill_after and proc.poll() is None:
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = mtimes(root)
    leftovers = [p.name for p in (root / "runs").iterdir() if p.name.startswith(".tmp-")]
    print(f"killed after {time.perf_counter() - t0:.0f} s with {len(before)} of 44 runs done; "
          f"temp folders left by the kill: {len(leftovers)}")
    subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL)
    after = mtimes(root)
    untouched = all(after.get(k) == v for k, v in before.items())
    print(f"resumed: {len(after)} runs done; finished runs' result.json untouched: {untouched}")
    harness("run-study", str(s), "--results-dir", str(work / "clean"), "--no-report", "--quiet", check=True)
    same = test_metrics(root).equals(test_metrics(work / "clean" / "kill"))
    print(f"runs.csv test metrics equal to an uninterrupted run: {same}")

    # 2. dask LocalCluster vs loky, 8 runs.
    results = {}
    for backend, ex in (("loky", loky), ("dask", {"backend": "dask", "jobs": 2,
                                                  "cluster": {"kind": "local", "workers": 2}})):
        p = work / f"{backend}.yaml"
        p.write_text(yaml.safe_dump(study("eight", data, ["self", "cross"], ["AT", "AVT"], ex,
                                          folds=[1], seeds=2)))
        t = time.perf_counter()
        harness("run-study", str(p), "--results-dir", str(work / backend), "--no-report", "--quiet", check=True)
        results[backend] = test_metrics(work / backend / "eight")
        print(f"{backend}: {len(results[backend])} runs in {time.perf_counter() - t:.0f} s")
    print(f"dask test metrics equal to loky: {results['dask'].equals(results['loky'])}")
    ok = len(after) == 44 and untouched and same and results["dask"].equals(results["loky"])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
