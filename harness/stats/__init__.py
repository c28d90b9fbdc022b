"""Statistical tests for paired model comparisons: pure functions in the style of scipy.stats.

Every function validates its input, computes with scipy / statsmodels where they provide the
computation, and returns a frozen dataclass; nothing is printed or written.  Bad input (length
mismatch, NaN / inf, too few samples, unknown option) raises ``ValueError``.

Sign convention (here and in :mod:`harness.analysis`): for paired scores ``a`` and ``b`` the
differences are ``d = b - a``; a positive ``estimate`` means ``b`` scores higher;
``alternative="greater"`` tests ``b > a``; ``p_right`` of the Bayesian test is the probability
that ``b - a`` lies above the ROPE.  For McNemar, ``n01`` counts items ``a`` got right and ``b``
wrong, ``n10`` the reverse; its estimate is ``accuracy(b) - accuracy(a)``.

One module per family of tests; :mod:`harness.stats.registry` lists them for the analysis
and the report (:mod:`harness.stats.entries` registers the built-in ones).
"""

from .bayes import BayesSignRankResult, bayes_signrank
from .mcnemar import McNemarResult, mcnemar, mcnemar_exact_pvalues, mcnemar_from_counts
from .mixed import MixedModelResult, mixed_model
from .multiple import CorrectionResult, correct
from .power import BootstrapResult, bootstrap_ci, mean_ci, min_detectable_difference
from .ranks import FriedmanResult, NemenyiResult, friedman, nemenyi, nemenyi_cd
from .signrank import (WilcoxonResult, hodges_lehmann, min_wilcoxon_p, rank_biserial,
                       signrank_null_pmf, wilcoxon)
from .ttests import TostResult, TTestResult, corrected_resampled_t, paired_t, tost
from . import entries  # noqa: F401  (registers the built-in tests)
from .registry import (PairData, Settings, TestEntry, TESTS, primary_choices, register_test,
                       unregister_test)

__all__ = [
    "McNemarResult", "WilcoxonResult", "TTestResult", "TostResult", "BayesSignRankResult",
    "MixedModelResult", "CorrectionResult", "FriedmanResult", "NemenyiResult",
    "BootstrapResult",
    "mcnemar", "wilcoxon", "paired_t", "corrected_resampled_t", "tost", "bayes_signrank",
    "mixed_model", "correct", "mcnemar_from_counts", "mcnemar_exact_pvalues", "friedman",
    "nemenyi_cd", "nemenyi", "bootstrap_ci", "mean_ci", "min_detectable_difference",
    "min_wilcoxon_p", "signrank_null_pmf", "hodges_lehmann", "rank_biserial",
    "PairData", "Settings", "TestEntry", "TESTS", "register_test", "unregister_test",
    "primary_choices",
]
