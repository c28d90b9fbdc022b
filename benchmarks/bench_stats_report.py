"""Time `harness stats` + `harness report` on a fake 700-run study (FOR TIMING ONLY: random predictions).

    python benchmarks/bench_stats_report.py [--runs N] [--keep DIR]

Goal: statistics (analyze + write_stats) and report (build_report) under 30 s together.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fake_results import make_fake_results  # noqa: E402

GOAL_S = 30.0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=None, help="number of runs (default: all 700)")
    ap.add_argument("--keep", default=None, help="build in this folder and keep it (default: a temp folder)")
    args = ap.parse_args(argv)

    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-stats-report-"))
    try:
        t0 = time.perf_counter()
        results = make_fake_results(base / "results", args.runs)
        t_fake = time.perf_counter() - t0
        print(f"fake results (FOR TIMING ONLY): {results}  [{t_fake:.1f} s to write, not timed below]")

        try:
            from harness import analysis
        except ModuleNotFoundError:
            analysis = None
        stats = None
        t_stats = 0.0
        if analysis is None:
            print("harness.analysis is not available: statistics not timed; the report runs without them")
        else:
            t0 = time.perf_counter()
            stats = analysis.analyze(results)
            analysis.write_stats(stats, results)
            t_stats = time.perf_counter() - t0
            print(f"analyze + write_stats : {t_stats:6.2f} s  ({len(stats.rows)} rows)")

        from harness.report import build_report

        t0 = time.perf_counter()
        report = build_report(results, base / "reports", stats=stats)
        t_report = time.perf_counter() - t0
        n_png = len(list((report.parent / "figures").glob("*.png")))
        print(f"build_report          : {t_report:6.2f} s  ({n_png} figures, {report})")
        total = t_stats + t_report
        print(f"total                 : {total:6.2f} s  (goal < {GOAL_S:.0f} s: {'met' if total < GOAL_S else 'MISSED'})")
        return 0 if total < GOAL_S else 1
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
