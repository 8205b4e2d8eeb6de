"""Decoding to upright sRGB pixels, for thumbnails and the model."""
from __future__ import annotations

import functools
import io

from .kinds import MediaError, heif_available, pillow_limits


def load_image(data: bytes | memoryview, min_side: int | None = None):
    """Decode to an upright RGB PIL image. With `min_side`, JPEGs decode at the smallest DCT scale
    whose short side is still >= min_side (Pillow's draft mode: ~4x faster on a 12 MP photo)."""
    from PIL import Image, ImageOps

    heif_available()
    pillow_limits()
    try:
        im = Image.open(io.BytesIO(data))
        if min_side and im.format == "JPEG":
            w, h = im.size
            scale = max(1, min(w, h) // min_side)
            if scale > 1:
                im.draft("RGB", (max(1, w // scale), max(1, h // scale)))
        im.load()
        im = ImageOps.exif_transpose(im)
    except Image.DecompressionBombError as e:
        raise MediaError("too-large", f"image too large to decode safely ({e})") from None
    except MemoryError:
        raise MediaError("too-large", "image too large to decode in memory") from None
    except Exception as e:  # decoders raise anything (OSError, ValueError, struct.error, ...) on odd bytes
        raise MediaError("corrupt", f"cannot decode image: {e}") from None
    icc = im.info.get("icc_profile")
    rgb = to_rgb(im)
    return to_srgb(rgb, icc) if icc and im.mode in ("RGB", "RGBA", "P", "L") else rgb


def to_srgb(im, icc: bytes):
    """Pixels in sRGB: models and browsers assume it, while e.g. Lightroom previews are Adobe RGB
    and phone photos Display P3. Images already in sRGB, or with a profile LittleCMS rejects, pass."""
    transform = _srgb_transform(icc)
    if transform is None:
        return im
    from PIL import ImageCms

    return ImageCms.applyTransform(im, transform)


@functools.lru_cache(maxsize=16)
def _srgb_transform(icc: bytes):
    from PIL import ImageCms

    try:
        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if src.profile.xcolor_space.strip() != "RGB" or "srgb" in (src.profile.profile_description or "").lower():
            return None
        return ImageCms.buildTransform(src, ImageCms.createProfile("sRGB"), "RGB", "RGB")
    except (ImageCms.PyCMSError, OSError, ValueError):
        return None


def to_rgb(im):
    """RGB for any mode: alpha composited on white, palette/CMYK/16-bit converted."""
    from PIL import Image

    if im.mode == "RGB":
        return im
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        import numpy as np

        arr = np.asarray(im, dtype=np.float32)
        top = max(float(arr.max()), 1.0)
        im = Image.fromarray((arr * (255.0 / (65535.0 if top > 255 else 255.0))).clip(0, 255).astype("uint8"))
    if im.mode == "P":
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "RGBa"):
        base = Image.new("RGB", im.size, (255, 255, 255))
        base.paste(im.convert("RGBA"), mask=im.convert("RGBA").getchannel("A"))
        return base
    return im.convert("RGB")
