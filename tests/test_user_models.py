"""Models of the user's own, by import path: protocol, identity, probing, workers, the example.

Every model here lives in a temporary folder outside the harness package, as a user's would.
"""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from torch import nn

from harness import table
from harness.cli import main
from harness.plan import make_plan
from harness.study import load_study, parse_study

from conftest import SMALL_UTTERANCES, quick_study

REPO = Path(__file__).resolve().parent.parent

GOOD = '''
import torch
from torch import nn


class Mean(nn.Module):
    """Mean over time per modality, one linear classifier."""

    def __init__(self, modalities, shapes, scale=1.0):
        super().__init__()
        dims = {"A": shapes.audio_dim, "V": shapes.video_dim, "T": shapes.embed_dim}
        self.mods = modalities
        self.scale = scale
        self.out = nn.Linear(sum(dims[m] for m in modalities), shapes.n_classes)

    def forward(self, batch):
        return self.out(torch.cat([batch[m].mean(1) for m in self.mods], -1)) * self.scale
'''


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    """write(source) -> module name: a module in a fresh folder on sys.path and PYTHONPATH."""
    folder = tmp_path / "userpkg"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setenv("PYTHONPATH", str(folder))
    count = iter(range(100))

    def write(source: str, name: str | None = None) -> str:
        name = name or f"um_{tmp_path.name.replace('-', '_')}_{next(count)}"
        (folder / f"{name}.py").write_text(textwrap.dedent(source))
        return name

    return write


def user_study(data, module, attr="Mean", **over):
    models = {"self": ["AT"], "mine": {"import": f"{module}:{attr}", "modalities": ["AT"]}}
    study = quick_study(data, models=models, modalities=["AT"], seeds=[1, 2],
                        training={"max_epochs": 2, "patience": 2},
                        comparisons=[["self", "mine"]])
    study.update(over)
    return study


def test_user_model_trains_end_to_end_on_loky(small_data, user_module, write_study, tmp_path):
    module = user_module(GOOD)
    study = user_study(small_data, module, execution={"backend": "loky", "jobs": 2},
                       report={"figures": False})
    results, reports = tmp_path / "results", tmp_path / "reports"
    code = main(["run-study", str(write_study(study)), "--results-dir", str(results),
                 "--reports-dir", str(reports), "--quiet"])
    assert code == 0
    folder = table.load(results / "t")
    runs = folder.runs
    assert sorted(runs["model"].unique()) == ["mine", "self"] and (runs["status"] == "ok").all()
    mine = runs[runs["model"] == "mine"]
    assert len(mine) == 2 and (mine["n_params"] == (20 + 32) * 7 + 7).all()
    assert folder.study.user_models["mine"].import_path == f"{module}:Mean"
    assert [(c.a, c.b) for c in folder.study.comparisons] == [("self", "mine")]
    spec = json.loads((results / "t" / "runs" / mine["run_id"].iloc[0] / "spec.json").read_text())
    assert spec["identity"]["model_ref"]["import"] == f"{module}:Mean"
    assert len(spec["identity"]["model_ref"]["source_sha256"]) == 64
    history = folder.history(mine["run_id"].iloc[0])
    assert len(history) == 2 and history["train_loss"].notna().all()
    # the declared comparison reaches the statistics and the report under the study's names
    stats = folder.stats_json()
    rows = [r for r in stats["rows"] if r["family"] == "comparisons"]
    assert rows and {(r["model_a"], r["model_b"], r["modalities_a"]) for r in rows} == {("self", "mine", "AT")}
    (head,) = stats["headline"]
    assert (head["a"], head["b"], head["modalities"]) == ("self", "mine", "AT")
    by_seed = runs.pivot(index="seed", columns="model", values="test_balanced_accuracy")
    assert head["estimate"] == pytest.approx((by_seed["mine"] - by_seed["self"]).mean(), abs=1e-9)
    assert "mine" in (reports / "t" / "report.md").read_text()
    # the results folder is read without the user's package (nothing imports it)
    Path(__import__(module).__file__).unlink()
    assert table.load(results / "t").study.user_models["mine"].import_path == f"{module}:Mean"


