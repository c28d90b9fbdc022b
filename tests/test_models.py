"""Models: the registry, the paper's parameter counts, forward shapes, the kernels setting."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from harness.models import (MODELS, InputShapes, ModelEntry, attention_pairs, build_model,
                            expected_cost, min_modalities, model_names, order_models,
                            parameter_count, register_model, resolve_kernels, statistical_pooling)
from harness.plan import make_plan
from harness.study import ALL_COMBINATIONS, NEEDS_TWO_MODALITIES, ModelConfig, parse_study

from conftest import quick_study

PAPER = InputShapes(audio_frames=1000, audio_dim=120, video_frames=32, video_dim=2048,
                    embed_dim=300, n_classes=7)
TINY = InputShapes(audio_frames=12, audio_dim=8, video_frames=6, video_dim=10, embed_dim=9,
                   n_classes=7, text_tokens=11)


def test_paper_parameter_counts():
    # Published tri-modal models (Rajan et al. 2022, smartcameras/SelfCrossAttn).
    assert parameter_count("self", "AVT", PAPER, ModelConfig()) == 1_645_892
    assert parameter_count("cross", "AVT", PAPER, ModelConfig()) == 1_820_132


def test_parameter_count_equals_built_model():
    cfg = ModelConfig()
    model = build_model("cross_self", "AV", TINY, cfg)
    assert parameter_count("cross_self", "AV", TINY, cfg) == sum(p.numel() for p in model.parameters())


def test_registry_is_the_one_list_of_models():
    assert model_names()[:5] == ("self", "cross", "cross_self", "self_nosp", "cross_nosp")
    assert NEEDS_TWO_MODALITIES == {"cross", "cross_self", "cross_nosp"}
    assert [min_modalities(m) for m in ("self", "cross", "unknown")] == [1, 2, 1]
    assert order_models(["mine", "cross_nosp", "self", "other"]) == ["self", "cross_nosp", "mine", "other"]
    assert MODELS["self"].display == "Self-attention" and MODELS["self_nosp"].display == "self_nosp"
    assert MODELS["self_nosp"].pooling == "concat" and MODELS["cross"].pooling == "statistical"
    # audio's attention blocks dominate the cost; a model the registry does not know costs
    # its encoders
    assert expected_cost("cross", "AVT") > expected_cost("self", "AVT") > expected_cost("self", "VT")
    assert expected_cost("nobody", "AT") == 6


def test_pairs():
    assert attention_pairs("self", "AVT") == [("A", "A"), ("V", "V"), ("T", "T")]
    cross = attention_pairs("cross", "AVT")
    assert len(cross) == 6 and all(q != s for q, s in cross)
    assert len(attention_pairs("cross_self", "AVT")) == 9
    assert attention_pairs("cross", "AT") == [("A", "T"), ("T", "A")]
    with pytest.raises(ValueError):
        attention_pairs("cross", "T")


def _batch(combo, b=5):
    g = torch.Generator().manual_seed(0)
    dims = {"A": (TINY.audio_frames, TINY.audio_dim), "V": (TINY.video_frames, TINY.video_dim),
            "T": (TINY.text_tokens, TINY.embed_dim)}
    return {m: torch.randn(b, *dims[m], generator=g) for m in combo}


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("combo", ALL_COMBINATIONS)
def test_forward_shapes_every_model_and_combination(model, combo):
    if model in NEEDS_TWO_MODALITIES and len(combo) < 2:
        with pytest.raises(ValueError):
            build_model(model, combo, TINY, ModelConfig())
        return
    torch.manual_seed(0)
    net = build_model(model, combo, TINY, ModelConfig(hidden=6, heads=2))
    out = net(_batch(combo))
    assert out.shape == (5, 7)
    assert torch.isfinite(out).all()
    out.sum().backward()
    grads = [p.grad for p in net.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


def test_unimodal_statistical_pooling_has_no_nan():
    v = torch.randn(4, 1, 12)
    pooled = statistical_pooling(v)
    assert torch.isfinite(pooled).all()
    assert torch.equal(pooled[:, :12], v[:, 0]) and torch.all(pooled[:, 12:] == 0)
    v2 = torch.randn(4, 3, 12)
    p2 = statistical_pooling(v2)
    assert torch.allclose(p2[:, 12:], v2.std(dim=1, unbiased=True))


def test_kernels_resolved_from_the_device_and_not_from_tensors():
    assert resolve_kernels("auto", "cpu") == "harness"
    assert resolve_kernels("auto", "cuda") == "torch"
    assert resolve_kernels("torch", "cpu") == "torch"
    # same weights, kernels chosen by the setting: in training mode (dropout) the two draw
    # different masks on the same CPU tensors; in eval mode they agree to rounding
    outs = {}
    for k in ("harness", "torch"):
        torch.manual_seed(0)
        net = build_model("cross", "AT", TINY, ModelConfig(hidden=6, heads=2, kernels=k))
        torch.manual_seed(1)
        outs[k] = (net(_batch("AT")), net.eval()(_batch("AT")))
    assert not torch.allclose(outs["harness"][0], outs["torch"][0])
    torch.testing.assert_close(outs["harness"][1], outs["torch"][1], rtol=1e-5, atol=1e-5)


def test_kernels_setting_is_resolved_before_planning_and_in_the_run_id(tmp_path):
    def plan(kernels, device):
        study = quick_study(tmp_path, model={"kernels": kernels}, execution={"device": device})
        return make_plan(parse_study(study, source="t.yaml"), "fp")

    cpu_auto, cpu_harness, cpu_torch = plan("auto", "cpu"), plan("harness", "cpu"), plan("torch", "cpu")
    assert cpu_auto.study.model.kernels == "harness"
    assert cpu_auto.runs[0].model_cfg.kernels == "harness"
    assert cpu_auto.runs[0].run_id == cpu_harness.runs[0].run_id
    assert cpu_torch.runs[0].run_id != cpu_harness.runs[0].run_id
    assert plan("auto", "cuda").runs[0].run_id == cpu_torch.runs[0].run_id


class Toy(nn.Module):
    def __init__(self, modalities, shapes, width=4):
        super().__init__()
        self.mods = modalities
        self.out = nn.Linear(width * len(modalities), shapes.n_classes)
        self.width = width

    def forward(self, batch):
        return self.out(torch.cat([batch[m].mean(1)[:, :self.width] for m in self.mods], -1))


def test_register_model_at_run_time(tmp_path):
    entry = register_model(ModelEntry("toy_registered", Toy, params={"width": 3}, label="Toy"),
                           replace=True)
    try:
        assert entry.import_path == f"{__name__}:Toy" and len(entry.source_sha256) == 64
        assert "toy_registered" in model_names() and order_models(["toy_registered", "self"])[0] == "self"
        study = parse_study(quick_study(tmp_path, models=["self", "toy_registered"],
                                        modalities=["AT"]), source="t.yaml")
        plan = make_plan(study, "fp")
        toy = [r for r in plan.runs if r.model == "toy_registered"][0]
        assert toy.model_ref.import_path == entry.import_path and toy.model_ref.params == {"width": 3}
        assert plan.parameter_counts()[("toy_registered", "AT")] == 3 * 2 * 7 + 7
    finally:
        MODELS.pop("toy_registered")
