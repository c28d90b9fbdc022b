"""After `kill -9` of run-study, no worker it started may survive more than a few seconds.

    python benchmarks/check_orphans.py [--backend loky|dask] [--grace 5] [--workdir DIR]

Starts `harness run-study` on a small synthetic study (loky or dask LocalCluster, 2 jobs,
runs long enough to be in flight), waits until its workers are training, sends SIGKILL to
the run-study process alone (not its process group: as a user's `kill -9 PID` or the OOM
killer would), then watches the processes it had started. Prints each one's fate and
exits 1 if any is still alive after --grace seconds (those are then killed, so the check
leaves nothing behind).
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

import psutil
import yaml


def study(data: Path, backend: str) -> dict:
    execution = {"backend": backend, "jobs": 2}
    if backend == "dask":
        execution["cluster"] = {"kind": "local", "workers": 2}
    return {
        "name": "orphans",
        "data": {"format": "synthetic", "path": str(data), "preset": "small", "utterances": 300},
        "models": ["self", "cross"], "modalities": ["AT", "AVT"], "folds": [1], "seeds": [1, 2],
        "training": {"max_epochs": 50, "patience": 1000},  # minutes: always in flight
        "execution": execution,
    }


def training_workers(proc: psutil.Process) -> list[psutil.Process]:
    """Descendants of run-study that have used over 10 s of CPU (workers, once they train;
    importing torch takes a few). CPU time, not CPU percent: the machine may be loaded."""
    busy = []
    try:
        kids = proc.children(recursive=True)
    except psutil.NoSuchProcess:
        return busy
    for k in kids:
        try:
            t = k.cpu_times()
            if t.user + t.system > 10:
                busy.append(k)
        except psutil.NoSuchProcess:
            pass
    return busy


def describe(p: psutil.Process) -> str:
    try:
        with p.oneshot():
            cmd = " ".join(p.cmdline())[:90]
            return (f"pid {p.pid} ppid {p.ppid()} {p.status()} rss {p.memory_info().rss >> 20} MB "
                    f"cpu {p.cpu_percent(interval=None):.0f}%: {cmd}")
    except psutil.NoSuchProcess:
        return f"pid {p.pid}: gone"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", choices=("loky", "dask"), default="loky")
    ap.add_argument("--grace", type=float, default=5.0, help="seconds the workers get to stop")
    ap.add_argument("--workdir", default="/tmp/harness-orphans")
    args = ap.parse_args(argv)
    work = Path(args.workdir)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    path = work / "study.yaml"
    path.write_text(yaml.safe_dump(study(work / "data", args.backend)))
    cmd = [sys.executable, "-m", "harness.cli", "run-study", str(path), "--results-dir",
           str(work / "results"), "--no-report", "--quiet"]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, start_new_session=True)
    parent = psutil.Process(proc.pid)
    t0 = time.perf_counter()
    workers: list[psutil.Process] = []
    while len(workers) < 2 and time.perf_counter() - t0 < 600 and proc.poll() is None:
        time.sleep(1.0)
        workers = training_workers(parent)
    everything = parent.children(recursive=True)  # workers and helpers (resource tracker, ...)
    print(f"{args.backend}: {len(workers)} workers training after {time.perf_counter() - t0:.0f} s; "
          f"{len(everything)} processes under run-study:")
    for p in everything:
        print("  " + describe(p))
    if len(workers) < 2:
        print("FAIL: the workers never started training")
        proc.kill()
        return 1
    os.kill(proc.pid, signal.SIGKILL)  # the parent alone
    proc.wait()
    killed = time.perf_counter()
    gone, alive = psutil.wait_procs(everything, timeout=args.grace)
    for p in gone:
        print(f"  pid {p.pid} ended")
    print(f"after SIGKILL of run-study (pid {proc.pid}) and {time.perf_counter() - killed:.1f} s: "
          f"{len(gone)} of {len(everything)} processes ended, {len(alive)} alive")
    for p in alive:
        print("  SURVIVOR " + describe(p))
        p.kill()
    print("OK" if not alive else "FAIL: orphaned processes (killed now)")
    return 1 if alive else 0


if __name__ == "__main__":
    sys.exit(main())
