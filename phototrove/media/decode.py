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


def load_raw(data: bytes | memoryview, min_side: int | None = None, *, name: str = ""):
    """A camera RAW as an upright RGB image: its largest embedded JPEG preview (no demosaicing),
    turned by the RAW's own orientation when the preview does not carry one. Where no preview is
    big enough for `min_side`, LibRaw (rawpy, the `raw` extra) develops it at half size."""
    from .raw import preview_bytes, probe_raw

    info = probe_raw(data, size=len(data), name=name)
    small = None
    if info.previews:
        jpeg, prev = preview_bytes(data, info, min_side=min_side or 0)
        short = min(prev.width or 0, prev.height or 0)
        if not min_side or short >= min_side or short == 0:
            return _upright_preview(jpeg, info.orientation, min_side)
        small = (jpeg, prev)
    developed = _develop(data, min_side)
    if developed is not None:
        return developed
    if small is not None:   # a preview smaller than asked for beats no picture
        return _upright_preview(small[0], info.orientation, None)
    raise MediaError("needs-raw-extra", "this RAW has no usable preview: decoding it needs LibRaw "
                                        "(pip install 'phototrove[raw]')")


def _upright_preview(jpeg: bytes, orientation: int | None, min_side: int | None):
    """The preview decoded (at the DCT scale `min_side` needs); RAW previews rarely carry an EXIF
    orientation of their own, so the RAW's is applied when theirs is missing."""
    from PIL import Image

    im = load_image(jpeg, min_side)
    if orientation and orientation != 1 and not _has_orientation(jpeg):
        method = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
                  4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
                  6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
                  8: Image.Transpose.ROTATE_90}.get(orientation)
        if method is not None:
            im = im.transpose(method)
    return im


def _has_orientation(jpeg: bytes) -> bool:
    from .containers import blocks
    from .exif import read_exif

    return read_exif(blocks(jpeg, "JPEG").exif).get("orientation") not in (None, 1)


def _develop(data, min_side: int | None):
    """LibRaw's half-size development (None when rawpy is not installed)."""
    try:
        import rawpy
    except ImportError:
        return None
    from PIL import Image

    try:
        with rawpy.imread(io.BytesIO(bytes(data))) as raw:
            rgb = raw.postprocess(half_size=True, use_camera_wb=True, output_bps=8, user_flip=None)
    except Exception as e:  # LibRaw's errors on what it cannot read: this photo only
        raise MediaError("corrupt", f"LibRaw cannot develop this RAW: {type(e).__name__}: {e}") from None
    return Image.fromarray(rgb)


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
