"""One training run with and without a competing CPU-bound process: the default settings
degrade gracefully, the old default (threads = cores, OpenMP spinning) collapses.

    python benchmarks/bench_load.py [--data DIR] [--epochs 2] [--rounds 3] [--no-old]

Each measurement is one 2-epoch run (self, AVT, fold 1, synthetic `small` preset) in a
fresh process, timed by the run's own `train_seconds`; the process sets the OpenMP wait
policy before torch loads, as `harness run-study` does. Variants:

* `default`: what a study without execution settings gets now (threads from
  harness.runner.resolve_specs: 1; OMP_WAIT_POLICY=PASSIVE, set by the CLI);
* `threads=cores, passive`: `threads_per_job: <cores>` now;
* `old default`: threads = cores // jobs = cores, OMP_WAIT_POLICY unset (libgomp spins
  at barriers), the setting before this benchmark.

Each variant runs alone and then beside `python -c "while True: pass"` (one busy core,
not pinned), interleaved over --rounds rounds. Prints medians and the loaded/alone ratio
per variant, and how many distinct results (sha256 of the test probabilities) each thread
count gave: one each (load and wait policy do not change a run's numbers; the thread count
does). Exit status 1 if a thread count gave two results. The machine may carry other load
too: compare ratios from one invocation.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

DRIVER = r"""
import json, os, sys
threads, policy, data, epochs = sys.argv[1:5]
if policy == "unset":
    os.environ.pop("OMP_WAIT_POLICY", None)
else:
    os.environ["OMP_WAIT_POLICY"] = policy
from dataclasses import replace
from harness.plan import make_plan
from harness.runner import resolve_specs
from harness.study import parse_study
from harness.train import run
study = parse_study({"name": "load", "models": ["self"], "modalities": ["AVT"], "folds": [1],
    "seeds": [1], "data": {"format": "synthetic", "path": data, "preset": "small"},
    "training": {"max_epochs": int(epochs), "patience": 1000},
    "execution": {"device": "cpu"}}, source="bench_load")
(spec,) = resolve_specs(make_plan(study, "bench"), "cpu")
if threads != "default":
    spec = replace(spec, threads=int(threads))
import hashlib
o = run(spec)
r = o.result
digest = hashlib.sha256(o.predictions["test_proba"].tobytes()).hexdigest()[:12] if o.ok else ""
print(json.dumps({"threads": r["threads"], "status": r["status"], "seconds": r["train_seconds"],
                  "proba": digest}))
"""


def variants(old: bool = True) -> list[tuple[str, str, str]]:
    cores = str(os.cpu_count() or 1)
    out = [("default", "default", "PASSIVE"), (f"threads={cores}, passive", cores, "PASSIVE")]
    return out + [(f"old default (threads={cores}, spinning)", cores, "unset")] if old else out


def measure(threads: str, policy: str, data: Path, epochs: int) -> tuple[float, int, str]:
    out = subprocess.run([sys.executable, "-c", DRIVER, threads, policy, str(data), str(epochs)],
                         capture_output=True, text=True, check=True, stdin=subprocess.DEVNULL)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["status"] == "ok", r
    return r["seconds"], r["threads"], r["proba"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="/tmp/harness-bench-small",
                    help="synthetic small-preset data root (made if absent)")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-old", action="store_true", help="skip the old default (minutes under load)")
    args = ap.parse_args(argv)
    data = Path(args.data)
    if not (data / "SYNTHETIC.json").is_file():
        subprocess.run([sys.executable, "-m", "harness.cli", "make-synthetic", str(data),
                        "--preset", "small", "--quiet"], check=True)
    times: dict[tuple[str, bool], list[float]] = {}
    digests: dict[int, set[str]] = {}  # threads -> sha256 of the test probabilities
    for r in range(args.rounds):
        for name, threads, policy in variants(not args.no_old):
            for loaded in (False, True):
                hog = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if loaded else None
                try:
                    seconds, used, digest = measure(threads, policy, data, args.epochs)
                finally:
                    if hog:
                        hog.kill()
                        hog.wait()
                times.setdefault((name, loaded), []).append(seconds)
                digests.setdefault(used, set()).add(digest)
                print(f"round {r + 1}: {name:<38} threads {used} "
                      f"{'+ busy process' if loaded else 'alone         '} {seconds:7.2f} s", flush=True)
    print(f"\nmedian train seconds of a {args.epochs}-epoch run ({args.rounds} rounds, "
          f"{os.cpu_count()} cores):")
    base = statistics.median(times[(variants()[0][0], True)])
    for name, _, _ in variants(not args.no_old):
        alone, busy = (statistics.median(times[(name, x)]) for x in (False, True))
        print(f"  {name:<38} alone {alone:7.2f}  with a busy process {busy:7.2f}  "
              f"ratio {busy / alone:5.2f}  (busy, vs default busy: {busy / base:5.2f})")
    # The numbers themselves: one result per thread count, whatever the load or wait policy.
    for used, ds in sorted(digests.items()):
        print(f"  test probabilities with {used} thread(s): {len(ds)} distinct result(s) {sorted(ds)}")
    return 0 if all(len(ds) == 1 for ds in digests.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
