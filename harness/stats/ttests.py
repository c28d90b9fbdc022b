"""Paired t tests: the plain test, the Nadeau-Bengio corrected resampled t, TOST equivalence."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats as _st

from ._checks import NAN as _NAN, _check_alpha, _check_alternative, _clean_diffs, _paired, _vec


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


def _fold_resamples(diffs_by_fold_seed: Any) -> tuple[np.ndarray, str]:
    """The resampled differences of the corrected t: the per-fold means over seeds (J = folds),
    or, with one fold, the seeds themselves (J = seeds); NaN marks a missing (fold, seed) pair."""
    if isinstance(diffs_by_fold_seed, np.ndarray) and diffs_by_fold_seed.ndim == 2:
        rows = list(diffs_by_fold_seed)
    else:
        rows = [np.asarray(r, dtype=float).reshape(-1) for r in diffs_by_fold_seed]
    rows = [np.asarray(r, dtype=float) for r in rows]
    rows = [r[~np.isnan(r)] for r in rows]
    rows = [r for r in rows if r.size]
    if not rows:
        raise ValueError("diffs_by_fold_seed holds no difference")
    for r in rows:
        _vec(r, "diffs_by_fold_seed")
    if len(rows) >= 2:
        # seeds of one fold share its split: averaged, they are one resample (J = folds)
        return np.array([r.mean() for r in rows]), f"J = {len(rows)} folds (seeds averaged within each fold)"
    return rows[0], (f"one split: J = {rows[0].size} seeds are the resamples, so the test "
                     f"measures training noise plus the test/train sampling term only")


def corrected_resampled_t(diffs_by_fold_seed: Any, n_train: Any, n_test: Any,
                          alternative: str = "two-sided",
                          confidence_level: float = 0.95) -> TTestResult:
    """Nadeau & Bengio (2003) corrected resampled t test of b - a over J resamples:
    t = mean(d) / sqrt((1/J + n_test/n_train) * var(d)), df = J - 1.

    ``diffs_by_fold_seed``: differences b - a as a folds x seeds array (NaN = missing pair) or a
    list of per-fold arrays.  Seeds sharing a fold share its training and test data, so they are
    not separate resamples: each fold's seeds are averaged and J = number of folds (the k-fold
    form of the correction).  With a single fold the seeds are the J resamples.  ``n_train`` /
    ``n_test``: training and test sizes (scalars or per-run arrays; their means are used)."""
    _check_alternative(alternative)
    n_tr = float(np.mean(np.asarray(n_train, dtype=float)))
    n_te = float(np.mean(np.asarray(n_test, dtype=float)))
    if not (n_tr > 0 and n_te > 0 and math.isfinite(n_tr) and math.isfinite(n_te)):
        raise ValueError(f"n_train and n_test must be positive numbers, got {n_train}, {n_test}")
    ratio = n_te / n_tr
    d, how = _fold_resamples(diffs_by_fold_seed)
    J = d.size
    if J < 2:
        raise ValueError(f"needs at least 2 resamples, got {J}")
    d = _clean_diffs(d)
    if np.ptp(d) == 0:
        res = _degenerate_t(d, confidence_level, "corrected-resampled-t", ratio)
        return TTestResult(**{**res.__dict__, "note": f"{how}; {res.note}"})
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
                       effect_size=float(m / math.sqrt(var)), test_train_ratio=ratio,
                       note=f"{how}; variance factor 1/J + n_test/n_train = 1/{J} + {ratio:.3g}")


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


