"""Reading EXIF: date taken, GPS, camera, lens and orientation as catalog metadata keys."""
from __future__ import annotations

import io
import logging
import re
from datetime import datetime, timedelta, timezone


def read_exif(data: bytes | memoryview, container_exif: bytes | None = None) -> dict:
    """Date taken, GPS (decimal degrees), camera, lens and orientation, as catalog metadata keys.

    `container_exif` is the raw EXIF block a decoder pulled out of the container (HEIF): used when
    exifread cannot find it in the file itself.
    """
    tags = _exif_tags(data)
    if not tags and container_exif:
        tiff = container_exif[6:] if container_exif.startswith(b"Exif\x00\x00") else container_exif
        tags = _exif_tags(tiff)
    out: dict = {}
    taken = _exif_datetime(tags)
    if taken:
        out["taken_at"] = taken
    lat = _gps_coord(tags, "GPS GPSLatitude", "GPS GPSLatitudeRef", "S")
    lon = _gps_coord(tags, "GPS GPSLongitude", "GPS GPSLongitudeRef", "W")
    if lat is not None and lon is not None and not (lat == 0 and lon == 0) and abs(lat) <= 90 and abs(lon) <= 180:
        out["lat"], out["lon"] = round(lat, 7), round(lon, 7)
        alt = _ratio(tags.get("GPS GPSAltitude"))
        if alt is not None:
            ref = tags.get("GPS GPSAltitudeRef")
            out["alt"] = round(-alt if ref is not None and str(ref.values[:1]) in ("[1]", "1") else alt, 2)
    make = _text(tags.get("Image Make"))
    model = _text(tags.get("Image Model"))
    if model:
        out["camera"] = model if not make or model.lower().startswith(make.split()[0].lower()) else f"{make} {model}"
    elif make:
        out["camera"] = make
    lens = _text(tags.get("EXIF LensModel"))
    if lens:
        out["lens"] = lens
    orientation = tags.get("Image Orientation")
    if orientation is not None:
        try:
            value = int(orientation.values[0])
            if 1 <= value <= 8:
                out["orientation"] = value
        except (IndexError, TypeError, ValueError):
            pass
    return out


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


def _exif_datetime(tags) -> str | None:
    for key, offset_key in (("EXIF DateTimeOriginal", "EXIF OffsetTimeOriginal"),
                            ("EXIF DateTimeDigitized", "EXIF OffsetTimeDigitized"),
                            ("Image DateTime", "EXIF OffsetTime")):
        raw = _text(tags.get(key))
        if not raw:
            continue
        try:
            dt = datetime.strptime(raw[:19], "%Y:%m:%d %H:%M:%S")
        except ValueError:
            continue
        if dt.year < 1800:
            continue
        offset = _text(tags.get(offset_key))
        m = re.fullmatch(r"([+-])(\d\d):(\d\d)", offset or "")
        if m:  # a camera that recorded its UTC offset lets us give the true instant
            sign = 1 if m.group(1) == "+" else -1
            tz = timezone(sign * timedelta(hours=int(m.group(2)), minutes=int(m.group(3))))
            return dt.replace(tzinfo=tz).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return dt.strftime("%Y-%m-%dT%H:%M:%S")  # local time of the camera, zone unknown
    return None
