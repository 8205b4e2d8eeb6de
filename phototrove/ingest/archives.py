"""Reading zip and tar archives in place: listing members, bounded reads, cached handles.

Nothing is ever extracted: members are streamed straight from the archive file. Member names are
kept verbatim as the key to read them back (`locations.entry`), and `safe_parts()` turns them into
path components that can never escape (no `..`, no absolute paths, no drive letters).

A zip whose central directory is gone (a download cut short) is salvaged by walking its local file
headers: every complete member before the cut is still read.
"""
from __future__ import annotations

import os
import struct
import tarfile
import threading
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass
from typing import BinaryIO, Iterator

from .files import open_regular

MAX_RATIO = 100             # real photos/videos compress ~1:1; deflate's own limit is ~1032:1
RATIO_FLOOR = 32 << 20      # below this, a high ratio (an all-white PNG, a JSON) is harmless
MAX_SMALL_READ = 8 << 20    # sidecar/album JSON: anything bigger is not one


class ArchiveError(OSError):
    """An archive or member that cannot be read. `kind` is a short class for the error row.
    An OSError, so a reader that copes with unreadable files copes with these too."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


class _MemberStream:
    """A stream over one member; closing it closes the underlying file object `f`."""

    f: BinaryIO

    def close(self) -> None:
        self.f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _Guarded(_MemberStream):
    """A member stream whose zip-specific failures (bad CRC, broken deflate data) surface as
    ArchiveError, so callers need to know only OSError."""

    def __init__(self, f):
        self.f = f

    def read(self, n: int = -1) -> bytes:
        try:
            return self.f.read(n)
        except (zipfile.BadZipFile, zlib.error, tarfile.TarError) as e:
            raise ArchiveError("corrupt", f"member damaged: {e}") from None


class _Window(_MemberStream):
    """A seekable read-only view of `length` bytes of a file from `offset` (a stored zip member)."""

    def __init__(self, f: BinaryIO, offset: int, length: int):
        self.f, self.offset, self.length, self.pos = f, offset, length, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, pos: int, whence: int = 0) -> int:
        base = {0: 0, 1: self.pos, 2: self.length}[whence]
        self.pos = max(0, min(self.length, base + pos))
        return self.pos

    def read(self, n: int = -1) -> bytes:
        n = self.length - self.pos if n is None or n < 0 else min(n, self.length - self.pos)
        if n <= 0:
            return b""
        self.f.seek(self.offset + self.pos)
        data = self.f.read(n)
        self.pos += len(data)
        return data


@dataclass
class Member:
    name: str                # verbatim member name (the location's entry)
    size: int                # declared uncompressed size
    compress_size: int
    crc: int | None
    offset: int = -1         # local header offset (salvaged zips) / member index (tar)
    method: int = 0


def archive_kind(path: str) -> str | None:
    low = path.lower()
    if low.endswith(".zip"):
        return "zip"
    if low.endswith((".tgz", ".tar.gz", ".tar")):
        return "tar"
    return None


def safe_parts(name: str) -> list[str]:
    """Path components of a member name that cannot escape: separators unified, `.`/`..`, empty
    and drive components dropped, NFC-normalized (macOS zips carry NFD names)."""
    parts = []
    for p in name.replace("\\", "/").split("/"):
        if p in ("", ".", "..") or (len(p) == 2 and p[1] == ":"):
            continue
        parts.append(unicodedata.normalize("NFC", p))
    return parts


def check_bomb(m: Member) -> None:
    if m.size > RATIO_FLOOR and m.size > MAX_RATIO * max(m.compress_size, 1):
        raise ArchiveError("zip-bomb", f"declared {m.size} bytes from {m.compress_size} compressed "
                                       f"(ratio > {MAX_RATIO}): refusing to inflate")


# -- zip ------------------------------------------------------------------------------------------
def list_zip(path: str) -> tuple[list[Member], str | None]:
    """Members of a zip (directories left out) and, for a salvaged zip, why it needed salvaging."""
    try:
        with zipfile.ZipFile(open_regular(path)) as zf:
            size = os.path.getsize(path)
            out = []
            for zi in zf.infolist():
                if zi.is_dir():
                    continue
                out.append(Member(zi.filename, zi.file_size, zi.compress_size, zi.CRC,
                                  zi.header_offset, zi.compress_type))
                if zi.header_offset + zi.compress_size > size:
                    raise zipfile.BadZipFile("member data runs past the end of the file")
            return out, None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as e:
        if isinstance(e, (FileNotFoundError, PermissionError, IsADirectoryError)):
            raise ArchiveError("unreadable", f"cannot open archive: {e.strerror}") from None
        members = salvage_zip(path)
        return members, f"{e}"


_LOCAL = struct.Struct("<4sHHHHHIIIHH")
_DESCRIPTOR = b"PK\x07\x08"
_RECORDS = (b"PK\x03\x04", b"PK\x01\x02", b"PK\x05\x06", b"PK\x06\x06")  # what may follow a member


def salvage_zip(path: str) -> list[Member]:
    """Walk local file headers from the start; stop at the first incomplete member.

    A member written in streaming mode (general-purpose bit 3: zero sizes in its header, a data
    descriptor after its data) is ended by scanning for its descriptor: one whose compressed size
    is exactly the distance scanned and that is followed by another zip record or the end of the
    file. Its CRC and sizes are checked when the member is read (every read inflates and checks)."""
    out: list[Member] = []
    size = os.path.getsize(path)
    with open_regular(path) as f:
        fd = f.fileno()
        scan = _Scanner(fd, size)
        try:
            _walk(fd, size, scan, out)
        finally:
            scan.close()
    return out


def _walk(fd: int, size: int, scan: "_Scanner", out: list[Member]) -> None:
    """salvage_zip's walk over the local headers, appending each complete member to `out`."""
    pos = 0
    while pos + _LOCAL.size <= size:
        head = os.pread(fd, _LOCAL.size, pos)
        sig, _ver, flags, method, _t, _d, crc, csize, usize, nlen, xlen = _LOCAL.unpack(head)
        if sig != b"PK\x03\x04":
            return
        raw_name = os.pread(fd, nlen, pos + _LOCAL.size)
        extra = os.pread(fd, xlen, pos + _LOCAL.size + nlen)
        zip64 = False
        i = 0
        while i + 4 <= len(extra):
            tag, ln = struct.unpack_from("<HH", extra, i)
            if tag == 1:
                zip64 = True
                if ln >= 16 and (csize == 0xFFFFFFFF or usize == 0xFFFFFFFF):
                    usize, csize = struct.unpack_from("<QQ", extra, i + 4)
            i += 4 + ln
        data_at = pos + _LOCAL.size + nlen + xlen
        after = 0
        if flags & 8:
            found = _descriptor(scan, data_at, zip64, stored=method == 0)
            if found is None:   # cut short inside this member (or damaged): the members before are kept
                return
            crc, csize, usize, after = found
        if data_at + csize > size:
            return
        name = raw_name.decode("utf-8" if flags & 0x800 else "cp437", "replace")
        if not name.endswith("/"):
            out.append(Member(name, usize, csize, crc, pos, method))
        pos = data_at + csize + after


