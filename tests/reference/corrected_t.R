# Reference values for harness.stats.corrected_resampled_t (tests/test_stats_reference.py).
# Nadeau & Bengio (2003) corrected resampled t, computed in base R from its definition, two ways:
#   (1) t = mean(d) / sqrt((1/J + n_test/n_train) * var(d)), df = J - 1, p = 2 * pt(-|t|, df);
#   (2) the plain one-sample t of R's t.test() on the same d, rescaled by sqrt((1/J) / (1/J + ratio)),
#       which must give the same t (checked below: the script stops if they differ).
# d: the per-fold means of the seed differences b - a (seeds of a fold share its split: J = folds);
# with one fold (single split) the seeds themselves are the J resamples.
# Reproduce (from the repository root):
#   Rscript tests/reference/corrected_t.R > tests/reference/corrected_t.txt
options(digits = 15)
out <- function(name, value) cat(sprintf("%s = %.15g\n", name, value))
cat(sprintf("# %s\n", R.version.string))

corrected <- function(name, d, n_train, n_test) {
  J <- length(d); r <- n_test / n_train
  se <- sqrt((1 / J + r) * var(d))
  t <- mean(d) / se
  q <- qt(0.975, J - 1)
  t2 <- t.test(d)$statistic * sqrt((1 / J) / (1 / J + r))
  stopifnot(abs(t - t2) < 1e-12 * max(1, abs(t)))
  out(paste0(name, "_J"), J); out(paste0(name, "_estimate"), mean(d)); out(paste0(name, "_t"), t)
  out(paste0(name, "_df"), J - 1); out(paste0(name, "_p"), 2 * pt(-abs(t), J - 1))
  out(paste0(name, "_p_greater"), pt(t, J - 1, lower.tail = FALSE))
  out(paste0(name, "_ci_low"), mean(d) - q * se); out(paste0(name, "_ci_high"), mean(d) + q * se)
}

# 5 folds x 4 seeds of differences b - a (rows = folds); n_train 5,300, n_test 1,500 (IEMOCAP-like)
D <- matrix(c(0.012, 0.018, 0.009, 0.015,
              -0.004, 0.002, 0.001, -0.006,
              0.021, 0.017, 0.025, 0.019,
              0.006, 0.011, 0.003, 0.008,
              -0.002, 0.004, 0.000, 0.001), nrow = 5, byrow = TRUE)
corrected("folds", rowMeans(D), 5300, 1500)
# the same with a missing (fold 2, seed 3) pair: fold 2's mean is over its 3 seeds
corrected("missing", c(mean(D[1, ]), mean(D[2, -3]), mean(D[3, ]), mean(D[4, ]), mean(D[5, ])), 5300, 1500)
# single split (one fold, 8 seeds): the seeds are the resamples; MOSI-like sizes 1,284 / 686
s <- c(0.011, -0.003, 0.007, 0.015, 0.002, 0.009, -0.001, 0.012)
corrected("single", s, 1284, 686)
