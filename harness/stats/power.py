"""Bootstrap intervals and the minimum detectable difference of a paired t test."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats as _st

from ._checks import NAN as _NAN, _check_alpha, _check_alternative, _clean_diffs, _vec


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


def mean_ci(x: Any, confidence_level: float = 0.95) -> tuple[float, float, float]:
    """Mean of x with its t interval (mean, low, high); NaN bounds for fewer than 2 values,
    the point itself for constant values."""
    x = _vec(x, "x")
    m = float(x.mean())
    if x.size < 2:
        return m, _NAN, _NAN
    se = float(np.std(x, ddof=1) / math.sqrt(x.size))
    q = float(_st.t.ppf(1 - (1 - confidence_level) / 2, x.size - 1))
    return m, m - q * se, m + q * se