class _Scanner:
    """A forward-only search of one file for where streamed members may end: each byte is read
    once, however many members the walk asks about, in blocks scanned two at a time ahead of the
    walk (numpy releases the GIL: both cores scan)."""

    BLOCK = 8 << 20

    def __init__(self, fd: int, size: int):
        from concurrent.futures import ThreadPoolExecutor

        self.fd, self.size = fd, size
        self.pool = ThreadPoolExecutor(2)
        self.blocks: dict[int, object] = {}   # block number -> Future of its candidate positions

    def _block(self, k: int) -> list[int]:
        for ahead in (k, k + 1, k + 2):
            if ahead * self.BLOCK < self.size and ahead not in self.blocks:
                self.blocks[ahead] = self.pool.submit(self._scan, ahead)
        for done in [b for b in self.blocks if b < k]:
            del self.blocks[done]
        return self.blocks[k].result()

    def _scan(self, k: int) -> list[int]:
        import numpy as np

        base = k * self.BLOCK
        a = np.frombuffer(os.pread(self.fd, self.BLOCK + 3, base), np.uint8)  # +3: a signature across blocks
        p = np.flatnonzero(a[:-3] == 0x50)
        p = p[a[p + 1] == 0x4B]
        c, d = a[p + 2], a[p + 3]
        hit = ((c == 7) & (d == 8)) | ((c == 3) & (d == 4)) | ((c == 1) & (d == 2))
        return (p[hit] + base).tolist()

    def candidates(self, start: int) -> Iterator[int]:
        """Positions >= start of a descriptor or header signature, in file order."""
        k = start // self.BLOCK
        while k * self.BLOCK < self.size:
            for at in self._block(k):
                if at >= start:
                    yield at
            k += 1

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def _descriptor(scan: _Scanner, data_at: int, zip64: bool, *, stored: bool) -> tuple[int, int, int, int] | None:
    """(CRC, compressed size, size, descriptor length) of the streamed member whose data starts at
    `data_at`: the first data descriptor (signed, or unsigned right before the next record) whose
    compressed size is the distance from `data_at` and that is followed by a record or the end."""
    for at in scan.candidates(data_at):
        hit = _check_descriptor(scan.fd, at, data_at, scan.size, zip64, stored)
        if hit is not None:
            return hit
    return None


