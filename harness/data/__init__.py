"""Data: the IEMOCAP reader (Yoon et al. format) and a synthetic generator in that format."""

from .iemocap import (AUDIO_NORMS, CLASS_COUNTS, CLASS_NAMES, IEMOCAP_SHAPES, N_FOLDS,
                      SPLITS, Fold, Shapes, Split, fingerprint, fold_dir, is_synthetic,
                      load_fold, read_shapes)
from .synthetic import PRESETS, SIGNAL, ensure_synthetic, make_synthetic

__all__ = [
    "AUDIO_NORMS", "CLASS_COUNTS", "CLASS_NAMES", "IEMOCAP_SHAPES", "N_FOLDS", "SPLITS",
    "Fold", "Shapes", "Split", "fingerprint", "fold_dir", "is_synthetic", "load_fold",
    "read_shapes", "PRESETS", "SIGNAL", "ensure_synthetic", "make_synthetic",
]
