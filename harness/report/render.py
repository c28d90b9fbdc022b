"""Build the report of a results folder: report.md, report.tex (standalone), tables/*.tex, figures/*.png|pdf.

Everything is built in a temporary folder next to the target and moved into place at the end, so a
failure leaves the previous report (or nothing) rather than a half-written one. Only the results folder
is read; the data folder may be gone.
"""

from __future__ import annotations

import datetime as _dt
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

import harness
from harness.errors import UserError
from harness.report.conclusion import conclusion_paragraphs
from harness.report.figures import Figure, make_figures
from harness.report.render_text import Table, latex_escape, md_escape
from harness.report.results import Results
from harness.report.statsview import StatsView
from harness.report.tables import (
    ablation_table, accounting_table, fmt_duration, main_table, per_fold_table, significance_tables,
)

OUTPUTS = ("report.md", "report.tex", "tables", "figures")


def _analysis_module():
    try:
        import harness.analysis as analysis
    except ModuleNotFoundError as exc:
        if exc.name in ("harness.analysis",):
            return None
        raise
    return analysis


def resolve_stats(res: Results, stats=None) -> tuple[StatsView | None, list[str]]:
    """The statistics for the report: given, else stats.csv, else computed by harness.analysis.analyze."""
    notes: list[str] = []
    if stats is not None:
        return StatsView.from_any(stats), notes
    analysis = _analysis_module()
    path = res.dir / "stats.csv"
    if path.is_file():
        if analysis is not None and hasattr(analysis, "load_stats"):
            return StatsView.from_any(analysis.load_stats(res.dir)), notes
        return StatsView.read_csv(path), notes
    if analysis is not None and hasattr(analysis, "analyze"):
        try:
            view = StatsView.from_any(analysis.analyze(res.dir))
        except UserError as exc:
            notes.append(f"No significance tests: {exc}")
            return None, notes
        notes.append("stats.csv was absent: the statistics were computed for this report by "
                     "harness.analysis.analyze (run 'harness stats' to save them).")
        return view, notes
    notes.append("No significance tests: stats.csv is absent and harness.analysis is not available.")
    return None, notes


# ------------------------------------------------------------------------------------------ header facts
def header_facts(res: Results) -> list[tuple[str, str]]:
    data = res.data
    fmt = data.get("format", "unknown")
    kind = {"iemocap_yoon": "real data (IEMOCAP, Yoon et al. pre-processing)",
            "synthetic": "synthetic data"}.get(fmt, f"format '{fmt}'")
    versions = res.versions
    n_ok = len(res.ok)
    planned = len(res.plan) if res.plan is not None else len(res.runs)
    n_failed = int((res.runs["status"] == "failed").sum())
    facts = [
        ("Study", res.name),
        ("Generated", _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
         + f" by harness {harness.__version__}"),
        ("Results folder", str(res.dir.resolve())),
        ("Data", kind),
        ("Data path", str(data.get("path", "unknown"))),
        ("Data fingerprint", str(data.get("fingerprint", "not recorded"))),
        ("Classes", ", ".join(str(c) for c in data.get("classes", [])) or "not recorded"),
        ("Runs", f"{n_ok} ok, {n_failed} failed, {planned} planned"),
        ("harness version (runs)", ", ".join(versions["harness"]) or "not recorded"),
        ("torch version (runs)", ", ".join(versions["torch"]) or "not recorded"),
        ("Device", ", ".join(versions["device"]) or "not recorded"),
        ("Total compute", f"{fmt_duration(res.total_train_seconds)} of training "
                          f"(sum of train_seconds over {len(res.runs)} finished runs)"),
    ]
    return facts


META_KEYS = [("correction", "multiple-testing correction"), ("n_folds", "folds"), ("n_seeds", "seeds"),
             ("n_ok", "ok runs analysed"), ("nb_ratio", "n_test/n_train for the corrected resampled t"),
             ("rope", "ROPE of the Bayesian signed-rank test"),
             ("min_wilcoxon_p_folds", "smallest attainable fold-level Wilcoxon p"),
             ("modalities_reference", "reference combination of modalities_self")]


def _meta_lines(stats: StatsView | None) -> list[str]:
    """The statistics' settings worth reading, and the minimum detectable differences."""
    if stats is None:
        return []
    meta = stats.meta
    lines = [f"{label}: {_fmt_meta(meta[key])}" for key, label in META_KEYS if meta.get(key) not in (None, "")]
    mdd = meta.get("min_detectable_difference") or {}
    for fam, by_metric in mdd.items() if isinstance(mdd, dict) else ():
        for metric, by_unit in (by_metric or {}).items():
            parts = []
            for unit in ("run", "fold"):
                u = (by_unit or {}).get(unit)
                if isinstance(u, dict) and isinstance(u.get("mdd"), (int, float)):
                    parts.append(f"{100 * u['mdd']:.2f} pp at the {unit} level (n = {u.get('n')})")
            if parts:
                lines.append(f"minimum detectable difference (80% power), {fam}, {metric}: " + "; ".join(parts))
    return lines


