"""Statistical analysis of a finished study (``harness stats RESULTS_DIR``).

Steps, one module each: `source` (the results folder through harness.table, settings, ok and
excluded runs) -> `families` (which pairs are compared: the study's declared comparisons, else
the paper's families) -> `pairing` (runs paired on fold and seed, predictions aligned) -> `rows`
(every test of harness.stats.registry at each of its units, Holm, verdict flags) -> `headline`
(one verdict per comparison from the primary analysis) -> `summaries` (means, CIs, ranks) ->
`result` (StudyStats, stats.json / stats.csv).  `core.analyze` runs them in that order;
`text.format_summary` prints the result.  Sign convention: every estimate is b - a.
"""

from .core import analyze
from .result import StudyStats, load_stats, normalise_rows, to_bool, write_stats
from .rows import BOOL, COLUMNS, FLOAT, INT, TEXT
from .source import METRICS
from .text import format_summary

__all__ = ["StudyStats", "analyze", "write_stats", "format_summary", "load_stats",
           "normalise_rows", "to_bool", "COLUMNS", "METRICS", "TEXT", "FLOAT", "BOOL", "INT"]
