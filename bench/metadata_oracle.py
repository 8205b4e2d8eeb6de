"""How closely trove's metadata agrees with exiftool's on real files.

    python bench/metadata_oracle.py DIR [DIR ...] [--reader trove|exifread|pillow] [--show 20]

Ingests every photo under the folders into a throw-away library (`trove ingest folder --no-embed`,
the real CLI), runs `exiftool -j -n -G` on the same files, and prints one JSON line per field:
how many files were compared, how many agree, the percentage; then every disagreement (file,
trove, exiftool) up to --show per field. A field where neither finds a value agrees.

Fields: dims (the stored pixel size), date (wall clock to the second) and offset (the UTC offset
exiftool reads: OffsetTimeOriginal or an XMP/IPTC zone), gps, camera, lens, orientation,
keywords, title, rating. --reader exifread or pillow compares those libraries' EXIF instead of
trove's own reader (date, gps, camera, orientation only), fed the same EXIF block trove finds.
"""
from __future__ import annotations

import argparse
import json
from datetime import datetime
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

FIELDS = ("dims", "date", "offset", "gps", "camera", "lens", "orientation", "keywords", "title", "rating")


def exiftool(dirs: list[str]) -> dict[str, dict]:
    out = subprocess.run(["exiftool", "-j", "-n", "-G1", "-r", "-q", "-q", *dirs], capture_output=True)
    rows = json.loads(out.stdout.decode("utf-8", "surrogateescape") or "[]")
    return {os.path.abspath(r["SourceFile"]): r for r in rows}


def trove_records(dirs: list[str]) -> dict[str, dict]:
    with tempfile.TemporaryDirectory() as lib:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        base = [sys.executable, "-m", "phototrove", "--library", lib, "-q"]
        subprocess.run(base + ["ingest", "folder", "--no-embed", "--no-default-excludes", *dirs], env=env,
                       capture_output=True)
        listed = subprocess.run(base + ["list", "--json"], env=env, capture_output=True, text=True).stdout
        errors = subprocess.run(base + ["status", "--errors", "--json"], env=env, capture_output=True, text=True).stdout
    trove_records.errors = {os.path.abspath(json.loads(e)["path"]): json.loads(e)["message"]
                            for e in errors.splitlines() if json.loads(e).get("path")}
    out = {}
    for line in listed.splitlines():
        rec = json.loads(line)
        for loc in rec["locations"]:
            out[os.path.abspath(loc["path"])] = rec
    return out


def first(row: dict, *keys):
    """The first of `keys` (GROUP:Tag) with a value; an IPTC group also matches IPTC2, IPTC3, ...
    (exiftool's numbering of further IPTC blocks, e.g. in a JPEG's AFCP trailer)."""
    for k in keys:
        group, tag = k.split(":", 1)
        for key in ([k] + sorted(x for x in row if x.startswith(group) and x.split(":", 1)[1] == tag
                                 and x.split(":", 1)[0][len(group):].isdigit())) if group == "IPTC" else [k]:
            if row.get(key) not in (None, "", [], "0000:00:00 00:00:00"):
                return row[key]
    return None


def listed(value) -> set[str]:
    if value is None:
        return set()
    values = value if isinstance(value, list) else [value]
    return {str(v).strip() for v in values if str(v).strip()}


