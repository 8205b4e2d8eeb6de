"""The other containers (Matroska/WebM, AVI, ASF/WMV, MPEG-TS/PS, FLV), after the native checks,
opened with PyAV (the optional `video` extra) over the head and tail given: the video stream's frame
size, rotation, duration (an MPEG stream's from the timestamps in its tail) and codec, and its tags
as catalog keys. Also the stream choice and the duration poster_frame uses."""
from __future__ import annotations

import io
from fractions import Fraction

from ..kinds import MediaError
from .info import VideoInfo
from .metadata import _tag_meta
from .native_checks import _asf_created, _chunks_fit, _matroska
from .span import _Span

# -- other containers: native checks, then PyAV -------------------------------------------------------
EXTRA_NOTE = "install phototrove[video] (PyAV) to read this container: pip install 'phototrove[video]'"
AV_FORMATS = {"mkv": "matroska", "webm": "matroska", "avi": "avi", "wmv": "asf", "asf": "asf", "mts": "mpegts",
              "m2ts": "mpegts", "mpg": "mpeg", "flv": "flv"}
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
