"""Opening files that a source found, never blocking: a FIFO, socket or device named like a photo,
an archive or a catalog is refused with an OSError instead of waiting forever for a writer."""
from __future__ import annotations

import errno
import os
import stat
from typing import BinaryIO


class NotAFile(OSError):
    """Something that is not a regular file where a file was expected."""

    kind = "not-a-file"

    def __init__(self, path: str, mode: int):
        what = ("a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode)
                else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a folder" if stat.S_ISDIR(mode)
                else "not a regular file")
        super().__init__(errno.EINVAL, f"not a regular file ({what})", path)


def open_fd(path: str) -> int:
    """A read-only descriptor of a regular file (opened without blocking, then checked)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotAFile(path, mode)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return fd
    except BaseException:
        os.close(fd)
        raise


def open_regular(path: str) -> BinaryIO:
    """`open(path, "rb")` for regular files only."""
    return os.fdopen(open_fd(path), "rb")


def check_regular(path: str) -> None:
    """OSError unless `path` is a regular file (for libraries that open paths themselves, like SQLite)."""
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        raise NotAFile(path, mode)
