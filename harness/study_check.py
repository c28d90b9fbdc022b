"""Validation helpers for study files: every message names the file, the dotted key, what is
allowed and what was found (with the closest valid name when a name is misspelled)."""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import fields
from typing import Any

from .errors import StudyError
from .models.shapes import ALL_COMBINATIONS, MODALITY_ORDER


class Ctx:
    """Where we are in the file, for messages."""

    def __init__(self, source: str):
        self.source = source

    def fail(self, key: str, allowed: str, found: Any) -> StudyError:
        return StudyError(
            f"{self.source}: key '{key}' must be {allowed}. Got {found!r} instead."
        )


def suggest(word: str, options) -> str:
    close = difflib.get_close_matches(str(word), list(options), n=1, cutoff=0.5)
    return f" Did you mean '{close[0]}'?" if close else ""


def check_keys(ctx: Ctx, section: dict, allowed, where: str) -> None:
    for key in section:
        if key not in allowed:
            path = f"{where}.{key}" if where else str(key)
            raise StudyError(
                f"{ctx.source}: unknown key '{path}'.{suggest(key, allowed)} "
                f"Allowed keys{' in ' + repr(where) if where else ''}: {', '.join(sorted(allowed))}."
            )


def section(ctx: Ctx, raw: dict, key: str) -> dict:
    value = raw.get(key, {})
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ctx.fail(key, "a mapping of settings", value)
    return value


def check_int(ctx, key, value, minimum=None, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ctx.fail(key, "an integer" + (f" >= {minimum}" if minimum is not None else ""), value)
    if minimum is not None and value < minimum:
        raise ctx.fail(key, f"an integer >= {minimum}", value)
    return value


def check_float(ctx, key, value, low=None, high=None, low_open=False):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ctx.fail(key, "a number", value)
    value = float(value)
    bad_low = low is not None and (value <= low if low_open else value < low)
    bad_high = high is not None and value > high
    if bad_low or bad_high:
        lo = f"{'>' if low_open else '>='} {low}" if low is not None else ""
        hi = f"<= {high}" if high is not None else ""
        raise ctx.fail(key, "a number " + " and ".join(s for s in (lo, hi) if s), value)
    return value


def check_bool(ctx, key, value):
    if not isinstance(value, bool):
        raise ctx.fail(key, "true or false", value)
    return value


def check_str_list(ctx, key, value):
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ctx.fail(key, "a list of strings", value)
    return tuple(value)


def check_choice(ctx, key, value, options):
    if value not in options:
        raise StudyError(
            f"{ctx.source}: key '{key}' must be one of {', '.join(map(str, options))}. "
            f"Got {value!r} instead.{suggest(value, options)}"
        )
    return value


def build_section(ctx: Ctx, cls, raw: dict, where: str, checks: dict):
    """Dataclass `cls` from `raw`, unknown keys rejected, each value through checks[key]."""
    names = [f.name for f in fields(cls)]
    check_keys(ctx, raw, names, where)
    values = {}
    for key, value in raw.items():
        check = checks.get(key)
        values[key] = check(f"{where}.{key}", value) if check else value
    return cls(**values)


def expand_path(value: str) -> str:
    """Expand $VAR, ${VAR} and ~; an unset variable is an error, not an empty string."""
    missing = [
        m.group(1) or m.group(2)
        for m in re.finditer(r"\$(?:\{(\w+)\}|(\w+))", value)
        if (m.group(1) or m.group(2)) not in os.environ
    ]
    if missing:
        raise StudyError(
            f"environment variable ${missing[0]} used in data.path ({value!r}) is not set. "
            f"Set it to the data's location, e.g. export {missing[0]}=/path/to/data."
        )
    return os.path.expanduser(os.path.expandvars(value))


def normalise_combination(text: str) -> str:
    """'TA' -> 'AT', 'avt' -> 'AVT'; raises ValueError on anything else."""
    letters = str(text).upper().replace("+", "")
    if not letters or any(c not in MODALITY_ORDER for c in letters) or len(set(letters)) != len(letters):
        raise ValueError(text)
    return "".join(c for c in MODALITY_ORDER if c in letters)


def id_list(ctx, key, value, what, minimum=0):
    """A positive count n -> (1..n), or a list of distinct integers >= minimum."""
    allowed = f"a positive count of {what} or a list of distinct integers >= {minimum}"
    if isinstance(value, bool):
        raise ctx.fail(key, allowed, value)
    if isinstance(value, int):
        if value < 1:
            raise ctx.fail(key, allowed, value)
        return tuple(range(1, value + 1))
    if not isinstance(value, list) or not value:
        raise ctx.fail(key, allowed, value)
    for v in value:
        if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
            raise ctx.fail(key, allowed, v)
    if len(set(value)) != len(value):
        raise ctx.fail(key, allowed + " (no repeats)", value)
    return tuple(value)


def parse_modalities(ctx: Ctx, value, key: str) -> tuple[str, ...]:
    if value == "all":
        return ALL_COMBINATIONS
    if isinstance(value, str):
        value = [value]
    allowed = "'all' or a list of combinations of the letters A, V, T such as [T, AV, AVT]"
    if not isinstance(value, list) or not value:
        raise ctx.fail(key, allowed, value)
    out = []
    for v in value:
        try:
            out.append(normalise_combination(v))
        except ValueError:
            raise ctx.fail(key, allowed, v) from None
    if len(set(out)) != len(out):
        raise ctx.fail(key, "a list without repeats (letter order does not matter)", value)
    return tuple(sorted(out, key=ALL_COMBINATIONS.index))
