"""The `applephotos` source for `trove ingest photos`: an Apple Photos library (Photos 5 and
later, macOS 10.15 to 26) read in place. One location per file that stands for an asset: its
original (or, when that is in iCloud only, its largest local derivative), its current edit, the
other half of a RAW+JPEG pair, its live video (plan.py); metadata from Photos.sqlite (library.py)."""
from __future__ import annotations

import os
import sys
from typing import BinaryIO, Iterator

from ...catalog import Location
from ...errors import UsageError
from ..base import FindError, Found, Note, Source
from ..files import open_regular
from .plan import DATABASE, load_plan
from .report import describe_report, photos_report

DEFAULT_LIBRARY = os.path.join("~", "Pictures", "Photos Library.photoslibrary")


def photos_source(path: str | None, *, scratch: str | None = None) -> "PhotosSource":
    """The source for PATH of `trove ingest photos` (default: the system library on macOS); what
    is no Photos 5+ library is a usage error that says what it is."""
    if path is None:
        if sys.platform != "darwin":
            raise UsageError("give the library's path: trove ingest photos '/path/to/Photos Library.photoslibrary'")
        path = os.path.expanduser(DEFAULT_LIBRARY)
        if not os.path.isdir(path):
            raise UsageError(f"no Photos library at {path}: give its path (trove ingest photos PATH)")
    root = os.path.abspath(path)
    if not os.path.isdir(root):
        raise UsageError(f"{root}: not a folder; an Apple Photos library is a folder ending in .photoslibrary")
    if _photos4(root):
        raise UsageError(f"{root} is a library of Photos 4 or older (macOS 10.14 and before, Library.apdb): trove "
                         "reads Photos 5 and later; open it once in Photos on macOS 10.15 or later to upgrade it")
    if not any(os.path.exists(os.path.join(root, p)) for p in (DATABASE, "originals", "Masters", "database")):
        raise UsageError(f"{root}: not an Apple Photos library (no database/Photos.sqlite, no originals/); "
                         "for a folder of photos use `trove ingest folder`")
    return PhotosSource(root, scratch=scratch)


def _photos4(root: str) -> bool:
    """A Photos <= 4 (or iPhoto-era) library without Photos.sqlite: `.photolibrary`, `Library.apdb`,
    or a photos.db holding Aperture's RKVersion table (Photos 5 keeps a photos.db without it)."""
    db = os.path.join(root, "database")
    if os.path.exists(os.path.join(root, DATABASE)):
        return False
    if root.rstrip("/").lower().endswith(".photolibrary") or os.path.exists(os.path.join(db, "Library.apdb")):
        return True
    if not os.path.isfile(os.path.join(db, "photos.db")):
        return False
    import sqlite3

    from ..readonly_db import open_readonly

    try:
        conn = open_readonly(os.path.join(db, "photos.db"))
        try:
            return conn.execute("SELECT 1 FROM sqlite_master WHERE name='RKVersion'").fetchone() is not None
        finally:
            conn.close()
    except (sqlite3.Error, OSError):
        return False


class PhotosSource(Source):
    kind = "applephotos"
    origin = "applephotos"

    def __init__(self, root: str, info: dict | None = None, *, scratch: str | None = None):
        super().__init__(root, info)
        self.scratch = scratch   # the library's folder for a private copy of a database with a -wal
        self._pairs: list = []
        self._report: dict = {}

    def discover(self) -> Iterator[Found | FindError | Note]:
        if not os.path.isdir(self.root):
            yield FindError(self.root, "fatal", "no such folder (is the disk holding the library plugged in?)")
            return
        plan = load_plan(self.root, scratch=self.scratch)
        # without the whole database, what was not found this time is not known to be gone
        self.partial = plan.library is None or not plan.library.complete
        for note in plan.notes:   # what was skipped or worked around: said, not counted as errors
            yield Note(self.root, note)
        for path, message in plan.warnings:
            yield Note(path, message)
        for path, kind, message in plan.errors:
            yield FindError(path, kind, message)
        for item in plan.items:
            yield Found(item.path, "", item.size, item.mtime_ns, item.meta, item.albums, rank=item.rank, key=item.key)
        self._pairs = [((video, ""), (still, "")) for video, still in plan.pairs]
        self._report = plan.report()

    def open(self, loc: Location) -> BinaryIO:
        return open_regular(loc.path)

    def live_pairs(self) -> list:
        return self._pairs

    def remember(self) -> dict:
        return {"report": self._report} if self._report else {}

    @classmethod
    def report(cls, catalog, source_id: int) -> dict | None:
        return photos_report(catalog, source_id)

    @staticmethod
    def describe_report(report: dict) -> str:
        return describe_report(report)
