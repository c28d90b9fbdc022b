"""The test registry: one entry per statistical test, saying where it applies and how its row is formed.

`harness.analysis` loops over `TESTS` for every comparison; the report takes every test's label
from here (`TESTS[name].label`).  Adding a test is one function plus one `register_test(...)`:

    def my_test(data: PairData, unit: str) -> dict:
        a, b = data.scores(unit)               # paired scores of a and b at that unit
        ...
        return {"statistic": ..., "pvalue": ..., "estimate": ..., "note": "..."}

    register_test(TestEntry(name="my_test", units=("run", "fold"), label="My test",
                            short="mine", role="secondary", compute=my_test))

A compute function returns any of the row fields below; the analysis fills the rest
(family, comparison, a, b, unit, test, role, n when not given, Holm-adjusted p, verdict flags).
It raises ValueError when the data do not allow the test (the message becomes the row's note).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np
import pandas as pd

UNITS = ("run", "fold", "utterance")
ROLES = ("secondary", "description")        # "primary" is given to rows by stats.primary
VERDICTS = ("difference", "equivalence", "none")

# the fields a compute function may fill (the rest of a row is the analysis' business)
RESULT_FIELDS = ("n", "statistic", "pvalue", "estimate", "ci_low", "ci_high", "ci_method",
                 "ci_coverage", "effect_size", "effect_name", "p_left", "p_rope", "p_right",
                 "equivalent", "n_significant", "note")


class Utterances(Protocol):
    """Test-set predictions of a comparison, aligned per fold (built by harness.analysis)."""

    def paired_correct(self) -> tuple[list[tuple[np.ndarray, np.ndarray]], int]:
        """[(correct_a, correct_b)] per paired (fold, seed) run, and how many pairs lacked them."""

    def ensembles(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list] | None:
        """(y_true, ensemble prediction a, ensemble prediction b, folds used) over all folds."""


@dataclass(frozen=True)
class Settings:
    """The study's statistical settings, as the tests need them."""
    alpha: float = 0.05
    correction: str = "holm"
    margin: float = 0.01           # equivalence margin (TOST) and ROPE half-width
    rope: float = 0.01
    bayes_samples: int = 5000
    bayes_min_folds: int = 5       # below this many folds the Bayesian verdict is withheld


@dataclass(frozen=True)
class PairData:
    """One comparison on one metric: the runs of a and b paired on (fold, seed)."""
    metric: str
    runs: pd.DataFrame             # fold, seed, score_a, score_b, run_id_a, run_id_b; sorted
    settings: Settings
    n_folds: int                   # folds of the study (1 = one fixed split)
    n_train: float = float("nan")  # mean training-set size of the runs (NaN: unknown)
    n_test: float = float("nan")   # mean test-set size
    utterances: Utterances | None = None

    def scores(self, unit: str) -> tuple[np.ndarray, np.ndarray]:
        """Paired scores (a, b): the runs at unit 'run', per-fold means over seeds at 'fold'."""
        if unit == "fold":
            means = self.runs.groupby("fold", sort=True)[["score_a", "score_b"]].mean()
            return means["score_a"].to_numpy(float), means["score_b"].to_numpy(float)
        return self.runs["score_a"].to_numpy(float), self.runs["score_b"].to_numpy(float)

    def diffs_by_fold(self) -> list[np.ndarray]:
        """The differences b - a of each fold's paired seeds (one array per fold, fold order)."""
        d = self.runs.assign(d=self.runs["score_b"] - self.runs["score_a"])
        return [g["d"].to_numpy(float) for _, g in d.groupby("fold", sort=True)]

    def n(self, unit: str) -> int:
        """Sample size at a unit: paired runs, or folds with a paired run."""
        return int(self.runs["fold"].nunique()) if unit == "fold" else len(self.runs)


@dataclass(frozen=True)
class TestEntry:
    __test__ = False                           # not a pytest test class despite its name
    name: str                                  # the rows' `test` value
    units: tuple[str, ...]                     # the units it runs at (a row per unit)
    label: str                                 # for tables: "Paired t test"
    short: str                                 # for narrow columns: "t"
    role: str                                  # secondary | description (never a verdict)
    compute: Callable[[PairData, str], dict] | None  # (data, unit) -> row fields
    verdict: str = "difference"                # difference: `significant`; equivalence:
                                               # `equivalent`; none: neither
    metrics: tuple[str, ...] | None = None     # None: every analysed metric
    min_n: int = 2                             # fewer units -> no result, a note
    floor: Callable[[int], float] | None = None  # smallest attainable two-sided p at n
    description: str = ""                      # one line for the docs / report legend
    kind: str = "pair"                         # pair: one comparison; set: a set of models
                                               # (Friedman, Nemenyi: rows formed by analysis)

    def __post_init__(self):
        if not self.name or not self.name.replace("_", "").isalnum():
            raise ValueError(f"test name must be a word such as 'paired_t', got {self.name!r}")
        bad = [u for u in self.units if u not in UNITS]
        if not self.units or bad:
            raise ValueError(f"test {self.name}: units must be drawn from {UNITS}, got {self.units}")
        if self.role not in ROLES:
            raise ValueError(f"test {self.name}: role must be one of {ROLES}, got {self.role!r}")
        if self.verdict not in VERDICTS:
            raise ValueError(f"test {self.name}: verdict must be one of {VERDICTS}, "
                             f"got {self.verdict!r}")
        if self.kind not in ("pair", "set") or (self.kind == "pair" and self.compute is None):
            raise ValueError(f"test {self.name}: kind 'pair' needs a compute function")
        if self.role == "description" and self.verdict != "none":
            raise ValueError(f"test {self.name}: a description gives no verdict (verdict='none')")

    def min_p(self, n: int) -> float:
        """Smallest two-sided p-value the test can produce with n units (0 when unbounded)."""
        return float(self.floor(n)) if self.floor is not None else 0.0


TESTS: dict[str, TestEntry] = {}


def register_test(entry: TestEntry, *, replace: bool = False) -> TestEntry:
    """Add a test to the registry (a ValueError if the name is taken and not `replace`)."""
    if entry.name in TESTS and not replace:
        raise ValueError(f"a test named {entry.name!r} is already registered")
    TESTS[entry.name] = entry
    return entry


def unregister_test(name: str) -> None:
    """Remove a test (for toy tests registered at run time)."""
    TESTS.pop(name, None)


def primary_choices() -> list[tuple[str, str]]:
    """(test, unit) pairs that may be the primary analysis: tests that give a difference verdict."""
    return [(e.name, u) for e in TESTS.values() if e.kind == "pair" and e.verdict == "difference"
            for u in e.units if u != "utterance"]
