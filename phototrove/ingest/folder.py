"""A plain folder of photos, walked recursively, read in place; or photo files given one by one.

info: {"exclude": [gitignore-style patterns], "no_default_excludes": bool} for a folder;
{"files": [names]} for files given directly (then the source is the folder holding them, and a
run that does not name a file never counts it as gone).
"""
from __future__ import annotations

import os
import stat
from typing import BinaryIO, Iterator

from ..catalog import Location
from ..media.kinds import media_for_name
from .base import FindError, Found, Note, Source
from .excludes import Excludes
from .files import open_regular
from .walk import walk_files


SIDECAR_MAX = 8 << 20


class FolderSource(Source):
    kind = "folder"
    origin = "xmp-sidecar"   # what a folder knows of a photo beyond its bytes: its .xmp sidecar

    def __init__(self, root: str, info: dict | None = None):
        super().__init__(root, info)
        self.excludes = Excludes(list(self.info.get("exclude") or []),
                                 defaults=not self.info.get("no_default_excludes"))

    @property
    def partial(self) -> bool:
        return bool(self.info.get("files"))

    def discover(self) -> Iterator[Found | FindError | Note]:
        if self.partial:
            yield from self._given_files()
            return
        sidecars = Sidecars()
        for item in walk_files(self.root, excludes=self.excludes):
            if isinstance(item, FindError):
                yield item
                continue
            entry, st = item
            media = media_for_name(entry.name)
            if media is None:
                continue
            # a name that is not UTF-8 is kept as it is (the catalog stores its bytes)
            yield Found(entry.path, size=st.st_size, mtime_ns=st.st_mtime_ns,
                        meta=_media_meta(media, sidecars.meta(entry.path)), rank=entry.path.count(os.sep))
        for path, message in self.excludes.notes:
            yield Note(path, message)

    def _given_files(self) -> Iterator[Found | FindError]:
        for name in self.info["files"]:
            path = os.path.join(self.root, name)
            try:
                st = os.stat(path)
            except OSError as e:
                yield FindError(path, "unreadable", e.strerror or str(e))
                continue
            if not stat.S_ISREG(st.st_mode):
                yield FindError(path, "not-a-file", "not a regular file")
            elif media_for_name(name) is None:
                yield FindError(path, "not-a-photo", "not a photo, RAW or video file trove reads (see the "
                                                     "README's formats)")
            else:
                yield Found(path, size=st.st_size, mtime_ns=st.st_mtime_ns,
                            meta=_media_meta(media_for_name(name), Sidecars().meta(path)), rank=path.count(os.sep))

    def discovery_counts(self) -> dict[str, int]:
        ex = self.excludes.excluded
        return {"excluded": sum(ex.values()), **{f"excluded.{reason}": n for reason, n in ex.items()}} if ex else {}

    def open(self, loc: Location) -> BinaryIO:
        return open_regular(loc.path)


def _media_meta(media: str, meta: dict) -> dict:
    """The location's meta: its sidecar's, and what kind of media it is when not a photo."""
    return meta if media == "image" else {**meta, "media": media}


class Sidecars:
    """The `.xmp` sidecars digiKam, darktable and Lightroom write beside photos (`IMG_1.CR2.xmp`
    or `IMG_1.xmp`): what they say becomes the photo's source metadata, so a changed sidecar
    makes the photo's metadata be read again."""

    def __init__(self) -> None:
        self.folder: str | None = None
        self.names: dict[str, str] = {}   # lowercase name -> name, of the folder's .xmp files
        self.raw_stems: set[str] | None = None   # lowercase stems of the folder's RAW files, when asked

    def _raw_beside(self, folder: str, stem: str) -> bool:
        if self.raw_stems is None:
            try:
                self.raw_stems = {os.path.splitext(n)[0].lower() for n in os.listdir(folder)
                                  if media_for_name(n) == "raw"}
            except OSError:
                self.raw_stems = set()
        return stem.lower() in self.raw_stems

    def meta(self, path: str) -> dict:
        folder, name = os.path.split(path)
        if folder != self.folder:
            self.folder, self.raw_stems = folder, None
            try:
                self.names = {n.lower(): n for n in os.listdir(folder) if n.lower().endswith(".xmp")}
            except OSError:
                self.names = {}
        if not self.names:
            return {}
        stem = os.path.splitext(name)[0]
        found = self.names.get(name.lower() + ".xmp")
        if found is None and (media_for_name(name) == "raw" or not self._raw_beside(folder, stem)):
            found = self.names.get(stem.lower() + ".xmp")   # `IMG_1.xmp` is the RAW's when there is one
        if found is None:
            return {}
        from ..media.xmp import read_xmp

        notes: list[str] = []
        try:
            with open_regular(os.path.join(folder, found)) as f:
                data = f.read(SIDECAR_MAX + 1)
        except OSError as e:
            return {"xmp_sidecar": found, "notes": [f"{found}: {e.strerror or e}"]}
        if len(data) > SIDECAR_MAX:
            return {"xmp_sidecar": found, "notes": [f"{found}: larger than 8 MiB: ignored"]}
        return {**read_xmp([data], notes), "xmp_sidecar": found, **({"notes": notes} if notes else {})}


def folder_sources(paths: list[str], *, exclude=(), no_default_excludes: bool = False) -> list[FolderSource]:
    """Sources for what `trove ingest folder` was given: each folder, and the files given directly
    grouped by the folder holding them."""
    sources, files = [], {}
    for p in paths:
        p = os.path.abspath(p)
        if os.path.isdir(p) and p.rstrip(os.sep).lower().endswith((".photoslibrary", ".photolibrary")):
            from ..errors import UsageError

            raise UsageError(f"{p} is an Apple Photos library, not a folder of photos: use `trove ingest photos '{p}'`")
        if os.path.isdir(p):
            info = {"exclude": list(exclude)} if exclude else {}
            if no_default_excludes:
                info["no_default_excludes"] = True
            sources.append(FolderSource(p, info))
        else:
            files.setdefault(os.path.dirname(p), []).append(os.path.basename(p))
    sources += [FolderSource(folder, {"files": sorted(set(names))}) for folder, names in sorted(files.items())]
    return sources
