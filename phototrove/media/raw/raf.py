"""RAF, Fujifilm's RAW: one embedded JPEG, which also carries the EXIF; the image size from the RAF
directory."""
from __future__ import annotations

from .info import RawInfo, _info
from .previews import _jpeg_exif, _previews
from .reader import _File


# -- RAF --------------------------------------------------------------------------------------------
def _raf(f: _File) -> RawInfo:
    if f.n < 108:
        raise f.cut("RAF header", 108)
    jpeg_at, jpeg_len, dir_at, _dir_len, cfa_at, cfa_len = f.unpack(">6I", 84)
    if cfa_at and cfa_len and cfa_at + cfa_len > f.size:
        raise f.cut("RAF sensor data", cfa_at + cfa_len)
    previews = _previews(f, [(jpeg_at, jpeg_len, None, None)], "raf")
    exif = _jpeg_exif(f, previews[0]) if previews else {}
    size = _raf_size(f, dir_at)
    if not size[0] and previews and previews[0].width:
        size = previews[0].width, previews[0].height
    return _info("raf", size, exif, previews, f.notes)


def _raf_size(f: _File, at: int) -> tuple[int | None, int | None]:
    """From the RAF directory: RawImageCroppedSize (0x111), else RawImageFullSize (0x100); height first."""
    if not at or not f.has(at, 4):
        return None, None
    sizes = {}
    pos = at + 4
    for _ in range(min(f.unpack(">I", at)[0], 256)):
        if not f.has(pos, 4):
            break
        tag, length = f.unpack(">HH", pos)
        if tag in (0x100, 0x111) and length == 4 and f.has(pos + 4, 4):
            sizes[tag] = f.unpack(">HH", pos + 4)
        pos += 4 + length
    h, w = sizes.get(0x111) or sizes.get(0x100) or (None, None)
    return (w, h) if w and h else (None, None)
