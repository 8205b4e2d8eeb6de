"""Photos.sqlite read into memory, one query per table: assets with their capture time and zone,
place, title, caption, keywords, albums (folders as context), named people, favorite, hidden,
trash, burst, kind, edits and whether the original is on this disk.

The database is opened read-only and immutable (never written or locked, even while Photos has it
open); with a `-wal` (Photos running, or quit without a checkpoint) or a hot `-journal`, a private
copy of both in the trove library's scratch folder is read instead, so unsaved changes count and
the library is untouched. Each table is read on its own: a damaged page costs that table's fields
from the damage on (said in `notes`), never the assets already read. Text Photos stores decomposed
(NFD: keywords, titles, file names) is normalised to NFC.
"""
from __future__ import annotations

import math
import os
import shutil
import sqlite3
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import lru_cache

from ..readonly_db import JOURNAL_NOTE, WAL_NOTE, open_snapshot
from .schema import Schema, SchemaError

APPLE_EPOCH = datetime(2001, 1, 1)          # Core Data dates: seconds since then, UTC
NO_PLACE = -180.0                            # Photos' "no location" (not NULL)
ALBUM, SHARED_ALBUM, FOLDER, ROOT_FOLDER = 2, 1505, 4000, 3999   # ZGENERICALBUM.ZKIND
REFERENCED = 10                              # ZSAVEDASSETTYPE: original left where it was imported from
BURST_KEY, BURST_SELECTED = 16, 8            # ZAVALANCHEPICKTYPE bits
SUBTYPES = {1: "panorama", 2: "live", 10: "screenshot", 101: "slomo", 102: "timelapse"}   # ZKINDSUBTYPE
WAL = ("Photos.sqlite has a -wal file (Photos open, or quit without saving it into the database): read a "
       "private copy that includes those changes; the library itself was not touched")
JOURNAL = ("Photos.sqlite has a hot -journal (a write was interrupted): read a private copy rolled back to "
           "the last complete save; the library itself was not touched")


class LibraryReadError(Exception):
    pass


class Asset:
    """One row of the asset table with what the other tables say of it."""
    __slots__ = ("pk", "uuid", "directory", "filename", "kind", "subtype", "created", "lat", "lon", "favorite",
                 "hidden", "trashed", "edited", "burst", "burst_pick", "width", "height", "saved_type", "portrait",
                 "attrs", "original_name", "tz_offset", "tz_name", "title", "description", "keywords", "people",
                 "albums", "local", "referenced_path")

    def __init__(self, pk, uuid, directory, filename, kind, subtype, created, lat, lon, favorite, hidden, trashed,
                 edited, burst, burst_pick, width, height, saved_type, portrait, attrs):
        self.pk, self.uuid, self.directory, self.filename = pk, uuid, directory, filename
        self.kind, self.subtype, self.created, self.lat, self.lon = kind, subtype, created, lat, lon
        self.favorite, self.hidden, self.trashed, self.edited = favorite, hidden, trashed, edited
        self.burst, self.burst_pick, self.width, self.height = burst, burst_pick, width, height
        self.saved_type, self.portrait, self.attrs = saved_type, portrait, attrs
        self.original_name = self.tz_offset = self.tz_name = self.title = self.description = None
        self.keywords: list[str] = []
        self.people: list[str] = []
        self.albums: list[tuple[str, str, str]] = []
        self.local: bool | None = None            # the original is on this disk, as the database says
        self.referenced_path: str | None = None   # a referenced original's path outside the library

    @property
    def video(self) -> bool:
        return self.kind == 1

    @property
    def referenced(self) -> bool:
        return self.saved_type == REFERENCED or (self.directory or "").startswith("/")

    @property
    def media_kind(self) -> str:
        """photo, video, screenshot, panorama, portrait, live, slomo, timelapse."""
        kind = SUBTYPES.get(self.subtype)
        if kind is None and self.portrait:
            kind = "portrait"
        return kind or ("video" if self.video else "photo")

    def meta(self) -> dict:
        """What the library says of the asset, as the catalog's metadata keys take it."""
        m: dict = {"apple_uuid": self.uuid, "apple_kind": self.media_kind}
        m.update(capture_time(self.created, self.tz_offset, self.tz_name))
        if self.tz_name:
            m["time_zone"] = self.tz_name
        if _valid_place(self.lat, self.lon):
            m["lat"], m["lon"] = self.lat, self.lon
        for key, value in (("original_name", self.original_name), ("title", self.title),
                           ("description", self.description)):
            if value:
                m[key] = value
        if self.keywords:
            m["keywords"] = self.keywords
        if self.people:
            m["people"] = self.people
        if self.favorite:
            m["favorite"] = True
        if self.trashed:
            m["trashed"] = True
        if self.hidden:   # Photos' Hidden album: kept out of the library view, as an archive is
            m["hidden"] = m["archived"] = True
        if self.burst:
            m["burst_id"] = self.burst
        if self.width and self.height:
            m["apple_width"], m["apple_height"] = self.width, self.height   # as Photos shows it (edits included)
        if self.referenced:
            m["referenced"] = True
        return m


