"""What a folder walk leaves out, and why: folders that never hold the user's own photos (NAS
thumbnail and recycle folders, trash, version control), caches of other photo tools (each read
by its own `trove ingest` command), and what the user excludes (`--exclude`, `.troveignore` files
in gitignore syntax)."""
from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field

from .files import open_regular

IGNORE_FILE = ".troveignore"
MAX_IGNORE_BYTES = 1 << 20   # rules files are a few lines; a huge one is read no further

# folder name (or glob) -> why it is never a folder of the user's photos
BUILT_IN: dict[str, str] = {
    "@eaDir": "Synology thumbnails",
    "@__thumb": "QNAP thumbnails",
    "#recycle": "NAS recycle bin",
    "#snapshot": "NAS snapshots",
    ".thumbnails": "thumbnail cache",
    ".Trash-*": "trash",
    "$RECYCLE.BIN": "Windows recycle bin",
    "System Volume Information": "Windows system folder",
    ".git": "version control",
    "node_modules": "software packages",
}
# caches of other tools: left out, with the command that reads them
TOOL_CACHES: dict[str, tuple[str, str]] = {
    "*Smart Previews.lrdata": ("Lightroom Smart Previews", "trove ingest lrprev"),
    "*Previews.lrdata": ("a Lightroom preview cache", "trove ingest lrprev"),
    "*.photoslibrary": ("an Apple Photos library", "trove ingest photos"),
    "*.photolibrary": ("an Apple Photos library of Photos 4 or older", "trove ingest photos"),
}


@dataclass
class Excludes:
    """The rules of one walk. `excluded` counts what they left out, by reason; `notes` says which
    tool caches were found and how to read them."""
    patterns: list[str] = field(default_factory=list)   # --exclude, gitignore syntax, relative to the root
    defaults: bool = True                                # built-in rules and hidden files
    excluded: dict[str, int] = field(default_factory=dict)
    notes: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._cli = _spec(self.patterns) if self.patterns else None

    def count(self, reason: str) -> None:
        self.excluded[reason] = self.excluded.get(reason, 0) + 1

    def folder(self, entry: os.DirEntry, rel: str, ignores: list) -> bool:
        """Whether to walk into the folder (False: left out, and counted)."""
        name = entry.name
        if self.defaults:
            for glob, (what, command) in TOOL_CACHES.items():
                if fnmatch.fnmatchcase(name, glob):
                    self.count(f"{what} (folder)")
                    self.notes.append((entry.path, f"{what}, not a folder of photos: read it with "
                                                   f"`{command} '{entry.path}'`"))
                    return False
            for glob, why in BUILT_IN.items():
                if fnmatch.fnmatchcase(name, glob):
                    self.count(f"{name} ({why}, folder)")
                    return False
            if name.startswith("."):
                return False   # hidden: not counted, as an ls would not show it
        return not self._user(rel + "/", entry.path + "/", ignores, "folder")

    def file(self, entry: os.DirEntry, rel: str, ignores: list) -> bool:
        if self.defaults and entry.name.startswith(".") and entry.name != IGNORE_FILE:
            return False
        return entry.name != IGNORE_FILE and not self._user(rel, entry.path, ignores, "file")

    def _user(self, rel: str, path: str, ignores: list, what: str) -> bool:
        if self._cli is not None and self._cli.match_file(rel):
            self.count(f"--exclude ({what})")
            return True
        for base, spec in ignores:  # the .troveignore files of this folder and its parents
            if spec.match_file(os.path.relpath(path, base) + ("/" if path.endswith("/") else "")):
                self.count(f"{IGNORE_FILE} ({what})")
                return True
        return False

    def ignore_file(self, folder: str) -> tuple[str, object] | None:
        """The folder's own .troveignore, if it has one: (folder, its rules)."""
        path = os.path.join(folder, IGNORE_FILE)
        try:   # never blocks: a FIFO (or a device) under that name is not a rules file
            with open_regular(path) as f:
                return folder, _spec(f.read(MAX_IGNORE_BYTES).decode("utf-8", "replace").splitlines())
        except OSError:
            return None


def _spec(lines: list[str]):
    import pathspec

    return pathspec.GitIgnoreSpec.from_lines(lines)
