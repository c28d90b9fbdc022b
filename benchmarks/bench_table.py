"""What the results-folder checks cost: `harness.table.load` with and without `check`.

    python benchmarks/bench_table.py [--runs N] [--rounds 3] [--keep DIR]

Writes a fake results folder (benchmarks/fake_results.py, 700 runs by default: FOR TIMING
ONLY), then times `table.load(check=False)` (result.json of every run, n_train from
predictions.npz) against `table.load(check=True)` (also every run's labels read from
predictions.npz and accuracy / balanced accuracy recomputed), interleaved over --rounds
rounds, and prints the medians and their ratio. Also asserts the checks find no problem in
a consistent folder (a false alarm would be a bug).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fake_results import make_fake_results  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=None, help="number of runs (default: all 700)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--keep", default=None, help="build in this folder and keep it")
    args = ap.parse_args(argv)

    from harness import table

    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-table-"))
    try:
        folder = make_fake_results(root / "fake", n_runs=args.runs)
        times = {False: [], True: []}
        for _ in range(args.rounds):
            for check in (False, True):
                t0 = time.perf_counter()
                res = table.load(folder, check=check)
                times[check].append(time.perf_counter() - t0)
                assert not res.problems, res.problems[:3]
        plain, checked = statistics.median(times[False]), statistics.median(times[True])
        print(f"{len(res.runs)} runs, median of {args.rounds} rounds")
        print(f"  table.load(check=False): {plain:.2f} s")
        print(f"  table.load(check=True):  {checked:.2f} s  (x{checked / plain:.2f})")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
