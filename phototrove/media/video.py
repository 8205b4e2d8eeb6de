"""Videos: what a video file is (container, frame size as shown, rotation, duration, codec) and what
it says of itself (capture time, place, camera), read from its headers without decoding; and one
representative frame, decoded with PyAV, for thumbnails and the model.

ISO-BMFF (MP4, MOV, M4V, 3GP) is read natively: `moov` (its movie header, each video track's
header, handler and sample description, the QuickTime `udta` items and Apple's `keys`+`ilst`
metadata), wherever it lies: at the start (a "fast start" file) or after the media data at the end,
found from the head and the tail of a large file by walking the top-level boxes by their sizes.
Other containers (Matroska/WebM, AVI, ASF/WMV, MPEG-TS/PS, FLV) are opened with PyAV (the optional
`video` extra), on the same head and tail, with a few native checks (does the file hold all the
bytes its header declares; a Matroska track's rotation, which PyAV only shows on decoded frames).

Nothing a file contains makes probe_video raise anything but MediaError: a value that does not
parse is dropped and said in meta["notes"].
"""
from __future__ import annotations

import io
import math
import os
import re
import struct
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from fractions import Fraction

from .exif import camera_name, offset_text, utc_offset
from .kinds import MediaError
from .sniff import HEAD_BYTES, sniff

EXTRA_NOTE = "install phototrove[video] (PyAV) to read this container: pip install 'phototrove[video]'"
NEEDS_EXTRA = "decoding video needs phototrove[video] (PyAV): pip install 'phototrove[video]'"
MAX_BOXES = 100_000        # top-level boxes walked; real files have a handful
MAX_CHILDREN = 10_000      # children of one box
MAX_KEYS = 1_000           # Apple metadata keys
EPOCH_1904 = datetime(1904, 1, 1)
# top-level box types of QuickTime files older than `ftyp`
QT_TOP = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}
# a box that overruns the file's end says the file was cut; anything else there is junk after the end
CUT_TYPES = {b"mdat", b"moov", b"moof", b"free", b"wide", b"skip", b"uuid", b"mfra", b"meta"}

FOURCC = {  # sample description format -> a common codec name
    "avc1": "h264", "avc2": "h264", "avc3": "h264", "avc4": "h264", "dva1": "h264", "dvav": "h264",
    "hvc1": "hevc", "hev1": "hevc", "dvh1": "hevc", "dvhe": "hevc", "mp4v": "mpeg4", "av01": "av1",
    "vp08": "vp8", "vp09": "vp9", "s263": "h263", "h263": "h263", "H263": "h263", "jpeg": "mjpeg",
    "mjpa": "mjpeg", "mjpb": "mjpeg", "MJPG": "mjpeg", "apch": "prores", "apcn": "prores", "apcs": "prores",
    "apco": "prores", "ap4h": "prores", "ap4x": "prores", "mp2v": "mpeg2video", "m2v1": "mpeg2video",
    "dvc": "dvvideo", "dvcp": "dvvideo", "dvpp": "dvvideo", "dv5n": "dvvideo", "dv5p": "dvvideo",
    "SVQ3": "svq3", "SVQ1": "svq1", "cvid": "cinepak",
}
AV_FORMATS = {"mkv": "matroska", "webm": "matroska", "avi": "avi", "wmv": "asf", "asf": "asf", "mts": "mpegts",
              "m2ts": "mpegts", "mpg": "mpeg", "flv": "flv"}
ISO_DATE = re.compile(r"(\d{4})[-:](\d\d)[-:](\d\d)[T ](\d\d):(\d\d):(\d\d)(?:[.,]\d+)?\s*(Z|[+-]\d\d:?\d\d)?")
ISO6709 = re.compile(r"([+-][\d.]+)([+-][\d.]+)([+-][\d.]+)?(?:CRS[^/]*)?/?")


@dataclass
class VideoInfo:
    format: str                         # 'mp4', 'mov', '3gp', 'm4v', 'mkv', 'webm', 'avi', 'wmv', 'mts', ...
    width: int | None = None            # the frame as displayed (rotation applied)
    height: int | None = None
    stored_width: int | None = None     # the frame as coded
    stored_height: int | None = None
    rotation: int = 0                   # 0, 90, 180, 270: clockwise, as players turn the frame
    duration: float | None = None       # seconds
    codec: str | None = None            # 'h264', 'hevc', 'mpeg4', 'vp8', 'av1', ...
    meta: dict = field(default_factory=dict)   # catalog keys (taken_local/utc_offset or taken_utc, lat,
    #                                            lon, alt, camera, make, notes)


