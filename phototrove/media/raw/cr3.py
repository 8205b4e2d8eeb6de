"""CR3, Canon's ISO base media RAW: the metadata in the CMT1..CMT4 boxes (each a TIFF structure of its
own), the previews THMB and PRVW, and the first track's full-size JPEG."""
from __future__ import annotations

import struct
from dataclasses import replace

from ..exif import exif_fields
from ..kinds import MediaError
from ..tiff import Ifd, Tiff, TiffError, read_tiff
from .info import RawInfo, _info
from .previews import _previews
from .reader import MAX_BOXES, _File
from .tiff_based import HEIGHT, WIDTH, tag_int

CANON_UUID = bytes.fromhex("85c0b687820f11e08111f4ce462b6a48")
PREVIEW_UUID = bytes.fromhex("eaf42b5e1c984b88b9fbb7dc406e4d16")


# -- CR3: ISO base media ----------------------------------------------------------------------------
def _boxes(f: _File, start: int, end: int, parent: str):
    """(type, payload start, box end) of the boxes in [start, end); only headers within the data."""
    pos = start
    for _ in range(MAX_BOXES):
        if pos + 8 > end:
            if pos < end and end <= f.n:
                f.notes.append(f"CR3 {parent}: {end - pos} stray byte(s) at its end: ignored")
            return
        if pos + 8 > f.n:
            return   # beyond the head we were given
        size, kind = struct.unpack_from(">I4s", f.buf, pos)
        head = 8
        if size == 1:
            if pos + 16 > f.n:
                return
            size, head = struct.unpack_from(">Q", f.buf, pos + 8)[0], 16
        elif size == 0:
            size = end - pos
        if size < head:
            raise MediaError("corrupt", f"CR3 box {kind!r} declares {size} bytes")
        if pos + size > end:
            if end >= f.size:
                raise f.cut(f"CR3 box {kind.decode('latin-1')!r}", pos + size)
            # inside a box that itself fits: a size overstated, as some files have; keep what is there
            f.notes.append(f"CR3 box {kind.decode('latin-1')!r} runs past its parent {parent}: cut to it")
            yield kind, pos + head, end
            return
        yield kind, pos + head, pos + size
        pos += size


def _children(f: _File, start: int, end: int, parent: str) -> dict[bytes, list[tuple[int, int]]]:
    if end > f.n:
        raise f.cut(f"CR3 {parent} box", end)
    out: dict[bytes, list[tuple[int, int]]] = {}
    for kind, s, e in _boxes(f, start, end, parent):
        out.setdefault(kind, []).append((s, e))
    return out


def _cr3(f: _File) -> RawInfo:
    top = list(_boxes(f, 0, f.size, "file"))
    moov = next(((s, e) for k, s, e in top if k == b"moov"), None)
    if moov is None:
        if not top or top[-1][2] < f.size:   # boxes past the head we were given: it may be there
            raise f.cut("CR3 metadata (moov)", f.size)
        f.notes.append("CR3 without a moov box: no metadata, no previews")   # the brand says CR3
        return _info("cr3", (None, None), {}, [], f.notes)
    boxes = _children(f, *moov, "moov")
    canon = next(((s, e) for s, e in boxes.get(b"uuid", []) if f.get(s, 16) == CANON_UUID), None)
    if canon is None:
        raise MediaError("corrupt", "CR3 without Canon's metadata box")
    meta = _children(f, canon[0] + 16, canon[1], "Canon uuid")
    found, craws = [], []
    for s, e in meta.get(b"THMB", [])[:1]:
        found.append(_sized_jpeg(f, s + 4, s + 8, s + 16, e))   # version/flags, w, h, length, 4 bytes
    for k, s, e in top:
        if k == b"uuid" and f.get(s, 16) == PREVIEW_UUID and e <= f.n:
            for kind, ps, pe in _boxes(f, s + 24, e, "preview uuid"):
                if kind == b"PRVW":
                    found.append(_sized_jpeg(f, ps + 6, ps + 12, ps + 16, pe))   # 6 bytes, w, h, 2, length
    for i, (s, e) in enumerate(boxes.get(b"trak", [])[:8]):
        track = _cr3_track(f, s, e)
        if track:
            craws.append(track[:2])
            if i == 0 and track[2] is not None:   # the first track: the full-size JPEG
                found.append(track[2])
    previews = _previews(f, found, "cr3")
    exif = exif_fields(_cr3_tiff(f, meta))
    ifd0 = _cr3_ifd(f, meta, b"CMT1")
    size = (tag_int(ifd0.tags.get(WIDTH)), tag_int(ifd0.tags.get(HEIGHT))) if ifd0 else (None, None)
    if not size[0] and craws:
        size = max(craws, key=lambda wh: wh[0] * wh[1])
    return _info("cr3", size, exif, previews, f.notes)


