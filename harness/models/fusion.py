"""The paper's fusion network: three encoders, attention fusion, pooling, classifier.

The built-in models are this one network; they differ only in which (query, key/value)
modality pairs are attended and in the pooling (see :mod:`harness.models.registry`).
Shapes below use B = batch, h = hidden (60), E = 2h (120); full IEMOCAP shapes in brackets.
"""

from __future__ import annotations

import torch
from torch import nn

from .kernels import attention_query_mean, bigru
from .shapes import MODALITY_ORDER, InputShapes

KERNELS = ("harness", "torch")  # resolved values of model.kernels


def _gru(gru: nn.GRU, x: torch.Tensor, kernels: str) -> torch.Tensor:
    return bigru(gru, x) if kernels == "harness" else gru(x)[0]


class FrameMixEncoder(nn.Module):
    """Kernel-1 convolution that mixes frames (time steps as channels), then a BiGRU.

    [B, T_in, D] -conv-> [B, T_out, D] -BiGRU-> [B, T_out, 2h]
    """

    def __init__(self, frames_in: int, frames_out: int, dim: int, hidden: int, kernels: str):
        super().__init__()
        self.kernels = kernels
        self.mix = nn.Conv1d(frames_in, frames_out, kernel_size=1)
        self.gru = nn.GRU(dim, hidden, batch_first=True, bidirectional=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.mix(x)  # (B, T_out, D)
        return _gru(self.gru, x, self.kernels)  # (B, T_out, 2h)


class TextEncoder(nn.Module):
    """Embedding dropout, then a BiGRU. [B, L, 300] -> [B, L, 2h]."""

    def __init__(self, dim: int, hidden: int, dropout: float, kernels: str):
        super().__init__()
        self.kernels = kernels
        self.drop = nn.Dropout(dropout)
        self.gru = nn.GRU(dim, hidden, batch_first=True, bidirectional=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _gru(self.gru, self.drop(x), self.kernels)  # (B, L, 2h)


class AttentionBlock(nn.Module):
    """Multi-head attention (self when source is query) and the mean over the query's time.

    kernels 'harness': the mean is taken inside the attention (:func:`attention_query_mean`,
    chunked, with its own dropout stream); 'torch': nn.MultiheadAttention with
    ``need_weights=False``, so PyTorch takes its fused scaled-dot-product kernels.
    """

    def __init__(self, dim: int, heads: int, dropout: float, kernels: str):
        super().__init__()
        self.kernels = kernels
        self.attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)

    def forward(self, query: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
        if self.kernels == "harness":
            return attention_query_mean(self.attn, query, source, self.training)  # (B, E)
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
    """Encoders for the modalities used, one attention block per pair, pooling, classifier.

    pooling 'statistical' (mean and std over the pair vectors) or 'concat' (the noSP
    ablation: the K vectors concatenated). Keyword settings are the study's ``model:``
    section (harness.study.ModelConfig), with ``kernels`` already resolved.
    """

    def __init__(self, pairs: list[tuple[str, str]], pooling: str, modalities: str,
                 shapes: InputShapes, *, hidden: int = 60, heads: int = 6,
                 attn_dropout: float = 0.1, text_dropout: float = 0.25,
                 audio_conv_channels: int | None = None, video_conv_channels: int | None = None,
                 proj_dim: int = 60, kernels: str = "torch"):
        super().__init__()
        if kernels not in KERNELS:
            raise ValueError(f"kernels must be one of {KERNELS} (resolve 'auto' first), got {kernels!r}")
        if pooling not in ("statistical", "concat"):
            raise ValueError(f"pooling must be 'statistical' or 'concat', got {pooling!r}")
        self.modalities = "".join(m for m in MODALITY_ORDER if m in modalities)
        self.pairs = list(pairs)
        self.stat_pooling = pooling == "statistical"
        width = 2 * hidden
        encoders = {}
        if "A" in self.modalities:
            out = audio_conv_channels or max(1, shapes.audio_frames // 2)
            encoders["A"] = FrameMixEncoder(shapes.audio_frames, out, shapes.audio_dim, hidden, kernels)
        if "V" in self.modalities:
            out = video_conv_channels or max(1, round(shapes.video_frames * 25 / 32))
            encoders["V"] = FrameMixEncoder(shapes.video_frames, out, shapes.video_dim, hidden, kernels)
        if "T" in self.modalities:
            encoders["T"] = TextEncoder(shapes.embed_dim, hidden, text_dropout, kernels)
        self.encoders = nn.ModuleDict(encoders)
        self.blocks = nn.ModuleDict(
            {q + s: AttentionBlock(width, heads, attn_dropout, kernels) for q, s in self.pairs})
        pooled = 2 * width if self.stat_pooling else len(self.pairs) * width
        self.project = nn.Linear(pooled, proj_dim)  # no non-linearity, as published
        self.classify = nn.Linear(proj_dim, shapes.n_classes)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        seq = {m: enc(batch[m]) for m, enc in self.encoders.items()}  # m -> (B, T_m, E)
        vectors = torch.stack([self.blocks[q + s](seq[q], seq[s]) for q, s in self.pairs], dim=1)
        # vectors: (B, K, E)
        pooled = statistical_pooling(vectors) if self.stat_pooling else vectors.flatten(1)
        return self.classify(self.project(pooled))  # (B, n_classes) logits
