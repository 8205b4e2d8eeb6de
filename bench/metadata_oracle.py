"""How closely trove's metadata agrees with exiftool's, per field, on real files.

    python bench/metadata_oracle.py [DIR ...] [--reader trove|exifread|pillow|ours] [--show 20] [--keep DIR]

Without DIR, builds the corpus of fixtures/oracle_corpus.py (photos, RAWs, videos, .xmp sidecars:
>= 150 files) into a temporary folder (or into --keep DIR, left there). Ingests every file into a
throw-away library through the real CLI (`trove ingest folder --no-embed`), runs
`exiftool -j -n -G1 -u -r -api QuickTimeUTC` (TZ=UTC, so QuickTime's UTC times stay UTC) on the same
folders, and prints one JSON line per field: files where either side has a value, how many agree,
how many differ by design, the percentage with the 99.5% target beside it; then each disagreement
(file, trove, exiftool) up to --show per field, then each by-design difference with its reason.

exiftool's rows become trove's fields as follows (a `.xmp` sidecar's row is merged into its photo's:
`IMG.jpg.xmp` belongs to IMG.jpg, `IMG.xmp` to the RAW of that stem, else to the one photo of that
stem). Where several places hold a field, trove's documented order is followed: the capture date
camera EXIF > sidecar XMP > XMP/IPTC in the file (capture.py); the other fields sidecar > file
XMP/IPTC > EXIF (catalog/photos.py ORIGIN_PRIORITY); keywords and people are the union of all.
- dims: Composite:ImageSize (the stored pixel grid); shown: dims turned by IFD0:Orientation 5-8,
  or for HEIF/AVIF and videos by QuickTime:Rotation / Composite:Rotation 90 or 270;
- date: the wall clock to the second, from ExifIFD:DateTimeOriginal, CreateDate, IFD0:ModifyDate,
  XMP-exif:DateTimeOriginal, XMP-photoshop:DateCreated, XMP-xmp:CreateDate, IPTC DateCreated +
  TimeCreated, Keys:CreationDate, ItemList/UserData dates, RIFF:DateTimeOriginal (all local time);
  or, where exiftool only has an instant (QuickTime:CreateDate, Matroska:DateTimeOriginal,
  ASF:CreationDate: UTC), that instant against trove's taken_utc;
- offset: the zone of that local date (OffsetTime* beside an EXIF date, else its own suffix);
- gps (5 decimals), camera (Make + Model as trove joins them: IFD0, XMP-tiff, Keys, UserData),
  lens (ExifIFD:LensModel, XMP-exifEX:LensModel, XMP-aux:Lens), orientation (IFD0:Orientation),
  keywords (XMP-dc:Subject, the leaves of XMP-lr:HierarchicalSubject, IPTC:Keywords, Keys/ItemList
  keywords), title (XMP-dc:Title, IPTC:ObjectName, Keys/ItemList/UserData/Matroska title), description
  (XMP-dc:Description, IPTC:Caption-Abstract, video descriptions), rating (XMP-xmp:Rating 0-5,
  IFD0:Rating; -1 is 'rejected', no rating), people (XMP-iptcExt:PersonInImage, face-region names of
  XMP-mwg-rs and XMP-MP).
trove's side: the `list --json` record (stored_width/height, width/height, taken_at/utc_offset/
taken_utc when their source is the file or its sidecar, not a file-name date or a GPS time zone).

A field neither side has is not counted. Differences that are by design are listed with their
reason (BY_DESIGN below: each a check on the values and exiftool's own row, never on a file name),
counted apart and not as agreement; "percent" is agreement among the rest, "percent_all" counts
them as misses. --reader exifread, pillow or ours compares only that EXIF reader (date, camera,
orientation, gps), fed the EXIF block trove's container reader finds (files Pillow opens and that
have one), against what exiftool reads in the EXIF IFDs alone.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "fixtures"))

TARGET = 99.5
FIELDS = ("dims", "shown", "date", "offset", "gps", "camera", "lens", "orientation", "keywords", "title",
          "description", "rating", "people")
FILE_ORIGINS = ("exif", "xmp", "xmp-sidecar")
RAW_EXTS = {".dng", ".cr2", ".cr3", ".crw", ".nef", ".nrw", ".arw", ".sr2", ".srf", ".orf", ".rw2", ".rwl", ".pef",
            ".srw", ".raf", ".3fr", ".erf", ".iiq", ".kdc", ".dcr", ".mos", ".mrw", ".x3f", ".gpr"}
QUICKTIME_TYPES = {"HEIC", "HEIF", "AVIF", "MP4", "MOV", "M4V", "3GP", "3G2", "CR3"}


# -- exiftool ---------------------------------------------------------------------------------------
def exiftool(dirs: list[str]) -> dict[str, dict]:
    out = subprocess.run(["exiftool", "-j", "-n", "-G1", "-u", "-r", "-q", "-q", "-api", "QuickTimeUTC",
                          "-api", "LargeFileSupport=1", "-charset", "filename=utf8", *dirs],
                         capture_output=True, env={**os.environ, "TZ": "UTC"})
    rows = json.loads(out.stdout.decode("utf-8", "surrogateescape") or "[]")
    return {os.path.abspath(r["SourceFile"]): r for r in rows}


def attach_sidecars(rows: dict[str, dict]) -> tuple[dict[str, dict], dict[str, str]]:
    """Photo rows, and each sidecar's photo: `X.ext.xmp` is X.ext's; `X.xmp` the RAW X.*'s when there
    is one, else the one file of stem X."""
    photos = {p: r for p, r in rows.items() if not p.lower().endswith(".xmp")}
    by_stem: dict[tuple[str, str], list[str]] = {}
    for p in photos:
        folder, name = os.path.split(p)
        by_stem.setdefault((folder, os.path.splitext(name)[0].lower()), []).append(p)
    lower = {p.lower(): p for p in photos}
    owner = {}
    for p in rows:
        if not p.lower().endswith(".xmp"):
            continue
        if p[:-4].lower() in lower:
            owner[p] = lower[p[:-4].lower()]
            continue
        folder, name = os.path.split(p)
        same = by_stem.get((folder, name[:-4].lower()), [])
        raws = [x for x in same if os.path.splitext(x)[1].lower() in RAW_EXTS]
        if raws or len(same) == 1:
            owner[p] = (raws or same)[0]
    return photos, owner


def first(rows: list[dict], *keys):
    """The first of `keys` (GROUP:Tag) with a value in the first row holding one; an IPTC group also
    matches IPTC2, IPTC3, ... (further IPTC blocks exiftool numbers)."""
    for row in rows:
        for k in keys:
            group, tag = k.split(":", 1)
            names = [k] + (sorted(x for x in row if x.startswith(group) and x.split(":", 1)[1] == tag
                                  and x.split(":", 1)[0][len(group):].isdigit()) if group == "IPTC" else [])
            for key in names:
                if row.get(key) not in (None, "", []):
                    return row[key]
    return None


def listed(value) -> set[str]:
    if value is None:
        return set()
    values = value if isinstance(value, list) else [value]
    return {str(v).strip() for v in values if str(v).strip()}


DATE_RE = re.compile(r"(\d{4})[:-](\d\d)[:-](\d\d)(?:[ T](\d\d):(\d\d)(?::(\d\d))?)?(?:\.\d+)?\s*(Z|[+-]\d\d:?\d\d)?")
EXIF_GROUPS = ("ExifIFD", "ExifOffset")   # (exiftool 12.57 names a BigTIFF's EXIF IFD after its pointer)
NO_DATE = ("0000", "1904:01:01 00:00:00", "1970:01:01 00:00:00")


def as_date(text) -> tuple[str, str | None] | None:
    """exiftool's date text -> (ISO wall clock to the second, its zone text or None); None when it
    is no date (zeros, month 00, second 70, QuickTime's zero)."""
    if not isinstance(text, str) or text.startswith(NO_DATE):
        return None
    m = DATE_RE.match(text.strip())
    if not m:
        return None
    y, mo, d, h, mi, s, zone = m.groups()
    iso = f"{y}-{mo}-{d}T{h or '00'}:{mi or '00'}:{s or '00'}"
    try:
        datetime.fromisoformat(iso)
    except ValueError:
        return None
    if zone and zone != "Z" and ":" not in zone:
        zone = zone[:3] + ":" + zone[3:]
    return iso, ("+00:00" if zone == "Z" else zone)


def exif_date(row: dict) -> tuple[str, str | None] | None:
    for tag, offset_tag, where in (("DateTimeOriginal", "OffsetTimeOriginal", EXIF_GROUPS),
                                   ("CreateDate", "OffsetTimeDigitized", EXIF_GROUPS),
                                   ("ModifyDate", "OffsetTime", ("IFD0",))):
        value = next((row[f"{g}:{tag}"] for g in where if f"{g}:{tag}" in row), None)
        if value is None:
            continue
        when = as_date(value)
        if when is None:
            continue
        offset = next((row[f"{g}:{offset_tag}"] for g in EXIF_GROUPS if f"{g}:{offset_tag}" in row), None)
        return when[0], str(offset) if offset not in (None, "") else when[1]
    return None


def xmp_date(row: dict) -> tuple[str, str | None] | None:
    for key in ("XMP-exif:DateTimeOriginal", "XMP-photoshop:DateCreated", "XMP-xmp:CreateDate"):
        when = as_date(row.get(key))
        if when:
            return when
    return None


def iptc_date(row: dict) -> tuple[str, str | None] | None:
    day = first([row], "IPTC:DateCreated")
    if not day:
        return None
    when = as_date(f"{day} {first([row], 'IPTC:TimeCreated') or '00:00:00'}")
    return when


def video_date(row: dict) -> tuple[str, str, str | None] | None:
    """('local', wall clock, zone) or ('utc', instant, None) from a video's container."""
    for key in ("Keys:CreationDate", "ItemList:ContentCreateDate", "UserData:DateTimeOriginal",
                "ItemList:CreationDate", "RIFF:DateTimeOriginal"):
        when = as_date(row.get(key))
        if when:
            utc = str(row[key]).rstrip().endswith("Z")
            return ("utc", when[0], None) if utc else ("local", when[0], when[1])
    for key in ("QuickTime:CreateDate", "Matroska:DateTimeOriginal", "ASF:CreationDate"):
        when = as_date(row.get(key))
        if when:
            return "utc", when[0], None
    return None


def iso6709(text: str) -> tuple[float | None, float | None]:
    """'+48.8584+002.2945+035.000/' (decimal degrees) -> (48.8584, 2.2945)."""
    m = re.fullmatch(r"([+-]\d{1,2}(?:\.\d+)?)([+-]\d{1,3}(?:\.\d+)?)(?:[+-][\d.]+)?(?:CRS.*)?/?", text.strip())
    return (float(m.group(1)), float(m.group(2))) if m else (None, None)


def camera_name(make: str | None, model: str | None) -> str | None:
    """Make and Model as one name, as trove's records show it (written here again, not imported, so a
    bug in trove's rule shows): the model alone when it begins with the make's first word."""
    make, model = (make or "").strip(), (model or "").strip()
    if not model:
        return make or None
    if make and not model.lower().startswith(make.split()[0].lower()):
        return f"{make} {model}"
    return model


def oracle_values(row: dict, sidecar: dict | None = None) -> dict:
    out: dict = {}
    side = [sidecar] if sidecar else []
    ftype = row.get("File:FileType")
    size = row.get("Composite:ImageSize")
    if isinstance(size, str) and " " in size:
        out["dims"] = tuple(int(float(x)) for x in size.split()[:2])
    if "dims" in out:
        turn = row.get("IFD0:Orientation") in (5, 6, 7, 8)
        if ftype in QUICKTIME_TYPES and ftype != "CR3":
            turn = (row.get("QuickTime:Rotation") or row.get("Composite:Rotation") or 0) in (90, 270)
        elif row.get("Composite:Rotation") is not None and "IFD0:Orientation" not in row:
            turn = row["Composite:Rotation"] in (90, 270)   # Matroska and the like
        out["shown"] = out["dims"][::-1] if turn else out["dims"]
    local = exif_date(row) or (xmp_date(sidecar) if sidecar else None) or xmp_date(row) or iptc_date(row)
    if local:
        out["date"] = local[0]
        if local[1]:
            out["offset"] = local[1]
    else:
        video = video_date(row)
        if video and video[0] == "local":
            out["date"] = video[1]
            if video[2]:
                out["offset"] = video[2]
        elif video:
            out["date"] = ("utc", video[1])
    lat, lon = (first(side + [row], "XMP-exif:GPSLatitude"), first(side + [row], "XMP-exif:GPSLongitude"))
    if not isinstance(lat, (int, float)) or not isinstance(lon, (int, float)):
        lat, lon = row.get("Composite:GPSLatitude"), row.get("Composite:GPSLongitude")
    if not isinstance(lat, (int, float)) and isinstance(row.get("Matroska:Location"), str):
        lat, lon = iso6709(row["Matroska:Location"])   # an ISO 6709 text exiftool leaves as it is
    if isinstance(lat, (int, float)) and isinstance(lon, (int, float)) and not (lat == 0 and lon == 0):
        out["gps"] = (round(lat, 5), round(lon, 5))
    for make_key, model_key in (("XMP-tiff:Make", "XMP-tiff:Model"), ("IFD0:Make", "IFD0:Model"),
                                ("Keys:Make", "Keys:Model"), ("Keys:AndroidManufacturer", "Keys:AndroidModel"),
                                ("UserData:Make", "UserData:Model"), ("ItemList:Make", "ItemList:Model")):
        make, model = first(side + [row], make_key), first(side + [row], model_key)
        if make is not None or model is not None:
            cam = camera_name(str(make) if make is not None else None, str(model) if model is not None else None)
            if cam:
                out["camera"] = cam
                break
    lens = first(side + [row], "XMP-aux:Lens", "XMP-exifEX:LensModel") or \
        next((row[f"{g}:LensModel"] for g in EXIF_GROUPS if row.get(f"{g}:LensModel")), None)
    if lens and str(lens).strip():
        out["lens"] = str(lens).strip()
    if isinstance(row.get("IFD0:Orientation"), int) and 1 <= row["IFD0:Orientation"] <= 8:
        out["orientation"] = row["IFD0:Orientation"]
    kw: set[str] = set()
    for r in side + [row]:
        kw |= listed(r.get("XMP-dc:Subject"))
        kw |= {h.split("|")[-1].strip() for h in listed(r.get("XMP-lr:HierarchicalSubject"))}
        kw |= set().union(*[listed(v) for k, v in r.items()
                            if k.split(":")[0].startswith("IPTC") and k.endswith(":Keywords")])
        kw |= listed(r.get("Keys:Keywords")) | listed(r.get("ItemList:Keyword"))
    kw.discard("")
    if kw:
        out["keywords"] = sorted(kw)
    for field, keys in (("title", ("XMP-dc:Title", "IPTC:ObjectName", "Keys:Title", "ItemList:Title", "UserData:Title",
                                   "Matroska:Title")),
                        ("description", ("XMP-dc:Description", "IPTC:Caption-Abstract", "Keys:Description",
                                         "ItemList:Description", "UserData:Description"))):
        value = first(side + [row], *keys)
        if value is not None and str(value).strip():
            out[field] = str(value).strip()
    rating = first(side + [row], "XMP-xmp:Rating", "IFD0:Rating")
    if isinstance(rating, (int, float)) and 0 <= rating <= 5:
        out["rating"] = round(rating)
    people: set[str] = set()
    for r in side + [row]:
        people |= listed(r.get("XMP-iptcExt:PersonInImage")) | listed(r.get("XMP-MP:RegionPersonDisplayName"))
        names = r.get("XMP-mwg-rs:RegionName")
        kinds = r.get("XMP-mwg-rs:RegionType")
        names = names if isinstance(names, list) else [names] if names is not None else []
        kinds = kinds if isinstance(kinds, list) else [kinds] * len(names)
        people |= {str(n).strip() for n, k in zip(names, kinds + [None] * len(names)) if k in (None, "Face")}
    people.discard("")
    if people:
        out["people"] = sorted(people)
    return out


# -- trove --------------------------------------------------------------------------------------------
def trove_records(dirs: list[str]) -> tuple[dict[str, dict], dict[str, str]]:
    with tempfile.TemporaryDirectory() as lib:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        base = [sys.executable, "-m", "phototrove", "--library", lib, "-q"]
        subprocess.run(base + ["ingest", "folder", "--no-embed", "--no-default-excludes", *dirs], env=env,
                       capture_output=True)
        listed_ = subprocess.run(base + ["list", "--json"], env=env, capture_output=True, text=True).stdout
        errors = subprocess.run(base + ["status", "--errors", "--json"], env=env, capture_output=True, text=True).stdout
    errs = {}
    for line in errors.splitlines():
        e = json.loads(line)
        if e.get("path"):
            errs[os.path.abspath(e["path"])] = e.get("message")
    out = {}
    for line in listed_.splitlines():
        rec = json.loads(line)
        for loc in rec["locations"]:
            out[os.path.abspath(loc["path"])] = rec
    return out, errs


def trove_values(rec: dict) -> dict:
    out: dict = {}
    if rec.get("stored_width"):
        out["dims"] = (rec["stored_width"], rec["stored_height"])
    if rec.get("width"):
        out["shown"] = (rec["width"], rec["height"])
    if rec.get("date_source") in FILE_ORIGINS:
        if rec.get("taken_at"):
            out["date"] = rec["taken_at"][:19]
        if rec.get("taken_utc"):
            out["date_utc"] = rec["taken_utc"][:19]
        if rec.get("utc_offset") and rec.get("offset_source") in FILE_ORIGINS:
            out["offset"] = rec["utc_offset"]
    if rec.get("lat") is not None:
        out["gps"] = (round(rec["lat"], 5), round(rec["lon"], 5))
    for key in ("camera", "lens", "orientation", "title", "description", "rating"):
        if rec.get(key) not in (None, ""):
            out[key] = rec[key]
    for key in ("keywords", "people"):
        if rec.get(key):
            out[key] = sorted(rec[key])
    return out


def compare(field: str, mine: dict, theirs: dict) -> tuple[object, object, bool]:
    """(trove's value, exiftool's value, agree?) for one field of one file."""
    t = theirs.get(field)
    if field == "date" and isinstance(t, tuple):   # exiftool knows the UTC instant only
        m = mine.get("date_utc")
        return (m and m + "Z"), t[1] + "Z", m == t[1]
    m = mine.get(field)
    if field == "gps" and m and t:
        return m, t, abs(m[0] - t[0]) < 2e-5 and abs(m[1] - t[1]) < 2e-5
    return m, t, m == t


# -- by design: each a check on the two values and exiftool's row -------------------------------------
def _offset_beyond_14h(field, mine, theirs, row):
    if field == "offset" and mine is None and isinstance(theirs, str):
        m = re.fullmatch(r"[+-](\d\d):(\d\d)", theirs)
        if not m or int(m.group(1)) * 60 + int(m.group(2)) > 14 * 60 or int(m.group(2)) >= 60:
            return f"{theirs!r} is no UTC offset (beyond +-14:00): trove drops it and says so in the notes"
    return None


def _dng_default_crop(field, mine, theirs, row):
    crop = row.get("SubIFD:DefaultCropSize") or row.get("IFD0:DefaultCropSize")
    if field in ("dims", "shown") and row.get("File:FileType") == "DNG" and isinstance(crop, str) and mine:
        w, h = (round(float(x)) for x in crop.split()[:2])
        if tuple(sorted(mine)) == tuple(sorted((w, h))):
            return f"DNG: trove gives the DefaultCropSize {w}x{h} (the developed image), exiftool the raw IFD's"
    return None


def _salvaged(field, mine, theirs, row):
    warning = str(row.get("ExifTool:Warning", ""))
    if mine is not None and theirs is None and re.search(r"Error reading value|Bad .*director|Bad format", warning):
        return f"damaged IFD: exiftool stops at it ({warning!r}); trove skips the bad entry and reads the rest"
    return None


def _not_utf8(field, mine, theirs, row):
    if isinstance(mine, str) and isinstance(theirs, str) and "?" in theirs and len(mine) == len(theirs) \
            and all(a == b or b == "?" for a, b in zip(mine, theirs)) and mine != theirs:
        return "bytes that are not UTF-8: exiftool prints '?', trove decodes them as Latin-1 (issue 11 point 6)"
    return None


def _bigtiff_gps(field, mine, theirs, row):
    if field == "gps" and theirs is None and mine and row.get("File:FileType") == "BTF" \
            and "GPSInfo:InteropIndex" in row:
        return "BigTIFF: exiftool 12.57 decodes its GPS IFD with the EXIF table (GPSInfo:InteropIndex), no GPS"
    return None


def _heif_clean_aperture(field, mine, theirs, row):
    clap = row.get("QuickTime:CleanAperture")
    if field == "shown" and isinstance(clap, str) and mine and theirs and mine != theirs:
        w, h = (round(float(x)) for x in clap.split()[:2])
        if tuple(sorted(mine)) == tuple(sorted((w, h))):
            return f"HEIF clean aperture: trove shows the {w}x{h} the decoder crops to, exiftool the coded ispe size"
    return None


def _matroska_projection(field, mine, theirs, row):
    if field == "shown" and row.get("File:FileType") in ("MKV", "WEBM") and mine and theirs \
            and tuple(mine) == tuple(theirs)[::-1] and any(re.fullmatch(r"Track\d+:Matroska_0x3670", k) for k in row):
        return ("Matroska: exiftool 12.57 leaves the track's Projection element undecoded (Matroska_0x3670); "
                "trove turns the frame by its ProjectionPoseRoll, as players do")
    return None


BY_DESIGN = (_offset_beyond_14h, _dng_default_crop, _salvaged, _not_utf8, _bigtiff_gps, _heif_clean_aperture,
             _matroska_projection)


def by_design(field, mine, theirs, row) -> str | None:
    for rule in BY_DESIGN:
        why = rule(field, mine, theirs, row)
        if why:
            return why
    return None


# -- EXIF readers alone ---------------------------------------------------------------------------------
def exif_oracle(row: dict) -> dict:
    """What exiftool reads from the EXIF (TIFF) structure alone (to compare EXIF readers)."""
    only = {k: v for k, v in row.items() if k.split(":")[0] in ("IFD0", "ExifIFD", "ExifOffset", "File")}
    out = oracle_values(only)
    lat, lon = row.get("GPS:GPSLatitude"), row.get("GPS:GPSLongitude")
    if isinstance(lat, (int, float)) and isinstance(lon, (int, float)) and not (lat == 0 and lon == 0):
        lat = -lat if str(row.get("GPS:GPSLatitudeRef", "")).upper().startswith("S") else lat
        lon = -lon if str(row.get("GPS:GPSLongitudeRef", "")).upper().startswith("W") else lon
        out["gps"] = (round(lat, 5), round(lon, 5))
    return {k: out[k] for k in ("date", "camera", "orientation", "gps") if k in out}


def exif_block(path: str) -> bytes | None:
    """The EXIF block trove's container reader finds in a file Pillow opens (None: no block)."""
    import io

    from phototrove.media.containers import blocks
    from phototrove.media.kinds import heif_available, pillow_limits

    heif_available()
    pillow_limits()
    data = Path(path).read_bytes()
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as im:
            fmt = im.format
    except Exception:  # not an image Pillow opens: no block to feed
        return None
    return blocks(data, fmt).exif or None


def reader_values(path: str, reader: str) -> dict:
    """EXIF by exifread, Pillow or trove's own reader, fed the block trove's container reader finds."""
    import io

    block = exif_block(path)
    if not block:
        return {}
    out: dict = {}
    lat = lon = None
    if reader == "ours":
        from phototrove.media.exif import read_exif

        ex = read_exif(block)
        got = {"date": (ex.get("taken_local") or "")[:19] or None, "camera": ex.get("camera"),
               "orientation": ex.get("orientation")}
        if ex.get("lat") is not None:
            got["gps"] = (round(ex["lat"], 5), round(ex["lon"], 5))
        return {k: v for k, v in got.items() if v}
    if reader == "exifread":
        import exifread

        try:
            tags = exifread.process_file(io.BytesIO(block), details=False)
        except Exception:  # exifread raises on what it cannot parse
            return {}

        def g(k):
            v = tags.get(k)
            return str(v).strip() if v is not None else None
        date = g("EXIF DateTimeOriginal") or g("EXIF DateTimeDigitized") or g("Image DateTime")
        make, model, orient = g("Image Make"), g("Image Model"), tags.get("Image Orientation")
        orientation = orient.values[0] if orient is not None and orient.values else None
        try:
            def deg(tag, ref):
                v = tags.get(tag)
                if v is None:
                    return None
                d = [float(x.num) / float(x.den) if x.den else 0.0 for x in v.values]
                val = d[0] + d[1] / 60 + d[2] / 3600
                return -val if str(tags.get(ref, "")).strip().upper()[:1] in ("S", "W") else val
            lat, lon = deg("GPS GPSLatitude", "GPS GPSLatitudeRef"), deg("GPS GPSLongitude", "GPS GPSLongitudeRef")
        except Exception:  # an odd GPS value: none
            lat = lon = None
    else:
        from PIL import Image

        try:
            exif = Image.Exif()
            exif.load(b"Exif\x00\x00" + block)
            sub = exif.get_ifd(0x8769)
            gps = exif.get_ifd(0x8825)
        except Exception:  # Pillow raises on what it cannot parse
            return {}
        date = sub.get(0x9003) or sub.get(0x9004) or exif.get(0x0132)
        make, model, orientation = exif.get(0x010F), exif.get(0x0110), exif.get(0x0112)
        try:
            if gps.get(2) and gps.get(4):
                lat = sum(float(v) / 60 ** i for i, v in enumerate(gps[2]))
                lon = sum(float(v) / 60 ** i for i, v in enumerate(gps[4]))
                lat = -lat if str(gps.get(1)).upper() == "S" else lat
                lon = -lon if str(gps.get(3)).upper() == "W" else lon
        except Exception:  # an odd GPS value: none
            lat = lon = None
    when = as_date(date) if isinstance(date, str) else None
    if when:
        out["date"] = when[0]
    cam = camera_name(str(make).strip("\x00 ") if make else None, str(model).strip("\x00 ") if model else None)
    if cam:
        out["camera"] = cam
    if isinstance(orientation, int) and 1 <= orientation <= 8:
        out["orientation"] = orientation
    if lat is not None and lon is not None and not (lat == 0 and lon == 0):
        out["gps"] = (round(lat, 5), round(lon, 5))
    return out


# -- the run ------------------------------------------------------------------------------------------
def line(**kw) -> None:
    print(json.dumps(kw, default=str, ensure_ascii=False), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dirs", nargs="*", help="folders of real files (default: the oracle corpus, built now)")
    ap.add_argument("--reader", choices=["trove", "exifread", "pillow", "ours"], default="trove",
                    help="trove: the whole ingest; exifread, pillow, ours: only that EXIF reader on the EXIF block")
    ap.add_argument("--show", type=int, default=20)
    ap.add_argument("--keep", help="build the corpus into this folder and leave it there")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        dirs = [os.path.abspath(d) for d in args.dirs]
        if not dirs:
            import oracle_corpus

            where = Path(args.keep or os.path.join(tmp, "corpus"))
            oracle_corpus.build(where)
            dirs = [str(where.resolve())]
        run(dirs, args)


def run(dirs: list[str], args) -> None:
    rows = exiftool(dirs)
    photos, owner = attach_sidecars(rows)
    sidecar_of = {photo: rows[xmp] for xmp, photo in owner.items()}
    if args.reader == "trove":
        ours, errors = trove_records(dirs)
    else:   # only the files with an EXIF block to feed the readers
        import logging

        logging.getLogger("exifread").setLevel(logging.ERROR)
        ours, errors = {p: {} for p in photos if exif_block(p)}, {}
    files = sorted(p for p in ours if p in photos)
    fields = FIELDS if args.reader == "trove" else ("date", "camera", "orientation", "gps")
    mine_of = {p: trove_values(ours[p]) if args.reader == "trove" else reader_values(p, args.reader) for p in files}
    theirs_of = {p: oracle_values(photos[p], sidecar_of.get(p)) if args.reader == "trove" else exif_oracle(photos[p])
                 for p in files}
    details = []
    for field in fields:
        wrong, design, agree, counted = [], [], 0, 0
        for path in files:
            mine, theirs, same = compare(field, mine_of[path], theirs_of[path])
            if mine is None and theirs is None:
                continue
            counted += 1
            if same:
                agree += 1
                continue
            why = by_design(field, mine, theirs, photos[path])
            (design if why else wrong).append({"field": field, "file": os.path.relpath(path, dirs[0]),
                                               args.reader: mine, "exiftool": theirs,
                                               **({"by_design": why} if why else {})})
        line(bench="metadata_oracle", reader=args.reader, field=field, files=counted, agree=agree,
             by_design=len(design), disagree=len(wrong),
             percent=round(100 * agree / max(1, counted - len(design)), 2),
             percent_all=round(100 * agree / max(1, counted), 2), target=TARGET,
             meets_target=100 * agree / max(1, counted - len(design)) >= TARGET)
        details += [("disagree", w) for w in wrong[:args.show]] + [("by_design", d) for d in design]
    for kind, d in details:
        line(**{kind: d.pop("field"), **d})
    not_read = sorted(set(photos) - set(ours)) if args.reader == "trove" else []
    line(bench="metadata_oracle", reader=args.reader, files_exiftool=len(photos), sidecars=len(owner),
         sidecars_unmatched=sum(1 for p in rows if p.lower().endswith(".xmp")) - len(owner),
         files_read=len(files), not_read_by_trove=len(not_read))
    for path in not_read[:args.show * 4]:
        line(not_read=os.path.relpath(path, dirs[0]), why=errors.get(path, "not a photo type trove reads"),
             exiftool_type=photos[path].get("File:FileType"))


if __name__ == "__main__":
    main()
