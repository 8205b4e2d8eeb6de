"""A plain folder of photos, walked recursively, read in place."""
from __future__ import annotations

import os
from typing import BinaryIO, Iterator

from ..catalog import Location
from .base import FindError, Found, Source
from .files import open_regular
from ..media.kinds import IMAGE_EXTENSIONS
from .walk import walk_files


class FolderSource(Source):
    kind = "folder"
    origin = "folder"

    def discover(self) -> Iterator[Found | FindError]:
        for item in walk_files(self.root):
            if isinstance(item, FindError):
                yield item
                continue
            entry, st = item
            if os.path.splitext(entry.name)[1].lower() not in IMAGE_EXTENSIONS:
                continue
            # a name that is not UTF-8 is kept as it is (the catalog stores its bytes)
            yield Found(entry.path, size=st.st_size, mtime_ns=st.st_mtime_ns, rank=entry.path.count(os.sep))

    def open(self, loc: Location) -> BinaryIO:
        return open_regular(loc.path)
