"""Time `harness stats` + `harness report` on a fake study (FOR TIMING ONLY: random predictions).

    python benchmarks/bench_stats_report.py [--runs N] [--no-figures] [--keep DIR]

Prints the seconds of each stage and their ratios to reading the results folder (harness.table.load),
measured in the same run, so the figures compare across machines and loads. The report reads the
statistics the stats stage wrote; it recomputes none, so its time is tables, text and figures.
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


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=None, help="number of runs (default: all 700)")
    ap.add_argument("--no-figures", action="store_true", help="time the report without its figures")
    ap.add_argument("--keep", default=None, help="build in this folder and keep it (default: a temp folder)")
    args = ap.parse_args(argv)

    from harness import analysis, table
    from harness.report import build_report
    from harness.report import render

    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-stats-report-"))
    try:
        results = make_fake_results(base / "results", args.runs)
        print(f"fake results (FOR TIMING ONLY): {results}")
        folder, t_load = _timed(lambda: table.load(results))
        stats, t_stats = _timed(lambda: analysis.analyze(results))
        _, t_write = _timed(lambda: analysis.write_stats(stats, results))
        if args.no_figures:
            render.make_figures = lambda data, out: ([], ["figures: --no-figures"])
        report, t_report = _timed(lambda: build_report(results, base / "reports", stats=stats))
        n_png = len(list((report.parent / "figures").glob("*.png")))
        print(f"runs: {len(folder.runs)}; stats rows: {len(stats.rows)}; headline: {len(stats.headline)}; "
              f"figures: {n_png}")
        print(f"{'stage':<24}{'seconds':>9}{'x table.load':>14}")
        for name, secs in (("table.load", t_load), ("analysis.analyze", t_stats), ("write_stats", t_write),
                           ("build_report", t_report)):
            print(f"{name:<24}{secs:>9.2f}{secs / t_load:>14.1f}")
        print(f"report / stats: {t_report / t_stats:.2f}")
        return 0
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
