"""The modification time an output file gets: the moment the photo was taken."""
from __future__ import annotations

import time

from ..media.exif_write import capture_clock, capture_instant


def capture_mtime(meta: dict) -> float | None:
    """The capture instant when the zone is known (wall clock minus its UTC offset, or the UTC
    time). A wall clock without zone is read in this machine's zone, as a camera file copied here
    would show it (its mtime was set by a clock in no particular zone either)."""
    instant = capture_instant(meta)
    if instant is not None:
        return instant
    local, _offset = capture_clock(meta)
    if not local:
        return None
    try:   # ('YYYY:MM:DD HH:MM:SS', checked by capture_clock: read without strptime's cost)
        return time.mktime((int(local[0:4]), int(local[5:7]), int(local[8:10]), int(local[11:13]),
                            int(local[14:16]), int(local[17:19]), 0, 0, -1))
    except (ValueError, OverflowError):
        return None
