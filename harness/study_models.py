"""The study's `models` mapping for models of the user's own, and its `comparisons`.

Syntax only: nothing is imported here (the table and the report parse a results folder's
study.yaml without the user's package); harness.plan imports and probes the models.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from .errors import StudyError
from .models.registry import MODELS, model_names
from .models.shapes import ALL_COMBINATIONS
from .study_check import Ctx, check_keys, parse_modalities, suggest


@dataclass(frozen=True)
class UserModel:
    """A model given by import path in the study's `models` mapping."""

    import_path: str  # module:callable, importable where runs execute
    params: dict = field(default_factory=dict)  # keyword arguments for the callable


@dataclass(frozen=True)
class Comparison:
    """One declared comparison: estimate = b - a, on `on` (None: every shared combination)."""

    a: str
    b: str
    on: tuple[str, ...] | None = None


def parse_models(ctx: Ctx, value) -> tuple[tuple[str, ...], dict, dict]:
    """A list of model names, or a mapping name -> its own combinations (null: 'modalities')
    or, for a model of the user's, -> {import: module:callable, modalities, params}."""
    own, user = {}, {}
    if isinstance(value, dict):
        own = dict(value)
        value = list(value)
    if isinstance(value, str):
        value = [value]
    known = model_names()
    if not isinstance(value, list) or not value:
        raise ctx.fail("models", f"a non-empty list drawn from {', '.join(known)} (or a mapping "
                       "from model names to their modality combinations or to "
                       "{import: module:callable})", value)
    for m in value:
        if isinstance(own.get(m), dict):
            user[m] = _parse_user_model(ctx, m, own[m])
            own[m] = own[m].get("modalities")
        elif m not in known:
            raise StudyError(
                f"{ctx.source}: unknown model {m!r} in 'models'.{suggest(m, known)} "
                f"Allowed: {', '.join(known)}, or a model of your own given as "
                f"'{m}: {{import: module:callable}}'."
            )
    if len(set(value)) != len(value):
        raise ctx.fail("models", "a list without repeats", value)
    return tuple(value), own, user


def _parse_user_model(ctx: Ctx, name, raw: dict) -> UserModel:
    """models.<name>: {import: module:callable, modalities: [...], params: {...}}."""
    key = f"models.{name}"
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_.-]*", name):
        raise ctx.fail("models", "model names made of letters, digits, '_', '-', '.' "
                       "(starting with a letter)", name)
    if name in MODELS:
        raise StudyError(f"{ctx.source}: key 'models.{name}' is a mapping, but '{name}' is a "
                         f"built-in model (built-ins: {', '.join(model_names())}): give a built-in "
                         f"its combinations as a list ({name}: [AVT]), and a model of your own "
                         "with 'import' a name that is not a built-in's.")
    check_keys(ctx, raw, ("import", "modalities", "params"), key)
    path = raw.get("import")
    if not isinstance(path, str) or not re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*", path):
        raise ctx.fail(f"{key}.import", "'module:callable' (e.g. mypkg.fusion:LateFusion)", path)
    params = raw.get("params") or {}
    if not isinstance(params, dict) or not all(isinstance(k, str) for k in params):
        raise ctx.fail(f"{key}.params", "a mapping of keyword arguments for the callable", params)
    try:  # params enter the run id as JSON
        json.dumps(params, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError):
        raise ctx.fail(f"{key}.params", "plain YAML values (numbers, strings, booleans, lists, "
                       "mappings)", params) from None
    return UserModel(import_path=path, params=params)


def parse_comparisons(ctx: Ctx, value, study) -> tuple[Comparison, ...]:
    """comparisons: [[a, b], {a: .., b: .., on: [..]}, ...] (estimate = b - a)."""
    if value is None:
        return ()
    if not isinstance(value, list) or not value:
        raise ctx.fail("comparisons", "a list of [a, b] pairs or {a, b, on} mappings", value)
    out = []
    for i, item in enumerate(value):
        c = _parse_comparison(ctx, f"comparisons[{i}]", item, study)
        if c in out:
            raise ctx.fail("comparisons", "a list without repeats", [c.a, c.b])
        out.append(c)
    return tuple(out)


def _parse_comparison(ctx: Ctx, key: str, item, study) -> Comparison:
    if isinstance(item, list) and len(item) == 2:
        item = {"a": item[0], "b": item[1]}
    if not isinstance(item, dict):
        raise ctx.fail(key, "[a, b] or {a: model, b: model, on: [combinations]}", item)
    if True in item and "on" not in item:  # YAML 1.1 reads the bare key `on` as true
        item = {("on" if k is True else k): v for k, v in item.items()}
    check_keys(ctx, item, ("a", "b", "on"), key)
    for side in ("a", "b"):
        m = item.get(side)
        if m not in study.models:
            raise StudyError(f"{ctx.source}: key '{key}.{side}' must name a model of the study's "
                             f"'models' ({', '.join(study.models)}). Got {m!r} instead."
                             f"{suggest(m, study.models)}")
    a, b = item["a"], item["b"]
    if a == b:
        raise ctx.fail(key, "two different models", [a, b])
    on = None if item.get("on") is None else parse_modalities(ctx, item["on"], f"{key}.on")
    c = Comparison(a, b, on)
    have = [m for m in ALL_COMBINATIONS
            if m in study.combinations_for(a) and m in study.combinations_for(b)]
    missing = [m for m in study.comparison_combinations(c) if m not in have]
    if not have or missing:
        shared = "only " + ", ".join(have) if have else "no modality combination"
        raise StudyError(
            f"{ctx.source}: key '{key}' compares '{a}' with '{b}' on "
            f"{', '.join(missing) or 'their shared combinations'}, but they share {shared} "
            f"('{a}' runs on {', '.join(study.combinations_for(a))}; '{b}' on "
            f"{', '.join(study.combinations_for(b))}).")
    return c
