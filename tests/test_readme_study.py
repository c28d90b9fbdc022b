"""The README's study listing ("The study file, key by key") shows every key, each with
the default the loader resolves (required keys excepted: they have none)."""

from __future__ import annotations

from pathlib import Path

import yaml

from harness.study import dump_study, parse_study

README = Path(__file__).resolve().parents[1] / "README.md"
# Required keys have no default: the listing shows an example. `comparisons` is left out
# of a resolved study when empty (the paper's families).
EXAMPLES = {"name", "data.path", "models", "folds", "seeds", "comparisons"}


def listing() -> dict:
    section = README.read_text().split("## The study file, key by key", 1)[1]
    return yaml.safe_load(section.split("```yaml", 1)[1].split("```", 1)[0])


def leaves(d: dict, prefix: str = "") -> dict:
    """Dotted key -> value; `models` (a list or a mapping) is one value."""
    out = {}
    for key, value in d.items():
        path = prefix + key
        if isinstance(value, dict) and path != "models":
            out.update(leaves(value, path + "."))
        else:
            out[path] = value
    return out


def test_readme_listing_has_every_key_with_its_resolved_default():
    shown = listing()
    minimal = {"name": shown["name"], "data": {"path": shown["data"]["path"]},
               "models": ["self"], "folds": shown["folds"], "seeds": shown["seeds"]}
    default = leaves(yaml.safe_load(dump_study(parse_study(minimal, source="minimal"))))
    # the listing is itself a valid study; resolved, its values are in the loader's form
    resolved = leaves(yaml.safe_load(dump_study(parse_study(shown, source="README.md"))))
    assert set(leaves(shown)) - EXAMPLES == set(default) - EXAMPLES  # none missing, none invented
    differ = {k: (resolved[k], default[k]) for k in default
              if k not in EXAMPLES and resolved[k] != default[k]}
    assert not differ  # README value, resolved default
