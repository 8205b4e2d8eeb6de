"""The errors trove reports as one line, and the exit code each one ends a command with.

Every module raises a subclass of `TroveError` for a problem the user should read about; the CLI
prints `trove: <message>` and exits with `exit_code` (the README's table). Anything else is a bug.
"""
from __future__ import annotations

EXIT_OK, EXIT_FILE_ERRORS, EXIT_USAGE, EXIT_LIBRARY, EXIT_INTERRUPTED, EXIT_BROKEN_PIPE = 0, 1, 2, 3, 130, 141


class TroveError(Exception):
    """A problem worth one line to the user; ends the command with `exit_code`."""

    exit_code = EXIT_LIBRARY


class UsageError(TroveError):
    """The request cannot be done as asked: a bad option, an unknown model or photo, a filter
    that matches nothing."""

    exit_code = EXIT_USAGE


class LibraryUnusable(TroveError):
    """The library cannot be used now: busy, newer schema, disk full, damaged, unreachable index."""

    exit_code = EXIT_LIBRARY


class DiskFull(LibraryUnusable):
    """The disk holding the library (or an output folder) is full."""

    def __init__(self, detail: str, where: str = "the library's disk"):
        super().__init__(f"{where} is full ({detail}); free space and run again: everything committed so far is kept")


def is_disk_full(e: BaseException) -> bool:
    import errno

    return isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT)
