# Reference values for the mixed model of harness.stats.mixed_model (tests/test_stats_reference.py).
# Independent implementation: nlme::lme (REML) and lme4::lmer (REML), not statsmodels.
# Model: score ~ model + (1 | fold) + (1 | fold:model), and score ~ model + (1 | fold).
# Data: tests/reference/mixed_model_data.csv (three fixed data sets; "cross" is b, "self" is a).
# Reproduce (from the repository root):
#   Rscript tests/reference/mixed_model.R > tests/reference/mixed_model.txt
# Used: R 4.2.2 (Debian r-base-core), nlme 3.1.162 and lme4 1.1.31 (Debian r-cran-nlme, r-cran-lme4).
suppressPackageStartupMessages({ library(nlme); library(lme4) })
options(digits = 15)
out <- function(name, value) cat(sprintf("%s = %.15g\n", name, value))
all <- read.csv("tests/reference/mixed_model_data.csv")
cat(sprintf("# %s; nlme %s; lme4 %s\n", R.version.string, packageVersion("nlme"), packageVersion("lme4")))

for (ds in unique(all$dataset)) {
  d <- all[all$dataset == ds, ]
  d$model <- factor(d$model, levels = c("self", "cross"))  # a = self (reference), b = cross
  d$fold <- factor(d$fold)
  # --- with the model x fold random effect: nested random intercepts fold / fold:model ---
  fit <- lme(score ~ model, random = ~ 1 | fold / model, data = d, method = "REML")
  tt <- summary(fit)$tTable["modelcross", ]
  vc <- as.numeric(VarCorr(fit)[c(2, 4, 5), "Variance"])  # fold, fold:model, residual
  ci <- intervals(fit, which = "fixed", level = 0.95)$fixed["modelcross", ]
  out(paste0(ds, "_inter_estimate"), tt["Value"]); out(paste0(ds, "_inter_se"), tt["Std.Error"])
  out(paste0(ds, "_inter_df"), tt["DF"]); out(paste0(ds, "_inter_t"), tt["t-value"])
  out(paste0(ds, "_inter_p"), tt["p-value"])
  out(paste0(ds, "_inter_ci_low"), ci["lower"]); out(paste0(ds, "_inter_ci_high"), ci["upper"])
  out(paste0(ds, "_inter_fold_var"), vc[1]); out(paste0(ds, "_inter_foldmodel_var"), vc[2])
  out(paste0(ds, "_inter_resid_var"), vc[3])
  # the same model in lme4 (crossed notation): estimates and variance components must agree
  f4 <- lmer(score ~ model + (1 | fold) + (1 | fold:model), data = d, REML = TRUE)
  v4 <- as.data.frame(VarCorr(f4))
  out(paste0(ds, "_lme4_estimate"), fixef(f4)["modelcross"])
  out(paste0(ds, "_lme4_se"), sqrt(vcov(f4)["modelcross", "modelcross"]))
  out(paste0(ds, "_lme4_fold_var"), v4$vcov[v4$grp == "fold"])
  out(paste0(ds, "_lme4_foldmodel_var"), v4$vcov[v4$grp == "fold:model"])
  out(paste0(ds, "_lme4_resid_var"), v4$vcov[v4$grp == "Residual"])
  # --- fold random intercept only (the pre-issue-15 model) ---
  f0 <- lme(score ~ model, random = ~ 1 | fold, data = d, method = "REML")
  t0 <- summary(f0)$tTable["modelcross", ]
  out(paste0(ds, "_nointer_estimate"), t0["Value"]); out(paste0(ds, "_nointer_se"), t0["Std.Error"])
  out(paste0(ds, "_nointer_df"), t0["DF"])
  out(paste0(ds, "_nointer_fold_var"), as.numeric(VarCorr(f0)[1, "Variance"]))
  out(paste0(ds, "_nointer_resid_var"), as.numeric(VarCorr(f0)[2, "Variance"]))
}
