"""Study files: schema, defaults, normalisation, and every user error (exit 2, one message)."""

from __future__ import annotations

import pytest
import yaml

from pathlib import Path

from harness.cli import main
from harness.errors import StudyError
from harness.study import ALL_COMBINATIONS, load_study, parse_study

STUDIES = Path(__file__).resolve().parent.parent / "studies"

BASE = {
    "name": "s",
    "data": {"format": "iemocap_yoon", "path": "/nowhere"},
    "models": ["self", "cross"],
    "modalities": "all",
    "folds": 5,
    "seeds": 10,
}


def parse(**over):
    return parse_study({**BASE, **over}, source="s.yaml")


def test_defaults_are_the_papers():
    s = parse()
    assert s.modalities == ALL_COMBINATIONS
    assert s.folds == (1, 2, 3, 4, 5) and s.seeds == tuple(range(1, 11))
    assert (s.training.lr, s.training.batch_size, s.training.patience) == (1e-3, 32, 10)
    assert (s.training.lr_patience, s.training.lr_factor, s.training.dtype) == (10, 0.1, "float32")
    assert (s.model.hidden, s.model.heads, s.model.attn_dropout, s.model.text_dropout) == (60, 6, 0.1, 0.25)
    assert s.stats.equivalence_margin == 0.01 and s.stats.correction == "holm"
    assert s.data.audio_norm == "none" and len(s.data.classes) == 7


def test_modalities_any_letter_order_normalised():
    s = parse(modalities=["TA", "avt", "V"])
    assert s.modalities == ("V", "AT", "AVT")


def test_cross_skips_unimodal_and_mapping_form():
    s = parse(models={"self": "all", "cross": None, "cross_self": ["TVA"]})
    assert s.combinations_for("self") == ALL_COMBINATIONS
    assert s.combinations_for("cross") == ("AV", "AT", "VT", "AVT")
    assert s.combinations_for("cross_self") == ("AVT",)
    again = parse_study(yaml.safe_load(yaml.safe_dump(s.to_dict())), source="x")
    assert again.combinations_for("cross_self") == ("AVT",)


def test_env_var_in_path_expanded_when_used(monkeypatch, tmp_path):
    monkeypatch.setenv("MY_DATA", str(tmp_path))
    s = parse(data={"format": "iemocap_yoon", "path": "$MY_DATA/x"})
    assert str(s.data_path) == f"{tmp_path}/x"
    monkeypatch.delenv("MY_DATA")
    with pytest.raises(StudyError, match=r"\$MY_DATA"):
        s.data_path


@pytest.mark.parametrize("over, needles", [
    ({"models": ["crosss"]}, ["'crosss'", "Did you mean 'cross'", "self, cross"]),
    ({"traning": {"lr": 1}}, ["'traning'", "Did you mean 'training'"]),
    ({"training": {"max_epoch": 3}}, ["'training.max_epoch'", "Did you mean 'max_epochs'"]),
    ({"seeds": -3}, ["'seeds'", "-3", ">= 0"]),
    ({"seeds": [1, -2]}, ["'seeds'", "-2"]),
    ({"models": ["cross"], "modalities": ["A", "T"]}, ["'cross'", "two modalities"]),
    ({"modalities": ["AX"]}, ["'modalities'", "'AX'"]),
    ({"training": {"dtype": "float16"}}, ["training.dtype", "float32, float64", "float16"]),
    ({"data": {"format": "iemocap", "path": "/x"}}, ["data.format", "iemocap_yoon", "Did you mean"]),
    ({"execution": {"backend": "ray"}}, ["execution.backend", "sequential, loky, dask", "'ray'"]),
    ({"folds": 0}, ["'folds'", "positive count", ">= 1", "Got 0"]),
    ({"folds": [0, 1]}, ["'folds'", ">= 1", "Got 0"]),  # one message for a count and a list
    ({"execution": {"backend": "sequential", "jobs": 2}}, ["execution.jobs is 2", "auto or loky"]),
    ({"model": {"heads": 7}}, ["model.heads", "divisor of 2*hidden = 120", "7"]),
])
def test_errors_name_key_allowed_and_found(over, needles):
    with pytest.raises(StudyError) as exc:
        parse(**over)
    msg = str(exc.value)
    assert msg.startswith("s.yaml:")
    for needle in needles:
        assert needle in msg, (needle, msg)


