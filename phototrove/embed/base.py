"""The one interface every embedding backend implements, and the crawler and search call.

Preprocessing is separate from encoding so the crawler can decode and preprocess in a worker pool
while the model runs on the previous batch.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Sequence

import numpy as np


class Embedder(ABC):
    model_id: str      # recorded with every embedding; an index never mixes two
    dim: int
    image_size: int    # the model's input side: JPEGs are decoded at no less than this
    backend: str = "custom"  # "onnx" | "mlx" for the built-in backends
    device: str = "its own code"  # where it runs, as said once per run ("CPU (onnxruntime 1.20.1)")
    towers: str = "both"     # which towers are loaded: "both", "image" or "text"
    precision: str = "fp32"  # the image tower's: "fp32", or "int8" (ONNX, quantized: see quantize.py)

    @abstractmethod
    def preprocess(self, image) -> np.ndarray:
        """An upright RGB PIL image -> the model's input tensor for one image (float32)."""

    @abstractmethod
    def encode_pixels(self, batch: np.ndarray) -> np.ndarray:
        """A stack of preprocessed images -> (n, dim) float32 L2-normalized embeddings."""

    @abstractmethod
    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Texts -> (n, dim) float32 L2-normalized embeddings."""

    def encode_images(self, images: Sequence) -> np.ndarray:
        return self.encode_pixels(np.stack([self.preprocess(im) for im in images]))


def l2_normalize(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(norms, 1e-12)