def test_editing_the_source_changes_only_its_run_ids(small_data, user_module):
    module = user_module(GOOD)
    study = parse_study(user_study(small_data, module), source="t.yaml")

    def ids():
        plan = make_plan(study, "fp")
        return ({r.key: r.run_id for r in plan.runs if r.model == "self"},
                {r.key: r.run_id for r in plan.runs if r.model == "mine"})

    self_before, mine_before = ids()
    path = Path(__import__(module).__file__)
    path.write_text(path.read_text() + "\n# a comment is an edit too\n")
    self_after, mine_after = ids()
    assert self_after == self_before
    assert mine_after.keys() == mine_before.keys()
    assert not set(mine_after.values()) & set(mine_before.values())
    # params are part of the identity as well
    other = user_study(small_data, module)
    other["models"]["mine"]["params"] = {"scale": 2.0}
    plan = make_plan(parse_study(other, source="t.yaml"), "fp")
    assert not {r.run_id for r in plan.runs if r.model == "mine"} & set(mine_after.values())


def test_dry_run_lists_the_user_model_with_its_parameter_count(small_data, user_module,
                                                               write_study, capsys):
    module = user_module(GOOD)
    assert main(["run-study", str(write_study(user_study(small_data, module))), "--dry-run"]) == 0
    out = capsys.readouterr().out
    line = next(s for s in out.splitlines() if s.startswith("mine"))
    assert line.split() == ["mine", "AT", "2", f"{(20 + 32) * 7 + 7:,}"]


BAD = {
    "not importable": (None, "nosuch_module_xyz:Mean", ["cannot import module 'nosuch_module_xyz'",
                                                         "PYTHONPATH"]),
    "import raises": ("import torch\nraise RuntimeError('no GPU here')\n", None,
                      ["importing module", "RuntimeError: no GPU here",
                       "raise RuntimeError('no GPU here')"]),
    "attribute missing": (GOOD, "{module}:Mena", ["has no attribute 'Mena'"]),
    "not callable": ("Mean = 3\n", None, ["'Mean' is not callable", "found int"]),
    "construction raises": (
        "def Mean(modalities, shapes):\n    raise ValueError('hidden must be even')\n", None,
        ["raised", "ValueError: hidden must be even", "raise ValueError('hidden must be even')"]),
    "forward raises": (GOOD.replace("return self.out(", "return self.out(batch['V'] +"), None,
                       ["forward failed on a 2-utterance probe batch of AT", "KeyError: 'V'",
                        "batch['V']"]),
    "wrong shape": (GOOD.replace("shapes.n_classes)", "3)"), None,
                    ["must return logits of shape [2, 7]", "got [2, 3]"]),
    "not a module": ("def Mean(modalities, shapes):\n    return 1\n", None,
                     ["returned int, not a torch.nn.Module"]),
}