def probe_video(head: bytes | memoryview, *, size: int | None = None, tail: bytes | None = None,
                name: str = "") -> VideoInfo:
    """What a video is, from its bytes: the whole file, or for a large one its first bytes (`head`),
    its length (`size`) and its last bytes (`tail`). Never decodes; raises only MediaError."""
    span = _Span(head, size, tail)
    if span.size == 0:
        raise MediaError("empty", "empty file (0 bytes)")
    first = bytes(span.head[:HEAD_BYTES])
    media, fmt = sniff(first)
    if media is None and len(first) >= 8 and first[4:8] in QT_TOP:   # a QuickTime movie without `ftyp`
        media, fmt = "video", "mov"
    if media != "video":
        if span.size < 12 and media is None:
            raise MediaError("truncated", f"too short to be a video ({span.size} bytes)")
        what = f"a {fmt.upper()} {'camera RAW' if media == 'raw' else 'image'}" if media else fmt
        raise MediaError("not-a-video", f"not a video: {what}")
    try:
        if fmt in ("mp4", "mov", "3gp"):
            return _probe_iso(span, _iso_format(first, fmt, name))
        return _probe_other(span, _other_format(fmt, name))
    except MediaError:
        raise
    except Exception as e:  # a reader's bug on odd bytes must still come out as what the file is
        raise MediaError("corrupt", f"unreadable video: {type(e).__name__}: {e}"[:300]) from None


def _iso_format(first: bytes, fmt: str, name: str) -> str:
    brand = first[8:12] if first[4:8] == b"ftyp" else b""
    if brand.startswith(b"M4V"):
        return "m4v"
    if brand.startswith(b"3g2"):
        return "3g2"
    return fmt


def _other_format(fmt: str, name: str) -> str:
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if fmt in ("mts", "m2ts") and ext in ("mts", "m2ts", "m2t", "ts"):
        return "m2ts" if ext == "m2ts" else "mts"
    if fmt == "wmv" and ext == "asf":
        return "asf"
    return fmt


class _Span:
    """The bytes known of a file: its head and, for a large file, its tail, by absolute offset."""

    def __init__(self, head, size: int | None, tail: bytes | None):
        head = memoryview(head).cast("B") if not isinstance(head, bytes) else head
        size = len(head) if size is None else max(0, size)
        head = head[:size]
        tail = bytes(tail or b"")[-max(0, size - len(head)):] if size > len(head) else b""
        tail_at = size - len(tail)
        if tail and tail_at <= len(head):   # head and tail meet: the whole file is known
            head, tail, tail_at = bytes(head) + tail[len(head) - tail_at:], b"", size
        self.head, self.tail, self.size, self.tail_at = head, tail, size, tail_at

    @property
    def whole(self) -> bool:
        return len(self.head) >= self.size

    def get(self, at: int, n: int) -> bytes | memoryview | None:
        """n bytes at offset `at`, or None where any of them is not known (or past the end)."""
        if at < 0 or n < 0 or at + n > self.size:
            return None
        if at + n <= len(self.head):
            return self.head[at:at + n]
        if at >= self.tail_at:
            return self.tail[at - self.tail_at:at - self.tail_at + n]
        return None


# -- ISO-BMFF: top level ------------------------------------------------------------------------------
@dataclass
class _Box:
    type: bytes
    at: int
    header: int
    size: int

    @property
    def end(self) -> int:
        return self.at + self.size


def _top_boxes(span: _Span) -> tuple[list[_Box], str | None]:
    """The top-level boxes by their sizes, and why the walk stopped early: 'cut' (a box runs past
    the end), 'unseen' (a box header lies in the part of the file not given), 'damaged', or None."""
    boxes: list[_Box] = []
    at = 0
    while at < span.size and len(boxes) < MAX_BOXES:
        hdr = span.get(at, 8)
        if hdr is None:
            return boxes, "unseen" if at + 8 <= span.size else ("cut" if not boxes else None)
        n, typ = struct.unpack(">I4s", hdr)
        header = 8
        if n == 1:
            large = span.get(at + 8, 8)
            if large is None:
                return boxes, "unseen" if at + 16 <= span.size else "cut"
            n, header = struct.unpack(">Q", large)[0], 16
        elif n == 0:            # the last box: it runs to the end of the file
            n = span.size - at
        if n < header:
            return boxes, "damaged"
        boxes.append(_Box(bytes(typ), at, header, n))
        if at + n > span.size:
            return boxes, "cut"
        at += n
    return boxes, None


