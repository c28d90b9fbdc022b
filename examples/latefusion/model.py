"""Late fusion: each modality averaged over time, one linear layer each, concatenated, classified.

The mean is over the valid (non-padding) steps: the corpus pads frames and tokens with zero
vectors.

An example of a model of your own for harness. The protocol:

* ``LateFusion(modalities, shapes, **params)`` builds the module; ``modalities`` is a
  combination such as ``"AT"`` and ``shapes`` a ``harness.InputShapes``;
* ``forward(batch)`` takes ``{"A": [B, frames, features], "V": [B, frames, features],
  "T": [B, tokens, embedding]}`` (only the run's modalities) and returns logits
  ``[B, n_classes]``.

harness trains it exactly as it trains its own models. Use it from a study with::

    models:
      late:
        import: latefusion:LateFusion
        params: {hidden: 32}

with this folder's parent (``examples/``) on PYTHONPATH.
"""

from __future__ import annotations

import torch
from torch import nn


class LateFusion(nn.Module):
    """Mean over time per modality -> Linear(features, hidden) each -> concat -> classifier."""

    def __init__(self, modalities: str, shapes, hidden: int = 32, dropout: float = 0.1):
        super().__init__()
        dims = {"A": shapes.audio_dim, "V": shapes.video_dim, "T": shapes.embed_dim}
        self.modalities = modalities
        self.project = nn.ModuleDict({m: nn.Linear(dims[m], hidden) for m in modalities})
        self.classify = nn.Sequential(nn.ReLU(), nn.Dropout(dropout),
                                      nn.Linear(hidden * len(modalities), shapes.n_classes))

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        # (B, T_m, D_m) -> mean over the valid steps (B, D_m) -> (B, hidden)
        parts = [self.project[m](valid_mean(batch[m])) for m in self.modalities]
        return self.classify(torch.cat(parts, dim=-1))  # (B, n_classes)


def valid_mean(x: torch.Tensor) -> torch.Tensor:
    """Mean over time of the non-padding steps: padded frames and tokens are zero vectors."""
    valid = (x != 0).any(dim=-1, keepdim=True).to(x.dtype)  # (B, T, 1)
    return (x * valid).sum(dim=1) / valid.sum(dim=1).clamp(min=1)  # (B, D)
