"""What trove knows, written into a JPEG without touching its image data: only the run of APP/COM
segments after SOI is rebuilt; every byte from the first table or frame marker on is kept.

- EXIF: a JPEG without any gets a new block (build_exif: capture time with its offset, GPS, camera,
  size). A camera's own EXIF is never rewritten wholesale: it is kept byte for byte, and only the
  date tags trove knows better (the camera had no usable date: trove's came from a sidecar or the
  file name) are patched where they stand, when they have the same size (`YYYY:MM:DD HH:MM:SS`).
- XMP: trove's packet (title, caption, keywords, people, rating, original name, date with its
  offset, GPS when the EXIF has none) replaces the file's, in its place, when the file's holds
  nothing trove cannot write back (only namespaces trove reads and writes, no extended XMP, not
  after a multi-picture index whose offsets would move). Otherwise the file's XMP is kept as it is
  (a motion photo's video directory, a gain map, develop settings) and trove's goes into an `.xmp`
  sidecar beside the file.
"""
from __future__ import annotations

import re
import struct
from dataclasses import dataclass

from ..media.exif_write import build_exif, capture_clock
from ..media.jpeg import EXIF_HEADER, MAX_SEGMENT, XMP_HEADER, JpegError, jpeg_size
from ..media.tiff import ASCII, TiffError, read_tiff
from .xmp import fitting_xmp

EXPORTED = "phototrove (metadata from its catalog)"
XMP_EXTENSION = b"http://ns.adobe.com/xmp/extension/\x00"
MPF_HEADER = b"MPF\x00"
MAX_HEADER = 16 << 20   # APP segments beyond this are not a photo's header

# XMP namespaces whose every property trove reads into its catalog or writes back itself (or that
# only repeat EXIF, which stays in the file): a packet using only these is replaced without loss
SAFE_NAMESPACES = frozenset((
    "adobe:ns:meta/", "http://www.w3.org/1999/02/22-rdf-syntax-ns#", "http://ns.adobe.com/xap/1.0/",
    "http://purl.org/dc/elements/1.1/", "http://ns.adobe.com/photoshop/1.0/", "http://ns.adobe.com/xap/1.0/mm/",
    "http://ns.adobe.com/xap/1.0/sType/ResourceEvent#", "http://ns.adobe.com/xap/1.0/sType/ResourceRef#",
    "http://ns.adobe.com/lightroom/1.0/", "http://iptc.org/std/Iptc4xmpExt/2008-02-29/",
    "http://ns.adobe.com/exif/1.0/", "http://ns.adobe.com/tiff/1.0/", "http://ns.adobe.com/xap/1.0/g/img/",
))
_XMLNS = re.compile(rb"""xmlns(?::[\w.-]+)?\s*=\s*(["'])(.*?)\1""", re.S)
_OFFSET = re.compile(r"[+-]\d\d:\d\d")
DATE_TAGS = ((0x9003, 0x9011), (0x9004, 0x9012))   # DateTimeOriginal, CreateDate -> their offset tags


@dataclass
class Edited:
    head: bytes                 # SOI and the new run of APP/COM segments
    rest: int                   # where the original's bytes continue (kept from here on)
    sidecar: bytes | None       # trove's XMP, when it could not go into the file
    notes: list[str]


def header_end(buf: bytes, complete: bool) -> int | None:
    """Offset where the APP/COM run after SOI ends in `buf`; None when `buf` (not `complete`, more
    can be read) ends inside it. JpegError when it is not a JPEG or the run is damaged."""
    if buf[:2] != b"\xff\xd8":
        raise JpegError("not a JPEG (no SOI marker)")
    pos, n = 2, len(buf)
    while True:
        if pos + 4 > n:
            if complete:
                raise JpegError("the JPEG ends inside its header")
            return None
        if buf[pos] != 0xFF or not (0xE0 <= buf[pos + 1] <= 0xEF or buf[pos + 1] == 0xFE):
            return pos
        length = int.from_bytes(buf[pos + 2:pos + 4], "big")
        if length < 2:
            raise JpegError("damaged JPEG header segment")
        if pos + 2 + length > n:
            if complete:
                raise JpegError("damaged JPEG header segment")
            return None
        pos += 2 + length


def read_header(buf: bytearray, more, complete: bool) -> int:
    """The end of the APP/COM run of the JPEG whose first bytes are `buf`: `more(n)` reads on, into
    `buf`, until the run is whole (what was read stays in `buf`, also when JpegError is raised)."""
    while True:
        end = header_end(buf, complete)
        if end is not None:
            return end
        if len(buf) > MAX_HEADER:
            raise JpegError("the JPEG's header segments run past 16 MB")
        chunk = more(max(len(buf), 1 << 16))
        complete = not chunk
        buf += chunk


