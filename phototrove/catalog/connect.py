"""Opening catalog.db read-only, also where trove cannot write (a read-only mount, a copy on a DVD)."""
from __future__ import annotations

import os
import sqlite3
from pathlib import Path


def open_readonly(path: Path) -> sqlite3.Connection:
    """Read-only. In a folder trove cannot write to (a read-only mount, a copy on a DVD), SQLite
    cannot make the WAL index it needs beside the file: open it immutable, or, when a -wal holds
    changes not yet in the main file, a private copy of both."""
    from urllib.parse import quote

    uri = f"file:{quote(str(path))}"
    if os.access(path.parent, os.W_OK):
        return sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=30)
    if has_wal(path):
        import shutil
        import tempfile

        tmp = Path(tempfile.mkdtemp(prefix="trove-readonly-"))
        try:
            shutil.copyfile(path, tmp / path.name)
            shutil.copyfile(path.with_name(path.name + "-wal"), tmp / (path.name + "-wal"))
            db = sqlite3.connect(f"file:{quote(str(tmp / path.name))}?mode=ro", uri=True, timeout=30)
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()   # the WAL and its index are open now
        finally:
            # nothing is left behind: the open files stay readable once unlinked (where the system
            # refuses to remove open files, the folder stays and the temp cleaner takes it)
            shutil.rmtree(tmp, ignore_errors=True)
        return db
    return sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, timeout=30)


def has_wal(path: Path) -> bool:
    wal = path.with_name(path.name + "-wal")
    return wal.exists() and wal.stat().st_size > 0
