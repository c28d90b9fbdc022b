"""Models from outside harness: load by import path, hash the source, probe before a study.

A user model is ``module:callable`` with ``callable(modalities, shapes, **params)`` returning
an ``nn.Module`` whose ``forward(batch)`` maps ``{"A"|"V"|"T": Tensor}`` to logits
``[B, n_classes]``. Every fault is a :class:`ModelError` (exit 2) naming the model and
quoting the line of the user's code that raised; the full traceback rides along in
``detail`` for ``--traceback``.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
import traceback
from pathlib import Path

from ..errors import UserError

_HARNESS_DIR = str(Path(__file__).resolve().parent.parent)
_TORCH_DIR = str(Path(importlib.util.find_spec("torch").origin).resolve().parent)
_SEEN_SHA: dict[str, str] = {}  # module name -> sha256 of its file when it was (re)imported


class ModelError(UserError):
    """A model given by import path cannot be loaded, built or run; ``detail``: traceback."""

    def __init__(self, message: str, detail: str = ""):
        super().__init__(message)
        self.detail = detail


def file_sha256(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _module_file(module) -> str:
    try:
        return inspect.getsourcefile(module) or getattr(module, "__file__", "") or ""
    except TypeError:  # built-in module
        return ""


def describe_callable(obj) -> tuple[str, str, str]:
    """(module:qualname, defining file, sha256 of that file) of a module-level callable."""
    module = sys.modules.get(getattr(obj, "__module__", ""), None)
    path = f"{obj.__module__}:{obj.__qualname__}"
    file = _module_file(module) if module else ""
    return path, file, file_sha256(file) if file else ""


def user_line(exc: BaseException) -> str:
    """'file:line: code' of the deepest frame outside harness and torch (the user's code)."""
    frames = traceback.extract_tb(exc.__traceback__)
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"{Path(exc.filename).name}:{exc.lineno}: {(exc.text or '').strip()}"
    for f in reversed(frames):
        if f.filename.startswith((_HARNESS_DIR, _TORCH_DIR, "<frozen")):
            continue  # harness, torch and the import machinery are not the user's code
        return f"{Path(f.filename).name}:{f.lineno}: {(f.line or '').strip()}"
    return ""


def fault(name: str, where: str, what: str, exc: BaseException | None = None) -> ModelError:
    """One message: the model, its import path, what failed, the user's exception and line."""
    msg = f"model '{name}' ({where}): {what}"
    detail = ""
    if exc is not None:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        msg += f": {type(exc).__name__}" + (f": {first}" if first else "")
        line = user_line(exc)
        if line:
            msg += f" [{line}]"
        msg += ". Run with --traceback for the full traceback."
        detail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return ModelError(msg, detail)


def _import(module_name: str):
    """Import (or re-import, when its file changed since) a module."""
    module = sys.modules.get(module_name)
    if module is not None:
        file = _module_file(module)
        if file and Path(file).is_file() and _SEEN_SHA.get(module_name) not in (None, file_sha256(file)):
            module = importlib.reload(module)
    else:
        importlib.invalidate_caches()
        module = importlib.import_module(module_name)
    file = _module_file(module)
    if file and Path(file).is_file():
        _SEEN_SHA[module_name] = file_sha256(file)
    return module


def load_callable(name: str, import_path: str):
    """``module:attr`` -> (callable, defining file, its sha256); ModelError on any fault."""
    module_name, sep, attr = import_path.partition(":")
    if not sep or not module_name or not attr:
        raise ModelError(f"model '{name}': import must be 'module:callable' (e.g. "
                         f"mypkg.fusion:LateFusion). Got {import_path!r} instead.")
    try:
        module = _import(module_name)
    except ModuleNotFoundError as exc:
        raise fault(name, import_path, f"cannot import module '{module_name}' (make it importable "
                    "where harness runs: pip install your package, or add its folder to PYTHONPATH)",
                    exc) from None
    except Exception as exc:  # the user's module raised while being imported
        raise fault(name, import_path, f"importing module '{module_name}' failed", exc) from None
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ModelError(f"model '{name}' ({import_path}): module '{module_name}' has no "
                             f"attribute '{attr}'.")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ModelError(f"model '{name}' ({import_path}): '{attr}' is not callable "
                         f"(found {type(obj).__name__}); give a class or a function that "
                         "returns a torch.nn.Module.")
    file = _module_file(module)
    return obj, file, file_sha256(file) if file else ""


def user_entry(name: str, import_path: str, params: dict):
    """A registry entry for a study's model (imported now; not added to the registry)."""
    from .registry import ModelEntry

    builder, file, digest = load_callable(name, import_path)
    return ModelEntry(name=name, builder=builder, params=dict(params), import_path=import_path,
                      source_file=file, source_sha256=digest)