def _find_moov(span: _Span, notes: list[str]) -> bytes:
    """The `moov` box's body (MediaError when the file has none or is cut short)."""
    boxes, stop = _top_boxes(span)
    last = boxes[-1] if boxes else None
    if stop == "cut" and last is not None and last.type not in CUT_TYPES and any(b.type == b"moov" for b in boxes):
        notes.append(f"{span.size - last.at} bytes of junk after the last box: ignored")
        boxes, stop = boxes[:-1], None
    if stop == "cut":
        what = f"its {last.type.decode('latin-1')!r} box ends {last.end - span.size} bytes past the end" if last \
            else "no complete box"
        moov = "" if any(b.type == b"moov" for b in boxes) else " before its index (moov box)"
        raise MediaError("truncated", f"video file cut short{moov}: {what} ({span.size} bytes)")
    where = ""
    for box in boxes:
        if box.type == b"moov":
            body = span.get(box.at + box.header, box.size - box.header)
            if body is not None:
                return bytes(body)
            stop, where = "unseen", f" ({box.size} bytes at offset {box.at})"
            break
    if stop == "unseen":
        found = _moov_in_tail(span)
        if found is not None:
            return found
        raise _Unseen(f"moov box{where} not within the first {len(span.head)} and last {len(span.tail)} "
                      "bytes read: duration, size and metadata unknown")
    if stop == "damaged":
        raise MediaError("corrupt", f"damaged video: a top-level box of impossible size after offset "
                                    f"{boxes[-1].end if boxes else 0} and no moov box before it")
    raise MediaError("truncated", "no moov box: the recording was never finished (or the file was cut)")


class _Unseen(Exception):
    """The moov box lies in a part of the file that was not given."""


def _moov_in_tail(span: _Span) -> bytes | None:
    """A `moov` in the tail found by its name when the walk could not reach it (a box header in the
    unread middle): taken only if it ends inside the tail and holds a movie header."""
    tail, at = span.tail, 0
    for _ in range(64):
        i = tail.find(b"moov", at)
        if i < 4:
            if i < 0:
                return None
            at = i + 1
            continue
        n = struct.unpack_from(">I", tail, i - 4)[0]
        if 8 <= n <= len(tail) - (i - 4):
            body = tail[i + 4:i - 4 + n]
            if any(t == b"mvhd" for t, _, _ in _children(body, 0, len(body), [])):
                return body
        at = i + 1
    return None


def _children(buf, start: int, end: int, notes: list[str]):
    """(type, body start, body end) of the boxes in buf[start:end]; a damaged size ends the walk."""
    at, count = start, 0
    end = min(end, len(buf))
    while at + 8 <= end and count < MAX_CHILDREN:
        n, typ = struct.unpack_from(">I4s", buf, at)
        header = 8
        if n == 1 and at + 16 <= end:
            n, header = struct.unpack_from(">Q", buf, at + 8)[0], 16
        elif n == 0:
            n = end - at
        if n < header or at + n > end:
            notes.append(f"damaged {bytes(typ)!r} box inside the movie index: skipped the rest")
            return
        yield bytes(typ), at + header, at + n
        at += n
        count += 1


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


def _probe_iso(span: _Span, fmt: str) -> VideoInfo:
    notes: list[str] = []
    try:
        moov = _find_moov(span, notes)
    except _Unseen as e:
        return VideoInfo(fmt, meta={"notes": [str(e)]})
    movie = _read_moov(moov, notes)
    video = _main_video_track(movie.tracks)
    if not movie.tracks:
        raise MediaError("corrupt", f"damaged {fmt.upper()}: its movie index (moov) holds no track")
    if video is None:
        kinds = ", ".join(sorted({t.handler.decode("latin-1") for t in movie.tracks})) or "none"
        raise MediaError("not-a-video", f"no video track in this {fmt.upper()} (tracks: {kinds})")
    info = VideoInfo(fmt, rotation=video.rotation, codec=_codec_name(video.fourcc))
    coded = video.coded or (round(video.width), round(video.height))
    shown = (round(video.width), round(video.height)) if video.width >= 1 and video.height >= 1 else coded
    if coded[0] > 0 and coded[1] > 0:
        info.stored_width, info.stored_height = coded
    if shown[0] > 0 and shown[1] > 0:
        info.width, info.height = shown[::-1] if video.rotation in (90, 270) else shown
    info.duration = movie.duration if movie.duration else video.duration
    if info.duration is None:
        notes.append("duration not recorded in the movie header")
    info.meta = _iso_meta(movie, notes)
    return info


def _main_video_track(tracks: list[_Track]) -> _Track | None:
    """The enabled video track with the most pixels (not a cover image or a depth track)."""
    videos = [t for t in tracks if t.handler == b"vide"]
    if not videos:
        return None
    return max(videos, key=lambda t: (t.enabled, (t.coded or (0, 0))[0] * (t.coded or (0, 0))[1],
                                      t.width * t.height))


def _codec_name(fourcc: str | None) -> str | None:
    if not fourcc:
        return None
    return FOURCC.get(fourcc, FOURCC.get(fourcc.strip(), fourcc.strip() or None))


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
                if value is not None:
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


