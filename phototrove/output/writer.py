"""Writing output files without ever replacing a file trove did not write: the new leading bytes
(inserted metadata) and the untouched rest, copied by the kernel where possible; a second copy of
a file as a hard link, a symlink or a copy."""
from __future__ import annotations

import errno
import itertools
import os
import shutil
import stat
import sys
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


PARTIAL_DIR = ".trove-partial"   # named temporary files (where a file cannot be written anonymously)
HELD_FOLDERS = 256               # output folders kept open (as descriptors) per Writer
# errors of open(O_TMPFILE) that mean "not on this file system or kernel" (EISDIR: a kernel from
# before O_TMPFILE took the flags as a plain directory open)
_NO_TMPFILE = (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOSYS, errno.ENOENT, errno.EPERM,
               getattr(errno, "ENOTSUP", errno.EOPNOTSUPP))
# errors of link() that mean "this file system has no hard links here" (FAT, some network shares)
_NO_LINKS = (errno.EPERM, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS, errno.EXDEV)


def anonymous_files_possible() -> bool:
    """Whether this system can write a file with no name and give it one when it is complete
    (Linux: open(O_TMPFILE), then linkat through /proc/self/fd): no partial file ever has a name,
    and one cut short by a kill is gone by itself."""
    return hasattr(os, "O_TMPFILE") and sys.platform.startswith("linux") and os.path.isdir("/proc/self/fd")


class _Spot:
    """Where one output goes: its folder (held open: names are made relative to it, so the folder
    checked to be inside the output folder is the one written into), and the file name."""
    __slots__ = ("dirfd", "folder", "name", "held")

    def __init__(self, dirfd: int, folder: str, name: str, held: bool):
        self.dirfd, self.folder, self.name, self.held = dirfd, folder, name, held

    @property
    def path(self) -> str:
        return os.path.join(self.folder, self.name)

    def close(self) -> None:
        if not self.held:
            os.close(self.dirfd)


