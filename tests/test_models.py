"""Models: the paper's parameter counts, forward shapes for every model x combination."""

from __future__ import annotations

import pytest
import torch

from harness.models import (MODELS, InputShapes, attention_pairs, build_model, parameter_count,
                            statistical_pooling)
from harness.study import ALL_COMBINATIONS, NEEDS_TWO_MODALITIES, ModelConfig

PAPER = InputShapes(audio_frames=1000, audio_dim=120, video_frames=32, video_dim=2048,
                    embed_dim=300, n_classes=7)
TINY = InputShapes(audio_frames=12, audio_dim=8, video_frames=6, video_dim=10, embed_dim=9, n_classes=7)


def test_paper_parameter_counts():
    # Published tri-modal models (Rajan et al. 2022, smartcameras/SelfCrossAttn).
    assert parameter_count("self", "AVT", PAPER, ModelConfig()) == 1_645_892
    assert parameter_count("cross", "AVT", PAPER, ModelConfig()) == 1_820_132


def test_parameter_count_equals_built_model():
    cfg = ModelConfig()
    model = build_model("cross_self", "AV", TINY, cfg)
    assert parameter_count("cross_self", "AV", TINY, cfg) == sum(p.numel() for p in model.parameters())


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
    x = {}
    if "A" in combo:
        x["A"] = torch.randn(b, TINY.audio_frames, TINY.audio_dim, generator=g)
    if "V" in combo:
        x["V"] = torch.randn(b, TINY.video_frames, TINY.video_dim, generator=g)
    if "T" in combo:
        x["T"] = torch.randn(b, 11, TINY.embed_dim, generator=g)
    return x


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
