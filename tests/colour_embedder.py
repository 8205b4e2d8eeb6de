"""A deterministic test embedder whose image and text vectors share one meaningful space: an image is
its mean colour, a colour word is that colour, so "red" finds the red photos and the expected ranking
of any query can be computed by hand. Loaded through the plugin hook as `colour_embedder:make`.

Space (dim 4): (r - 0.5, g - 0.5, b - 0.5, 0.05), L2-normalized; the constant keeps grey non-zero.
Words that are not colours map to a fixed direction orthogonal to every colour (0, 0, 0, 1).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the worktree, when run from tests/

from phototrove.embed.base import Embedder, l2_normalize  # noqa: E402

COLOURS = {
    "red": (1.0, 0.0, 0.0), "green": (0.0, 1.0, 0.0), "blue": (0.0, 0.0, 1.0),
    "yellow": (1.0, 1.0, 0.0), "magenta": (1.0, 0.0, 1.0), "cyan": (0.0, 1.0, 1.0),
    "white": (1.0, 1.0, 1.0), "black": (0.0, 0.0, 0.0), "orange": (1.0, 0.5, 0.0),
}
BIAS = 0.05


def colour_vector(rgb) -> np.ndarray:
    r, g, b = rgb
    return l2_normalize(np.array([r - 0.5, g - 0.5, b - 0.5, BIAS], dtype=np.float32))


class ColourEmbedder(Embedder):
    model_id = "test-colour-v1"
    dim = 4
    image_size = 16

    def preprocess(self, image) -> np.ndarray:
        return np.asarray(image.convert("RGB").resize((16, 16)), dtype=np.float32) / 255.0

    def encode_pixels(self, batch: np.ndarray) -> np.ndarray:
        means = np.asarray(batch, dtype=np.float32).mean(axis=(1, 2))
        return np.stack([colour_vector(m) for m in means])

    def encode_texts(self, texts) -> np.ndarray:
        out = []
        for text in texts:
            words = [w for w in text.lower().split() if w in COLOURS]
            if words:
                out.append(l2_normalize(np.mean([colour_vector(COLOURS[w]) for w in words], axis=0)))
            else:
                out.append(np.array([0, 0, 0, 1], dtype=np.float32))
        return np.stack(out)


def make() -> ColourEmbedder:
    return ColourEmbedder()


class OtherEmbedder(ColourEmbedder):
    """The same space under another model id: for model-mismatch tests."""
    model_id = "test-other-v1"


def make_other() -> OtherEmbedder:
    return OtherEmbedder()
