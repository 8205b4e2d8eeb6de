"""Synthetic 12-megapixel photos for the benchmarks: a few distinct images, made into any number of
distinct files (distinct content hashes) by a JPEG comment, so generating 500 files costs 5 encodes."""
from __future__ import annotations

import io

import numpy as np
from PIL import Image


def photo_12mp(seed: int) -> bytes:
    return photo(seed, 4000, 3000)


def photo(seed: int, w: int, h: int, quality: int = 90) -> bytes:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([128 + 100 * np.sin(x / (150 + 20 * seed)), 128 + 100 * np.cos(y / 200 + seed),
                    (x + y) / 28 % 256], -1)
    img += rng.normal(0, 10, img.shape).astype(np.float32)  # sensor-like noise: realistic file sizes
    buf = io.BytesIO()
    Image.fromarray(img.clip(0, 255).astype(np.uint8)).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def with_comment(jpeg: bytes, text: str) -> bytes:
    """The same image with a COM segment after SOI: other bytes, same pixels."""
    body = text.encode()
    return jpeg[:2] + b"\xff\xfe" + (len(body) + 2).to_bytes(2, "big") + body + jpeg[2:]
