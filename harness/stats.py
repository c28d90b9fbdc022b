"""Statistical tests for paired model comparisons (pure functions, scipy.stats style).

Every function validates its input, computes with scipy / statsmodels where they provide
the computation, and returns a frozen dataclass.  Nothing is printed or written.  Bad input
(length mismatch, NaN / inf, too few samples, unknown option) raises ``ValueError``.

Sign convention (used everywhere in this module and in :mod:`harness.analysis`):
for paired scores ``a`` and ``b`` the differences are ``d = b - a``.  A positive ``estimate``
means ``b`` scores higher than ``a``; ``alternative="greater"`` tests ``b > a``;
``p_right`` of the Bayesian test is the probability that ``b - a`` lies above the ROPE.
For McNemar, ``n01`` counts items that ``a`` got right and ``b`` wrong, ``n10`` items that
``a`` got wrong and ``b`` right; its estimate is ``accuracy(b) - accuracy(a)``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
from scipy import stats as _st

__all__ = [
    "McNemarResult", "WilcoxonResult", "TTestResult", "TostResult", "BayesSignRankResult",
    "MixedModelResult", "CorrectionResult", "FriedmanResult", "NemenyiResult",
    "BootstrapResult",
    "mcnemar", "wilcoxon", "paired_t", "corrected_resampled_t", "tost", "bayes_signrank",
    "mixed_model", "correct", "mcnemar_from_counts", "mcnemar_exact_pvalues", "friedman", "nemenyi_cd", "nemenyi", "bootstrap_ci",
    "min_detectable_difference", "min_wilcoxon_p", "signrank_null_pmf",
    "hodges_lehmann", "rank_biserial",
]

_NAN = float("nan")


# --------------------------------------------------------------------------------------
# result types
# --------------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class TTestResult:
    statistic: float
    pvalue: float
    method: str
    n: int
    df: float
    estimate: float           # mean of b - a
    ci_low: float
    ci_high: float
    confidence_level: float
    effect_size: float        # Cohen's d_z = mean(d) / sd(d)
    effect_name: str = "cohen_dz"
    test_train_ratio: float = _NAN   # only for the corrected resampled t test
    note: str = ""


@dataclass(frozen=True)
class TostResult:
    statistic: float          # t statistic of the binding (larger-p) one-sided test
    pvalue: float             # max of the two one-sided p-values
    method: str
    n: int
    df: float
    estimate: float           # mean of b - a
    ci_low: float             # (1 - 2 alpha) CI of the mean difference
    ci_high: float
    margin: float
    alpha: float
    equivalent: bool          # pvalue < alpha
    pvalue_lower: float       # H0: mean(d) <= -margin
    pvalue_upper: float       # H0: mean(d) >= +margin
    note: str = ""


@dataclass(frozen=True)
class BayesSignRankResult:
    p_left: float             # P(b - a < -rope) is the largest region (share of posterior samples)
    p_rope: float
    p_right: float
    method: str
    n: int
    rope: float
    n_samples: int
    seed: int
    estimate: float           # mean of b - a
    mean_left: float          # posterior mean of the left-region probability
    mean_rope: float
    mean_right: float
    prior_strength: float = 0.5
    note: str = ""


@dataclass(frozen=True)
class MixedModelResult:
    statistic: float          # z = estimate / se
    pvalue: float
    method: str               # "mixedlm" or the fallback used
    n: int                    # observations
    n_groups: int
    a: str
    b: str
    estimate: float           # coefficient of b relative to a (b - a)
    se: float
    ci_low: float
    ci_high: float
    group_var: float          # fold random-intercept variance (NaN for fallbacks)
    resid_var: float
    converged: bool
    warnings: tuple = ()
    note: str = ""


@dataclass(frozen=True)
class CorrectionResult:
    pvalues_adj: np.ndarray
    reject: np.ndarray
    method: str
    alpha: float
    n_tests: int              # non-NaN p-values entering the correction


@dataclass(frozen=True)
class FriedmanResult:
    statistic: float
    pvalue: float
    method: str
    n: int                    # blocks
    k: int                    # models (columns)
    avg_ranks: tuple          # rank 1 = best (highest score); ties get average ranks
    labels: tuple
    iman_davenport_F: float
    iman_davenport_pvalue: float
    note: str = ""


@dataclass(frozen=True)
class NemenyiResult:
    cd: float
    q_alpha: float
    k: int
    n: int
    alpha: float
    method: str = "nemenyi"
    avg_ranks: tuple = ()
    labels: tuple = ()
    # pairwise (i, j, |R_i - R_j|, pvalue, significant) for i < j, filled by nemenyi()
    pairs: tuple = ()


@dataclass(frozen=True)
class BootstrapResult:
    estimate: float
    ci_low: float
    ci_high: float
    confidence_level: float
    method: str
    n: int
    n_resamples: int
    seed: int
    standard_error: float
    note: str = ""


# --------------------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------------------


def _vec(x: Any, name: str, *, min_n: int = 1, allow_int: bool = False) -> np.ndarray:
    try:
        arr = np.asarray(x)
    except Exception as exc:  # pragma: no cover - defensive
        raise ValueError(f"{name}: cannot convert to an array ({exc})") from None
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array, got shape {arr.shape}")
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name}: expected numbers, got dtype {arr.dtype}")
    if not allow_int:
        arr = arr.astype(float)
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        bad = int(np.sum(~np.isfinite(arr)))
        raise ValueError(f"{name}: contains {bad} NaN/inf value(s); remove them first")
    if arr.size < min_n:
        raise ValueError(f"{name}: needs at least {min_n} value(s), got {arr.size}")
    return arr


def _paired(a: Any, b: Any, *, min_n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a = _vec(a, "a")
    b = _vec(b, "b")
    if a.size != b.size:
        raise ValueError(f"a and b must have the same length (paired data): {a.size} != {b.size}")
    if a.size < min_n:
        raise ValueError(f"needs at least {min_n} pairs, got {a.size}")
    return a, b, b - a


def _clean_diffs(d: np.ndarray) -> np.ndarray:
    """Round away floating-point noise such as 0.7 - 0.6 - 0.1 != 0 so that genuinely equal
    differences are ties and genuinely zero differences are zeros."""
    scale = max(1.0, float(np.max(np.abs(d)))) if d.size else 1.0
    return np.round(d / scale, 12) * scale


def _check_alpha(alpha: float) -> float:
    alpha = float(alpha)
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    return alpha


def _check_alternative(alternative: str) -> str:
    if alternative not in ("two-sided", "greater", "less"):
        raise ValueError(f"alternative must be 'two-sided', 'greater' or 'less', got {alternative!r}")
    return alternative


# --------------------------------------------------------------------------------------
# McNemar
# --------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------
# Wilcoxon signed-rank, Hodges-Lehmann, rank-biserial
# --------------------------------------------------------------------------------------


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
    nz = dd[dd != 0]
    has_ties = np.unique(np.abs(nz)).size < nz.size
    has_zero = bool(np.any(dd == 0))
    note = ""
    if method == "auto":
        if not has_ties and not has_zero and n_used <= 50:
            chosen = "exact"
        elif n_used <= 13:
            chosen = "exact-conditional"
        else:
            chosen = "normal"
    elif method == "exact":
        if has_ties or has_zero:
            chosen = "exact-conditional"
            if n_used > 20:
                raise ValueError(f"exact conditional test with ties/zeros needs n <= 20, got {n_used}")
        else:
            chosen = "exact"
    else:
        chosen = "normal"
    zstat = _NAN
    if chosen == "exact":
        res = _st.wilcoxon(dd, alternative=alternative, method="exact", zero_method=zero_method)
        mname = "exact"
    elif chosen == "exact-conditional":
        res = _st.wilcoxon(dd, alternative=alternative, zero_method=zero_method,
                           method=_st.PermutationMethod(n_resamples=2 ** 20))
        mname = "exact-conditional"
        note = "ties or zeros: exact conditional distribution over all sign flips"
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = _st.wilcoxon(dd, alternative=alternative, method="asymptotic",
                               zero_method=zero_method, correction=correction)
        zstat = float(res.zstatistic)
        mname = "normal-cc" if correction else "normal"
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


# --------------------------------------------------------------------------------------
# t tests
# --------------------------------------------------------------------------------------


def _degenerate_t(d: np.ndarray, level: float, method: str, ratio: float = _NAN) -> TTestResult:
    """All differences identical: a t test is undefined.  Equal to zero -> p = 1 (no evidence);
    a constant non-zero shift -> p = 0 (every pair moves the same way) with a note."""
    m = float(d[0])
    n = d.size
    if m == 0.0:
        return TTestResult(statistic=0.0, pvalue=1.0, method=method, n=n, df=n - 1.0,
                           estimate=0.0, ci_low=0.0, ci_high=0.0, confidence_level=level,
                           effect_size=0.0, test_train_ratio=ratio,
                           note="all differences are zero: p = 1")
    return TTestResult(statistic=math.copysign(math.inf, m), pvalue=0.0, method=method, n=n,
                       df=n - 1.0, estimate=m, ci_low=m, ci_high=m, confidence_level=level,
                       effect_size=math.copysign(math.inf, m), test_train_ratio=ratio,
                       note="all differences identical and non-zero (zero variance): p = 0")


def paired_t(a: Any, b: Any, alternative: str = "two-sided",
             confidence_level: float = 0.95) -> TTestResult:
    """Paired t test of mean(b - a) (``scipy.stats.ttest_rel(b, a)``) with the t-based CI of
    the mean difference and Cohen's d_z.  Zero-variance differences: see ``note``."""
    _check_alternative(alternative)
    a, b, d = _paired(a, b, min_n=2)
    d = _clean_diffs(d)
    if np.ptp(d) == 0:
        return _degenerate_t(d, confidence_level, "paired-t")
    res = _st.ttest_rel(b, a, alternative=alternative)
    ci = res.confidence_interval(confidence_level)
    sd = float(np.std(d, ddof=1))
    return TTestResult(statistic=float(res.statistic), pvalue=float(res.pvalue),
                       method="paired-t", n=d.size, df=float(res.df), estimate=float(d.mean()),
                       ci_low=float(ci.low), ci_high=float(ci.high),
                       confidence_level=confidence_level, effect_size=float(d.mean() / sd))