def _check_descriptor(fd: int, at: int, data_at: int, size: int, zip64: bool, stored: bool):
    sig = os.pread(fd, 4, at)
    forms = ((True, False) if zip64 else (False, True))
    if sig == _DESCRIPTOR:
        starts = [(at, True)]
    elif sig in _RECORDS[:2]:     # an unsigned descriptor right before the next header
        starts = [(at - (20 if z64 else 12), False) for z64 in forms]
    else:
        return None
    for z64 in forms:
        for start, signed in starts:
            fmt = "<IQQ" if z64 else "<III"
            n = struct.calcsize(fmt) + (4 if signed else 0)
            if start < data_at or (not signed and start + n != at):
                continue
            raw = os.pread(fd, n + 4, start)
            if len(raw) < n:
                continue
            crc, csize, usize = struct.unpack_from(fmt, raw, 4 if signed else 0)
            if csize != start - data_at or (stored and usize != csize):
                continue
            follows = raw[n:n + 4]
            if start + n == size or follows in _RECORDS or (start + n + len(follows) == size
                                                          and any(r.startswith(follows) for r in _RECORDS)):
                return crc, csize, usize, n
    return None


class _Inflating(_MemberStream):
    """A bounded, CRC-checked reader over one salvaged zip member's raw data."""

    def __init__(self, f: BinaryIO, m: Member):
        if m.method not in (0, 8):
            raise ArchiveError("unsupported", f"compression method {m.method} not supported")
        f.seek(m.offset)
        head = f.read(_LOCAL.size)
        nlen, xlen = struct.unpack_from("<HH", head, 26)
        f.seek(m.offset + _LOCAL.size + nlen + xlen)
        self.f, self.m = f, m
        self.left_in, self.left_out = m.compress_size, m.size
        self.z = zlib.decompressobj(-15) if m.method == 8 else None
        self.crc = 0

    def read(self, n: int = -1) -> bytes:
        want = self.left_out if n is None or n < 0 else min(n, self.left_out)
        chunks, got = [], 0   # joined once at the end (a single chunk is returned as it is)
        while got < want:
            if self.z is None:
                chunk = self.f.read(min(want - got, self.left_in))
                self.left_in -= len(chunk)
            else:
                pending = self.z.unconsumed_tail
                if not pending and self.left_in:
                    pending = self.f.read(min(4 << 20, self.left_in))
                    self.left_in -= len(pending)
                try:
                    chunk = self.z.decompress(pending, want - got)
                except zlib.error as e:
                    raise ArchiveError("corrupt", f"member damaged: {e}") from None
            if not chunk:
                done = self.m.size - self.left_out
                if self.z is not None and self.z.eof:   # the data is there but says less: damaged, not cut
                    raise ArchiveError("corrupt", f"member damaged: its data ends after {done} of {self.m.size} bytes")
                raise EOFError(f"member ended after {done} of {self.m.size} bytes")
            chunks.append(chunk)
            got += len(chunk)
            self.left_out -= len(chunk)
            self.crc = zlib.crc32(chunk, self.crc)
        if self.left_out == 0 and self.m.crc is not None and self.crc != self.m.crc:
            raise ArchiveError("corrupt", "CRC mismatch: the member's bytes are damaged")
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)


