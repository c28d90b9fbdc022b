"""Shared fixtures: synthetic data made once per session, study files written on the fly."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness.data.synthetic import make_synthetic

SMALL_UTTERANCES = 420  # small preset, trimmed so a run trains in about a second


@pytest.fixture(scope="session")
def small_data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data") / "small"
    make_synthetic(root, preset="small", utterances=SMALL_UTTERANCES, seed=0)
    return root


def quick_study(data_root: Path, **over) -> dict:
    """A tiny synthetic study as a dict; keyword arguments replace top-level keys."""
    study = {
        "name": "t",
        "data": {"format": "synthetic", "path": str(data_root), "preset": "small",
                 "utterances": SMALL_UTTERANCES},
        "models": ["self"],
        "modalities": ["T"],
        "folds": [1],
        "seeds": [1],
        "training": {"max_epochs": 4, "patience": 2},
    }
    study.update(over)
    return study


@pytest.fixture
def write_study(tmp_path):
    def _write(study: dict, name: str = "study.yaml") -> Path:
        path = tmp_path / name
        path.write_text(yaml.safe_dump(study, sort_keys=False))
        return path

    return _write