def oracle_values(row: dict) -> dict:
    from phototrove.media.exif import camera_name

    out: dict = {}
    size = row.get("Composite:ImageSize")
    if isinstance(size, str) and " " in size:
        out["dims"] = tuple(int(float(x)) for x in size.split()[:2])
    elif row.get("File:ImageWidth"):
        out["dims"] = (row["File:ImageWidth"], row["File:ImageHeight"])
    date = first(row, "ExifIFD:DateTimeOriginal", "ExifIFD:CreateDate", "IFD0:ModifyDate",
                 "XMP-exif:DateTimeOriginal", "XMP-photoshop:DateCreated", "XMP-xmp:CreateDate")
    if date is None and first(row, "IPTC:DateCreated"):
        date = f"{first(row, 'IPTC:DateCreated')} {first(row, 'IPTC:TimeCreated') or '00:00:00'}"
    if isinstance(date, str) and len(date) >= 10 and date[:4].isdigit() and date[:4] != "0000":
        d = date.replace("-", ":")
        text = f"{d[:4]}-{d[5:7]}-{d[8:10]}T{(d[11:19] or '00:00:00').ljust(8, '0')}"[:19]
        try:   # what exiftool shows as it is, even when it is no date (month 00, second 70)
            datetime.fromisoformat(text)
            out["date"] = text
        except ValueError:
            pass
    offset = first(row, "ExifIFD:OffsetTimeOriginal") if row.get("ExifIFD:DateTimeOriginal") else None
    rest = date[19:].lstrip("0123456789.") if isinstance(date, str) else ""
    if offset is None and rest[:1] in ("+", "-") and len(rest) >= 6:
        offset = rest[:6]
    elif offset is None and rest[:1] == "Z":
        offset = "+00:00"
    if offset:
        out["offset"] = str(offset)
    lat = first(row, "Composite:GPSLatitude", "XMP-exif:GPSLatitude")
    lon = first(row, "Composite:GPSLongitude", "XMP-exif:GPSLongitude")
    if isinstance(lat, (int, float)) and isinstance(lon, (int, float)) and not (lat == 0 and lon == 0):
        out["gps"] = (round(lat, 5), round(lon, 5))
    make, model = first(row, "IFD0:Make", "XMP-tiff:Make"), first(row, "IFD0:Model", "XMP-tiff:Model")
    cam = camera_name(str(make) if make is not None else None, str(model) if model is not None else None)
    if cam:
        out["camera"] = cam
    lens = first(row, "ExifIFD:LensModel", "XMP-exifEX:LensModel", "XMP-aux:Lens")
    if lens:
        out["lens"] = str(lens).strip()
    if isinstance(row.get("IFD0:Orientation"), int) and 1 <= row["IFD0:Orientation"] <= 8:
        out["orientation"] = row["IFD0:Orientation"]
    iptc_kw = set().union(*[listed(v) for k, v in row.items() if k.split(":")[0].startswith("IPTC")
                            and k.endswith(":Keywords")])
    kw = listed(row.get("XMP-dc:Subject")) | iptc_kw | {
        h.split("|")[-1].strip() for h in listed(row.get("XMP-lr:HierarchicalSubject"))}
    if kw:
        out["keywords"] = sorted(kw)
    title = first(row, "XMP-dc:Title", "IPTC:ObjectName")
    if title:
        out["title"] = str(title).strip()
    rating = first(row, "XMP-xmp:Rating", "IFD0:Rating")
    if isinstance(rating, (int, float)) and 0 <= rating <= 5:
        out["rating"] = round(rating)
    return out


def exif_oracle(row: dict) -> dict:
    """What exiftool reads from the EXIF block alone (to compare EXIF readers)."""
    only = {k: v for k, v in row.items() if k.split(":")[0] in ("IFD0", "ExifIFD", "GPS", "Composite", "File")}
    out = oracle_values(only)
    return {k: out[k] for k in ("date", "camera", "orientation") if k in out}


def trove_values(rec: dict) -> dict:
    out: dict = {}
    if rec.get("stored_width"):
        out["dims"] = (rec["stored_width"], rec["stored_height"])
    if rec.get("taken_at") and rec.get("date_source") in ("exif", "xmp"):
        out["date"] = rec["taken_at"][:19]
        if rec.get("utc_offset") and rec.get("offset_source") in ("exif", "xmp"):
            out["offset"] = rec["utc_offset"]
    if rec.get("lat") is not None:
        out["gps"] = (round(rec["lat"], 5), round(rec["lon"], 5))
    for key in ("camera", "lens", "orientation", "title", "rating"):
        if rec.get(key) not in (None, ""):
            out[key] = rec[key]
    if rec.get("keywords"):
        out["keywords"] = sorted(rec["keywords"])
    return out


