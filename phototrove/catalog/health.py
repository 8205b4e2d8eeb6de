"""What went wrong when SQLite fails on catalog.db: a full disk, a damaged file, a read-only folder;
each said in one line with what to do."""
from __future__ import annotations

import sqlite3
from pathlib import Path

from ..errors import DiskFull, LibraryUnusable


class CatalogError(LibraryUnusable):
    """A catalog that cannot be used (newer than this trove, corrupt, disk full)."""


class CatalogDamaged(CatalogError):
    pass


def explain(e: sqlite3.Error, path: Path) -> CatalogError | DiskFull:
    text = str(e)
    if "full" in text or ("disk I/O" in text and _nearly_full(path)):
        return DiskFull(text)
    if "malformed" in text or "not a database" in text or "disk I/O" in text or "corrupt" in text:
        return damaged(path, text)
    if "readonly" in text or "read-only" in text:
        return CatalogError(f"{path}: the library is read-only ({text}); run writing commands on a writable copy")
    return CatalogError(f"{path}: {text}")


def damaged(path: Path, detail: str) -> CatalogDamaged:
    """The one line for a damaged catalog: what SQLite's own check says, and what to do."""
    check = integrity(path)
    backups = sorted(p.name for p in path.parent.glob(f"{path.name}.v*.bak"))
    advice = (f"the backup {backups[-1]} beside it is the catalog before its last migration; "
              if backups else "")
    return CatalogDamaged(
        f"the catalog is damaged ({detail}; integrity check: {check}): {advice}"
        f"recover what SQLite can with `sqlite3 {path} .recover | sqlite3 {path}.recovered` and move that "
        f"into place, or move {path.name} aside and ingest your sources again (they were never modified)")


def integrity(path: Path, db: sqlite3.Connection | None = None) -> str:
    """The first lines of PRAGMA quick_check (on `db`, or on a read-only connection of its own)."""
    from .connect import open_readonly

    try:
        own = db is None
        db = db or open_readonly(path)
        try:
            rows = [r[0] for r in db.execute("PRAGMA quick_check(3)")]
        finally:
            if own:
                db.close()
    except sqlite3.Error as e:
        return str(e)
    return "; ".join(rows)[:300]


def _nearly_full(path: Path) -> bool:
    import shutil

    try:
        return shutil.disk_usage(path.parent).free < (1 << 20)
    except OSError:
        return False
