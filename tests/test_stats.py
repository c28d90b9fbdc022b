"""Tests for harness.stats against values from independent implementations.

Reference values were computed with base R 4.2.2 (Debian r-base-core) by
    Rscript tests/reference/reference_values.R > tests/reference/reference_values.txt
(wilcox.test, t.test, binom.test, mcnemar.test, p.adjust, friedman.test, qtukey, power.t.test)
and with the `baycomp` 1.0.3 package by
    /work/venv/bin/pip install baycomp==1.0.3
    /work/venv/bin/python tests/reference/baycomp_reference.py
The numbers are pinned below; neither R nor baycomp is needed to run these tests.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from harness import stats as S

# ---- data shared with tests/reference/reference_values.R and baycomp_reference.py ----
A10 = np.array([0.612, 0.587, 0.633, 0.601, 0.645, 0.598, 0.620, 0.575, 0.640, 0.609])
B10 = np.array([0.625, 0.583, 0.654, 0.609, 0.634, 0.615, 0.622, 0.601, 0.634, 0.624])
A30 = np.array([0.631, 0.667, 0.651, 0.579, 0.589, 0.664, 0.551, 0.657, 0.654, 0.611, 0.589,
                0.586, 0.583, 0.608, 0.616, 0.622, 0.679, 0.653, 0.631, 0.679, 0.578, 0.571,
                0.630, 0.556, 0.555, 0.617, 0.611, 0.669, 0.632, 0.617])
B30 = np.array([0.651, 0.682, 0.690, 0.543, 0.613, 0.629, 0.572, 0.625, 0.685, 0.571, 0.608,
                0.563, 0.584, 0.626, 0.611, 0.651, 0.705, 0.690, 0.672, 0.635, 0.544, 0.579,
                0.636, 0.528, 0.598, 0.620, 0.618, 0.680, 0.642, 0.608])
A60 = np.array([0.56, 0.62, 0.61, 0.61, 0.67, 0.62, 0.62, 0.61, 0.56, 0.61, 0.57, 0.55, 0.59,
                0.62, 0.66, 0.58, 0.62, 0.62, 0.55, 0.67, 0.64, 0.67, 0.56, 0.68, 0.62, 0.64,
                0.60, 0.65, 0.64, 0.66, 0.56, 0.63, 0.66, 0.64, 0.67, 0.65, 0.62, 0.60, 0.65,
                0.67, 0.58, 0.65, 0.62, 0.63, 0.65, 0.59, 0.66, 0.63, 0.56, 0.63, 0.63, 0.56,
                0.56, 0.61, 0.62, 0.56, 0.67, 0.68, 0.65, 0.59])
B60 = np.array([0.61, 0.60, 0.63, 0.64, 0.70, 0.62, 0.62, 0.66, 0.56, 0.61, 0.57, 0.56, 0.60,
                0.65, 0.66, 0.61, 0.62, 0.60, 0.56, 0.70, 0.66, 0.72, 0.56, 0.70, 0.60, 0.66,
                0.64, 0.60, 0.63, 0.68, 0.54, 0.66, 0.68, 0.65, 0.71, 0.71, 0.66, 0.59, 0.64,
                0.67, 0.59, 0.67, 0.63, 0.67, 0.65, 0.57, 0.69, 0.65, 0.54, 0.65, 0.62, 0.58,
                0.58, 0.62, 0.60, 0.61, 0.68, 0.69, 0.65, 0.59])

# ---- pinned R output (tests/reference/reference_values.txt) ----
R = {
    "w10_V": 45, "w10_p": 0.083984375, "w10_hl": 0.008, "w10_ci_low": -0.0015,
    "w10_ci_high": 0.017, "w10_p_greater": 0.0419921875, "w10_p_less": 0.9677734375,
    "w30_V": 275, "w30_p": 0.393050180748105, "w30_hl": 0.005, "w30_ci_low": -0.007,
    "w30_ci_high": 0.0165, "w30_p_normal_cc": 0.387659169700725,
    "w30_p_normal": 0.382034163022457,
    "w60_V": 945.5, "w60_p_normal_cc": 0.000218821732570085,
    "w60_p_normal": 0.000214404457425082,
    "t10_t": 2.06489068903358, "t10_p": 0.0689321185901577,
    "t10_ci_low": -0.000773822288017222, "t10_ci_high": 0.0169738222880172,
    "tost10_p_lower": 2.6444523705961e-05, "tost10_p_upper": 0.00708188792122354,
    "tost10_p": 0.00708188792122354, "tost10_ci90_low": 0.000909200587046661,
    "tost10_ci90_high": 0.0152907994129534,
    "mc_exact_p": 0.0363431799570539, "mc_chi2_corrected_stat": 4.33898305084746,
    "mc_chi2_corrected_p": 0.0372491658068339, "mc_chi2_stat": 4.89830508474576,
    "mc_chi2_p": 0.0268830685440037, "mc_midp": 0.027340133868078,
    "mcL_exact_p": 0.0455530259851917, "mcL_chi2_p": 0.0423302291213607,
    "mcL_chi2_corrected_p": 0.0456057407100384,
    "holm": [0.04, 0.09, 0.09, 0.025, 0.2], "bh": [0.025, 0.05, 0.05, 0.025, 0.2],
    "friedman_stat": 13.8, "friedman_p": 0.00319042190779732,
    "nemenyi_q_k5": 2.72777438251855, "nemenyi_q_k4_a10": 2.2913414969963,
    "mdd_dz_n5": 1.68199696595358, "mdd_dz_n50": 0.404183002135787,
    "w5_min_p": 0.0625,
}


def _predictions(n01: int, n10: int, n11: int, n00: int, seed: int = 0):
    """Labels and two prediction vectors with the given agreement table
    (n11 both right, n01 a right / b wrong, n10 a wrong / b right, n00 both wrong)."""
    rng = np.random.default_rng(seed)
    n = n01 + n10 + n11 + n00
    y = rng.integers(0, 4, n)
    wrong = (y + 1) % 4
    a_right = np.r_[np.ones(n11), np.ones(n01), np.zeros(n10), np.zeros(n00)].astype(bool)
    b_right = np.r_[np.ones(n11), np.zeros(n01), np.ones(n10), np.zeros(n00)].astype(bool)
    perm = rng.permutation(n)
    a_right, b_right = a_right[perm], b_right[perm]
    return y, np.where(a_right, y, wrong), np.where(b_right, y, wrong)


# ======================================================================================
# McNemar
# ======================================================================================


def test_mcnemar_exact_matches_r_binom_test():
    y, pa, pb = _predictions(n01=21, n10=38, n11=400, n00=41)
    res = S.mcnemar(y, pa, pb)
    assert (res.n01, res.n10, res.n) == (21, 38, 500)
    assert res.pvalue == pytest.approx(R["mc_exact_p"], abs=1e-9)
    assert res.method == "mcnemar-exact"
    assert res.estimate == pytest.approx((38 - 21) / 500)
    assert res.effect_size == pytest.approx(38 / 59)
    assert res.ci_low < res.estimate < res.ci_high


@pytest.mark.parametrize("method,key_p,key_stat", [
    ("chi2", "mc_chi2_p", "mc_chi2_stat"),
    ("chi2_corrected", "mc_chi2_corrected_p", "mc_chi2_corrected_stat"),
    ("midp", "mc_midp", None),
])
def test_mcnemar_other_methods_match_r(method, key_p, key_stat):
    y, pa, pb = _predictions(n01=21, n10=38, n11=400, n00=41)
    res = S.mcnemar(y, pa, pb, method=method)
    assert res.pvalue == pytest.approx(R[key_p], abs=1e-9)
    if key_stat:
        assert res.statistic == pytest.approx(R[key_stat], abs=1e-9)


def test_mcnemar_large_sample_within_span_of_approximations():
    y, pa, pb = _predictions(n01=480, n10=545, n11=9000, n00=975, seed=3)
    ex = S.mcnemar(y, pa, pb).pvalue
    c2 = S.mcnemar(y, pa, pb, method="chi2").pvalue
    cc = S.mcnemar(y, pa, pb, method="chi2_corrected").pvalue
    assert ex == pytest.approx(R["mcL_exact_p"], abs=1e-9)
    assert c2 == pytest.approx(R["mcL_chi2_p"], abs=1e-9)
    assert cc == pytest.approx(R["mcL_chi2_corrected_p"], abs=1e-9)
    assert min(c2, cc) <= ex <= max(c2, cc)


def test_mcnemar_no_discordant_pairs_gives_p_one():
    y = np.array([0, 1, 2, 3, 0, 1])
    res = S.mcnemar(y, y, y)
    assert res.pvalue == 1.0 and res.n01 == 0 and res.n10 == 0
    for m in ("chi2", "chi2_corrected", "midp"):
        assert S.mcnemar(y, y, y, method=m).pvalue == 1.0


def test_mcnemar_direction_and_counts_from_counts():
    res = S.mcnemar_from_counts(0, 10, 100)
    assert res.pvalue == pytest.approx(2 / 2 ** 10)
    assert res.estimate == pytest.approx(0.1)


def test_mcnemar_vectorised_exact_equals_binomtest():
    from scipy.stats import binomtest

    rng = np.random.default_rng(2)
    n01 = np.r_[0, 0, 5, 21, rng.integers(0, 300, 200)]
    n10 = np.r_[0, 3, 5, 38, rng.integers(0, 300, 200)]
    got = S.mcnemar_exact_pvalues(n01, n10)
    want = [1.0 if x + y == 0 else binomtest(y, x + y, 0.5).pvalue for x, y in zip(n01, n10)]
    assert np.allclose(got, want, rtol=1e-12, atol=1e-15)
    assert got[3] == pytest.approx(R["mc_exact_p"], abs=1e-9)


def test_mcnemar_rejects_bad_input():
    with pytest.raises(ValueError, match="same length"):
        S.mcnemar([0, 1, 2], [0, 1], [0, 1, 2])
    with pytest.raises(ValueError, match="method"):
        S.mcnemar([0, 1], [0, 1], [0, 1], method="bogus")
    with pytest.raises(ValueError, match="NaN"):
        S.mcnemar([0.0, np.nan], [0, 1], [0, 1])
    with pytest.raises(ValueError, match="at least one"):
        S.mcnemar([], [], [])


# ======================================================================================
# Wilcoxon signed-rank
# ======================================================================================


def test_wilcoxon_exact_small_sample_matches_r():
    res = S.wilcoxon(A10, B10)
    assert res.method == "exact"
    assert res.pvalue == pytest.approx(R["w10_p"], abs=1e-9)
    assert res.statistic == R["w10_V"]          # T+ of b - a, as R's V for wilcox.test(b, a)
    assert res.estimate == pytest.approx(R["w10_hl"], abs=1e-12)
    assert res.ci_low == pytest.approx(R["w10_ci_low"], abs=1e-12)
    assert res.ci_high == pytest.approx(R["w10_ci_high"], abs=1e-12)
    assert res.ci_level == pytest.approx(1 - 2 * 25 / 1024)   # achieved: 1 - 2 P(V <= 8)
    assert S.wilcoxon(A10, B10, alternative="greater").pvalue == pytest.approx(
        R["w10_p_greater"], abs=1e-9)
    assert S.wilcoxon(A10, B10, alternative="less").pvalue == pytest.approx(
        R["w10_p_less"], abs=1e-9)
    # swapping a and b flips the sign of the estimate, not the two-sided p
    swapped = S.wilcoxon(B10, A10)
    assert swapped.pvalue == pytest.approx(res.pvalue, abs=1e-12)
    assert swapped.estimate == pytest.approx(-res.estimate)
    assert swapped.effect_size == pytest.approx(-res.effect_size)


def test_wilcoxon_exact_n30_matches_r():
    res = S.wilcoxon(A30, B30)
    assert res.method == "exact"
    assert res.pvalue == pytest.approx(R["w30_p"], abs=1e-9)
    assert res.statistic == R["w30_V"]
    assert res.estimate == pytest.approx(R["w30_hl"], abs=1e-12)
    assert res.ci_low == pytest.approx(R["w30_ci_low"], abs=1e-12)
    assert res.ci_high == pytest.approx(R["w30_ci_high"], abs=1e-12)
    assert S.wilcoxon(A30, B30, method="normal").pvalue == pytest.approx(
        R["w30_p_normal_cc"], abs=1e-9)
    assert S.wilcoxon(A30, B30, method="normal", correction=False).pvalue == pytest.approx(
        R["w30_p_normal"], abs=1e-9)


def test_wilcoxon_ties_and_zeros_large_sample_matches_r_normal():
    d = np.round(B60 - A60, 2)
    res = S.wilcoxon(np.zeros(60), d)
    assert res.method == "normal-cc"
    assert res.n_zero == 12 and res.n_used == 48
    assert res.statistic == R["w60_V"]
    assert res.pvalue == pytest.approx(R["w60_p_normal_cc"], abs=1e-9)
    nocc = S.wilcoxon(np.zeros(60), d, correction=False).pvalue
    assert nocc == pytest.approx(R["w60_p_normal"], abs=1e-9)
    # same result from the raw (float-noisy) scores
    assert S.wilcoxon(A60, B60).pvalue == pytest.approx(res.pvalue, abs=1e-12)


def test_wilcoxon_large_untied_sample_lies_within_span_of_approximations():
    rng = np.random.default_rng(11)
    d = rng.permutation(np.arange(1, 81)) * np.where(rng.random(80) < 0.4, -1, 1) / 1000
    res = S.wilcoxon(np.zeros(80), d)
    assert res.method == "normal-cc"               # n > 50: normal approximation
    nocc = S.wilcoxon(np.zeros(80), d, correction=False).pvalue
    # exact p from the independent generating-function null distribution
    pmf = S.signrank_null_pmf(80)
    t = int(res.statistic)
    exact = min(1.0, 2 * min(pmf[: t + 1].sum(), pmf[t:].sum()))
    lo, hi = min(nocc, exact, res.pvalue), max(nocc, exact, res.pvalue)
    assert lo <= res.pvalue <= hi
    assert abs(exact - res.pvalue) < 0.05 * exact   # the approximation is close at n = 80


def test_wilcoxon_min_p_floor_five_folds():
    assert S.min_wilcoxon_p(5) == 0.0625 == R["w5_min_p"]
    assert S.min_wilcoxon_p(10) == pytest.approx(2 / 1024)
    res = S.wilcoxon(np.zeros(5), [0.01, 0.02, 0.03, 0.04, 0.05])
    assert res.pvalue == pytest.approx(R["w5_min_p"], abs=1e-12)
    assert res.pvalue > 0.05


def test_wilcoxon_all_zero_differences():
    x = np.array([0.61, 0.62, 0.6, 0.64, 0.59])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = S.wilcoxon(x, x.copy())
    assert res.pvalue == 1.0 and res.method == "degenerate"
    assert res.estimate == 0.0 and res.effect_size == 0.0


def test_wilcoxon_with_zeros_small_sample_is_exact_conditional():
    a = np.zeros(8)
    b = np.array([0.0, 0.01, 0.02, 0.02, 0.03, -0.01, 0.04, 0.05])
    res = S.wilcoxon(a, b)
    assert res.method == "exact-conditional" and res.n_zero == 1 and res.n_used == 7
    # enumerate all 2^7 sign assignments of the non-zero ranks by hand
    d = b[b != 0]
    ranks = pd.Series(np.abs(d)).rank().to_numpy()
    tobs = ranks[d > 0].sum()
    signs = np.array(np.meshgrid(*[[0, 1]] * 7)).reshape(7, -1).T
    tplus = signs @ ranks
    mu = ranks.sum() / 2
    p_exact = np.mean(np.abs(tplus - mu) >= abs(tobs - mu) - 1e-9)
    assert res.pvalue == pytest.approx(p_exact, abs=1e-9)


def test_rank_biserial_and_hodges_lehmann_hand_example():
    d = np.array([1.0, 2.0, -3.0, 4.0])
    # ranks 1, 2, 3, 4; T+ = 1 + 2 + 4 = 7, T- = 3 -> (7 - 3) / 10
    assert S.rank_biserial(d) == pytest.approx(0.4)
    # Walsh averages: -3, -1, -0.5, 0.5, 1, 1.5, 2, 2.5, 3, 4 -> median 1.25
    est, lo, hi, level = S.hodges_lehmann(d)
    assert est == pytest.approx(1.25)
    assert (lo, hi) == (-3.0, 4.0)       # n = 4: widest interval, coverage 1 - 2/16
    assert level == pytest.approx(1 - 2 / 16)
    res = S.wilcoxon(np.zeros(4), d)
    assert res.effect_size == pytest.approx(0.4) and res.estimate == pytest.approx(1.25)
    assert S.rank_biserial(-d) == pytest.approx(-0.4)


def test_wilcoxon_rejects_bad_input():
    with pytest.raises(ValueError, match="same length"):
        S.wilcoxon([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="NaN"):
        S.wilcoxon([1, 2, np.nan], [1, 2, 3])
    with pytest.raises(ValueError, match="at least 2"):
        S.wilcoxon([1], [2])
    with pytest.raises(ValueError, match="zero_method"):
        S.wilcoxon([1, 2], [2, 3], zero_method="x")


def test_signrank_null_distribution():
    pmf = S.signrank_null_pmf(3)
    # subsets of {1,2,3}: sums 0,1,2,3,3,4,5,6
    assert np.allclose(pmf * 8, [1, 1, 1, 2, 1, 1, 1])
    assert S.signrank_null_pmf(20).sum() == pytest.approx(1.0)


# ======================================================================================
# t tests, TOST
# ======================================================================================


def test_paired_t_matches_r():
    res = S.paired_t(A10, B10)
    assert res.statistic == pytest.approx(R["t10_t"], abs=1e-9)
    assert res.pvalue == pytest.approx(R["t10_p"], abs=1e-9)
    assert res.ci_low == pytest.approx(R["t10_ci_low"], abs=1e-9)
    assert res.ci_high == pytest.approx(R["t10_ci_high"], abs=1e-9)
    assert res.estimate == pytest.approx(np.mean(B10 - A10))
    assert res.df == 9


def test_corrected_resampled_t_averages_seeds_within_folds():
    # 2 folds x 5 seeds from the R data: J = 2 fold means, not 10 runs.  Independent value:
    # R's one-sample t statistic of the 5 fold means below, scaled by sqrt((1/J)/(1/J + ratio))
    d = (B10 - A10).reshape(5, 2)            # 5 folds x 2 seeds
    res = S.corrected_resampled_t(d, n_train=800, n_test=200)
    fm = d.mean(axis=1)
    from scipy import stats as st
    t_plain = st.ttest_1samp(fm, 0.0).statistic
    expected_t = t_plain * math.sqrt(0.2 / (0.2 + 0.25))
    assert res.n == 5 and res.df == 4 and res.test_train_ratio == pytest.approx(0.25)
    assert res.statistic == pytest.approx(expected_t, abs=1e-9)
    assert res.pvalue == pytest.approx(2 * st.t.sf(abs(expected_t), 4), abs=1e-12)
    assert "J = 5 folds" in res.note
    # a ragged list (a missing seed) is averaged per fold too
    rag = S.corrected_resampled_t([d[0], d[1, :1], d[2], d[3], d[4]], 800, 200)
    assert rag.estimate == pytest.approx(np.mean([fm[0], d[1, 0], fm[2], fm[3], fm[4]]))
    # one split: the seeds are the resamples
    one = S.corrected_resampled_t(d[:1].T.reshape(1, -1), 800, 200)
    assert one.n == 2 and "one split" in one.note
    with pytest.raises(ValueError, match="positive"):
        S.corrected_resampled_t(d, n_train=0, n_test=200)


def test_t_tests_zero_differences():
    x = np.array([0.6, 0.61, 0.62])
    tests = (S.paired_t, lambda a, b: S.corrected_resampled_t([b - a, b - a], 100, 25))
    for f in tests:
        res = f(x, x)
        assert res.pvalue == 1.0 and res.estimate == 0.0
        shifted = f(x, x + 0.01)
        assert shifted.pvalue == 0.0 and shifted.estimate == pytest.approx(0.01)


def test_tost_worked_example_matches_r():
    res = S.tost(A10, B10, margin=0.02, alpha=0.05)
    assert res.pvalue == pytest.approx(R["tost10_p"], abs=1e-9)
    assert res.pvalue_lower == pytest.approx(R["tost10_p_lower"], abs=1e-9)
    assert res.pvalue_upper == pytest.approx(R["tost10_p_upper"], abs=1e-9)
    assert res.ci_low == pytest.approx(R["tost10_ci90_low"], abs=1e-9)
    assert res.ci_high == pytest.approx(R["tost10_ci90_high"], abs=1e-9)
    assert res.equivalent is True
    # margin 0.01: the 90% CI reaches 0.0153 > 0.01, not equivalent
    narrow = S.tost(A10, B10, margin=0.01)
    assert narrow.equivalent is False and narrow.pvalue > 0.05


def test_tost_zero_differences_equivalent():
    x = np.array([0.6, 0.61, 0.62, 0.63])
    res = S.tost(x, x, margin=0.01)
    assert res.equivalent is True and res.pvalue == 0.0
    assert S.tost(x, x + 0.02, margin=0.01).equivalent is False
    with pytest.raises(ValueError, match="margin"):
        S.tost(x, x, margin=0)


# ======================================================================================
# Bayesian signed-rank
# ======================================================================================

# baycomp 1.0.3: SignedRankTest.probs(a, b, rope, nsamples=200000, random_state=0)
# (tests/reference/baycomp_reference.py, output in tests/reference/baycomp_reference.txt)
BAYCOMP = [
    ("n10", 0.00525, (0.0052, 0.1603, 0.8345)),
    ("n10", 0.01025, (0.0, 0.7217, 0.2783)),
    ("n10", 0.0, (0.022, 0.0, 0.978)),
    ("n30", 0.00525, (0.1898, 0.0, 0.8102)),
    ("n30", 0.01025, (0.0692, 0.3118, 0.6191)),
    ("n30", 0.0, (0.1871, 0.0, 0.8129)),
]


@pytest.mark.parametrize("data,rope,expected", BAYCOMP)
def test_bayes_signrank_matches_baycomp(data, rope, expected):
    a, b = (A10, B10) if data == "n10" else (A30, B30)
    res = S.bayes_signrank(a, b, rope=rope, n_samples=50000, seed=0)
    got = (res.p_left, res.p_rope, res.p_right)
    # Monte Carlo: SE <= 0.0022 (ours, 50000) and 0.0011 (baycomp, 200000) -> 0.01 is > 4 SE
    assert got == pytest.approx(expected, abs=0.01)
    assert sum(got) == pytest.approx(1.0)


def test_bayes_signrank_identical_and_clearly_better():
    x = np.linspace(0.6, 0.65, 10)
    same = S.bayes_signrank(x, x, rope=0.01, n_samples=2000)
    assert same.p_rope == 1.0
    better = S.bayes_signrank(x, x + 0.05, rope=0.01, n_samples=2000)
    assert better.p_right > 0.95
    worse = S.bayes_signrank(x + 0.05, x, rope=0.01, n_samples=2000)
    assert worse.p_left > 0.95
    # seeded: reproducible
    r1 = S.bayes_signrank(A10, B10, rope=0.005, n_samples=3000, seed=4)
    r2 = S.bayes_signrank(A10, B10, rope=0.005, n_samples=3000, seed=4)
    assert r1 == r2


# ======================================================================================
# mixed model
# ======================================================================================


def _planted(delta=0.02, folds=5, seeds=10, noise=0.004, seed=0):
    rng = np.random.default_rng(seed)
    fold_eff = rng.normal(0, 0.03, folds)
    rows = []
    for f in range(folds):
        for s in range(seeds):
            for m, shift in (("self", 0.0), ("cross", delta)):
                rows.append({"score": 0.6 + fold_eff[f] + shift + rng.normal(0, noise),
                             "model": m, "fold": f})
    return pd.DataFrame(rows)


def test_mixed_model_recovers_planted_difference():
    df = _planted()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = S.mixed_model(df, a="self", b="cross")
    assert res.method == "mixedlm"
    assert res.estimate == pytest.approx(0.02, abs=0.003)
    assert res.ci_low < 0.02 < res.ci_high
    assert res.df == 4 and res.pvalue < 1e-4       # t with folds - 1 df
    assert res.group_var > res.resid_var   # large fold effect recovered
    # arrays interface, reversed roles -> reversed sign
    rev = S.mixed_model(df["score"].to_numpy(), df["model"].to_numpy(),
                        df["fold"].to_numpy(), a="cross", b="self")
    assert rev.estimate == pytest.approx(-res.estimate, abs=1e-6)


def test_mixed_model_with_fold_interaction_equals_fold_means_t():
    # balanced design with a difference that varies by fold: REML with a positive model x fold
    # variance gives exactly the paired t on per-fold mean differences (scipy, independent)
    rng = np.random.default_rng(3)
    rows = []
    for f in range(5):
        shift = rng.normal(0.0, 0.02)
        for s in range(6):
            for m, eff in (("self", 0.0), ("cross", shift)):
                rows.append({"score": 0.6 + eff + rng.normal(0, 0.004), "model": m, "fold": f})
    df = pd.DataFrame(rows)
    res = S.mixed_model(df, a="self", b="cross")
    means = df.groupby(["fold", "model"])["score"].mean().unstack()
    from scipy import stats as st
    ref = st.ttest_rel(means["cross"], means["self"])
    assert res.method == "mixedlm" and res.interaction_var > 0
    assert res.estimate == pytest.approx(float((means["cross"] - means["self"]).mean()), abs=1e-9)
    # equal up to the optimiser's tolerance on the variance components
    assert res.statistic == pytest.approx(ref.statistic, rel=5e-3)
    assert res.pvalue == pytest.approx(ref.pvalue, rel=5e-3)
    # without the interaction term the same data look far more significant (liberal)
    plain = S.mixed_model(df, a="self", b="cross", interaction=False)
    assert plain.pvalue < res.pvalue


def test_mixed_model_no_difference_not_significant():
    res = S.mixed_model(_planted(delta=0.0, seed=5), a="self", b="cross")
    assert abs(res.estimate) < 0.003 and res.pvalue > 0.01


def test_mixed_model_degenerate_inputs_do_not_warn():
    df = _planted()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        same = df.assign(score=0.6)
        res = S.mixed_model(same, a="self", b="cross")
        assert res.pvalue == 1.0 and res.estimate == 0.0
        one_fold = df[df["fold"] == 0]
        res1 = S.mixed_model(one_fold, a="self", b="cross")
        assert res1.method == "ols-one-fold" and "one fold" in res1.note
        assert res1.estimate == pytest.approx(0.02, abs=0.005)
        # no fold variance at all: boundary fit, recorded not raised
        flat = df.copy()
        flat["score"] = 0.6 + 0.02 * (flat["model"] == "cross") + np.random.default_rng(1).normal(
            0, 0.004, len(flat))
        res2 = S.mixed_model(flat, a="self", b="cross")
        assert res2.estimate == pytest.approx(0.02, abs=0.003)
    with pytest.raises(ValueError, match="not among"):
        S.mixed_model(df, a="self", b="nope")


# ======================================================================================
# multiple testing, Friedman, Nemenyi
# ======================================================================================


def test_holm_and_bh_hand_computed():
    p = [0.01, 0.04, 0.03, 0.005, 0.20]
    # Holm by hand: sorted .005*5=.025, .01*4=.04, .03*3=.09, .04*2=.08 -> .09 (monotone), .2
    holm = S.correct(p, "holm")
    assert np.allclose(holm.pvalues_adj, [0.04, 0.09, 0.09, 0.025, 0.2], atol=1e-12)
    assert np.allclose(holm.pvalues_adj, R["holm"], atol=1e-12)
    assert holm.reject.tolist() == [True, False, False, True, False]
    # BH by hand: .005*5/1=.025, .01*5/2=.025, .03*5/3=.05, .04*5/4=.05, .2*5/5=.2
    bh = S.correct(p, "fdr_bh")
    assert np.allclose(bh.pvalues_adj, [0.025, 0.05, 0.05, 0.025, 0.2], atol=1e-12)
    assert np.allclose(bh.pvalues_adj, R["bh"], atol=1e-12)


def test_correct_equals_statsmodels_multipletests():
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(5)
    for m in (1, 2, 7, 40):
        p = rng.random(m) ** 3
        for method in ("holm", "fdr_bh"):
            ours = S.correct(p, method).pvalues_adj
            theirs = multipletests(p, alpha=0.05, method=method)[1]
            assert np.allclose(ours, theirs, rtol=0, atol=1e-14)


def test_correct_passes_nan_through():
    res = S.correct([0.01, np.nan, 0.04], "holm")
    assert np.isnan(res.pvalues_adj[1]) and not res.reject[1]
    assert np.allclose(res.pvalues_adj[[0, 2]], [0.02, 0.04])
    assert res.n_tests == 2
    assert np.isnan(S.correct([np.nan, np.nan]).pvalues_adj).all()
    with pytest.raises(ValueError, match="holm"):
        S.correct([0.1], "bonf")


FRIEDMAN_M = np.array([[0.61, 0.63, 0.60, 0.65], [0.58, 0.62, 0.59, 0.64],
                       [0.60, 0.61, 0.62, 0.66], [0.57, 0.60, 0.58, 0.61],
                       [0.62, 0.64, 0.60, 0.63], [0.59, 0.63, 0.61, 0.65]])


def test_friedman_matches_r():
    res = S.friedman(FRIEDMAN_M, labels=["w", "x", "y", "z"])
    assert res.statistic == pytest.approx(R["friedman_stat"], abs=1e-9)
    assert res.pvalue == pytest.approx(R["friedman_p"], abs=1e-9)
    # rank 1 = best; column z wins 5 of 6 blocks
    assert res.avg_ranks == pytest.approx((22 / 6, 12 / 6, 19 / 6, 7 / 6))
    with pytest.raises(ValueError, match="at least 3"):
        S.friedman(FRIEDMAN_M[:, :2])


def test_nemenyi_cd_demsar_table():
    res = S.nemenyi_cd(5, 50, 0.05)
    assert res.q_alpha == pytest.approx(2.728, abs=5e-4)          # Demšar (2006) Table 5(a)
    assert res.q_alpha == pytest.approx(R["nemenyi_q_k5"], abs=1e-6)
    assert res.cd == pytest.approx(2.728 * math.sqrt(5 * 6 / (6 * 50)), abs=1e-3)
    assert S.nemenyi_cd(4, 10, 0.10).q_alpha == pytest.approx(R["nemenyi_q_k4_a10"], abs=1e-6)
    assert S.nemenyi_cd(4, 10, 0.10).q_alpha == pytest.approx(2.291, abs=5e-4)   # Table 5(b)
    full = S.nemenyi(FRIEDMAN_M, labels=["w", "x", "y", "z"])
    # w vs z: rank difference 2.5 > CD = 2.569 * sqrt(20/36) = 1.915
    pair = [p for p in full.pairs if (p[0], p[1]) == (0, 3)][0]
    assert pair[2] == pytest.approx(2.5) and pair[4] is True and pair[3] < 0.05


# ======================================================================================
# bootstrap, power
# ======================================================================================


def test_bootstrap_ci_seeded_and_covers_mean():
    r1 = S.bootstrap_ci(A10, B10, seed=1)
    r2 = S.bootstrap_ci(A10, B10, seed=1)
    assert r1 == r2
    assert r1.estimate == pytest.approx(np.mean(B10 - A10))
    assert r1.ci_low < r1.estimate < r1.ci_high
    # roughly the t interval
    assert r1.ci_low == pytest.approx(R["t10_ci_low"], abs=0.004)
    assert r1.ci_high == pytest.approx(R["t10_ci_high"], abs=0.004)
    const = S.bootstrap_ci(np.ones(5))
    assert (const.ci_low, const.ci_high) == (1.0, 1.0)


def test_min_detectable_difference_matches_r_power_t_test():
    assert S.min_detectable_difference(5, 0.01) == pytest.approx(R["mdd_dz_n5"] * 0.01, rel=1e-5)
    assert S.min_detectable_difference(50, 0.01) == pytest.approx(R["mdd_dz_n50"] * 0.01, rel=1e-5)
    assert math.isnan(S.min_detectable_difference(1, 0.01))


def test_results_are_frozen():
    res = S.wilcoxon(A10, B10)
    with pytest.raises(Exception):
        res.pvalue = 0.0  # type: ignore[misc]
