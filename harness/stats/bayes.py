"""Bayesian signed-rank test with a region of practical equivalence (Benavoli et al.)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._checks import _clean_diffs, _paired


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



def _region_probs(d: np.ndarray, rope: float, n_samples: int, seed: int,
                  prior_strength: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per posterior sample: the probabilities that b - a lies left of, inside, right of the ROPE."""
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
    return left, mid, right


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
    left, mid, right = _region_probs(d, rope, n_samples, seed, prior_strength)
    samp = np.stack([left, mid, right], axis=1)
    winners = np.argmax(samp, axis=1)
    counts = np.bincount(winners, minlength=3) / n_samples
    return BayesSignRankResult(p_left=float(counts[0]), p_rope=float(counts[1]),
                               p_right=float(counts[2]), method="bayes-signrank",
                               n=int(d.size), rope=rope, n_samples=n_samples, seed=int(seed),
                               estimate=float(d.mean()), mean_left=float(left.mean()),
                               mean_rope=float(mid.mean()), mean_right=float(right.mean()),
                               prior_strength=float(prior_strength))


