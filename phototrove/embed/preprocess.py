"""Image preprocessing driven by the model's own config file, not by constants in code.

Two config dialects describe the same few things (input size, mean/std, interpolation, and whether
to resize the short side and center-crop or to squash to a square):
- immich/open_clip `visual/preprocess_cfg.json`: size, mean, std, interpolation, resize_mode;
- Hugging Face `preprocessor_config.json`: size/crop_size, image_mean/std, resample, do_center_crop.
The arithmetic follows Hugging Face's image processors (which the parity tests compare against):
Pillow resize of the uint8 image, floor-centered crop, then (x/255 - mean)/std in float32.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

# Pillow's resampling filter numbers, which Hugging Face configs store as "resample"
_RESAMPLE_BY_NAME = {"nearest": 0, "lanczos": 1, "bilinear": 2, "bicubic": 3, "box": 4, "hamming": 5}


@dataclass(frozen=True)
class PreprocessConfig:
    size: int = 224                  # model input side (square)
    mean: tuple = (0.48145466, 0.4578275, 0.40821073)
    std: tuple = (0.26862954, 0.26130258, 0.27577711)
    resample: int = 3                # Pillow filter number (3 = bicubic)
    mode: str = "crop"               # "crop": short side -> size, center crop; "squash": resize to size x size

    @classmethod
    def from_open_clip(cls, cfg: dict) -> "PreprocessConfig":
        size = cfg.get("size", 224)
        size = int(size[0] if isinstance(size, (list, tuple)) else size)
        resize_mode = cfg.get("resize_mode", "shortest")
        if resize_mode not in ("shortest", "squash"):
            raise ValueError(f"unsupported resize_mode {resize_mode!r} (expected 'shortest' or 'squash')")
        return cls(size=size, mean=tuple(cfg.get("mean", cls.mean)), std=tuple(cfg.get("std", cls.std)),
                   resample=_resample(cfg.get("interpolation", "bicubic")),
                   mode="crop" if resize_mode == "shortest" else "squash")

    @classmethod
    def from_hf(cls, cfg: dict) -> "PreprocessConfig":
        crop = cfg.get("do_center_crop", False)
        size = cfg.get("crop_size") if crop else cfg.get("size")
        if isinstance(size, dict):
            size = size.get("shortest_edge") or size.get("height")
        if size is None:
            size = 224
        if not crop and isinstance(cfg.get("size"), dict) and "shortest_edge" in cfg["size"]:
            crop = True  # shortest-edge resize without a crop would not give a square: crop anyway
        return cls(size=int(size), mean=tuple(cfg.get("image_mean", cls.mean)),
                   std=tuple(cfg.get("image_std", cls.std)), resample=_resample(cfg.get("resample", 3)),
                   mode="crop" if crop else "squash")

    @classmethod
    def from_file(cls, path: str | Path) -> "PreprocessConfig":
        path = Path(path)
        cfg = json.loads(path.read_text())
        if path.name == "preprocess_cfg.json":
            return cls.from_open_clip(cfg)
        return cls.from_hf(cfg)


def _resample(value) -> int:
    if isinstance(value, int):
        return value
    try:
        return _RESAMPLE_BY_NAME[str(value).lower()]
    except KeyError:
        raise ValueError(f"unsupported interpolation {value!r}") from None


def resized(image, cfg: PreprocessConfig):
    """The resized and cropped PIL image (RGB in, RGB out)."""
    size = cfg.size
    w, h = image.size
    if cfg.mode == "squash":
        return image.resize((size, size), resample=cfg.resample)
    # short side -> size, long side scaled and truncated (as Hugging Face and torchvision do)
    if w <= h:
        nw, nh = size, int(size * h / w)
    else:
        nw, nh = int(size * w / h), size
    if (nw, nh) != (w, h):
        image = image.resize((nw, nh), resample=cfg.resample)
    left, top = (nw - size) // 2, (nh - size) // 2
    if (left, top) == (0, 0) and (nw, nh) == (size, size):
        return image
    return image.crop((left, top, left + size, top + size))


def preprocess(image, cfg: PreprocessConfig):
    """An upright RGB PIL image -> float32 (3, size, size), normalized."""
    import numpy as np

    if image.mode != "RGB":
        from ..media.decode import to_rgb

        image = to_rgb(image)
    arr = np.asarray(resized(image, cfg), dtype=np.float32)
    mean = np.asarray(cfg.mean, dtype=np.float32) * 255.0
    scale = 1.0 / (np.asarray(cfg.std, dtype=np.float32) * 255.0)
    arr = (arr - mean) * scale
    return np.ascontiguousarray(arr.transpose(2, 0, 1))


class ConfiguredPreprocessing:
    """`Embedder.preprocess` from the model's own config (`pre_cfg`); None while only the text
    tower is loaded."""

    pre_cfg: PreprocessConfig | None = None

    def preprocess(self, image):
        if self.pre_cfg is None:
            from . import ModelError

            raise ModelError("this embedder was loaded for text only")
        return preprocess(image, self.pre_cfg)
