"""Linear mixed model score ~ model with fold and model x fold random effects (statsmodels MixedLM).

In lme4 notation the default model is ``score ~ model + (1 | fold) + (1 | fold:model)``: the fold
intercept absorbs the session shift common to both models, and the model x fold variance lets
the difference between the models change from fold to fold.  Without that second term the model
treats the seeds of a fold as independent evidence about the difference and is liberal when the
difference varies by fold (issue 15).  Inference on the model coefficient uses a t reference
with folds - 1 degrees of freedom (the containment df: the model effect is tested against the
model x fold variation); in a balanced design with a positive model x fold variance the result
equals the paired t test on per-fold mean differences.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as _st

from ._checks import NAN as _NAN, _check_alpha, _vec


@dataclass(frozen=True)
class MixedModelResult:
    statistic: float          # t (or z) = estimate / se
    pvalue: float
    method: str               # "mixedlm", or the fallback used
    n: int                    # observations
    n_groups: int             # folds
    a: str
    b: str
    estimate: float           # coefficient of b relative to a (b - a)
    se: float
    ci_low: float
    ci_high: float
    group_var: float          # fold random-intercept variance (NaN for fallbacks)
    resid_var: float
    converged: bool
    warnings: tuple = ()
    note: str = ""
    interaction_var: float = _NAN   # model x fold variance (NaN when not in the model)
    df: float = math.inf            # degrees of freedom of the t reference (inf: Wald z)


def _frame(data: Any, model: Any, fold: Any) -> pd.DataFrame:
    """score / model / fold columns from a DataFrame or three arrays, checked."""
    if isinstance(data, pd.DataFrame):
        missing = {"score", "model", "fold"} - set(data.columns)
        if missing:
            raise ValueError(f"data is missing column(s) {sorted(missing)}")
        df = data[["score", "model", "fold"]].copy()
    else:
        if model is None or fold is None:
            raise ValueError("give a DataFrame with score/model/fold or the three arrays")
        score, model, fold = _vec(data, "score"), np.asarray(model), np.asarray(fold)
        if not (score.size == model.size == fold.size):
            raise ValueError(f"score, model, fold must have the same length: "
                             f"{score.size}, {model.size}, {fold.size}")
        df = pd.DataFrame({"score": score, "model": model, "fold": fold})
    df["score"] = _vec(df["score"].to_numpy(), "score")
    df["model"] = df["model"].astype(str)
    df["fold"] = df["fold"].astype(str)
    return df


def _sides(df: pd.DataFrame, a: str | None, b: str | None) -> tuple[str, str]:
    levels = sorted(df["model"].unique())
    if a is None and b is None:
        if len(levels) != 2:
            raise ValueError(f"name a and b when there are not exactly two models: {levels}")
        a, b = levels
    elif a is None or b is None:
        if len(levels) != 2:
            raise ValueError(f"name a and b when there are not exactly two models: {levels}")
        a = a if a is not None else next(x for x in levels if x != b)
        b = b if b is not None else next(x for x in levels if x != a)
    for name, lev in (("a", a), ("b", b)):
        if lev not in levels:
            raise ValueError(f"{name}={lev!r} is not among the models {levels}")
    if a == b:
        raise ValueError("a and b must differ")
    counts = df["model"].value_counts()
    if counts[a] < 2 or counts[b] < 2:
        raise ValueError(f"mixed_model needs at least 2 scores per model, got "
                         f"{int(counts[a])} for {a!r} and {int(counts[b])} for {b!r}")
    return a, b


def _inference(est: float, se: float, df: float, alpha: float) -> tuple[float, float, float, float]:
    """(statistic, p, ci_low, ci_high) of a Wald test with a t(df) reference (z for df = inf)."""
    if not (se > 0 and math.isfinite(se)):
        if est == 0.0:
            return 0.0, 1.0, est, est
        return math.copysign(math.inf, est), 0.0, est, est
    stat = est / se
    ref = _st.norm if math.isinf(df) else _st.t(df)
    q = float(ref.ppf(1 - alpha / 2))
    return stat, float(2 * ref.sf(abs(stat))), est - q * se, est + q * se


def _mixedlm(y: np.ndarray, X: np.ndarray, groups: np.ndarray, models: np.ndarray,
             interaction: bool) -> dict:
    """REML fit with a fold intercept (and a model x fold variance component); raises on failure."""
    from statsmodels.regression.mixed_linear_model import MixedLM

    # fitted on standardised scores: statsmodels' boundary checks are absolute and accuracies
    # (variances ~1e-4) would trip them; rescaled afterwards
    mu, sd = float(y.mean()), float(np.std(y))
    exog_vc = None
    if interaction:
        # one random effect per model within each fold, sharing one variance: (1 | fold:model)
        from statsmodels.regression.mixed_linear_model import VCSpec

        levels = np.unique(models)
        folds = sorted(set(groups.tolist()))          # VCSpec wants the groups in sorted order
        mats = [(models[groups == g][:, None] == levels[None, :]).astype(float) for g in folds]
        exog_vc = VCSpec(["fold:model"], [[[str(x) for x in levels]] * len(folds)], [mats])
    z = (y - mu) / sd
    with warnings.catch_warnings(record=True) as wlist:
        warnings.simplefilter("always")
        mlm = MixedLM(z, X, groups=groups, exog_re=np.ones((y.size, 1)), exog_vc=exog_vc)
        fit = mlm.fit(reml=True, start_params=_start(z, X, groups, models, interaction))
    est = float(np.asarray(fit.fe_params)[1]) * sd
    se = float(np.asarray(fit.bse_fe)[1]) * sd
    if not (math.isfinite(est) and math.isfinite(se) and se > 0):
        raise ValueError("non-finite or zero standard error")
    return {"estimate": est, "se": se, "group_var": float(np.asarray(fit.cov_re)[0, 0]) * sd ** 2,
            "interaction_var": float(np.asarray(fit.vcomp)[0]) * sd ** 2 if interaction else _NAN,
            "resid_var": float(fit.scale) * sd ** 2, "converged": bool(fit.converged),
            "warnings": tuple(dict.fromkeys(f"{w.category.__name__}: {str(w.message).splitlines()[0]}"
                                            for w in wlist))}


def _start(z: np.ndarray, X: np.ndarray, groups: np.ndarray, models: np.ndarray,
           interaction: bool):
    """Method-of-moments variance components as REML start values (relative to the residual
    variance, as MixedLM parametrises them): they cut the optimiser's iterations several-fold."""
    from statsmodels.regression.mixed_linear_model import MixedLMParams

    beta, *_ = np.linalg.lstsq(X, z, rcond=None)
    cells = pd.DataFrame({"r": z - X @ beta, "g": groups, "m": models})
    cell = cells.groupby(["g", "m"])["r"]
    within = float(np.nanmean(cell.var(ddof=1))) if (cell.size() > 1).any() else 1.0
    within = max(within, 1e-6)
    means = cell.mean().unstack("m")
    inter = float(np.nanvar((means.iloc[:, 0] - means.iloc[:, -1]).to_numpy(), ddof=1)) / 2 \
        if means.shape[1] >= 2 and len(means) >= 2 else 0.0
    fold = float(np.nanvar(means.mean(axis=1).to_numpy(), ddof=1)) if len(means) >= 2 else 0.0
    vc = [max(inter / within, 0.05)] if interaction else []
    return MixedLMParams.from_components(beta, cov_re=np.array([[max(fold / within, 0.05)]]),
                                         vcomp=np.array(vc))


