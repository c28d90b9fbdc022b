"""Names shown in the report: model and test labels (from their registries), metrics, orders, units."""

from __future__ import annotations

from harness.models.registry import MODELS as _MODELS  # display labels and the default model order
from harness.stats.registry import TESTS as _TESTS  # every test's label and short name

MODALITY_ORDER = ("A", "V", "T", "AV", "AT", "VT", "AVT")
METRICS = ("balanced_accuracy", "accuracy")
# The paper's naming (opposite of much of the literature): WA = balanced accuracy, UWA = accuracy.
METRIC_SHORT = {"balanced_accuracy": "WA", "accuracy": "UWA", "macro_f1": "macro F1", "weighted_f1": "weighted F1"}
METRIC_LONG = {"balanced_accuracy": "balanced accuracy (WA)", "accuracy": "accuracy (UWA)",
               "macro_f1": "macro F1", "weighted_f1": "weighted F1"}
WA_FOOTNOTE = ("WA = balanced accuracy (mean per-class recall), UWA = accuracy, following the paper's naming; "
               "much of the literature uses the opposite words")
UNIT_WORDS = {"run": "paired runs", "fold": "fold means", "utterance": "utterances", "block": "blocks"}
CORRECTION_NAMES = {"holm": "Holm", "fdr_bh": "Benjamini-Hochberg", "none": "no correction"}
CI_METHODS = {  # how an interval was made, in words (stats.json ci_method)
    "t": "t", "student_t": "t", "wald": "Wald", "hodges_lehmann": "signed-rank (Hodges-Lehmann)",
    "signed_rank": "signed-rank (Hodges-Lehmann)", "tost_t": "t (TOST)", "corrected_t": "corrected t",
    "mixed_model_wald": "Wald (mixed model)", "bootstrap": "bootstrap", "rank": "rank",
}


def model_label(name: str) -> str:
    """The model's display name: the registry's label, else the name the study uses."""
    entry = _MODELS.get(name)
    label = getattr(entry, "label", None) if entry is not None else None
    return str(label) if label else str(name)


def test_label(name: str) -> str:
    entry = _TESTS.get(name)
    label = getattr(entry, "label", None) if entry is not None else None
    return str(label) if label else str(name).replace("_", " ")


def test_short(name: str) -> str:
    entry = _TESTS.get(name)
    short = getattr(entry, "short", None) if entry is not None else None
    return str(short) if short else test_label(name)


def metric_long(metric: str) -> str:
    return METRIC_LONG.get(metric, str(metric).replace("_", " "))


def metric_short(metric: str) -> str:
    return METRIC_SHORT.get(metric, str(metric).replace("_", " "))


def unit_words(unit: str) -> str:
    return UNIT_WORDS.get(unit, str(unit))


def correction_label(name) -> str:
    return CORRECTION_NAMES.get(str(name), str(name))


def ci_method_label(method) -> str:
    text = "" if method is None else str(method)
    if text in ("", "nan", "None", "none"):
        return ""
    return CI_METHODS.get(text, text.replace("_", " "))


def order_modalities(mods) -> list[str]:
    mods = list(dict.fromkeys(str(m) for m in mods))
    known = [m for m in MODALITY_ORDER if m in mods]
    return known + sorted(m for m in mods if m not in MODALITY_ORDER)


def order_models(models, preferred=()) -> list[str]:
    """`preferred` first (the study's order), then the registry's order, then the rest by name."""
    models = list(dict.fromkeys(str(m) for m in models))
    order = list(dict.fromkeys([*preferred, *_MODELS]))
    known = [m for m in order if m in models]
    return known + sorted(m for m in models if m not in order)


def split_side(label: str) -> tuple[str, str]:
    """'cross:AVT' -> ('cross', 'AVT'); a plain model name -> (name, '')."""
    text = str(label)
    if ":" in text:
        model, mods = text.rsplit(":", 1)
        return model, mods
    return text, ""


def sides(h) -> tuple[str, str]:
    """How a comparison's two sides are written: model names, with the combination when the sides differ
    in it ('self:A', 'self:AVT')."""
    a, b = split_side(h["a"])[0], split_side(h["b"])[0]
    xa, xb = h.get("modalities_a", "") or h.get("modalities", ""), h.get("modalities_b", "") or h.get("modalities", "")
    return (f"{a}:{xa}", f"{b}:{xb}") if xa != xb else (a, b)


def side_labels(h) -> tuple[str, str]:
    """As `sides`, with each model's display label."""
    a, b = sides(h)
    return tuple(model_label(x.split(":")[0]) + (f" on {x.split(':')[1]}" if ":" in x else "") for x in (a, b))
