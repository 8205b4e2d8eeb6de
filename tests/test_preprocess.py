"""Preprocessing parity with Hugging Face's image processors, and the config dialects."""
from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from embed_fixtures import META, NAMES, PHOTOS, model_dir, normalized_pixels
from phototrove.embed.preprocess import PreprocessConfig, preprocess
from phototrove.media.decode import load_image


@pytest.mark.parametrize("name", NAMES)
def test_matches_hf_image_processor_on_odd_photos(name):
    cfg = PreprocessConfig.from_file(model_dir("hf", name) / "preprocessor_config.json")
    want = normalized_pixels(name, cfg)
    for i, photo in enumerate(META["photos"]):
        got = preprocess(load_image((PHOTOS / photo).read_bytes()), cfg)
        assert got.shape == (3, cfg.size, cfg.size) and got.dtype == np.float32
        assert np.abs(got - want[i]).max() < 1e-5, photo


@pytest.mark.parametrize("name", NAMES)
def test_both_config_dialects_agree(name):
    hf = PreprocessConfig.from_file(model_dir("hf", name) / "preprocessor_config.json")
    ox = PreprocessConfig.from_file(model_dir("onnx", name) / "visual" / "preprocess_cfg.json")
    assert hf.size == ox.size == 224 and hf.mode == ox.mode and hf.resample == ox.resample
    assert np.allclose(hf.mean, ox.mean) and np.allclose(hf.std, ox.std)
    assert hf.mode == ("crop" if name.startswith("clip") else "squash")


def test_modes_reach_rgb_upright():
    by_name = {p: load_image((PHOTOS / p).read_bytes()) for p in META["photos"]}
    assert all(im.mode == "RGB" for im in by_name.values())
    assert by_name["rocket_exif6.jpg"].size == (213, 320)  # stored 320x213 sideways, EXIF orientation 6
    assert by_name["astronaut_alpha.png"].getpixel((0, 0))[0] > 150  # faint alpha composited on white


def test_crop_keeps_the_center_and_squash_keeps_everything():
    # a wide image: red left third, green middle, blue right third
    arr = np.zeros((100, 300, 3), np.uint8)
    arr[:, :100, 0] = arr[:, 100:200, 1] = arr[:, 200:, 2] = 255
    im = Image.fromarray(arr)
    plain = dict(mean=(0, 0, 0), std=(1 / 255, 1 / 255, 1 / 255))
    crop = preprocess(im, PreprocessConfig(size=50, mode="crop", **plain))
    squash = preprocess(im, PreprocessConfig(size=50, mode="squash", **plain))
    assert crop[1].mean() > 250 and crop[0].mean() < 5  # only the green middle survives the crop
    assert squash[0, :, :10].mean() > 250 and squash[2, :, -10:].mean() > 250


def test_config_errors_are_clear(tmp_path):
    p = tmp_path / "preprocess_cfg.json"
    p.write_text(json.dumps({"size": 224, "resize_mode": "longest"}))
    with pytest.raises(ValueError, match="resize_mode"):
        PreprocessConfig.from_file(p)
    p.write_text(json.dumps({"size": 224, "interpolation": "sinc"}))
    with pytest.raises(ValueError, match="interpolation"):
        PreprocessConfig.from_file(p)


def test_jpeg_draft_decode_stays_above_model_size():
    rng = np.random.default_rng(0)
    big = Image.fromarray(rng.integers(0, 255, (1500, 2000, 3), dtype=np.uint8))
    buf = io.BytesIO()
    big.save(buf, "JPEG", quality=70)
    small = load_image(buf.getvalue(), min_side=224)
    assert 224 <= min(small.size) < 1500  # decoded at a reduced DCT scale, still >= the model input
    assert load_image(buf.getvalue()).size == (2000, 1500)