class _Temp:
    """A complete output that has no real name yet: an anonymous file (open, `path` None) in its
    destination folder, or a named one in the partial-file folder."""
    __slots__ = ("fd", "path")

    def __init__(self, fd: int | None, path: str | None):
        self.fd, self.path = fd, path

    def stat(self) -> os.stat_result:
        return os.fstat(self.fd) if self.fd is not None else os.stat(self.path)

    def read_fd(self) -> tuple[int, bool]:
        """(a descriptor to read it from, whether the caller closes it)."""
        if self.fd is not None:
            return self.fd, False
        return os.open(self.path, os.O_RDONLY), True

    def discard(self) -> None:
        if self.path is not None and os.path.lexists(self.path):
            os.unlink(self.path)
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class Writer:
    """Writes outputs without ever replacing a file trove did not write. Each file is written
    without a name (Linux: O_TMPFILE in its folder) or under a temporary name in
    `<out>/.trove-partial/`, and then linked into place, so a kill at any moment leaves either
    nothing or the complete file under its real name; leftovers of a killed run are removed when
    the next one starts. Every folder is checked to stay inside the output folder when it is first
    used, and then held open: names are linked relative to it.

    A file can have companions (a sidecar `<name>.xmp`): they are placed with it, and a name is only
    taken when every one of them is free (or already holds the same bytes).
    `anonymous`: write files without a name first where possible (None: where the system can)."""

    def __init__(self, out: str, *, fresh: bool = True, anonymous: bool | None = None):
        self.out = os.path.realpath(out)
        self.folders: dict[str, tuple[int, str]] = {}   # folder as named -> (descriptor, real path)
        self.lock = threading.Lock()
        self.partial = os.path.join(self.out, PARTIAL_DIR)
        self.mode = _file_mode()
        self.anonymous = anonymous_files_possible() if anonymous is None else anonymous
        self.counter = itertools.count()
        if fresh:   # (a worker process sharing the run's folder passes fresh=False)
            shutil.rmtree(self.partial, ignore_errors=True)
        os.makedirs(self.partial, exist_ok=True)
        self.partial_fd = os.open(self.partial, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
                                  | getattr(os, "O_CLOEXEC", 0))

    def close(self) -> None:
        with self.lock:
            for fd, _real in self.folders.values():
                os.close(fd)
            self.folders.clear()
            if self.partial_fd is not None:
                os.close(self.partial_fd)
                self.partial_fd = None
        shutil.rmtree(self.partial, ignore_errors=True)

    def write(self, rel: str, head: bytes, body: Body, mtime: float | None, *, replace: bool = False,
              companions: dict[str, bytes] | None = None) -> str:
        """Write `head` + `body` as `rel` (and each companion as `rel + suffix`); with `replace`,
        over the file an earlier run of trove wrote there (the manifest says so), atomically:
        readers see the old file or the new one."""
        tmps: list[tuple[str, _Temp]] = []
        spot = self._spot(rel)
        try:
            tmps.append(("", self._temp(spot, head, body, mtime)))
            for suffix, data in (companions or {}).items():
                tmps.append((suffix, self._temp(spot, data, Body(), mtime)))
            if replace:
                for suffix, tmp in tmps:
                    os.replace(self._named(tmp), spot.name + suffix, dst_dir_fd=spot.dirfd)
                return rel
            return self._place(tmps, rel, spot)
        finally:
            for _suffix, tmp in tmps:
                tmp.discard()
            spot.close()

    def link(self, src: str, rel: str, how: str, suffixes: tuple[str, ...] = ()) -> tuple[str, str]:
        """Another copy of the output `src` (relative, with its companions `src + suffix`) as `rel`:
        how = 'hard' (a hard link; a copy where the file system has none), 'symlink' (relative) or
        'copy'. Returns (the name it got, how it was made)."""
        source = self._spot(src)
        try:
            src_path = source.path
        finally:
            source.close()
        if how == "symlink":
            return self._symlink(src_path, rel, suffixes), "symlink"
        tmps: list[tuple[str, _Temp]] = []
        spot = self._spot(rel)
        try:
            if how == "hard":
                try:
                    for suffix in ("", *suffixes):
                        tmp = os.path.join(self.partial, self._unique(".link"))
                        os.link(src_path + suffix, tmp)
                        tmps.append((suffix, _Temp(None, tmp)))
                except OSError as e:
                    if e.errno not in _UNSUPPORTED:
                        raise
                    how = "copy"
                    for _suffix, tmp in tmps:
                        tmp.discard()
                    tmps = []
            if how == "copy":
                for suffix in ("", *suffixes):
                    tmps.append((suffix, self._temp_copy(spot, src_path + suffix)))
            return self._place(tmps, rel, spot), how
        finally:
            for _suffix, tmp in tmps:
                tmp.discard()
            spot.close()

    # -- the steps ----------------------------------------------------------------------------------
    def _unique(self, suffix: str) -> str:
        return f"{os.getpid()}-{threading.get_ident()}-{next(self.counter)}{suffix}"

    def _temp(self, spot: _Spot | None, head: bytes, body: Body, mtime: float | None) -> _Temp:
        """`head` + `body` written as a file with no name yet (in `spot`'s folder; None: a named one
        in the partial-file folder), its mtime set."""
        tmp = None
        if self.anonymous and spot is not None:
            try:   # (the umask applies, as to any new file)
                tmp = _Temp(os.open(".", os.O_TMPFILE | os.O_RDWR | os.O_CLOEXEC, 0o666, dir_fd=spot.dirfd), None)
            except OSError as e:
                if e.errno not in _NO_TMPFILE:
                    raise
                self.anonymous = False   # this file system cannot: name temporary files from now on
        if tmp is None:
            fd, path = tempfile.mkstemp(dir=self.partial, suffix=".part")
            tmp = _Temp(fd, path)
        try:
            if tmp.path is not None and hasattr(os, "fchmod"):   # (mkstemp makes it private)
                os.fchmod(tmp.fd, self.mode)
            _write_all(tmp.fd, head)
            body.write_to(tmp.fd)
            if mtime is not None:
                os.utime(tmp.fd, (mtime, mtime))
        except BaseException:
            tmp.discard()
            raise
        return tmp

    def _temp_copy(self, spot: _Spot, path: str) -> _Temp:
        from ..ingest.files import open_fd

        fd = open_fd(path)
        try:
            st = os.fstat(fd)
            tmp = self._temp(spot, b"", Body(fd=fd, length=st.st_size), None)
            try:
                os.utime(tmp.fd, ns=(st.st_mtime_ns, st.st_mtime_ns))
            except BaseException:
                tmp.discard()
                raise
            return tmp
        finally:
            os.close(fd)

    def _named(self, tmp: _Temp) -> str:
        """The temporary file's name in the partial-file folder, giving an anonymous file one (a
        copy of it where it cannot be linked)."""
        if tmp.path is not None:
            return tmp.path
        path = os.path.join(self.partial, self._unique(".part"))
        try:
            os.link(f"/proc/self/fd/{tmp.fd}", os.path.basename(path), dst_dir_fd=self.partial_fd,
                    follow_symlinks=True)
            tmp.path = path
            return path
        except OSError as e:
            if e.errno not in (*_NO_LINKS, errno.ENOENT):
                raise
        copy = self._copy_out(tmp)
        os.close(tmp.fd)
        tmp.fd, tmp.path = copy.fd, copy.path
        return tmp.path

    def _copy_out(self, tmp: _Temp) -> _Temp:
        """A named copy of an anonymous temporary file, with its mtime."""
        st = os.fstat(tmp.fd)
        copy = self._temp(None, b"", Body(fd=tmp.fd, length=st.st_size), None)
        try:
            os.utime(copy.fd, ns=(st.st_mtime_ns, st.st_mtime_ns))
        except BaseException:
            copy.discard()
            raise
        return copy

    def _spot(self, rel: str) -> _Spot:
        """Where `rel` goes, its folders made; OSError if it would land outside the output folder
        (`..`, an absolute name, a symlinked folder pointing elsewhere)."""
        path = os.path.join(self.out, *rel.split("/"))
        folder, name = os.path.split(path)
        if rel.startswith(PARTIAL_DIR + "/"):
            raise OSError(errno.EPERM, f"refusing to write {rel!r}: it would land outside {self.out}")
        held = self.folders.get(folder)
        if held is not None:
            return _Spot(held[0], held[1], name, True)
        os.makedirs(folder, exist_ok=True)
        real = os.path.realpath(folder)
        if os.path.commonpath([real, self.out]) != self.out:
            raise OSError(errno.EPERM, f"refusing to write {rel!r}: it would land outside {self.out}")
        # the folder checked is the folder held: a symlink put in its place since is not followed
        fd = os.open(real, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0)
                     | getattr(os, "O_CLOEXEC", 0))
        with self.lock:
            if folder not in self.folders and len(self.folders) < HELD_FOLDERS:
                self.folders[folder] = (fd, real)
                return _Spot(fd, real, name, True)
        return _Spot(fd, real, name, False)

    def _place(self, tmps: list[tuple[str, _Temp]], rel: str, spot: _Spot) -> str:
        """Give the written file (and its companions) their real names without replacing anything
        trove did not write: a name held by someone else's file moves the output to `name-2`."""
        (_, main), companions = tmps[0], tmps[1:]
        while True:
            spot.name = rel.rpartition("/")[2]
            if any(self._verdict(spot, spot.name + suffix, tmp) == "other" for suffix, tmp in companions
                   if _exists(spot, spot.name + suffix)):
                rel = next_name(rel)
                continue
            placed = self._put(main, spot, spot.name)
            if placed == "other":
                rel = next_name(rel)
                continue
            if all(self._put(tmp, spot, spot.name + suffix) != "other" for suffix, tmp in companions):
                return rel
            if placed == "new":   # a companion's name was taken meanwhile: take our file back
                self._take_back(main, spot, spot.name)
            rel = next_name(rel)

    def _put(self, tmp: _Temp, spot: _Spot, name: str) -> str:
        """'new' (placed), 'same' (the same bytes were already there: an earlier run's file) or
        'other' (someone else's file holds the name)."""
        try:
            self._link_new(tmp, spot, name)
            return "new"
        except FileExistsError:
            pass
        with self.lock:
            verdict = self._verdict(spot, name, tmp)
            if verdict == "ours-cut-short":   # left by a trove before atomic writes: ours to finish
                os.replace(self._named(tmp), name, dst_dir_fd=spot.dirfd)
                return "new"
        return verdict

    def _link_new(self, tmp: _Temp, spot: _Spot, name: str) -> None:
        """Make `tmp` appear as `name` unless that exists (FileExistsError): a hard link is atomic
        and never replaces; where links are not supported (FAT, some network shares) an exclusive
        create reserves the name first."""
        if tmp.path is None:
            try:
                os.link(f"/proc/self/fd/{tmp.fd}", name, dst_dir_fd=spot.dirfd, follow_symlinks=True)
                return
            except FileExistsError:
                raise
            except OSError as e:   # (/proc not mounted, or no hard links here)
                if e.errno not in (*_NO_LINKS, errno.ENOENT):
                    raise
            self._named(tmp)
        try:
            os.link(tmp.path, name, dst_dir_fd=spot.dirfd)
            return
        except FileExistsError:
            raise
        except OSError as e:
            if e.errno not in _NO_LINKS:
                raise
        os.close(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644, dir_fd=spot.dirfd))
        os.replace(tmp.path, name, dst_dir_fd=spot.dirfd)

    def _take_back(self, tmp: _Temp, spot: _Spot, name: str) -> None:
        """Undo placing `tmp` as `name` (just placed, by this writer): the file is ours again, unnamed."""
        if tmp.path is not None and os.path.lexists(tmp.path):
            os.unlink(name, dir_fd=spot.dirfd)   # (rename() of two links to one file would do nothing)
            return
        path = tmp.path or os.path.join(self.partial, self._unique(".part"))
        os.replace(name, path, src_dir_fd=spot.dirfd)
        tmp.path = path

    @staticmethod
    def _verdict(spot: _Spot, name: str, tmp: _Temp) -> str:
        """`name` exists but is not in the manifest: the same bytes as `tmp`, our own output cut
        short by an older trove, or someone else's file."""
        try:
            st, mine = os.stat(name, dir_fd=spot.dirfd, follow_symlinks=False), tmp.stat()
            if not stat.S_ISREG(st.st_mode):
                return "other"
            if os.path.samestat(st, mine):
                return "same"
            if st.st_size > mine.st_size:
                return "other"
            old = os.open(name, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0), dir_fd=spot.dirfd)
            new, close_new = tmp.read_fd()
            try:
                at = 0
                while True:
                    a = os.pread(old, CHUNK, at)
                    b = os.pread(new, len(a), at) if a else b""
                    if a != b:
                        return "other"
                    if not a:
                        break
                    at += len(a)
            finally:
                os.close(old)
                if close_new:
                    os.close(new)
        except OSError:
            return "other"
        return "same" if st.st_size == mine.st_size else "ours-cut-short"  # (an empty file holds nothing to lose)

    def _symlink(self, src_path: str, rel: str, suffixes: tuple[str, ...]) -> str:
        while True:
            spot = self._spot(rel)
            try:
                made: list[str] = []
                for suffix in ("", *suffixes):
                    target = os.path.relpath(src_path + suffix, spot.folder)
                    name = spot.name + suffix
                    try:
                        os.symlink(target, name, dir_fd=spot.dirfd)
                        made.append(name)
                    except FileExistsError:
                        try:
                            if os.readlink(name, dir_fd=spot.dirfd) == target:
                                continue
                        except OSError:
                            pass
                        for p in made:
                            os.unlink(p, dir_fd=spot.dirfd)
                        break
                else:
                    return rel
            finally:
                spot.close()
            rel = next_name(rel)


def _exists(spot: _Spot, name: str) -> bool:
    try:
        os.stat(name, dir_fd=spot.dirfd, follow_symlinks=False)
        return True
    except FileNotFoundError:
        return False


def _file_mode() -> int:
    """rw for everyone the umask lets read and write: what `cp` or a camera's import would give."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask
