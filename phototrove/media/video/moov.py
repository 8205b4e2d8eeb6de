"""The movie box (`moov`) read into a _Movie: its header, each track's header, handler and sample
description (_Track), and the metadata items: QuickTime's `udta` text, 3GPP's `loci`, Apple's
`keys`+`ilst` (or an iTunes-style `ilst`). A damaged box costs only itself."""
from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field

from .boxes import _children

MAX_KEYS = 1_000           # Apple metadata keys
LISTS = {"com.apple.quicktime.keywords", "keyw"}   # items that hold several values


# -- ISO-BMFF: the movie box --------------------------------------------------------------------------
@dataclass
class _Track:
    handler: bytes = b""
    enabled: bool = True
    width: float = 0.0              # tkhd, the presentation size before the matrix
    height: float = 0.0
    rotation: int = 0
    coded: tuple[int, int] | None = None    # stsd: the frame as coded
    fourcc: str | None = None
    duration: float | None = None   # mdhd, seconds


@dataclass
class _Movie:
    duration: float | None = None
    timescale: int = 0
    created: int = 0                # seconds since 1904 (UTC)
    tracks: list[_Track] = field(default_factory=list)
    items: dict = field(default_factory=dict)   # metadata name ('©xyz', 'com.apple.quicktime.make') -> value
    xmp: list[bytes] = field(default_factory=list)   # udta/XMP_ packets (as Adobe writes MOVs)


def _read_moov(moov: bytes, notes: list[str]) -> _Movie:
    movie = _Movie()
    readers = {b"mvhd": _mvhd, b"trak": _trak, b"udta": _udta, b"meta": _meta, b"mvex": _mvex}
    for typ, start, end in _children(moov, 0, len(moov), notes):
        if typ in readers:
            _guarded(readers[typ], typ, moov[start:end], movie, notes)
    return movie


def _guarded(read, typ: bytes, body: bytes, target, notes: list[str]) -> None:
    """read(body, target, notes), a damaged box said in a note: it must not cost the others."""
    try:
        read(body, target, notes)
    except (struct.error, ValueError, IndexError) as e:
        notes.append(f"{typ.decode('latin-1')} box damaged ({e}): ignored")


def _mvhd(b: bytes, movie: _Movie, notes: list[str]) -> None:
    if b[0] == 1:
        created, _, scale, duration = struct.unpack_from(">QQIQ", b, 4)
        unknown = duration == (1 << 64) - 1
    else:
        created, _, scale, duration = struct.unpack_from(">IIII", b, 4)
        unknown = duration == (1 << 32) - 1
    movie.created, movie.timescale = created, scale
    if scale and duration and not unknown:
        movie.duration = duration / scale


def _mvex(b: bytes, movie: _Movie, notes: list[str]) -> None:
    """A fragmented MP4's total duration (mehd, in the movie's timescale), when mvhd says 0."""
    for typ, start, end in _children(b, 0, len(b), notes):
        if typ == b"mehd" and movie.duration is None and movie.timescale:
            duration = struct.unpack_from(">Q" if b[start] == 1 else ">I", b, start + 4)[0]
            movie.duration = duration / movie.timescale if duration else None


def _trak(b: bytes, movie: _Movie, notes: list[str]) -> None:
    track = _Track()
    for typ, start, end in _children(b, 0, len(b), notes):
        if typ in (b"tkhd", b"mdia"):
            _guarded(_tkhd if typ == b"tkhd" else _mdia, typ, b[start:end], track, notes)
    movie.tracks.append(track)


def _tkhd(b: bytes, track: _Track, notes: list[str]) -> None:
    at = 52 if b[0] == 1 else 40   # past the times, ids, duration, layer, group and volume
    track.enabled = bool(b[3] & 1)
    a, bb, _, c, d, _, _, _, _ = struct.unpack_from(">9i", b, at)
    track.width, track.height = (v / 65536 for v in struct.unpack_from(">II", b, at + 36))
    track.rotation = _rotation(a, bb, c, d, notes)


def _rotation(a: int, b: int, c: int, d: int, notes: list[str]) -> int:
    """Clockwise quarter turns of a track matrix [a b; c d] (x' = a*x + c*y, y' = b*x + d*y, y down)."""
    if a == b == c == d == 0:
        return 0
    angle = math.degrees(math.atan2(b, a)) % 360
    turn = round(angle / 90) % 4 * 90
    if abs((angle - turn + 180) % 360 - 180) > 1:
        notes.append(f"track matrix turns by {angle:.1f} degrees: read as {turn}")
    if a * d - b * c < 0:
        notes.append("track matrix mirrors the frame: only its rotation is applied")
    return turn


def _mdia(b: bytes, track: _Track, notes: list[str]) -> None:
    for typ, start, end in _children(b, 0, len(b), notes):
        if typ == b"hdlr" and end - start >= 12:
            track.handler = bytes(b[start + 8:start + 12])
        elif typ == b"mdhd":
            v = b[start]
            scale, duration = struct.unpack_from(">IQ" if v == 1 else ">II", b, start + (20 if v == 1 else 12))
            if scale and duration and duration not in ((1 << 32) - 1, (1 << 64) - 1):
                track.duration = duration / scale
        elif typ == b"minf":
            for t2, s2, e2 in _children(b, start, end, notes):
                if t2 == b"stbl":
                    for t3, s3, e3 in _children(b, s2, e2, notes):
                        if t3 == b"stsd":
                            _stsd(b[s3:e3], track)


