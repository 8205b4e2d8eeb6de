"""JPEG structure without decoding: where the file ends, its frame size, and its APP segments.

Metadata is inserted as APP segments in front of a JPEG's own bytes; the compressed image data is
never touched, so nothing is decoded or re-encoded. Used by the Lightroom source (orientation and
profile, so thumbnails and the model see a preview upright) and by output/ (everything trove knows).
"""
from __future__ import annotations

import re
import struct

EXIF_HEADER = b"Exif\x00\x00"
XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
ICC_HEADER = b"ICC_PROFILE\x00"
MAX_SEGMENT = 65533  # payload bytes one APP segment can hold (length field is 16 bits, counts itself)


class JpegError(ValueError):
    pass


# -- JPEG segments --------------------------------------------------------------------------------
def split_header(jpeg: bytes) -> tuple[list[tuple[int, bytes]], int]:
    """The APPn/COM segments right after SOI as (marker, payload), and the offset where the rest
    (tables, frame, scan) begins."""
    if jpeg[:2] != b"\xff\xd8":
        raise JpegError("not a JPEG (no SOI marker)")
    segments, pos, n = [], 2, len(jpeg)
    while pos + 4 <= n and jpeg[pos] == 0xFF:
        marker = jpeg[pos + 1]
        if not (0xE0 <= marker <= 0xEF or marker == 0xFE):
            break
        length = int.from_bytes(jpeg[pos + 2:pos + 4], "big")
        if length < 2 or pos + 2 + length > n:
            raise JpegError("damaged JPEG header segment")
        segments.append((marker, jpeg[pos + 4:pos + 2 + length]))
        pos += 2 + length
    return segments, pos


def _segment(marker: int, payload: bytes) -> bytes:
    if len(payload) > MAX_SEGMENT:
        raise JpegError(f"segment too large ({len(payload)} bytes)")
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def _replaced(marker: int, payload: bytes) -> bool:
    return ((marker == 0xE1 and (payload.startswith(EXIF_HEADER) or payload.startswith(XMP_HEADER)))
            or (marker == 0xE2 and payload.startswith(ICC_HEADER)))


def with_metadata(jpeg: bytes, *, exif: bytes | None = None, xmp: bytes | None = None,
                  icc: bytes | None = None) -> bytes:
    """The same JPEG with the given EXIF (TIFF bytes), XMP (packet) and ICC profile segments.
    Existing segments of those kinds are dropped; every other byte is kept as it was."""
    head, rest = metadata_prefix(jpeg, exif=exif, xmp=xmp, icc=icc)
    return head + rest


def metadata_prefix(jpeg: bytes, *, exif: bytes | None = None, xmp: bytes | None = None,
                    icc: bytes | None = None) -> tuple[bytes, memoryview]:
    """`with_metadata` as (new leading bytes, the untouched rest of `jpeg`), to write without a copy."""
    segments, rest = split_header(jpeg)
    out = [b"\xff\xd8"]
    keep = [(m, p) for m, p in segments if not _replaced(m, p)]
    if keep and keep[0][0] == 0xE0:  # JFIF APP0 stays first, as its spec requires
        out.append(_segment(*keep.pop(0)))
    if exif is not None:
        out.append(_segment(0xE1, EXIF_HEADER + exif))
    if xmp is not None:
        out.append(_segment(0xE1, XMP_HEADER + xmp))
    if icc is not None:
        out.extend(_icc_segments(icc))
    out.extend(_segment(m, p) for m, p in keep)
    return b"".join(out), memoryview(jpeg)[rest:]


def _icc_segments(icc: bytes) -> list[bytes]:
    room = MAX_SEGMENT - len(ICC_HEADER) - 2
    chunks = [icc[i:i + room] for i in range(0, len(icc), room)]
    return [_segment(0xE2, ICC_HEADER + bytes((i + 1, len(chunks))) + c) for i, c in enumerate(chunks)]


