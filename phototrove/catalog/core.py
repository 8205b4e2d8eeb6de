"""The catalog: SQLite (WAL), the source of truth for everything trove knows.

A photo's identity is its content hash; every place it was seen is a location. Values each origin
reported (EXIF, a Takeout sidecar, a Lightroom catalog row) are kept in `photo_meta`, and the photo's
own columns hold the resolved value (source metadata wins over EXIF: it carries the user's edits).

`Catalog` is assembled from one class per topic (sources and locations, photos, errors,
embeddings and the index's bookkeeping, reading for people, source reports, exports); this package
is the only code that speaks SQL to catalog.db.
"""
from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .browse import BrowseQueries
from .connect import has_wal, open_readonly
from .embeddings import EmbeddingQueries
from .exports import ExportQueries
from .faults import ErrorQueries
from .health import CatalogDamaged, CatalogError, damaged, explain, integrity
from .photos import PhotoQueries
from .reports import ReportQueries
from .schema import SchemaError, migrate
from .sources import SourceQueries
from .stacks import StackQueries
from .tags import TagQueries
from .text import TextQueries


class Catalog(SourceQueries, PhotoQueries, ErrorQueries, EmbeddingQueries, BrowseQueries, ReportQueries,
              StackQueries, ExportQueries, TagQueries, TextQueries):
    def __init__(self, path: str | Path, *, readonly: bool = False):
        self.path = Path(path)
        if readonly and not self.path.exists():
            raise CatalogError(f"{self.path}: no catalog here yet (run `trove ingest ...` first)")
        if self.path.exists() and self.path.stat().st_size == 0 and not has_wal(self.path):
            raise CatalogDamaged(f"{self.path} is empty (0 bytes), not a new library: it was cut short or "
                                 "overwritten; move it aside (or restore a backup) and run again")
        if not readonly:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            if readonly:
                self.db = open_readonly(self.path)
            else:
                self.db = sqlite3.connect(self.path, timeout=30)
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA foreign_keys=ON")
            if not readonly:
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=NORMAL")
            migrate(self.db, self.path, readonly=readonly)
        except SchemaError as e:
            raise CatalogError(str(e)) from None
        except sqlite3.Error as e:
            raise explain(e, self.path) from None

    @property
    def version(self) -> int:
        return self.db.execute("PRAGMA user_version").fetchone()[0]

    def check(self) -> None:
        """Raise CatalogDamaged unless SQLite's quick check passes (reads every page once)."""
        result = integrity(self.path, self.db)
        if result != "ok":
            raise damaged(self.path, "pages that do not read back")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One committed unit of work: everything inside commits together or not at all."""
        with self.db:
            yield

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "Catalog":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
