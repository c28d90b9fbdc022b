"""What a model is told about its inputs (the model protocol's ``shapes`` argument)."""

from __future__ import annotations

from dataclasses import dataclass

MODALITY_ORDER = "AVT"  # audio, video, text: combinations are written in this order
ALL_COMBINATIONS = ("A", "V", "T", "AV", "AT", "VT", "AVT")


@dataclass(frozen=True)
class InputShapes:
    """Sizes of one utterance's inputs, from the data files or the format's declaration.

    A batch holds ``"A"`` [B, audio_frames, audio_dim], ``"V"`` [B, video_frames, video_dim]
    and ``"T"`` [B, text_tokens, embed_dim] (only the run's modalities).
    """

    audio_frames: int  # 1000
    audio_dim: int  # 120 MFCC
    video_frames: int  # 32
    video_dim: int  # 2048 ResNet features
    embed_dim: int  # 300 GloVe
    n_classes: int  # 7
    text_tokens: int = 128  # tokens per utterance (padded)
