"""Study throughput (runs per minute) with one job against two (loky, one thread per job).

    python benchmarks/bench_throughput.py [--data DIR] [--rounds 1] [--epochs 15]

The same small study -- synthetic `small` preset (900 utterances), self and cross on AVT,
AV and VT, seeds 1 and 2: 12 runs, each exactly --epochs epochs (patience large) -- is run
with `harness run-study --force` as a whole process, `execution.jobs` 1 and then 2
(backend loky, threads_per_job 1, OMP_NUM_THREADS=1), interleaved over --rounds rounds.
Runs per minute = runs / wall seconds of the whole command x 60. Goal on 2 cores: jobs 2
at least 1.8x the runs per minute of jobs 1. Other processes on the machine lower it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_train import ONE_THREAD, harness_cmd  # noqa: E402

GOAL = 1.8
MODELS, COMBOS, SEEDS = ("self", "cross"), ("AVT", "AV", "VT"), (1, 2)


def study_yaml(data: Path, jobs: int, epochs: int) -> str:
    return (f"name: tput-j{jobs}\n"
            f"data:\n  format: synthetic\n  path: {data}\n  preset: small\n  seed: 0\n"
            f"models: [{', '.join(MODELS)}]\nmodalities: [{', '.join(COMBOS)}]\n"
            f"folds: [1]\nseeds: [{', '.join(map(str, SEEDS))}]\n"
            f"training:\n  max_epochs: {epochs}\n  patience: 1000000\n"
            f"execution:\n  backend: loky\n  jobs: {jobs}\n  threads_per_job: 1\n"
            f"  device: cpu\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="/tmp/harness-bench-small",
                    help="synthetic small-preset data root (made if absent)")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)

    data = Path(args.data)
    if not (data / "SYNTHETIC.json").is_file():
        subprocess.run(harness_cmd() + ["make-synthetic", str(data), "--preset", "small",
                                        "--quiet"], check=True)
    n_runs = len(MODELS) * len(COMBOS) * len(SEEDS)
    env = {**os.environ, **ONE_THREAD}
    walls: dict[int, list[float]] = {1: [], 2: []}
    with tempfile.TemporaryDirectory(prefix="bench-tput-") as work:
        work = Path(work)
        for r in range(args.rounds):
            for jobs in (1, 2):
                study = work / f"j{jobs}.yaml"
                study.write_text(study_yaml(data, jobs, args.epochs))
                t0 = time.perf_counter()
                subprocess.run(harness_cmd() + ["run-study", str(study), "--results-dir",
                                                str(work / "results"), "--no-report", "--quiet",
                                                "--force"], env=env, check=True)
                wall = time.perf_counter() - t0
                walls[jobs].append(wall)
                print(f"round {r + 1}: jobs {jobs}: {n_runs} runs in {wall:6.1f} s = "
                      f"{n_runs / wall * 60:6.1f} runs/min", flush=True)
    rate = {j: n_runs / statistics.median(w) * 60 for j, w in walls.items()}
    ratio = rate[2] / rate[1]
    print(f"\n{n_runs} runs x {args.epochs} epochs, small preset, {os.cpu_count()} CPUs: "
          f"jobs 1 {rate[1]:.1f} runs/min, jobs 2 {rate[2]:.1f} runs/min: "
          f"x{ratio:.2f} (goal >= {GOAL}: {'met' if ratio >= GOAL else 'missed'})")
    if args.json:
        Path(args.json).write_text(json.dumps({"walls": walls, "runs": n_runs,
                                               "runs_per_min": rate, "ratio": ratio}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
