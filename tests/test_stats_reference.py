"""harness.stats' mixed model and corrected resampled t against R (values committed with their scripts).

Provenance: tests/reference/mixed_model.R (nlme::lme and lme4::lmer, REML) on
tests/reference/mixed_model_data.csv -> mixed_model.txt; tests/reference/corrected_t.R (base R, the
Nadeau-Bengio definition, checked against a rescaled t.test) -> corrected_t.txt. R is not needed to
run these tests.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.stats import corrected_resampled_t, mixed_model

REF = Path(__file__).parent / "reference"


def _values(name: str) -> dict[str, float]:
    out = {}
    for line in (REF / name).read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, value = line.split("=")
            out[key.strip()] = float(value)
    return out


R_MIXED = _values("mixed_model.txt")
R_CT = _values("corrected_t.txt")
DATA = pd.read_csv(REF / "mixed_model_data.csv")
DATASETS = ["interaction", "unbalanced", "no_interaction"]


def _data(name: str) -> pd.DataFrame:
    return DATA[DATA["dataset"] == name][["score", "model", "fold"]].reset_index(drop=True)


@pytest.mark.parametrize("name", DATASETS)
def test_mixed_model_with_model_by_fold_effect_matches_nlme(name):
    r = {k[len(name) + 7:]: v for k, v in R_MIXED.items() if k.startswith(f"{name}_inter_")}
    res = mixed_model(_data(name), a="self", b="cross")
    assert res.estimate == pytest.approx(r["estimate"], abs=1e-6)
    assert res.df == r["df"]  # nlme's denominator df for an effect varying within fold: folds - 1
    assert res.se == pytest.approx(r["se"], rel=2e-3)
    assert res.pvalue == pytest.approx(r["p"], abs=2e-3)
    assert res.ci_low == pytest.approx(r["ci_low"], abs=5e-5)
    assert res.ci_high == pytest.approx(r["ci_high"], abs=5e-5)
    assert res.group_var == pytest.approx(r["fold_var"], rel=5e-3)
    assert res.resid_var == pytest.approx(r["resid_var"], rel=5e-3)
    # a boundary estimate (R: ~1e-12) only has to be ~0 relative to the residual variance
    assert res.interaction_var == pytest.approx(r["foldmodel_var"], rel=5e-3, abs=1e-4 * r["resid_var"])


@pytest.mark.parametrize("name", DATASETS)
def test_nlme_and_lme4_agree_on_the_reference_fits(name):
    # the two R implementations agree with each other, so the committed values are not one package's quirk
    for key in ("estimate", "se", "fold_var", "resid_var"):
        inter = "inter_" + key
        assert R_MIXED[f"{name}_lme4_{key}"] == pytest.approx(R_MIXED[f"{name}_{inter}"], rel=1e-5, abs=1e-12)


@pytest.mark.parametrize("name", DATASETS)
def test_mixed_model_fold_intercept_only_matches_nlme(name):
    r = {k[len(name) + 9:]: v for k, v in R_MIXED.items() if k.startswith(f"{name}_nointer_")}
    res = mixed_model(_data(name), a="self", b="cross", interaction=False)
    assert res.estimate == pytest.approx(r["estimate"], abs=1e-6)
    assert res.se == pytest.approx(r["se"], rel=2e-3)
    assert res.group_var == pytest.approx(r["fold_var"], rel=5e-3)
    assert res.resid_var == pytest.approx(r["resid_var"], rel=5e-3)


def test_mixed_model_sign_follows_b_minus_a():
    res = mixed_model(_data("interaction"), a="cross", b="self")
    assert res.estimate == pytest.approx(-R_MIXED["interaction_inter_estimate"], abs=1e-6)


# 5 folds x 4 seeds of b - a, as in corrected_t.R
D = np.array([[0.012, 0.018, 0.009, 0.015],
              [-0.004, 0.002, 0.001, -0.006],
              [0.021, 0.017, 0.025, 0.019],
              [0.006, 0.011, 0.003, 0.008],
              [-0.002, 0.004, 0.000, 0.001]])


def _check_ct(res, name: str) -> None:
    r = {k[len(name) + 1:]: v for k, v in R_CT.items() if k.startswith(f"{name}_")}
    assert res.n == r["J"]
    assert res.df == r["df"]
    assert res.estimate == pytest.approx(r["estimate"], abs=1e-12)
    assert res.statistic == pytest.approx(r["t"], rel=1e-9)
    assert res.pvalue == pytest.approx(r["p"], rel=1e-9)
    assert res.ci_low == pytest.approx(r["ci_low"], rel=1e-9)
    assert res.ci_high == pytest.approx(r["ci_high"], rel=1e-9)


def test_corrected_t_uses_folds_as_resamples_as_in_r():
    _check_ct(corrected_resampled_t(D, n_train=5300, n_test=1500), "folds")


def test_corrected_t_one_sided_matches_r():
    res = corrected_resampled_t(D, n_train=5300, n_test=1500, alternative="greater")
    assert res.pvalue == pytest.approx(R_CT["folds_p_greater"], rel=1e-9)


def test_corrected_t_with_a_missing_pair_matches_r():
    d = D.copy()
    d[1, 2] = np.nan
    _check_ct(corrected_resampled_t(d, n_train=5300, n_test=1500), "missing")


def test_corrected_t_single_split_uses_seeds_as_in_r():
    s = [0.011, -0.003, 0.007, 0.015, 0.002, 0.009, -0.001, 0.012]
    _check_ct(corrected_resampled_t([s], n_train=1284, n_test=686), "single")