@dataclass
class PhotosLibrary:
    path: str                        # the database
    schema: Schema | None
    assets: list[Asset]
    notes: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    damaged: list[str] = field(default_factory=list)
    complete: bool = True            # every asset row was read (the asset table is whole)


def _nfc(text) -> str | None:
    if not isinstance(text, str):
        return None
    text = unicodedata.normalize("NFC", text).strip()
    return text or None


def _valid_place(lat, lon) -> bool:
    return (isinstance(lat, (int, float)) and isinstance(lon, (int, float)) and lat != NO_PLACE and lon != NO_PLACE
            and -90 <= lat <= 90 and -180 <= lon <= 180 and not (lat == 0 and lon == 0))


def capture_time(seconds, offset_seconds, zone_name) -> dict:
    """taken_local with utc_offset when the zone is known (the stored offset, else the zone name
    at that instant), else taken_utc: from ZDATECREATED (seconds since 2001-01-01 UTC)."""
    if not isinstance(seconds, (int, float)) or not math.isfinite(seconds) or abs(seconds) > 3e10:
        return {}
    try:
        instant = APPLE_EPOCH + timedelta(seconds=seconds)
    except OverflowError:
        return {}
    offset = None
    if isinstance(offset_seconds, (int, float)) and abs(offset_seconds) <= 14 * 3600:
        offset = timedelta(seconds=round(offset_seconds / 60) * 60)
    elif zone_name:
        offset = _zone_offset(zone_name, instant)
    if offset is None:
        return {"taken_utc": _iso(instant) + "Z"}
    try:
        local = instant + offset
    except OverflowError:
        return {"taken_utc": _iso(instant) + "Z"}
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return {"taken_local": _iso(local), "utc_offset": f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"}


def _iso(dt: datetime) -> str:
    ms = round(dt.microsecond / 1000)
    if ms == 1000:
        dt, ms = dt.replace(microsecond=0) + timedelta(seconds=1), 0
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + (f".{ms:03d}" if ms else "")


@lru_cache(maxsize=256)
def _zone(name: str):
    """A fixed offset from `GMT+0200` / `UTC-07:00`, or the IANA zone `Europe/Paris`; None if unknown."""
    import re

    m = re.fullmatch(r"(?:GMT|UTC)\s*([+-])(\d{1,2}):?(\d{2})?", name.strip())
    if m:
        minutes = int(m.group(2)) * 60 + int(m.group(3) or 0)
        return timezone(timedelta(minutes=minutes if m.group(1) == "+" else -minutes)) if minutes <= 14 * 60 else None
    if name.strip() in ("GMT", "UTC", "Z"):
        return timezone.utc
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(name.strip())
    except Exception:  # not a zone this machine's tz database knows
        return None


def _zone_offset(name: str, instant: datetime) -> timedelta | None:
    zone = _zone(name)
    if zone is None:
        return None
    try:
        return instant.replace(tzinfo=timezone.utc).astimezone(zone).utcoffset()
    except (OverflowError, ValueError):
        return None


class _Reader:
    """Each table read on its own: a damaged page ends that table's read where the damage is (the
    rows before it are kept) and is said in a note."""

    def __init__(self, db: sqlite3.Connection, notes: list[str]):
        self.db, self.notes, self.damaged = db, notes, []

    def rows(self, query: str, table: str, what: str) -> list:
        got: list = []
        try:
            got.extend(self.db.execute(query))   # keeps the rows read before an error
        except sqlite3.DatabaseError as e:
            self.damaged.append(table)
            self.notes.append(f"{table} partly unreadable ({e}): {what} read for the first {len(got)} row(s) only"
                              if got else f"{table} unreadable ({e}): {what} skipped")
        return got


def load_library(db_path: str, scratch: str | None = None) -> PhotosLibrary:
    """Every asset of the library's database with its metadata. `scratch`: a folder of trove's
    library for the private copy a -wal or hot -journal needs (the system temp folder when None).
    LibraryReadError when the database cannot be opened or holds no asset table."""
    notes: list[str] = []
    try:
        db, tmp = open_snapshot(db_path, notes, scratch)
    except (sqlite3.Error, OSError) as e:
        raise LibraryReadError(f"not a readable Photos database ({getattr(e, 'strerror', None) or e})") from None
    notes[:] = [WAL if n == WAL_NOTE else JOURNAL if n == JOURNAL_NOTE else n for n in notes]
    try:
        skipped: list[str] = []
        try:
            schema = Schema(db, notes, skipped)
        except SchemaError as e:
            raise LibraryReadError(str(e)) from None
        return _load(db, db_path, schema, notes, skipped)
    except sqlite3.DatabaseError as e:
        raise LibraryReadError(f"not a readable Photos database ({e})") from None
    finally:
        db.close()
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def _load(db: sqlite3.Connection, path: str, s: Schema, notes: list[str], skipped: list[str]) -> PhotosLibrary:
    r = _Reader(db, notes)
    a = s.asset
    c = lambda name: s.col(a, name)  # noqa: E731
    portrait = next((col for col in ("ZDEPTHTYPE", "ZDEPTHSTATES") if col in s.columns(a)), None)
    rows = r.rows(
        f"SELECT Z_PK, ZUUID, {c('ZDIRECTORY')}, {c('ZFILENAME')}, {c('ZKIND')}, {c('ZKINDSUBTYPE')}, "
        f"{c('ZDATECREATED')}, {c('ZLATITUDE')}, {c('ZLONGITUDE')}, {c('ZFAVORITE')}, {c('ZHIDDEN')}, "
        f"{c('ZTRASHEDSTATE')}, {s.edited or 'NULL'}, {c('ZAVALANCHEUUID')}, {c('ZAVALANCHEPICKTYPE')}, "
        f"{c('ZWIDTH')}, {c('ZHEIGHT')}, {c('ZSAVEDASSETTYPE')}, {portrait or 'NULL'}, {c('ZADDITIONALATTRIBUTES')} "
        f"FROM {a} ORDER BY Z_PK", a, "assets")
    if s.edited is None:
        skipped.append(f"{a}.ZHASADJUSTMENTS / ZADJUSTMENTSSTATE (column missing: an edit is known by its render)")
    assets: list[Asset] = []
    by_pk: dict[int, Asset] = {}
    for (pk, uuid, directory, filename, kind, subtype, created, lat, lon, fav, hidden, trashed, edited, burst,
         pick, w, h, saved, depth, attrs) in rows:
        if not isinstance(uuid, str) or not uuid:
            continue
        asset = Asset(pk, uuid.upper(), directory if isinstance(directory, str) else None,
                      _nfc(filename), kind, subtype, created, lat, lon, bool(fav), bool(hidden), bool(trashed),
                      None if s.edited is None else bool(edited), burst if isinstance(burst, str) and burst else None,
                      pick if isinstance(pick, int) else None, w if isinstance(w, int) else None,
                      h if isinstance(h, int) else None, saved, bool(depth), attrs)
        assets.append(asset)
        by_pk[pk] = asset
    lib = PhotosLibrary(path, s, assets, notes, skipped, r.damaged, complete=a not in r.damaged)
    by_attrs = _attributes(r, s, by_pk)
    _keywords(r, s, by_attrs)
    _albums(r, s, by_pk)
    _people(r, s, by_pk)
    _availability(r, s, by_pk)
    lib.damaged = r.damaged
    return lib


def _attributes(r: _Reader, s: Schema, by_pk: dict[int, Asset]) -> dict[int, Asset]:
    """Original name, time zone, title and caption; returns attributes pk -> asset."""
    t = "ZADDITIONALASSETATTRIBUTES"
    by_attrs = {asset.attrs: asset for asset in by_pk.values() if isinstance(asset.attrs, int)}
    if not s.need(t, "Z_PK", "ZASSET"):
        return by_attrs
    c = lambda name: s.col(t, name)  # noqa: E731
    descriptions: dict = {}
    rows = r.rows(f"SELECT Z_PK, ZASSET, {c('ZORIGINALFILENAME')}, {c('ZTIMEZONEOFFSET')}, {c('ZTIMEZONENAME')}, "
                  f"{c('ZTITLE')}, {c('ZASSETDESCRIPTION')} FROM {t}", t, "original names, time zones and titles")
    for pk, asset_pk, original, offset, zone, title, description in rows:
        asset = by_pk.get(asset_pk)
        if asset is None:
            continue
        by_attrs[pk] = asset
        asset.original_name, asset.tz_offset, asset.tz_name, asset.title = (_nfc(original), offset, _nfc(zone),
                                                                            _nfc(title))
        if description is not None:
            descriptions[description] = asset
    d = "ZASSETDESCRIPTION"
    if s.need(d, "Z_PK", "ZLONGDESCRIPTION"):
        back = s.col(d, "ZASSETATTRIBUTES")
        for pk, attrs, text in r.rows(f"SELECT Z_PK, {back}, ZLONGDESCRIPTION FROM {d}", d, "captions"):
            asset = by_attrs.get(attrs) if attrs is not None else descriptions.get(pk)
            if asset is not None:
                asset.description = _nfc(text)
    return by_attrs


def _keywords(r: _Reader, s: Schema, by_attrs: dict[int, Asset]) -> None:
    j = s.keyword_join
    if j is None or not s.need("ZKEYWORD", "Z_PK", "ZTITLE"):
        return
    names = {pk: _nfc(title) for pk, title in r.rows("SELECT Z_PK, ZTITLE FROM ZKEYWORD", "ZKEYWORD", "keywords")}
    for attrs, keyword in r.rows(f"SELECT {j.left}, {j.right} FROM {j.table}", j.table, "keywords"):
        asset, name = by_attrs.get(attrs), names.get(keyword)
        if asset is not None and name and name not in asset.keywords:
            asset.keywords.append(name)
    for asset in by_attrs.values():
        asset.keywords.sort()


def _albums(r: _Reader, s: Schema, by_pk: dict[int, Asset]) -> None:
    """Regular and shared albums (folders above them said as context); trashed ones and Photos' own
    (import sessions, projects, smart albums) are not albums."""
    t = "ZGENERICALBUM"
    j = s.album_join
    if j is None or not s.need(t, "Z_PK", "ZKIND"):
        return
    c = lambda name: s.col(t, name)  # noqa: E731
    rows = {row[0]: row[1:] for row in r.rows(
        f"SELECT Z_PK, {c('ZUUID')}, {c('ZTITLE')}, ZKIND, {c('ZPARENTFOLDER')}, {c('ZTRASHEDSTATE')} FROM {t}",
        t, "albums and folders")}

    def folders(parent) -> tuple[list[str], bool]:
        """The folder names above an album, top first, and whether one of them is in the trash."""
        chain, trashed = [], False
        while parent in rows and len(chain) < 64:   # a loop in a damaged table ends here
            _uuid, title, kind, parent, in_trash = rows[parent]
            if kind == ROOT_FOLDER:
                break
            trashed = trashed or bool(in_trash)
            chain.append(_nfc(title) or "Untitled folder")
        return list(reversed(chain)), trashed

    albums: dict = {}
    for pk, (uuid, title, kind, parent, in_trash) in rows.items():
        if kind not in (ALBUM, SHARED_ALBUM) or in_trash:
            continue
        chain, trashed = folders(parent)
        if trashed:
            continue
        what = "Apple Photos shared album" if kind == SHARED_ALBUM else "Apple Photos album"
        albums[pk] = (f"applephotos:album:{uuid or pk}", _nfc(title) or "Untitled album",
                      what + (f" in {' / '.join(chain)}" if chain else ""))
    for album, asset_pk in r.rows(f"SELECT {j.left}, {j.right} FROM {j.table}", j.table, "album membership"):
        info, asset = albums.get(album), by_pk.get(asset_pk)
        if info is not None and asset is not None and info not in asset.albums:
            asset.albums.append(info)


def _people(r: _Reader, s: Schema, by_pk: dict[int, Asset]) -> None:
    """Named people of the faces detected (unnamed faces are not people)."""
    if s.faces is None or not s.need("ZPERSON", "Z_PK"):
        if s.faces is None and s.has("ZDETECTEDFACE"):
            s.skipped.append("ZDETECTEDFACE (no asset/person columns)")
        return
    full, display = s.col("ZPERSON", "ZFULLNAME"), s.col("ZPERSON", "ZDISPLAYNAME")
    names = {pk: _nfc(a) or _nfc(b) for pk, a, b in r.rows(f"SELECT Z_PK, {full}, {display} FROM ZPERSON",
                                                            "ZPERSON", "people")}
    asset_col, person_col = s.faces
    hidden = "WHERE coalesce(ZHIDDEN, 0) = 0" if "ZHIDDEN" in s.columns("ZDETECTEDFACE") else ""
    for asset_pk, person in r.rows(f"SELECT {asset_col}, {person_col} FROM ZDETECTEDFACE {hidden}",
                                   "ZDETECTEDFACE", "people"):
        asset, name = by_pk.get(asset_pk), names.get(person)
        if asset is not None and name and name not in asset.people:
            asset.people.append(name)
    for asset in by_pk.values():
        asset.people.sort()


def _availability(r: _Reader, s: Schema, by_pk: dict[int, Asset]) -> None:
    """Whether each original is on this disk (ZINTERNALRESOURCE's original resource, local
    availability 1) and where a referenced original lives (its bookmark's volume and path)."""
    t = "ZINTERNALRESOURCE"
    if s.need(t, "ZASSET", "ZDATASTORESUBTYPE", "ZLOCALAVAILABILITY"):
        for asset_pk, local in r.rows(f"SELECT ZASSET, ZLOCALAVAILABILITY FROM {t} WHERE ZDATASTORESUBTYPE IN (1, 3)",
                                      t, "which originals are on this disk"):
            asset = by_pk.get(asset_pk)
            if asset is not None:
                asset.local = bool(asset.local) or local == 1
    referenced = [a for a in by_pk.values() if a.referenced]
    if not referenced:
        return
    for a in referenced:
        if (a.directory or "").startswith("/") and a.filename:
            a.referenced_path = os.path.join(a.directory, a.filename)
    if (s.has("ZFILESYSTEMBOOKMARK") and s.has("ZFILESYSTEMVOLUME") and {"ZRESOURCE", "ZPATHRELATIVETOVOLUME"}
            <= s.columns("ZFILESYSTEMBOOKMARK") and "ZFILESYSTEMVOLUME" in s.columns(t)):
        for asset_pk, volume, rel in r.rows(
                "SELECT r.ZASSET, v.ZNAME, b.ZPATHRELATIVETOVOLUME FROM ZFILESYSTEMBOOKMARK b "
                f"JOIN {t} r ON r.Z_PK = b.ZRESOURCE JOIN ZFILESYSTEMVOLUME v ON v.Z_PK = r.ZFILESYSTEMVOLUME",
                "ZFILESYSTEMBOOKMARK", "where referenced originals are"):
            asset = by_pk.get(asset_pk)
            if asset is not None and asset.referenced_path is None and isinstance(volume, str) and isinstance(rel, str):
                asset.referenced_path = os.path.join("/Volumes", volume, rel.lstrip("/"))