def _fmt_meta(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, tuple)):
        return ", ".join(_fmt_meta(x) for x in v)
    if isinstance(v, dict):
        return "; ".join(f"{k}: {_fmt_meta(x)}" for k, x in v.items())
    return str(v)


def _excluded_lines(stats: StatsView | None) -> list[str]:
    if stats is None or not stats.excluded:
        return []
    lines = []
    for key, value in stats.excluded.items():
        if key.startswith("n_") or key.endswith("_runs"):
            continue
        if isinstance(value, dict) and value:
            lines.append(f"{key}: " + ", ".join(f"{k} ×{v}" for k, v in value.items()))
        elif isinstance(value, (list, tuple)) and value:
            lines.append(f"{key}: {len(value)}")
        elif isinstance(value, (int, float)) and value:
            lines.append(f"{key}: {value}")
    return lines


# ------------------------------------------------------------------------------------------ assembly
class _Doc:
    """Collects sections once, renders them to Markdown and LaTeX."""

    def __init__(self):
        self.items: list[tuple] = []

    def section(self, title):
        self.items.append(("section", title))

    def para(self, text):
        self.items.append(("para", text))

    def bullets(self, lines):
        if lines:
            self.items.append(("bullets", list(lines)))

    def table(self, table: Table):
        self.items.append(("table", table))

    def figure(self, fig: Figure):
        self.items.append(("figure", fig))

    def facts(self, facts):
        self.items.append(("facts", facts))

    def code(self, text, lang=""):
        self.items.append(("code", text, lang))

    def markdown(self, title: str) -> str:
        out = [f"# {title}", ""]
        for item in self.items:
            kind = item[0]
            if kind == "section":
                out += [f"## {item[1]}", ""]
            elif kind == "para":
                out += [item[1], ""]
            elif kind == "bullets":
                out += [f"- {line}" for line in item[1]] + [""]
            elif kind == "table":
                t = item[1]
                out += [f"**Table: {t.title}.** {t.caption}".rstrip(), "", t.to_markdown(caption=False), ""]
            elif kind == "figure":
                f = item[1]
                out += [f"![{f.title}](figures/{f.name}.png)", "", f"*Figure: {f.title}.* {f.caption}", ""]
            elif kind == "facts":
                out += ["| | |", "| :--- | :--- |"]
                out += [f"| {md_escape(k)} | {md_escape(v)} |" for k, v in item[1]] + [""]
            elif kind == "code":
                out += [f"```{item[2]}", item[1].rstrip("\n"), "```", ""]
        return "\n".join(out)

    def latex(self, title: str) -> str:
        out = [
            r"\documentclass[10pt,a4paper]{article}",
            r"\usepackage[utf8]{inputenc}",
            r"\usepackage[margin=1.6cm]{geometry}",
            r"\usepackage{booktabs}",
            r"\usepackage{longtable}",
            r"\usepackage{graphicx}",
            r"\usepackage{float}",
            r"\usepackage{array}",
            r"\setlength{\parindent}{0pt}",
            r"\setlength{\parskip}{0.5em}",
            rf"\title{{{latex_escape(title)}}}",
            r"\date{}",
            r"\begin{document}",
            r"\maketitle",
        ]
        for item in self.items:
            kind = item[0]
            if kind == "section":
                out.append(rf"\section*{{{latex_escape(item[1])}}}")
            elif kind == "para":
                out += [latex_escape(item[1]), ""]
            elif kind == "bullets":
                out += [r"\begin{itemize}"] + [rf"\item {latex_escape(line)}" for line in item[1]] + [r"\end{itemize}"]
            elif kind == "table":
                out.append(item[1].to_latex(placement="H"))
            elif kind == "figure":
                f = item[1]
                out += [r"\begin{figure}[H]", r"\centering",
                        rf"\includegraphics[width=\linewidth,height=0.42\textheight,keepaspectratio]"
                        rf"{{figures/{f.name}.pdf}}",
                        rf"\caption{{{latex_escape(f.title + '. ' + f.caption)}}}",
                        r"\end{figure}"]
            elif kind == "facts":
                out += [r"\begin{tabular}{@{}l>{\raggedright\arraybackslash}p{0.68\linewidth}@{}}", r"\toprule"]
                out += [rf"{latex_escape(k)} & {_latex_breakable(v)} \\" for k, v in item[1]]
                out += [r"\bottomrule", r"\end{tabular}", ""]
            elif kind == "code":
                text = "".join(ch if ord(ch) < 128 else "?" for ch in item[1])
                out += [r"{\footnotesize", r"\begin{verbatim}", text.rstrip("\n"), r"\end{verbatim}", "}"]
        out.append(r"\end{document}")
        return "\n".join(out) + "\n"


def _latex_breakable(value: str) -> str:
    return latex_escape(value).replace("/", r"/\allowbreak{}")  # long paths may wrap


