"""A plain folder of photos, walked recursively, read in place."""
from __future__ import annotations

import os
import stat
from typing import BinaryIO, Iterator

from ..catalog import Location
from .base import FindError, Found, Source
from .media import IMAGE_EXTENSIONS, is_junk


class FolderSource(Source):
    kind = "folder"
    origin = "folder"

    def discover(self) -> Iterator[Found | FindError]:
        root = self.root
        try:
            st = os.stat(root)
        except OSError as e:
            yield FindError(root, "unreadable", f"cannot open folder: {e.strerror}")
            return
        if not stat.S_ISDIR(st.st_mode):
            yield FindError(root, "not-a-folder", "not a folder")
            return
        seen_dirs = {(st.st_dev, st.st_ino)}  # symlinked folders are followed once: no loops
        stack = [root]
        while stack:
            folder = stack.pop()
            try:
                with os.scandir(folder) as it:
                    entries = sorted(it, key=lambda e: e.name)
            except OSError as e:
                yield FindError(folder, "unreadable", f"cannot list folder: {e.strerror}")
                continue
            subdirs = []
            for entry in entries:
                if entry.name.startswith(".") or is_junk(entry.name):
                    continue
                try:
                    est = entry.stat()  # follows symlinks
                except OSError as e:
                    if not entry.is_symlink():  # a dangling link is not worth an error row
                        yield FindError(entry.path, "unreadable", e.strerror or str(e))
                    continue
                if stat.S_ISDIR(est.st_mode):
                    key = (est.st_dev, est.st_ino)
                    if key not in seen_dirs:
                        seen_dirs.add(key)
                        subdirs.append(entry.path)
                elif stat.S_ISREG(est.st_mode) and os.path.splitext(entry.name)[1].lower() in IMAGE_EXTENSIONS:
                    try:
                        entry.path.encode("utf-8")
                    except UnicodeEncodeError:
                        yield FindError(os.fsencode(entry.path).decode("utf-8", "replace"), "bad-name",
                                        "file name is not valid UTF-8; rename it to ingest it")
                        continue
                    yield Found(entry.path, size=est.st_size, mtime_ns=est.st_mtime_ns,
                                rank=entry.path.count(os.sep))
            stack.extend(reversed(subdirs))

    def open(self, loc: Location) -> BinaryIO:
        return open(loc.path, "rb")
