"""Data: the corpus registry (:mod:`.corpus`) and the built-in formats, registered on import.

``iemocap_yoon`` (:mod:`.iemocap`), ``synthetic`` (:mod:`.synthetic`, the Yoon layout
generated on first use) and ``mmsa`` (:mod:`.mmsa`, the MMSA toolkit's feature pickles).
"""

from .corpus import (CORPORA, Corpus, CorpusEntry, Fold, Split, open_corpus,
                     register_corpus)
from .iemocap import (AUDIO_NORMS, CLASS_COUNTS, CLASS_NAMES, IEMOCAP_SHAPES, N_FOLDS,
                      SPLITS, Shapes, fingerprint, fold_dir, load_fold,
                      read_shapes)
from .mmsa import LABEL_RULES
from .synthetic import PRESETS, SIGNAL, ensure_synthetic, is_synthetic, make_synthetic

__all__ = [
    "CORPORA", "Corpus", "CorpusEntry", "Fold", "Split", "open_corpus", "register_corpus",
    "AUDIO_NORMS", "CLASS_COUNTS", "CLASS_NAMES", "IEMOCAP_SHAPES", "N_FOLDS", "SPLITS",
    "Shapes", "fingerprint", "fold_dir", "is_synthetic", "load_fold",
    "read_shapes", "LABEL_RULES", "PRESETS", "SIGNAL", "ensure_synthetic", "make_synthetic",
]
