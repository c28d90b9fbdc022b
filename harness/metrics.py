"""Classification metrics, computed by scikit-learn.

Naming trap: the paper calls balanced accuracy (mean per-class recall) "WA" and plain
accuracy "UWA"; much of the emotion literature uses the opposite words. Here they are
`balanced_accuracy` and `accuracy`; only the paper-style report tables say WA / UWA.
"""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm

SUMMARY_METRICS = ("accuracy", "balanced_accuracy", "macro_f1", "weighted_f1")


def classification_metrics(y_true, y_pred, n_classes: int) -> dict:
    """All metrics of one split as plain Python numbers (JSON-ready)."""
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    labels = np.arange(n_classes)
    # Classes absent from y_true would make recall 0/0; sklearn warns and uses 0 —
    # zero_division=0 makes that choice explicit and silent.
    recall = skm.recall_score(y_true, y_pred, labels=labels, average=None, zero_division=0)
    present = np.isin(labels, y_true)
    return {
        "accuracy": float(skm.accuracy_score(y_true, y_pred)),
        # mean recall over the classes present in y_true, as sklearn's balanced_accuracy_score
        "balanced_accuracy": float(recall[present].mean()) if present.any() else float("nan"),
        "macro_f1": float(skm.f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        "weighted_f1": float(skm.f1_score(y_true, y_pred, labels=labels, average="weighted", zero_division=0)),
        "macro_precision": float(skm.precision_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        "weighted_precision": float(
            skm.precision_score(y_true, y_pred, labels=labels, average="weighted", zero_division=0)
        ),
        "per_class_recall": [float(r) for r in recall],
        "confusion_matrix": skm.confusion_matrix(y_true, y_pred, labels=labels).tolist(),
        "n": int(len(y_true)),
    }
