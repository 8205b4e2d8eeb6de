"""What a Takeout folder is, by its content where possible: an album (it holds an album JSON), a
year or day folder of Google's (holding the primary copies), the Trash/Archive (every sidecar says
so), or a plain folder; which files are media; and which video belongs to which still."""
from __future__ import annotations

import re

from .matching import split_ext, unedited

IMAGE_EXT = {".jpg", ".jpeg", ".jpe", ".png", ".gif", ".webp", ".heic", ".heif", ".dng", ".tif", ".tiff",
             ".bmp", ".avif"}
VIDEO_EXT = {".mp4", ".mov", ".m4v", ".3gp", ".3g2", ".avi", ".mts", ".m2ts", ".mkv", ".webm", ".mpg",
             ".mpeg", ".wmv", ".mp"}
YEAR_FOLDER = re.compile(r"^[^\d]{0,40}(18|19|20)\d\d[^\d]{0,12}$")
DAY_FOLDER = re.compile(r"^(18|19|20)\d\d-\d\d-\d\d(\s*#\d+)?$")
PHOTOS_PRODUCT_HINT = re.compile(r"^google\s*(photos|fotos|foto|фото|φωτογραφίες|フォト|相册|포토)", re.I)
SPECIAL_NAMES = {"trash", "bin", "archive", "archiv", "archivio", "archives", "locked folder",
                 "failed videos", "papierkorb", "corbeille", "papelera", "cestino", "prullenbak", "kosz"}

# a location's rank: lower is preferred as the photo's primary path
RANK_YEAR, RANK_ALBUM, RANK_SPECIAL, RANK_OTHER = 0, 10, 20, 30


def media_kind(name: str) -> str | None:
    """'image', 'video' or None (not media) from a file name."""
    stem, ext = split_ext(name)
    ext = ext.lower()
    if ext in IMAGE_EXT:
        return "image"
    if ext in VIDEO_EXT:
        return "video"
    if not ext and stem.upper().startswith(("MVIMG_", "MV_", "PXL_", "IMG_", "VID_")):
        return "video"  # extension-less motion photo video parts are really MP4
    return None


def classify(key: tuple, album: tuple | None, sidecars: list[dict]) -> tuple[int, tuple | None]:
    """(rank, album (key, title, description) or None) of the folder at logical path `key`, given
    its album JSON's (title, description) and its sidecars' metadata."""
    name = key[-1] if key else ""
    flat = name.replace("\u00a0", " ").replace("\u202f", " ")
    if album is not None:
        title, desc = album
        return RANK_ALBUM, ("/".join(key), title or name, desc)
    if YEAR_FOLDER.match(flat) or DAY_FOLDER.match(flat):
        return RANK_YEAR, None
    if flat.lower() in SPECIAL_NAMES or (sidecars and (all(s.get("trashed") for s in sidecars)
                                                       or all(s.get("archived") for s in sidecars))):
        return RANK_SPECIAL, None
    if len(key) < 2:  # files right in the product folder (or above it): no album
        return RANK_OTHER, None
    return RANK_ALBUM, ("/".join(key), name, None)  # older exports: albums without album JSON


def pair_live(media: dict[str, str]) -> dict[str, str]:
    """video name -> still name among one folder's {name: media kind}: `IMG.MP4` + `IMG.HEIC`,
    `PXL.MP` + `PXL.MP.jpg`, `MVIMG_x` + `MVIMG_x.jpg`."""
    by_stem: dict[str, str] = {}
    by_name: dict[str, str] = {}
    for name, kind in media.items():
        if kind == "image":
            by_stem.setdefault(split_ext(name)[0].casefold(), name)
            by_name[name.casefold()] = name
    out = {}
    for name, kind in media.items():
        if kind != "video":
            continue
        stem, ext = split_ext(name)
        cands = [by_name.get((name + e).casefold()) for e in (".jpg", ".jpeg", ".heic")]
        if ext:
            cands.append(by_stem.get(stem.casefold()))
        still = next((c for c in cands if c), None)
        if still is not None:
            out[name] = still
    return out


def unmatched_cause(name: str, archives: list, missing: list) -> str:
    """Why a media file probably has no sidecar."""
    if unedited(split_ext(name)[0]):
        return "edited copy whose original's sidecar was not found: archive part missing?"
    if missing:
        return f"no sidecar: archive part missing? (parts {', '.join(map(str, missing))} not given)"
    if archives:
        return "no sidecar in the given parts: archive part missing?"
    return "no sidecar beside it"