def reader_values(path: str, reader: str) -> dict:
    """EXIF by exifread or Pillow, fed the block trove finds."""
    import io

    from phototrove.media.containers import blocks
    from phototrove.media.exif import camera_name

    from phototrove.media.kinds import heif_available, pillow_limits

    heif_available()
    pillow_limits()
    data = Path(path).read_bytes()
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as im:
            fmt = im.format
    except Exception:
        return {}
    block = blocks(data, fmt).exif
    if not block:
        return {}
    out: dict = {}
    if reader == "ours":
        from phototrove.media.exif import read_exif

        ex = read_exif(block)
        return {k: v for k, v in (("date", (ex.get("taken_local") or "")[:19] or None), ("camera", ex.get("camera")),
                                  ("orientation", ex.get("orientation"))) if v}
    if reader == "exifread":
        import exifread

        try:
            tags = exifread.process_file(io.BytesIO(block), details=False)
        except Exception:
            return {}

        def g(k):
            v = tags.get(k)
            return str(v).strip() if v is not None else None
        date = g("EXIF DateTimeOriginal") or g("EXIF DateTimeDigitized") or g("Image DateTime")
        make, model, orient = g("Image Make"), g("Image Model"), tags.get("Image Orientation")
        orientation = orient.values[0] if orient is not None and orient.values else None
    else:
        from PIL import Image

        try:
            exif = Image.Exif()
            exif.load(b"Exif\x00\x00" + block)
            sub = exif.get_ifd(0x8769)
        except Exception:
            return {}
        date = sub.get(0x9003) or sub.get(0x9004) or exif.get(0x0132)
        make, model, orientation = exif.get(0x010F), exif.get(0x0110), exif.get(0x0112)
    if isinstance(date, str) and date[:4].isdigit() and date[:4] != "0000":
        out["date"] = f"{date[:4]}-{date[5:7]}-{date[8:10]}T{date[11:19]}"
    cam = camera_name(str(make).strip("\x00 ") if make else None, str(model).strip("\x00 ") if model else None)
    if cam:
        out["camera"] = cam
    if isinstance(orientation, int) and 1 <= orientation <= 8:
        out["orientation"] = orientation
    return out


def agree(field: str, a, b) -> bool:
    if field == "gps" and a and b:
        return abs(a[0] - b[0]) < 2e-5 and abs(a[1] - b[1]) < 2e-5
    return a == b


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dirs", nargs="+")
    ap.add_argument("--reader", choices=["trove", "exifread", "pillow", "ours"], default="trove",
                    help="trove: the whole ingest; exifread, pillow, ours: only that EXIF reader on the EXIF block")
    ap.add_argument("--show", type=int, default=20)
    args = ap.parse_args()
    dirs = [os.path.abspath(d) for d in args.dirs]
    oracle = exiftool(dirs)
    ours = trove_records(dirs)
    files = sorted(p for p in ours if p in oracle)
    fields = FIELDS if args.reader == "trove" else ("date", "camera", "orientation")
    for field in fields:
        wrong = []
        for path in files:
            mine = (trove_values(ours[path]) if args.reader == "trove" else reader_values(path, args.reader)).get(field)
            theirs = (oracle_values(oracle[path]) if args.reader == "trove" else exif_oracle(oracle[path])).get(field)
            if not agree(field, mine, theirs):
                wrong.append({"file": path, "trove": mine, "exiftool": theirs})
        print(json.dumps({"bench": "metadata_oracle", "reader": args.reader, "field": field, "files": len(files),
                          "agree": len(files) - len(wrong),
                          "percent": round(100 * (len(files) - len(wrong)) / max(1, len(files)), 2)}))
        for w in wrong[:args.show]:
            print(json.dumps({"field": field, **w}, default=str, ensure_ascii=False))
    not_read = sorted(set(oracle) - set(ours))
    print(json.dumps({"bench": "metadata_oracle", "files_exiftool": len(oracle), "files_trove": len(ours),
                      "compared": len(files), "not_read_by_trove": len(not_read)}))
    for path in not_read[:args.show * 4]:
        print(json.dumps({"not_read": path, "why": trove_records.errors.get(path, "not a photo type trove reads"),
                          "exiftool_type": oracle[path].get("File:FileType")}, ensure_ascii=False))


if __name__ == "__main__":
    main()
