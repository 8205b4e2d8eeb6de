"""Google Photos Takeout: multi-part zips / tgz / an extracted folder, read in place as ONE source.

Discovery lists every part first (zip central directories, one streamed pass per tar), reads the
JSON files (sidecars and album JSON, told apart by content), then matches media to sidecars per
folder (rules in takeout_match.py) and yields every media file with the metadata of its sidecar.
Identity is left to the crawler: it hashes each location, so the same bytes in a year folder, two
albums and two parts become one photo with five locations and the union of its albums.

Folders are classified without a language list where the content allows it: a folder holding an
album JSON is an album; a folder named like a year or a day ("Photos from 2019", "Fotos von 2019",
"2005-02-05") is a year folder, preferred as the primary location; a folder whose every sidecar
says trashed/archived is the Trash/Archive.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import BinaryIO, Iterator

from ..catalog import Location
from .archives import (MAX_SMALL_READ, ArchiveError, ArchivePool, Member, archive_kind, iter_tar, list_zip,
                       safe_parts)
from .base import FindError, Found, Source
from .media import is_junk
from .takeout_match import SidecarIndex, split_ext, unedited
from .walk import walk_files

IMAGE_EXT = {".jpg", ".jpeg", ".jpe", ".png", ".gif", ".webp", ".heic", ".heif", ".dng", ".tif", ".tiff",
             ".bmp", ".avif"}
VIDEO_EXT = {".mp4", ".mov", ".m4v", ".3gp", ".3g2", ".avi", ".mts", ".m2ts", ".mkv", ".webm", ".mpg",
             ".mpeg", ".wmv", ".mp"}
YEAR_FOLDER = re.compile(r"^[^\d]{0,40}(18|19|20)\d\d[^\d]{0,12}$")
DAY_FOLDER = re.compile(r"^(18|19|20)\d\d-\d\d-\d\d(\s*#\d+)?$")
PHOTOS_PRODUCT_HINT = re.compile(r"^google\s*(photos|fotos|foto|фото|φωτογραφίες|フォト|相册|포토)", re.I)
SPECIAL_NAMES = {"trash", "bin", "archive", "archiv", "archivio", "archives", "locked folder",
                 "failed videos", "papierkorb", "corbeille", "papelera", "cestino", "prullenbak", "kosz"}
PART_NUMBER = re.compile(r"^(takeout-[^/]*?)-(\d{3})\.(zip|tgz|tar\.gz|tar)$", re.I)

RANK_YEAR, RANK_ALBUM, RANK_SPECIAL, RANK_OTHER = 0, 10, 20, 30


# -- the sidecar ----------------------------------------------------------------------------------
def _epoch(value) -> int | None:
    if isinstance(value, dict):
        value = value.get("timestamp")
    if isinstance(value, bool) or value is None:
        return None
    try:
        ts = int(str(value).strip())
    except ValueError:
        return None
    return ts if 0 < ts < 32503680000 else None  # 0 / "" mean "unknown"; beyond year 3000 is junk


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _geo(value) -> dict | None:
    if not isinstance(value, dict):
        return None
    try:
        lat, lon = float(value.get("latitude")), float(value.get("longitude"))
    except (TypeError, ValueError):
        return None
    if (lat == 0 and lon == 0) or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    out = {"lat": round(lat, 7), "lon": round(lon, 7)}
    alt = value.get("altitude")
    if isinstance(alt, (int, float)) and not isinstance(alt, bool) and alt == alt:
        out["alt"] = round(float(alt), 2)
    return out


def _flag(value) -> bool | None:
    if isinstance(value, bool):
        return value or None
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true" or None
    return None


def sidecar_meta(doc: dict) -> dict:
    """Catalog metadata from a photo sidecar; a field of the wrong type is left out, never fatal."""
    meta: dict = {}
    ts = _epoch(doc.get("photoTakenTime")) or _epoch(doc.get("creationTime"))
    if ts:
        meta["taken_at"] = _iso(ts)
    edited, camera = _geo(doc.get("geoData")), _geo(doc.get("geoDataExif"))
    place = edited or camera
    if place:
        meta.update(place)
    if camera:
        meta["geo_exif"] = camera
    for key in ("title", "description"):
        v = doc.get(key)
        if isinstance(v, str) and v.strip():
            meta[key] = v.strip()
    people = doc.get("people")
    if isinstance(people, list):
        names = sorted({p["name"].strip() for p in people
                        if isinstance(p, dict) and isinstance(p.get("name"), str) and p["name"].strip()})
        if names:
            meta["people"] = names
    for src, dst in (("favorited", "favorite"), ("archived", "archived"), ("trashed", "trashed")):
        v = _flag(doc.get(src))
        if v:
            meta[dst] = True
    return meta


def json_kind(doc) -> str:
    """'sidecar', 'album' or 'other', by content alone (file names are localized)."""
    if not isinstance(doc, dict):
        return "other"
    if isinstance(doc.get("albumData"), dict):
        return "album"
    if any(k in doc for k in ("photoTakenTime", "creationTime", "imageViews", "photoLastModifiedTime")):
        return "sidecar"  # (album JSON may carry geoData too, so that key decides nothing)
    if isinstance(doc.get("title"), str):
        return "album"
    return "other"


def album_info(doc: dict) -> tuple[str | None, str | None]:
    d = doc.get("albumData") if isinstance(doc.get("albumData"), dict) else doc
    title = d.get("title") if isinstance(d.get("title"), str) and d.get("title").strip() else None
    desc = d.get("description") if isinstance(d.get("description"), str) and d.get("description").strip() else None
    return title, desc


# -- what discovery collects ----------------------------------------------------------------------
@dataclass
class Item:
    path: str               # the archive (or the file, for an extracted folder)
    entry: str              # member name ('' for a plain file)
    logical: tuple          # safe path components below Takeout/
    size: int
    crc: int | None
    mtime_ns: int
    archive: bool
    order: tuple = ()       # (part number, position in the part): the order reads are cheapest in
    raw: tuple | None = None  # zip: (CRC32, size, method, compressed size), free from the directory


@dataclass
class Part:
    path: str
    kind: str               # zip | tar | folder
    items: list = field(default_factory=list)
    docs: list = field(default_factory=list)   # (Item, parsed JSON)
    has_takeout_dir: bool = False


def _media_kind(name: str) -> str | None:
    stem, ext = split_ext(name)
    ext = ext.lower()
    if ext in IMAGE_EXT:
        return "image"
    if ext in VIDEO_EXT:
        return "video"
    if not ext and stem.upper().startswith(("MVIMG_", "MV_", "PXL_", "IMG_", "VID_")):
        return "video"  # extension-less motion photo video parts are really MP4
    return None


class TakeoutSource(Source):
    kind = "takeout"
    origin = "takeout"

    def __init__(self, root: str, info: dict | None = None):
        super().__init__(root, info)
        self.paths: list[str] = list(self.info.get("paths") or [root])
        self.archives = ArchivePool()
        self.live_pairs: list[tuple[tuple[str, str], tuple[str, str]]] = []
        self.twins: dict[tuple[str, str], tuple[str, str]] = {}  # zip member -> its earlier look-alike
        self.report: dict = {}

    @property
    def sequential(self) -> bool:
        """Tars can only be read forward: the crawler reads them on one thread, in order."""
        return any(archive_kind(p) == "tar" for p in self._inputs()[0])

    # -- inputs -----------------------------------------------------------------------------------
    def _inputs(self) -> tuple[list[str], list[str], list[FindError]]:
        archives, folders, errors = [], [], []
        for p in self.paths:
            if os.path.isdir(p):
                try:
                    names = sorted(os.listdir(p))
                except OSError as e:
                    errors.append(FindError(p, "unreadable", f"cannot list folder: {e.strerror}"))
                    continue
                found = [os.path.join(p, n) for n in names
                         if archive_kind(n) and not n.startswith(".") and os.path.isfile(os.path.join(p, n))]
                archives += found
                if not found or any(os.path.isdir(os.path.join(p, n)) and not n.startswith(".") for n in names):
                    folders.append(p)
            elif os.path.isfile(p) and archive_kind(p):
                archives.append(p)
            elif os.path.exists(p):
                errors.append(FindError(p, "not-takeout", "not a Takeout archive (.zip, .tgz) or folder"))
            else:
                errors.append(FindError(p, "missing", "no such file or folder"))
        seen: set = set()
        archives = [a for a in archives if not (a in seen or seen.add(a))]
        return archives, folders, errors

    def _read_part(self, path: str, part_no: int) -> tuple[Part | None, list[FindError]]:
        errors: list[FindError] = []
        kind = archive_kind(path) or "folder"
        part = Part(path, kind)
        try:
            mtime = os.stat(path).st_mtime_ns
        except OSError as e:
            return None, [FindError(path, "unreadable", f"cannot open: {e.strerror}")]

        def add(member: Member, read_json) -> None:
            raw = safe_parts(member.name)
            if raw and raw[0].lower() == "takeout":
                part.has_takeout_dir = True
                raw = raw[1:]
            if not raw or raw[-1].startswith(".") or is_junk(raw[-1]):
                return
            item = Item(path, member.name, tuple(raw), member.size, member.crc, mtime, True,
                        (part_no, len(part.items) + len(part.docs)),
                        (member.crc, member.size, member.method, member.compress_size)
                        if kind == "zip" and path not in self.archives.salvaged else None)
            if raw[-1].lower().endswith(".json"):
                try:
                    data = read_json()
                    part.docs.append((item, json.loads(data.decode("utf-8-sig"))))
                except (ValueError, UnicodeDecodeError) as e:
                    errors.append(FindError(f"{path}!{member.name}", "bad-json", f"malformed JSON: {e}"))
                except (OSError, EOFError) as e:
                    errors.append(FindError(f"{path}!{member.name}", getattr(e, "kind", "unreadable"), str(e)))
            else:
                part.items.append(item)

        try:
            if kind == "zip":
                members, salvaged = list_zip(path)
                if salvaged is not None and not members:
                    return None, [FindError(path, "corrupt", f"not a readable zip archive ({salvaged})")]
                if salvaged is not None:
                    self.archives.salvaged[path] = {m.name: m for m in members}
                    errors.append(FindError(path, "truncated",
                                            f"archive damaged or cut short ({salvaged}); read the "
                                            f"{len(members)} complete members before the damage"))
                names: set = set()
                for m in members:
                    if m.name in names:
                        errors.append(FindError(f"{path}!{m.name}", "duplicate-entry",
                                                "the same name twice in one archive: only the first is read"))
                        continue
                    names.add(m.name)
                    add(m, lambda m=m: self.archives.read_small(path, m.name))
            elif kind == "tar":
                index: dict = {}
                self.archives.tar_index[path] = index
                for m, tf, ti in iter_tar(path):
                    if m.name in index:
                        errors.append(FindError(f"{path}!{m.name}", "duplicate-entry",
                                                "the same name twice in one archive: only the first is read"))
                        continue
                    index[m.name] = m.offset

                    def read_json(tf=tf, ti=ti, m=m):
                        if ti.size > MAX_SMALL_READ:
                            raise ArchiveError("too-large", f"{ti.size} bytes: not a sidecar")
                        f = tf.extractfile(ti)
                        return f.read() if f else b""
                    add(m, read_json)
            else:
                self._walk_folder(path, part, errors, part_no)
        except ArchiveError as e:
            errors.append(FindError(path, e.kind, str(e)))
            if not part.items and not part.docs:
                return None, errors
        return part, errors

    def _walk_folder(self, root: str, part: Part, errors: list[FindError], part_no: int) -> None:
        for found in walk_files(root, descend=lambda d: archive_kind(d.name) is None):
            if isinstance(found, FindError):
                errors.append(found)
                continue
            e, st = found
            if os.path.dirname(e.path) == root.rstrip(os.sep) and archive_kind(e.name):
                continue  # archives beside an extracted folder are parts of their own
            raw = safe_parts(os.path.relpath(e.path, root))
            base = os.path.basename(root.rstrip(os.sep))
            if raw and raw[0].lower() == "takeout":
                part.has_takeout_dir = True
                raw = raw[1:]
            elif base.lower() == "takeout":
                part.has_takeout_dir = True
            else:  # pointed at the product folder itself ("Google Photos", "Google Fotos", ...)
                raw = safe_parts(base) + raw
            item = Item(e.path, "", tuple(raw), st.st_size, None, st.st_mtime_ns, False,
                        (part_no, len(part.items) + len(part.docs)))
            if e.name.lower().endswith(".json"):
                try:
                    if st.st_size > MAX_SMALL_READ:
                        raise ArchiveError("too-large", f"{st.st_size} bytes: not a sidecar")
                    with open(e.path, "rb") as f:
                        part.docs.append((item, json.loads(f.read().decode("utf-8-sig"))))
                except (ValueError, UnicodeDecodeError) as err:
                    errors.append(FindError(e.path, "bad-json", f"malformed JSON: {err}"))
                except OSError as err:
                    errors.append(FindError(e.path, getattr(err, "kind", "unreadable"), str(err)))
            else:
                part.items.append(item)

    # -- discovery --------------------------------------------------------------------------------
    def discover(self) -> Iterator[Found | FindError]:
        archives, folders, errors = self._inputs()
        yield from errors
        parts: list[Part] = []
        for part_no, path in enumerate(archives + folders):
            part, errs = self._read_part(path, part_no)
            yield from errs
            if part is None:
                continue
            sidecars = sum(1 for _, d in part.docs if json_kind(d) in ("sidecar", "album"))
            if not part.items and not part.docs:
                yield FindError(path, "empty", "empty archive (nothing in it)" if part.kind != "folder"
                                else "empty folder (nothing in it)")
                continue
            if not part.has_takeout_dir and not sidecars:
                yield FindError(path, "not-takeout", "not a Google Takeout export (no Takeout/ folder and "
                                                     "no photo sidecars): skipped; use `trove ingest folder`")
                continue
            parts.append(part)
        yield from self._catalogue(parts, archives)

    def _catalogue(self, parts: list[Part], archives: list[str]) -> Iterator[Found]:
        # 1. every JSON of every part, once per logical path
        folders: dict[tuple, dict] = {}

        def folder(key: tuple) -> dict:
            f = folders.get(key)
            if f is None:
                f = folders[key] = {"index": SidecarIndex(), "album": None, "sidecars": {}, "media": []}
            return f

        products_with_photos: set = set()
        for part in parts:
            for item, doc in part.docs:
                kind = json_kind(doc)
                f = folder(item.logical[:-1])
                if kind == "album" and f["album"] is None:
                    f["album"] = album_info(doc)
                elif kind == "sidecar" and item.logical not in f["sidecars"]:
                    f["sidecars"][item.logical] = sidecar_meta(doc)
                    f["index"].add(item.logical[-1], item.logical)
                else:
                    continue
                if len(item.logical) >= 3:
                    products_with_photos.add(item.logical[0])
        # 2. media files, grouped by folder; other Takeout products (Drive, Mail, ...) are skipped
        skipped = 0
        for part in parts:
            for item in part.items:
                if len(item.logical) >= 3 and item.logical[0] not in products_with_photos \
                        and not PHOTOS_PRODUCT_HINT.match(item.logical[0]):
                    skipped += 1
                    continue
                media = _media_kind(item.logical[-1])
                if media is None:
                    continue
                folder(item.logical[:-1])["media"].append((item, media))
        # 3. classify folders, match, pair live photos
        matched_sidecars: set = set()
        unmatched: list[dict] = []
        missing_parts = _missing_parts(archives)
        found: list[tuple[Item, Found]] = []
        albums: dict[str, str] = {}
        counts = {"media_files": 0, "videos": 0, "live_videos": 0, "media_matched": 0}
        for key, f in folders.items():
            if not f["media"]:
                continue
            rank, album = self._classify(key, f)
            if album:
                albums[album[0]] = album[1] or key[-1]
            names = {}
            for item, media in f["media"]:
                names.setdefault(item.logical[-1], (item, media))
            metas: dict[str, dict] = {}
            for name, (item, media) in names.items():
                hit = f["index"].find(name)
                if hit is not None:
                    metas[name] = dict(f["sidecars"][hit], sidecar="/".join(hit))
                    matched_sidecars.add(hit)
            live = self._pair_live(names)
            for video, still in live.items():
                if video not in metas and still in metas:
                    metas[video] = {k: v for k, v in metas[still].items()}
            for name, (item, media) in names.items():
                counts["media_files"] += 1
                counts["videos"] += media == "video"
                counts["live_videos"] += name in live
                if name in metas:
                    counts["media_matched"] += 1
                else:
                    unmatched.append({"path": "/".join(item.logical), "at": [item.path, item.entry],
                                      "cause": self._cause(name, media, archives, missing_parts)})
            for item, media in f["media"]:
                name = item.logical[-1]
                meta = dict(metas.get(name, {}))
                if media == "video":
                    meta["media"] = "video"
                if name in live:
                    meta["live_photo"] = True
                    still_item = names[live[name]][0]
                    self.live_pairs.append(((item.path, item.entry), (still_item.path, still_item.entry)))
                found.append((item, Found(item.path, item.entry, item.size, item.mtime_ns, meta,
                                          [album] if album else [], rank)))
        unused = [{"path": "/".join(k), "cause": "its photo is not in the given parts: archive part missing?"
                   if archives else "its photo is not in the folder"}
                  for f in folders.values() for k in f["sidecars"] if k not in matched_sidecars]
        self.report = {
            "parts": [p.path for p in parts], "parts_missing": missing_parts,
            **counts, "sidecars": sum(len(f["sidecars"]) for f in folders.values()),
            "sidecars_matched": len(matched_sidecars),
            "media_unmatched": unmatched, "sidecars_unused": unused,
            "albums": sorted(albums.values()), "other_products_skipped": skipped,
        }
        # yield in archive order: location ids follow it, so a forward-only reader reads each part once
        found.sort(key=lambda x: x[0].order)
        # zip members with equal CRC32, size, method and compressed size may be copies (the year
        # folder, each album, each part): copy_of() proves it by comparing their stored bytes
        first: dict[tuple, tuple[str, str]] = {}
        for item, _f in found:
            if item.raw is not None and item.raw[0] is not None:
                key = (item.path, item.entry)
                orig = first.setdefault(item.raw, key)
                if orig != key:
                    self.twins[key] = orig
        for _item, fnd in found:
            yield fnd

    def _classify(self, key: tuple, f: dict) -> tuple[int, tuple | None]:
        name = key[-1] if key else ""
        flat = name.replace("\u00a0", " ").replace("\u202f", " ")
        if f["album"] is not None:
            title, desc = f["album"]
            return RANK_ALBUM, ("/".join(key), title or name, desc)
        if YEAR_FOLDER.match(flat) or DAY_FOLDER.match(flat):
            return RANK_YEAR, None
        sidecars = list(f["sidecars"].values())
        if flat.lower() in SPECIAL_NAMES or (sidecars and (all(s.get("trashed") for s in sidecars)
                                                           or all(s.get("archived") for s in sidecars))):
            return RANK_SPECIAL, None
        if len(key) < 2:  # files right in the product folder (or above it): no album
            return RANK_OTHER, None
        return RANK_ALBUM, ("/".join(key), name, None)  # older exports: albums without album JSON

    @staticmethod
    def _pair_live(names: dict) -> dict[str, str]:
        """video name -> still name: `IMG.MP4` + `IMG.HEIC`, `PXL.MP` + `PXL.MP.jpg`, `MVIMG_x` + `MVIMG_x.jpg`."""
        by_stem: dict[str, str] = {}
        by_name: dict[str, str] = {}
        for name, (_item, media) in names.items():
            if media == "image":
                by_stem.setdefault(split_ext(name)[0].casefold(), name)
                by_name[name.casefold()] = name
        out = {}
        for name, (_item, media) in names.items():
            if media != "video":
                continue
            stem, ext = split_ext(name)
            cands = [by_name.get((name + e).casefold()) for e in (".jpg", ".jpeg", ".heic")]
            if ext:
                cands.append(by_stem.get(stem.casefold()))
            still = next((c for c in cands if c), None)
            if still is not None:
                out[name] = still
        return out

    @staticmethod
    def _cause(name: str, media: str, archives: list, missing: list) -> str:
        if unedited(split_ext(name)[0]):
            return "edited copy whose original's sidecar was not found: archive part missing?"
        if missing:
            return f"no sidecar: archive part missing? (parts {', '.join(map(str, missing))} not given)"
        if archives:
            return "no sidecar in the given parts: archive part missing?"
        return "no sidecar beside it"

    # -- reading ----------------------------------------------------------------------------------
    def open(self, loc: Location) -> BinaryIO:
        if not loc.entry:
            return open(loc.path, "rb")
        return self.archives.open_member(loc.path, loc.entry)

    def copy_of(self, loc: Location) -> tuple[str, str] | None:
        orig = self.twins.get((loc.path, loc.entry))
        if orig is not None and self.archives.raw_equal((loc.path, loc.entry), orig):
            return orig
        return None

    def close(self) -> None:
        self.archives.close()

    def after_read(self, catalog, source_id: int) -> None:
        """Link live/motion videos to their stills (needs both hashed) and keep the report."""
        link = ("SELECT photo_id FROM locations WHERE source_id=? AND path=? AND entry=? "
                "AND state='ok' AND photo_id IS NOT NULL")
        for (vpath, ventry), (spath, sentry) in self.live_pairs:
            v = catalog.db.execute(link, (source_id, vpath, ventry)).fetchone()
            s = catalog.db.execute(link, (source_id, spath, sentry)).fetchone()
            if v and s and v[0] != s[0]:
                catalog.db.execute("UPDATE photos SET live_of=? WHERE id=? AND media='video'", (s[0], v[0]))
        row = catalog.source(source_id)
        info = json.loads(row["info"] or "{}") if row else {}
        info["paths"] = sorted(set(info.get("paths", [])) | set(self.paths))
        if self.report:
            info["report"] = self.report
        catalog.db.execute("UPDATE sources SET info=? WHERE id=?", (json.dumps(info, ensure_ascii=False), source_id))


def _missing_parts(archives: list[str]) -> list[int]:
    """Part numbers absent between the first and the last given (`...-001.zip`, `-003.zip`: 2)."""
    groups: dict[str, set] = {}
    for a in archives:
        m = PART_NUMBER.match(os.path.basename(a))
        if m:
            groups.setdefault(m.group(1).lower(), set()).add(int(m.group(2)))
    missing: list[int] = []
    for nums in groups.values():
        missing += [n for n in range(1, max(nums)) if n not in nums]
    return sorted(set(missing))


# -- the report -----------------------------------------------------------------------------------
def takeout_report(catalog, source_id: int) -> dict:
    """What a Takeout source holds now: the discovery report plus what hashing found."""
    row = catalog.source(source_id)
    if row is None or row["kind"] != "takeout":
        return {}
    rep = dict(json.loads(row["info"] or "{}").get("report") or {})
    q = catalog.db.execute
    locs, loc_bytes = q("SELECT count(*), coalesce(sum(size),0) FROM locations WHERE source_id=? AND state='ok'",
                        (source_id,)).fetchone()
    photos, photo_bytes, videos = q(
        "SELECT count(*), coalesce(sum(size),0), coalesce(sum(media='video'),0) FROM photos WHERE id IN "
        "(SELECT photo_id FROM locations WHERE source_id=? AND state='ok')", (source_id,)).fetchone()
    live = q("SELECT count(*) FROM photos WHERE live_of IS NOT NULL AND id IN "
             "(SELECT photo_id FROM locations WHERE source_id=? AND state='ok')", (source_id,)).fetchone()[0]
    # a photo counts as matched when any of its copies had a sidecar
    with_sidecar = {r[0] for r in q(
        "SELECT DISTINCT photo_id FROM locations WHERE source_id=? AND state='ok' "
        "AND json_extract(meta, '$.sidecar') IS NOT NULL", (source_id,))}
    photo_of = {(r[0], r[1]): r[2] for r in q(
        "SELECT path, entry, photo_id FROM locations WHERE source_id=? AND state='ok'", (source_id,))}
    unmatched = [u for u in rep.get("media_unmatched", [])
                 if photo_of.get(tuple(u.get("at", ()))) not in with_sidecar]
    albums = [{"title": r[0], "photos": r[1]} for r in q(
        "SELECT coalesce(a.title, a.key), count(DISTINCT l.photo_id) FROM albums a "
        "JOIN location_albums la ON la.album_id=a.id JOIN locations l ON l.id=la.location_id "
        "WHERE a.source_id=? AND l.state='ok' GROUP BY a.id ORDER BY 1", (source_id,))]
    errors = {f"{r[0]}/{r[1]}": r[2] for r in q(
        "SELECT stage, kind, count(*) FROM errors WHERE source_id=? GROUP BY 1, 2 ORDER BY 3 DESC", (source_id,))}
    rep.update({
        "source_id": source_id, "locations": locs, "photos": photos - videos, "videos": videos,
        "live_videos_linked": live, "duplicates_collapsed": locs - photos, "bytes_saved": loc_bytes - photo_bytes,
        "photos_with_sidecar": len(with_sidecar), "media_unmatched": unmatched,
        "albums": albums, "errors": errors,
    })
    return rep


def describe_report(rep: dict, limit: int = 20) -> str:
    """The report for people: a few lines, the unmatched listed with their likely cause."""
    if not rep:
        return ""
    mb = rep.get("bytes_saved", 0) / (1 << 20)
    lines = [
        f"takeout [{rep.get('source_id')}]: {len(rep.get('parts', []))} part(s)"
        + (f", parts {', '.join(map(str, rep['parts_missing']))} missing" if rep.get("parts_missing") else ""),
        f"  photos: {rep.get('photos', 0)}, videos: {rep.get('videos', 0)} "
        f"({rep.get('live_videos_linked', 0)} live/motion linked to their still)",
        f"  duplicates collapsed: {rep.get('duplicates_collapsed', 0)} copies, {mb:.1f} MiB saved "
        f"({rep.get('locations', 0)} files -> {rep.get('photos', 0) + rep.get('videos', 0)} items)",
        f"  sidecars: {rep.get('sidecars_matched', 0)} of {rep.get('sidecars', 0)} matched; "
        f"{len(rep.get('media_unmatched', []))} media without sidecar, "
        f"{len(rep.get('sidecars_unused', []))} sidecars without media",
    ]
    for label, key in (("no sidecar", "media_unmatched"), ("unused sidecar", "sidecars_unused")):
        rows = rep.get(key, [])
        for u in rows[:limit]:
            lines.append(f"    {label}: {u['path']} ({u['cause']})")
        if len(rows) > limit:
            lines.append(f"    ... and {len(rows) - limit} more (--json lists all)")
    albums = rep.get("albums", [])
    if albums:
        shown = ", ".join(f"{a['title']} ({a['photos']})" if isinstance(a, dict) else str(a) for a in albums[:limit])
        lines.append(f"  albums: {len(albums)}: {shown}" + (" ..." if len(albums) > limit else ""))
    if rep.get("other_products_skipped"):
        lines.append(f"  other Takeout products skipped: {rep['other_products_skipped']} files")
    errs = rep.get("errors") or {}
    lines.append("  errors: " + (", ".join(f"{k} {v}" for k, v in errs.items()) if errs else "none"))
    return "\n".join(lines)
