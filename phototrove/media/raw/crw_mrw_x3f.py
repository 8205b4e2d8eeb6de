"""The rarer RAWs: CRW (Canon's CIFF: camera, date, size, orientation and its JpgFromRaw), MRW
(Minolta: the EXIF and the size) and X3F (Sigma: the image size only)."""
from __future__ import annotations

from datetime import datetime, timezone

from ..exif import camera_name, exif_fields
from ..kinds import MediaError
from ..tiff import TiffError, read_tiff, text
from .info import Preview, RawInfo, _info
from .previews import _previews
from .reader import MAX_ENTRIES, _File


# -- CRW (Canon's CIFF) -----------------------------------------------------------------------------
def _crw(f: _File) -> RawInfo:
    e = "<" if f.get(0, 2) == b"II" else ">"
    start = f.unpack(e + "I", 2)[0]
    out: dict = {}
    previews: list[Preview] = []
    if f.n < f.size:   # the record table sits at the heap's end: without it, the format alone
        f.notes.append("CRW: only the file's head was given: metadata not read")
        return _info("crw", (None, None), out, previews, f.notes)
    if not 14 <= start < f.n - 4:
        raise MediaError("corrupt", f"CRW heap starts at {start}")
    records: dict[int, tuple[int, int]] = {}
    _ciff_heap(f, e, start, f.n, records, 0, [64])
    found = [(o, n, None, None) for tag, (o, n) in records.items() if tag == 0x2007]
    previews = _previews(f, found, "crw")
    if 0x080A in records:
        o, n = records[0x080A]
        parts = f.get(o, min(n, 256)).split(b"\x00")
        if len(parts) >= 2:
            make, model = text(parts[0]), text(parts[1])
            out.update({k: v for k, v in (("camera", camera_name(make, model)), ("make", make)) if v})
    if 0x180E in records and records[0x180E][1] >= 4:
        seconds = f.unpack(e + "I", records[0x180E][0])[0]   # the camera's wall clock, as seconds
        if seconds:
            out["taken_local"] = datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    size = (None, None)
    if 0x1810 in records and records[0x1810][1] >= 16:
        w, h, _aspect, rotation = f.unpack(e + "IIfi", records[0x1810][0])
        size = (w, h) if w and h else size
        out["orientation"] = {0: 1, 90: 6, 180: 3, -180: 3, 270: 8, -90: 8}.get(rotation, 1)
    return _info("crw", size, out, previews, f.notes)


def _ciff_heap(f: _File, e: str, start: int, end: int, records: dict, depth: int, budget: list[int]) -> None:
    """Collect tag -> (offset, length) of a CIFF heap's records, sub-heaps included (bounded in
    depth and in heaps read, `budget`). A heap's last four bytes point at its record table."""
    budget[0] -= 1
    if depth > 4 or budget[0] < 0 or end - start < 6:
        return
    table = start + f.unpack(e + "I", end - 4)[0]
    if not start <= table <= end - 6:
        raise MediaError("truncated" if depth == 0 else "corrupt", "CRW record table out of place")
    count = f.unpack(e + "H", table)[0]
    for i in range(min(count, MAX_ENTRIES)):
        at = table + 2 + 10 * i
        if at + 10 > end:
            break
        tag, length, offset = f.unpack(e + "HII", at)
        if tag & 0xC000 == 0x4000:       # the value is in the record itself
            records.setdefault(tag & 0x3FFF, (at + 2, 8))
            continue
        o = start + offset
        if not (start <= o and o + length <= end):
            continue
        if tag & 0x3800 in (0x2800, 0x3000):  # a sub-heap
            _ciff_heap(f, e, o, o + length, records, depth + 1, budget)
        else:
            records.setdefault(tag & 0x3FFF, (o, length))


# -- MRW and X3F ------------------------------------------------------------------------------------
def _mrw(f: _File) -> RawInfo:
    """Minolta: blocks (4-byte name, big-endian length) before the sensor data; TTW holds a TIFF
    (the EXIF), PRD the sensor and image sizes."""
    if f.n < 8:
        raise f.cut("MRW header", 8)
    end = 8 + f.unpack(">I", 4)[0]
    if end > f.size:
        raise f.cut("MRW header blocks", end)
    exif, size, pos = {}, (None, None), 8
    for _ in range(64):
        if pos + 8 > min(end, f.n):
            break
        kind, length = f.unpack(">4sI", pos)
        body = pos + 8
        if kind == b"\x00TTW" and f.has(body, length):
            try:
                exif = exif_fields(read_tiff(f.buf[body:body + length]))
            except TiffError:
                f.notes.append("MRW: TTW block is not a TIFF structure")
        elif kind == b"\x00PRD" and f.has(body, 16):
            h, w = f.unpack(">HH", body + 12)
            size = (w, h) if w and h else size
        pos = body + length
    return _info("mrw", size, exif, [], f.notes)


def _x3f(f: _File) -> RawInfo:
    """Sigma: the header's image size (columns, rows) only."""
    if f.n < 36:
        raise f.cut("X3F header", 36)
    w, h = f.unpack("<II", 28)
    return _info("x3f", (w, h) if 0 < w < 100_000 and 0 < h < 100_000 else (None, None), {}, [], f.notes)
