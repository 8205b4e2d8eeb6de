"""Writing output files without ever replacing a file trove did not write: the new leading bytes
(inserted metadata) and the untouched rest, copied by the kernel where possible; a second copy of
a file as a hard link, a symlink or a copy."""
from __future__ import annotations

import errno
import os
import shutil
import tempfile
import threading

from .naming import next_name

CHUNK = 1 << 20
# errors that mean "this file system cannot do that here", not "this file is bad"
_UNSUPPORTED = (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EPERM, errno.EMLINK,
                getattr(errno, "ENOTSUP", errno.EOPNOTSUPP))


class Body:
    """The untouched part of a file: bytes in memory, then (optionally) a byte range of an open
    file that is copied by the kernel (copy_file_range, as `cp` does) or the rest of a stream
    (an archive member, read as it is inflated: never extracted anywhere first)."""

    def __init__(self, data: bytes | memoryview | None = None, fd: int | None = None, offset: int = 0,
                 length: int = 0, stream=None):
        self.data, self.fd, self.offset, self.stream = data, fd, offset, stream
        self.length = length if fd is not None else 0

    def write_to(self, out_fd: int) -> None:
        if self.data is not None:
            _write_all(out_fd, self.data)
        if self.fd is not None:
            self._copy_range(out_fd)
        if self.stream is not None:
            while True:
                chunk = self.stream.read(CHUNK)
                if not chunk:
                    break
                _write_all(out_fd, chunk)

    def _copy_range(self, out_fd: int) -> None:
        offset, left = self.offset, self.length
        if hasattr(os, "copy_file_range"):
            try:
                while left > 0:
                    n = os.copy_file_range(self.fd, out_fd, left, offset)
                    if n <= 0:
                        raise OSError("the source file got shorter while copying")
                    offset += n
                    left -= n
                return
            except OSError as e:
                if left != self.length or e.errno not in _UNSUPPORTED:
                    raise
        while left > 0:   # no in-kernel copy here: plain reads and writes
            chunk = os.pread(self.fd, min(left, CHUNK), offset)
            if not chunk:
                raise OSError("the source file got shorter while copying")
            _write_all(out_fd, chunk)
            offset += len(chunk)
            left -= len(chunk)


def _write_all(fd: int, data) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def refuse_inside(out: str, places: list[tuple[str, str]], what_out: str = "--out") -> None:
    """UsageError if the output folder `out` is, or is inside, one of `places` ((what, folder)):
    written files would land among the photos trove reads (and be read back as new ones)."""
    from ..errors import UsageError

    real = os.path.realpath(out)
    for what, folder in places:
        root = os.path.realpath(folder)
        if os.path.isdir(root) and os.path.commonpath([real, root]) == root:
            raise UsageError(f"{what_out} {out} is inside {what} {folder}: the files written would land among "
                             "what trove reads; choose a folder outside it")


PARTIAL_DIR = ".trove-partial"   # files being written; a real name only ever holds a complete file


