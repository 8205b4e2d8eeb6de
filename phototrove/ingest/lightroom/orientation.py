"""Lightroom's orientation codes, as EXIF orientations."""
from __future__ import annotations

# Lightroom names an orientation by where the original's top-left (A) and top-right (B) corners end
# up, corners lettered A B C D clockwise from the top-left: AB upright, BC turned 90° clockwise, ...
LR_ORIENTATION = {"AB": 1, "BA": 2, "CD": 3, "DC": 4, "AD": 5, "BC": 6, "CB": 7, "DA": 8}


def orientation_code(value) -> int | None:
    """EXIF orientation (1..8) from a Lightroom code ('BC') or a number; None if unknown."""
    if isinstance(value, str):
        v = value.strip().upper()
        if v in LR_ORIENTATION:
            return LR_ORIENTATION[v]
        if v.isdigit():
            value = int(v)
    if isinstance(value, int) and 1 <= value <= 8:
        return value
    return None