def _iso_meta(movie: _Movie, notes: list[str]) -> dict:
    items = movie.items
    out: dict = {}
    apple_date = items.get("com.apple.quicktime.creationdate")
    if apple_date is None and len(str(items.get("©day", ""))) > 4:   # (iTunes tags put a year there)
        apple_date = items["©day"]
    if not (isinstance(apple_date, str) and _set_date(out, apple_date, "creation date", notes, naive="local")):
        _set_mvhd_date(out, movie.created, notes)
    for key in ("com.apple.quicktime.location.ISO6709", "©xyz"):
        value = items.get(key)
        if isinstance(value, str) and _set_place(out, value, notes):
            break
    else:
        if "loci" in items:
            lat, lon, alt = items["loci"]
            _set_latlon(out, lat, lon, alt)
    make = _first_text(items, "com.apple.quicktime.make", "com.android.manufacturer", "©mak")
    model = _first_text(items, "com.apple.quicktime.model", "com.android.model", "©mod")
    _set_camera(out, make, model)
    if notes:
        out["notes"] = notes[:20]
    return out


def _first_text(items: dict, *keys: str) -> str | None:
    for key in keys:
        value = items.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


# -- metadata values (shared by every container) ------------------------------------------------------
def _set_date(out: dict, text: str, what: str, notes: list[str], *, naive: str) -> bool:
    """An ISO date into the catalog keys: with a UTC offset, the wall clock and its offset; with
    'Z', the UTC instant; with neither, `naive` says which it is ('local' or 'utc')."""
    m = ISO_DATE.fullmatch(text.strip())
    try:
        dt = datetime(*map(int, m.groups()[:6])) if m else None
    except ValueError:
        dt = None
    if dt is None or dt.year < 1970:
        notes.append(f"{what} {text[:40]!r} is not a date: ignored")
        return False
    if dt > datetime.now(timezone.utc).replace(tzinfo=None) + timedelta(days=2):
        notes.append(f"{what} {text[:40]!r} is in the future: ignored")
        return False
    zone = m.group(7)
    if zone and zone != "Z":
        delta = utc_offset(zone if ":" in zone else zone[:3] + ":" + zone[3:])
        if delta is None:
            notes.append(f"{what} offset {zone!r} is not a UTC offset: ignored")
            zone = None
        else:
            out["taken_local"], out["utc_offset"] = dt.strftime("%Y-%m-%dT%H:%M:%S"), offset_text(delta)
            return True
    if zone == "Z" or naive == "utc":
        out["taken_utc"] = dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    else:
        out["taken_local"] = dt.strftime("%Y-%m-%dT%H:%M:%S")
    return True


def _set_mvhd_date(out: dict, seconds: int, notes: list[str]) -> None:
    """The movie header's creation time: UTC seconds since 1904; 0 means not set."""
    if not seconds:
        return
    try:
        dt = EPOCH_1904 + timedelta(seconds=seconds)
    except OverflowError:
        dt = None
    if dt is None or dt.year < 1970 or dt > datetime.now(timezone.utc).replace(tzinfo=None) + timedelta(days=2):
        notes.append(f"movie creation time {seconds} is not a plausible date: ignored")
        return
    out["taken_utc"] = dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def _set_place(out: dict, text: str, notes: list[str]) -> bool:
    """ISO 6709 '+48.8584+002.2945+035.000/' (degrees, or DDMM.mm / DDMMSS.s) into lat/lon/alt."""
    m = ISO6709.fullmatch(text.strip())
    lat = _angle(m.group(1), 2) if m else None
    lon = _angle(m.group(2), 3) if m else None
    if lat is None or lon is None or abs(lat) > 90 or abs(lon) > 180:
        notes.append(f"location {text[:40]!r} is not ISO 6709: ignored")
        return False
    alt = None
    if m.group(3):
        try:
            alt = float(m.group(3))
        except ValueError:
            alt = None
    _set_latlon(out, lat, lon, alt)
    return True


def _angle(text: str, degree_digits: int) -> float | None:
    """'+48.8584' (degrees), '+4851.504' (degrees and minutes) or '+485130.2' (and seconds)."""
    sign = -1 if text[0] == "-" else 1
    whole, dot, frac = text[1:].partition(".")
    if not whole.isdigit() or (frac and not frac.isdigit()) or (dot and not frac):
        return None
    frac = "." + frac if frac else ""
    extra = len(whole) - degree_digits
    if extra <= 0:
        value = float(whole + frac)
    elif extra == 2:
        value = int(whole[:degree_digits]) + float(whole[degree_digits:] + frac) / 60
    elif extra == 4:
        value = (int(whole[:degree_digits]) + int(whole[degree_digits:degree_digits + 2]) / 60
                 + float(whole[degree_digits + 2:] + frac) / 3600)
    else:
        return None
    return sign * value