def corrected_resampled_t(a: Any, b: Any, test_train_ratio: float = 0.25,
                          alternative: str = "two-sided",
                          confidence_level: float = 0.95) -> TTestResult:
    """Nadeau & Bengio (2003) corrected resampled t test (in the repeated-k-fold form of
    Bouckaert & Frank 2004) on J paired scores: t = mean(d) / sqrt((1/J + n_test/n_train) *
    var(d)), df = J - 1.  The correction inflates the variance for the overlap of training
    sets (and here also for seeds sharing a test fold).  ``test_train_ratio`` = n_test /
    n_train; pass the real ratio when known (IEMOCAP leave-one-session-out: test ~ 1/5 of the
    data, train ~ 4/5 minus the dev split, so ~0.25-0.3); 0.25 is the default."""
    _check_alternative(alternative)
    ratio = float(test_train_ratio)
    if not (ratio > 0 and math.isfinite(ratio)):
        raise ValueError(f"test_train_ratio must be a positive number, got {test_train_ratio}")
    a, b, d = _paired(a, b, min_n=2)
    d = _clean_diffs(d)
    J = d.size
    if np.ptp(d) == 0:
        return _degenerate_t(d, confidence_level, "corrected-resampled-t", ratio)
    m = float(d.mean())
    var = float(np.var(d, ddof=1))
    se = math.sqrt((1.0 / J + ratio) * var)
    t = m / se
    df = J - 1.0
    if alternative == "two-sided":
        p = 2 * _st.t.sf(abs(t), df)
        q = _st.t.ppf(1 - (1 - confidence_level) / 2, df)
        lo, hi = m - q * se, m + q * se
    elif alternative == "greater":
        p = _st.t.sf(t, df)
        lo, hi = m - _st.t.ppf(confidence_level, df) * se, math.inf
    else:
        p = _st.t.cdf(t, df)
        lo, hi = -math.inf, m + _st.t.ppf(confidence_level, df) * se
    return TTestResult(statistic=float(t), pvalue=float(p), method="corrected-resampled-t",
                       n=J, df=df, estimate=m, ci_low=float(lo), ci_high=float(hi),
                       confidence_level=confidence_level,
                       effect_size=float(m / math.sqrt(var)), test_train_ratio=ratio)


