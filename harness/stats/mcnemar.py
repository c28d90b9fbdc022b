"""McNemar's test of two classifiers on the same items (exact binomial by default)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats as _st

from ._checks import NAN as _NAN, _check_alpha


@dataclass(frozen=True)
class McNemarResult:
    statistic: float          # min(n01, n10) for exact / midp; chi-square for chi2 methods
    pvalue: float
    method: str
    n: int                    # number of paired items
    n01: int                  # a right, b wrong
    n10: int                  # a wrong, b right
    estimate: float           # accuracy(b) - accuracy(a) = (n10 - n01) / n
    ci_low: float             # Wald CI of the paired difference of proportions
    ci_high: float
    effect_size: float        # n10 / (n01 + n10): share of discordant items that b wins
    effect_name: str = "discordant_share_b"
    note: str = ""



_MCNEMAR_METHODS = ("exact", "chi2", "chi2_corrected", "midp")


def mcnemar(y_true: Any, pred_a: Any, pred_b: Any, method: str = "exact",
            alpha: float = 0.05) -> McNemarResult:
    """McNemar test of paired classifiers on the same items.

    ``method``: ``"exact"`` (default) two-sided binomial test of n10 among n01 + n10
    discordant items with p = 1/2 (``scipy.stats.binomtest``; equals R ``binom.test`` and
    statsmodels ``mcnemar(exact=True)``); ``"midp"`` mid-p version (exact p minus the point
    probability of the observed count, Fagerland et al. 2013); ``"chi2"`` uncorrected
    chi-square (n01 - n10)^2 / (n01 + n10); ``"chi2_corrected"`` Edwards' continuity
    correction (|n01 - n10| - 1)^2 / (n01 + n10), exactly as R ``mcnemar.test``.
    No discordant items -> p-value 1.  The CI of ``estimate`` is the Wald interval for a
    paired difference of proportions.
    """
    if method not in _MCNEMAR_METHODS:
        raise ValueError(f"method must be one of {_MCNEMAR_METHODS}, got {method!r}")
    alpha = _check_alpha(alpha)
    yt = np.asarray(y_true)
    pa = np.asarray(pred_a)
    pb = np.asarray(pred_b)
    for name, arr in (("y_true", yt), ("pred_a", pa), ("pred_b", pb)):
        if arr.ndim != 1:
            raise ValueError(f"{name}: expected a 1-D array, got shape {arr.shape}")
        if arr.dtype.kind == "f" and np.isnan(arr).any():
            raise ValueError(f"{name}: contains NaN")
    if not (yt.size == pa.size == pb.size):
        raise ValueError(f"y_true, pred_a, pred_b must have the same length: "
                         f"{yt.size}, {pa.size}, {pb.size}")
    if yt.size == 0:
        raise ValueError("mcnemar needs at least one item, got 0")
    ca = pa == yt
    cb = pb == yt
    return _mcnemar_counts(int(np.sum(ca & ~cb)), int(np.sum(~ca & cb)), int(yt.size),
                           method, alpha)


def _mcnemar_counts(n01: int, n10: int, n: int, method: str = "exact",
                    alpha: float = 0.05) -> McNemarResult:
    m = n01 + n10
    est = (n10 - n01) / n
    # Wald CI for the difference of two paired proportions
    var = (m - (n10 - n01) ** 2 / n) / n ** 2
    half = _st.norm.ppf(1 - alpha / 2) * math.sqrt(max(var, 0.0))
    share = n10 / m if m else _NAN
    note = ""
    if m == 0:
        stat = 0.0
        p = 1.0
        note = "no discordant items: p-value 1"
    elif method == "exact":
        stat = float(min(n01, n10))
        p = float(_st.binomtest(n10, m, 0.5, alternative="two-sided").pvalue)
    elif method == "midp":
        stat = float(min(n01, n10))
        k = min(n01, n10)
        p = 2.0 * _st.binom.cdf(k, m, 0.5) - _st.binom.pmf(k, m, 0.5)
        p = float(min(1.0, p))
    elif method == "chi2":
        stat = (n01 - n10) ** 2 / m
        p = float(_st.chi2.sf(stat, 1))
    else:  # chi2_corrected
        stat = (abs(n01 - n10) - 1.0) ** 2 / m
        p = float(_st.chi2.sf(stat, 1))
    return McNemarResult(statistic=float(stat), pvalue=float(p), method=f"mcnemar-{method}",
                         n=int(n), n01=int(n01), n10=int(n10), estimate=float(est),
                         ci_low=float(est - half), ci_high=float(est + half),
                         effect_size=float(share), note=note)


def mcnemar_from_counts(n01: int, n10: int, n: int | None = None, method: str = "exact",
                        alpha: float = 0.05) -> McNemarResult:
    """McNemar from the discordant counts (n = total items; defaults to n01 + n10)."""
    if method not in _MCNEMAR_METHODS:
        raise ValueError(f"method must be one of {_MCNEMAR_METHODS}, got {method!r}")
    n01, n10 = int(n01), int(n10)
    if n01 < 0 or n10 < 0:
        raise ValueError(f"counts must be non-negative, got n01={n01}, n10={n10}")
    n = n01 + n10 if n is None else int(n)
    if n < max(1, n01 + n10):
        raise ValueError(f"n={n} must be >= n01 + n10 = {n01 + n10} and >= 1")
    return _mcnemar_counts(n01, n10, n, method, _check_alpha(alpha))


def mcnemar_exact_pvalues(n01: Any, n10: Any) -> np.ndarray:
    """Vectorised exact two-sided McNemar p-values for arrays of discordant counts:
    min(1, 2 * BinomCDF(min(n01, n10); n01 + n10, 1/2)), which equals
    ``scipy.stats.binomtest(n10, n01 + n10).pvalue`` (the binomial with p = 1/2 is symmetric);
    1 where there are no discordant items."""
    n01 = np.asarray(n01, dtype=np.int64)
    n10 = np.asarray(n10, dtype=np.int64)
    if n01.shape != n10.shape:
        raise ValueError(f"n01 and n10 must have the same shape: {n01.shape} != {n10.shape}")
    if np.any(n01 < 0) or np.any(n10 < 0):
        raise ValueError("counts must be non-negative")
    m = n01 + n10
    p = np.minimum(1.0, 2.0 * _st.binom.cdf(np.minimum(n01, n10), np.maximum(m, 1), 0.5))
    return np.where(m == 0, 1.0, p)


