"""The paper's fusion models: three encoders, attention fusion, pooling, a registry of five.

Every model is the same network; they differ only in which (query, key/value) modality
pairs are attended and in the pooling:

    self        (m, m) for each modality                          statistical pooling
    cross       (target, source) for each ordered pair, t != s    statistical pooling
    cross_self  both sets                                         statistical pooling
    self_nosp   as self                                           concatenation
    cross_nosp  as cross                                          concatenation

Shapes below use B = batch, h = hidden (60), E = 2h (120); full IEMOCAP shapes in brackets.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .study import MODALITY_ORDER, NEEDS_TWO_MODALITIES, ModelConfig


@dataclass(frozen=True)
class InputShapes:
    """What the encoders must know about the data (from the data files or the format)."""

    audio_frames: int  # 1000
    audio_dim: int  # 120 MFCC
    video_frames: int  # 32
    video_dim: int  # 2048 ResNet features
    embed_dim: int  # 300 GloVe
    n_classes: int  # 7


def attention_pairs(model: str, modalities: str) -> list[tuple[str, str]]:
    """(query, key/value) modality pairs a model attends, in a fixed order."""
    mods = [m for m in MODALITY_ORDER if m in modalities]
    self_pairs = [(m, m) for m in mods]
    cross_pairs = [(t, s) for t in mods for s in mods if s != t]
    if model in NEEDS_TWO_MODALITIES and len(mods) < 2:
        raise ValueError(f"model {model!r} needs at least two modalities, got {modalities!r}")
    return {
        "self": self_pairs,
        "self_nosp": self_pairs,
        "cross": cross_pairs,
        "cross_nosp": cross_pairs,
        "cross_self": cross_pairs + self_pairs,
    }[model]


def uses_stat_pooling(model: str) -> bool:
    return not model.endswith("_nosp")


MODELS = ("self", "cross", "cross_self", "self_nosp", "cross_nosp")


class FrameMixEncoder(nn.Module):
    """Kernel-1 convolution that mixes frames (time steps as channels), then a BiGRU.

    [B, T_in, D] -conv-> [B, T_out, D] -BiGRU-> [B, T_out, 2h]
    """

    def __init__(self, frames_in: int, frames_out: int, dim: int, hidden: int):
        super().__init__()
        self.mix = nn.Conv1d(frames_in, frames_out, kernel_size=1)
        self.gru = nn.GRU(dim, hidden, batch_first=True, bidirectional=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.mix(x)  # (B, T_out, D)
        return self.gru(x)[0]  # (B, T_out, 2h)


class TextEncoder(nn.Module):
    """Embedding dropout, then a BiGRU. [B, L, 300] -> [B, L, 2h]."""

    def __init__(self, dim: int, hidden: int, dropout: float):
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.gru = nn.GRU(dim, hidden, batch_first=True, bidirectional=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.gru(self.drop(x))[0]  # (B, L, 2h)


class AttentionBlock(nn.Module):
    """Multi-head attention (self when source is query) and the mean over the query's time.

    Attention weights are not returned (`need_weights=False`) so PyTorch takes its fused
    scaled-dot-product path.
    """

    def __init__(self, dim: int, heads: int, dropout: float):
        super().__init__()
        self.attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)

    def forward(self, query: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
        out = self.attn(query, source, source, need_weights=False)[0]  # (B, Tq, E)
        return out.mean(dim=1)  # (B, E)


def statistical_pooling(vectors: torch.Tensor) -> torch.Tensor:
    """[B, K, E] -> [B, 2E]: mean and unbiased std over the K attention outputs.

    With K = 1 (one modality, self-attention) the unbiased std is undefined (0/0 = NaN);
    we use 0 instead — the spread of a single vector — so the classifier sees [mean, 0].
    """
    mean = vectors.mean(dim=1)
    if vectors.shape[1] > 1:
        std = vectors.std(dim=1, unbiased=True)
    else:
        std = torch.zeros_like(mean)
    return torch.cat([mean, std], dim=-1)


class FusionModel(nn.Module):
    """Encoders for the modalities used, one attention block per pair, pooling, classifier."""

    def __init__(self, model: str, modalities: str, shapes: InputShapes, cfg: ModelConfig):
        super().__init__()
        self.model_name = model
        self.modalities = "".join(m for m in MODALITY_ORDER if m in modalities)
        self.pairs = attention_pairs(model, self.modalities)
        self.stat_pooling = uses_stat_pooling(model)
        h, width = cfg.hidden, 2 * cfg.hidden
        encoders = {}
        if "A" in self.modalities:
            out = cfg.audio_conv_channels or max(1, shapes.audio_frames // 2)
            encoders["A"] = FrameMixEncoder(shapes.audio_frames, out, shapes.audio_dim, h)
        if "V" in self.modalities:
            out = cfg.video_conv_channels or max(1, round(shapes.video_frames * 25 / 32))
            encoders["V"] = FrameMixEncoder(shapes.video_frames, out, shapes.video_dim, h)
        if "T" in self.modalities:
            encoders["T"] = TextEncoder(shapes.embed_dim, h, cfg.text_dropout)
        self.encoders = nn.ModuleDict(encoders)
        self.blocks = nn.ModuleDict(
            {q + s: AttentionBlock(width, cfg.heads, cfg.attn_dropout) for q, s in self.pairs}
        )
        pooled = 2 * width if self.stat_pooling else len(self.pairs) * width
        self.project = nn.Linear(pooled, cfg.proj_dim)  # no non-linearity, as published
        self.classify = nn.Linear(cfg.proj_dim, shapes.n_classes)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        seq = {m: enc(batch[m]) for m, enc in self.encoders.items()}  # m -> (B, T_m, E)
        vectors = torch.stack([self.blocks[q + s](seq[q], seq[s]) for q, s in self.pairs], dim=1)
        # vectors: (B, K, E)
        pooled = statistical_pooling(vectors) if self.stat_pooling else vectors.flatten(1)
        return self.classify(self.project(pooled))  # (B, n_classes) logits


def build_model(model: str, modalities: str, shapes: InputShapes, cfg: ModelConfig) -> FusionModel:
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; known: {', '.join(MODELS)}")
    return FusionModel(model, modalities, shapes, cfg)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def parameter_count(model: str, modalities: str, shapes: InputShapes, cfg: ModelConfig) -> int:
    """Trainable parameters without allocating the weights (meta device)."""
    with torch.device("meta"):
        return count_parameters(build_model(model, modalities, shapes, cfg))
