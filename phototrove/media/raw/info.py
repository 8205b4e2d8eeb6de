"""What probe_raw returns: a RawInfo, with the Preview byte ranges in it; and _info, which every
format's reader ends with (the size as displayed, the notes gathered on the way)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Preview:
    offset: int                 # byte range of an embedded JPEG inside the RAW file
    length: int
    width: int | None           # its pixel size as stored (JPEG frame, else its IFD), None if unknown
    height: int | None


@dataclass
class RawInfo:
    format: str                 # 'dng', 'cr2', 'cr3', 'nef', ... ('raw': some TIFF-based RAW)
    width: int | None           # the full image as displayed (orientation applied), best effort
    height: int | None
    stored_width: int | None
    stored_height: int | None
    exif: dict                  # catalog metadata keys, as exif_fields() gives them
    previews: list[Preview]     # largest first (by pixel area; unknown sizes last, by length)
    orientation: int | None     # 1..8 as the camera recorded it (previews rarely carry it)


def _info(fmt: str, size: tuple[int | None, int | None], exif: dict, previews: list[Preview],
          notes: list[str]) -> RawInfo:
    orientation = exif.get("orientation")
    w, h = size
    shown = (h, w) if orientation in (5, 6, 7, 8) else (w, h)
    if notes:
        exif["notes"] = (exif.get("notes", []) + notes)[:20]
    return RawInfo(fmt, shown[0], shown[1], w, h, exif, previews, orientation)
