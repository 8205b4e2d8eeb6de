"""Lightroom Classic catalogs (.lrcat, SQLite), read-only, in one pass into memory maps.

A preview `<UUID>-<digest>` belongs to the image whose root file's `AgLibraryFile.id_global` is
UUID and whose `Adobe_imageDevelopSettings.digest` is digest (virtual copies share the UUID). The
catalog is opened `mode=ro&immutable=1`, so it is never written or locked, even while Lightroom
has it open; a catalog with a non-empty `-wal` file is read from a private copy (the WAL holds
changes not yet in the main file, and immutable mode would ignore them).

Columns differ between Lightroom 3 and Classic 13+: every column is looked up first, missing ones
read as NULL and are listed in `skipped`, so an unknown version yields what can be read.
"""
from __future__ import annotations

import os
import shutil
import sqlite3
import zlib
from dataclasses import dataclass, field

from ..readonly_db import open_readonly, open_snapshot
from .images import CatalogImage
from .orientation import LR_ORIENTATION, orientation_code

KNOWN_VERSIONS = range(300000, 1500000)  # Adobe_DBVersion 0300025 (LR3) .. Classic 14
_ORIENT = {**LR_ORIENTATION, **{k.lower(): v for k, v in LR_ORIENTATION.items()}}


class CatalogReadError(Exception):
    pass


@dataclass
class LrCatalog:
    path: str
    version: str | None
    images: list[CatalogImage]
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    errors: list[tuple[str, str, str]] = field(default_factory=list)  # (what, kind, message)

    def __post_init__(self) -> None:
        images = self.images
        self.by_id: dict[int, CatalogImage] = {img.image_id: img for img in images}
        self.by_uuid: dict[str, list[CatalogImage]] = {}
        for img in images:
            lst = self.by_uuid.get(img.uuid)
            if lst is None:
                self.by_uuid[img.uuid] = [img]
            else:
                lst.append(img)


def find_catalog(previews_path: str) -> str | None:
    """The catalog beside `<Name> Previews.lrdata` (or the one catalog in that folder)."""
    path = os.path.abspath(previews_path)
    while path and not path.endswith(".lrdata"):
        parent = os.path.dirname(path)
        if parent == path:
            path = os.path.abspath(previews_path)
            break
        path = parent
    if path.endswith(".lrdata"):
        name = os.path.basename(path)[:-len(".lrdata")]
        folder = os.path.dirname(path)
        for suffix in (" Previews", " Smart Previews", ""):
            if name.endswith(suffix):
                candidate = os.path.join(folder, name[:len(name) - len(suffix)] + ".lrcat")
                if suffix and os.path.isfile(candidate):
                    return candidate
    else:
        folder = path if os.path.isdir(path) else os.path.dirname(path)
    try:
        cats = [n for n in os.listdir(folder) if n.endswith(".lrcat") and not n.startswith(".")]
    except OSError:
        return None
    return os.path.join(folder, cats[0]) if len(cats) == 1 else None


