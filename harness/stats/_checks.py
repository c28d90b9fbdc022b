"""Input checks shared by the tests (private to harness.stats)."""

from __future__ import annotations

from typing import Any

import numpy as np

NAN = float("nan")


def _vec(x: Any, name: str, *, min_n: int = 1, allow_int: bool = False) -> np.ndarray:
    try:
        arr = np.asarray(x)
    except Exception as exc:  # pragma: no cover - defensive
        raise ValueError(f"{name}: cannot convert to an array ({exc})") from None
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array, got shape {arr.shape}")
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name}: expected numbers, got dtype {arr.dtype}")
    if not allow_int:
        arr = arr.astype(float)
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        bad = int(np.sum(~np.isfinite(arr)))
        raise ValueError(f"{name}: contains {bad} NaN/inf value(s); remove them first")
    if arr.size < min_n:
        raise ValueError(f"{name}: needs at least {min_n} value(s), got {arr.size}")
    return arr


def _paired(a: Any, b: Any, *, min_n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a = _vec(a, "a")
    b = _vec(b, "b")
    if a.size != b.size:
        raise ValueError(f"a and b must have the same length (paired data): {a.size} != {b.size}")
    if a.size < min_n:
        raise ValueError(f"needs at least {min_n} pairs, got {a.size}")
    return a, b, b - a


def _clean_diffs(d: np.ndarray) -> np.ndarray:
    """Round away floating-point noise such as 0.7 - 0.6 - 0.1 != 0 so that genuinely equal
    differences are ties and genuinely zero differences are zeros."""
    scale = max(1.0, float(np.max(np.abs(d)))) if d.size else 1.0
    return np.round(d / scale, 12) * scale


def _check_alpha(alpha: float) -> float:
    alpha = float(alpha)
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    return alpha


def _check_alternative(alternative: str) -> str:
    if alternative not in ("two-sided", "greater", "less"):
        raise ValueError(f"alternative must be 'two-sided', 'greater' or 'less', got {alternative!r}")
    return alternative

