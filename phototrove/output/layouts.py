"""The folders a photo goes to in an export, per `--layout`:

  album   one folder per album it is in (`no album/` when none); a photo in two albums is in both
  date    `YYYY/MM` of its local capture date (`undated/` when it has none)
  day     `YYYY/MM-DD`
  source  where it sits in its source: a folder's path below the source's root, a Takeout entry's
          folder below `Takeout/Google Photos/` (year and album folders: a photo in both is in both),
          a Lightroom photo's `<root folder>/<folder>` from the catalog
  flat    all in the export folder itself
"""
from __future__ import annotations

import os
import re

from .naming import safe_part

LAYOUTS = ("album", "date", "day", "source", "flat")
NO_ALBUM, UNDATED, NOT_IN_CATALOG = "no album", "undated", "_not_in_catalog"
_DATE = re.compile(r"(\d{4})-(\d\d)-(\d\d)")


class Folders:
    """Folders of one export. Names that differ only in case are one folder (the first spelling
    seen), as they are on the case-insensitive file systems of macOS and Windows."""

    def __init__(self, layout: str):
        if layout not in LAYOUTS:
            raise ValueError(layout)
        self.layout = layout
        self.spelling: dict[str, str] = {}

    def of(self, rec: dict) -> list[list[str]]:
        """The folders (each a list of safe path components) the photo goes to, first the one
        its file is written to."""
        if self.layout == "flat":
            found = [[]]
        elif self.layout == "album":
            found = [[safe_part(a)] for a in rec["albums"]] or [[NO_ALBUM]]
        elif self.layout in ("date", "day"):
            found = [date_folder(rec.get("taken_at"), self.layout == "day")]
        else:
            found = [source_folder(kind, root, loc) for loc, (kind, root) in zip(rec["locations"], rec["sources"])]
        out, seen = [], set()
        for parts in found:
            parts = self._spelled(parts)
            if tuple(parts) not in seen:
                seen.add(tuple(parts))
                out.append(parts)
        return out

    def _spelled(self, parts: list[str]) -> list[str]:
        out = []
        for i in range(len(parts)):
            key = "/".join(parts[:i + 1]).lower()
            full = self.spelling.setdefault(key, "/".join(out + [parts[i]]))
            out = full.split("/")
        return out


def date_folder(taken_at: str | None, day: bool) -> list[str]:
    """['2019', '07'] or ['2019', '07-14'] from the local capture time; ['undated'] without one."""
    m = _DATE.match(taken_at or "")
    if not m or m.group(1) == "0000":
        return [UNDATED]
    y, mo, d = m.groups()
    return [y, f"{mo}-{d}" if day else mo]


def source_folder(kind: str, root: str, loc) -> list[str]:
    """The folder a location sits in within its source, as safe path components."""
    if kind == "lrprev":
        folder = loc.meta.get("lr_folder")
        if isinstance(folder, str) and folder:
            return [safe_part(p) for p in folder.split("/") if p]
        original = loc.meta.get("original_path")
        if isinstance(original, str) and original:   # (ingested before lr_folder was recorded)
            parts = re.split(r"[/\\]", original)[:-1]
            return [safe_part(p) for p in parts if p and not p.endswith(":")]
        return [NOT_IN_CATALOG]
    inside = loc.entry or _below(loc.path, root)
    parts = [p for p in inside.replace("\\", "/").split("/")[:-1] if p not in ("", ".", "..")]
    if kind == "takeout":
        low = [p.lower() for p in parts]
        if "takeout" in low:   # Takeout/<product folder, named in the account's language>/...
            parts = parts[low.index("takeout") + 2:]
    return [safe_part(p) for p in parts]


def _below(path: str, root: str) -> str:
    """`path` relative to the source's root ('/'-separated); its own folder's name and file when
    it lies elsewhere (a file named on its own)."""
    try:
        rel = os.path.relpath(path, root)
    except ValueError:   # another drive
        rel = ".."
    if rel.startswith(".."):
        return "/".join(os.path.normpath(path).split(os.sep)[-2:])
    return rel.replace(os.sep, "/")
