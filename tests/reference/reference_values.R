# Reference values for tests/test_stats.py, computed with base R (independent of scipy/statsmodels).
# Reproduce:  Rscript tests/reference/reference_values.R > tests/reference/reference_values.txt
# Used: R version 4.2.2 Patched (2022-11-10 r83330), Debian package r-base-core.
options(digits = 15)
out <- function(name, value) cat(sprintf("%s = %.15g\n", name, value))

# ---- Wilcoxon signed-rank, n = 10, no ties, no zeros (exact) ----
a10 <- c(0.612, 0.587, 0.633, 0.601, 0.645, 0.598, 0.620, 0.575, 0.640, 0.609)
b10 <- c(0.625, 0.583, 0.654, 0.609, 0.634, 0.615, 0.622, 0.601, 0.634, 0.624)
w <- wilcox.test(b10, a10, paired = TRUE, exact = TRUE, conf.int = TRUE, conf.level = 0.95)
out("w10_V", w$statistic); out("w10_p", w$p.value)
out("w10_hl", w$estimate); out("w10_ci_low", w$conf.int[1]); out("w10_ci_high", w$conf.int[2])
out("w10_p_greater", wilcox.test(b10, a10, paired = TRUE, exact = TRUE, alternative = "greater")$p.value)
out("w10_p_less", wilcox.test(b10, a10, paired = TRUE, exact = TRUE, alternative = "less")$p.value)

# ---- n = 30, no ties (exact) ----
a30 <- c(0.631, 0.667, 0.651, 0.579, 0.589, 0.664, 0.551, 0.657, 0.654, 0.611, 0.589, 0.586, 0.583, 0.608, 0.616, 0.622, 0.679, 0.653, 0.631, 0.679, 0.578, 0.571, 0.630, 0.556, 0.555, 0.617, 0.611, 0.669, 0.632, 0.617)
b30 <- c(0.651, 0.682, 0.690, 0.543, 0.613, 0.629, 0.572, 0.625, 0.685, 0.571, 0.608, 0.563, 0.584, 0.626, 0.611, 0.651, 0.705, 0.690, 0.672, 0.635, 0.544, 0.579, 0.636, 0.528, 0.598, 0.620, 0.618, 0.680, 0.642, 0.608)
w <- wilcox.test(b30, a30, paired = TRUE, exact = TRUE, conf.int = TRUE)
out("w30_V", w$statistic); out("w30_p", w$p.value)
out("w30_hl", w$estimate); out("w30_ci_low", w$conf.int[1]); out("w30_ci_high", w$conf.int[2])
out("w30_p_normal_cc", wilcox.test(b30, a30, paired = TRUE, exact = FALSE, correct = TRUE)$p.value)
out("w30_p_normal", wilcox.test(b30, a30, paired = TRUE, exact = FALSE, correct = FALSE)$p.value)

# ---- n = 60, ties and 12 zeros (normal approximation; R drops zeros) ----
a60 <- c(0.560, 0.620, 0.610, 0.610, 0.670, 0.620, 0.620, 0.610, 0.560, 0.610, 0.570, 0.550, 0.590, 0.620, 0.660, 0.580, 0.620, 0.620, 0.550, 0.670, 0.640, 0.670, 0.560, 0.680, 0.620, 0.640, 0.600, 0.650, 0.640, 0.660, 0.560, 0.630, 0.660, 0.640, 0.670, 0.650, 0.620, 0.600, 0.650, 0.670, 0.580, 0.650, 0.620, 0.630, 0.650, 0.590, 0.660, 0.630, 0.560, 0.630, 0.630, 0.560, 0.560, 0.610, 0.620, 0.560, 0.670, 0.680, 0.650, 0.590)
b60 <- c(0.610, 0.600, 0.630, 0.640, 0.700, 0.620, 0.620, 0.660, 0.560, 0.610, 0.570, 0.560, 0.600, 0.650, 0.660, 0.610, 0.620, 0.600, 0.560, 0.700, 0.660, 0.720, 0.560, 0.700, 0.600, 0.660, 0.640, 0.600, 0.630, 0.680, 0.540, 0.660, 0.680, 0.650, 0.710, 0.710, 0.660, 0.590, 0.640, 0.670, 0.590, 0.670, 0.630, 0.670, 0.650, 0.570, 0.690, 0.650, 0.540, 0.650, 0.620, 0.580, 0.580, 0.620, 0.600, 0.610, 0.680, 0.690, 0.650, 0.590)
d60 <- round(b60 - a60, 2)   # remove floating-point noise so that equal differences tie
zero <- rep(0, 60)
w <- suppressWarnings(wilcox.test(d60, zero, paired = TRUE, exact = FALSE, correct = TRUE))
out("w60_V", w$statistic); out("w60_p_normal_cc", w$p.value)
out("w60_p_normal", suppressWarnings(wilcox.test(d60, zero, paired = TRUE, exact = FALSE, correct = FALSE))$p.value)