def _compose(res: Results, stats: StatsView | None, stats_notes: list[str], work: Path) -> _Doc:
    alpha = stats.alpha(res.alpha) if stats is not None else res.alpha
    margin = res.margin
    if stats is not None:
        try:
            margin = float(stats.meta.get("margin", stats.meta.get("equivalence_margin", margin)))
        except (TypeError, ValueError):
            pass
    tables_dir, figures_dir = work / "tables", work / "figures"
    tables_dir.mkdir(parents=True, exist_ok=True)
    figures_dir.mkdir(parents=True, exist_ok=True)

    notes = list(res.notes) + list(stats_notes)
    if res.figures_enabled:
        figs, skipped = make_figures(res, stats, figures_dir)
    else:
        figs, skipped = [], ["all figures: study.yaml sets report.figures to false"]
    fig_by = {f.name: f for f in figs}
    notes += [f"Figure skipped — {s}." for s in skipped]

    main = main_table(res)
    abl = ablation_table(res)
    folds = [t for t in (per_fold_table(res, "balanced_accuracy"), per_fold_table(res, "accuracy")) if t]
    acct = accounting_table(res)
    sig = significance_tables(stats, alpha, margin)
    if main is None:
        notes.append("Main table skipped — the study has neither self- nor cross-attention runs.")
    if abl is None:
        notes.append("Ablation table skipped — no runs on AVT.")
    for table in [t for t in [main, abl, *folds, acct, *sig] if t is not None]:
        (tables_dir / f"{table.name}.tex").write_text(table.to_latex_file(), encoding="utf-8")

    doc = _Doc()
    doc.facts(header_facts(res))
    if "timing only" in (res.study_text + res.name).lower().replace("-", " ").replace("_", " "):
        doc.para("WARNING: this results folder is labelled FOR TIMING ONLY (fake, random predictions); "
                 "its numbers mean nothing.")
    doc.section("Conclusion")
    for para in conclusion_paragraphs(res, stats, alpha, margin):
        doc.para(para)
    doc.section("Main results")
    if main is not None:
        doc.table(main)
    for name in ("self_vs_cross", "paired_differences"):
        if name in fig_by:
            doc.figure(fig_by[name])
    doc.section("Ablation")
    if abl is not None:
        doc.table(abl)
    for name in ("ablation", "critical_difference"):
        if name in fig_by:
            doc.figure(fig_by[name])
    doc.section("Per-fold results")
    for t in folds:
        doc.table(t)
    doc.section("Significance tests")
    if sig:
        pts = "point" if abs(100 * margin - 1) < 1e-9 else "points"
        doc.para(f"α = {alpha:g}; equivalence margin ±{100 * margin:g} accuracy {pts}. Each row names its unit: "
                 "run = paired (fold, seed) runs as in the paper; fold = per-fold means; utterance = McNemar "
                 "on the test predictions.")
        doc.bullets(_meta_lines(stats))
        excl = _excluded_lines(stats)
        if excl:
            doc.para("Excluded from the tests:")
            doc.bullets(excl)
        doc.bullets([f"Statistics note: {n}" for n in (stats.notes if stats is not None else ())])
        for t in sig:
            doc.table(t)
    else:
        doc.para("No significance tests are available (see the notes).")
    doc.section("Diagnostics")
    for name in [n for n in fig_by if n.startswith("confusion")] + ["learning_curves"]:
        if name in fig_by:
            doc.figure(fig_by[name])
    doc.table(acct)
    if notes:
        doc.section("Notes")
        doc.bullets(notes)
    doc.section("Study specification (study.yaml)")
    doc.code(res.study_text or "# study.yaml is missing\n", "yaml")
    return doc


def _install(work: Path, target: Path) -> None:
    """Move the built outputs into `target`, replacing previous ones; other files there are left alone."""
    target.mkdir(parents=True, exist_ok=True)
    for name in ("tables", "figures"):
        new, old = work / name, target / name
        if old.exists():
            trash = Path(tempfile.mkdtemp(prefix=f".old-{name}-", dir=target))
            os.replace(old, trash / name)
            os.replace(new, old)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(new, old)
    for name in ("report.tex", "report.md"):  # report.md last: its presence marks a complete report
        os.replace(work / name, target / name)


def build_report(results_dir, reports_dir, stats=None) -> Path:
    """Write the report of `results_dir` into `reports_dir`; return the path of report.md.

    stats: a StudyStats (harness.analysis), a stats DataFrame, or None to use results_dir/stats.csv
    (or to compute it with harness.analysis.analyze when absent).
    Raises UserError (naming the file) when runs.csv is missing or malformed.
    """
    results_dir, reports_dir = Path(results_dir), Path(reports_dir)
    res = Results.load(results_dir)
    view, stats_notes = resolve_stats(res, stats)
    reports_dir.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{reports_dir.name}.tmp-", dir=reports_dir.parent))
    try:
        with np.errstate(all="ignore"):
            doc = _compose(res, view, stats_notes, work)
        title = f"Report: {res.name}"
        (work / "report.tex").write_text(doc.latex(title), encoding="utf-8")
        (work / "report.md").write_text(doc.markdown(title), encoding="utf-8")
        _install(work, reports_dir)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return reports_dir / "report.md"