def tost(a: Any, b: Any, margin: float, alpha: float = 0.05) -> TostResult:
    """Paired two one-sided t tests for equivalence of b and a within +-margin
    (``statsmodels.stats.weightstats.ttost_paired(b, a, -margin, margin)``).
    pvalue = max of the two one-sided p-values; ``equivalent = pvalue < alpha``.  The CI is
    the matching (1 - 2 alpha) interval of mean(b - a).  Zero-variance differences:
    equivalent (p = 0) iff |mean| < margin, else p = 1."""
    from statsmodels.stats.weightstats import ttost_paired

    alpha = _check_alpha(alpha)
    margin = float(margin)
    if not (margin > 0 and math.isfinite(margin)):
        raise ValueError(f"margin must be a positive number, got {margin}")
    a, b, d = _paired(a, b, min_n=2)
    d = _clean_diffs(d)
    n = d.size
    m = float(d.mean())
    if np.ptp(d) == 0:
        inside = abs(m) < margin
        p = 0.0 if inside else 1.0
        pl = 0.0 if m > -margin else 1.0
        pu = 0.0 if m < margin else 1.0
        return TostResult(statistic=_NAN, pvalue=p, method="tost-paired", n=n, df=n - 1.0,
                          estimate=m, ci_low=m, ci_high=m, margin=margin, alpha=alpha,
                          equivalent=bool(p < alpha), pvalue_lower=pl, pvalue_upper=pu,
                          note="all differences identical (zero variance): decided by the "
                               "constant difference alone")
    p, (t1, p1, df1), (t2, p2, df2) = ttost_paired(b, a, -margin, margin)
    t_bind = t1 if p1 >= p2 else t2
    se = float(np.std(d, ddof=1) / math.sqrt(n))
    q = _st.t.ppf(1 - alpha, n - 1)
    return TostResult(statistic=float(t_bind), pvalue=float(p), method="tost-paired", n=n,
                      df=float(df1), estimate=m, ci_low=float(m - q * se), ci_high=float(m + q * se),
                      margin=margin, alpha=alpha, equivalent=bool(p < alpha),
                      pvalue_lower=float(p1), pvalue_upper=float(p2))


