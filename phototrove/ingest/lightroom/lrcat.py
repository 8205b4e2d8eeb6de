"""Lightroom Classic catalogs (.lrcat, SQLite), read-only, in one pass into memory maps.

A preview `<UUID>-<digest>` belongs to the image whose root file's `AgLibraryFile.id_global` is
UUID and whose `Adobe_imageDevelopSettings.digest` is digest (virtual copies share the UUID). The
catalog is opened `mode=ro&immutable=1`, so it is never written or locked, even while Lightroom
has it open; a catalog with a non-empty `-wal` file, or a hot `-journal` (Lightroom 6 and older
crashed mid-write), is read from a private copy in the library's scratch folder (immutable mode
would ignore the WAL's changes, or read the half-written pages the journal would roll back).

Columns differ between Lightroom 3 and Classic 13+: every column is looked up first, missing ones
read as NULL and are listed in `skipped`, so an unknown version yields what can be read. Each
table is read on its own: a damaged page costs that table's fields from the damage on (said in
`notes`, the table in `damaged`), not the catalog; only an unreadable AgLibraryFile (the names
and preview UUIDs) makes the catalog unusable.
"""
from __future__ import annotations

import os
import shutil
import sqlite3
import zlib
from dataclasses import dataclass, field
from html import unescape
from operator import itemgetter

from ..readonly_db import open_readonly, open_snapshot, pending_changes
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
    smart_collections: list[str] = field(default_factory=list)   # names: their rules are not evaluated
    damaged: list[str] = field(default_factory=list)   # tables read only in part, or not at all (see notes)

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
        if isinstance(e, sqlite3.Error) and pending_changes(path) and _sqlite_header(path):
            return   # the schema as saved is in the -wal, or behind the -journal: load_catalog reads a copy
        raise CatalogReadError(f"{path}: not a readable Lightroom catalog ({getattr(e, 'strerror', None) or e})") from None
    if not {"adobe_images", "aglibraryfile"} <= tables:
        raise CatalogReadError(f"{path}: not a Lightroom catalog (no Adobe_images / AgLibraryFile tables)")


