"""Embedding backends: CLIP/SigLIP image and text towers behind `Embedder`.

`load_embedder(spec)` accepts a registry name (`trove models`), a local model folder in either
layout (a transformers checkpoint -> MLX, an immich-layout export -> ONNX Runtime), a Hugging Face
repository id, or `module:factory` for a custom embedder.
"""
from __future__ import annotations

import importlib
import os
import platform
import sys
from pathlib import Path

from ..errors import UsageError
from .base import Embedder

BACKENDS = ("auto", "onnx", "mlx")
PRECISIONS = ("fp32", "int8")   # the image tower's (int8: ONNX Runtime only; text towers stay fp32)


class ModelError(UsageError):
    """A model that cannot be found, fetched or loaded."""


class ModelUnavailable(ModelError):
    """A known model that cannot be had right now (offline, not cached, network down)."""


def apple_silicon() -> bool:
    return sys.platform == "darwin" and platform.machine() == "arm64"


def mlx_available() -> bool:
    try:
        import mlx.core  # noqa: F401
    except ImportError:
        return False
    return True


def pick_backend(backend: str) -> str:
    """auto: MLX on Apple silicon when it is installed, else ONNX Runtime."""
    if backend not in BACKENDS:
        raise ModelError(f"unknown backend {backend!r} (choose from {', '.join(BACKENDS)})")
    if backend != "auto":
        return backend
    return "mlx" if apple_silicon() and mlx_available() else "onnx"


def load_embedder(spec: str, *, towers: str = "both", backend: str = "auto", dtype: str | None = None,
                  progress: bool = True, background: bool = False, device: str = "auto",
                  precision: str = "fp32", cache_dir: str | os.PathLike | None = None,
                  log=None, once: bool = False) -> Embedder:
    """An embedder for `spec` with only `towers` ("both", "image" or "text") loaded. `dtype` is the
    MLX compute precision (float32, float16, bfloat16; default env TROVE_MLX_DTYPE or float32).

    With `background`, the spec is resolved (and any download done) now, but the weights load in a
    thread while the caller gets on with other work (the crawler's catalog stages); the first use
    waits for them, and a load failure surfaces there as ModelError.

    `cache_dir` (the library's `models/` folder) is where the ONNX backend keeps what it derives from
    a model: the text tower's optimized graph (loaded far faster than the export), and with
    `precision="int8"` the quantized image tower. `log` gets one-line notes ("quantizing ...").
    `once`: the model runs about once in this process (a CLI query): the ONNX backend then skips
    work that only pays off over many runs."""
    dtype = dtype or os.environ.get("TROVE_MLX_DTYPE") or "float32"
    if towers not in ("both", "image", "text"):
        raise ValueError(f"towers must be both, image or text, not {towers!r}")
    if precision not in PRECISIONS:
        raise ModelError(f"unknown precision {precision!r} (choose from {', '.join(PRECISIONS)})")
    int8 = precision == "int8" and towers != "text"
    if ":" in spec and not spec.startswith(("/", ".", "~")) and "/" not in spec.split(":", 1)[0] \
            and not (len(spec) > 1 and spec[1] == ":"):  # not a Windows drive path
        if int8:
            raise ModelError(f"--precision int8 quantizes ONNX models; {spec} is a custom embedder: "
                             "leave --precision out")
        module, _, attr = spec.partition(":")
        try:
            factory = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as e:
            raise ModelError(f"cannot load embedder plugin {spec!r}: {e}") from None
        return factory()

    from .models import REGISTRY, files_for, layout_of

    path = Path(os.path.expanduser(spec))
    if path.is_dir():
        layout = layout_of(path)
        if layout is None:
            raise ModelError(f"{spec} is not a model folder: expected an immich-layout export "
                             "(visual/model.onnx, textual/model.onnx) or a transformers checkpoint "
                             "(config.json + *.safetensors)")
        if backend not in ("auto", layout):
            raise ModelError(f"{spec} holds a {'transformers checkpoint' if layout == 'mlx' else 'ONNX export'}, "
                             f"which the {backend} backend cannot run; use --backend {layout} or a folder "
                             f"in the other layout")
        _check_precision(layout, int8)
        return _construct(layout, path, path.name, towers, dtype, background, device,
                          precision if int8 else "fp32", cache_dir, log, once)

    info = REGISTRY.get(spec)
    if info is not None:
        chosen = "onnx" if int8 and backend == "auto" else pick_backend(backend)  # int8 is ONNX Runtime's
        repo = info.mlx_repo if chosen == "mlx" else info.onnx_repo
        model_id = info.name
    elif spec.count("/") == 1 and not path.exists() and not spec.startswith((".", "/", "~")):
        chosen = "onnx" if int8 and backend == "auto" else pick_backend(backend)
        repo, model_id = spec, spec
    else:
        names = ", ".join(REGISTRY)
        raise ModelError(f"unknown model {spec!r}: use a registry name ({names}; see `trove models`), "
                         "a local model folder, a Hugging Face repository id, or module:factory")
    _check_precision(chosen, int8)
    from .download import fetch

    folder = fetch(repo, files_for(chosen, towers), progress=progress)
    return _construct(chosen, folder, model_id, towers, dtype, background, device,
                      precision if int8 else "fp32", cache_dir, log, once)


def _check_precision(backend: str, int8: bool) -> None:
    if int8 and backend != "onnx":
        raise ModelError("--precision int8 is for the ONNX backend only (onnxruntime quantizes the image "
                         "tower); the MLX backend has TROVE_MLX_DTYPE=float16 instead: leave --precision out, "
                         "or add --backend onnx")


class _Deferred:
    """Stands in for an embedder whose weights are still loading in a thread: `model_id` is known
    at once, anything else waits for the load."""

    def __init__(self, model_id: str, backend: str, towers: str, make):
        import threading

        self.model_id, self.backend, self.towers = model_id, backend, towers
        self._result = None
        self._thread = threading.Thread(target=self._load, args=(make,), name="trove-model-load", daemon=True)
        self._thread.start()

    def _load(self, make) -> None:
        try:
            self._result = make()
        except BaseException as e:  # handed to whoever uses the embedder first
            self._result = e

    def __getattr__(self, name):
        self._thread.join()
        if isinstance(self._result, BaseException):
            raise self._result
        return getattr(self._result, name)


def _construct(backend: str, folder: Path, model_id: str, towers: str, dtype: str,
               background: bool = False, device: str = "auto", precision: str = "fp32",
               cache_dir=None, log=None, once: bool = False) -> Embedder:
    if background and backend == "onnx":  # MLX arrays belong to the thread that made them: load inline
        return _Deferred(model_id, backend, towers,  # type: ignore[return-value]
                         lambda: _construct(backend, folder, model_id, towers, dtype, device=device,
                                            precision=precision, cache_dir=cache_dir, log=log, once=once))
    _check_precision(backend, precision == "int8")
    if backend == "mlx":
        from .mlx_backend import MlxEmbedder

        if device not in ("auto", "cpu", "gpu"):
            raise ModelError(f"--device {device}: the MLX backend runs on the Apple GPU or the CPU "
                             "(--device gpu, cpu or auto); use --backend onnx for other devices")
        return MlxEmbedder(folder, model_id=model_id, towers=towers, dtype=dtype, device=device)
    from .onnx_backend import OnnxEmbedder

    return OnnxEmbedder(folder, model_id=model_id, towers=towers, device=device, precision=precision,
                        cache_dir=cache_dir, log=log, once=once)