# ---- paired t test (n = 10 data above) ----
t <- t.test(b10, a10, paired = TRUE)
out("t10_t", t$statistic); out("t10_p", t$p.value); out("t10_ci_low", t$conf.int[1]); out("t10_ci_high", t$conf.int[2])

# ---- TOST worked example: n = 10 data, margin 0.02 (two one-sided paired t tests) ----
d10 <- b10 - a10
p_lower <- t.test(d10, mu = -0.02, alternative = "greater")$p.value
p_upper <- t.test(d10, mu = 0.02, alternative = "less")$p.value
out("tost10_p_lower", p_lower); out("tost10_p_upper", p_upper); out("tost10_p", max(p_lower, p_upper))
ci90 <- t.test(d10, conf.level = 0.90)$conf.int
out("tost10_ci90_low", ci90[1]); out("tost10_ci90_high", ci90[2])

# ---- McNemar: discordant counts n01 = 21 (a right, b wrong), n10 = 38 (a wrong, b right), n = 500 ----
tab <- matrix(c(400, 38, 21, 41), 2, 2)  # rows: a right/wrong; cols: b right/wrong
# tab[1,2] = a right & b wrong = 21; tab[2,1] = a wrong & b right = 38
out("mc_exact_p", binom.test(38, 59, 0.5)$p.value)
out("mc_chi2_corrected_stat", mcnemar.test(tab, correct = TRUE)$statistic)
out("mc_chi2_corrected_p", mcnemar.test(tab, correct = TRUE)$p.value)
out("mc_chi2_stat", mcnemar.test(tab, correct = FALSE)$statistic)
out("mc_chi2_p", mcnemar.test(tab, correct = FALSE)$p.value)
out("mc_midp", binom.test(38, 59, 0.5)$p.value - dbinom(21, 59, 0.5))
# large: n01 = 480, n10 = 545
out("mcL_exact_p", binom.test(545, 1025, 0.5)$p.value)
out("mcL_chi2_p", mcnemar.test(matrix(c(9000, 545, 480, 975), 2, 2), correct = FALSE)$p.value)
out("mcL_chi2_corrected_p", mcnemar.test(matrix(c(9000, 545, 480, 975), 2, 2), correct = TRUE)$p.value)

# ---- Multiple testing ----
p <- c(0.01, 0.04, 0.03, 0.005, 0.20)
for (i in seq_along(p)) out(sprintf("holm_%d", i), p.adjust(p, "holm")[i])
for (i in seq_along(p)) out(sprintf("bh_%d", i), p.adjust(p, "BH")[i])

# ---- Friedman: 6 blocks x 4 models ----
m <- matrix(c(0.61, 0.63, 0.60, 0.65,
              0.58, 0.62, 0.59, 0.64,
              0.60, 0.61, 0.62, 0.66,
              0.57, 0.60, 0.58, 0.61,
              0.62, 0.64, 0.60, 0.63,
              0.59, 0.63, 0.61, 0.65), nrow = 6, byrow = TRUE)
f <- friedman.test(m)
out("friedman_stat", f$statistic); out("friedman_p", f$p.value)

# ---- Nemenyi q_alpha (Demsar 2006 Table 5a: k = 5 -> 2.728) ----
out("nemenyi_q_k5", qtukey(0.95, 5, Inf) / sqrt(2))
out("nemenyi_q_k4_a10", qtukey(0.90, 4, Inf) / sqrt(2))

# ---- Power: smallest detectable paired mean difference (effect size d_z; multiply by sd_diff) ----
# sd = 1 and a tight tol: uniroot's default tolerance (~1e-4 absolute on delta) is too coarse
# for delta ~ 0.004.  strict = TRUE counts both rejection tails, like statsmodels TTestPower.
for (n in c(5, 50)) {
  out(sprintf("mdd_dz_n%d", n), power.t.test(n = n, sd = 1, sig.level = 0.05, power = 0.8,
      type = "paired", strict = TRUE, tol = 1e-12)$delta)
}

# ---- Exact signed-rank minimum two-sided p with n = 5 (all differences positive) ----
out("w5_min_p", wilcox.test(c(0.01, 0.02, 0.03, 0.04, 0.05), exact = TRUE)$p.value)
