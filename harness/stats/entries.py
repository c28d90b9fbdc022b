"""The built-in tests' registry entries: how each test's row is formed from a comparison's data."""

from __future__ import annotations

import numpy as np

from .bayes import bayes_signrank
from .mcnemar import mcnemar, mcnemar_exact_pvalues
from .mixed import mixed_model
from .multiple import correct
from .registry import PairData, TestEntry, register_test
from .signrank import min_wilcoxon_p, wilcoxon
from .ttests import corrected_resampled_t, paired_t, tost


def _interval(res, method: str, coverage: float) -> dict:
    return {"statistic": res.statistic, "pvalue": res.pvalue, "estimate": res.estimate,
            "ci_low": res.ci_low, "ci_high": res.ci_high, "ci_method": method,
            "ci_coverage": coverage}


def _unit_words(data: PairData, unit: str) -> str:
    return ("per-fold means over the paired seeds" if unit == "fold" else
            "paired runs treated as independent (seeds sharing a fold are not)")


def run_wilcoxon(data: PairData, unit: str) -> dict:
    res = wilcoxon(*data.scores(unit))
    row = _interval(res, "signed-rank interval (Hodges-Lehmann)", res.ci_level)
    row.update(effect_size=res.effect_size, effect_name=res.effect_name,
               note="; ".join(x for x in (res.method, _unit_words(data, unit), res.note) if x))
    return row


def run_paired_t(data: PairData, unit: str) -> dict:
    res = paired_t(*data.scores(unit))
    row = _interval(res, "t", res.confidence_level)
    row.update(effect_size=res.effect_size, effect_name=res.effect_name,
               note="; ".join(x for x in (_unit_words(data, unit), res.note) if x))
    return row


def run_corrected_t(data: PairData, unit: str) -> dict:
    if not (data.n_train > 0 and data.n_test > 0):
        raise ValueError("n_train / n_test unknown (not in the runs' results): the correction "
                         "needs the split sizes")
    res = corrected_resampled_t(data.diffs_by_fold(), data.n_train, data.n_test)
    row = _interval(res, "corrected resampled t", res.confidence_level)
    row.update(n=res.n, effect_size=res.effect_size, effect_name=res.effect_name,
               note=f"Nadeau-Bengio; {res.note}; n_test {data.n_test:.0f}, "
                    f"n_train {data.n_train:.0f}")
    return row


def run_tost(data: PairData, unit: str) -> dict:
    s = data.settings
    res = tost(*data.scores(unit), s.margin, s.alpha)
    row = _interval(res, f"t, {100 * (1 - 2 * s.alpha):g}% (1 - 2 alpha)", 1 - 2 * s.alpha)
    row.update(note="; ".join(x for x in (
        f"equivalence within +-{s.margin:g}: equivalent when the adjusted p < alpha and the "
        f"{100 * (1 - 2 * s.alpha):g}% CI lies inside the margin", _unit_words(data, unit),
        res.note) if x))
    return row


def run_bayes(data: PairData, unit: str) -> dict:
    s = data.settings
    res = bayes_signrank(*data.scores(unit), s.rope, s.bayes_samples, 0)
    row = {"estimate": res.estimate, "p_left": res.p_left, "p_rope": res.p_rope,
           "p_right": res.p_right, "equivalent": bool(res.p_rope > 0.95)}
    note = (f"rope +-{s.rope:g}, {s.bayes_samples} posterior samples; equivalent = P(rope) > 0.95; "
            "treats runs sharing a fold as independent, so its probabilities grow with the "
            "number of seeds, not of independent test sets")
    if data.n_folds < s.bayes_min_folds:
        # the posterior puts all its mass on the observed differences (Dirichlet process with
        # one pseudo-observation): with few folds it is near-certain however little was seen
        row["equivalent"] = None
        note += (f"; verdict withheld: {data.n_folds} fold(s) < {s.bayes_min_folds}, too few "
                 f"independent test sets for the probabilities to mean what they say")
    row["note"] = note
    return row


def run_mixed(data: PairData, unit: str) -> dict:
    r = data.runs
    n = len(r)
    res = mixed_model(np.concatenate([r["score_a"], r["score_b"]]), np.repeat(["a", "b"], n),
                      np.concatenate([r["fold"], r["fold"]]), a="a", b="b",
                      alpha=data.settings.alpha)
    how = "Wald z" if np.isinf(res.df) else f"Wald t, {res.df:g} df"
    row = _interval(res, how, 1 - data.settings.alpha)
    warn = ("warnings: " + " | ".join(res.warnings)) if res.warnings else ""
    row["note"] = "; ".join(x for x in (f"{res.method}: {res.n} scores of {n} pairs, "
                                        f"{res.n_groups} fold(s)", res.note, warn) if x)
    return row