def _fold_means_t(df: pd.DataFrame, a: str, b: str) -> dict:
    """Paired t on per-fold mean differences: what the model x fold mixed model reduces to."""
    means = df.groupby(["fold", "model"])["score"].mean().unstack("model")[[a, b]].dropna()
    d = (means[b] - means[a]).to_numpy()
    if d.size < 2:
        raise ValueError(f"{d.size} fold(s) with both models")
    return {"estimate": float(d.mean()), "se": float(np.std(d, ddof=1) / math.sqrt(d.size)),
            "df": d.size - 1.0, "n_folds": d.size}


def _ols(y: np.ndarray, X: np.ndarray) -> dict:
    from statsmodels.regression.linear_model import OLS

    fit = OLS(y, X).fit()
    rvar = float(fit.scale) if fit.df_resid > 0 else _NAN
    se = float(np.asarray(fit.bse)[1]) if rvar > 1e-20 else 0.0
    return {"estimate": float(np.round(np.asarray(fit.params)[1], 12)), "se": se,
            "resid_var": rvar, "df": float(fit.df_resid)}


def mixed_model(data: Any, model: Any = None, fold: Any = None, *, a: str | None = None,
                b: str | None = None, alpha: float = 0.05,
                interaction: bool = True) -> MixedModelResult:
    """Mixed model score ~ model + (1 | fold) [+ (1 | fold:model)] by REML (statsmodels MixedLM).

    ``data``: a DataFrame with columns score, model, fold (one row per run), or the score array
    with ``model`` and ``fold`` arrays.  Returns the coefficient of ``b`` against ``a``
    (estimate = b - a; default: the two levels in sorted order) with a t(folds - 1) test and
    interval when ``interaction`` (the default), a Wald z test without it.  One fold: OLS
    score ~ model (no fold effects to estimate).  A MixedLM failure falls back to the paired t
    on per-fold means (interaction) or OLS with fold fixed effects; the note says which.
    statsmodels warnings are caught and listed in ``warnings``, never printed."""
    alpha = _check_alpha(alpha)
    df = _frame(data, model, fold)
    a, b = _sides(df, a, b)
    others = [b] + sorted(x for x in df["model"].unique() if x not in (a, b))
    mod = df["model"].to_numpy()
    X = np.column_stack([np.ones(len(df))] + [(mod == x).astype(float) for x in others])
    y = df["score"].to_numpy(float)
    groups = df["fold"].to_numpy()
    n, n_groups = len(df), int(df["fold"].nunique())
    base = dict(n=n, n_groups=n_groups, a=a, b=b)
    if float(np.ptp(y)) == 0:
        return _finish(base, {"estimate": 0.0, "se": 0.0, "resid_var": 0.0}, "degenerate",
                       math.inf, alpha, "all scores identical: no difference, p = 1")
    if n_groups < 2:
        fit = _ols(y, X)
        return _finish(base, fit, "ols-one-fold", fit["df"], alpha,
                       "one fold: no fold effect to estimate; OLS score ~ model")
    form = "score ~ model + (1 | fold)" + (" + (1 | fold:model)" if interaction else "")
    try:
        fit = _mixedlm(y, X, groups, mod, interaction)
    except Exception as exc:  # LinAlgError, ValueError from singular designs
        return _fallback(base, df, y, X, groups, a, b, alpha, interaction,
                         f"MixedLM failed ({type(exc).__name__}: {exc})")
    notes = [f"REML fit of {form}"]
    at_zero = interaction and fit["interaction_var"] <= 1e-6 * max(fit["resid_var"], 1e-300)
    if not fit["converged"]:
        # at the boundary the REML optimum has a zero gradient only inside the constraint;
        # statsmodels then reports non-convergence although the estimate is the boundary optimum
        notes.append("MixedLM reported no convergence" + (" at the boundary" if at_zero else ""))
    if at_zero:
        notes.append("model x fold variance estimated at 0 (boundary)")
    if fit["group_var"] <= 1e-6 * max(fit["resid_var"], 1e-300):
        notes.append("fold variance estimated at 0 (boundary)")
    dfree = n_groups - 1.0 if interaction else math.inf
    notes.append(f"t test with {n_groups - 1} df (folds - 1)" if interaction else "Wald z test")
    return _finish(base, fit, "mixedlm", dfree, alpha, "; ".join(notes))


