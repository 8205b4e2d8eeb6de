"""The gallery thumbnail as a file: an upright JPEG, THUMB_SIDE pixels on its long side, cut from an
image already decoded by whoever decoded it (the embed stage, from the decode it makes for the model;
search.thumbs, for a photo that has none yet), so every thumbnail is the same kind of file."""
from __future__ import annotations

import math
import os
from pathlib import Path

THUMB_SIDE = 320  # long side, pixels: sharp on a 160-200 px grid tile at 2x, small enough to inline


def thumb_file(thumbs_dir, digest: str, side: int = THUMB_SIDE) -> Path:
    """Where the cache keeps the photo's `side`-pixel rendition: <thumbs>/<hh>/<digest>-<side>.jpg."""
    return Path(os.path.join(thumbs_dir, digest[:2], f"{digest}-{side}.jpg"))


def decode_side(width: int | None, height: int | None, side: int = THUMB_SIDE) -> int | None:
    """The short side a decode needs so that the image is still `side` pixels on its long side
    (JPEG draft mode decodes at the smallest DCT scale whose short side is at least this); None
    when the photo's size is unknown."""
    if not width or not height:
        return None
    return max(1, math.ceil(side * min(width, height) / max(width, height)))


def save_thumbnail(image, path, side: int = THUMB_SIDE) -> Path:
    """Write an upright RGB PIL image as the cached rendition at `path`: shrunk (in place) to `side`
    pixels on its long side, a smaller image kept at its own size; atomically (a reader never sees
    half a file). Raises OSError, or errors.DiskFull on a full disk, when it cannot be written."""
    from PIL import Image

    from ..library import write_atomic

    image.thumbnail((side, side), Image.Resampling.LANCZOS)
    quality = 75 if side <= THUMB_SIDE else 85
    return write_atomic(path, lambda f: image.save(f, "JPEG", quality=quality, optimize=side <= THUMB_SIDE))
