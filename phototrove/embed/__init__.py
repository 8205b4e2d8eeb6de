"""Embedding backends: CLIP/SigLIP image and text towers behind `Embedder`."""
from __future__ import annotations

import importlib

from .base import Embedder


class ModelError(Exception):
    """A model that cannot be found, fetched or loaded."""


def load_embedder(spec: str, *, towers: str = "both") -> Embedder:
    """An embedder for `spec`. `module:callable` loads a custom embedder (a plugin hook)."""
    if ":" in spec and not spec.startswith(("/", ".", "~")) and "/" not in spec.split(":", 1)[0]:
        module, _, attr = spec.partition(":")
        try:
            factory = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as e:
            raise ModelError(f"cannot load embedder plugin {spec!r}: {e}") from None
        return factory()
    raise ModelError(f"unknown model {spec!r}")