# --------------------------------------------------------------------------------------
# Bayesian signed-rank test
# --------------------------------------------------------------------------------------


def bayes_signrank(a: Any, b: Any, rope: float, n_samples: int = 50000, seed: int = 0,
                   prior_strength: float = 0.5) -> BayesSignRankResult:
    """Bayesian signed-rank test with a region of practical equivalence (Benavoli et al.
    2014/2017; the algorithm of ``baycomp.SignedRankTest``).  The differences d = b - a plus
    a pseudo-observation at 0 with weight ``prior_strength`` get Dirichlet(1, ..., 1, s)
    posterior weights; for each posterior sample the probabilities of the three regions are
    the weighted shares of Walsh sums d_i + d_j (all i, j) below -2*rope, within, and above
    +2*rope (exact boundary counts half).  ``p_left / p_rope / p_right`` are the shares of
    posterior samples in which that region is the most probable (baycomp's ``probs``).
    Decision rule: a probability > 0.95 is conclusive.  With rope = 0, p_rope = 0."""
    a, b, d = _paired(a, b, min_n=1)
    rope = float(rope)
    if not (rope >= 0 and math.isfinite(rope)):
        raise ValueError(f"rope must be >= 0, got {rope}")
    n_samples = int(n_samples)
    if n_samples < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples}")
    if prior_strength <= 0:
        raise ValueError(f"prior_strength must be > 0, got {prior_strength}")
    d = _clean_diffs(d)
    z = np.concatenate(([0.0], d))
    weights = np.ones(z.size)
    weights[0] = prior_strength
    rng = np.random.default_rng(seed)
    g = rng.standard_gamma(weights, size=(n_samples, z.size))
    m = z.size
    # P(region) = sum_ij w_i w_j H(z_i + z_j) is computed without the m x m matrix product:
    # with z sorted, {j : z_i + z_j > c} is a suffix and {j : z_i + z_j < -c} a prefix, so
    # each row needs one tail / prefix sum of the weights (O(n_samples * m)).
    order = np.argsort(z, kind="stable")
    zs = z[order]
    w = g[:, order]
    w /= w.sum(axis=1, keepdims=True)
    sums = _clean_diffs(zs[:, None] + zs[None, :])      # rows ascending; exact ties kept
    tail = np.zeros((n_samples, m + 1))
    tail[:, :m] = np.cumsum(w[:, ::-1], axis=1)[:, ::-1]   # tail[:, k] = sum_{j >= k} w_j
    c = 2 * rope

    def above(thr: float) -> np.ndarray:
        # sum_i w_i [sum_j w_j (H(z_i + z_j > thr) + 0.5 H(== thr))]
        gt = m - np.count_nonzero(sums > thr, axis=1)
        ge = m - np.count_nonzero(sums >= thr, axis=1)
        t = tail[:, gt] if np.array_equal(gt, ge) else 0.5 * (tail[:, gt] + tail[:, ge])
        return np.einsum("ij,ij->i", w, t)

    def below(thr: float) -> np.ndarray:
        lt = np.count_nonzero(sums < -thr, axis=1)
        le = np.count_nonzero(sums <= -thr, axis=1)
        t = tail[:, lt] if np.array_equal(lt, le) else 0.5 * (tail[:, lt] + tail[:, le])
        return 1.0 - np.einsum("ij,ij->i", w, t)      # sum_i w_i (1 - tail) = 1 - sum w tail

    if rope > 0:
        right = above(c)
        left = below(c)
        mid = 1.0 - left - right
    else:
        right = above(0.0)
        left = 1.0 - right
        mid = np.zeros_like(left)
    samp = np.stack([left, mid, right], axis=1)
    winners = np.argmax(samp, axis=1)
    counts = np.bincount(winners, minlength=3) / n_samples
    return BayesSignRankResult(p_left=float(counts[0]), p_rope=float(counts[1]),
                               p_right=float(counts[2]), method="bayes-signrank",
                               n=int(d.size), rope=rope, n_samples=n_samples, seed=int(seed),
                               estimate=float(d.mean()), mean_left=float(left.mean()),
                               mean_rope=float(mid.mean()), mean_right=float(right.mean()),
                               prior_strength=float(prior_strength))


# --------------------------------------------------------------------------------------
# mixed model
# --------------------------------------------------------------------------------------


