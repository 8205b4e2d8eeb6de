"""Both backends against Hugging Face transformers on the same tiny random weights (cosine >= 0.9999)."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from embed_fixtures import META, NAMES, PHOTOS, REF, cosines, model_dir, normalized_pixels
from phototrove.embed import load_embedder
from phototrove.media.decode import load_image

HAS_MLX = importlib.util.find_spec("mlx") is not None
LAYOUTS = [
    pytest.param("onnx", id="onnx"),
    pytest.param("hf", id="mlx", marks=pytest.mark.skipif(not HAS_MLX, reason="mlx is not installed "
                                                             "(pip install 'mlx[cpu]' on Linux)")),
]
_cache: dict = {}


def embedder(layout: str, name: str, **kw):
    key = (layout, name, tuple(sorted(kw.items())))
    if key not in _cache:
        _cache[key] = load_embedder(str(model_dir(layout, name)), **kw)
    return _cache[key]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_image_embeddings_match_reference(layout, name):
    e = embedder(layout, name)
    assert e.backend == ("onnx" if layout == "onnx" else "mlx")
    got = e.encode_pixels(normalized_pixels(name, e.pre_cfg))
    assert got.shape == REF[f"{name}.image"].shape and got.dtype == np.float32
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert cosines(got, REF[f"{name}.image"]).min() >= 0.9999
    # the photos must embed differently, or the comparison above would prove little
    sims = got @ got.T
    assert sims[~np.eye(len(got), dtype=bool)].max() < 0.999


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_text_embeddings_match_reference(layout, name):
    e = embedder(layout, name)
    texts = META["texts"]
    got = e.encode_texts(texts)
    assert cosines(got, REF[f"{name}.text"]).min() >= 0.9999
    # batching must not change a text's embedding (texts of different lengths share a batch)
    one = np.concatenate([e.encode_texts([t]) for t in texts[:3]])
    assert cosines(one, got[:3]).min() >= 0.99999


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_photos_end_to_end(layout, name):
    """Our decode (EXIF, CMYK, palette, 16-bit, alpha) + preprocessing + model == the reference's."""
    e = embedder(layout, name)
    images = [load_image((PHOTOS / p).read_bytes()) for p in META["photos"]]
    got = e.encode_images(images)
    assert cosines(got, REF[f"{name}.image"]).min() >= 0.9999


def test_backends_agree_with_each_other():
    if not HAS_MLX:
        pytest.skip("mlx is not installed")
    for name in NAMES:
        a, b = embedder("onnx", name), embedder("hf", name)
        x = normalized_pixels(name, a.pre_cfg)
        assert cosines(a.encode_pixels(x), b.encode_pixels(x)).min() >= 0.9999
        assert a.model_id == b.model_id == name  # same weights, interchangeable embeddings


@pytest.mark.skipif(not HAS_MLX, reason="mlx is not installed")
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_mlx_half_precision_stays_close(dtype):
    e = embedder("hf", "clip-tiny", dtype=dtype)
    got = e.encode_pixels(normalized_pixels("clip-tiny", e.pre_cfg))
    assert got.dtype == np.float32
    assert cosines(got, REF["clip-tiny.image"]).min() >= 0.99


@pytest.mark.parametrize("layout", LAYOUTS)
def test_empty_batches(layout):
    e = embedder(layout, "clip-tiny")
    assert e.encode_texts([]).shape == (0, e.dim)
    assert e.encode_pixels(np.zeros((0, 3, 224, 224), np.float32)).shape == (0, e.dim)
