"""What a Takeout folder is, by its content where possible: an album (it holds an album JSON), a
year or day folder of Google's (holding the primary copies), the Trash/Archive (every sidecar says
so), or a plain folder; which files are media; and which video belongs to which still."""
from __future__ import annotations

import re

from ...media.names import split_ext, unedited

# Google's own year folders, in the languages Takeout writes them ("Photos from 2019"), and the
# day folders of exports before 2021 ("2005-02-05"). Nothing else: "Family Photos 2021",
# "2019-Summer-Trip" or "Photos from 2023 (Backup)" are the user's albums.
_YEAR_PHRASES = ("photos from", "fotos von", "fotos aus", "photos de", "fotos de", "fotos do", "foto del",
                 "foto dal", "foto's uit", "foto’s uit", "zdjęcia z", "фото за", "фотографии за", "фото з",
                 "foton från", "billeder fra", "bilder fra", "kuvat vuodelta", "fotky z roku", "φωτογραφίες από")
YEAR_FOLDER = re.compile(r"^(?:%s) (?:18|19|20)\d\d(?: (?:г\.?|год|рік|року))?$"
                         % "|".join(re.escape(p) for p in _YEAR_PHRASES), re.I)
YEAR_FOLDER_AFTER = re.compile(r"^(?:18|19|20)\d\d ?(?:年の写真|年的照片|年的相片|년 사진|년의 사진)$")
DAY_FOLDER = re.compile(r"^(?:18|19|20)\d\d-[01]\d-[0-3]\d(?: ?#\d+)?$")
PHOTOS_PRODUCT_HINT = re.compile(r"^google\s*(photos|fotos|foto|фото|φωτογραφίες|フォト|相册|포토)", re.I)
# Google's special folders (localized), and the flag their photos carry even without a sidecar
TRASH_NAMES = {"trash", "bin", "papierkorb", "corbeille", "papelera", "cestino", "prullenbak", "kosz", "lixeira",
               "papperskorgen", "papirkurv", "roskakori", "koš", "корзина", "кошик", "ごみ箱", "垃圾桶", "휴지통"}
ARCHIVE_NAMES = {"archive", "archiv", "archivio", "archives", "archivo", "arquivo", "archief", "archiwum",
                 "arkiv", "arkisto", "архив", "архів", "アーカイブ", "归档", "보관함"}
LOCKED_NAMES = {"locked folder", "gesperrter ordner", "dossier verrouillé", "carpeta bloqueada",
                "cartella bloccata", "vergrendelde map", "pasta trancada", "folder zablokowany", "заблокированная папка"}
OTHER_SPECIAL = {"failed videos"}

# a location's rank: lower is preferred as the photo's primary path
RANK_YEAR, RANK_ALBUM, RANK_SPECIAL, RANK_OTHER = 0, 10, 20, 30


def is_year_folder(name: str) -> bool:
    flat = " ".join(name.replace("\u00a0", " ").replace("\u202f", " ").split())
    return bool(YEAR_FOLDER.match(flat) or YEAR_FOLDER_AFTER.match(flat) or DAY_FOLDER.match(flat))


def classify(key: tuple, album: tuple | None, sidecars: list[dict]) -> tuple[int, tuple | None, dict]:
    """(rank, album (key, title, description) or None, flags every photo in it carries) of the
    folder at logical path `key`, given its album JSON's (title, description) and its sidecars'
    metadata."""
    name = key[-1] if key else ""
    low = " ".join(name.replace("\u00a0", " ").split()).lower()
    if album is not None:
        title, desc = album
        return RANK_ALBUM, ("/".join(key), title or name, desc), {}
    if is_year_folder(name):
        return RANK_YEAR, None, {}
    flags = {}
    for flag, names in (("trashed", TRASH_NAMES), ("archived", ARCHIVE_NAMES), ("locked", LOCKED_NAMES)):
        if low in names or (sidecars and all(s.get(flag) for s in sidecars)):
            flags[flag] = True
    if flags or low in OTHER_SPECIAL:
        return RANK_SPECIAL, None, flags
    if len(key) < 2:  # files right in the product folder (or above it): no album
        return RANK_OTHER, None, {}
    return RANK_ALBUM, ("/".join(key), name, None), {}  # an album without album JSON: its folder's name


def pair_live(media: dict[str, str]) -> dict[str, str]:
    """video name -> still name among one folder's {name: media kind}: `IMG.MP4` + `IMG.HEIC`,
    `PXL.MP` + `PXL.MP.jpg`, `MVIMG_x` + `MVIMG_x.jpg`."""
    by_stem: dict[str, str] = {}
    by_name: dict[str, str] = {}
    for name, kind in sorted(media.items()):  # sorted: the same pairs whatever the entry order
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
