"""Report of a results folder: tables, figures and a conclusion written from the statistics.

    from harness.report import build_report
    build_report("results/my_study", "reports/my_study")   # -> reports/my_study/report.md
"""

from harness.report.render import build_report

__all__ = ["build_report"]
