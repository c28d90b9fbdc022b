"""Friedman test over blocks x models and the Nemenyi post-hoc test (Demšar 2006)."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from scipy import stats as _st

from ._checks import _check_alpha


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