def _fallback(base, df, y, X, groups, a, b, alpha, interaction, why) -> MixedModelResult:
    if interaction:
        fit = _fold_means_t(df, a, b)
        return _finish(base, fit, "fold-means-t", fit["df"], alpha,
                       f"{why}; fallback: paired t on per-fold means, which the model x fold "
                       f"mixed model equals in a balanced design")
    levels = sorted(set(groups.tolist()))
    Xo = np.column_stack([X] + [(groups == g).astype(float) for g in levels[1:]])
    fit = _ols(y, Xo)
    return _finish(base, fit, "ols-fallback", fit["df"], alpha,
                   f"{why}; fallback: OLS score ~ model + fold (fixed)")


def _finish(base: dict, fit: dict, method: str, dfree: float, alpha: float,
            note: str) -> MixedModelResult:
    est, se = fit["estimate"], fit["se"]
    if abs(est) < 1e-12:
        est = 0.0                  # floating-point noise of an exactly zero difference
    stat, p, lo, hi = _inference(est, se, dfree, alpha)
    if not (se > 0 and math.isfinite(se)):
        note += "; zero residual variance: the difference is exact"
    return MixedModelResult(statistic=float(stat), pvalue=float(p), method=method,
                            estimate=float(est), se=float(se), ci_low=float(lo), ci_high=float(hi),
                            group_var=float(fit.get("group_var", _NAN)),
                            resid_var=float(fit.get("resid_var", _NAN)),
                            interaction_var=float(fit.get("interaction_var", _NAN)),
                            converged=bool(fit.get("converged", True)),
                            warnings=fit.get("warnings", ()), df=float(dfree), note=note, **base)