def scan_data(jpeg: bytes) -> bytes:
    """Everything after the leading APP/COM segments: what a lossless rewrite must keep identical."""
    return jpeg[split_header(jpeg)[1]:]


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
        if data[pos] != 0xFF:  # junk between segments (some cameras write it): decoders skip it too
            nxt = data.find(b"\xff", pos) if not isinstance(data, memoryview) else bytes(data).find(b"\xff", pos)
            if nxt < 0:
                return None
            pos = nxt
            continue
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


# between scans of a progressive JPEG: tables, restart interval, APPn, a comment, the next scan header
_BETWEEN_SCANS = frozenset((0xC4, 0xCC, 0xDA, 0xDB, 0xDD, 0xFE, *range(0xE0, 0xF0)))


def scan_damage(data: bytes | memoryview) -> str | None:
    """Why the entropy-coded data of a complete JPEG (SOI .. EOI) cannot be decoded, or None.

    Every byte of the scans is looked at, without decoding: inside them each 0xFF must be a stuffed
    byte (FF 00), a restart marker (FF D0-D7) or a fill byte, and only table or scan headers may sit
    between scans. Any other marker is what makes libjpeg give up mid-image ("broken data stream" in
    Pillow): a level with scrambled or overwritten bytes. Damage that stays within valid codes (a run
    of zeros) decodes to a wrong-looking picture instead and is not seen here. One C-speed regex
    search per marker found (in a baseline JPEG: the EOI only)."""
    start = _first_scan(data)
    if start is None:
        return "no scan header"
    end, why = _walk_scans(data, start, len(data) - 2)
    return why if end is not None or why else "no end-of-image marker"


def checked_end(data: bytes | memoryview) -> tuple[int | None, str | None]:
    """`jpeg_end` and `scan_damage` in one pass over the scans: (offset just past the EOI, None) for
    a complete JPEG whose entropy-coded data looks decodable; (None, why) if it is cut short (why
    is then None) or damaged. Recovery checks every preview it writes, so one search, not two."""
    start = _first_scan(data)
    if start is None:
        return None, "no scan header"
    return _walk_scans(data, start, None)


def _walk_scans(data, pos: int, eoi: int | None) -> tuple[int | None, str | None]:
    """From the first scan's data on: (offset past the EOI, None), (None, the damage), or (None,
    None) when no EOI comes. The EOI is at `eoi` if given, else the first FF D9 (none can sit
    inside or between scans)."""
    while True:
        m = _ODD_MARKER.search(data, pos)
        if m is None:
            return None, None
        at = m.start()
        if (at >= eoi) if eoi is not None else (data[at + 1] == 0xD9):
            return at + 2, None
        if at > 0 and data[at - 1] == 0xFF:   # the second byte of a fill run: FF FF xx
            pos = at + 1
            continue
        skip = _between_scans(data, at)
        if skip is None:
            return None, f"marker FF {data[at + 1]:02X} inside the image data at byte {at}"
        pos = skip


# an 0xFF that is neither stuffing (FF 00), a restart marker (FF D0-D7) nor followed by a fill byte
_ODD_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")


def _between_scans(data, pos: int) -> int | None:
    """Where the next scan's data starts if `pos` begins a run of table/scan headers ending in an
    SOS (the markers between progressive scans); None if it does not (damage)."""
    n = len(data)
    while pos + 4 <= n and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker not in _BETWEEN_SCANS:
            return None
        length = int.from_bytes(bytes(data[pos + 2:pos + 4]), "big")
        if length < 2:
            return None
        pos += 2 + length
        if marker == 0xDA:
            return pos
    return None


def _first_scan(data) -> int | None:
    """Offset of the first byte after the first SOS segment."""
    pos, n = 2, len(data)
    while pos + 4 <= n:
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        length = int.from_bytes(bytes(data[pos + 2:pos + 4]), "big")
        pos += 2 + length
        if marker == 0xDA:
            return pos
    return None


def jpeg_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from the JPEG's frame header, without decoding."""
    pos, n = 2, len(data)
    while pos + 9 < n and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        length = int.from_bytes(data[pos + 2:pos + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            h, w = struct.unpack(">HH", data[pos + 5:pos + 9])
            return w, h
        pos += 2 + length
    return None
