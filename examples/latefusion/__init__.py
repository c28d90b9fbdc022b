"""A late-fusion baseline to compare with harness's attention models (see model.py)."""

from .model import LateFusion

__all__ = ["LateFusion"]
