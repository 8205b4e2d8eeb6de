"""What the other containers' own bytes say that PyAV does not: whether an AVI's or ASF's top-level
chunks and a Matroska segment fit in the file (else 'truncated'), an ASF's creation date, and a
Matroska video track's rotation (ProjectionPoseRoll, which PyAV only shows on decoded frames)."""
from __future__ import annotations

import math
import struct
from datetime import datetime, timedelta

from ..kinds import MediaError
from .span import MAX_BOXES, MAX_CHILDREN, _Span

MKV_EBML, MKV_SEGMENT, MKV_TRACKS, MKV_CLUSTER = 0x1A45DFA3, 0x18538067, 0x1654AE6B, 0x1F43B675
MKV_ENTRY, MKV_TYPE, MKV_VIDEO, MKV_PROJECTION = 0xAE, 0x83, 0xE0, 0x7670
MKV_YAW, MKV_PITCH, MKV_ROLL = 0x7673, 0x7674, 0x7675
ASF_HEADER = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")
ASF_FILE_PROPERTIES = bytes.fromhex("a1dcab8c47a9cf118ee400c00c205365")


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
