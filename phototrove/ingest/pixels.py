"""The pixels of one location, upright, for the model and the thumbnails: a photo decoded, a RAW's
embedded preview (or LibRaw), a video's poster frame (PyAV), whatever source holds it."""
from __future__ import annotations

import os

from ..catalog import Location
from ..media.decode import load_image, load_raw
from .base import Source


def location_image(source: Source, loc: Location, media: str, min_side: int | None = None):
    """An upright RGB PIL image of what `loc` holds (media: 'image', 'raw' or 'video'). Raises
    MediaError for what cannot be decoded, OSError for what cannot be read."""
    if media == "video":
        return _poster(source, loc, min_side or 224)
    data = source.read_bytes(loc)
    if media == "raw":
        return load_raw(data, min_side, name=os.path.basename(loc.entry or loc.path))
    return load_image(data, min_side=min_side)


def _poster(source: Source, loc: Location, min_side: int):
    from ..media.kinds import MediaError
    from ..media.video import poster_frame

    try:
        if not loc.entry:   # a plain file: FFmpeg reads it by its path
            return poster_frame(loc.path, min_side=min_side)
        with source.open_seekable(loc) as f:
            return poster_frame(f, min_side=min_side)
    except MediaError as e:
        if e.kind == "needs-extra":   # said apart, so the row goes once PyAV is installed
            raise MediaError(EXTRAS["video"][1], str(e)) from None
        raise


# extra -> (the module it installs, the error kind of what waits for it)
EXTRAS = {"raw": ("rawpy", "needs-raw-extra"), "video": ("av", "needs-video-extra")}
