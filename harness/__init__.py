"""harness: statistically sound comparison studies of multimodal emotion-recognition models.

Public names for a model of your own (see README, "Compare your own model"):
``InputShapes`` (what your callable is told about the inputs), ``ModelEntry`` and
``register_model`` (add a model from code), ``model_names``, ``load_study``.
"""

__version__ = "0.1.0"

# Imported on first use, so that `import harness` (and the CLI's start) stays light.
_PUBLIC = {
    "InputShapes": "harness.models.shapes",
    "ModelEntry": "harness.models.registry",
    "register_model": "harness.models.registry",
    "model_names": "harness.models.registry",
    "min_modalities": "harness.models.registry",
    "order_models": "harness.models.registry",
    "ModelError": "harness.models.user",
    "load_study": "harness.study",
    "parse_study": "harness.study",
    "Comparison": "harness.study",
    "UserError": "harness.errors",
}
__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str):
    if name in _PUBLIC:
        import importlib

        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'harness' has no attribute {name!r}")