def mixed_model(data: Any, model: Any = None, fold: Any = None, *, a: str | None = None,
                b: str | None = None, alpha: float = 0.05) -> MixedModelResult:
    """Linear mixed model score ~ model with a random intercept per fold
    (``statsmodels.regression.mixed_linear_model.MixedLM``, REML; design = intercept plus one
    indicator per model other than ``a``).  ``data`` is a DataFrame with columns score, model, fold,
    or the score array with ``model`` and ``fold`` arrays.  Returns the coefficient of model
    ``b`` against the reference ``a`` (estimate = b - a; defaults: the two levels in sorted
    order) with its Wald z CI and p-value.

    Degenerate data are handled without warnings escaping: statsmodels warnings (convergence,
    boundary, singular Hessian) are caught and listed in ``warnings``; a fit that fails or
    gives a non-finite standard error falls back to OLS score ~ model + fold (fold
    as fixed effect; with one fold, score ~ model); if the residual variance is zero
    too the result is exact: estimate = the constant difference, p = 1 if it is zero."""
    import pandas as pd

    alpha = _check_alpha(alpha)
    if isinstance(data, pd.DataFrame):
        missing = {"score", "model", "fold"} - set(data.columns)
        if missing:
            raise ValueError(f"data is missing column(s) {sorted(missing)}")
        df = data[["score", "model", "fold"]].copy()
    else:
        if model is None or fold is None:
            raise ValueError("give a DataFrame with score/model/fold or the three arrays")
        score = _vec(data, "score")
        model = np.asarray(model)
        fold = np.asarray(fold)
        if not (score.size == model.size == fold.size):
            raise ValueError(f"score, model, fold must have the same length: "
                             f"{score.size}, {model.size}, {fold.size}")
        df = pd.DataFrame({"score": score, "model": model, "fold": fold})
    df["score"] = _vec(df["score"].to_numpy(), "score")
    df["model"] = df["model"].astype(str)
    df["fold"] = df["fold"].astype(str)
    levels = sorted(df["model"].unique())
    if a is None or b is None:
        if len(levels) != 2:
            raise ValueError(f"name a and b when there are not exactly two models: {levels}")
        a, b = (levels[0], levels[1]) if a is None and b is None else (
            a if a is not None else [x for x in levels if x != b][0],
            b if b is not None else [x for x in levels if x != a][0])
    for name, lev in (("a", a), ("b", b)):
        if lev not in levels:
            raise ValueError(f"{name}={lev!r} is not among the models {levels}")
    if a == b:
        raise ValueError("a and b must differ")
    counts = df["model"].value_counts()
    if counts[a] < 2 or counts[b] < 2:
        raise ValueError(f"mixed_model needs at least 2 scores per model, got "
                         f"{int(counts[a])} for {a!r} and {int(counts[b])} for {b!r}")
    # design: intercept + one indicator per non-reference model, b first (coefficient 1)
    others = [b] + [x for x in levels if x not in (a, b)]
    mod = df["model"].to_numpy()
    X = np.column_stack([np.ones(len(df))] + [(mod == x).astype(float) for x in others])
    y = df["score"].to_numpy(float)
    groups = df["fold"].to_numpy()
    n = len(df)
    n_groups = int(df["fold"].nunique())
    z = _st.norm.ppf(1 - alpha / 2)
    caught: list[str] = []
    note_parts: list[str] = []

    def _result(est, se, method, gvar, rvar, converged, extra_note=""):
        if abs(est) < 1e-12 * max(1.0, float(np.max(np.abs(y)))):
            est = 0.0                      # floating-point noise of an exactly zero difference
        if extra_note:
            note_parts.append(extra_note)
        if se > 0 and math.isfinite(se):
            stat = est / se
            p = float(2 * _st.norm.sf(abs(stat)))
            lo, hi = est - z * se, est + z * se
        elif abs(est) < 1e-12:
            stat, p, lo, hi = 0.0, 1.0, est, est
        else:
            stat, p, lo, hi = math.copysign(math.inf, est), 0.0, est, est
        return MixedModelResult(statistic=float(stat), pvalue=float(p), method=method, n=n,
                                n_groups=n_groups, a=a, b=b, estimate=float(est), se=float(se),
                                ci_low=float(lo), ci_high=float(hi), group_var=float(gvar),
                                resid_var=float(rvar), converged=bool(converged),
                                warnings=tuple(dict.fromkeys(caught)),
                                note="; ".join(note_parts))

    if n_groups >= 2 and float(np.ptp(y)) > 0:
        from statsmodels.regression.mixed_linear_model import MixedLM, MixedLMParams

        # method-of-moments (ANOVA) variance components: start values for REML, and the
        # REML solution itself in a balanced design (equal cells per fold and model)
        beta, *_ = np.linalg.lstsq(X, y, rcond=None)
        r = y - X @ beta
        codes, inv = np.unique(groups, return_inverse=True)
        cnt = np.bincount(inv)
        gm = np.bincount(inv, weights=r) / cnt
        within = r - gm[inv]
        df_w = n - n_groups - (X.shape[1] - 1)
        ms_w = float(within @ within) / df_w if df_w > 0 else 0.0
        _, mcode = np.unique(mod, return_inverse=True)
        cells = np.bincount(inv * (mcode.max() + 1) + mcode,
                            minlength=n_groups * (mcode.max() + 1))
        balanced = bool(np.all(cells == cells[0]))
        k = float(cnt.mean())
        ms_b = float(np.sum(cnt * gm ** 2)) / (n_groups - 1)
        s2u = (ms_b - ms_w) / k
        def boundary(why: str):
            # REML with the fold variance at 0: GLS = OLS score ~ model, scale RSS / (n - p)
            from statsmodels.regression.linear_model import OLS

            ols0 = OLS(y, X).fit()
            return _result(float(np.asarray(ols0.params)[1]), float(np.asarray(ols0.bse)[1]),
                           "mixedlm-boundary", 0.0, float(ols0.scale), True,
                           f"{why}: the fold variance is 0 and the mixed model equals OLS "
                           f"score ~ model")

        if balanced and s2u <= 0 and ms_w > 0:
            return boundary("balanced design with ANOVA fold variance <= 0 (exact REML solution)")
        try:
            start = None
            if ms_w > 0:
                start = MixedLMParams.from_components(
                    beta, cov_re=np.array([[max(s2u, 0.01 * ms_w) / ms_w]]))
            # fit on standardised scores: statsmodels' boundary check is absolute, and
            # accuracies (variances ~1e-4) would trip it; rescaled afterwards
            sd_y = float(np.std(y))
            if start is not None:
                start = MixedLMParams.from_components(
                    np.r_[(beta[0] - y.mean()) / sd_y, beta[1:] / sd_y], cov_re=start.cov_re)
            with warnings.catch_warnings(record=True) as wlist:
                warnings.simplefilter("always")
                fit = MixedLM((y - y.mean()) / sd_y, X, groups=groups).fit(
                    reml=True, start_params=start)
            caught.extend(f"{w.category.__name__}: {str(w.message).splitlines()[0]}"
                          for w in wlist)
            est = float(np.asarray(fit.fe_params)[1]) * sd_y
            se = float(np.asarray(fit.bse_fe)[1]) * sd_y
            gvar = float(np.asarray(fit.cov_re)[0, 0]) * sd_y ** 2
            rvar = float(fit.scale) * sd_y ** 2
            at_zero = gvar <= 1e-6 * max(rvar, 1e-300)
            if (not fit.converged or at_zero) and s2u <= 0 and ms_w > 0:
                return boundary("MixedLM " + ("did not converge" if not fit.converged else
                                              "put the fold variance at 0")
                                + " and the ANOVA fold variance is <= 0 (unbalanced design)")
            if math.isfinite(est) and math.isfinite(se) and se > 0:
                note = "" if fit.converged else "MixedLM did not converge"
                if caught:
                    note = (note + "; " if note else "") + "fit warnings recorded"
                if at_zero:
                    note = (note + "; " if note else "") + "fold variance estimated at 0 (boundary)"
                return _result(est, se, "mixedlm", gvar, rvar, fit.converged, note)
            note_parts.append("MixedLM gave a non-finite or zero standard error")
        except Exception as exc:  # LinAlgError, ValueError from singular designs
            note_parts.append(f"MixedLM failed ({type(exc).__name__}: {exc})")
    # fallback: OLS with fold fixed effects (or model only for one fold)
    from statsmodels.regression.linear_model import OLS

    formula = "score ~ model + fold (fixed)" if n_groups >= 2 else "score ~ model"
    Xo = X
    if n_groups >= 2:
        fl = sorted(set(groups.tolist()))
        Xo = np.column_stack([X] + [(groups == g).astype(float) for g in fl[1:]])
    with warnings.catch_warnings(record=True) as wlist:
        warnings.simplefilter("always")
        ols = OLS(y, Xo).fit()
    caught.extend(f"{w.category.__name__}: {str(w.message).splitlines()[0]}" for w in wlist)
    est = float(np.round(np.asarray(ols.params)[1], 12))
    rvar = float(ols.scale) if ols.df_resid > 0 else _NAN
    se = float(np.asarray(ols.bse)[1]) if ols.df_resid > 0 else _NAN
    if not (rvar > 1e-20):
        se = 0.0
    why = "one fold: no random effect to estimate" if n_groups < 2 else (
        "all scores identical" if float(np.ptp(y)) == 0 else "")
    if se > 0 and math.isfinite(se):
        dfree = float(ols.df_resid)
        t = est / se
        p = float(2 * _st.t.sf(abs(t), dfree))
        q = _st.t.ppf(1 - alpha / 2, dfree)
        note_parts.extend([x for x in (why, f"fallback: OLS {formula}") if x])
        return MixedModelResult(statistic=float(t), pvalue=p, method="ols-fallback", n=n,
                                n_groups=n_groups, a=a, b=b, estimate=est, se=se,
                                ci_low=float(est - q * se), ci_high=float(est + q * se),
                                group_var=_NAN,
                                resid_var=rvar, converged=True,
                                warnings=tuple(dict.fromkeys(caught)),
                                note="; ".join(note_parts))
    return _result(est, 0.0, "degenerate", _NAN, 0.0, True,
                   "; ".join(x for x in (why, "zero residual variance: the difference is exact")
                             if x))


