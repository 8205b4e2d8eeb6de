"""What every source adapter yields, and the interface the crawler drives it through.

An adapter only reports what it finds: where each item lives, its size/mtime signature, and the
metadata the source itself knows (a sidecar, a catalog row). It never hashes, embeds or indexes.

Metadata keys the catalog understands (others are kept as they are, under the source's origin):
taken_local (the wall clock, ISO 8601 without zone) with utc_offset ('+02:00') when known, or
taken_utc (ISO 8601 ending in Z) when only the instant is known, created_utc (an upload time),
lat, lon, alt, camera, lens, orientation (EXIF 1..8),
title, description, rating, favorite, keywords (list), people (list), media ("image" | "raw" |
"video"; absent: image), format (when the source knows it).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import BinaryIO, Iterator

from ..catalog import Location


@dataclass
class Found:
    path: str
    entry: str = ""
    size: int | None = None
    mtime_ns: int | None = None
    meta: dict = field(default_factory=dict)
    albums: list[tuple[str, str | None, str | None]] = field(default_factory=list)  # (key, title, description)
    rank: int = 100  # lower = preferred as the photo's primary location
    key: str | None = None  # the item's identity within the source when it can move to another file or
                            # entry (a Lightroom photo's better preview): its location moves with it


@dataclass
class Note:
    """Something discovery worked around or skipped: said to the user, not counted as an error."""
    path: str
    message: str


@dataclass
class FindError:
    """Something discovery could not look at (an unreadable folder, a broken archive)."""
    path: str
    kind: str
    message: str


class Source:
    kind = "?"          # sources.kind in the catalog
    origin = "source"   # photo_meta origin for the metadata this source knows
    sequential = False  # True: open() is cheap only in discovery order (a tar stream); read on one thread
    partial = False     # True: discovery yields only part of the source (files named one by one), so
                        # what it did not yield is not gone

    def __init__(self, root: str, info: dict | None = None):
        self.root = root
        self.info = info or {}

    def discover(self) -> Iterator[Found | FindError]:
        raise NotImplementedError

    def open(self, loc: Location) -> BinaryIO:
        """A binary stream of the item's bytes; OSError when it cannot be read."""
        raise NotImplementedError

    def open_seekable(self, loc: Location) -> BinaryIO:
        """A seekable binary stream of the item (a video's decoder jumps around in it)."""
        return self.open(loc)

    def stored_span(self, loc: Location) -> tuple[int, int] | None:
        """(offset, length) of the item's own bytes inside the file `loc.path` when they lie there
        as they are (a stored zip member), so they can be copied by the kernel; None: read them
        with open()."""
        return None

    def read_bytes(self, loc: Location) -> bytes:
        with self.open(loc) as f:
            return f.read()

    def copy_of(self, loc: Location) -> tuple[str, str] | None:
        """(path, entry) of another location of this source PROVEN to hold the same bytes as `loc`
        at less cost than reading it (e.g. two zip members whose raw stored data are equal); the
        crawler then links `loc` to that location's photo without hashing it. None: read it."""
        return None

    def discovery_counts(self) -> dict[str, int]:
        """After discovery: counts to add to the run's summary (e.g. what was excluded, by reason)."""
        return {}

    def live_pairs(self) -> list[tuple[tuple[str, str], tuple[str, str]]]:
        """After discovery: ((path, entry) of a live/motion video, (path, entry) of its still) for
        each pair found; the crawler links their photos once both are hashed."""
        return []

    def remember(self) -> dict:
        """After discovery: what to keep in the catalog for later runs and reports (merged into
        the source's info, top-level keys replacing)."""
        return {}

    def close(self) -> None:
        pass

    # -- reports ----------------------------------------------------------------------------------
    @classmethod
    def report(cls, catalog, source_id: int) -> dict | None:
        """A report on what the source holds now (for `trove status --source ID`); None: no report."""
        return None

    @staticmethod
    def describe_report(report: dict) -> str:
        """The report for people: a few lines."""
        return ""

