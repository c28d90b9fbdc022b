"""Report of a results folder: tables, figures and a conclusion rendered from the statistics.

    from harness.report import build_report
    build_report("results/my_study", "reports/my_study")   # -> reports/my_study/report.md

The report reads (harness.table for the results folder, stats.json for the statistics) and
computes no statistic. Modules, in the order the report is built:
    view          ReportData: the results folder + StatsView (stats.json's rows, headline, summaries, ranks)
    names         display names: model labels (model registry), test labels (test registry), metrics, units
    header        the header facts (corpus, design, split sizes, class counts) and the statistics' settings
    conclusion    one verdict sentence per headline entry; the secondary analyses; model sets (ranks)
    tables        descriptive tables (main, models on one combination, per fold, run accounting)
    stats_tables  the primary analysis, secondary tests and descriptions (McNemar) as stats.json has them
    figures       main bars, paired differences, models on one combination; diagnostics: CD diagrams,
                  confusion matrices, learning curves
    document      Markdown and LaTeX rendering of the collected sections; render_text: tables and numbers
    render        build_report: compose everything in a temporary folder and move it into place
A new model or test needs no change here: labels come from the registries, rows from stats.json.
"""

from harness.report.render import build_report

__all__ = ["build_report"]
