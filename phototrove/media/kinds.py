"""What counts as a photo file, what is OS junk, and the error every media reader raises."""
from __future__ import annotations

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".jpe", ".png", ".webp", ".gif", ".tif", ".tiff", ".heic", ".heif", ".hif",
                    ".avif", ".bmp"}
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


def pillow_limits() -> None:
    """Pillow's guards set for photos: decompression bombs refused beyond MAX_PIXELS, and PNG text
    chunks (XMP, raw EXIF profiles) up to 64 MiB instead of 1 MiB (real files carry more)."""
    from PIL import Image, PngImagePlugin

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    PngImagePlugin.MAX_TEXT_CHUNK = PngImagePlugin.MAX_TEXT_MEMORY = 64 << 20
