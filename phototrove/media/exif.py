"""Reading EXIF: capture time as the camera's wall clock (with sub-seconds and, when recorded, its
UTC offset), GPS, camera, lens, exposure and orientation, as catalog metadata keys.

The TIFF structure is read by media/tiff.py, which salvages damaged IFDs entry by entry. A value
that does not parse is dropped and said in `notes`; reading never raises on what a file contains.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta

from .tiff import Tiff, TiffError, read_tiff

MAKE, MODEL, ORIENTATION, DATETIME, RATING = 0x010F, 0x0110, 0x0112, 0x0132, 0x4746
ORIGINAL, DIGITIZED = 0x9003, 0x9004
OFFSET, OFFSET_ORIGINAL, OFFSET_DIGITIZED = 0x9010, 0x9011, 0x9012
SUBSEC, SUBSEC_ORIGINAL, SUBSEC_DIGITIZED = 0x9290, 0x9291, 0x9292
LENS_MAKE, LENS_MODEL = 0xA433, 0xA434
EXPOSURE, FNUMBER, ISO, FOCAL = 0x829A, 0x829D, 0x8827, 0x920A
OFFSET_RE = re.compile(r"([+-])(\d\d):(\d\d)")


def read_exif(tiff_block: bytes | memoryview | None) -> dict:
    """Catalog metadata from an EXIF block (a TIFF structure); {} when there is none."""
    if not tiff_block:
        return {}
    try:
        tiff = read_tiff(tiff_block)
    except TiffError:
        return {"notes": ["EXIF block without a TIFF header: ignored"]}
    return exif_fields(tiff)


def exif_fields(tiff: Tiff) -> dict:
    out: dict = {}
    notes: list[str] = list(tiff.notes)
    for name, read in (("date", _date), ("GPS", _gps), ("camera", _camera), ("exposure", _exposure),
                       ("orientation", _orientation), ("rating", _rating), ("burst", _apple_burst)):
        try:
            read(tiff, out, notes)
        except Exception as e:  # an odd value of one field must not cost the others
            notes.append(f"EXIF {name} dropped: {type(e).__name__}: {e}"[:200])
    if notes:
        out["notes"] = notes[:20]
    return out


def utc_offset(text) -> timedelta | None:
    """'+02:00' -> timedelta; None for anything that is not a real UTC offset (-14:00 .. +14:00,
    minutes < 60)."""
    m = OFFSET_RE.fullmatch(text.strip()) if isinstance(text, str) else None
    if not m:
        return None
    hours, minutes = int(m.group(2)), int(m.group(3))
    if minutes >= 60 or hours * 60 + minutes > 14 * 60:
        return None
    return (1 if m.group(1) == "+" else -1) * timedelta(hours=hours, minutes=minutes)


def offset_text(delta: timedelta) -> str:
    minutes = round(delta.total_seconds() / 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _date(tiff: Tiff, out: dict, notes: list[str]) -> None:
    exif, ifd0 = tiff.ifd("exif"), tiff.ifd("ifd0")
    for value, subsec, offset, name in ((exif.get(ORIGINAL), exif.get(SUBSEC_ORIGINAL), exif.get(OFFSET_ORIGINAL),
                                         "DateTimeOriginal"),
                                        (exif.get(DIGITIZED), exif.get(SUBSEC_DIGITIZED), exif.get(OFFSET_DIGITIZED),
                                         "CreateDate"),
                                        (ifd0.get(DATETIME), exif.get(SUBSEC), exif.get(OFFSET), "ModifyDate")):
        if not isinstance(value, str) or not value.strip() or value.startswith("0000"):
            continue
        try:
            dt = datetime.strptime(value.strip()[:19].replace("-", ":").replace("T", " "), "%Y:%m:%d %H:%M:%S")
        except ValueError:
            notes.append(f"EXIF {name} {value[:40]!r} is not a date: ignored")
            continue
        if dt.year < 1800:
            continue
        local = dt.strftime("%Y-%m-%dT%H:%M:%S")
        digits = re.match(r"\s*(\d+)", subsec) if isinstance(subsec, str) else None
        if digits:
            local += "." + digits.group(1)
        out["taken_local"] = local
        zone = value.strip()[19:].lstrip("0123456789.")   # an ISO date written where EXIF wants its own
        if offset is None and (zone == "Z" or OFFSET_RE.fullmatch(zone)):
            offset = "+00:00" if zone == "Z" else zone
        if offset is not None:
            delta = utc_offset(offset)
            if delta is None:
                notes.append(f"EXIF OffsetTime {str(offset)[:20]!r} is not a UTC offset: ignored")
            else:
                out["utc_offset"] = offset_text(delta)
        return


def _gps(tiff: Tiff, out: dict, notes: list[str]) -> None:
    gps = tiff.ifd("gps")
    lat, lon = _coord(gps.get(2), gps.get(1), "S"), _coord(gps.get(4), gps.get(3), "W")
    if lat is None or lon is None or (lat == 0 and lon == 0) or abs(lat) > 90 or abs(lon) > 180:
        return
    out["lat"], out["lon"] = round(lat, 7), round(lon, 7)
    alt = gps.get(6)
    if isinstance(alt, (int, float)) and abs(alt) < 1e6:
        ref = gps.get(5)
        below = ref == 1 or (isinstance(ref, bytes) and ref[:1] == b"\x01")
        out["alt"] = round(-alt if below else alt, 2)


def _coord(value, ref, negative: str) -> float | None:
    if isinstance(value, (int, float)):
        parts = [value]
    elif isinstance(value, tuple) and 1 <= len(value) <= 3 and all(isinstance(v, (int, float)) for v in value):
        parts = list(value)
    else:
        return None
    v = parts[0] + (parts[1] / 60 if len(parts) > 1 else 0) + (parts[2] / 3600 if len(parts) > 2 else 0)
    r = ref.decode("latin-1") if isinstance(ref, bytes) else (ref or "")
    return -v if r.strip().upper().startswith(negative) else v


def camera_name(make: str | None, model: str | None) -> str | None:
    """'Canon' + 'Canon EOS 5D' -> 'Canon EOS 5D'; 'NIKON CORPORATION' + 'NIKON D70' -> 'NIKON D70';
    'Apple' + 'iPhone 12' -> 'Apple iPhone 12'."""
    make, model = (make or "").strip(), (model or "").strip()
    if model:
        first = make.split()[0].lower() if make else ""
        return model if not make or model.lower().startswith(first) else f"{make} {model}"
    return make or None


def _camera(tiff: Tiff, out: dict, notes: list[str]) -> None:
    ifd0, exif = tiff.ifd("ifd0"), tiff.ifd("exif")
    make = ifd0.get(MAKE) if isinstance(ifd0.get(MAKE), str) else None
    model = ifd0.get(MODEL) if isinstance(ifd0.get(MODEL), str) else None
    camera = camera_name(make, model)
    if camera:
        out["camera"] = camera
    if make:
        out["make"] = make
    lens = exif.get(LENS_MODEL)
    if isinstance(lens, str) and lens.strip():
        out["lens"] = lens.strip()


def _exposure(tiff: Tiff, out: dict, notes: list[str]) -> None:
    exif = tiff.ifd("exif")
    for key, tag in (("shutter", EXPOSURE), ("aperture", FNUMBER), ("focal_length", FOCAL)):
        v = exif.get(tag)
        if isinstance(v, (int, float)) and v > 0:
            out[key] = round(float(v), 6)
    iso = exif.get(ISO)
    iso = iso[0] if isinstance(iso, tuple) and iso else iso
    if isinstance(iso, int) and iso > 0:
        out["iso"] = iso


def _rating(tiff: Tiff, out: dict, notes: list[str]) -> None:
    value = tiff.ifd("ifd0").get(RATING)   # Microsoft's, as Windows and some cameras write it
    if isinstance(value, int) and 0 <= value <= 5:
        out["rating"] = value


def _orientation(tiff: Tiff, out: dict, notes: list[str]) -> None:
    value = tiff.ifd("ifd0").get(ORIENTATION)
    if value is None:
        return
    if isinstance(value, int) and 1 <= value <= 8:
        out["orientation"] = value
    else:
        notes.append(f"EXIF orientation {value!r} is not 1..8: ignored")


MAKER_NOTE, APPLE_BURST = 0x927C, 0x000B


def _apple_burst(tiff: Tiff, out: dict, notes: list[str]) -> None:
    """Apple's burst UUID, from its maker note: `Apple iOS\\0`, a version, `MM`, then an IFD at
    offset 14 whose offsets count from the maker note's start."""
    note = tiff.ifd("exif").get(MAKER_NOTE)
    if not isinstance(note, bytes) or not note.startswith(b"Apple iOS\x00") or len(note) < 16:
        return
    try:
        apple = read_tiff(b"MM\x00\x2a\x00\x00\x00\x0e" + note[8:], sub_ifds=False)
    except TiffError:
        return
    burst = apple.get("ifd0", APPLE_BURST)
    if isinstance(burst, str) and burst.strip():
        out["burst"] = burst.strip()
