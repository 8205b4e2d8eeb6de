"""Google Photos Takeout: multi-part zips / tgz / an extracted folder, read in place as ONE source.

Discovery lists every part first (zip central directories, one streamed pass per tar), reads the
JSON files (sidecars and album JSON, told apart by content), then matches media to sidecars per
folder (rules in matching.py, folder kinds in folders.py) and yields every media file with the
metadata of its sidecar. Identity is left to the crawler: it hashes each location, so the same
bytes in a year folder, two albums and two parts become one photo with five locations and the
union of its albums.
"""
from __future__ import annotations

import os
from typing import BinaryIO, Iterator

from ...catalog import Location
from ..archives import ArchivePool, archive_kind
from ..base import FindError, Found, Source
from ..files import open_regular
from .catalogue import Catalogue, catalogue
from .parts import Part, PartReader, inputs, missing_parts
from .report import describe_report, takeout_report
from .sidecar import json_kind


def takeout_root(paths: list[str]) -> str:
    """The folder an export's parts (archives or folders, absolute) have in common: the source's root."""
    return os.path.commonpath([p if os.path.isdir(p) else os.path.dirname(p) for p in paths])


class TakeoutSource(Source):
    kind = "takeout"
    origin = "takeout"

    def __init__(self, root: str, info: dict | None = None):
        super().__init__(root, info)
        self.paths: list[str] = list(self.info.get("paths") or [root])
        self.archives = ArchivePool()
        self.found = Catalogue()

    @property
    def sequential(self) -> bool:
        """Tars can only be read forward: the crawler reads them on one thread, in order."""
        return any(archive_kind(p) == "tar" for p in inputs(self.paths)[0])

    def discover(self) -> Iterator[Found | FindError]:
        archives, folders, errors = inputs(self.paths)
        yield from errors
        reader = PartReader(self.archives)
        parts: list[Part] = []
        for part_no, path in enumerate(archives + folders):
            part, errs = reader.read(path, part_no)
            yield from errs
            if part is None:
                continue
            if not part.items and not part.docs:
                yield FindError(path, "empty", "empty archive (nothing in it)" if part.kind != "folder"
                                else "empty folder (nothing in it)")
                continue
            sidecars = sum(1 for _, d in part.docs if json_kind(d) in ("sidecar", "album"))
            if not part.has_takeout_dir and not sidecars:
                yield FindError(path, "not-takeout", "not a Google Takeout export (no Takeout/ folder and "
                                                     "no photo sidecars): skipped; use `trove ingest folder`")
                continue
            parts.append(part)
        self.found = catalogue(parts, archives, missing_parts(archives), reader.head)
        yield from self.found.errors
        yield from self.found.found

    def open(self, loc: Location) -> BinaryIO:
        if not loc.entry:
            return open_regular(loc.path)
        return self.archives.open_member(loc.path, loc.entry)

    def open_seekable(self, loc: Location) -> BinaryIO:
        if not loc.entry:
            return open_regular(loc.path)
        return self.archives.open_seekable(loc.path, loc.entry)

    def stored_span(self, loc: Location) -> tuple[int, int] | None:
        return self.archives.stored_span(loc.path, loc.entry) if loc.entry else None

    def copy_of(self, loc: Location) -> tuple[str, str] | None:
        orig = self.found.twins.get((loc.path, loc.entry))
        if orig is not None and self.archives.raw_equal((loc.path, loc.entry), orig):
            return orig
        return None

    def live_pairs(self) -> list:
        return self.found.live_pairs

    def remember(self) -> dict:
        """The parts (so a part added in a later run completes the matching) and the report."""
        return {"paths": sorted(set(self.paths)), **({"report": self.found.report} if self.found.report else {})}

    def close(self) -> None:
        self.archives.close()

    @classmethod
    def report(cls, catalog, source_id: int) -> dict | None:
        return takeout_report(catalog, source_id)

    @staticmethod
    def describe_report(report: dict) -> str:
        return describe_report(report)