class Writer:
    """Writes outputs without ever replacing a file trove did not write. Each file is written under
    a temporary name in `<out>/.trove-partial/` and then linked into place, so a kill at any moment
    leaves either nothing or the complete file under its real name; leftovers of a killed run are
    removed when the next one starts. Every path is checked to stay inside the output folder.

    A file can have companions (a sidecar `<name>.xmp`): they are placed with it, and a name is only
    taken when every one of them is free (or already holds the same bytes)."""

    def __init__(self, out: str, *, fresh: bool = True):
        self.out = os.path.realpath(out)
        self.dirs: set[str] = set()
        self.lock = threading.Lock()
        self.partial = os.path.join(self.out, PARTIAL_DIR)
        self.mode = _file_mode()
        if fresh:   # (a worker process sharing the run's folder passes fresh=False)
            shutil.rmtree(self.partial, ignore_errors=True)
        os.makedirs(self.partial, exist_ok=True)

    def close(self) -> None:
        shutil.rmtree(self.partial, ignore_errors=True)

    def write(self, rel: str, head: bytes, body: Body, mtime: float | None, *, replace: bool = False,
              companions: dict[str, bytes] | None = None) -> str:
        """Write `head` + `body` as `rel` (and each companion as `rel + suffix`); with `replace`,
        over the file an earlier run of trove wrote there (the manifest says so), atomically:
        readers see the old file or the new one."""
        tmps: list[tuple[str, str]] = []
        try:
            tmps.append(("", self._temp(head, body, mtime)))
            for suffix, data in (companions or {}).items():
                tmps.append((suffix, self._temp(data, Body(), mtime)))
            if replace:
                path = self._inside(rel)
                for suffix, tmp in tmps:
                    os.replace(tmp, path + suffix)
                return rel
            return self._place(tmps, rel)
        finally:
            for _suffix, tmp in tmps:
                if os.path.lexists(tmp):
                    os.unlink(tmp)

    def link(self, src: str, rel: str, how: str, suffixes: tuple[str, ...] = ()) -> tuple[str, str]:
        """Another copy of the output `src` (relative, with its companions `src + suffix`) as `rel`:
        how = 'hard' (a hard link; a copy where the file system has none), 'symlink' (relative) or
        'copy'. Returns (the name it got, how it was made)."""
        src_path = self._inside(src)
        if how == "symlink":
            return self._symlink(src_path, rel, suffixes), "symlink"
        tmps: list[tuple[str, str]] = []
        try:
            if how == "hard":
                try:
                    for suffix in ("", *suffixes):
                        tmp = os.path.join(self.partial, f"{os.getpid()}-{threading.get_ident()}-{len(tmps)}.link")
                        if os.path.lexists(tmp):
                            os.unlink(tmp)
                        os.link(src_path + suffix, tmp)
                        tmps.append((suffix, tmp))
                except OSError as e:
                    if e.errno not in _UNSUPPORTED:
                        raise
                    how = "copy"
                    for _suffix, tmp in tmps:
                        os.unlink(tmp)
                    tmps = []
            if how == "copy":
                for suffix in ("", *suffixes):
                    tmps.append((suffix, self._temp_copy(src_path + suffix)))
            return self._place(tmps, rel), how
        finally:
            for _suffix, tmp in tmps:
                if os.path.lexists(tmp):
                    os.unlink(tmp)

    # -- the steps ----------------------------------------------------------------------------------
    def _temp(self, head: bytes, body: Body, mtime: float | None) -> str:
        fd, tmp = tempfile.mkstemp(dir=self.partial, suffix=".part")
        try:
            try:
                if hasattr(os, "fchmod"):   # (mkstemp makes it private: an output is an ordinary file)
                    os.fchmod(fd, self.mode)
                _write_all(fd, head)
                body.write_to(fd)
                if mtime is not None:
                    os.utime(fd, (mtime, mtime))
            finally:
                os.close(fd)
        except BaseException:
            os.unlink(tmp)
            raise
        return tmp

    def _temp_copy(self, path: str) -> str:
        from ..ingest.files import open_fd

        fd = open_fd(path)
        try:
            st = os.fstat(fd)
            tmp = self._temp(b"", Body(fd=fd, length=st.st_size), None)
            os.utime(tmp, ns=(st.st_mtime_ns, st.st_mtime_ns))
            return tmp
        finally:
            os.close(fd)

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

    def _place(self, tmps: list[tuple[str, str]], rel: str) -> str:
        """Give the written file (and its companions) their real names without replacing anything
        trove did not write: a name held by someone else's file moves the output to `name-2`."""
        (_, main), companions = tmps[0], tmps[1:]
        while True:
            path = self._inside(rel)
            if any(self._verdict(path + suffix, tmp) == "other" for suffix, tmp in companions
                   if os.path.lexists(path + suffix)):
                rel = next_name(rel)
                continue
            placed = self._put(main, path)
            if placed == "other":
                rel = next_name(rel)
                continue
            if all(self._put(tmp, path + suffix) != "other" for suffix, tmp in companions):
                return rel
            if placed == "new":   # a companion's name was taken meanwhile: take our file back
                if os.path.lexists(main):   # (rename() of two links to one file would do nothing)
                    os.unlink(path)
                else:
                    os.replace(path, main)
            rel = next_name(rel)

    def _put(self, tmp: str, path: str) -> str:
        """'new' (placed), 'same' (the same bytes were already there: an earlier run's file) or
        'other' (someone else's file holds the name)."""
        try:
            _link_new(tmp, path)
            return "new"
        except FileExistsError:
            pass
        with self.lock:
            verdict = self._verdict(path, tmp)
            if verdict == "ours-cut-short":   # left by a trove before atomic writes: ours to finish
                os.replace(tmp, path)
                return "new"
        return verdict

    @staticmethod
    def _verdict(path: str, tmp: str) -> str:
        """`path` exists but is not in the manifest: the same bytes as `tmp`, our own output cut
        short by an older trove, or someone else's file."""
        try:
            st, mine = os.stat(path), os.stat(tmp)
            if os.path.islink(path) or not os.path.isfile(path):
                return "other"
            if os.path.samestat(st, mine):
                return "same"
            if st.st_size > mine.st_size:
                return "other"
            with open(path, "rb") as old, open(tmp, "rb") as new:
                while True:
                    a = old.read(CHUNK)
                    b = new.read(len(a)) if a else b""
                    if a != b:
                        return "other"
                    if not a:
                        break
        except OSError:
            return "other"
        return "same" if st.st_size == mine.st_size else "ours-cut-short"  # (an empty file holds nothing to lose)

    def _symlink(self, src_path: str, rel: str, suffixes: tuple[str, ...]) -> str:
        while True:
            path = self._inside(rel)
            made: list[str] = []
            for suffix in ("", *suffixes):
                target = os.path.relpath(src_path + suffix, os.path.dirname(path))
                try:
                    os.symlink(target, path + suffix)
                    made.append(path + suffix)
                except FileExistsError:
                    if os.path.islink(path + suffix) and os.readlink(path + suffix) == target:
                        continue
                    for p in made:
                        os.unlink(p)
                    break
            else:
                return rel
            rel = next_name(rel)


def _file_mode() -> int:
    """rw for everyone the umask lets read and write: what `cp` or a camera's import would give."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


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