# -- tar ------------------------------------------------------------------------------------------
def iter_tar(path: str) -> Iterator[tuple[Member, tarfile.TarFile, tarfile.TarInfo]]:
    """Stream a (gzipped) tar once, in order: each regular member with the open stream, so the
    caller may read it (small sidecars) before the stream moves on."""
    try:
        with open_regular(path) as raw, tarfile.open(fileobj=raw, mode="r|*") as tf:
            for i, ti in enumerate(tf):
                if ti.isfile():
                    yield Member(ti.name, ti.size, ti.size, None, i), tf, ti
    except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
        if isinstance(e, (FileNotFoundError, PermissionError)):
            raise ArchiveError("unreadable", f"cannot open archive: {e.strerror}") from None
        raise ArchiveError("truncated", f"archive damaged or cut short: {e}") from None


class _TarCursor:
    """A forward-only reader over one tar: reading members in archive order costs one pass."""

    def __init__(self, path: str):
        self.path = path
        self.tf: tarfile.TarFile | None = None
        self.pos = -1

    def open(self, name: str, index: int | None) -> BinaryIO:
        """The member's stream, valid until the cursor moves on (the next open). Without its
        index (a source that did not list the tar this run), the search wraps around once."""
        if self.tf is None or (index is not None and index <= self.pos):
            self.restart()
        for attempt in range(2):
            assert self.tf is not None
            started_at = self.pos
            while True:
                ti = self.tf.next()  # not `for ti in tf`: each new iterator starts over at member 0
                if ti is None:
                    break
                self.pos += 1
                if ti.name == name and ti.isfile() and (index is None or self.pos == index):
                    check_bomb(Member(name, ti.size, os.path.getsize(self.path), None))
                    return _Guarded(self.tf.extractfile(ti))
                if index is not None and self.pos > index:
                    break
            self.restart()
            if index is not None or started_at < 0:
                break
        raise ArchiveError("vanished", "member no longer in the archive")

    def restart(self) -> None:
        self.close()
        self._raw = open_regular(self.path)
        self.tf = tarfile.open(fileobj=self._raw, mode="r|*")
        self.pos = -1

    def close(self) -> None:
        if self.tf is not None:
            self.tf.close()
            self._raw.close()
            self.tf = None


