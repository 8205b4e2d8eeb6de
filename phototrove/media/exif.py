"""Reading EXIF: date taken, GPS, camera, lens and orientation as catalog metadata keys."""
from __future__ import annotations

import io
import logging
import re
from datetime import datetime, timedelta, timezone


def read_exif(data: bytes | memoryview, container_exif: bytes | None = None) -> dict:
    """Date taken, GPS (decimal degrees), camera, lens and orientation, as catalog metadata keys.

    `container_exif` is the raw EXIF block a decoder pulled out of the container (HEIF): used when
    exifread cannot find it in the file itself. A value that does not parse is dropped and said in
    `notes` (a list of short sentences); reading never raises on what a file contains.
    """
    tags = _exif_tags(data)
    if not tags and container_exif:
        tiff = container_exif[6:] if container_exif.startswith(b"Exif\x00\x00") else container_exif
        tags = _exif_tags(tiff)
    out: dict = {}
    notes: list[str] = []
    for name, read in (("date", _date_field), ("GPS", _gps_field), ("camera", _camera_field),
                       ("orientation", _orientation_field)):
        try:
            read(tags, out, notes)
        except Exception as e:  # an odd value of one field must not cost the others
            notes.append(f"EXIF {name} dropped: {type(e).__name__}: {e}"[:200])
    if notes:
        out["notes"] = notes
    return out


def _date_field(tags, out: dict, notes: list[str]) -> None:
    taken = _exif_datetime(tags, notes)
    if taken:
        out["taken_at"] = taken


def _gps_field(tags, out: dict, notes: list[str]) -> None:
    lat = _gps_coord(tags, "GPS GPSLatitude", "GPS GPSLatitudeRef", "S")
    lon = _gps_coord(tags, "GPS GPSLongitude", "GPS GPSLongitudeRef", "W")
    if lat is not None and lon is not None and not (lat == 0 and lon == 0) and abs(lat) <= 90 and abs(lon) <= 180:
        out["lat"], out["lon"] = round(lat, 7), round(lon, 7)
        alt = _ratio(tags.get("GPS GPSAltitude"))
        if alt is not None and abs(alt) < 1e6:
            ref = tags.get("GPS GPSAltitudeRef")
            out["alt"] = round(-alt if ref is not None and str(ref.values[:1]) in ("[1]", "1") else alt, 2)


def _camera_field(tags, out: dict, notes: list[str]) -> None:
    make = _text(tags.get("Image Make"))
    model = _text(tags.get("Image Model"))
    if model:
        out["camera"] = model if not make or model.lower().startswith(make.split()[0].lower()) else f"{make} {model}"
    elif make:
        out["camera"] = make
    lens = _text(tags.get("EXIF LensModel"))
    if lens:
        out["lens"] = lens


def _orientation_field(tags, out: dict, notes: list[str]) -> None:
    orientation = tags.get("Image Orientation")
    if orientation is not None:
        try:
            value = int(orientation.values[0])
        except (IndexError, TypeError, ValueError):
            return
        if 1 <= value <= 8:
            out["orientation"] = value
        else:
            notes.append(f"EXIF orientation {value} is not 1..8: ignored")


def _exif_tags(data: bytes | memoryview) -> dict:
    import exifread

    logging.getLogger("exifread").setLevel(logging.CRITICAL)  # it logs "no EXIF" for every PNG
    try:
        return exifread.process_file(io.BytesIO(data), details=False, extract_thumbnail=False)
    except Exception:  # exifread raises anything (even AssertionError) on odd files; EXIF is optional
        return {}


def _text(tag) -> str | None:
    if tag is None:
        return None
    value = str(tag.printable if hasattr(tag, "printable") else tag).strip().strip("\x00").strip()
    return value or None


def _ratio(tag) -> float | None:
    if tag is None or not getattr(tag, "values", None):
        return None
    v = tag.values[0]
    try:
        return float(v.num) / float(v.den) if hasattr(v, "num") else float(v)
    except (ZeroDivisionError, TypeError, ValueError):
        return None


def _gps_coord(tags, key: str, ref_key: str, negative: str) -> float | None:
    tag = tags.get(key)
    if tag is None or len(getattr(tag, "values", [])) != 3:
        return None
    try:
        d, m, s = (float(v.num) / float(v.den) if hasattr(v, "num") else float(v) for v in tag.values)
    except (ZeroDivisionError, TypeError, ValueError):
        return None
    value = d + m / 60 + s / 3600
    ref = _text(tags.get(ref_key))
    return -value if ref and ref.upper().startswith(negative) else value


OFFSET = re.compile(r"([+-])(\d\d):(\d\d)")


def utc_offset(text: str | None) -> timedelta | None:
    """'+02:00' -> timedelta; None for anything that is not a real UTC offset (-14:00 .. +14:00,
    minutes < 60)."""
    m = OFFSET.fullmatch(text or "")
    if not m:
        return None
    hours, minutes = int(m.group(2)), int(m.group(3))
    if minutes >= 60 or hours * 60 + minutes > 14 * 60:
        return None
    return (1 if m.group(1) == "+" else -1) * timedelta(hours=hours, minutes=minutes)


def _exif_datetime(tags, notes: list[str]) -> str | None:
    for key, offset_key in (("EXIF DateTimeOriginal", "EXIF OffsetTimeOriginal"),
                            ("EXIF DateTimeDigitized", "EXIF OffsetTimeDigitized"),
                            ("Image DateTime", "EXIF OffsetTime")):
        raw = _text(tags.get(key))
        if not raw:
            continue
        try:
            dt = datetime.strptime(raw[:19], "%Y:%m:%d %H:%M:%S")
        except ValueError:
            notes.append(f"EXIF {key.split()[-1]} {raw[:40]!r} is not a date: ignored")
            continue
        if dt.year < 1800:
            continue
        offset_text = _text(tags.get(offset_key))
        offset = utc_offset(offset_text)
        if offset_text and offset is None:
            notes.append(f"EXIF {offset_key.split()[-1]} {offset_text[:20]!r} is not a UTC offset: ignored")
        if offset is not None:  # a camera that recorded its UTC offset lets us give the true instant
            try:
                return dt.replace(tzinfo=timezone(offset)).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            except OverflowError:  # year 9999 and a negative offset: past the end of time
                notes.append(f"EXIF {key.split()[-1]} {raw[:19]!r} with offset {offset_text}: out of range, "
                             "kept as local time")
        return dt.strftime("%Y-%m-%dT%H:%M:%S")  # local time of the camera, zone unknown
    return None