@pytest.mark.parametrize("case", list(BAD))
@pytest.mark.parametrize("command", ["validate", "run-study"])
def test_bad_model_exits_2_with_one_message_and_writes_nothing(case, command, small_data, user_module,
                                                               write_study, tmp_path, capsys):
    source, path, needles = BAD[case]
    module = user_module(source) if source else None
    path = (path or "{module}:Mean").format(module=module)
    study = user_study(tmp_path / "data-not-made", module or "x")
    study["models"]["mine"]["import"] = path
    study["data"]["path"] = str(tmp_path / "data-not-made")
    argv = [command, str(write_study(study))]
    if command == "run-study":
        argv += ["--results-dir", str(tmp_path / "results"), "--reports-dir", str(tmp_path / "rep")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("harness: error:") == 1 and "Traceback" not in err
    assert "model 'mine'" in err, err
    for needle in needles:
        assert needle in err, (needle, err)
    assert not (tmp_path / "results").exists() and not (tmp_path / "data-not-made").exists()
    if "raise" in " ".join(needles):  # the user's own traceback on request
        assert main(argv + ["--traceback"]) == 2
        assert "Traceback (most recent call last)" in capsys.readouterr().err


@pytest.mark.parametrize("over, needles", [
    ({"models": {"self": {"import": "x:Mean"}}}, ["'models.self'", "built-in"]),
    ({"comparisons": [["self", "theirs"]]}, ["comparisons[0].b", "'theirs'"]),
    ({"comparisons": [{"a": "self", "b": "mine", "on": ["AVT"]}]}, ["comparisons[0]", "AVT",
                                                                     "share only AT"]),
    ({"models": {"self": ["T"], "mine": {"import": "x:Mean", "modalities": ["AT"]}}},
     ["comparisons[0]", "no modality combination"]),
    ({"models": {"mine": {"import": "x:Mean", "param": {}}}}, ["models.mine.param",
                                                               "Did you mean 'params'"]),
])
def test_bad_study_syntax_exits_2(over, needles, tmp_path, write_study, capsys):
    study = user_study(tmp_path / "absent", "x")
    study.update(over)
    assert main(["validate", str(write_study(study))]) == 2
    err = capsys.readouterr().err
    assert err.count("harness: error:") == 1 and "Traceback" not in err
    for needle in needles:
        assert needle in err, (needle, err)


def test_import_failing_in_a_worker_is_a_failed_run_not_a_hang(small_data, user_module,
                                                              write_study, tmp_path, capsys):
    # importable in this process only: every loky worker fails to import it
    module = user_module(f"import os\nif os.getpid() != {os.getpid()}:\n"
                         "    raise ImportError('only importable in the parent')\n" + GOOD)
    study = user_study(small_data, module, execution={"backend": "loky", "jobs": 2})
    results = tmp_path / "results"
    code = main(["run-study", str(write_study(study)), "--results-dir", str(results),
                 "--no-report", "--quiet"])
    assert code == 1
    err = capsys.readouterr().err
    runs = table.load(results / "t").runs
    assert (runs[runs["model"] == "self"]["status"] == "ok").all()
    failed = runs[runs["model"] == "mine"]
    assert len(failed) == 2 and (failed["status"] == "failed").all()
    assert failed["error"].str.contains("only importable in the parent").all()
    assert sum(line.startswith("failed: ") for line in err.splitlines()) == 2


def test_example_study_compares_late_fusion_with_self_and_cross(tmp_path, monkeypatch, capsys):
    """studies/compare_late_fusion.yaml with examples/ on the path, shrunk to one run each."""
    monkeypatch.syspath_prepend(str(REPO / "examples"))
    monkeypatch.setenv("PYTHONPATH", str(REPO / "examples"))
    raw = yaml.safe_load((REPO / "studies" / "compare_late_fusion.yaml").read_text())
    study = load_study(REPO / "studies" / "compare_late_fusion.yaml")
    assert study.user_models["late"].import_path == "latefusion:LateFusion"
    assert {(c.a, c.b) for c in study.comparisons} >= {("self", "late"), ("cross", "late")}
    raw.update(folds=[1], seeds=[1], modalities=["AT"],
               models={"self": ["AT"], "cross": ["AT"], "late": raw["models"]["late"]},
               comparisons=[["self", "late"], ["cross", "late"]],
               training={"max_epochs": 1, "patience": 1}, execution={"backend": "sequential"})
    raw["data"].update(path=str(tmp_path / "data"), utterances=SMALL_UTTERANCES)
    path = tmp_path / "late.yaml"
    path.write_text(yaml.safe_dump(raw))
    assert main(["run-study", str(path), "--results-dir", str(tmp_path / "results"),
                 "--no-report", "--quiet"]) == 0
    runs = table.load(tmp_path / "results" / "compare_late_fusion").runs
    assert sorted(runs["model"]) == ["cross", "late", "self"] and (runs["status"] == "ok").all()


def test_a_user_model_is_trained_exactly_as_a_built_in(small_data, user_module):
    """The built-in self model, given by import path, trains to the very same numbers."""
    from harness import train

    module = user_module('''
        from harness.models import build_model
        from harness.study import ModelConfig


        def Wrapped(modalities, shapes):
            return build_model("self", modalities, shapes, ModelConfig(kernels="harness"))
        ''')
    study = quick_study(small_data, models={"self": ["T"], "wrapped": {"import": f"{module}:Wrapped"}},
                        training={"max_epochs": 2, "patience": 2}, model={"kernels": "harness"})
    builtin, user = make_plan(parse_study(study, source="t.yaml"), "fp").runs
    assert builtin.run_id != user.run_id
    a, b = train.run(builtin), train.run(user)
    assert a.ok and b.ok, (a.result["error"], b.result["error"])
    assert a.result["metrics"] == b.result["metrics"] and a.history == b.history
    assert (a.predictions["test_proba"] == b.predictions["test_proba"]).all()



class Toy(nn.Module):
    """A model registered from code: mean over time of each modality, one linear layer."""

    def __init__(self, modalities, shapes):
        super().__init__()
        dims = {"A": shapes.audio_dim, "V": shapes.video_dim, "T": shapes.embed_dim}
        self.mods = modalities
        self.out = nn.Linear(sum(dims[m] for m in modalities), shapes.n_classes)

    def forward(self, batch):
        return self.out(torch.cat([batch[m].mean(1) for m in self.mods], -1))


def test_toy_model_corpus_and_test_registered_at_run_time(tmp_path, write_study, monkeypatch):
    """Issue 12: one entry each, no edit to any module: plan -> train -> stats -> report."""
    from scipy.stats import binomtest

    from harness.data import corpus as corpus_mod
    from harness.data.corpus import CorpusEntry, register_corpus
    from harness.models import MODELS, ModelEntry, register_model
    from harness.stats.registry import TestEntry, register_test, unregister_test
    from test_data import _ToyCorpus

    def sign_test(data, unit):
        a, b = data.scores(unit)
        k = int(np.sum(b > a))
        return {"statistic": k, "pvalue": binomtest(k, int(np.sum(a != b)) or 1).pvalue,
                "estimate": float(np.median(b - a)), "note": "toy sign test"}

    monkeypatch.setattr(corpus_mod, "CORPORA", dict(corpus_mod.CORPORA))  # undone after
    register_corpus(CorpusEntry("toy_corpus", open=_ToyCorpus, description="toy"))
    register_model(ModelEntry("toy_mean", Toy, label="Toy mean"), replace=True)
    register_test(TestEntry("toy_sign", ("run",), "Sign test (toy)", "S", "secondary", sign_test))
    try:
        path = write_study({"name": "toy", "data": {"format": "toy_corpus", "path": str(tmp_path),
                                                   "classes": ["a", "b", "c"]},
                            "models": ["self", "toy_mean"], "modalities": ["AT"],
                            "comparisons": [["self", "toy_mean"]], "folds": [1, 2], "seeds": [1, 2],
                            "training": {"max_epochs": 2}, "report": {"figures": False},
                            "execution": {"backend": "sequential"}})
        results, reports = tmp_path / "results", tmp_path / "reports"
        assert main(["run-study", str(path), "--results-dir", str(results), "--reports-dir",
                     str(reports), "--quiet"]) == 0
        folder = table.load(results / "toy")
        assert (folder.runs["status"] == "ok").all() and len(folder.runs) == 8
        rows = [r for r in folder.stats_json()["rows"] if r["test"] == "toy_sign"]
        assert rows and {(r["model_a"], r["model_b"]) for r in rows} == {("self", "toy_mean")}
        assert "Toy mean" in (reports / "toy" / "report.md").read_text()
    finally:
        MODELS.pop("toy_mean", None)
        unregister_test("toy_sign")
