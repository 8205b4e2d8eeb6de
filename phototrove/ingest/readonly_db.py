"""Opening another program's SQLite database (a Lightroom catalog, an Apple Photos library) so that
nothing of it can ever be written or locked, even while that program has it open."""
from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile

from .files import check_regular


def open_readonly(path: str) -> sqlite3.Connection:
    """SQLite opened without any chance of writing (immutable: no locks, no journal, no WAL)."""
    from urllib.parse import quote

    check_regular(path)  # SQLite would block forever opening a FIFO
    db = sqlite3.connect(f"file:{quote(os.path.abspath(path))}?mode=ro&immutable=1", uri=True)
    db.execute("SELECT count(*) FROM sqlite_master").fetchone()  # fails now if not a database
    return db


# a rollback journal whose header starts with this is "hot" (a write was interrupted); Lightroom 6
# and older leave one after a crash. A committed journal is deleted, truncated or has its header zeroed.
JOURNAL_MAGIC = bytes.fromhex("d9d505f920a163d7")
WAL_NOTE = ("the catalog has a -wal file (Lightroom open, or it crashed): read a private copy that includes "
            "those changes; the catalog itself was not touched")
JOURNAL_NOTE = ("the catalog has a hot -journal (Lightroom crashed mid-write): read a private copy rolled back "
                "to the last complete save; the catalog itself was not touched")


def _size(path: str) -> int:
    try:
        check_regular(path)
        return os.path.getsize(path)
    except OSError:
        return 0


def hot_journal(path: str) -> bool:
    """Whether `<path>-journal` holds an interrupted write (immutable mode would ignore it and read
    the half-written pages)."""
    journal = path + "-journal"
    if not _size(journal):
        return False
    try:
        with open(journal, "rb") as f:
            return f.read(len(JOURNAL_MAGIC)) == JOURNAL_MAGIC
    except OSError:
        return False


def pending_changes(path: str) -> str | None:
    """'-wal' or '-journal' when that file beside the database holds changes immutable mode would
    ignore (a WAL not yet checkpointed, an interrupted write to roll back); else None."""
    if _size(path + "-wal"):
        return "-wal"
    return "-journal" if hot_journal(path) else None


def open_snapshot(path: str, notes: list[str], scratch: str | None = None
                  ) -> tuple[sqlite3.Connection, str | None]:
    """Read-only, immutable connection; a private copy when a -wal file holds unsaved changes or a
    hot -journal holds an interrupted write. The copy goes into a new folder inside `scratch` (a
    folder of trove's library; the system temp folder when None); the caller deletes the returned
    folder once done. OSError (with a message saying what failed) when the copy cannot be made."""
    check_regular(path)
    for _attempt in range(3):
        companion = pending_changes(path)
        if companion is None:
            return open_readonly(path), None
        try:
            db, tmp = _private_copy(path, companion, scratch)
        except FileNotFoundError as e:
            if e.filename == path + companion:
                continue  # the writer finished (or checkpointed) meanwhile: look again
            raise
        notes.append(WAL_NOTE if companion == "-wal" else JOURNAL_NOTE)
        return db, tmp
    return open_readonly(path), None  # a writer busy committing over and over: its file as it is


STALE_COPY_SECONDS = 24 * 3600


def _drop_stale_copies(scratch: str) -> None:
    """Remove private copies a killed trove left behind (a day old: one still being read by another
    trove, e.g. a `recover` beside an `ingest`, is never that old)."""
    import time

    try:
        entries = [e for e in os.scandir(scratch) if e.name.startswith("trove-lrcat-") and e.is_dir()]
    except OSError:
        return
    for e in entries:
        try:
            if time.time() - e.stat().st_mtime > STALE_COPY_SECONDS:
                shutil.rmtree(e.path, ignore_errors=True)
        except OSError:
            pass


def _private_copy(path: str, companion: str, scratch: str | None) -> tuple[sqlite3.Connection, str]:
    """Copy the catalog and its -wal/-journal under the same base name (SQLite finds the companion by
    name) and open the copy read-write, so SQLite replays the WAL or rolls the journal back in it."""
    where = scratch or tempfile.gettempdir()
    try:
        if scratch:
            os.makedirs(scratch, exist_ok=True)
            _drop_stale_copies(scratch)
        tmp = tempfile.mkdtemp(prefix="trove-lrcat-", dir=where)   # mode 0700: private
    except OSError as e:
        raise OSError(e.errno, f"cannot make a private copy of the catalog in {where}: {e.strerror or e}") from None
    db = None
    try:
        copy = os.path.join(tmp, os.path.basename(path))
        # the catalog before its companion: a writer puts a page's old content into the journal
        # before overwriting it, so a journal copied later covers every page changed in this copy
        shutil.copyfile(path, copy)
        shutil.copyfile(path + companion, copy + companion)
        db = sqlite3.connect(copy)
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()   # the replay / rollback happens here
        return db, tmp
    except BaseException as e:
        if db is not None:
            db.close()
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(e, OSError) and not isinstance(e, FileNotFoundError):
            raise OSError(e.errno, f"cannot make a private copy of the catalog in {where}: {e.strerror or e}") from None
        raise