def edit_header(buf: bytes, end: int, meta: dict) -> Edited:
    """The new header for a JPEG whose first bytes are `buf` (its APP/COM run ends at `end`), with
    what `meta` says (catalog keys, as build_exif and build_xmp take them)."""
    segments = _segments(buf, end)
    notes: list[str] = []
    exif_at = next((i for i, (m, p) in enumerate(segments) if m == 0xE1 and p.startswith(EXIF_HEADER)), None)
    mpf_at = next((i for i, (m, p) in enumerate(segments) if m == 0xE2 and p.startswith(MPF_HEADER)), len(segments))
    if exif_at is None:
        size = jpeg_size(buf) or (meta.get("stored_width"), meta.get("stored_height"))
        exif = build_exif({**meta, "color_space": "sRGB", "width": size[0], "height": size[1]}, EXPORTED)
        at = 1 if segments and segments[0][0] == 0xE0 else 0   # JFIF's APP0 stays first
        segments.insert(min(at, mpf_at), (0xE1, EXIF_HEADER + exif))
        exif_at, mpf_at = min(at, mpf_at), mpf_at + 1
        has_gps = _coordinates(meta)
    else:
        payload, patched = patch_exif(segments[exif_at][1], meta)
        if patched:
            segments[exif_at] = (0xE1, payload)
            notes.append(f"EXIF {', '.join(patched)} set from {meta.get('date_source') or 'the catalog'}")
        has_gps = _exif_has_gps(payload)
    ours = fitting_xmp(meta, gps=not has_gps)
    xmp_at = [i for i, (m, p) in enumerate(segments) if m == 0xE1 and p.startswith(XMP_HEADER)]
    ext_at = [i for i, (m, p) in enumerate(segments) if m == 0xE1 and p.startswith(XMP_EXTENSION)]
    sidecar = None
    if not xmp_at:
        segments.insert(min(exif_at + 1, mpf_at), (0xE1, XMP_HEADER + ours))
    elif _replaceable(segments, xmp_at, ext_at, mpf_at):
        segments[xmp_at[0]] = (0xE1, XMP_HEADER + ours)
        segments = [s for i, s in enumerate(segments) if i not in xmp_at[1:]]
    else:
        sidecar = fitting_xmp(meta, gps=True)
        notes.append("its own XMP holds what trove cannot write back: kept, trove's beside it as .xmp")
    return Edited(b"\xff\xd8" + b"".join(_segment(m, p) for m, p in segments), end, sidecar, notes)


def _segments(buf: bytes, end: int) -> list[tuple[int, bytes]]:
    out, pos = [], 2
    while pos < end:
        length = int.from_bytes(buf[pos + 2:pos + 4], "big")
        out.append((buf[pos + 1], bytes(buf[pos + 4:pos + 2 + length])))
        pos += 2 + length
    return out


def _segment(marker: int, payload: bytes) -> bytes:
    if len(payload) > MAX_SEGMENT:
        raise JpegError(f"segment too large ({len(payload)} bytes)")
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def _replaceable(segments, xmp_at: list[int], ext_at: list[int], mpf_at: int) -> bool:
    """Whether the file's XMP can give way to trove's: no extended XMP, not after a multi-picture
    index (MPF offsets count from it: a segment behind it must keep its size), and only
    namespaces trove reads and writes."""
    if ext_at or any(i > mpf_at for i in xmp_at):
        return False
    return all(uri.decode("utf-8", "replace") in SAFE_NAMESPACES
               for i in xmp_at for _q, uri in _XMLNS.findall(segments[i][1][len(XMP_HEADER):]))


# -- EXIF ----------------------------------------------------------------------------------------
def patch_exif(payload: bytes, meta: dict) -> tuple[bytes, list[str]]:
    """The camera's EXIF segment payload with only what trove knows better changed in place (same
    size, every other byte kept): DateTimeOriginal / CreateDate when trove's date did not come from
    this EXIF (it had none usable), and their offset tags (OffsetTimeOriginal, ...) with them or
    when they hold no offset. Returns (payload, names of the tags changed)."""
    local, offset = capture_clock(meta)
    if not local:
        return payload, []
    try:
        tiff = read_tiff(payload[len(EXIF_HEADER):], sub_ifds=True)
    except TiffError:
        return payload, []
    spans = next((d.spans for d in tiff.ifds if d.name == "exif"), {})
    values = next((d.tags for d in tiff.ifds if d.name == "exif"), {})
    data = bytearray(payload)
    base = len(EXIF_HEADER)
    changed: list[str] = []
    from_exif = meta.get("date_source") == "exif"
    for (date_tag, offset_tag), names in zip(DATE_TAGS, (("DateTimeOriginal", "OffsetTimeOriginal"),
                                                        ("CreateDate", "OffsetTimeDigitized"))):
        date_changed = False
        span = spans.get(date_tag)
        if span is not None and span[0] == ASCII and span[1] == 20 and not from_exif \
                and values.get(date_tag) != local:
            data[base + span[2]:base + span[2] + 20] = local.encode("ascii") + b"\x00"
            changed.append(names[0])
            date_changed = True
        span = spans.get(offset_tag)
        if offset and span is not None and span[0] == ASCII and span[1] == 7 and values.get(offset_tag) != offset \
                and (date_changed or not _OFFSET.fullmatch(str(values.get(offset_tag) or ""))):
            data[base + span[2]:base + span[2] + 7] = offset.encode("ascii") + b"\x00"
            changed.append(names[1])
    return bytes(data), changed


def _exif_has_gps(payload: bytes) -> bool:
    try:
        gps = read_tiff(payload[len(EXIF_HEADER):]).ifd("gps")
    except TiffError:
        return False
    return 2 in gps and 4 in gps


def _coordinates(meta: dict) -> bool:
    lat, lon = meta.get("lat"), meta.get("lon")
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (lat, lon)) \
        and abs(lat) <= 90 and abs(lon) <= 180
