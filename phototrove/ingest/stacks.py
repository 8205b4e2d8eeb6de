"""Stacks: photos that are one moment, shown once. A RAW and the JPEG the camera wrote beside it
(same folder, same name, taken within 2 s), an edited copy and its original (Takeout's `-edited`,
in any of its languages), a Lightroom virtual copy and its master, and a burst (the camera's burst
id, or Pixel's `_BURST<time>` names), and what a source groups itself (a location's meta `stack`:
the keys of the groups it is in, e.g. an Apple Photos asset's edit, original and RAW, or a burst).
The cover is what people would pick to show: what the source calls the cover (meta `stack_cover`),
an edited copy over its original, a JPEG over its RAW, a master over its virtual copies, a burst's
`COVER` frame (else its first)."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime

from ..media.names import split_ext, unedited

_BURST_NAME = re.compile(r"_BURST(\d{14,17})", re.I)
WITHIN_SECONDS = 2.0


@dataclass
class Row:
    """One present location of a photo, with what stacking looks at."""
    photo: int
    media: str
    taken: str | None        # the photo's wall clock
    burst: str | None        # the camera's burst id
    path: str
    entry: str
    meta: dict
    taken_utc: str | None = None   # its instant, when known


def find_stacks(rows: list[Row]) -> list[list[int]]:
    """Groups of photo ids (cover first), each of two or more photos."""
    parent: dict[int, int] = {}

    def root(x: int) -> int:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def join(a: int, b: int) -> None:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    by_name: dict[tuple[str, str], list[Row]] = {}
    bursts: dict[tuple, list[Row]] = {}
    masters: dict[int, int] = {}
    copies: list[tuple[int, int]] = []
    grouped: dict[str, list[Row]] = {}
    for r in rows:
        folder, name = os.path.split((r.entry or r.path).replace("\\", "/"))
        stem = split_ext(name)[0]
        by_name.setdefault((folder, stem.casefold()), []).append(r)
        named = _BURST_NAME.search(name)
        if r.burst or named:
            bursts.setdefault(("id", r.burst) if r.burst else ("name", folder, named.group(1)), []).append(r)
        if isinstance(r.meta.get("lr_image_id"), int) and not r.meta.get("lr_master_id"):
            masters[r.meta["lr_image_id"]] = r.photo
        if isinstance(r.meta.get("lr_master_id"), int):
            copies.append((r.meta["lr_master_id"], r.photo))
        keys = r.meta.get("stack")
        for key in [keys] if isinstance(keys, str) else keys if isinstance(keys, list) else ():
            if isinstance(key, str):
                grouped.setdefault(key, []).append(r)
    for (folder, stem), group in by_name.items():
        raws = [r for r in group if r.media == "raw"]
        stills = [r for r in group if r.media == "image"]
        for raw in raws:
            for still in stills:
                if _close(raw, still):
                    join(raw.photo, still.photo)
        for original in unedited(stem):   # IMG_1-edited.jpg with IMG_1.jpg (and its RAW)
            for r in by_name.get((folder, original.casefold()), []):
                for edited in group:
                    if edited.photo != r.photo:
                        join(edited.photo, r.photo)
    for members in list(bursts.values()) + list(grouped.values()):
        for r in members[1:]:
            join(members[0].photo, r.photo)
    for master, copy in copies:
        if master in masters:
            join(masters[master], copy)
    groups: dict[int, set[int]] = {}
    for pid in list(parent):
        groups.setdefault(root(pid), set()).add(pid)
    info = {r.photo: r for r in rows}
    return [sorted(g, key=lambda pid: _cover_rank(info[pid])) for g in groups.values() if len(g) > 1]


def _cover_rank(r: Row) -> tuple:
    name = os.path.basename(r.entry or r.path)
    stem = split_ext(name)[0]
    return (not r.meta.get("stack_cover"),            # the source's own choice first
            r.meta.get("lr_master_id") is not None,   # a master before its virtual copies
            not unedited(stem),                       # an edited copy before its original
            "cover" not in name.lower() if _BURST_NAME.search(name) else False,
            {"image": 0, "video": 1, "raw": 2}.get(r.media, 3),   # a JPEG before its RAW
            r.taken or "", name, r.photo)


def _close(x: Row, y: Row) -> bool:
    """Taken within WITHIN_SECONDS of each other: the instants when both are known, else the wall
    clocks (or one of them does not say)."""
    a, b = (x.taken_utc, y.taken_utc) if x.taken_utc and y.taken_utc else (x.taken, y.taken)
    if not a or not b:
        return True
    try:
        ta = datetime.fromisoformat(a.replace("Z", "+00:00")).replace(tzinfo=None)
        tb = datetime.fromisoformat(b.replace("Z", "+00:00")).replace(tzinfo=None)
    except ValueError:
        return True
    return abs((ta - tb).total_seconds()) <= WITHIN_SECONDS
