"""ISO-BMFF boxes: the top-level ones walked by their sizes over a file's head and tail, the `moov`
box found among them (or by its name in the tail), and the children of a box."""
from __future__ import annotations

import struct
from dataclasses import dataclass

from ..kinds import MediaError
from .span import MAX_BOXES, MAX_CHILDREN, _Span

# a box that overruns the file's end says the file was cut; anything else there is junk after the end
CUT_TYPES = {b"mdat", b"moov", b"moof", b"free", b"wide", b"skip", b"uuid", b"mfra", b"meta"}


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
