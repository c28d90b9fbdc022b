"""Late fusion: each modality averaged over time, one linear layer each, concatenated, classified.

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
        # (B, T_m, D_m) -> mean over time (B, D_m) -> (B, hidden); padded text tokens are
        # zero vectors, so the text mean is scaled by the share of real tokens.
        parts = [self.project[m](batch[m].mean(dim=1)) for m in self.modalities]
        return self.classify(torch.cat(parts, dim=-1))  # (B, n_classes)
