"""Wilcoxon signed-rank test with the Hodges-Lehmann estimate, its signed-rank interval and the rank-biserial correlation."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats as _st

from ._checks import NAN as _NAN, _check_alternative, _clean_diffs, _paired, _vec


@dataclass(frozen=True)
class WilcoxonResult:
    statistic: float          # T+ = sum of ranks of positive differences (b - a > 0)
    pvalue: float
    method: str               # "exact", "exact-conditional", "normal", "normal-cc", "degenerate"
    n: int                    # number of pairs given
    n_used: int               # pairs entering the ranking (zeros dropped for zero_method="wilcox")
    n_zero: int
    zero_method: str
    alternative: str
    estimate: float           # Hodges-Lehmann estimate of the pseudo-median of b - a
    ci_low: float             # distribution-free CI from the signed-rank distribution
    ci_high: float
    ci_level: float           # achieved confidence level of [ci_low, ci_high]
    effect_size: float        # matched-pairs rank-biserial correlation (Kerby 2014)
    effect_name: str = "rank_biserial"
    zstatistic: float = _NAN  # normal-approximation z (NaN for exact methods)
    note: str = ""



def signrank_null_pmf(n: int) -> np.ndarray:
    """Exact null distribution of the signed-rank statistic T+ for n untied, non-zero
    differences: ``pmf[t] = P(T+ = t)``, t = 0 .. n(n+1)/2 (generating-function recursion)."""
    n = int(n)
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    N = n * (n + 1) // 2
    pmf = np.zeros(N + 1)
    pmf[0] = 1.0
    top = 0
    for k in range(1, n + 1):
        new = pmf.copy() * 0.5
        new[k: top + k + 1] += 0.5 * pmf[: top + 1]
        pmf = new
        top += k
    return pmf


def min_wilcoxon_p(n: int) -> float:
    """Smallest two-sided exact Wilcoxon signed-rank p-value attainable with n pairs:
    all differences of one sign gives p = 2 / 2**n (n = 5 -> 0.0625, so with 5 folds
    nothing can be significant at 0.05)."""
    n = int(n)
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    return float(min(1.0, 2.0 / 2.0 ** n))


def _walsh(d: np.ndarray) -> np.ndarray:
    i, j = np.triu_indices(d.size)
    return np.sort((d[i] + d[j]) / 2.0)


def hodges_lehmann(d: Any, confidence_level: float = 0.95) -> tuple[float, float, float, float]:
    """Hodges-Lehmann estimate (median of the n(n+1)/2 Walsh averages) of the differences
    ``d`` with a distribution-free CI from the signed-rank distribution (Hollander & Wolfe;
    the interval R ``wilcox.test(conf.int=TRUE)`` reports in the exact case):
    [W_(k), W_(N-k+1)] with k = qsignrank((1-level)/2, n) (at least 1).  Exact null for
    n <= 200, normal approximation above.  Returns (estimate, low, high, achieved level)."""
    d = _vec(d, "d")
    if not 0 < confidence_level < 1:
        raise ValueError(f"confidence_level must be in (0, 1), got {confidence_level}")
    n = d.size
    w = _walsh(d)
    est = float(np.median(w))
    N = w.size
    a2 = (1 - confidence_level) / 2
    if n <= 200:
        cdf = np.cumsum(signrank_null_pmf(n))
        k = int(np.searchsorted(cdf, a2 - 1e-12))  # smallest t with P(T <= t) >= a2
        k = max(k, 1)
        achieved = 1.0 - 2.0 * float(cdf[k - 1])
    else:
        mu = N / 2.0
        sd = math.sqrt(n * (n + 1) * (2 * n + 1) / 24.0)
        k = max(1, int(math.floor(mu - _st.norm.ppf(1 - a2) * sd)))
        achieved = 1.0 - 2.0 * float(_st.norm.cdf((k - 0.5 - mu) / sd))
    k = min(k, N)
    return est, float(w[k - 1]), float(w[N - k]), float(achieved)


def rank_biserial(d: Any) -> float:
    """Matched-pairs rank-biserial correlation (Kerby 2014) of differences d = b - a:
    (T+ - T-) / (T+ + T-) with zeros dropped; in [-1, 1], +1 when every b beats its a.
    All-zero differences -> 0."""
    d = _clean_diffs(_vec(d, "d"))
    nz = d[d != 0]
    if nz.size == 0:
        return 0.0
    r = _st.rankdata(np.abs(nz))
    tp = float(r[nz > 0].sum())
    tm = float(r[nz < 0].sum())
    return (tp - tm) / (tp + tm)


def _choose_method(dd: np.ndarray, method: str) -> str:
    """exact (no ties, no zeros, n <= 50), exact-conditional (ties or zeros, n <= 13), else normal."""
    nz = dd[dd != 0]
    ties_or_zero = np.unique(np.abs(nz)).size < nz.size or bool(np.any(dd == 0))
    n_used = dd.size
    if method == "auto":
        if not ties_or_zero and n_used <= 50:
            return "exact"
        return "exact-conditional" if n_used <= 13 else "normal"
    if method == "exact":
        if ties_or_zero and n_used > 20:
            raise ValueError(f"exact conditional test with ties/zeros needs n <= 20, got {n_used}")
        return "exact-conditional" if ties_or_zero else "exact"
    return "normal"


def _scipy_signrank(dd, chosen: str, alternative: str, zero_method: str, correction: bool):
    """(scipy result, method name, note) of the chosen null distribution."""
    if chosen == "exact":
        return (_st.wilcoxon(dd, alternative=alternative, method="exact", zero_method=zero_method),
                "exact", "")
    if chosen == "exact-conditional":
        res = _st.wilcoxon(dd, alternative=alternative, zero_method=zero_method,
                           method=_st.PermutationMethod(n_resamples=2 ** 20))
        return res, "exact-conditional", "ties or zeros: exact conditional distribution over all sign flips"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = _st.wilcoxon(dd, alternative=alternative, method="asymptotic",
                           zero_method=zero_method, correction=correction)
    return res, "normal-cc" if correction else "normal", ""


def wilcoxon(a: Any, b: Any, alternative: str = "two-sided", zero_method: str = "wilcox",
             method: str = "auto", correction: bool = True,
             confidence_level: float = 0.95) -> WilcoxonResult:
    """Wilcoxon signed-rank test on paired scores, differences ``d = b - a``.

    Zeros: ``zero_method="wilcox"`` (default, as R ``wilcox.test``) drops zero differences
    before ranking; ``"pratt"`` ranks them and then ignores their ranks; ``"zsplit"`` splits
    their ranks between the two signs (the latter two: scipy's definitions).
    ``method="auto"``: exact null distribution when the ranked differences have no ties and no
    zeros and n <= 50 ("exact", equals R ``exact=TRUE``); with ties or zeros and n <= 13 the
    exact conditional distribution over all 2^n sign flips ("exact-conditional", scipy's
    permutation method, deterministic); otherwise the tie-corrected normal approximation with
    continuity correction ("normal-cc"; "normal" when ``correction=False``), as R
    ``exact=FALSE``.  ``method`` may also be "exact" or "normal" explicitly.
    All differences zero -> statistic 0, p-value 1, method "degenerate".
    ``estimate`` / CI: Hodges-Lehmann with the distribution-free signed-rank interval
    (:func:`hodges_lehmann`, over all differences including zeros); ``effect_size``:
    matched-pairs rank-biserial correlation (:func:`rank_biserial`).
    """
    _check_alternative(alternative)
    if zero_method not in ("wilcox", "pratt", "zsplit"):
        raise ValueError(f"zero_method must be 'wilcox', 'pratt' or 'zsplit', got {zero_method!r}")
    if method not in ("auto", "exact", "normal"):
        raise ValueError(f"method must be 'auto', 'exact' or 'normal', got {method!r}")
    a, b, d = _paired(a, b, min_n=2)
    d = _clean_diffs(d)
    n = d.size
    n_zero = int(np.sum(d == 0))
    est, lo, hi, level = hodges_lehmann(d, confidence_level)
    rb = rank_biserial(d)
    if n_zero == n:
        return WilcoxonResult(statistic=0.0, pvalue=1.0, method="degenerate", n=n, n_used=0,
                              n_zero=n_zero, zero_method=zero_method, alternative=alternative,
                              estimate=est, ci_low=lo, ci_high=hi, ci_level=level,
                              effect_size=0.0,
                              note="all differences are zero: no evidence of a difference, p = 1")
    dd = d[d != 0] if zero_method == "wilcox" else d
    n_used = int(dd.size)
    chosen = _choose_method(dd, method)
    res, mname, note = _scipy_signrank(dd, chosen, alternative, zero_method, correction)
    zstat = float(res.zstatistic) if chosen == "normal" else _NAN
    # T+ (sum of ranks of positive differences), independent of scipy's two-sided min()
    r = _st.rankdata(np.abs(dd))
    tplus = float(r[dd > 0].sum())
    if zero_method == "zsplit":
        tplus += float(r[dd == 0].sum()) / 2.0
    if n_zero and zero_method == "wilcox":
        note = (note + "; " if note else "") + f"{n_zero} zero difference(s) dropped"
    return WilcoxonResult(statistic=tplus, pvalue=float(np.clip(res.pvalue, 0.0, 1.0)),
                          method=mname, n=n, n_used=n_used, n_zero=n_zero,
                          zero_method=zero_method, alternative=alternative, estimate=est,
                          ci_low=lo, ci_high=hi, ci_level=level, effect_size=rb,
                          zstatistic=zstat, note=note)