def _set_latlon(out: dict, lat: float, lon: float, alt: float | None) -> None:
    if (lat == 0 and lon == 0) or abs(lat) > 90 or abs(lon) > 180:
        return
    out["lat"], out["lon"] = round(lat, 7), round(lon, 7)
    if alt is not None and math.isfinite(alt) and abs(alt) < 1e6:
        out["alt"] = round(alt, 2)


def _set_camera(out: dict, make: str | None, model: str | None) -> None:
    camera = camera_name(make, model)
    if camera:
        out["camera"] = camera
    if make:
        out["make"] = make


# -- other containers: native checks, then PyAV -------------------------------------------------------
MKV_EBML, MKV_SEGMENT, MKV_TRACKS, MKV_CLUSTER = 0x1A45DFA3, 0x18538067, 0x1654AE6B, 0x1F43B675
MKV_ENTRY, MKV_TYPE, MKV_VIDEO, MKV_PROJECTION = 0xAE, 0x83, 0xE0, 0x7670
MKV_YAW, MKV_PITCH, MKV_ROLL = 0x7673, 0x7674, 0x7675
ASF_HEADER = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")
ASF_FILE_PROPERTIES = bytes.fromhex("a1dcab8c47a9cf118ee400c00c205365")
MPEG_TAIL_READ = 4 << 20   # an MPEG stream's last bytes demuxed for its last timestamp (over 1 s of AVCHD)
AV_CODECS = {"libdav1d": "av1", "libaom-av1": "av1", "av1_cuvid": "av1", "libvpx": "vp8", "libvpx-vp9": "vp9"}


def _probe_other(span: _Span, fmt: str) -> VideoInfo:
    notes: list[str] = []
    tags: dict[str, str] = {}     # what the native checks read, for what PyAV does not export
    rotation = 0
    if fmt in ("mkv", "webm"):
        rotation = _matroska(span, notes)
    elif fmt == "avi":
        _chunks_fit(span, fmt, 8, lambda h: 8 + int.from_bytes(h[4:8], "little"), pad=True)
    elif fmt in ("wmv", "asf"):
        _chunks_fit(span, fmt, 24, lambda h: int.from_bytes(h[16:24], "little"))
        created = _asf_created(span.head)
        if created:
            tags["creation_time"] = created
    try:
        import av
    except ImportError:
        return VideoInfo(fmt, meta={"notes": [EXTRA_NOTE]})
    try:
        with av.open(_Reader(span), format=AV_FORMATS.get(fmt), metadata_errors="replace") as c:
            return _from_container(c, fmt, rotation, span, tags, notes)
    except MediaError:
        raise
    except Exception as e:  # PyAV's errors (FFmpegError and its builtin bases) on damaged input
        if not span.whole:   # from a head and a tail only, the cause may lie in the bytes not read
            return VideoInfo(fmt, meta={"notes": [f"header not readable from the first {len(span.head)} "
                                                  f"bytes read: {e}"[:300]]})
        kind = "truncated" if isinstance(e, EOFError) else "corrupt"
        raise MediaError(kind, f"unreadable {fmt.upper()} video: {e}"[:300]) from None


class _Reader:
    """A read-only file over a _Span, for PyAV: the bytes not given read as the end of the file."""

    def __init__(self, span: _Span):
        self.span, self.pos = span, 0

    def read(self, n: int = -1) -> bytes:
        s, at = self.span, self.pos
        n = s.size - at if n is None or n < 0 else n
        if at < len(s.head):
            chunk = s.head[at:at + n]
        elif at >= s.tail_at:
            chunk = s.tail[at - s.tail_at:at - s.tail_at + n]
        else:
            chunk = b""
        self.pos += len(chunk)
        return bytes(chunk)

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self.pos, 2: self.span.size}.get(whence, 0)
        self.pos = max(0, base + offset)
        return self.pos

    def tell(self) -> int:
        return self.pos

    def seekable(self) -> bool:
        return True


def _chunks_fit(span: _Span, fmt: str, header: int, size_of, *, pad: bool = False) -> None:
    """Walk top-level chunks (RIFF, ASF objects) by their sizes: MediaError when one runs past the end."""
    at = 0
    for _ in range(MAX_BOXES):
        if at >= span.size:
            return
        h = span.get(at, header)
        if h is None:
            return            # in the part not given, or a few trailing bytes: nothing to say
        n = size_of(h)
        if n < header:
            return
        if at + n > span.size:
            raise MediaError("truncated", f"{fmt.upper()} file cut short: a chunk at {at} ends "
                                          f"{at + n - span.size} bytes past the end ({span.size} bytes)")
        at += n + (n & 1 if pad else 0)


