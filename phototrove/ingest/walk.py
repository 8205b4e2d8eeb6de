"""Walking a folder tree the way every folder-based source wants it."""
from __future__ import annotations

import os
import stat
from typing import Callable, Iterator

from .base import FindError
from ..media.kinds import is_junk


def walk_files(root: str, descend: Callable[[os.DirEntry], bool] = lambda entry: True,
               ) -> Iterator[tuple[os.DirEntry, os.stat_result] | FindError]:
    """Regular files under `root` with their stat, depth-first in name order; a FindError for what
    cannot be listed or stat'ed. Hidden files and OS junk are skipped; symlinked folders are followed
    once (no loops); `descend(entry)` can refuse a sub-folder."""
    try:
        st = os.stat(root)
    except OSError as e:
        yield FindError(root, "unreadable", f"cannot open folder: {e.strerror}")
        return
    if not stat.S_ISDIR(st.st_mode):
        yield FindError(root, "not-a-folder", "not a folder")
        return
    seen_dirs = {(st.st_dev, st.st_ino)}
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
                if key not in seen_dirs and descend(entry):
                    seen_dirs.add(key)
                    subdirs.append(entry.path)
            elif stat.S_ISREG(est.st_mode):
                yield entry, est
        stack.extend(reversed(subdirs))
