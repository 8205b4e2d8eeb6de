"""The library: the one directory trove owns (catalog, index, thumbnails, caches).

trove never writes anywhere else. Writers hold an exclusive lock on `<library>/lock` so two trove
processes cannot interleave their batches; readers (status, list, search) need no lock because the
catalog runs in WAL mode.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .catalog import Catalog
from .errors import LibraryUnusable

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
        self.ensure()
        path = self.root / "lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
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
