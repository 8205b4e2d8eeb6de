"""The `lrprev` source for `trove ingest lrprev`: one location per photo (catalog image or virtual
copy), the preview file; its entry is the level (`level_6`; '' for a Lightroom 13.3+ JPEG;
`<uuid>-<digest>` inside root-pixels.db)."""
from __future__ import annotations

import io
import os
from typing import BinaryIO, Iterator

from ...catalog import Location
from ...errors import UsageError
from ...media.exif_write import build_exif
from ...media.icc import adobe_rgb_icc
from ...media.jpeg import with_metadata
from ..base import FindError, Found, Note, Source
from .lrcat import CatalogReadError, check_catalog
from .pairing import ROOT_PIXELS, level_jpeg, load_plan
from .previews import PreviewError, read_level, read_preview, read_root_pixels


def checked_catalog(path: str | None) -> str | None:
    """An explicitly given --catalog, absolute; one that does not open as a Lightroom catalog is a
    usage error."""
    if path is None:
        return None
    try:
        check_catalog(path)
    except CatalogReadError as e:
        raise UsageError(str(e)) from None
    return os.path.abspath(path)


class LrprevSource(Source):
    kind = "lrprev"
    origin = "lrcat"

    def discover(self) -> Iterator[Found | FindError | Note]:
        if not os.path.exists(self.root):
            yield FindError(self.root, "fatal", "no such file or folder")
            return
        plan = load_plan(self.root, self.info.get("catalog"))
        for note in plan.notes:   # what was skipped or worked around: said, not counted as errors
            yield Note(self.root, note)
        for path, kind, message in plan.errors:
            yield FindError(path, kind, message)
        for item in plan.items:
            try:
                st = os.stat(item.path)
            except OSError as e:
                yield FindError(item.path, "unreadable", e.strerror or str(e))
                continue
            albums = []
            if item.image is not None and item.image.folder:
                key = item.image.root + item.image.folder
                albums.append((key, os.path.basename(key.rstrip("/\\")) or key, None))
            yield Found(item.path, item.entry, st.st_size, st.st_mtime_ns, item.meta(), albums,
                        rank=10 if item.current else 50)

    def open(self, loc: Location) -> BinaryIO:
        return io.BytesIO(ingest_bytes(loc.path, loc.entry, loc.meta))


def ingest_bytes(path: str, entry: str, meta: dict) -> bytes:
    """The preview level Lightroom wrote, with an EXIF orientation segment and the Adobe RGB
    profile inserted (the scan data are untouched), so any reader shows it upright."""
    if os.path.basename(path) == ROOT_PIXELS:
        uuid, _, digest = entry.rpartition("-")
        data = read_root_pixels(path, uuid, digest)
        if data is None:
            raise OSError(f"{entry} is no longer in root-pixels.db")
    elif entry:
        try:
            p = read_preview(path, header=False)
        except PreviewError as e:
            raise OSError(str(e)) from None
        level = next((lv for lv in p.levels if lv.name == entry), None)
        if level is None:
            raise OSError(f"the preview no longer has {entry}")
        data = read_level(path, level)
    else:
        data = level_jpeg(path, None)
    return with_metadata(data, exif=build_exif({"orientation": meta.get("orientation") or 1}),
                         icc=adobe_rgb_icc())
