"""A deterministic test-only embedder: a 4x4 colour thumbnail of the image, L2-normalized.

Loaded through the `module:factory` plugin spec (`--model tiny_embedder:make`). It lets the crawler's
embed stage be tested without a neural network; the real CLIP/SigLIP backends have their own tests.
"""
from __future__ import annotations

import os
import time

import numpy as np

from phototrove.embed.base import Embedder, l2_normalize


class TinyEmbedder(Embedder):
    model_id = "test/tiny-colour-4x4"
    dim = 48
    image_size = 16

    def __init__(self, delay: float = 0.0):
        self.delay = delay

    def preprocess(self, image) -> np.ndarray:
        return np.asarray(image.resize((4, 4)), dtype=np.float32).reshape(-1) / 255.0

    def encode_pixels(self, batch: np.ndarray) -> np.ndarray:
        time.sleep(self.delay)  # lets the kill-and-resume test catch the embed stage mid-way
        return l2_normalize(batch.reshape(len(batch), -1) - 0.5)

    def encode_texts(self, texts) -> np.ndarray:
        rng = np.random.default_rng(abs(hash(tuple(texts))) % (1 << 32))
        return l2_normalize(rng.normal(size=(len(texts), self.dim)))


def make() -> TinyEmbedder:
    return TinyEmbedder(float(os.environ.get("TINY_EMBEDDER_DELAY", "0")))