def _asf_created(head) -> str | None:
    """The ASF File Properties object's creation date (FILETIME: 100 ns since 1601, UTC), as ISO."""
    if bytes(head[:16]) != ASF_HEADER or len(head) < 30:
        return None
    end, at = min(len(head), int.from_bytes(head[16:24], "little")), 30
    for _ in range(MAX_CHILDREN):
        if at + 24 > end:
            return None
        n = int.from_bytes(head[at + 16:at + 24], "little")
        if bytes(head[at:at + 16]) == ASF_FILE_PROPERTIES and at + 56 <= len(head):
            ticks = int.from_bytes(head[at + 48:at + 56], "little")
            try:
                dt = datetime(1601, 1, 1) + timedelta(microseconds=ticks // 10)
            except OverflowError:
                return None
            return dt.strftime("%Y-%m-%dT%H:%M:%SZ") if ticks and dt.year >= 1970 else None
        if n < 24:
            return None
        at += n
    return None


def _vint(buf, at: int, *, marker: bool = False) -> tuple[int | None, int] | None:
    """An EBML variable-length integer at `at`: (value, length); value None for 'unknown size'.
    Element ids keep their length marker (`marker`), sizes do not."""
    if at >= len(buf) or buf[at] == 0:
        return None
    length = 9 - buf[at].bit_length()
    if at + length > len(buf):
        return None
    value = buf[at] if marker else buf[at] & (0xFF >> length)
    for i in range(1, length):
        value = value << 8 | buf[at + i]
    if not marker and value == (1 << (7 * length)) - 1:
        return None, length
    return value, length


def _ebml(buf, start: int, end: int):
    """(id, data start, data size or None) of the EBML elements in buf[start:end]."""
    at = start
    for _ in range(MAX_CHILDREN):
        ident = _vint(buf, at, marker=True)
        size = _vint(buf, at + ident[1]) if ident else None
        if ident is None or size is None:
            return
        data = at + ident[1] + size[1]
        yield ident[0], data, size[0]
        if size[0] is None or data + size[0] >= end:
            return
        at = data + size[0]


def _matroska(span: _Span, notes: list[str]) -> int:
    """Check the Segment fits in the file; the video track's rotation (ProjectionPoseRoll, which
    FFmpeg writes counter-clockwise) as clockwise degrees."""
    head = span.head
    elements = list(_ebml(head, 0, len(head)))
    segment = next(((d, n) for i, d, n in elements[:4] if i == MKV_SEGMENT), None)
    if segment is None:
        return 0
    data, n = segment
    if n is not None and data + n > span.size:
        raise MediaError("truncated", f"Matroska file cut short: its segment ends {data + n - span.size} bytes "
                                      f"past the end ({span.size} bytes)")
    seg_end = len(head) if n is None else min(len(head), data + n)
    for ident, start, size in _ebml(head, data, seg_end):
        if ident == MKV_CLUSTER:
            break
        if ident == MKV_TRACKS and size is not None:
            for entry, s, sz in _ebml(head, start, start + size):
                if entry == MKV_ENTRY and sz is not None:
                    turn = _mkv_track_rotation(head, s, s + sz, notes)
                    if turn is not None:
                        return turn
    return 0


def _mkv_track_rotation(buf, start: int, end: int, notes: list[str]) -> int | None:
    """A video TrackEntry's rotation, None for another kind of track."""
    fields = {i: (s, n) for i, s, n in _ebml(buf, start, end) if n is not None}
    if MKV_TYPE not in fields or _uint(buf, *fields[MKV_TYPE]) != 1 or MKV_VIDEO not in fields:
        return None
    s, n = fields[MKV_VIDEO]
    video = {i: (s2, n2) for i, s2, n2 in _ebml(buf, s, s + n) if n2 is not None}
    if MKV_PROJECTION not in video:
        return 0
    s, n = video[MKV_PROJECTION]
    pose = {i: _float(buf, s2, n2) for i, s2, n2 in _ebml(buf, s, s + n) if n2 is not None}
    roll = pose.get(MKV_ROLL) or 0.0
    if pose.get(MKV_PITCH) or pose.get(MKV_YAW):
        notes.append("Matroska projection flips the frame: only its rotation is applied")
    if not math.isfinite(roll):
        return 0
    turn = round(-roll / 90) % 4 * 90
    if abs((-roll - turn + 180) % 360 - 180) > 1:
        notes.append(f"Matroska projection turns by {roll:.1f} degrees: read as {turn}")
    return turn


def _uint(buf, at: int, n: int) -> int:
    return int.from_bytes(bytes(buf[at:at + min(n, 8)]), "big")


def _float(buf, at: int, n: int) -> float | None:
    if n == 4 and at + 4 <= len(buf):
        return struct.unpack_from(">f", buf, at)[0]
    if n == 8 and at + 8 <= len(buf):
        return struct.unpack_from(">d", buf, at)[0]
    return None


def _from_container(c, fmt: str, rotation: int, span: _Span, native: dict, notes: list[str]) -> VideoInfo:
    s = _video_stream(c)
    if s is None:
        raise MediaError("not-a-video", f"no video stream in this {fmt.upper()} file")
    cc = s.codec_context
    info = VideoInfo(fmt, codec=AV_CODECS.get(cc.name, cc.name) if cc is not None else None)
    w, h = (cc.width, cc.height) if cc is not None else (0, 0)
    tags = {k.lower(): v for k, v in {**native, **dict(s.metadata), **dict(c.metadata)}.items()
            if isinstance(v, str)}
    if not rotation and "rotate" in tags:     # older FFmpeg exports a display matrix as a tag
        try:
            rotation = int(float(tags["rotate"])) % 360 // 90 * 90
        except ValueError:
            notes.append(f"rotate tag {tags['rotate'][:20]!r} is not a number: ignored")
    info.rotation = rotation
    if w > 0 and h > 0:
        info.stored_width, info.stored_height = w, h
        info.width, info.height = (h, w) if rotation in (90, 270) else (w, h)
    info.duration = _duration(c, s)
    if not span.whole and fmt in ("mts", "m2ts", "mpg"):
        info.duration = _mpeg_duration(span, fmt, s, notes)
    elif info.duration is None:
        notes.append("duration unknown" + ("" if span.whole else " from the first and last bytes read"))
    info.meta = _tag_meta(tags, fmt, notes)
    return info


def _mpeg_duration(span: _Span, fmt: str, s, notes: list[str]) -> float | None:
    """An MPEG stream's duration from its first and last timestamps: FFmpeg reads the last ones
    from the end of the file, which a head and tail do not give it, so the tail is demuxed alone
    (no decoding: packets' timestamps only)."""
    import av

    end = None
    if s.start_time is not None and s.time_base and span.tail:
        try:
            with av.open(io.BytesIO(span.tail[-MPEG_TAIL_READ:]), format=AV_FORMATS[fmt]) as t:
                same = [x for x in t.streams.video if x.id == s.id] or list(t.streams.video[:1])
                for packet in t.demux(same[:1]):
                    if packet.pts is not None and packet.time_base == s.time_base:
                        end = max(end or 0, packet.pts + (packet.duration or 0))
        except Exception as e:  # PyAV's errors on a tail that does not demux
            notes.append(f"the tail does not demux ({type(e).__name__}): duration unknown")
            return None
    if end is None:
        notes.append("no timestamps in the tail given: duration unknown")
        return None
    ticks = end - s.start_time
    if ticks < 0 and s.time_base == Fraction(1, 90000):   # the 33-bit clock wrapped
        ticks += 1 << 33
    return float(ticks * s.time_base) if ticks > 0 else None


def _video_stream(c):
    """The first video stream that is not a cover picture."""
    for s in c.streams.video:
        try:
            if s.disposition & 0x400:   # AV_DISPOSITION_ATTACHED_PIC
                continue
        except Exception:  # older PyAV: no disposition flags
            pass
        return s
    return None


def _duration(c, s) -> float | None:
    if c.duration and c.duration > 0:
        return c.duration / 1_000_000
    if s.duration and s.time_base:
        return float(s.duration * s.time_base)
    return None


def _tag_meta(tags: dict, fmt: str, notes: list[str]) -> dict:
    """Container tags as FFmpeg reads them: creation_time (UTC, except an AVI's IDIT, which is the
    camera's wall clock), an ISO 6709 location, make and model."""
    out: dict = {}
    when = tags.get("creation_time") or tags.get("com.apple.quicktime.creationdate")
    if when:
        _set_date(out, when, "creation time", notes, naive="local" if fmt == "avi" else "utc")
    for key in ("com.apple.quicktime.location.iso6709", "location", "location-eng"):
        if key in tags and _set_place(out, tags[key], notes):
            break
    make = _first_text(tags, "com.apple.quicktime.make", "com.android.manufacturer", "make")
    model = _first_text(tags, "com.apple.quicktime.model", "com.android.model", "model")
    _set_camera(out, make, model)
    if notes:
        out["notes"] = notes[:20]
    return out


# -- a representative frame ---------------------------------------------------------------------------
BLACK_LUMA = 16        # mean luma (0-255) under which a frame is taken for black (a fade-in, a lens cap)
LOOK_AHEAD = 3.0       # seconds of video searched past the seek point for a frame that is not black


def poster_frame(source, *, min_side: int = 224, time_limit: float = 20.0):
    """An upright RGB PIL image of a frame about 1 s in (10% in for a short clip, the first for one
    under a second), skipping black frames, downscaled by a whole factor while its short side stays
    >= min_side. `source`: a path or a seekable binary file. Raises MediaError."""
    try:
        import av
    except ImportError:
        raise MediaError("needs-extra", NEEDS_EXTRA) from None
    deadline = time.monotonic() + time_limit
    is_path = isinstance(source, (str, os.PathLike))
    try:
        if not is_path:
            source.seek(0)
        with av.open(os.fspath(source) if is_path else source, metadata_errors="replace",
                     timeout=(time_limit, time_limit)) as c:
            return _poster(c, min_side, deadline, time_limit)
    except MediaError:
        raise
    except (OSError, ValueError) as e:
        if is_path and isinstance(e, (FileNotFoundError, PermissionError, IsADirectoryError)):
            raise MediaError("unreadable", f"cannot open video: {e}") from None
        if not is_path and not isinstance(e, av.error.FFmpegError):   # a file object that cannot seek
            raise MediaError("unreadable", f"cannot read video: {type(e).__name__}: {e}"[:300]) from None
        raise MediaError("corrupt", f"cannot decode video: {type(e).__name__}: {e}"[:300]) from None
    except av.error.DecoderNotFoundError as e:
        raise MediaError("unsupported", f"no decoder for this video: {e}") from None
    except av.error.ExitError:   # the open/read timeout fired
        raise MediaError("timeout", f"decoding took over {time_limit:g} s: abandoned") from None
    except Exception as e:  # PyAV raises its FFmpegError subclasses (and builtins) on damaged files
        raise MediaError("corrupt", f"cannot decode video: {type(e).__name__}: {e}"[:300]) from None


def _poster(c, min_side: int, deadline: float, time_limit: float):
    s = _video_stream(c)
    if s is None:
        raise MediaError("corrupt", "no video stream")
    if s.codec_context is None:
        raise MediaError("unsupported", "no decoder for this video's codec")
    s.codec_context.thread_type = "AUTO"
    duration = _duration(c, s)
    target = 0.0 if not duration or duration < 1.0 else min(1.0, duration * 0.1)
    for attempt, start in enumerate((target, 0.0) if target else (0.0,)):   # a failed seek: from the start
        frame = _first_bright(c, s, start, attempt > 0, deadline, time_limit)
        if frame is not None:
            return _to_image(frame, min_side)
    raise MediaError("corrupt", "no frame of the video could be decoded")


def _first_bright(c, s, at: float, rewind: bool, deadline: float, time_limit: float):
    """Decode from `at` seconds: the first frame that is not black within LOOK_AHEAD seconds, else
    the brightest seen; None when nothing decodes."""
    import av

    origin = float(s.start_time * s.time_base) if s.start_time is not None and s.time_base else 0.0
    if at > 0 or rewind:
        try:
            c.seek(int((origin + at) / s.time_base), stream=s)   # to the key frame before
        except av.error.FFmpegError:
            return None
    best, best_luma, errors = None, -1.0, 0
    for packet in c.demux(s):
        if time.monotonic() > deadline:
            raise MediaError("timeout", f"decoding took over {time_limit:g} s: abandoned")
        try:
            frames = packet.decode()
        except av.error.InvalidDataError:   # one damaged packet: the next key frame may decode
            errors += 1
            if errors > 50:
                break
            continue
        for frame in frames:
            t = frame.time - origin if frame.time is not None else at
            if t < at - 0.001:
                continue
            luma = _mean_luma(frame)
            if luma >= BLACK_LUMA:
                return frame
            if luma > best_luma:
                best, best_luma = frame, luma
            if t > at + LOOK_AHEAD:
                return best
    return best


def _mean_luma(frame) -> float:
    small = frame.reformat(width=32, height=max(1, round(32 * frame.height / max(1, frame.width))),
                           format="rgb24").to_ndarray()
    return float((small[..., 0] * 0.299 + small[..., 1] * 0.587 + small[..., 2] * 0.114).mean())


def _to_image(frame, min_side: int):
    from PIL import Image

    w, h = frame.width, frame.height
    scale = max(1, min(w, h) // max(1, min_side))
    image = frame.reformat(width=max(1, w // scale), height=max(1, h // scale), format="rgb24",
                           interpolation="AREA").to_image() if scale > 1 else frame.to_image()
    turn = (-int(getattr(frame, "rotation", 0) or 0)) % 360   # PyAV: counter-clockwise degrees
    method = {90: Image.Transpose.ROTATE_270, 180: Image.Transpose.ROTATE_180,
              270: Image.Transpose.ROTATE_90}.get(round(turn / 90) % 4 * 90)
    image = image.convert("RGB")
    return image.transpose(method) if method is not None else image