def _sqlite_header(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(16) == b"SQLite format 3\0"
    except OSError:
        return False


def load_catalog(path: str, scratch: str | None = None) -> LrCatalog:
    """Every image of the catalog with the metadata a recovered photo needs: one query per table.
    `scratch`: a folder of trove's library for the private copy a -wal or hot -journal needs (the
    system temp folder when None)."""
    notes: list[str] = []
    skipped: list[str] = []
    try:
        db, tmp = open_snapshot(path, notes, scratch)
    except (sqlite3.Error, OSError) as e:
        raise CatalogReadError(f"{path}: not a readable Lightroom catalog ({getattr(e, 'strerror', None) or e})"
                               ) from None
    try:
        return _load(db, path, skipped, notes)
    except sqlite3.DatabaseError as e:
        raise CatalogReadError(f"{path}: not a readable Lightroom catalog ({e})") from None
    finally:
        db.close()
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


class _Reader:
    """Each table read on its own: a damaged page stops that table's read where the damage is (the
    rows before it are kept) and is said in a note, instead of making the whole catalog unreadable."""

    def __init__(self, db: sqlite3.Connection, notes: list[str]):
        self.db, self.notes, self.damaged = db, notes, []

    def fill(self, into, query: str, table: str, lost: str, rows=None, keyed: bool = False):
        """`into` (a dict or list) updated with the query's rows, or with `rows(cursor)` when given;
        keyed: a dict of whole rows by their first column (built in C: this runs on 250k-row tables)."""
        got = [] if keyed else into
        add = got.update if isinstance(got, dict) else got.extend
        before = len(got)
        try:
            cur = self.db.execute(query)
            add(cur if rows is None else rows(cur))   # update/extend keep what was added before an error
        except sqlite3.DatabaseError as e:
            self.lost(table, e, len(got) - before, lost)
        if keyed:
            into.update(zip(map(itemgetter(0), got), got))
        return into

    def lost(self, table: str, error: Exception, read: int, what: str) -> None:
        self.damaged.append(table)
        if read:
            self.notes.append(f"{table} partly unreadable ({error}): {what} read for the first {read} row(s) "
                              "only, skipped for the rest")
        else:
            self.notes.append(f"{table} unreadable ({error}): {what} skipped")


def _load(db: sqlite3.Connection, path: str, skipped: list[str], notes: list[str]) -> LrCatalog:
    c = _Columns(db, skipped)
    r = _Reader(db, notes)
    if not (c.has_table("Adobe_images") and c.has_table("AgLibraryFile")):
        raise CatalogReadError(f"{path}: not a Lightroom catalog (no Adobe_images / AgLibraryFile tables)")
    version = None
    if c.need("Adobe_variablesTable", "name", "value"):
        row = r.fill([], "SELECT value FROM Adobe_variablesTable WHERE name='Adobe_DBVersion'",
                     "Adobe_variablesTable", "the catalog version")
        version = str(row[0][0]) if row and row[0][0] is not None else None
    try:
        known = version is not None and int(version) in KNOWN_VERSIONS
    except ValueError:
        known = False
    if not known:
        notes.append(f"catalog version {version or 'unknown'} is not one trove was tested with: "
                     "reading what it can")

    digests: dict = {}
    if c.need("Adobe_imageDevelopSettings", "image", "digest"):
        # an image with two rows keeps the first (later items of the dict win)
        r.fill(digests, "SELECT image, lower(digest) FROM Adobe_imageDevelopSettings "
                        "WHERE typeof(digest)='text' ORDER BY id_local DESC",
               "Adobe_imageDevelopSettings", "preview digests")
    folders = _folders(r, c)
    col = c.col
    # the files (names, preview UUIDs) and the images are read apart: either can be damaged alone
    original = _txt(col('f', 'AgLibraryFile', 'originalFilename'))
    files: dict = {}
    r.fill(files, f"""
        SELECT f.id_local, upper({_txt(col('f', 'AgLibraryFile', 'id_global'))}), {col('f', 'AgLibraryFile', 'folder')},
               coalesce({_txt(col('f', 'AgLibraryFile', 'baseName'))}, {original}),
               CASE WHEN {_txt(col('f', 'AgLibraryFile', 'baseName'))} IS NULL THEN NULL
                    ELSE {_txt(col('f', 'AgLibraryFile', 'extension'))} END
        FROM AgLibraryFile f""", "AgLibraryFile", "file names and preview UUIDs", keyed=True)
    if not files and "AgLibraryFile" in r.damaged:
        raise CatalogReadError(f"{path}: not a readable Lightroom catalog ({notes[-1]})")
    image_rows: list = []
    r.fill(image_rows, f"""
        SELECT i.id_local, {col('i', 'Adobe_images', 'rootFile')},
               {_int(col('i', 'Adobe_images', 'masterImage'))}, {_txt(col('i', 'Adobe_images', 'copyName'))},
               {_txt(col('i', 'Adobe_images', 'captureTime'))},
               {_int(col('i', 'Adobe_images', 'rating'), 'BETWEEN 0 AND 5')},
               {_int(col('i', 'Adobe_images', 'pick'), 'IN (-1, 0, 1)')},
               {_txt(col('i', 'Adobe_images', 'colorLabels'))}, {col('i', 'Adobe_images', 'orientation')},
               {_txt(col('i', 'Adobe_images', 'fileFormat'))}
        FROM Adobe_images i ORDER BY i.id_local""", "Adobe_images",
           "ratings, capture times, orientation and virtual copies")
    exif = _exif_rows(r, c)
    tags, tree = _keyword_rows(r, c)
    captions: dict = {}
    if c.need("AgLibraryIPTC", "image", "caption"):
        r.fill(captions, f"SELECT image, {_txt('caption')} FROM AgLibraryIPTC "
                         "WHERE typeof(caption)='text' AND trim(caption) <> ''", "AgLibraryIPTC", "captions")
    collections, smart = _collections(r, c)

    images: list[CatalogImage] = []
    append, get_digest, get_exif, get_tags, get_caption, get_file, get_collections = (
        images.append, digests.get, exif.get, tags.get, captions.get, files.get, collections.get)
    no_folder = ("", "", "")
    get_folder = folders.get
    tree = tree or None
    lost_files = 0
    for (image_id, file_id, master, copy_name, captured, rating, pick, label, orientation, fmt) in image_rows:
        f = get_file(file_id)
        if f is None:
            lost_files += 1
            continue
        _fid, uuid, folder_id, base, ext = f
        if uuid is None:
            continue
        if ext is None and base is not None and "." in base:   # only originalFilename was there
            base, _, ext = base.rpartition(".")
        root, root_name, folder = get_folder(folder_id, no_folder)
        append(CatalogImage(
            image_id, uuid, get_digest(image_id), root, root_name, folder, base or "", ext or "", master,
            copy_name, captured, rating, pick or 0, label,
            _ORIENT.get(orientation) if orientation.__class__ is str else orientation_code(orientation),
            fmt, get_exif(image_id), get_tags(image_id), get_caption(image_id), None,
            get_collections(image_id, ()), tree))
    if lost_files and "AgLibraryFile" in r.damaged:
        notes.append(f"{lost_files} image(s) whose AgLibraryFile row could not be read: left out (their "
                     "previews are kept under their UUID)")
    if "Adobe_images" in r.damaged:
        # the photos the unread Adobe_images rows stood for, known by their files alone: an id of
        # -(AgLibraryFile.id_local), no digest (the newest preview of the UUID is used), no metadata
        named = {row[1] for row in image_rows if row[2] is None}   # the files of the masters read
        extra = 0
        for file_id, (_fid, uuid, folder_id, base, ext) in files.items():
            if file_id in named or uuid is None:
                continue
            if ext is None and base is not None and "." in base:
                base, _, ext = base.rpartition(".")
            root, root_name, folder = get_folder(folder_id, no_folder)
            append(CatalogImage(-file_id, uuid, None, root, root_name, folder, base or "", ext or ""))
            extra += 1
        if extra:
            notes.append(f"{extra} photo(s) named from AgLibraryFile alone (their Adobe_images row is unreadable): "
                         "no rating, date, keywords or virtual copies, and their newest preview is used")
    cat = LrCatalog(path, version, images, skipped, notes, smart_collections=smart, damaged=r.damaged)
    if c.need("Adobe_AdditionalMetadata", "image", "xmp"):
        bad = _xmp_fields(r, cat.by_id, cat.errors)
        if bad:
            notes.append(f"{bad} image(s) with XMP that could not be decoded")
    return cat


def _folders(r: _Reader, c: _Columns) -> dict:
    """folder id -> (root path ending in '/', root name, path from root): folders and roots are few,
    mapped once instead of repeating their strings in every row."""
    folders: dict = {}
    if not (c.need("AgLibraryFolder", "id_local", "pathFromRoot") and "folder" in c.cols("AgLibraryFile")):
        return folders
    roots: dict = {}
    if c.need("AgLibraryRootFolder", "id_local", "absolutePath"):
        name = _txt("name") if "name" in c.cols("AgLibraryRootFolder") else "NULL"
        r.fill(roots, f"SELECT id_local, coalesce({_txt('absolutePath')}, ''), {name} FROM AgLibraryRootFolder",
               "AgLibraryRootFolder", "root folder paths",
               rows=lambda cur: ((rid, (a if a[-1:] in ("/", "\\") or not a else a + "/", n or ""))
                                 for rid, a, n in cur))
    root_col = "rootFolder" if "rootFolder" in c.cols("AgLibraryFolder") else "NULL"
    r.fill(folders, f"SELECT id_local, {root_col}, coalesce({_txt('pathFromRoot')}, '') FROM AgLibraryFolder",
           "AgLibraryFolder", "folder paths",
           rows=lambda cur: ((fid, (*roots.get(rid, ("", "")), rel)) for fid, rid, rel in cur))
    return folders


def _exif_rows(r: _Reader, c: _Columns) -> dict:
    """image id -> (image id, camera, lens, focal length, Av, Tv, ISO, lat, lon), sanity-checked by SQLite."""
    if not c.need("AgHarvestedExifMetadata", "image"):
        return {}
    col = lambda name: c.col("e", "AgHarvestedExifMetadata", name)  # noqa: E731
    names = []   # (SQL expression, {id: name} to map it with when its table is damaged, else None)
    for table, ref, alias, what in (("AgInternedExifCameraModel", "cameraModelRef", "cm", "camera names"),
                                    ("AgInternedExifLens", "lensRef", "ln", "lens names")):
        if not (c.need(table, "id_local", "value") and col(ref) != "NULL"):
            names.append(("NULL", None, ""))
            continue
        # these tables are small: read whole first, so a damaged one costs its names, not the GPS too
        known = r.fill({}, f"SELECT id_local, {_txt('value')} FROM {table}", table, what)
        if table in r.damaged:
            names.append((f"e.{ref}", known, ""))
        else:
            names.append((_txt(f"{alias}.value"), None, f" LEFT JOIN {table} {alias} ON {alias}.id_local = e.{ref}"))
    (cam, cams, cam_join), (lens, lenses, lens_join) = names
    gps = f"coalesce({col('hasGPS')}, 1) AND abs({_real(col('gpsLatitude'))}) <= 90 " \
          f"AND abs({_real(col('gpsLongitude'))}) <= 180 AND NOT ({col('gpsLatitude')} = 0 AND {col('gpsLongitude')} = 0)"
    q = (f"SELECT e.image, {cam}, {lens}, {_real(col('focalLength'), '> 0')}, "
         f"{_real(col('aperture'), 'BETWEEN -2 AND 30')}, {_real(col('shutterSpeed'), 'BETWEEN -20 AND 40')}, "
         f"{_real(col('isoSpeedRating'), '> 0')}, CASE WHEN {gps} THEN {col('gpsLatitude')} END, "
         f"CASE WHEN {gps} THEN {col('gpsLongitude')} END FROM AgHarvestedExifMetadata e{cam_join}{lens_join}")
    rows = None
    if cams is not None or lenses is not None:   # a name table is damaged: its names mapped here
        def rows(cur):
            for row in cur:
                yield (row[0], cams.get(row[1]) if cams is not None else row[1],
                       lenses.get(row[2]) if lenses is not None else row[2], *row[3:])
    return r.fill({}, q, "AgHarvestedExifMetadata", "camera, lens, exposure and GPS", rows=rows, keyed=True)


def _keyword_rows(r: _Reader, c: _Columns) -> tuple[dict, dict]:
    """(image id -> (image id, keywords, people, ids of its keywords or None), keyword id -> path
    from the top of the tree, '|'-separated). Names are joined with \x1f (a control character no
    name holds); the ids (',') only when some keyword nests under another (CatalogImage.keyword_paths)."""
    links, names = c.need("AgLibraryKeywordImage", "image", "tag"), c.need("AgLibraryKeyword", "id_local", "name")
    if not (links and names):
        return {}, {}
    kcols = c.cols("AgLibraryKeyword")
    parent = "parent" if "parent" in kcols else "NULL"
    kind = "keywordType" if "keywordType" in kcols else "NULL"
    # the keyword table is small: read whole, in one pass, for the tree (no query per image)
    keywords: dict = r.fill({}, f"SELECT id_local, name, {parent}, {kind} = 'person' FROM AgLibraryKeyword",
                            "AgLibraryKeyword", "keywords and people",
                            rows=lambda cur: ((row[0], row[1:]) for row in cur))
    tree = _keyword_tree(keywords)
    lost = "keywords and people"
    if "AgLibraryKeyword" not in r.damaged:
        person = f"{c.col('k', 'AgLibraryKeyword', 'keywordType')} = 'person'"
        ids = f"group_concat(CASE WHEN {person} THEN NULL ELSE k.id_local END)" if tree else "NULL"
        q = (f"SELECT ki.image, group_concat(CASE WHEN {person} THEN NULL ELSE k.name END, char(31)), "
             f"group_concat(CASE WHEN {person} THEN k.name END, char(31)), {ids} FROM AgLibraryKeywordImage ki "
             f"JOIN AgLibraryKeyword k ON k.id_local = ki.tag WHERE typeof(k.name) = 'text' AND trim(k.name) <> '' "
             f"GROUP BY ki.image")
        return r.fill({}, q, "AgLibraryKeywordImage", lost, keyed=True), tree
    # the keyword table is damaged: the links are grouped here, with the keywords that could be read
    pairs: list = r.fill([], "SELECT image, tag FROM AgLibraryKeywordImage ORDER BY image", "AgLibraryKeywordImage",
                         lost)
    grouped: dict = {}
    for image, tag in pairs:
        k = keywords.get(tag)
        if k is None or not isinstance(k[0], str) or not k[0].strip():
            continue
        g = grouped.setdefault(image, ([], [], []))
        g[1 if k[2] else 0].append(k[0])
        if not k[2]:
            g[2].append(str(tag))
    return {image: (image, "\x1f".join(kw) or None, "\x1f".join(people) or None, ",".join(i) if tree and i else None)
            for image, (kw, people, i) in grouped.items()}, tree


def _keyword_tree(keywords: dict) -> dict:
    """keyword id -> 'Top|Middle|Leaf' for every named keyword, {} when none nests under another
    (the root keyword, name NULL, is left out of the paths)."""
    paths: dict = {}
    nested = False
    for kid in keywords:
        chain, at = [], kid
        while at in keywords and len(chain) < 64:   # a cycle in a damaged table ends here
            name = keywords[at][0]
            if not isinstance(name, str) or not name.strip():
                break
            if at in paths:
                chain.append(paths[at])
                break
            chain.append(name)
            at = keywords[at][1]
        if chain and isinstance(keywords[kid][0], str):
            paths[kid] = "|".join(reversed(chain))
            nested = nested or len(chain) > 1
    return paths if nested else {}


# AgLibraryCollection.creationId; sets are 'com.adobe.ag.library.group', found as parents; others
# (web galleries, unsaved prints and slideshows, publish services) are not albums
REGULAR, SMART = "com.adobe.ag.library.collection", "com.adobe.ag.library.smart_collection"


def _collections(r: _Reader, c: _Columns) -> tuple[dict, list[str]]:
    """(image id -> ((collection id, name, (set, subset, ...)), ...) for the regular collections it is
    in, names of the smart collections). Smart collections hold a rule, not members: not evaluated."""
    if not c.need("AgLibraryCollection", "id_local", "creationId", "name", "parent"):
        return {}, []
    system = "systemOnly" if "systemOnly" in c.cols("AgLibraryCollection") else "NULL"
    rows: dict = r.fill({}, f"SELECT id_local, creationId, name, parent, {system} FROM AgLibraryCollection",
                        "AgLibraryCollection", "collections",
                        rows=lambda cur: ((row[0], row[1:]) for row in cur))

    def sets(parent) -> tuple:
        chain: list[str] = []
        while parent in rows and len(chain) < 64:
            kind, name, parent, _system = rows[parent]
            chain.append(name if isinstance(name, str) else "")
        return tuple(reversed(chain))

    regular: dict = {}
    smart: list[str] = []
    for cid, (kind, name, parent, system_only) in rows.items():
        if system_only not in (None, "", 0, 0.0, "0"):   # the Quick Collection and Lightroom's own
            continue
        name = name.strip() if isinstance(name, str) and name.strip() else f"collection {cid}"
        if kind == REGULAR:
            regular[cid] = (cid, name, sets(parent))
        elif kind == SMART:
            smart.append(name)
    members: dict = {}
    if regular and c.need("AgLibraryCollectionImage", "collection", "image"):
        get = regular.get
        links = r.fill([], "SELECT collection, image FROM AgLibraryCollectionImage ORDER BY image, collection",
                       "AgLibraryCollectionImage", "collection membership")
        for coll, image in links:
            info = get(coll)
            if info is not None:
                members[image] = members.get(image, ()) + (info,)
    if smart:
        shown = ", ".join(sorted(smart)[:10]) + (", ..." if len(smart) > 10 else "")
        r.notes.append(f"{len(smart)} smart collection(s) not evaluated (their rules are not applied): {shown}")
    return members, sorted(smart)


def _xmp_fields(r: _Reader, by_id: dict, errors: list) -> int:
    """Title (and caption when IPTC has none) from each image's XMP; returns how many were unreadable.
    An XMP that inflates beyond MAX_XMP is an error of its own (in `errors`), never inflated whole.
    The loop is kept minimal: it runs once per image of catalogs with hundreds of thousands."""
    get, bad, n = by_id.get, 0, 0
    try:
        for image, blob in r.db.execute("SELECT image, xmp FROM Adobe_AdditionalMetadata "
                                        "WHERE xmp IS NOT NULL AND length(xmp) > 0"):
            n += 1
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
    except sqlite3.DatabaseError as e:
        r.lost("Adobe_AdditionalMetadata", e, n, "titles")
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
    text = xml[start:end].decode("utf-8", "replace")
    if "&" in text:   # (most titles hold no entity)
        text = unescape(text)
    return text.strip() or None
