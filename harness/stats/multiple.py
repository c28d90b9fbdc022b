"""Multiple-testing corrections: Holm (family-wise error) and Benjamini-Hochberg (FDR)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy import stats as _st

from ._checks import _check_alpha


@dataclass(frozen=True)
class CorrectionResult:
    pvalues_adj: np.ndarray
    reject: np.ndarray
    method: str
    alpha: float
    n_tests: int              # non-NaN p-values entering the correction



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


