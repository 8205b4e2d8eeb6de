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

import math
import os
import re
import shutil
import sqlite3
import tempfile
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from .lrprev import open_readonly, orientation_code

KNOWN_VERSIONS = range(300000, 1500000)  # Adobe_DBVersion 0300025 (LR3) .. Classic 14
ASSUMED_ROOT_NAME = "Photos"


class CatalogReadError(Exception):
    pass


@dataclass
class CatalogImage:
    image_id: int
    uuid: str                       # the preview UUID (root file's id_global)
    digest: str | None              # the current preview digest (develop settings)
    root: str = ""                  # AgLibraryRootFolder.absolutePath
    root_name: str = ""
    folder: str = ""                # pathFromRoot, '/'-separated, ends in '/'
    base_name: str = ""
    extension: str = ""
    master: int | None = None       # the master image of a virtual copy
    copy_name: str | None = None
    capture_time: str | None = None
    rating: int | None = None
    pick: int = 0
    color_label: str | None = None
    orientation: int | None = None
    file_format: str | None = None
    width: int | None = None
    height: int | None = None
    keywords: list[str] = field(default_factory=list)
    people: list[str] = field(default_factory=list)
    camera: str | None = None
    lens: str | None = None
    focal_length: float | None = None
    aperture: float | None = None   # f-number
    shutter: float | None = None    # seconds
    iso: float | None = None
    lat: float | None = None
    lon: float | None = None
    caption: str | None = None
    title: str | None = None

    @property
    def path(self) -> str:
        return f"{self.root}{self.folder}{self.base_name}" + (f".{self.extension}" if self.extension else "")

    @property
    def file_name(self) -> str:
        return os.path.basename(self.path)

    @property
    def is_virtual_copy(self) -> bool:
        return self.master is not None

    def meta(self) -> dict:
        """Catalog metadata under the keys the search catalog resolves (see ingest/base.py), plus
        Lightroom's own extras."""
        taken_at, local, offset = capture_time(self.capture_time)
        m = {
            "taken_at": taken_at, "taken_local": local, "utc_offset": offset,
            "lat": self.lat, "lon": self.lon, "camera": self.camera, "lens": self.lens,
            "orientation": self.orientation, "rating": self.rating, "keywords": self.keywords,
            "people": self.people, "description": self.caption, "title": self.title,
            "pick": self.pick or None, "color_label": self.color_label,
            "focal_length": self.focal_length, "aperture": self.aperture, "shutter": self.shutter,
            "iso": self.iso, "original_path": self.path, "original_name": self.file_name,
            "copy_name": self.copy_name, "file_format": self.file_format, "lr_image_id": self.image_id,
        }
        return {k: v for k, v in m.items() if v is not None and v != []}


