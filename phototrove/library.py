"""The library: the one directory trove owns (catalog, index, thumbnails, caches).

trove never writes anywhere else. Writers hold an exclusive lock on `<library>/lock` so two trove
processes cannot interleave their batches; readers (status, list, search) need no lock because the
catalog runs in WAL mode.
"""
from __future__ import annotations

import errno
import os
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

from .catalog import Catalog
from .errors import DiskFull, LibraryUnusable, is_disk_full

LIBRARY_ENV = "TROVE_LIBRARY"


class LibraryBusy(LibraryUnusable):
    """Another trove process holds the library's write lock."""


def default_library() -> Path:
    env = os.environ.get(LIBRARY_ENV)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("phototrove", appauthor=False))


class Library:
    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root).expanduser() if root else default_library()
        self._lock_fd: int | None = None

    @property
    def catalog_path(self) -> Path:
        return self.root / "catalog.db"

    @property
    def chroma_dir(self) -> Path:
        return self.root / "chroma"

    @property
    def thumbs_dir(self) -> Path:
        return self.root / "thumbs"

    @property
    def scratch_dir(self) -> Path:
        """`tmp`: private copies trove makes while reading a source (e.g. a Lightroom catalog with a
        hot journal), deleted after use. Not created here: whoever writes into it creates it, so
        commands that need none leave no empty folder."""
        return self.root / "tmp"

    @property
    def models_dir(self) -> Path:
        """`models`: what trove derives from a model on this machine, per model
        (`models/<model id>/`): the int8 image tower of `--precision int8`, onnxruntime's optimized
        text tower graph. A cache (embed/cache.py): deleting it loses nothing but the time to make it
        again. Not created here: the embedder creates it when it writes there."""
        return self.root / "models"

    @property
    def open_dir(self) -> Path:
        """`open`: photos that live inside an archive or a cache (a Takeout zip member, a Lightroom
        preview) written out as plain files a viewer can open, `open/<hash[:16]>/<original name>`
        (`trove open`, `--materialize`). A cache: deleting it at any time loses nothing."""
        return self.root / "open"

    def opened(self, digest: str, size: int | None = None) -> Path | None:
        """The file written into open_dir for the photo with this content hash (and size), if one is
        there. Only complete files carry a real name: they are written under a hidden temporary
        name and renamed."""
        folder = self.open_dir / digest[:16]
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            return None
        for e in entries:
            if e.name.startswith("."):   # one being written (or left by a killed run)
                continue
            try:
                st = e.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode) and (size is None or st.st_size == size):
                return Path(e.path)
        return None

    def exists(self) -> bool:
        return self.catalog_path.exists()

    def ensure(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)

    def size_bytes(self) -> int:
        total = 0
        for dirpath, _dirs, files in os.walk(self.root):
            for name in files:
                try:
                    total += os.lstat(os.path.join(dirpath, name)).st_size
                except OSError:
                    pass
        return total

    # -- write lock -------------------------------------------------------------------------------
    def lock(self) -> None:
        """Take the exclusive write lock or raise LibraryBusy naming the holder."""
        try:
            self.ensure()
            fd = os.open(self.root / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            if e.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
                raise LibraryUnusable(f"library {self.root} is read-only ({e.strerror}): commands that "
                                      "write (ingest, index) need a writable library; search, list and "
                                      "status work as they are") from None
            raise
        try:
            import fcntl
        except ImportError:  # Windows: no advisory locks; SQLite's own locking still applies
            self._lock_fd = fd
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode("ascii", "replace").strip() or "?"
            os.close(fd)
            raise LibraryBusy(
                f"another trove process (pid {holder}) is writing to the library {self.root}; "
                "wait for it to finish and run again"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._lock_fd = fd

    def writer(self) -> str | None:
        """The pid of the trove process holding the write lock now, if another one does."""
        try:
            import fcntl

            fd = os.open(self.root / "lock", os.O_RDONLY)
        except (ImportError, OSError):
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return os.read(fd, 64).decode("ascii", "replace").strip() or "?"
        finally:
            os.close(fd)  # (a shared lock taken here is released with the descriptor)
        return None

    def unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the flock
            self._lock_fd = None

    def __enter__(self) -> "Library":
        self.lock()
        return self

    def __exit__(self, *exc) -> None:
        self.unlock()

    # -- the catalog ------------------------------------------------------------------------------
    @contextmanager
    def writing(self) -> Iterator[Catalog]:
        """The catalog under the write lock: a second writer gets LibraryBusy, naming the holder."""
        with self:
            with Catalog(self.catalog_path) as catalog:
                yield catalog

    def reading(self, what: str = "nothing indexed yet (run `trove ingest folder PATH --model NAME` first)"
                ) -> Catalog:
        """The catalog opened read-only (no lock: WAL lets readers run beside a writer)."""
        if not self.exists():
            raise LibraryUnusable(f"library {self.root}: {what}")
        return Catalog(self.catalog_path, readonly=True)


def write_atomic(path: str | os.PathLike, write: Callable[[BinaryIO], None]) -> Path:
    """Write a file of the library (a thumbnail, a report page, index.json) so that a reader never
    sees half of it: into a temporary file with a unique name beside it, then renamed into place.
    Whatever goes wrong, the temporary file is removed; a full disk is said as DiskFull."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        if is_disk_full(e):
            raise DiskFull(e.strerror or str(e), f"the disk holding {path.parent}") from None
        raise
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if is_disk_full(e):
            raise DiskFull(e.strerror or str(e), f"the disk holding {path.parent}") from None
        raise
    return path
