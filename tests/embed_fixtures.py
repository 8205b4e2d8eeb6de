"""Paths and reference arrays of the committed model fixtures (made by fixtures/make_models.py)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
MODELS = FIXTURES / "models"
PHOTOS = FIXTURES / "photos"
REF = dict(np.load(MODELS / "reference.npz"))
META = json.loads((MODELS / "reference.json").read_text())
NAMES = sorted(META["models"])


def model_dir(layout: str, name: str) -> Path:
    return MODELS / layout / name


def normalized_pixels(name: str, cfg) -> np.ndarray:
    """The reference image processor's output, rebuilt from the uint8 pixels it encodes."""
    px = REF[f"{name}.pixels"].astype(np.float32) / 255.0
    x = (px - np.asarray(cfg.mean, np.float32)) / np.asarray(cfg.std, np.float32)
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return (a * b).sum(axis=1)