# --------------------------------------------------------------------------------------
# multiple comparisons
# --------------------------------------------------------------------------------------


def _holm(p: np.ndarray) -> np.ndarray:
    m = p.size
    order = np.argsort(p, kind="stable")
    adj = np.maximum.accumulate(p[order] * np.arange(m, 0, -1))
    out = np.empty(m)
    out[order] = np.minimum(adj, 1.0)
    return out


def correct(pvalues: Sequence[float], method: str = "holm", alpha: float = 0.05) -> CorrectionResult:
    """Adjust p-values for multiple comparisons: ``"holm"`` (family-wise error, step-down) or
    ``"fdr_bh"`` (Benjamini-Hochberg false discovery rate, ``scipy.stats.false_discovery_control``).
    NaN p-values are passed through (adjusted NaN, reject False) and do not count as tests.

    Holm is the textbook step-down max(p_(i) * (m - i + 1)) computed here in numpy: it equals
    ``statsmodels.stats.multitest.multipletests(method="holm")`` (checked in the tests), whose
    holm branch calls ``gc.collect()`` on every call (~0.1 s in a large process, too slow
    for the hundreds of families of a study)."""
    if method not in ("holm", "fdr_bh"):
        raise ValueError(f"method must be 'holm' or 'fdr_bh', got {method!r}")
    alpha = _check_alpha(alpha)
    p = np.asarray(pvalues, dtype=float).reshape(-1)
    ok = ~np.isnan(p)
    if np.any((p[ok] < 0) | (p[ok] > 1)):
        raise ValueError("p-values must lie in [0, 1]")
    adj = np.full(p.shape, np.nan)
    rej = np.zeros(p.shape, dtype=bool)
    if ok.any():
        if method == "holm":
            pa = _holm(p[ok])
        else:
            pa = _st.false_discovery_control(p[ok], method="bh")
        adj[ok] = pa
        rej[ok] = pa < alpha
    return CorrectionResult(pvalues_adj=adj, reject=rej, method=method, alpha=alpha,
                            n_tests=int(ok.sum()))


