"""Bytes -> what a photo is: format, dimensions, completeness and EXIF, without decoding pixels.

Reading is header-only (Pillow opens lazily, exifread stops at the EXIF block), so the read stage
costs little more than hashing. Completeness is checked from the container's own structure (a JPEG's
markers, a PNG's IEND, ...) instead of decoding every pixel.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field

from .exif import read_exif
from .jpeg import jpeg_end
from .kinds import MAX_PIXELS, MediaError, heif_available


@dataclass
class Probe:
    format: str
    width: int
    height: int
    exif: dict = field(default_factory=dict)


def probe(data: bytes | memoryview) -> Probe:
    """Format, size and EXIF of an image held in memory, without decoding pixels."""
    from PIL import Image, UnidentifiedImageError

    if len(data) == 0:
        raise MediaError("empty", "empty file (0 bytes)")
    if data[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftypmsf1", b"ftyphevc"):
        if not heif_available():
            raise MediaError("unsupported", "HEIC image: install phototrove[heic] (pillow-heif) to read it")
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with Image.open(io.BytesIO(data)) as im:
            fmt, (width, height) = im.format or "?", im.size
            pil_exif = im.info.get("exif") if fmt in ("HEIF", "AVIF") else None
    except Image.DecompressionBombError as e:
        raise MediaError("too-large", f"image too large to decode safely ({e})") from None
    except UnidentifiedImageError:
        raise MediaError("not-an-image", "not an image (unrecognised content)") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise MediaError("corrupt", f"unreadable image: {e}") from None
    if width * height > MAX_PIXELS:
        raise MediaError("too-large", f"image too large to decode safely ({width}x{height} pixels)")
    if width <= 0 or height <= 0:
        raise MediaError("corrupt", f"image has no pixels ({width}x{height})")
    if not complete(fmt, data):
        raise MediaError("truncated", f"truncated {fmt} file ({len(data)} bytes)")
    return Probe(fmt, width, height, read_exif(data, pil_exif))


# -- completeness ---------------------------------------------------------------------------------
def complete(fmt: str, data: bytes | memoryview) -> bool:
    if fmt in ("JPEG", "MPO"):
        return jpeg_end(data) is not None
    if fmt == "PNG":
        return bytes(data[-12:]).endswith(b"IEND\xaeB`\x82") or b"IEND" in bytes(data[-64:])
    if fmt == "GIF":
        return bytes(data[-16:]).rstrip(b"\x00").endswith(b";")
    if fmt == "WEBP":
        return len(data) >= 8 + int.from_bytes(data[4:8], "little")
    return True  # TIFF, HEIC: the decoder will tell at embed time
