"""harness: statistically sound comparison studies of multimodal emotion-recognition models."""

__version__ = "0.1.0"
