"""Which pairs are compared: the study's declared comparisons, else the paper's three families.

Declared (`comparisons:` in the study)
    family ``comparisons``: for each Comparison(a, b, on), b vs a on `on` or on every
    combination both models ran (estimate = b - a).
The paper's families (no `comparisons`)
    ``self_vs_cross``   self:M vs cross:M for every combination M both have (estimate cross - self)
    ``ablation_AVT``    every pair of the AVT models, a before b in the model registry's order
    ``modalities_self`` within self: each combination against the reference combination (AVT, or
                        the one with the highest mean test accuracy when self has no AVT runs)
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import pandas as pd

from ..models.registry import order_models
from ..study import ALL_COMBINATIONS
from .source import label


@dataclass(frozen=True)
class Pair:
    """One comparison on one combination: estimate = b - a."""
    family: str
    comparison: str
    a: tuple[str, str]          # (model, modalities)
    b: tuple[str, str]

    @property
    def labels(self) -> tuple[str, str]:
        return label(*self.a), label(*self.b)


def comparison_name(a: tuple[str, str], b: tuple[str, str]) -> str:
    """'self_vs_cross' when both sides share the combination, else 'self:AV_vs_self:AVT'."""
    if a[1] == b[1]:
        return f"{a[0]}_vs_{b[0]}"
    return f"{label(*a)}_vs_{label(*b)}"


def combo_order(combos) -> list[str]:
    known = [c for c in ALL_COMBINATIONS if c in set(combos)]
    return known + sorted(set(combos) - set(ALL_COMBINATIONS))


def form_pairs(study, runs: pd.DataFrame, ok: pd.DataFrame) -> tuple[list[Pair], dict, list[str]]:
    """(pairs, family descriptions, notes) for the study: declared comparisons or the paper's."""
    configs = set(zip(runs["model"], runs["modalities"]))
    if study is not None and study.comparisons:
        return _declared(study, configs)
    return _paper(configs, ok)


def _declared(study, configs: set) -> tuple[list[Pair], dict, list[str]]:
    pairs, notes = [], []
    for c in study.comparisons:
        for mods in study.comparison_combinations(c):
            a, b = (c.a, mods), (c.b, mods)
            if a in configs and b in configs:
                pairs.append(Pair("comparisons", comparison_name(a, b), a, b))
            else:
                notes.append(f"comparison {c.b} - {c.a} on {mods}: no runs of "
                             f"{label(*a) if a not in configs else label(*b)} in the results")
    desc = {"comparisons": "the study's declared comparisons (estimate = b - a): "
            + ", ".join(f"{c.b} - {c.a}" + (f" on {', '.join(c.on)}" if c.on else "")
                        for c in study.comparisons)}
    return pairs, desc, notes


def _paper(configs: set, ok: pd.DataFrame) -> tuple[list[Pair], dict, list[str]]:
    pairs, notes = [], []
    for mods in combo_order({x for _, x in configs}):
        a, b = ("self", mods), ("cross", mods)
        if a in configs and b in configs:
            pairs.append(Pair("self_vs_cross", "self_vs_cross", a, b))
    abl = [(m, "AVT") for m in order_models(sorted({m for m, _ in configs}))
           if (m, "AVT") in configs]
    for x, y in combinations(abl, 2):
        pairs.append(Pair("ablation_AVT", comparison_name(x, y), x, y))
    ref, why = _reference(configs, ok)
    if ref:
        for x in combo_order({x for m, x in configs if m == "self"}):
            if x != ref:
                a, b = ("self", x), ("self", ref)
                pairs.append(Pair("modalities_self", comparison_name(a, b), a, b))
        notes.append(f"modalities_self: each self combination against {why}; "
                     f"estimates are {ref} - other")
    desc = {"self_vs_cross": "self vs cross per modality combination (estimate = cross - self)",
            "ablation_AVT": "all pairs of AVT models in the order " + ", ".join(m for m, _ in abl)
                            + " (estimate = later - earlier); Friedman + Nemenyi over all",
            "modalities_self": f"self: each combination vs {ref} (estimate = {ref} - other)"}
    return pairs, {"reference": ref, **desc}, notes


def _reference(configs: set, ok: pd.DataFrame) -> tuple[str | None, str]:
    """The reference combination of modalities_self (AVT, else the best self combination)."""
    self_mods = [x for m, x in configs if m == "self"]
    if len(self_mods) < 2:
        return None, ""
    if ("self", "AVT") in set(zip(ok["model"], ok["modalities"])):
        return "AVT", "AVT (all modalities)"
    accs = ok[ok["model"] == "self"].groupby("modalities")["test_accuracy"].mean()
    accs = accs[accs.index.isin(self_mods)]
    if not len(accs):
        return None, ""
    ref = str(accs.idxmax())
    return ref, f"{ref} (highest mean test accuracy; self has no AVT results)"
