"""Does the statistics stage hold its error rate? Rejection rates over simulated studies.

Each replicate writes a simulated results folder (benchmarks/simulate_results.py: 5 folds x 10 seeds,
~1,000 test utterances per fold, self vs cross on AVT), runs the stats stage on it exactly as
`harness stats` does (analysis.analyze + analysis.write_stats, then reads stats.json back) and records,
for the headline verdict and for every test x unit x metric row of the self-vs-cross comparison,
whether it claims a difference (adjusted p < alpha). With 200 replicates per scenario each rate gets a
95 % Wilson score interval (statsmodels proportion_confint(method="wilson")).

    python benchmarks/calibration.py [--replicates 200] [--jobs 2] [--bayes-samples 500]
                                     [--out benchmarks/results/calibration.txt]

Headline: stats.json's `headline` entry (verdict b_better / a_better = a claimed difference) when the
stats stage writes one; otherwise the pre-issue-15 conclusion ("legacy: any of the 4 claims": run-level
Wilcoxon (else paired t) or fold-level paired t, on accuracy or balanced accuracy, significant).
Done criteria (issue 15): under both nulls the headline claims a difference in <= alpha + 0.02 of the
replicates with the upper CI bound < alpha + 0.04; at +3 points it detects >= 90 %.
"""

from __future__ import annotations

import argparse
import inspect
import json
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from simulate_results import SCENARIOS, Knobs, simulate_folder, true_difference  # noqa: E402

ALPHA = 0.05
LEGACY_CLAIMS = [("accuracy", "run", ("wilcoxon", "paired_t")),
                 ("balanced_accuracy", "run", ("wilcoxon", "paired_t")),
                 ("accuracy", "fold", ("paired_t", "wilcoxon")),
                 ("balanced_accuracy", "fold", ("paired_t", "wilcoxon"))]


def _stats_json(folder: Path, bayes_samples: int) -> dict:
    """The stats stage on one folder, read back from the stats.json it writes."""
    from harness import analysis

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kw = {"bayes_samples": bayes_samples} if "bayes_samples" in inspect.signature(
            analysis.analyze).parameters else {}
        st = analysis.analyze(folder, **kw)
        analysis.write_stats(st, folder)
    return json.loads((folder / "stats.json").read_text())


def _rows(payload: dict) -> dict:
    """(metric, unit, test) -> row of the self-vs-cross comparison (the first one, b = cross)."""
    out = {}
    for r in payload["rows"]:
        if {r.get("model_a"), r.get("model_b")} != {"self", "cross"}:
            continue
        if r.get("family") not in (None, "self_vs_cross") and "comparison" not in r:
            continue  # the pre-issue-15 analysis repeats the pair in ablation_AVT
        out.setdefault((r["metric"], r["unit"], r["test"]), r)
    return out


def _finite(x) -> bool:
    return x is not None and np.isfinite(float(x))


def _claims(row: dict) -> dict:
    """What one row claims: a difference (by p), equivalence, Bayesian practical difference; CI cover."""
    out = {}
    p = row.get("pvalue_adj") if _finite(row.get("pvalue_adj")) else row.get("pvalue")
    if row["test"] == "tost":
        out["equivalent"] = bool(_finite(p) and float(p) < ALPHA)
    elif row["test"] == "bayes_signrank":
        pl, pr = row.get("p_left"), row.get("p_right")
        out["differs"] = bool((_finite(pl) and pl > 0.95) or (_finite(pr) and pr > 0.95))
        out["equivalent"] = bool(_finite(row.get("p_rope")) and row["p_rope"] > 0.95)
    elif row["test"] == "mcnemar_per_run" and row.get("n_significant") is not None:
        out["differs"] = bool(row["n_significant"] >= 1)  # what "Sig. yes (k/50)" showed
    elif _finite(p):
        out["differs"] = bool(float(p) < ALPHA)
    return out


def _headline(payload: dict, rows: dict) -> tuple[str, str, tuple | None]:
    """(source, verdict, (ci_low, ci_high, metric)); the legacy conclusion gives no interval."""
    if payload.get("headline"):
        h = next((h for h in payload["headline"] if {h.get("a"), h.get("b")} <= {"self", "cross"}
                  or "cross" in str(h.get("b")) or "cross" in str(h.get("a"))), payload["headline"][0])
        ci = (h.get("ci_low"), h.get("ci_high"), h.get("metric"))
        return "stats.json headline", h["verdict"], ci
    hit = False
    for metric, unit, tests in LEGACY_CLAIMS:
        row = next((rows[(metric, unit, t)] for t in tests if (metric, unit, t) in rows), None)
        hit |= bool(row and _claims(row).get("differs"))
    return "legacy conclusion (any of 4 claims)", "b_better" if hit else "no_difference_detected", None


