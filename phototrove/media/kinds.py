"""What counts as a photo file, what is OS junk, and the error every media reader raises."""
from __future__ import annotations

import threading
import warnings

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp", ".gif", ".tif", ".tiff", ".heic", ".heif",
                    ".hif", ".avif", ".bmp"}
# camera RAW (DNG included: its pixels need the RAW path, its preview is what a viewer shows)
RAW_EXTENSIONS = {".dng", ".cr2", ".cr3", ".crw", ".nef", ".nrw", ".arw", ".sr2", ".srf", ".raf", ".orf", ".rw2",
                  ".rwl", ".pef", ".srw", ".3fr", ".fff", ".iiq", ".erf", ".kdc", ".dcr", ".mrw", ".x3f", ".mos",
                  ".gpr", ".raw"}
# `.mp` is a Pixel motion photo's video part
VIDEO_EXTENSIONS = {".mp4", ".mov", ".qt", ".m4v", ".3gp", ".3g2", ".mkv", ".avi", ".wmv", ".asf", ".mpg",
                    ".mpeg", ".mts", ".m2ts", ".webm", ".mp", ".flv"}
JUNK_NAMES = {".ds_store", "thumbs.db", "desktop.ini", "ehthumbs.db", "icon\r"}
MAX_PIXELS = 1 << 28  # 268 MP: more than any camera or sane panorama; beyond is an image bomb


class MediaError(Exception):
    """A file that is not a usable image. `kind` is a short class for grouping in reports."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


def media_for_name(name: str) -> str | None:
    """'image', 'raw', 'video' or None (not media, or not known by its name) from a file name."""
    i = name.rfind(".")
    ext = name[i:].lower() if i > 0 else ""
    if ext in IMAGE_EXTENSIONS:
        return "image"
    if ext in RAW_EXTENSIONS:
        return "raw"
    if ext in VIDEO_EXTENSIONS:
        return "video"
    return None


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
    chunks (XMP, raw EXIF profiles) up to 64 MiB instead of 1 MiB (real files carry more). Its
    warnings go to the file being read (collect_warnings), never bare to stderr."""
    from PIL import Image, PngImagePlugin

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    PngImagePlugin.MAX_TEXT_CHUNK = PngImagePlugin.MAX_TEXT_MEMORY = 64 << 20
    global _original_show
    if warnings.showwarning is not _show:
        _original_show = warnings.showwarning
        warnings.showwarning = _show
        warnings.filterwarnings("always", module=r"PIL\..*")


_collecting = threading.local()
_original_show = warnings.showwarning


class collect_warnings:
    """`with collect_warnings() as notes:` the warnings libraries raise in this thread, as notes
    (thread-safe, unlike warnings.catch_warnings, since the read stage probes in a pool)."""

    def __enter__(self) -> list[str]:
        self.before = getattr(_collecting, "notes", None)
        _collecting.notes = []
        return _collecting.notes

    def __exit__(self, *exc) -> None:
        _collecting.notes = self.before


def _show(message, category, filename, lineno, file=None, line=None) -> None:
    if "PIL" not in str(filename) and "pillow_heif" not in str(filename):
        return _original_show(message, category, filename, lineno, file, line)
    notes = getattr(_collecting, "notes", None)
    if notes is not None:
        notes.append(f"{category.__name__}: {message}"[:200])
    # outside a read (decoding for the model or a thumbnail) a library's warning says nothing the
    # user can act on: the error, if it comes to one, is recorded with the photo