def _stsd(b: bytes, track: _Track) -> None:
    if struct.unpack_from(">I", b, 4)[0] < 1 or len(b) < 16:
        return
    track.fourcc = bytes(b[12:16]).decode("latin-1")
    if len(b) >= 8 + 36:       # a visual sample entry: width and height after 24 reserved bytes
        w, h = struct.unpack_from(">HH", b, 8 + 32)
        if w and h:
            track.coded = (w, h)


def _udta(b: bytes, movie: _Movie, notes: list[str]) -> None:
    for typ, start, end in _children(b, 0, len(b), notes):
        body = b[start:end]
        if typ == b"meta":
            _meta(body, movie, notes)
        elif typ == b"loci":
            _loci(body, movie)
        elif typ == b"XMP_":
            movie.xmp.append(bytes(body))
        elif typ in (b"titl", b"dscp") and len(body) > 6:   # 3GPP: version, flags, language, text
            text = _text(body[6:]) if body[6:8] not in (b"\xfe\xff", b"\xff\xfe") else \
                bytes(body[6:]).decode("utf-16", "replace").strip("\x00 ") or None
            if text:
                movie.items.setdefault(typ.decode(), text)
        elif typ[:1] == b"\xa9":   # QuickTime text: '©xyz', '©mak', '©mod', '©day'
            text = _qt_text(body)
            if text:
                movie.items.setdefault(typ.decode("latin-1"), text)


def _qt_text(body: bytes) -> str | None:
    """A QuickTime user-data string (16-bit length, 16-bit language, text), or an iTunes-style
    `data` box that some writers put there instead."""
    if len(body) >= 16 and body[4:8] == b"data":
        value = _data_value(body[8:struct.unpack_from(">I", body, 0)[0]])
        return value if isinstance(value, str) else None
    if len(body) < 4:
        return None
    n = struct.unpack_from(">H", body, 0)[0]
    return _text(body[4:4 + n])


def _text(raw: bytes) -> str | None:
    text = bytes(raw).decode("utf-8", "replace").strip("\x00 \t\r\n")
    return text or None


def _loci(b: bytes, movie: _Movie) -> None:
    """3GPP location: language, a name, a role, then longitude, latitude, altitude (16.16)."""
    at = b.find(b"\x00", 6)      # the name ends with NUL (UTF-8) ...
    if at < 0:
        return
    lon, lat, alt = struct.unpack_from(">iii", b, at + 2)
    movie.items.setdefault("loci", (lat / 65536, lon / 65536, alt / 65536))


def _meta(b: bytes, movie: _Movie, notes: list[str]) -> None:
    """Apple's metadata: `keys` names the items of `ilst` by index (1-based); an iTunes-style
    `ilst` names them by four-character codes ('©xyz')."""
    start = 0 if b[4:8] in (b"hdlr", b"keys", b"ilst") else 4   # QuickTime's meta has no version field
    keys: list[str] = []
    ilst = None
    for typ, s, e in _children(b, start, len(b), notes):
        if typ == b"keys":
            keys = _keys(b[s:e])
        elif typ == b"ilst":
            ilst = (s, e)
    if ilst is None:
        return
    for typ, s, e in _children(b, ilst[0], ilst[1], notes):
        index = int.from_bytes(typ, "big")
        name = keys[index - 1] if 1 <= index <= len(keys) else typ.decode("latin-1")
        for t2, s2, e2 in _children(b, s, e, notes):
            if t2 == b"data":
                value = _data_value(b[s2:e2])
                if value is not None and name in LISTS:   # one data box per value
                    movie.items.setdefault(name, []).append(value)
                elif value is not None:
                    movie.items.setdefault(name, value)
                    break


def _keys(b: bytes) -> list[str]:
    count = min(struct.unpack_from(">I", b, 4)[0], MAX_KEYS)
    keys, at = [], 8
    for _ in range(count):
        if at + 8 > len(b):
            break
        n = struct.unpack_from(">I", b, at)[0]
        if n < 8:
            break
        keys.append(bytes(b[at + 8:at + n]).decode("utf-8", "replace"))
        at += n
    return keys


def _data_value(b: bytes):
    """A `data` box's body: a type (1 UTF-8, 2 UTF-16, 21/22 integers, 23/24 floats), a locale, a value."""
    if len(b) < 8:
        return None
    kind, value = int.from_bytes(b[1:4], "big"), bytes(b[8:])
    if kind in (0, 1):
        return _text(value)
    if kind == 2:
        return value.decode("utf-16-be", "replace").strip("\x00 ") or None
    if kind in (21, 22) and len(value) in (1, 2, 4, 8):
        return int.from_bytes(value, "big", signed=kind == 21)
    if kind == 23 and len(value) == 4:
        return struct.unpack(">f", value)[0]
    if kind == 24 and len(value) == 8:
        return struct.unpack(">d", value)[0]
    return None
