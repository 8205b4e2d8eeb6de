"""Writing output files without ever replacing a file trove did not write: the new leading bytes
(inserted metadata) and the untouched rest, copied by the kernel where possible."""
from __future__ import annotations

import errno
import os
import re
import shutil
import tempfile
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


def refuse_inside(out: str, places: list[tuple[str, str]]) -> None:
    """UsageError if the output folder `out` is, or is inside, one of `places` ((what, folder)):
    written files would land among the photos trove reads (and be read back as new ones)."""
    from ..errors import UsageError

    real = os.path.realpath(out)
    for what, folder in places:
        root = os.path.realpath(folder)
        if os.path.isdir(root) and os.path.commonpath([real, root]) == root:
            raise UsageError(f"--out {out} is inside {what} {folder}: the files written would land among "
                             "what trove reads; choose a folder outside it")


PARTIAL_DIR = ".trove-partial"   # files being written; a real name only ever holds a complete file


class Writer:
    """Writes outputs without ever replacing a file trove did not write. Each file is written under
    a temporary name in `<out>/.trove-partial/` and then linked into place, so a kill at any moment
    leaves either nothing or the complete file under its real name; leftovers of a killed run are
    removed when the next one starts. Every path is checked to stay inside the output folder."""

    def __init__(self, out: str, *, fresh: bool = True):
        self.out = os.path.realpath(out)
        self.dirs: set[str] = set()
        self.lock = threading.Lock()
        self.partial = os.path.join(self.out, PARTIAL_DIR)
        if fresh:   # (a worker process sharing the run's folder passes fresh=False)
            shutil.rmtree(self.partial, ignore_errors=True)
        os.makedirs(self.partial, exist_ok=True)

    def close(self) -> None:
        shutil.rmtree(self.partial, ignore_errors=True)

    def write(self, rel: str, head: bytes, body: Body, mtime: float | None, *, replace: bool = False) -> str:
        """Write `head` + `body` as `rel`; with `replace`, over the file an earlier run of trove wrote
        there (the manifest says so), atomically: readers see the old file or the new one."""
        path = self._inside(rel)
        fd, tmp = tempfile.mkstemp(dir=self.partial, suffix=".part")
        try:
            try:
                _write_all(fd, head)
                body.write_to(fd)
                if mtime is not None:
                    os.utime(fd, (mtime, mtime))
            finally:
                os.close(fd)
            if replace:
                os.replace(tmp, path)
                return rel
            return self._place(tmp, rel, path, head, body)
        finally:
            if os.path.lexists(tmp):
                os.unlink(tmp)

    def _inside(self, rel: str) -> str:
        """The absolute path of `rel`, its folders made; OSError if it would land outside the output
        folder (`..`, an absolute name, a symlinked folder pointing elsewhere)."""
        path = os.path.join(self.out, *rel.split("/"))
        folder = os.path.dirname(path)
        if folder not in self.dirs:
            os.makedirs(folder, exist_ok=True)
            self.dirs.add(folder)
        real = os.path.realpath(folder)
        if os.path.commonpath([real, self.out]) != self.out or rel.startswith(PARTIAL_DIR + "/"):
            raise OSError(errno.EPERM, f"refusing to write {rel!r}: it would land outside {self.out}")
        return os.path.join(real, os.path.basename(path))

    def _place(self, tmp: str, rel: str, path: str, head: bytes, body: Body) -> str:
        """Give the written file its real name without replacing anything trove did not write."""
        while True:
            try:
                _link_new(tmp, path)
                return rel
            except FileExistsError:
                pass
            with self.lock:
                verdict = self._existing(path, head, body)
            if verdict == "same":
                return rel      # the same bytes were already there (an earlier run's file)
            if verdict == "ours-cut-short":  # left by a trove before atomic writes: ours to finish
                os.replace(tmp, path)
                return rel
            rel = _next_name(rel)
            path = self._inside(rel)

    @staticmethod
    def _existing(path: str, head: bytes, body: Body) -> str:
        """`path` exists but is not in the manifest: the same bytes, our own output cut short by an
        older trove, or someone else's file."""
        size = len(head) + body.length
        try:
            with open(path, "rb") as f:
                old = f.read(size + 1)
        except OSError:
            return "other"
        ours = head + body.read()
        if len(old) == size and old == ours:
            return "same"
        if len(old) < size and ours.startswith(old):  # (an empty file holds nothing to lose)
            return "ours-cut-short"
        return "other"


def _next_name(rel: str) -> str:
    """`IMG.jpg` -> `IMG-2.jpg` -> `IMG-3.jpg`."""
    stem, ext = os.path.splitext(rel)
    m = re.fullmatch(r"(.*)-(\d+)", stem)
    return f"{m.group(1)}-{int(m.group(2)) + 1}{ext}" if m and int(m.group(2)) >= 2 else f"{stem}-2{ext}"


def _link_new(tmp: str, path: str) -> None:
    """Make `tmp` appear at `path` unless `path` exists (FileExistsError): a hard link is atomic and
    never replaces; where links are not supported (FAT, some network shares) an exclusive create
    reserves the name first."""
    try:
        os.link(tmp, path)
        return
    except FileExistsError:
        raise
    except OSError as e:
        if e.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS, errno.EXDEV):
            raise
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    os.replace(tmp, path)