def capture_time(value) -> tuple[str | None, str | None, str | None]:
    """Lightroom's captureTime -> (taken_at for the catalog, local wall-clock ISO, '+HH:MM' or None).
    Without a zone the local time is kept as it is (the camera's clock), like EXIF."""
    if not isinstance(value, str):
        return None, None, None
    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d)?)(?:\.\d+)?(Z|[+-]\d\d:?\d\d)?$", value.strip())
    if not m:
        return None, None, None
    local = m.group(1) if len(m.group(1)) == 19 else m.group(1) + ":00"
    zone = m.group(2)
    try:
        dt = datetime.strptime(local, "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return None, None, None
    if not zone:
        return local, local, None
    if zone == "Z":
        return local + "Z", local, "+00:00"
    sign = 1 if zone[0] == "+" else -1
    hh, mm = int(zone[1:3]), int(zone[-2:])
    tz = timezone(sign * timedelta(hours=hh, minutes=mm))
    utc = dt.replace(tzinfo=tz).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return utc, local, f"{zone[0]}{hh:02d}:{mm:02d}"


@dataclass
class LrCatalog:
    path: str
    version: str | None
    images: list[CatalogImage]
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.by_key: dict[tuple[str, str], CatalogImage] = {}
        self.by_uuid: dict[str, list[CatalogImage]] = {}
        self.by_id: dict[int, CatalogImage] = {}
        for img in self.images:
            self.by_id[img.image_id] = img
            self.by_uuid.setdefault(img.uuid, []).append(img)
            if img.digest:
                self.by_key.setdefault((img.uuid, img.digest), img)


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


def _open(path: str, notes: list[str]) -> tuple[sqlite3.Connection, str | None]:
    """Read-only, immutable connection; a private copy when a -wal file holds unsaved changes."""
    wal = path + "-wal"
    try:
        wal_size = os.path.getsize(wal)
    except OSError:
        wal_size = 0
    if wal_size:
        tmp = tempfile.mkdtemp(prefix="trove-lrcat-")
        copy = os.path.join(tmp, "catalog.lrcat")
        shutil.copyfile(path, copy)
        shutil.copyfile(wal, copy + "-wal")
        notes.append("the catalog has a -wal file (Lightroom open, or it crashed): read a private "
                     "copy that includes those changes; the catalog itself was not touched")
        db = sqlite3.connect(copy)
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return db, tmp
    return open_readonly(path), None


def load_catalog(path: str) -> LrCatalog:
    """Every image of the catalog with the metadata a recovered photo needs: one query per table."""
    notes: list[str] = []
    skipped: list[str] = []
    try:
        db, tmp = _open(path, notes)
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

    # the images and their files: one joined query
    dev = "s.digest" if c.need("Adobe_imageDevelopSettings", "image", "digest") else "NULL"
    dev_join = "LEFT JOIN Adobe_imageDevelopSettings s ON s.image = i.id_local" if dev != "NULL" else ""
    has_folders = c.need("AgLibraryFolder", "id_local") and "folder" in c.cols("AgLibraryFile")
    has_roots = has_folders and c.need("AgLibraryRootFolder", "id_local") and "rootFolder" in c.cols("AgLibraryFolder")
    q = f"""
        SELECT i.id_local, {c.col('f', 'AgLibraryFile', 'id_global')}, {dev},
               {c.col('r', 'AgLibraryRootFolder', 'absolutePath') if has_roots else 'NULL'},
               {c.col('r', 'AgLibraryRootFolder', 'name') if has_roots else 'NULL'},
               {c.col('fo', 'AgLibraryFolder', 'pathFromRoot') if has_folders else 'NULL'},
               {c.col('f', 'AgLibraryFile', 'baseName')}, {c.col('f', 'AgLibraryFile', 'extension')},
               {c.col('f', 'AgLibraryFile', 'originalFilename')},
               {c.col('i', 'Adobe_images', 'masterImage')}, {c.col('i', 'Adobe_images', 'copyName')},
               {c.col('i', 'Adobe_images', 'captureTime')}, {c.col('i', 'Adobe_images', 'rating')},
               {c.col('i', 'Adobe_images', 'pick')}, {c.col('i', 'Adobe_images', 'colorLabels')},
               {c.col('i', 'Adobe_images', 'orientation')}, {c.col('i', 'Adobe_images', 'fileFormat')},
               {c.col('i', 'Adobe_images', 'fileWidth')}, {c.col('i', 'Adobe_images', 'fileHeight')}
        FROM Adobe_images i
        JOIN AgLibraryFile f ON f.id_local = i.{'rootFile' if 'rootFile' in c.cols('Adobe_images') else 'NULL'}
        {'LEFT JOIN AgLibraryFolder fo ON fo.id_local = f.folder' if has_folders else ''}
        {'LEFT JOIN AgLibraryRootFolder r ON r.id_local = fo.rootFolder' if has_roots else ''}
        {dev_join}
        ORDER BY i.id_local"""
    images: list[CatalogImage] = []
    seen: set[int] = set()
    for (image_id, uuid, digest, root, root_name, folder, base, ext, original, master, copy_name,
         captured, rating, pick, label, orientation, fmt, width, height) in db.execute(q):
        if not isinstance(uuid, str) or image_id in seen:
            continue  # an image with two develop-settings rows keeps the first
        seen.add(image_id)
        if not base and isinstance(original, str):
            base, _, ext = original.rpartition(".") if "." in original else (original, "", "")
        root = root if isinstance(root, str) else ""
        if root and not root.endswith(("/", "\\")):
            root += "/"
        images.append(CatalogImage(
            image_id=image_id, uuid=uuid.upper(), digest=digest.lower() if isinstance(digest, str) else None,
            root=root, root_name=root_name if isinstance(root_name, str) else "",
            folder=folder if isinstance(folder, str) else "", base_name=base if isinstance(base, str) else "",
            extension=ext if isinstance(ext, str) else "", master=master if isinstance(master, int) else None,
            copy_name=copy_name if isinstance(copy_name, str) and copy_name else None,
            capture_time=captured if isinstance(captured, str) else None,
            rating=int(rating) if isinstance(rating, (int, float)) and 0 <= rating <= 5 else None,
            pick=int(pick) if isinstance(pick, (int, float)) and pick in (-1, 0, 1) else 0,
            color_label=label if isinstance(label, str) and label else None,
            orientation=orientation_code(orientation), file_format=fmt if isinstance(fmt, str) else None,
            width=int(width) if isinstance(width, (int, float)) and width > 0 else None,
            height=int(height) if isinstance(height, (int, float)) and height > 0 else None))
    by_id = {img.image_id: img for img in images}

    _load_exif(db, c, by_id)
    _load_keywords(db, c, by_id)
    if c.need("AgLibraryIPTC", "image", "caption"):
        for image, caption in db.execute("SELECT image, caption FROM AgLibraryIPTC WHERE caption IS NOT NULL"):
            img = by_id.get(image)
            if img and isinstance(caption, str) and caption.strip():
                img.caption = caption
    if c.need("Adobe_AdditionalMetadata", "image", "xmp"):
        bad = 0
        for image, xmp in db.execute("SELECT image, xmp FROM Adobe_AdditionalMetadata WHERE xmp IS NOT NULL"):
            img = by_id.get(image)
            if img is None or not xmp:
                continue
            text = xmp_text(xmp)
            if text is None:
                bad += 1
                continue
            img.title = img.title or _xmp_alt(text, "dc:title")
            img.caption = img.caption or _xmp_alt(text, "dc:description")
        if bad:
            notes.append(f"{bad} image(s) with XMP that could not be decoded")
    return LrCatalog(path, version, images, skipped, notes)


def _load_exif(db, c: _Columns, by_id: dict[int, CatalogImage]) -> None:
    if not c.need("AgHarvestedExifMetadata", "image"):
        return
    cameras = lenses = {}
    if c.need("AgInternedExifCameraModel", "id_local", "value"):
        cameras = dict(db.execute("SELECT id_local, value FROM AgInternedExifCameraModel"))
    if c.need("AgInternedExifLens", "id_local", "value"):
        lenses = dict(db.execute("SELECT id_local, value FROM AgInternedExifLens"))
    col = lambda name: c.col("e", "AgHarvestedExifMetadata", name)  # noqa: E731
    q = (f"SELECT e.image, {col('cameraModelRef')}, {col('lensRef')}, {col('focalLength')}, {col('aperture')}, "
         f"{col('shutterSpeed')}, {col('isoSpeedRating')}, {col('hasGPS')}, {col('gpsLatitude')}, "
         f"{col('gpsLongitude')} FROM AgHarvestedExifMetadata e")
    for image, cam, lens, focal, av, tv, iso, has_gps, lat, lon in db.execute(q):
        img = by_id.get(image)
        if img is None:
            continue
        img.camera = _clean(cameras.get(cam))
        img.lens = _clean(lenses.get(lens))
        if _num(focal) and focal > 0:
            img.focal_length = round(float(focal), 2)
        if _num(av) and -2 < av < 30:
            img.aperture = round(2 ** (av / 2), 1)          # APEX Av -> f-number
        if _num(tv) and -20 < tv < 40:
            img.shutter = round(1 / 2 ** tv, 6)              # APEX Tv -> seconds
        if _num(iso) and iso > 0:
            img.iso = int(iso) if float(iso).is_integer() else float(iso)
        if (has_gps is None or has_gps) and _num(lat) and _num(lon) and abs(lat) <= 90 and abs(lon) <= 180 \
                and not (lat == 0 and lon == 0):
            img.lat, img.lon = round(float(lat), 7), round(float(lon), 7)


def _load_keywords(db, c: _Columns, by_id: dict[int, CatalogImage]) -> None:
    links, names = c.need("AgLibraryKeywordImage", "image", "tag"), c.need("AgLibraryKeyword", "id_local", "name")
    if not (links and names):
        return
    kind = c.col("k", "AgLibraryKeyword", "keywordType")
    q = (f"SELECT ki.image, k.name, {kind} FROM AgLibraryKeywordImage ki "
         f"JOIN AgLibraryKeyword k ON k.id_local = ki.tag WHERE k.name IS NOT NULL ORDER BY ki.image, k.name")
    for image, name, ktype in db.execute(q):
        img = by_id.get(image)
        if img is None or not isinstance(name, str) or not name.strip():
            continue
        target = img.people if ktype == "person" else img.keywords
        if name not in target:
            target.append(name)


def _num(v) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)


def _clean(v) -> str | None:
    return v.strip() if isinstance(v, str) and v.strip() else None


def xmp_text(blob) -> str | None:
    """Adobe_AdditionalMetadata.xmp as text: plain in old catalogs; in newer ones a 4-byte big-endian
    length followed by zlib data."""
    if isinstance(blob, str):
        return blob
    if not isinstance(blob, (bytes, bytearray, memoryview)):
        return None
    raw = bytes(blob)
    if raw.lstrip()[:1] == b"<":
        return raw.decode("utf-8", "replace")
    try:
        return zlib.decompress(raw[4:]).decode("utf-8", "replace")
    except zlib.error:
        try:
            return zlib.decompress(raw).decode("utf-8", "replace")
        except zlib.error:
            return None


def _xmp_alt(xml: str, tag: str) -> str | None:
    m = re.search(rf"<{tag}>\s*<rdf:Alt>\s*<rdf:li[^>]*>(.*?)</rdf:li>", xml, re.DOTALL)
    if not m:
        return None
    from html import unescape

    text = unescape(m.group(1)).strip()
    return text or None
