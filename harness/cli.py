"""Command line: argument parsing and exit codes only; each command calls the stages.

Exit codes: 0 done, 1 the work failed (a run, a regression), 2 bad input.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path

from . import __version__
from .errors import UserError

# Before torch loads (OpenMP reads it once): idle OpenMP threads sleep instead of spinning,
# so runs with threads_per_job > 1 slow down gracefully on a busy machine (harness.runner).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

def _print(msg: str = "", quiet: bool = False) -> None:
    if not quiet:
        print(msg, flush=True)


# --- commands -------------------------------------------------------------------------------


def cmd_make_synthetic(args) -> int:
    from .data.synthetic import make_synthetic
    from .data.synthetic_mmsa import make_synthetic_mmsa

    if args.format == "mmsa":
        out = make_synthetic_mmsa(args.out, preset=args.preset or "small", seed=args.seed,
                                  utterances=args.utterances)
    else:
        out = make_synthetic(args.out, preset=args.preset or "small",
                             utterances=args.utterances, seed=args.seed)
    _print(f"wrote synthetic {args.format} '{args.preset or 'small'}' data to {out}", args.quiet)
    return 0


def _prepare_data(study, *, need: bool, quiet: bool):
    """Make synthetic data if asked, check every planned fold; return the fingerprint.

    With need=False (validate, dry-run) missing data is a warning, not an error.
    """
    from .data.corpus import prepare

    corpus = prepare(study, need=need, say=lambda m: _print(m, quiet),
                     warn=lambda m: print(f"warning: {m}", file=sys.stderr))
    if corpus is None or not need:
        return None
    return corpus.fingerprint(study.folds)


def _corpus_summary(study) -> dict:
    """Split sizes, class counts and dropped utterances, recorded with the resolved study."""
    from .data.corpus import open_corpus, summary

    return summary(open_corpus(study), study.folds)


def _load_study(args):
    from .study import load_study

    return load_study(args.study)


def _print_plan(plan, quiet=False) -> None:
    counts = plan.counts()
    params = plan.parameter_counts()
    s = plan.study
    _print(f"study '{s.name}': {len(plan.runs)} runs = model x modalities x "
           f"{len(s.folds)} fold(s) x {len(s.seeds)} seed(s)", quiet)
    _print(f"{'model':<12}{'modalities':<12}{'runs':>6}{'parameters':>14}", quiet)
    for (model, combo), n in counts.items():
        _print(f"{model:<12}{combo:<12}{n:>6}{params[(model, combo)]:>14,}", quiet)
    for note in plan.notes:
        _print(f"note: {note}", quiet)
    shapes = plan.shapes
    src = "data files" if plan.data_present else "the format's declared shapes"
    _print(f"input shapes ({src}): audio {shapes.audio_frames}x{shapes.audio_dim}, video "
           f"{shapes.video_frames}x{shapes.video_dim}, text embeddings {shapes.embed_dim}-d, "
           f"{shapes.n_classes} classes", quiet)


def cmd_validate(args) -> int:
    from .plan import make_plan

    study = _load_study(args)
    _prepare_data(study, need=False, quiet=args.quiet)
    plan = make_plan(study)
    _print(f"{args.study}: valid", args.quiet)
    _print_plan(plan, args.quiet)
    return 0


def cmd_run_study(args) -> int:
    from .plan import check_models, make_plan
    from .runner import execute, parallelism
    from .store import Store
    study = _load_study(args)
    if args.jobs:  # --jobs N > 1 on a sequential study means: run N at once on this machine
        backend = study.execution.backend
        if args.jobs > 1 and backend == "sequential":
            backend = "loky"
        study = replace(study, execution=replace(study.execution, jobs=args.jobs, backend=backend))
    if args.dry_run:
        _prepare_data(study, need=False, quiet=args.quiet)
        _print_plan(make_plan(study))
        return 0
    check_models(study)  # import and probe the study's own models before anything is written
    fingerprint = _prepare_data(study, need=True, quiet=args.quiet)
    plan = make_plan(study, fingerprint)
    store = Store(Path(args.results_dir) / study.name)
    resolved = plan.study.to_dict()  # with model.kernels resolved
    resolved["data"]["fingerprint"] = fingerprint
    resolved["data"]["corpus"] = _corpus_summary(study)
    with store.lock():
        store.clean_temp()
        store.write_study(_yaml(resolved), [
            {"run_id": r.run_id, "model": r.model, "modalities": r.modalities,
             "fold": r.fold, "seed": r.seed} for r in plan.runs])
        if not args.quiet:
            _print_plan(plan)
        if parallelism(plan)[0] != "sequential":  # backend auto: loky when jobs > 1
            from .data.corpus import release_data

            release_data()  # the workers read the data themselves: keep no copy here
        summary = execute(plan, store, force=args.force, quiet=args.quiet)
    _print(f"{summary.planned} runs planned: {summary.skipped} already done, {summary.ok} trained "
           f"ok, {len(summary.failed)} failed ({summary.seconds:.0f} s). Results: {store.root}",
           args.quiet)
    for run_id, reason in summary.failed:
        print(f"failed: {run_id}: {reason} (see {store.run_dir(run_id) / 'traceback.txt'})",
              file=sys.stderr)
    if not args.no_report:
        reports = Path(args.reports_dir) / study.name
        _stats_and_report(store.root, reports, args.quiet)
    return summary.exit_code


def _yaml(d) -> str:
    import yaml

    return yaml.safe_dump(d, sort_keys=False)


def _analyze(results_dir):
    """Run the study's statistics and write stats.csv/json into its results folder."""
    from . import analysis

    stats = analysis.analyze(results_dir)
    analysis.write_stats(stats, results_dir)
    return stats


