"""Bytes -> what a photo is: format, dimensions, completeness, EXIF; and decoding for the model.

Reading is header-only (Pillow opens lazily, exifread stops at the EXIF block), so the read stage
costs little more than hashing. Completeness is checked from the container's own structure (a JPEG's
markers, a PNG's IEND, ...) instead of decoding every pixel.
"""
from __future__ import annotations

import functools
import io
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".jpe", ".png", ".webp", ".gif", ".tif", ".tiff", ".heic", ".heif"}
JUNK_NAMES = {".ds_store", "thumbs.db", "desktop.ini", "ehthumbs.db", "icon\r"}
MAX_PIXELS = 1 << 28  # 268 MP: more than any camera or sane panorama; beyond is an image bomb


class MediaError(Exception):
    """A file that is not a usable image. `kind` is a short class for grouping in reports."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


def is_junk(name: str) -> bool:
    return name.lower() in JUNK_NAMES or name.startswith("._")


_heif_registered: bool | None = None


def heif_available() -> bool:
    """Register pillow-heif's opener once, if it is installed."""
    global _heif_registered
    if _heif_registered is None:
        try:
            import pillow_heif

            pillow_heif.register_heif_opener()
            _heif_registered = True
        except ImportError:
            _heif_registered = False
    return _heif_registered


@dataclass
class Probe:
    format: str
    width: int
    height: int
    exif: dict = field(default_factory=dict)


def probe(data: bytes | memoryview, name: str = "") -> Probe:
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
def jpeg_end(data: bytes | memoryview) -> int | None:
    """Offset just past the JPEG's EOI marker; None if the file is incomplete.

    The header segments are walked by their lengths (so an EXIF thumbnail's own EOI is skipped).
    After the first start-of-scan, FF D9 can only be the real EOI: inside entropy-coded data every
    0xFF is followed by 0x00 (stuffing) or a restart marker, and the markers between progressive
    scans are never D9. So one C-speed search finds it.
    """
    n = len(data)
    if n < 4 or data[0] != 0xFF or data[1] != 0xD8:
        return None
    pos = 2
    while pos + 4 <= n:
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xD9:
            return pos + 2
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            pos += 2
            continue
        pos += 2 + int.from_bytes(data[pos + 2:pos + 4], "big")
        if marker == 0xDA:
            end = bytes(data).find(b"\xff\xd9", pos) if isinstance(data, memoryview) else data.find(b"\xff\xd9", pos)
            return None if end < 0 else end + 2
    return None


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


# -- EXIF -----------------------------------------------------------------------------------------
def read_exif(data: bytes | memoryview, container_exif: bytes | None = None) -> dict:
    """Date taken, GPS (decimal degrees), camera, lens and orientation, as catalog metadata keys.

    `container_exif` is the raw EXIF block a decoder pulled out of the container (HEIF): used when
    exifread cannot find it in the file itself.
    """
    tags = _exif_tags(data)
    if not tags and container_exif:
        tiff = container_exif[6:] if container_exif.startswith(b"Exif\x00\x00") else container_exif
        tags = _exif_tags(tiff)
    out: dict = {}
    taken = _exif_datetime(tags)
    if taken:
        out["taken_at"] = taken
    lat = _gps_coord(tags, "GPS GPSLatitude", "GPS GPSLatitudeRef", "S")
    lon = _gps_coord(tags, "GPS GPSLongitude", "GPS GPSLongitudeRef", "W")
    if lat is not None and lon is not None and not (lat == 0 and lon == 0) and abs(lat) <= 90 and abs(lon) <= 180:
        out["lat"], out["lon"] = round(lat, 7), round(lon, 7)
        alt = _ratio(tags.get("GPS GPSAltitude"))
        if alt is not None:
            ref = tags.get("GPS GPSAltitudeRef")
            out["alt"] = round(-alt if ref is not None and str(ref.values[:1]) in ("[1]", "1") else alt, 2)
    make = _text(tags.get("Image Make"))
    model = _text(tags.get("Image Model"))
    if model:
        out["camera"] = model if not make or model.lower().startswith(make.split()[0].lower()) else f"{make} {model}"
    elif make:
        out["camera"] = make
    lens = _text(tags.get("EXIF LensModel"))
    if lens:
        out["lens"] = lens
    orientation = tags.get("Image Orientation")
    if orientation is not None:
        try:
            value = int(orientation.values[0])
            if 1 <= value <= 8:
                out["orientation"] = value
        except (IndexError, TypeError, ValueError):
            pass
    return out


def _exif_tags(data: bytes | memoryview) -> dict:
    import exifread

    logging.getLogger("exifread").setLevel(logging.CRITICAL)  # it logs "no EXIF" for every PNG
    try:
        return exifread.process_file(io.BytesIO(data), details=False, extract_thumbnail=False)
    except Exception:  # exifread raises anything (even AssertionError) on odd files; EXIF is optional
        return {}


def _text(tag) -> str | None:
    if tag is None:
        return None
    value = str(tag.printable if hasattr(tag, "printable") else tag).strip().strip("\x00").strip()
    return value or None


def _ratio(tag) -> float | None:
    if tag is None or not getattr(tag, "values", None):
        return None
    v = tag.values[0]
    try:
        return float(v.num) / float(v.den) if hasattr(v, "num") else float(v)
    except (ZeroDivisionError, TypeError, ValueError):
        return None


def _gps_coord(tags, key: str, ref_key: str, negative: str) -> float | None:
    tag = tags.get(key)
    if tag is None or len(getattr(tag, "values", [])) != 3:
        return None
    try:
        d, m, s = (float(v.num) / float(v.den) if hasattr(v, "num") else float(v) for v in tag.values)
    except (ZeroDivisionError, TypeError, ValueError):
        return None
    value = d + m / 60 + s / 3600
    ref = _text(tags.get(ref_key))
    return -value if ref and ref.upper().startswith(negative) else value


def _exif_datetime(tags) -> str | None:
    for key, offset_key in (("EXIF DateTimeOriginal", "EXIF OffsetTimeOriginal"),
                            ("EXIF DateTimeDigitized", "EXIF OffsetTimeDigitized"),
                            ("Image DateTime", "EXIF OffsetTime")):
        raw = _text(tags.get(key))
        if not raw:
            continue
        try:
            dt = datetime.strptime(raw[:19], "%Y:%m:%d %H:%M:%S")
        except ValueError:
            continue
        if dt.year < 1800:
            continue
        offset = _text(tags.get(offset_key))
        m = re.fullmatch(r"([+-])(\d\d):(\d\d)", offset or "")
        if m:  # a camera that recorded its UTC offset lets us give the true instant
            sign = 1 if m.group(1) == "+" else -1
            tz = timezone(sign * timedelta(hours=int(m.group(2)), minutes=int(m.group(3))))
            return dt.replace(tzinfo=tz).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return dt.strftime("%Y-%m-%dT%H:%M:%S")  # local time of the camera, zone unknown
    return None


# -- decoding for thumbnails and the model --------------------------------------------------------
def load_image(data: bytes | memoryview, min_side: int | None = None):
    """Decode to an upright RGB PIL image. With `min_side`, JPEGs decode at the smallest DCT scale
    whose short side is still >= min_side (Pillow's draft mode: ~4x faster on a 12 MP photo)."""
    from PIL import Image, ImageOps

    heif_available()
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
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
    except (OSError, SyntaxError, ValueError) as e:
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