def replicate(scenario: str, index: int, bayes_samples: int) -> dict:
    """One simulated study through the stats stage: {key: bool} claims and CI coverage."""
    seed = 1_000_003 * (list(SCENARIOS).index(scenario) + 1) + index
    base = Path(tempfile.mkdtemp(prefix="calib-", dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
    try:
        folder = simulate_folder(base / "results", scenario, seed)
        payload = _stats_json(folder, bayes_samples)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    problems = (payload.get("excluded") or {}).get("problems")
    if problems:  # the simulated folder must read as a real one
        raise RuntimeError(f"harness.table found problems in a simulated folder: {problems[:3]}")
    rows = _rows(payload)
    out: dict = {}
    src, verdict_, ci = _headline(payload, rows)
    out[("headline", src, "differs")] = verdict_ in ("b_better", "a_better")
    if src != "legacy conclusion (any of 4 claims)":
        out[("headline", src, "equivalent")] = verdict_ == "equivalent"
    if ci and _finite(ci[0]) and _finite(ci[1]):
        truth = true_difference(scenario, ci[2])
        out[("headline", src, "covers")] = bool(ci[0] <= truth <= ci[1])
    for (metric, unit, test), row in rows.items():
        for what, value in _claims(row).items():
            out[(f"{test} ({unit})", metric, what)] = value
        # an interval for the expected run-level b - a (McNemar's is about ensembles; TOST's is 90 %)
        if _finite(row.get("ci_low")) and _finite(row.get("ci_high")) and test != "tost" \
                and unit != "utterance":
            truth = true_difference(scenario, metric)
            out[(f"{test} ({unit})", metric, "covers")] = bool(row["ci_low"] <= truth <= row["ci_high"])
    return out


def _cell(hits: int, n: int) -> str:
    from statsmodels.stats.proportion import proportion_confint

    if n == 0:
        return "—"
    lo, hi = proportion_confint(hits, n, alpha=0.05, method="wilson")
    return f"{100 * hits / n:5.1f} % [{100 * lo:4.1f}, {100 * hi:5.1f}]"


def _order(key: tuple) -> tuple:
    first = {"headline": 0}.get(key[0], 1)
    what = {"differs": 0, "equivalent": 1, "covers": 2}[key[2]]
    return (what, first, key[0], key[1])


def table(results: dict[str, list[dict]]) -> str:
    """Markdown table: one row per (what, test (unit), metric), one column per scenario."""
    keys = sorted({k for reps in results.values() for r in reps for k in r}, key=_order)
    names = {"differs": "claims a difference", "equivalent": "claims equivalence",
             "covers": "interval covers the true b − a"}
    head = "| what | test (unit) | metric | " + " | ".join(SCENARIOS[s].label for s in results) + " |"
    lines = [head, "|" + "---|" * (3 + len(results))]
    for key in keys:
        cells = []
        for reps in results.values():
            vals = [r[key] for r in reps if key in r and r[key] is not None]
            cells.append(_cell(sum(vals), len(vals)))
        lines.append(f"| {names[key[2]]} | {key[0]} | {key[1]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def verdict(results: dict[str, list[dict]]) -> list[str]:
    """The issue-15 done criteria on the headline."""
    from statsmodels.stats.proportion import proportion_confint

    out = []
    for s, reps in results.items():
        vals = [v for r in reps for k, v in r.items() if k[0] == "headline" and k[2] == "differs"]
        if not vals:
            continue
        rate, (lo, hi) = np.mean(vals), proportion_confint(sum(vals), len(vals), 0.05, "wilson")
        if SCENARIOS[s].effect_points == 0:
            ok = rate <= ALPHA + 0.02 and hi < ALPHA + 0.04
            need = f"<= {ALPHA + 0.02:.2f}, upper bound < {ALPHA + 0.04:.2f}"
        elif SCENARIOS[s].effect_points >= 3:
            ok, need = rate >= 0.90, ">= 0.90"
        else:
            ok, need = None, "(no criterion; power)"
        mark = "" if ok is None else ("MET" if ok else "NOT MET")
        out.append(f"headline, {SCENARIOS[s].label}: {rate:.3f} [{lo:.3f}, {hi:.3f}] {need} {mark}")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replicates", type=int, default=200)
    ap.add_argument("--jobs", type=int, default=2, help="loky workers (at most 2 on a shared machine)")
    ap.add_argument("--bayes-samples", type=int, default=500,
                    help="Monte Carlo samples of the Bayesian signed-rank test (default 500)")
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--out", default=None, help="also write the printed text to this file")
    args = ap.parse_args(argv)
    scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = [s for s in scenarios if s not in SCENARIOS]
    if unknown or args.replicates < 1 or not 1 <= args.jobs <= 2:
        print(f"calibration.py: --scenarios must be among {', '.join(SCENARIOS)} (found {unknown}), "
              f"--replicates >= 1, --jobs 1 or 2", file=sys.stderr)
        return 2
    from joblib import Parallel, delayed

    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    tasks = [(s, i) for s in scenarios for i in range(args.replicates)]
    results: dict[str, list[dict]] = {s: [] for s in scenarios}
    stream = Parallel(n_jobs=args.jobs, backend="loky", return_as="generator")(
        delayed(replicate)(s, i, args.bayes_samples) for s, i in tasks)
    for (s, i), out in zip(tasks, stream):  # in task order
        results[s].append(out)
        if i == args.replicates - 1:
            print(f"[{time.perf_counter() - t0:5.0f} s] {s}: {args.replicates} replicates done",
                  file=sys.stderr)
            if args.out:  # a partial table survives an interrupted run
                Path(args.out + ".partial").write_text(table({k: v for k, v in results.items() if v}))
    elapsed = time.perf_counter() - t0
    k = Knobs()
    text = "\n".join([
        f"# calibration: {args.replicates} replicates per scenario, alpha {ALPHA}, "
        f"{k.n_folds} folds x {k.n_seeds} seeds, {k.n_test} test utterances per fold, "
        f"bayes_samples {args.bayes_samples}",
        "# rates with 95 % Wilson score intervals (statsmodels proportion_confint, method='wilson')",
        f"# command: python benchmarks/calibration.py --replicates {args.replicates} "
        f"--bayes-samples {args.bayes_samples} --scenarios {','.join(scenarios)}",
        "", table(results), "", *verdict(results),
        f"\n# {len(tasks)} replicates in {elapsed:.0f} s ({args.jobs} loky worker(s))", ""])
    print(text)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        Path(args.out + ".partial").unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
