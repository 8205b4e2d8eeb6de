"""probe_video: what kind of file the bytes are (sniffed; an MP4 told apart by its brand, an MPEG
stream by its name), handed to the native ISO-BMFF reader or to PyAV; and the errors for a file that
is empty, too short, or not a video."""
from __future__ import annotations

from ..kinds import MediaError
from ..sniff import HEAD_BYTES, sniff
from .info import VideoInfo
from .isobmff import _probe_iso
from .other_containers import _probe_other
from .span import _Span

# top-level box types of QuickTime files older than `ftyp`
QT_TOP = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}


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
