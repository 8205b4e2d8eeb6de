"""A photo's bytes, read where its source keeps them, for writing out: a plain file by descriptor
(the kernel copies it), an archive member as the stream its source inflates (never extracted
anywhere first), a Lightroom preview level as the bytes its source makes of it. Every read is
checked against what the catalog recorded, so a file that changed or vanished since the last
ingest is said, not written out under the photo's name and metadata."""
from __future__ import annotations

import errno
import os

from ..errors import is_disk_full
from .writer import Body

HEAD = 1 << 18   # read first: a JPEG's header segments (EXIF, XMP, ICC, MPF) fit in most


class SourceProblem(Exception):
    """The photo cannot be read from this location: `vanished` (gone, changed) or `error`."""

    def __init__(self, kind: str, reason: str):
        super().__init__(reason)
        self.kind, self.reason = kind, reason


def _problem(e: OSError) -> SourceProblem:
    if is_disk_full(e):   # (reading a spooled member: not the photo's problem)
        raise e
    gone = isinstance(e, FileNotFoundError) or getattr(e, "kind", None) == "vanished" \
        or e.errno in (errno.ENOENT, errno.ENOTDIR, errno.ESTALE)
    return SourceProblem("vanished" if gone else "error", e.strerror or str(e))


CHANGED = "changed since the last ingest (run `trove ingest` on it again)"


class Content:
    """The bytes of one location. `first()` and `more()` read from the start; `body(at, buf)` is
    everything from offset `at` on, `buf` being what first/more returned so far."""

    def __init__(self, *, fd: int | None = None, base: int = 0, size: int = 0, stream=None, data: bytes | None = None,
                 closer=None):
        self.fd, self.base, self.size, self.stream, self.data, self.closer = fd, base, size, stream, data, closer
        self.pos = 0

    def first(self, n: int = HEAD) -> bytes:
        return self.more(n)

    def more(self, n: int) -> bytes:
        try:
            if self.data is not None:
                chunk = self.data[self.pos:self.pos + n]
            elif self.fd is not None:
                chunk = os.pread(self.fd, max(0, min(n, self.size - self.pos)), self.base + self.pos)
            else:
                chunk = self.stream.read(n)
        except OSError as e:
            raise _problem(e) from None
        self.pos += len(chunk)
        return chunk

    def body(self, at: int, buf: bytes) -> Body:
        if self.data is not None:
            return Body(data=memoryview(self.data)[at:])
        if self.fd is not None:
            return Body(fd=self.fd, offset=self.base + at, length=self.size - at)
        return Body(data=memoryview(buf)[at:], stream=self.stream)

    def close(self) -> None:
        if self.closer is not None:
            self.closer.close()
        elif self.fd is not None:
            os.close(self.fd)


class _Checked:
    """An archive member's stream: read errors are the source's problem, and its length must be
    the one recorded (a member replaced by another of the same name is not this photo)."""

    def __init__(self, f, expect: int | None):
        self.f, self.expect, self.count = f, expect, 0

    def read(self, n: int) -> bytes:
        try:
            chunk = self.f.read(n)
        except OSError as e:
            raise _problem(e) from None
        self.count += len(chunk)
        if not chunk and self.expect is not None and self.count != self.expect:
            raise SourceProblem("vanished", CHANGED)
        return chunk


def _stored(src, loc) -> Content | None:
    """A stored zip member of an archive unchanged since the ingest (the same modification time:
    the bytes hashed then are the bytes there now), as a byte range the kernel copies; None:
    stream it (inflated and checked against its CRC)."""
    if not loc.entry:
        return None
    span = src.stored_span(loc)
    if span is None or (loc.size is not None and span[1] != loc.size):
        return None
    from ..ingest.files import open_fd

    try:
        fd = open_fd(loc.path)
    except OSError:
        return None   # (open() says why)
    if loc.mtime_ns is None or os.fstat(fd).st_mtime_ns != loc.mtime_ns:
        os.close(fd)
        return None
    return Content(fd=fd, base=span[0], size=span[1])


def open_content(sources, loc, kind: str) -> Content:
    """The location's bytes (SourceProblem when they cannot be had as the catalog knows them)."""
    src = sources.of(loc.source_id)
    if src is None:
        raise SourceProblem("error", f"this trove cannot read sources of kind {kind!r}")
    stored = _stored(src, loc)
    if stored is not None:
        return stored
    try:
        f = src.open(loc)
    except OSError as e:
        raise _problem(e) from None
    try:
        if kind == "lrprev":   # the level, turned upright, with its profile (ingest_bytes): small
            data = f.read()
            f.close()
            return Content(data=data)
        fileno = getattr(f, "fileno", None)
        if not loc.entry and callable(fileno):
            fd = fileno()
            st = os.fstat(fd)
            if (loc.size is not None and st.st_size != loc.size) or \
                    (loc.mtime_ns is not None and st.st_mtime_ns != loc.mtime_ns):
                raise SourceProblem("vanished", CHANGED)
            return Content(fd=fd, size=st.st_size, closer=f)
        return Content(stream=_Checked(f, loc.size), closer=f)
    except OSError as e:
        f.close()
        raise _problem(e) from None
    except SourceProblem:
        f.close()
        raise