def _sized_jpeg(f: _File, size_at: int, length_at: int, data_at: int, end: int):
    """THMB and PRVW: u16 width and height, a u32 length, the JPEG (bounded by its box)."""
    w, h = f.unpack(">HH", size_at)
    length = f.unpack(">I", length_at)[0]
    return data_at, min(length, end - data_at), w, h


def _cr3_track(f: _File, start: int, end: int):
    """(width, height, the first sample as a preview candidate or None) of a CRAW track."""
    node = (start, end)
    for kind in (b"mdia", b"minf", b"stbl"):
        found = _children(f, *node, "track").get(kind)
        if not found:
            return None
        node = found[0]
    stbl = _children(f, *node, "stbl")
    stsd = stbl.get(b"stsd")
    if not stsd or stsd[0][1] - stsd[0][0] < 8 + 8 + 28:
        return None
    entry = stsd[0][0] + 8                      # version/flags, entry count, then the first entry
    size, kind = f.unpack(">I4s", entry)
    if kind != b"CRAW":
        return None
    w, h = f.unpack(">HH", entry + 8 + 24)       # sample entry (8) and video fields (16) before them
    jpeg = _cr3_first_sample(f, stbl, w, h) if b"JPEG" in f.get(entry + 8 + 70, max(0, size - 78)) else None
    return w, h, jpeg


def _cr3_first_sample(f: _File, stbl: dict, w: int, h: int):
    sizes, chunks = stbl.get(b"stsz"), stbl.get(b"co64") or stbl.get(b"stco")
    if not sizes or not chunks:
        return None
    size, count = f.unpack(">II", sizes[0][0] + 4)
    if size == 0 and count:
        size = f.unpack(">I", sizes[0][0] + 12)[0]
    wide = b"co64" in stbl
    if f.unpack(">I", chunks[0][0] + 4)[0] < 1:
        return None
    offset = f.unpack(">Q" if wide else ">I", chunks[0][0] + 8)[0]
    return offset, size, w, h


def _cr3_ifd(f: _File, meta: dict, kind: bytes) -> Ifd | None:
    """The first IFD of a CMTn box (each is a TIFF structure of its own)."""
    box = meta.get(kind)
    if not box:
        return None
    try:
        tiff = read_tiff(f.get(box[0][0], box[0][1] - box[0][0]), sub_ifds=False)
    except TiffError:
        f.notes.append(f"CR3 {kind.decode()} is not a TIFF structure: ignored")
        return None
    f.notes += tiff.notes
    return tiff.ifds[0] if tiff.ifds else None


def _cr3_tiff(f: _File, meta: dict) -> Tiff:
    """One Tiff of CMT1 (IFD0), CMT2 (EXIF) and CMT4 (GPS), as exif_fields reads a file's."""
    tiff = Tiff(little=True, big=False)
    for kind, name in ((b"CMT1", "ifd0"), (b"CMT2", "exif"), (b"CMT4", "gps")):
        ifd = _cr3_ifd(f, meta, kind)
        if ifd is not None:
            tiff.ifds.append(replace(ifd, name=name))
    return tiff