def run_mcnemar_per_run(data: PairData, unit: str) -> dict:
    if data.utterances is None:
        raise ValueError("no predictions loaded")
    pairs, missing = data.utterances.paired_correct()
    if not pairs:
        raise ValueError("no paired runs with predictions")
    n01 = np.array([int(np.count_nonzero(ca & ~cb)) for ca, cb in pairs])
    n10 = np.array([int(np.count_nonzero(~ca & cb)) for ca, cb in pairs])
    ns = np.array([ca.size for ca, _ in pairs])
    holm = correct(mcnemar_exact_pvalues(n01, n10), "holm", data.settings.alpha)
    n_sig = int(holm.reject.sum())
    note = (f"exact McNemar in each of {len(ns)} paired runs: the trained classifiers differ in "
            f"{n_sig} after Holm over the runs, b ahead in {int(np.sum(n10 > n01))}; a "
            f"description of these classifiers, not a test of the architectures")
    if missing:
        note += f"; {missing} paired run(s) without usable predictions skipped"
    return {"n": len(ns), "pvalue": float(np.min(holm.pvalues_adj)), "n_significant": n_sig,
            "estimate": float(np.mean((n10 - n01) / ns)),
            "effect_size": float(np.mean(n10 > n01)), "effect_name": "share_runs_b_ahead",
            "note": note}


def run_mcnemar_pooled(data: PairData, unit: str) -> dict:
    ens = data.utterances.ensembles() if data.utterances is not None else None
    if ens is None:
        raise ValueError("no fold with predictions (test_proba) of both configurations")
    y, ea, eb, folds = ens
    res = mcnemar(y, ea, eb, alpha=data.settings.alpha)
    row = _interval(res, "Wald (paired proportions)", 1 - data.settings.alpha)
    row.update(n=res.n, effect_size=res.effect_size, effect_name=res.effect_name,
               note="; ".join(x for x in (
                   f"exact McNemar on seed ensembles (mean test_proba over seeds, argmax) of "
                   f"{len(folds)} fold(s): n01 = {res.n01} (a right, b wrong), n10 = {res.n10}; "
                   f"estimate = ensemble accuracy b - a; describes these trained ensembles",
                   res.note) if x))
    return row


BUILTIN = (
    TestEntry("wilcoxon", ("run", "fold"), "Wilcoxon signed-rank test", "W", "secondary",
              run_wilcoxon, floor=min_wilcoxon_p,
              description="signed-rank test of b - a; Hodges-Lehmann estimate and interval"),
    TestEntry("paired_t", ("run", "fold"), "Paired t test", "t", "secondary", run_paired_t,
              description="t test of the mean of b - a"),
    TestEntry("corrected_resampled_t", ("run",), "Corrected resampled t test (Nadeau-Bengio)",
              "t_NB", "secondary", run_corrected_t,
              description="t over folds (seeds averaged) with variance x (1/J + n_test/n_train)"),
    TestEntry("mixed_model", ("run",), "Mixed model (fold and model x fold random effects)",
              "LMM", "secondary", run_mixed,
              description="score ~ model + (1 | fold) + (1 | fold:model), REML, t(folds - 1)"),
    TestEntry("tost", ("run", "fold"), "TOST equivalence test", "TOST", "secondary", run_tost,
              verdict="equivalence", description="two one-sided paired t tests against +-margin"),
    TestEntry("bayes_signrank", ("run",), "Bayesian signed-rank test", "Bayes", "secondary",
              run_bayes, verdict="equivalence", min_n=1,
              description="posterior probabilities of b - a left of, inside, right of the ROPE"),
    TestEntry("mcnemar_per_run", ("utterance",), "McNemar test per paired run", "McN/run",
              "description", run_mcnemar_per_run, verdict="none", metrics=("accuracy",),
              min_n=1, description="discordant utterances of each pair of trained classifiers"),
    TestEntry("mcnemar_pooled", ("utterance",), "McNemar test on pooled seed ensembles", "McN",
              "description", run_mcnemar_pooled, verdict="none", metrics=("accuracy",), min_n=1,
              description="discordant utterances of the two seed ensembles over all folds"),
    TestEntry("friedman", ("run", "fold"), "Friedman test", "Friedman", "secondary", None,
              kind="set", description="do the average ranks of the models differ?"),
    TestEntry("nemenyi", ("run", "fold"), "Nemenyi post-hoc test", "Nemenyi", "secondary", None,
              kind="set", description="pairwise rank differences against the critical difference"),
)

for _entry in BUILTIN:
    register_test(_entry, replace=True)
