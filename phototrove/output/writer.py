"""Writing output files without ever replacing a file trove did not write: the new leading bytes
(inserted metadata) and the untouched rest, copied by the kernel where possible."""
from __future__ import annotations

import errno
import os
import threading


class Body:
    """The untouched part of the preview: bytes in memory, or a byte range of the preview file that
    is copied by the kernel (copy_file_range), as `cp` does."""

    def __init__(self, data: memoryview | None = None, fd: int | None = None, offset: int = 0, length: int = 0):
        self.data, self.fd, self.offset = data, fd, offset
        self.length = len(data) if data is not None else length

    def read(self) -> bytes:
        return bytes(self.data) if self.data is not None else os.pread(self.fd, self.length, self.offset)

    def write_to(self, out_fd: int) -> None:
        if self.data is not None:
            _write_all(out_fd, self.data)
            return
        offset, left = self.offset, self.length
        if hasattr(os, "copy_file_range"):
            try:
                while left > 0:
                    n = os.copy_file_range(self.fd, out_fd, left, offset)
                    if n <= 0:
                        raise OSError("the preview file got shorter while copying")
                    offset += n
                    left -= n
                return
            except OSError as e:
                if left != self.length or e.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL,
                                                          errno.EOPNOTSUPP, errno.EPERM):
                    raise
        while left > 0:   # no in-kernel copy here: plain reads and writes
            chunk = os.pread(self.fd, min(left, 1 << 20), offset)
            if not chunk:
                raise OSError("the preview file got shorter while copying")
            _write_all(out_fd, chunk)
            offset += len(chunk)
            left -= len(chunk)


def _write_all(fd: int, data) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class Writer:
    """Writes outputs without ever replacing a file trove did not write."""

    def __init__(self, out: str):
        self.out = out
        self.dirs: set[str] = set()
        self.lock = threading.Lock()

    def write(self, rel: str, head: bytes, body: Body, mtime: float | None) -> str:
        path = os.path.join(self.out, *rel.split("/"))
        folder = os.path.dirname(path)
        if folder not in self.dirs:
            os.makedirs(folder, exist_ok=True)
            self.dirs.add(folder)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            with self.lock:
                rel, fd = self._existing(rel, path, head, body)
            if fd is None:
                return rel      # the same bytes were already there (an earlier run cut short)
        try:
            _write_all(fd, head)
            body.write_to(fd)
            if mtime is not None:
                os.utime(fd, (mtime, mtime))
        except BaseException:
            os.close(fd)
            os.unlink(os.path.join(self.out, *rel.split("/")))   # never leave a partial output
            raise
        os.close(fd)
        return rel

    def _existing(self, rel: str, path: str, head: bytes, body: Body):
        """`path` exists but is not in the manifest: ours from an interrupted run, or someone else's."""
        size = len(head) + body.length
        try:
            with open(path, "rb") as f:
                old = f.read(size + 1)
        except OSError:
            old = b""
        ours = head + body.read()
        if len(old) == size and old == ours:
            return rel, None
        if 2 <= len(old) < size and ours.startswith(old):   # our own output, cut short by a crash
            return rel, os.open(path, os.O_WRONLY | os.O_TRUNC)
        stem, n = rel[:-4], 1
        while True:
            n += 1
            rel = f"{stem}-{n}.jpg"
            try:
                return rel, os.open(os.path.join(self.out, *rel.split("/")), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                continue
