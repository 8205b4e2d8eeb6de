"""Walking a folder tree the way every folder-based source wants it."""
from __future__ import annotations

import os
import stat
from typing import Callable, Iterator

from ..media.kinds import is_junk
from .base import FindError
from .excludes import Excludes


def walk_files(root: str, descend: Callable[[os.DirEntry], bool] = lambda entry: True,
               excludes: Excludes | None = None) -> Iterator[tuple[os.DirEntry, os.stat_result] | FindError]:
    """Regular files under `root` with their stat, depth-first in name order; a FindError for what
    cannot be listed or stat'ed. OS junk is skipped; symlinked folders are followed once (no loops);
    `descend(entry)` can refuse a sub-folder. Without `excludes` hidden files are skipped; with
    them, its rules (built-ins, --exclude, .troveignore files) decide and count what is left out."""
    try:
        st = os.stat(root)
    except OSError as e:
        yield FindError(root, "unreadable", f"cannot open folder: {e.strerror}")
        return
    if not stat.S_ISDIR(st.st_mode):
        yield FindError(root, "not-a-folder", "not a folder")
        return
    seen_dirs = {(st.st_dev, st.st_ino)}
    stack: list[tuple[str, list]] = [(root, [])]
    while stack:
        folder, ignores = stack.pop()
        if excludes is not None:
            own = excludes.ignore_file(folder)
            ignores = ignores + [own] if own else ignores
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as e:
            yield FindError(folder, "unreadable", f"cannot list folder: {e.strerror}")
            continue
        subdirs = []
        for entry in entries:
            if is_junk(entry.name) or (excludes is None and entry.name.startswith(".")):
                continue
            try:
                est = entry.stat()  # follows symlinks
            except OSError as e:
                if not entry.is_symlink():  # a dangling link is not worth an error row
                    yield FindError(entry.path, "unreadable", e.strerror or str(e))
                continue
            rel = os.path.relpath(entry.path, root)
            if stat.S_ISDIR(est.st_mode):
                key = (est.st_dev, est.st_ino)
                if key in seen_dirs or not descend(entry):
                    continue
                if excludes is not None and not excludes.folder(entry, rel, ignores):
                    continue
                seen_dirs.add(key)
                subdirs.append(entry.path)
            elif stat.S_ISREG(est.st_mode):
                if excludes is None or excludes.file(entry, rel, ignores):
                    yield entry, est
        stack.extend((d, ignores) for d in reversed(subdirs))