class _Columns:
    """Column lists of the catalog's tables, to build queries that survive other versions."""

    def __init__(self, db: sqlite3.Connection, skipped: list[str]):
        self.db, self.skipped = db, skipped
        self.tables = {r[0].lower(): r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        self.cache: dict[str, set[str]] = {}

    def has_table(self, table: str) -> bool:
        return table.lower() in self.tables

    def cols(self, table: str) -> set[str]:
        if table not in self.cache:
            real = self.tables.get(table.lower())
            self.cache[table] = {r[1] for r in self.db.execute(f'PRAGMA table_info("{real}")')} if real else set()
        return self.cache[table]

    def col(self, alias: str, table: str, column: str) -> str:
        if column in self.cols(table):
            return f"{alias}.{column}"
        if self.has_table(table):
            self.skipped.append(f"{table}.{column} (column missing)")
        return "NULL"

    def need(self, table: str, *columns: str) -> bool:
        if not self.has_table(table):
            self.skipped.append(f"{table} (table missing)")
            return False
        missing = [c for c in columns if c not in self.cols(table)]
        if missing:
            self.skipped.append(f"{table} (no {', '.join(missing)})")
            return False
        return True


def check_catalog(path: str) -> None:
    """Raise CatalogReadError unless `path` opens as a Lightroom catalog (cheap: no rows read)."""
    try:
        db = open_readonly(path)
        try:
            tables = {r[0].lower() for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        finally:
            db.close()
    except (sqlite3.Error, OSError) as e:
        raise CatalogReadError(f"{path}: not a readable Lightroom catalog ({getattr(e, 'strerror', None) or e})") from None
    if not {"adobe_images", "aglibraryfile"} <= tables:
        raise CatalogReadError(f"{path}: not a Lightroom catalog (no Adobe_images / AgLibraryFile tables)")


def load_catalog(path: str) -> LrCatalog:
    """Every image of the catalog with the metadata a recovered photo needs: one query per table."""
    notes: list[str] = []
    skipped: list[str] = []
    try:
        db, tmp = open_snapshot(path, notes)
    except (sqlite3.Error, OSError) as e:
        raise CatalogReadError(f"{path}: not a readable Lightroom catalog ({e})") from None
    try:
        return _load(db, path, skipped, notes)
    except sqlite3.DatabaseError as e:
        raise CatalogReadError(f"{path}: not a readable Lightroom catalog ({e})") from None
    finally:
        db.close()
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def _load(db: sqlite3.Connection, path: str, skipped: list[str], notes: list[str]) -> LrCatalog:
    c = _Columns(db, skipped)
    if not (c.has_table("Adobe_images") and c.has_table("AgLibraryFile")):
        raise CatalogReadError(f"{path}: not a Lightroom catalog (no Adobe_images / AgLibraryFile tables)")
    version = None
    if c.need("Adobe_variablesTable", "name", "value"):
        row = db.execute("SELECT value FROM Adobe_variablesTable WHERE name='Adobe_DBVersion'").fetchone()
        version = str(row[0]) if row and row[0] is not None else None
    try:
        known = version is not None and int(version) in KNOWN_VERSIONS
    except ValueError:
        known = False
    if not known:
        notes.append(f"catalog version {version or 'unknown'} is not one trove was tested with: "
                     "reading what it can")

    # the images and their files: one joined query (primary-key joins only); digests in a map
    digests: dict = {}
    if c.need("Adobe_imageDevelopSettings", "image", "digest"):
        # an image with two rows keeps the first (later items of the dict win)
        digests = dict(db.execute("SELECT image, lower(digest) FROM Adobe_imageDevelopSettings "
                                  "WHERE typeof(digest)='text' ORDER BY id_local DESC"))
    # folders and roots are few: map them once instead of repeating their strings in every row
    folders: dict = {}
    if c.need("AgLibraryFolder", "id_local", "pathFromRoot") and "folder" in c.cols("AgLibraryFile"):
        roots: dict = {}
        if c.need("AgLibraryRootFolder", "id_local", "absolutePath"):
            name = _txt("name") if "name" in c.cols("AgLibraryRootFolder") else "NULL"
            roots = {rid: (a if a[-1:] in ("/", "\\") or not a else a + "/", n or "") for rid, a, n in db.execute(
                f"SELECT id_local, coalesce({_txt('absolutePath')}, ''), {name} FROM AgLibraryRootFolder")}
        root_col = "rootFolder" if "rootFolder" in c.cols("AgLibraryFolder") else "NULL"
        for fid, rid, rel in db.execute(f"SELECT id_local, {root_col}, coalesce({_txt('pathFromRoot')}, '') "
                                        "FROM AgLibraryFolder"):
            folders[fid] = (*roots.get(rid, ("", "")), rel)
    col = c.col
    original = _txt(col('f', 'AgLibraryFile', 'originalFilename'))
    q = f"""
        SELECT i.id_local, upper({_txt(col('f', 'AgLibraryFile', 'id_global'))}),
               {col('f', 'AgLibraryFile', 'folder')},
               coalesce({_txt(col('f', 'AgLibraryFile', 'baseName'))}, {original}),
               CASE WHEN {_txt(col('f', 'AgLibraryFile', 'baseName'))} IS NULL THEN NULL
                    ELSE {_txt(col('f', 'AgLibraryFile', 'extension'))} END,
               {_int(col('i', 'Adobe_images', 'masterImage'))}, {_txt(col('i', 'Adobe_images', 'copyName'))},
               {_txt(col('i', 'Adobe_images', 'captureTime'))},
               {_int(col('i', 'Adobe_images', 'rating'), 'BETWEEN 0 AND 5')},
               {_int(col('i', 'Adobe_images', 'pick'), 'IN (-1, 0, 1)')},
               {_txt(col('i', 'Adobe_images', 'colorLabels'))}, {col('i', 'Adobe_images', 'orientation')},
               {_txt(col('i', 'Adobe_images', 'fileFormat'))}
        FROM Adobe_images i
        JOIN AgLibraryFile f ON f.id_local = i.{'rootFile' if 'rootFile' in c.cols('Adobe_images') else 'NULL'}
        ORDER BY i.id_local"""
    exif = _exif_rows(db, c)
    tags = _keyword_rows(db, c)
    captions: dict = {}
    if c.need("AgLibraryIPTC", "image", "caption"):
        captions = dict(db.execute(f"SELECT image, {_txt('caption')} FROM AgLibraryIPTC "
                                   "WHERE typeof(caption)='text' AND trim(caption) <> ''"))
    images: list[CatalogImage] = []
    append, get_digest, get_exif, get_tags, get_caption = (images.append, digests.get, exif.get, tags.get,
                                                           captions.get)
    no_folder = ("", "", "")
    get_folder = folders.get
    for (image_id, uuid, folder_id, base, ext, master, copy_name, captured, rating, pick, label, orientation,
         fmt) in db.execute(q):
        if uuid is None:
            continue
        if ext is None and base is not None and "." in base:   # only originalFilename was there
            base, _, ext = base.rpartition(".")
        root, root_name, folder = get_folder(folder_id, no_folder)
        append(CatalogImage(
            image_id, uuid, get_digest(image_id), root, root_name, folder, base or "", ext or "", master,
            copy_name, captured, rating, pick or 0, label,
            _ORIENT.get(orientation) if orientation.__class__ is str else orientation_code(orientation),
            fmt, get_exif(image_id), get_tags(image_id), get_caption(image_id)))
    cat = LrCatalog(path, version, images, skipped, notes)
    if c.need("Adobe_AdditionalMetadata", "image", "xmp"):
        bad = _xmp_fields(db, cat.by_id, cat.errors)
        if bad:
            notes.append(f"{bad} image(s) with XMP that could not be decoded")
    return cat


def _exif_rows(db, c: _Columns) -> dict:
    """image id -> (camera, lens, focal length, Av, Tv, ISO, lat, lon), sanity-checked by SQLite."""
    if not c.need("AgHarvestedExifMetadata", "image"):
        return {}
    col = lambda name: c.col("e", "AgHarvestedExifMetadata", name)  # noqa: E731
    joins, cam, lens = "", "NULL", "NULL"
    if c.need("AgInternedExifCameraModel", "id_local", "value") and col("cameraModelRef") != "NULL":
        joins += " LEFT JOIN AgInternedExifCameraModel cm ON cm.id_local = e.cameraModelRef"
        cam = _txt("cm.value")
    if c.need("AgInternedExifLens", "id_local", "value") and col("lensRef") != "NULL":
        joins += " LEFT JOIN AgInternedExifLens ln ON ln.id_local = e.lensRef"
        lens = _txt("ln.value")
    gps = f"coalesce({col('hasGPS')}, 1) AND abs({_real(col('gpsLatitude'))}) <= 90 " \
          f"AND abs({_real(col('gpsLongitude'))}) <= 180 AND NOT ({col('gpsLatitude')} = 0 AND {col('gpsLongitude')} = 0)"
    q = (f"SELECT e.image, {cam}, {lens}, {_real(col('focalLength'), '> 0')}, "
         f"{_real(col('aperture'), 'BETWEEN -2 AND 30')}, {_real(col('shutterSpeed'), 'BETWEEN -20 AND 40')}, "
         f"{_real(col('isoSpeedRating'), '> 0')}, CASE WHEN {gps} THEN {col('gpsLatitude')} END, "
         f"CASE WHEN {gps} THEN {col('gpsLongitude')} END FROM AgHarvestedExifMetadata e{joins}")
    return {row[0]: row[1:] for row in db.execute(q)}


def _keyword_rows(db, c: _Columns) -> dict:
    """image id -> (keywords, people), each joined with \x1f (a control character no name holds)."""
    links, names = c.need("AgLibraryKeywordImage", "image", "tag"), c.need("AgLibraryKeyword", "id_local", "name")
    if not (links and names):
        return {}
    person = f"{c.col('k', 'AgLibraryKeyword', 'keywordType')} = 'person'"
    q = (f"SELECT ki.image, group_concat(CASE WHEN {person} THEN NULL ELSE k.name END, char(31)), "
         f"group_concat(CASE WHEN {person} THEN k.name END, char(31)) FROM AgLibraryKeywordImage ki "
         f"JOIN AgLibraryKeyword k ON k.id_local = ki.tag WHERE typeof(k.name) = 'text' AND trim(k.name) <> '' "
         f"GROUP BY ki.image")
    return {image: (kw, people) for image, kw, people in db.execute(q)}


def _xmp_fields(db, by_id: dict, errors: list) -> int:
    """Title (and caption when IPTC has none) from each image's XMP; returns how many were unreadable.
    An XMP that inflates beyond MAX_XMP is an error of its own (in `errors`), never inflated whole.
    The loop is kept minimal: it runs once per image of catalogs with hundreds of thousands."""
    get, bad = by_id.get, 0
    for image, blob in db.execute("SELECT image, xmp FROM Adobe_AdditionalMetadata "
                                  "WHERE xmp IS NOT NULL AND length(xmp) > 0"):
        img = get(image)
        if img is None:
            continue
        try:
            if blob.__class__ is bytes and blob[:1] != b"<" and blob[4:5] == b"\x78":  # length + zlib stream
                raw = inflate(blob[4:])
            else:
                raw = xmp_bytes(blob)
        except XmpTooLarge as e:
            errors.append((f"image {image} ({img.file_name})", "xmp-too-large", str(e)))
            continue
        if raw is None:
            bad += 1
            continue
        if b"<dc:title>" in raw:
            img.title = _xmp_alt(raw, b"dc:title")
        if img.caption is None and b"<dc:description>" in raw:
            img.caption = _xmp_alt(raw, b"dc:description")
    return bad


def _real(expr: str, check: str = "IS NOT NULL") -> str:
    if expr == "NULL":
        return expr
    return f"CASE WHEN typeof({expr}) IN ('integer','real') AND {expr} {check} THEN {expr} END"


def _txt(expr: str) -> str:
    """SQL: the value when it is non-empty text, else NULL (type checks done by SQLite, not Python)."""
    return "NULL" if expr == "NULL" else f"CASE WHEN typeof({expr})='text' AND {expr}<>'' THEN {expr} END"


def _int(expr: str, check: str = "IS NOT NULL") -> str:
    if expr == "NULL":
        return expr
    return f"CASE WHEN typeof({expr}) IN ('integer','real') AND {expr} {check} THEN CAST({expr} AS INTEGER) END"


def xmp_bytes(blob) -> bytes | None:
    """Adobe_AdditionalMetadata.xmp as XML bytes: plain in old catalogs; in newer ones a 4-byte
    big-endian length followed by zlib data."""
    if isinstance(blob, str):
        return blob.encode("utf-8")
    if not isinstance(blob, (bytes, bytearray, memoryview)):
        return None
    raw = bytes(blob)
    if raw[:64].lstrip()[:1] == b"<":
        return raw
    return inflate(raw[4:]) or inflate(raw)


MAX_XMP = 4 << 20  # an image's XMP is a few KB; Lightroom's largest, with a long edit history, < 1 MB


class XmpTooLarge(ValueError):
    pass


def inflate(data: bytes, limit: int = MAX_XMP) -> bytes | None:
    """zlib data inflated up to `limit` bytes (XmpTooLarge beyond: a blob of 2 MB can inflate to
    gigabytes); None if it is not zlib data."""
    z = zlib.decompressobj()
    try:
        out = z.decompress(data, limit)
    except zlib.error:
        return None
    if z.unconsumed_tail:
        raise XmpTooLarge(f"XMP inflates to more than {limit >> 20} MiB from {len(data)} bytes: skipped")
    return out


def _xmp_alt(xml: bytes, tag: bytes) -> str | None:
    """The x-default text of an rdf:Alt property (a plain byte search: this runs per image)."""
    at = xml.find(b"<" + tag + b">")
    if at < 0:
        return None
    li = xml.find(b"<rdf:li", at)
    start = xml.find(b">", li) + 1
    end = xml.find(b"</rdf:li>", start)
    close = xml.find(b"</" + tag + b">", at)
    if li < 0 or start <= 0 or end < 0 or (0 <= close < end):
        return None
    from html import unescape

    text = unescape(xml[start:end].decode("utf-8", "replace")).strip()
    return text or None
