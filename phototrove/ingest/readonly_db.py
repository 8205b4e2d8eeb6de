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


def open_snapshot(path: str, notes: list[str]) -> tuple[sqlite3.Connection, str | None]:
    """Read-only, immutable connection; a private copy when a -wal file holds unsaved changes."""
    check_regular(path)
    wal = path + "-wal"
    try:
        check_regular(wal)
        wal_size = os.path.getsize(wal)
    except OSError:
        wal_size = 0
    if wal_size:
        tmp = tempfile.mkdtemp(prefix="trove-lrcat-")
        copy = os.path.join(tmp, "catalog.lrcat")
        shutil.copyfile(path, copy)
        shutil.copyfile(wal, copy + "-wal")
        notes.append("the catalog has a -wal file (Lightroom open, or it crashed): read a private "
                     "copy that includes those changes; the catalog itself was not touched")
        db = sqlite3.connect(copy)
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return db, tmp
    return open_readonly(path), None