def test_invalid_yaml_names_file_and_line(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("name: x\nmodels: [self\n")
    with pytest.raises(StudyError, match=r"bad.yaml: invalid YAML at line"):
        load_study(p)


BROKEN = [
    ("invalid_yaml", "name: x\nmodels: [self\n", ["invalid YAML"]),
    ("empty_file", "# to do\n", ["the study file is empty"]),
    ("unknown_model", None, ["crosss", "Did you mean 'cross'"]),
    ("cross_unimodal", None, ["'cross' gets no run"]),
    ("negative_seeds", None, ["'seeds'", "-3"]),
    ("misspelled_key", None, ["traning", "Did you mean 'training'"]),
    ("missing_data", None, ["data.path", "does not exist"]),
]


@pytest.mark.parametrize("case, text, needles", BROKEN)
def test_cli_broken_study_exit_2_one_message_nothing_written(case, text, needles, tmp_path, capsys, small_data):
    study = {**BASE, "data": {"format": "iemocap_yoon", "path": str(small_data)},
             "folds": [1], "seeds": [1], "models": ["self"], "modalities": ["T"]}
    if case == "unknown_model":
        study["models"] = ["crosss"]
    elif case == "cross_unimodal":
        study.update(models=["cross"], modalities=["A", "V", "T"])
    elif case == "negative_seeds":
        study["seeds"] = -3
    elif case == "misspelled_key":
        study["traning"] = {"lr": 0.1}
    elif case == "missing_data":
        study["data"] = {"format": "iemocap_yoon", "path": str(tmp_path / "absent")}
    path = tmp_path / f"{case}.yaml"
    path.write_text(text if text is not None else yaml.safe_dump(study))
    results, reports = tmp_path / "results", tmp_path / "reports"
    code = main(["run-study", str(path), "--results-dir", str(results), "--reports-dir", str(reports)])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    assert err.count("harness: error:") == 1 and str(path) in err
    for needle in needles:
        assert needle in err, (needle, err)
    assert not results.exists() and not reports.exists()


def test_validate_full_study_without_data(capsys, monkeypatch):
    monkeypatch.delenv("IEMOCAP_DIR", raising=False)
    full = str(STUDIES / "iemocap_full.yaml")
    assert main(["validate", full]) == 0
    assert main(["run-study", full, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "700 runs" in out
    assert "1,645,892" in out and "1,820,132" in out


def test_shipped_studies_validate():
    paths = sorted(STUDIES.glob("*.yaml"))
    assert {p.name for p in paths} >= {"iemocap_full.yaml", "demo.yaml", "ci.yaml"}
    for path in paths:
        load_study(path)


def test_user_models_and_comparisons_parse_and_round_trip():
    from harness.study import Comparison, UserModel, dump_study

    text = """
name: s
data: {format: iemocap_yoon, path: /nowhere}
models:
  self: [AVT]
  cross: [AT, AVT]
  late:
    import: mypkg.fusion:LateFusion
    modalities: [TA, AVT]
    params: {hidden: 64}
comparisons:
  - [self, late]
  - {a: cross, b: late, on: [AT]}   # YAML 1.1 reads a bare `on` key as true
folds: 5
seeds: 10
"""
    s = parse_study(yaml.safe_load(text), source="s.yaml")
    assert s.models == ("self", "cross", "late")
    assert s.user_models == {"late": UserModel("mypkg.fusion:LateFusion", {"hidden": 64})}
    assert s.combinations_for("late") == ("AT", "AVT")
    assert s.comparisons == (Comparison("self", "late", None), Comparison("cross", "late", ("AT",)))
    assert [s.comparison_combinations(c) for c in s.comparisons] == [("AVT",), ("AT",)]
    again = parse_study(yaml.safe_load(dump_study(s)), source="again.yaml")
    assert (again.user_models, again.comparisons, again.model_modalities) == (
        s.user_models, s.comparisons, s.model_modalities)
    assert parse(model={"kernels": "torch"}).model.kernels == "torch"
    with pytest.raises(StudyError, match="model.kernels"):
        parse(model={"kernels": "cuda"})
