"""Models: the registry (one entry per model), the paper's fusion network, user models.

Public: :class:`InputShapes`, :class:`ModelEntry`, :data:`MODELS`, :func:`register_model`,
:func:`model_names`, :func:`min_modalities`, :func:`order_models`, :func:`build_model`.
"""

from .build import (ModelRef, build_from_ref, build_model, count_parameters, parameter_count,
                    probe)
from .fusion import FusionModel, statistical_pooling
from .registry import (KERNEL_SETTINGS, MODELS, ModelEntry, attention_pairs, builtin_names,
                       expected_cost, label, min_modalities, model_names, order_models,
                       register_model, resolve_kernels)
from .shapes import MODALITY_ORDER, InputShapes
from .user import ModelError

__all__ = [
    "InputShapes", "ModelEntry", "ModelError", "ModelRef", "MODELS", "MODALITY_ORDER",
    "KERNEL_SETTINGS", "FusionModel", "attention_pairs", "build_from_ref", "build_model",
    "builtin_names", "count_parameters", "expected_cost", "label", "min_modalities",
    "model_names", "order_models", "parameter_count", "probe", "register_model",
    "resolve_kernels", "statistical_pooling",
]