# --------------------------------------------------------------------------------------
# Friedman / Nemenyi
# --------------------------------------------------------------------------------------


def _avg_ranks(m: np.ndarray) -> np.ndarray:
    # rank 1 = best = highest score within each block
    return _st.rankdata(-m, axis=1).mean(axis=0)


def friedman(scores: Any, labels: Sequence[str] | None = None) -> FriedmanResult:
    """Friedman test over a blocks x models score matrix (``scipy.stats.friedmanchisquare``)
    with average ranks (1 = best) and the Iman-Davenport F version (Demšar 2006)."""
    m = np.asarray(scores, dtype=float)
    if m.ndim != 2:
        raise ValueError(f"scores must be a 2-D blocks x models matrix, got shape {m.shape}")
    N, k = m.shape
    if k < 3:
        raise ValueError(f"friedman needs at least 3 models (columns), got {k}")
    if N < 2:
        raise ValueError(f"friedman needs at least 2 blocks (rows), got {N}")
    if not np.all(np.isfinite(m)):
        raise ValueError("scores contain NaN/inf")
    labels = tuple(str(x) for x in labels) if labels is not None else tuple(str(i) for i in range(k))
    if len(labels) != k:
        raise ValueError(f"{len(labels)} labels for {k} columns")
    ranks = _avg_ranks(m)
    note = ""
    if np.all(np.ptp(m, axis=1) == 0):
        stat, p = 0.0, 1.0
        note = "all models tie in every block: p = 1"
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = _st.friedmanchisquare(*m.T)
        stat, p = float(res.statistic), float(res.pvalue)
    if N * (k - 1) - stat > 0:
        F = (N - 1) * stat / (N * (k - 1) - stat)
        pF = float(_st.f.sf(F, k - 1, (k - 1) * (N - 1)))
    else:
        F, pF = math.inf, 0.0
    return FriedmanResult(statistic=stat, pvalue=p, method="friedman", n=N, k=k,
                          avg_ranks=tuple(float(r) for r in ranks), labels=labels,
                          iman_davenport_F=float(F), iman_davenport_pvalue=pF, note=note)


def nemenyi_cd(n_models: int, n_blocks: int, alpha: float = 0.05) -> NemenyiResult:
    """Nemenyi critical difference of average ranks (Demšar 2006):
    CD = q_alpha * sqrt(k (k + 1) / (6 N)), q_alpha = studentized_range.ppf(1 - alpha, k, inf)
    / sqrt(2) (k = 5, alpha = 0.05: q = 2.728)."""
    k, N = int(n_models), int(n_blocks)
    alpha = _check_alpha(alpha)
    if k < 2:
        raise ValueError(f"n_models must be >= 2, got {k}")
    if N < 1:
        raise ValueError(f"n_blocks must be >= 1, got {N}")
    q = float(_st.studentized_range.ppf(1 - alpha, k, np.inf) / math.sqrt(2))
    cd = q * math.sqrt(k * (k + 1) / (6.0 * N))
    return NemenyiResult(cd=float(cd), q_alpha=q, k=k, n=N, alpha=alpha)


