"""Build the report of a results folder: report.md, report.tex (standalone), tables/*.tex, figures/*.png|pdf.

The report reads the results folder through harness.table and the statistics the stats stage wrote
(stats.json, or a StudyStats handed in); it computes no statistic. Everything is built in a temporary
folder next to the target and moved into place at the end, so a failure leaves the previous report (or
nothing) rather than a half-written one. The data folder may be gone.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from harness import table
from harness.report.conclusion import conclusion, model_set_paragraphs, secondary_paragraphs
from harness.report.diagnostics import fig_cd_diagrams, fig_confusion, fig_learning_curves
from harness.report.document import Document
from harness.report.figures import SkipFigure, fig_main, fig_models, fig_paired_differences
from harness.report.header import header_facts, meta_lines, unavailable_lines
from harness.report.stats_tables import description_table, primary_table, secondary_tables
from harness.report.tables import accounting_table, main_table, model_set_combinations, models_table, per_fold_table
from harness.report.view import ReportData, StatsView

OUTPUTS = ("report.md", "report.tex", "tables", "figures")


def make_figures(data: ReportData, out_dir: Path) -> tuple[list, list[str]]:
    """All figures; returns those written and the reasons for those skipped."""
    jobs = [lambda: fig_main(data, out_dir), lambda: fig_paired_differences(data, out_dir)]
    jobs += [lambda m=m: fig_models(data, out_dir, m) for m in model_set_combinations(data)]
    jobs += [lambda: fig_cd_diagrams(data, out_dir), lambda: fig_confusion(data, out_dir),
             lambda: fig_learning_curves(data, out_dir)]
    made, skipped = [], []
    for job in jobs:
        try:
            result = job()
            made += result if isinstance(result, list) else [result]
        except SkipFigure as exc:
            skipped.append(str(exc))
    return made, skipped


def _tables(data: ReportData) -> dict:
    stats = data.stats
    return {"main": main_table(data),
            "models": [t for t in (models_table(data, m) for m in model_set_combinations(data)) if t],
            "folds": [t for t in (per_fold_table(data, m) for m in data.metrics) if t],
            "primary": primary_table(data.headline, stats, data.margin) if stats is not None else None,
            "secondary": secondary_tables(stats, data.margin),
            "descriptions": description_table(stats),
            "accounting": accounting_table(data)}


def _conclusion_sections(doc: Document, data: ReportData) -> None:
    intro, groups = conclusion(data)
    doc.section("Conclusion")
    doc.para(intro)
    for title, sentences in groups:
        doc.para(title)
        doc.bullets(sentences)
    secondary = secondary_paragraphs(data) + model_set_paragraphs(data)
    if secondary:
        doc.section("Secondary and sensitivity analyses")
        doc.para("These analyses support or qualify the primary verdicts above; none of them is a verdict.")
        for para in secondary:
            doc.para(para)


def _results_sections(doc: Document, data: ReportData, tables: dict, figs: dict) -> None:
    doc.section("Main results")
    if tables["main"] is not None:
        doc.table(tables["main"])
    for name in ("main", "paired_differences"):
        if name in figs:
            doc.figure(figs[name])
    if tables["models"]:
        doc.section("Models on one combination")
        for t in tables["models"]:
            doc.table(t)
            mods = t.name.split("_", 1)[1]
            for name in [n for n in figs if n == f"models_{mods}" or n.startswith(f"critical_difference_{mods}_")]:
                doc.figure(figs[name])
    doc.section("Per-fold results")
    for t in tables["folds"]:
        doc.table(t)


def _statistics_section(doc: Document, data: ReportData, tables: dict) -> None:
    doc.section("Statistical tests")
    if data.stats is None:
        doc.para("No statistics are available (see the notes).")
        return
    doc.para(f"α = {data.alpha:g}; equivalence margin ±{100 * data.margin:g} percentage points. Units: run = "
             "paired (fold, seed) runs; fold = per-fold means over the seeds; utterance = test predictions.")
    doc.bullets(meta_lines(data))
    doc.bullets(unavailable_lines(data))
    doc.bullets([f"Statistics note: {n}" for n in data.stats.notes])
    for t in [tables["primary"], *tables["secondary"], tables["descriptions"]]:
        if t is not None:
            doc.table(t)


def compose(data: ReportData, work: Path) -> Document:
    tables_dir, figures_dir = work / "tables", work / "figures"
    tables_dir.mkdir(parents=True, exist_ok=True)
    figures_dir.mkdir(parents=True, exist_ok=True)
    notes = list(data.notes)
    if data.figures_enabled:
        made, skipped = make_figures(data, figures_dir)
    else:
        made, skipped = [], ["all figures: study.yaml sets report.figures to false"]
    figs = {f.name: f for f in made}
    notes += [f"Figure skipped — {s}." for s in skipped]
    tables = _tables(data)
    flat = [tables["main"], *tables["models"], *tables["folds"], tables["primary"], *tables["secondary"],
            tables["descriptions"], tables["accounting"]]
    for t in [t for t in flat if t is not None]:
        (tables_dir / f"{t.name}.tex").write_text(t.to_latex_file(), encoding="utf-8")

    doc = Document()
    doc.facts(header_facts(data))
    if "timing only" in (data.folder.study_text + data.name).lower().replace("-", " ").replace("_", " "):
        doc.para("WARNING: this results folder is labelled FOR TIMING ONLY (fake, random predictions); "
                 "its numbers mean nothing.")
    _conclusion_sections(doc, data)
    _results_sections(doc, data, tables, figs)
    _statistics_section(doc, data, tables)
    doc.section("Diagnostics")
    for name in [n for n in figs if n.startswith("confusion_")] + ["learning_curves"]:
        if name in figs:
            doc.figure(figs[name])
    doc.table(tables["accounting"])
    if notes:
        doc.section("Notes")
        doc.bullets(notes)
    doc.section("Study specification (study.yaml)")
    doc.code(data.folder.study_text or "# study.yaml is missing\n", "yaml")
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


def load_inputs(results, stats=None) -> ReportData:
    """The results folder (a path, read by harness.table, or a ResultsFolder) and its statistics:
    `stats` (a StudyStats or a stats.json mapping) when given, else the folder's stats.json."""
    folder = table.load(results) if isinstance(results, (str, os.PathLike)) else results
    notes = list(folder.notes) + [f"Results folder: {p}" for p in folder.problems]
    raw = stats if stats is not None else folder.stats_json()
    view = StatsView.from_any(raw) if raw is not None else None
    if view is None:
        notes.append("stats.json is absent: no statistics (run `harness stats RESULTS_DIR`, then the report).")
    return ReportData(folder, view, notes)


def build_report(results_dir, reports_dir, stats=None) -> Path:
    """Write the report of `results_dir` into `reports_dir`; return the path of report.md.

    stats: a StudyStats or a parsed stats.json, or None to read results_dir/stats.json.
    Raises UserError (naming the file) when the results folder is unusable.
    """
    data = load_inputs(results_dir, stats)
    reports_dir = Path(reports_dir)
    reports_dir.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{reports_dir.name}.tmp-", dir=reports_dir.parent))
    try:
        with np.errstate(all="ignore"):
            doc = compose(data, work)
        title = f"Report: {data.name}"
        (work / "report.tex").write_text(doc.latex(title), encoding="utf-8")
        (work / "report.md").write_text(doc.markdown(title), encoding="utf-8")
        _install(work, reports_dir)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return reports_dir / "report.md"

