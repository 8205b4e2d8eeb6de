"""The files of a `.photoslibrary`, listed once, by asset UUID:

  originals/<X>/<UUID>.<ext>                    the original (`ZDIRECTORY`/`ZFILENAME`; `Masters/` in
                                                libraries carried over from Photos 4; a shared album's
                                                photos in `resources/` or `scopes/cloudsharing/data/`)
  originals/<X>/<UUID>_3.mov                    a live photo's video
  originals/<X>/<UUID>_4.<ext>                  the other half of a RAW+JPEG pair
  resources/renders/<U>/<UUID>_1_201_a.<ext>    the current edit of a photo (`_2_0_a.mov` of a video,
                                                `_2_100_a.mov` of a live photo's video)
  resources/derivatives/<U>/<UUID>_<...>.jpeg   smaller copies Photos keeps (the only pictures of an
  resources/derivatives/masters/<U>/...         original that is in iCloud only)

(<X> is ZDIRECTORY, <U> the UUID's first character.) Only folder listings: files are stat'ed
where they are used.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from ...media.kinds import is_junk

NAME = re.compile(r"([0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})(?:_([0-9a-z_]+))?"
                  r"\.([0-9A-Za-z]+)")
ORIGINALS, MASTERS = "originals", "Masters"
# where an asset's ZDIRECTORY/ZFILENAME may be: the library's own originals, Photos 4's Masters, and
# the photos of shared albums (Photos 5-7, then 8 on)
ORIGINAL_FOLDERS = (ORIGINALS, MASTERS, os.path.join("resources", "cloudsharing", "data"),
                    os.path.join("scopes", "cloudsharing", "data"))
RENDERS = os.path.join("resources", "renders")
DERIVATIVES = os.path.join("resources", "derivatives")
LIVE, ALTERNATE = "3", "4"
PHOTO_RENDER, VIDEO_RENDER, LIVE_RENDER = "1_201_a", "2_0_a", "2_100_a"
PICTURE_EXTS = {"jpeg", "jpg", "heic", "heif", "png"}


@dataclass
class Files:
    """name -> path of what the library's folders hold, by UUID (upper case)."""
    originals: dict[str, dict[str, str]] = field(default_factory=dict)    # uuid -> {suffix: path}
    renders: dict[str, dict[str, str]] = field(default_factory=dict)
    derivatives: dict[str, list[str]] = field(default_factory=dict)        # uuid -> paths
    other: list[str] = field(default_factory=list)   # files in originals/ not named after a UUID
    problems: list[tuple[str, str]] = field(default_factory=list)          # (folder, why it cannot be listed)


def scan(root: str) -> Files:
    files = Files()
    for sub, into in ((ORIGINALS, files.originals), (RENDERS, files.renders)):
        for folder, names in _listing(os.path.join(root, sub), files.problems):
            for name in names:
                m = NAME.fullmatch(name)
                if m is None:
                    if into is files.originals and not is_junk(name) and not name.startswith("."):
                        files.other.append(os.path.join(folder, name))
                    continue
                suffix = m.group(2) or ""
                if into is files.renders and m.group(3).lower() == "plist":   # the edit's recipe, not a picture
                    continue
                into.setdefault(m.group(1).upper(), {}).setdefault(suffix, os.path.join(folder, name))
    for sub in (DERIVATIVES, os.path.join(DERIVATIVES, "masters")):
        for folder, names in _listing(os.path.join(root, sub), files.problems):
            for name in names:
                m = NAME.fullmatch(name)
                if m is not None and m.group(3).lower() in PICTURE_EXTS:
                    files.derivatives.setdefault(m.group(1).upper(), []).append(os.path.join(folder, name))
    return files


def _listing(top: str, problems: list[tuple[str, str]]):
    """(folder, file names) of `top`'s sub-folders (one level: 0..F), and of `top` itself."""
    try:
        with os.scandir(top) as it:
            entries = sorted(it, key=lambda e: e.name)
    except FileNotFoundError:
        return
    except OSError as e:
        problems.append((top, f"cannot list folder: {e.strerror or e}"))
        return
    names = []
    for entry in entries:
        try:
            is_dir = entry.is_dir()
        except OSError:
            continue
        if is_dir and entry.name != "masters":
            try:
                with os.scandir(entry.path) as it:
                    inner = sorted(e.name for e in it if e.is_file())
            except OSError as e:
                problems.append((entry.path, f"cannot list folder: {e.strerror or e}"))
                continue
            yield entry.path, inner
        elif not is_dir:
            names.append(entry.name)
    if names:
        yield top, names