def nemenyi(scores: Any, labels: Sequence[str] | None = None, alpha: float = 0.05) -> NemenyiResult:
    """Nemenyi post-hoc test on a blocks x models matrix: average ranks, CD and, for every
    pair i < j, (i, j, rank difference R_i - R_j, p-value, |R_i - R_j| > CD).  The p-value
    is studentized_range.sf(|R_i - R_j| * sqrt(2) / sqrt(k(k+1)/(6N)), k, inf); it already
    controls the family-wise error over all pairs."""
    m = np.asarray(scores, dtype=float)
    if m.ndim != 2 or m.shape[1] < 2 or m.shape[0] < 1:
        raise ValueError(f"scores must be a blocks x models matrix with >= 2 models, got {m.shape}")
    if not np.all(np.isfinite(m)):
        raise ValueError("scores contain NaN/inf")
    N, k = m.shape
    labels = tuple(str(x) for x in labels) if labels is not None else tuple(str(i) for i in range(k))
    base = nemenyi_cd(k, N, alpha)
    ranks = _avg_ranks(m)
    se = math.sqrt(k * (k + 1) / (6.0 * N))
    pairs = []
    for i in range(k):
        for j in range(i + 1, k):
            diff = float(ranks[i] - ranks[j])
            p = float(_st.studentized_range.sf(abs(diff) / se * math.sqrt(2), k, np.inf))
            pairs.append((i, j, diff, min(1.0, p), bool(abs(diff) > base.cd)))
    return NemenyiResult(cd=base.cd, q_alpha=base.q_alpha, k=k, n=N, alpha=alpha,
                         avg_ranks=tuple(float(r) for r in ranks), labels=labels,
                         pairs=tuple(pairs))


# --------------------------------------------------------------------------------------
# bootstrap, power
# --------------------------------------------------------------------------------------


def bootstrap_ci(x: Any, y: Any = None, *, confidence_level: float = 0.95,
                 n_resamples: int = 9999, method: str = "BCa", seed: int = 0) -> BootstrapResult:
    """Bootstrap CI (``scipy.stats.bootstrap``, seeded) of mean(x), or of the paired mean
    difference mean(y - x) when y is given (x = a, y = b, consistent with b - a).
    Constant data -> the degenerate interval [value, value]."""
    x = _vec(x, "x", min_n=2)
    if y is not None:
        y = _vec(y, "y")
        if y.size != x.size:
            raise ValueError(f"x and y must have the same length (paired): {x.size} != {y.size}")
        v = _clean_diffs(y - x)
        what = "paired mean difference (y - x)"
    else:
        v = x
        what = "mean"
    if method not in ("BCa", "percentile", "basic"):
        raise ValueError(f"method must be 'BCa', 'percentile' or 'basic', got {method!r}")
    est = float(v.mean())
    if np.ptp(v) == 0:
        return BootstrapResult(estimate=est, ci_low=est, ci_high=est,
                               confidence_level=confidence_level, method=f"bootstrap-{method}",
                               n=v.size, n_resamples=0, seed=seed, standard_error=0.0,
                               note=f"constant data: degenerate interval for the {what}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = _st.bootstrap((v,), np.mean, confidence_level=confidence_level,
                            n_resamples=n_resamples, method=method,
                            rng=np.random.default_rng(seed), vectorized=True)
    return BootstrapResult(estimate=est, ci_low=float(res.confidence_interval.low),
                           ci_high=float(res.confidence_interval.high),
                           confidence_level=confidence_level, method=f"bootstrap-{method}",
                           n=v.size, n_resamples=n_resamples, seed=seed,
                           standard_error=float(res.standard_error), note=what)


def min_detectable_difference(n: int, sd_diff: float, alpha: float = 0.05, power: float = 0.8,
                              alternative: str = "two-sided") -> float:
    """Smallest true mean paired difference that a paired t test with n pairs detects with the
    given power: effect size d_z from ``statsmodels.stats.power.TTestPower().solve_power``
    times ``sd_diff``.  Returns NaN for n < 2."""
    from statsmodels.stats.power import TTestPower

    alpha = _check_alpha(alpha)
    if not 0 < power < 1:
        raise ValueError(f"power must be in (0, 1), got {power}")
    sd = float(sd_diff)
    if not (sd >= 0 and math.isfinite(sd)):
        raise ValueError(f"sd_diff must be a non-negative number, got {sd_diff}")
    alt = {"two-sided": "two-sided", "greater": "larger", "less": "smaller"}[
        _check_alternative(alternative)]
    n = int(n)
    if n < 2:
        return _NAN
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        es = TTestPower().solve_power(effect_size=None, nobs=n, alpha=alpha, power=power,
                                      alternative=alt)
    es = float(np.asarray(es).reshape(-1)[0])
    return abs(es) * sd