def _stats_and_report(results_dir: Path, reports_dir: Path, quiet: bool) -> None:
    from .report.render import build_report

    path = build_report(results_dir, reports_dir, stats=_analyze(results_dir))
    _print(f"report: {path}", quiet)


def cmd_stats(args) -> int:
    from . import analysis

    stats = _analyze(args.results_dir)
    for problem in (stats.excluded or {}).get("problems", []):
        if isinstance(problem, str):  # harness.table's: a run whose files disagree, left out
            print(f"warning: {problem}", file=sys.stderr)
    _print(analysis.format_summary(stats), args.quiet)
    _print(f"wrote {Path(args.results_dir) / 'stats.csv'} and stats.json", args.quiet)
    return 0


def cmd_report(args) -> int:
    from . import table
    from .report.render import build_report

    folder = table.load(args.results_dir)
    for problem in folder.problems:  # such runs are left out of the report; say why
        print(f"warning: {problem}", file=sys.stderr)
    name = folder.study.name if folder.study is not None else folder.dir.resolve().name
    # --reports-dir is the parent of <study>/, as for run-study
    path = build_report(folder, Path(args.reports_dir) / name)
    _print(f"report: {path}", args.quiet)
    return 0


def cmd_regress(args) -> int:
    from .regress import regress

    return regress(args.results_dir, args.baseline, update=args.update, atol=args.atol,
                   quiet=args.quiet)


# --- parser ----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="harness",
        description="Comparison studies of multimodal emotion-recognition models "
                    "(self- vs cross-attention fusion, Rajan et al. ICASSP 2022).",
        epilog="Exit codes: 0 done, 1 work failed (a run, a regression), 2 bad input.")
    p.add_argument("-V", "--version", action="version", version=f"harness {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    q = argparse.ArgumentParser(add_help=False)
    q.add_argument("--quiet", action="store_true", help="print nothing but errors")

    s = sub.add_parser("make-synthetic", parents=[q],
                       help="write a synthetic data set (IEMOCAP Yoon et al. layout, or an MMSA pickle)")
    s.add_argument("out", help="folder to create (fold01..fold05 inside), or the .pkl file for mmsa")
    s.add_argument("--format", choices=["iemocap_yoon", "mmsa"], default="iemocap_yoon",
                   help="file layout (default: iemocap_yoon)")
    s.add_argument("--preset", default=None,
                   help="iemocap_yoon: small | iemocap; mmsa: small | mosi | mosei (default: small)")
    s.add_argument("--utterances", type=int, default=None, help="corpus size (default: the preset's)")
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=cmd_make_synthetic)

    tb = argparse.ArgumentParser(add_help=False)
    tb.add_argument("--traceback", action="store_true",
                    help="show the full traceback when a model of yours fails its probe")

    s = sub.add_parser("validate", parents=[q, tb], help="check a study file and print its plan")
    s.add_argument("study")
    s.set_defaults(func=cmd_validate)

    s = sub.add_parser("run-study", parents=[q, tb], help="train every run of a study, then report")
    s.add_argument("study")
    s.add_argument("--results-dir", default="results", metavar="DIR", help="writes DIR/<study>/ (default: results)")
    s.add_argument("--reports-dir", default="reports", metavar="DIR", help="writes DIR/<study>/ (default: reports)")
    s.add_argument("--jobs", type=int, default=None, help="override execution.jobs")
    s.add_argument("--dry-run", action="store_true", help="print the plan and parameter counts; train nothing")
    s.add_argument("--force", action="store_true", help="retrain runs that are already done")
    s.add_argument("--no-report", action="store_true", help="skip statistics and report at the end")
    s.set_defaults(func=cmd_run_study)

    s = sub.add_parser("stats", parents=[q], help="paired significance tests on a results folder")
    s.add_argument("results_dir")
    s.set_defaults(func=cmd_stats)

    s = sub.add_parser("report", parents=[q], help="(re)build the Markdown/LaTeX report from a results folder")
    s.add_argument("results_dir")
    s.add_argument("--reports-dir", default="reports", metavar="DIR",
                   help="writes DIR/<study>/, as run-study does (default: reports)")
    s.set_defaults(func=cmd_report)

    s = sub.add_parser("regress", parents=[q], help="compare a results folder with a committed baseline")
    s.add_argument("results_dir")
    s.add_argument("--baseline", required=True, help="baseline CSV (e.g. results/baselines/ci.csv)")
    s.add_argument("--update", action="store_true", help="write the baseline from the results")
    s.add_argument("--atol", type=float, default=None, help="tolerance for metric cells")
    s.set_defaults(func=cmd_regress)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "jobs", None) is not None and args.jobs < 1:
        print(f"harness: error: --jobs must be a positive integer. Got {args.jobs} instead.",
              file=sys.stderr)
        return 2
    try:
        return args.func(args)
    except UserError as exc:
        print(f"harness: error: {exc}", file=sys.stderr)
        if getattr(args, "traceback", False) and getattr(exc, "detail", ""):
            print(exc.detail, file=sys.stderr, end="")  # the user's own code's traceback
        return 2
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("harness: interrupted. Finished runs are kept; run the same command again to "
              "resume.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
