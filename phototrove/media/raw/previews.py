"""The embedded JPEG previews: each one a format's reader found checked against the bytes (a JPEG's
frame header gives its size; a lossless one is sensor data, not a preview), one per offset, largest
first; a preview's own EXIF (RAF, RW2); and preview_bytes, which hands back the bytes of the one
asked for."""
from __future__ import annotations

import struct

from ..exif import read_exif
from ..kinds import MediaError
from .info import Preview, RawInfo
from .reader import MAX_PREVIEWS, _File

SOF = set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
LOSSLESS_SOF = {0xC3, 0xC7, 0xCB, 0xCF}             # lossless JPEG: sensor data (CR2, DNG), not a preview


def preview_bytes(data: bytes | memoryview, info: RawInfo | None = None, *,
                  min_side: int = 0) -> tuple[bytes, Preview]:
    """The bytes of the largest preview whose short side is >= min_side (else the largest).
    One that is not within `data` (only a head was given) gives way to the next usable one."""
    # imported here, not above: probe imports the format readers, which import this module
    from .probe import probe_raw

    info = probe_raw(data) if info is None else info
    if not info.previews:
        raise MediaError("no-preview", f"no embedded JPEG preview in this {info.format.upper()} file")
    big = [p for p in info.previews if p.width and p.height and min(p.width, p.height) >= min_side]
    first_error = None
    for p in big + [p for p in info.previews if p not in big]:
        try:
            return _preview_at(data, p), p
        except MediaError as e:
            first_error = first_error or e
    raise first_error


def _preview_at(data, p: Preview) -> bytes:
    try:
        n = len(data)
        jpeg = bytes(data[p.offset:p.offset + p.length]) if 0 <= p.offset and p.offset + p.length <= n else None
    except Exception as e:  # not bytes at all
        raise MediaError("corrupt", f"preview unreadable ({type(e).__name__}: {e})") from None
    if jpeg is None or p.length < 4:
        raise MediaError("truncated", f"preview at {p.offset}+{p.length} lies past the {n} bytes given")
    if jpeg[:2] != b"\xff\xd8":
        raise MediaError("corrupt", f"preview at {p.offset} is not a JPEG")
    return jpeg


# -- previews ---------------------------------------------------------------------------------------
def _jpeg_frame(f: _File, start: int, end: int) -> tuple[int, int, bool] | None:
    """(width, height, lossless) from the frame header of the JPEG at `start`, None if not reached."""
    pos, end = start + 2, min(end, f.n)
    for _ in range(512):
        if pos + 4 > end or f.buf[pos] != 0xFF:
            return None
        marker = f.buf[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        if marker in (0xD9, 0xDA):
            return None
        if marker in SOF:
            if pos + 9 > end:
                return None
            h, w = struct.unpack_from(">HH", f.buf, pos + 5)
            return w, h, marker in LOSSLESS_SOF
        pos += 2 + ((f.buf[pos + 2] << 8) | f.buf[pos + 3])
    return None


def _previews(f: _File, found: list[tuple[int, int, int | None, int | None]], fmt: str) -> list[Preview]:
    """Found (offset, length, width, height) checked against the bytes: JPEGs only (the frame's
    size preferred), one per offset, largest first. The largest must lie within the file."""
    kept: dict[int, Preview] = {}
    for offset, length, w, h in found[:MAX_PREVIEWS]:
        if not isinstance(offset, int) or not isinstance(length, int) or offset <= 0 or length < 4:
            continue
        if f.has(offset, 2):
            if f.get(offset, 2) != b"\xff\xd8":
                f.notes.append(f"{fmt.upper()}: preview at {offset} is not a JPEG: ignored")
                continue
            frame = _jpeg_frame(f, offset, offset + length)
            if frame is not None:
                if frame[2]:
                    continue
                w, h = frame[:2]
        w, h = (w, h) if w and h and w > 0 and h > 0 else (None, None)
        if offset not in kept or kept[offset].width is None:
            kept[offset] = Preview(offset, length, w, h)
    previews = sorted(kept.values(), key=lambda p: (0, -p.width * p.height, -p.length) if p.width
                      else (1, -p.length, 0))
    whole = [p for p in previews if f.fits(p.offset, p.length)]
    cut = [p for p in previews if p not in whole]
    # one past the end is the largest if it comes first, or (its size unknown: its bytes are not
    # there to say) if it is longer than every whole one
    if cut and (cut[0] is previews[0] or cut[0].width is None and cut[0].length >= max(p.length for p in whole)):
        raise f.cut(f"{fmt.upper()} preview JPEG", cut[0].offset + cut[0].length)
    if cut:
        f.notes.append(f"{fmt.upper()}: {len(cut)} preview(s) past the end of the file: ignored")
    return whole


def _jpeg_exif(f: _File, p: Preview) -> dict:
    """Catalog metadata from a preview JPEG's own EXIF (RAF, RW2), {} if it is not within the data."""
    if not f.has(p.offset, p.length):
        return {}
    from ..containers import blocks

    return read_exif(blocks(f.get(p.offset, p.length), "JPEG").exif)