# -- cached handles -------------------------------------------------------------------------------
class ArchivePool:
    """Open archive handles, one per archive per thread, so each zip's central directory is parsed
    once per thread (not once per member) and each tar is walked forward once."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._all: list = []
        self._lock = threading.Lock()
        self.salvaged: dict[str, dict[str, Member]] = {}  # zip path -> members found by salvage
        self.tar_index: dict[str, dict[str, int]] = {}    # tar path -> member name -> index

    def _handles(self) -> dict:
        h = getattr(self._local, "handles", None)
        if h is None:
            h = self._local.handles = {}
        return h

    def _remember(self, obj):
        with self._lock:
            self._all.append(obj)
        return obj

    def open_member(self, path: str, entry: str) -> BinaryIO:
        kind = archive_kind(path)
        handles = self._handles()
        if kind == "zip":
            salvaged = self.salvaged.get(path)
            if salvaged is not None:
                m = salvaged.get(entry)
                if m is None:
                    raise ArchiveError("vanished", "member no longer in the archive")
                check_bomb(m)
                return _Inflating(open_regular(path), m)
            try:
                zf = self._zip(path)
            except zipfile.BadZipFile:  # cut short: what discovery salvaged, salvaged again
                self.salvaged[path] = {m.name: m for m in salvage_zip(path)}
                return self.open_member(path, entry)
            try:
                zi = zf.getinfo(entry)
            except KeyError:
                raise ArchiveError("vanished", "member no longer in the archive") from None
            check_bomb(Member(zi.filename, zi.file_size, zi.compress_size, zi.CRC))
            try:
                return _Guarded(zf.open(zi))
            except (zipfile.BadZipFile, NotImplementedError) as e:
                raise ArchiveError("corrupt", f"member unreadable: {e}") from None
        if kind == "tar":
            cur = handles.get(path)
            if cur is None:
                cur = handles[path] = self._remember(_TarCursor(path))
            try:
                return cur.open(entry, self.tar_index.get(path, {}).get(entry))
            except (tarfile.TarError, zlib.error, EOFError) as e:
                cur.close()
                raise ArchiveError("corrupt", f"archive damaged: {e}") from None
        raise ArchiveError("unsupported", "not an archive")

    def open_seekable(self, path: str, entry: str) -> BinaryIO:
        """A member as a seekable stream: a stored zip member is a window onto the archive file;
        anything else is copied to a temporary file first (deleted when closed)."""
        if archive_kind(path) == "zip":
            try:
                f, offset, length = self._raw_span(path, entry)
                method = (self.salvaged[path][entry].method if path in self.salvaged
                          else self._zip(path).getinfo(entry).compress_type)
            except (KeyError, zipfile.BadZipFile):
                raise ArchiveError("vanished", "member no longer in the archive") from None
            if method == zipfile.ZIP_STORED:
                return _Window(open_regular(path), offset, length)
        import shutil
        import tempfile

        spool = tempfile.TemporaryFile(prefix="trove-member-")
        try:
            with self.open_member(path, entry) as src:
                shutil.copyfileobj(src, spool, 8 << 20)
        except BaseException:
            spool.close()
            raise
        spool.seek(0)
        return spool

    def stored_span(self, path: str, entry: str) -> tuple[int, int] | None:
        """(offset, length) of a stored (uncompressed) zip member's bytes in the archive file: they
        can be copied from there as they lie. None for a deflated member or anything else."""
        if archive_kind(path) != "zip":
            return None
        try:
            if path in self.salvaged:
                m = self.salvaged[path][entry]
                method, size, packed = m.method, m.size, m.compress_size
            else:
                zi = self._zip(path).getinfo(entry)
                method, size, packed = zi.compress_type, zi.file_size, zi.compress_size
            if method != zipfile.ZIP_STORED or size != packed:
                return None
            _f, offset, length = self._raw_span(path, entry)
            return offset, length
        except (KeyError, OSError, zipfile.BadZipFile, struct.error):
            return None

    def _zip(self, path: str) -> zipfile.ZipFile:
        handles = self._handles()
        zf = handles.get(path)
        if zf is None:
            zf = handles[path] = self._remember(zipfile.ZipFile(open_regular(path)))
        return zf

    def _raw_span(self, path: str, entry: str) -> tuple[BinaryIO, int, int]:
        """(file, offset, length) of a zip member's stored (still compressed) bytes."""
        salvaged = self.salvaged.get(path)
        if salvaged is not None:
            m = salvaged[entry]
            offset, length = m.offset, m.compress_size
        else:
            zi = self._zip(path).getinfo(entry)
            offset, length = zi.header_offset, zi.compress_size
        handles = self._handles()
        f = handles.get(("raw", path))
        if f is None:
            f = handles[("raw", path)] = self._remember(open_regular(path))
        f.seek(offset)
        head = f.read(_LOCAL.size)
        if len(head) < _LOCAL.size or head[:4] != b"PK\x03\x04":
            raise ArchiveError("corrupt", "bad local header")
        nlen, xlen = struct.unpack_from("<HH", head, 26)
        return f, offset + _LOCAL.size + nlen + xlen, length

    def raw_equal(self, a: tuple[str, str], b: tuple[str, str], chunk: int = 1 << 20) -> bool:
        """Whether two zip members' stored bytes are identical (same method and CRC checked by the
        caller): then their content is identical, proven without inflating either."""
        try:
            fa, oa, na = self._raw_span(*a)
            fb, ob, nb = self._raw_span(*b)
            if na != nb:
                return False
            done = 0
            while done < na:
                n = min(chunk, na - done)
                fa.seek(oa + done)
                x = fa.read(n)
                fb.seek(ob + done)
                if len(x) != n or x != fb.read(n):
                    return False
                done += n
            return True
        except (OSError, KeyError, zipfile.BadZipFile, struct.error):
            return False  # anything odd: read it the normal way

    def read_small(self, path: str, entry: str, limit: int = MAX_SMALL_READ) -> bytes:
        with self.open_member(path, entry) as f:
            data = f.read(limit + 1)
        if len(data) > limit:
            raise ArchiveError("too-large", f"larger than {limit} bytes: not a sidecar")
        return data

    def close(self) -> None:
        with self._lock:
            for obj in self._all:
                try:
                    obj.close()
                except Exception:  # closing a broken handle must not hide the run's outcome
                    pass
            self._all.clear()
        self._local = threading.local()
