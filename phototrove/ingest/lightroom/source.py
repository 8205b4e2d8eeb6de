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
from ...media.kinds import MediaError
from ..base import FindError, Found, Note, Source
from .lrcat import CatalogReadError, check_catalog
from .pairing import ROOT_PIXELS, SMART_LEVEL, level_jpeg, load_plan
from .smart import smart_jpeg
from .previews import PreviewError, best_jpeg, read_level, read_preview, read_root_pixels


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


def checked_previews_path(path: str) -> str:
    """PATH of `ingest lrprev` / `recover lrprev`, which is the previews cache: the .lrcat given
    instead is a usage error that says what to pass."""
    if path.lower().endswith(".lrcat") and not os.path.isdir(path):
        folder, name = os.path.split(os.path.abspath(path))
        previews = os.path.join(folder, name[:-len(".lrcat")] + " Previews.lrdata")
        raise UsageError(f"{name} is the catalog: pass its previews folder '{previews}' "
                         f"(and --catalog {path} if it is elsewhere)")
    return path


class LrprevSource(Source):
    kind = "lrprev"
    origin = "lrcat"

    def __init__(self, root: str, info: dict | None = None, *, scratch: str | None = None):
        super().__init__(root, info)
        self.scratch = scratch   # the library's folder for a private copy of a crashed catalog

    def discover(self) -> Iterator[Found | FindError | Note]:
        if not os.path.exists(self.root):
            yield FindError(self.root, "fatal", "no such file or folder")
            return
        plan = load_plan(self.root, self.info.get("catalog"), scratch=self.scratch)
        for note in plan.notes:   # what was skipped or worked around: said, not counted as errors
            yield Note(self.root, note)
        for path, message in plan.warnings:
            yield Note(path, message)
        for path, kind, message in plan.errors:
            yield FindError(path, kind, message)
        for item in plan.items:
            try:
                st = os.stat(item.path)
            except OSError as e:
                yield FindError(item.path, "unreadable", e.strerror or str(e))
                continue
            albums = []
            img = item.image
            if img is not None and (img.root or img.folder):   # its folder; a photo directly in a root: the root
                key = img.root + img.folder
                title = os.path.basename(key.rstrip("/\\")) if img.folder else img.root_name
                albums.append((key, title or os.path.basename(key.rstrip("/\\")) or key, None))
            # a collection is an album named as the collection, the sets holding it said as context
            for cid, name, sets in img.collections if img is not None else ():
                albums.append((f"lrcat:{plan.catalog_path}#collection:{cid}", name,
                               "Lightroom collection" + (f" in {' / '.join(sets)}" if sets else "")))
            yield Found(item.path, item.entry, st.st_size, st.st_mtime_ns, item.meta(), albums,
                        rank=10 if item.current else 50, key=item.identity)

    def open(self, loc: Location) -> BinaryIO:
        return io.BytesIO(ingest_bytes(loc.path, loc.entry, loc.meta))


def ingest_bytes(path: str, entry: str, meta: dict) -> bytes:
    """The preview level Lightroom wrote, with an EXIF orientation segment and the Adobe RGB
    profile inserted (the scan data are untouched), so any reader shows it upright. A Smart Preview
    is developed by LibRaw into an sRGB JPEG (as stored; the same orientation segment turns it)."""
    if meta.get("lr_level") == SMART_LEVEL:
        try:
            data = smart_jpeg(path, upright=False)[0]
        except (PreviewError, MediaError) as e:
            err = OSError(str(e))
            err.kind = e.kind    # needs-raw-extra, unsupported-codec, corrupt: grouped in reports
            raise err from None
        return with_metadata(data, exif=build_exif({"orientation": meta.get("orientation") or 1,
                                                    "color_space": "sRGB"}))
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
        try:
            data = read_level(path, level)
        except OSError:   # damaged image data (seen only now that all of it is read): a smaller whole level
            try:
                data = best_jpeg(p, level.index)[1]
            except PreviewError as e:
                raise OSError(str(e)) from None
    else:
        data = level_jpeg(path, None)
    return with_metadata(data, exif=build_exif({"orientation": meta.get("orientation") or 1}),
                         icc=adobe_rgb_icc())
