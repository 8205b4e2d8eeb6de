"""What a video says of itself, as catalog keys: from an ISO-BMFF movie's items (Apple's and Android's
keys, QuickTime's '©day', '©xyz', '©mak', '©mod', 3GPP's location) and from the tags FFmpeg reads of
the other containers; the values they share: dates (ISO text, the movie header's seconds since
1904), ISO 6709 places, make and model."""
from __future__ import annotations

import math
import re
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from ..exif import camera_name, offset_text, utc_offset

if TYPE_CHECKING:
    from .moov import _Movie

EPOCH_1904 = datetime(1904, 1, 1)
UNIX_EPOCH = datetime(1970, 1, 1)
ISO_DATE = re.compile(r"(\d{4})[-:](\d\d)[-:](\d\d)[T ](\d\d):(\d\d):(\d\d)(?:[.,]\d+)?\s*(Z|[+-]\d\d:?\d\d)?")
ISO6709 = re.compile(r"([+-][\d.]+)([+-][\d.]+)([+-][\d.]+)?(?:CRS[^/]*)?/?")


def _iso_meta(movie: _Movie, notes: list[str]) -> dict:
    items = movie.items
    out: dict = {}
    apple_date = items.get("com.apple.quicktime.creationdate")
    if apple_date is None and len(str(items.get("©day", ""))) > 4:   # (iTunes tags put a year there)
        apple_date = items["©day"]
    if not (isinstance(apple_date, str) and _set_date(out, apple_date, "creation date", notes, naive="local")):
        _set_mvhd_date(out, movie.created, notes)
    for key in ("com.apple.quicktime.location.ISO6709", "©xyz"):
        value = items.get(key)
        if isinstance(value, str) and _set_place(out, value, notes):
            break
    else:
        if "loci" in items:
            lat, lon, alt = items["loci"]
            _set_latlon(out, lat, lon, alt)
    return _finish(out, items, "©mak", "©mod", notes)


def _first_text(items: dict, *keys: str) -> str | None:
    for key in keys:
        value = items.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _tag_meta(tags: dict, fmt: str, notes: list[str]) -> dict:
    """Container tags as FFmpeg reads them: creation_time (UTC, except an AVI's IDIT, which is the
    camera's wall clock), an ISO 6709 location, make and model."""
    out: dict = {}
    when = tags.get("creation_time") or tags.get("com.apple.quicktime.creationdate")
    if when:
        _set_date(out, when, "creation time", notes, naive="local" if fmt == "avi" else "utc")
    for key in ("com.apple.quicktime.location.iso6709", "location", "location-eng"):
        if key in tags and _set_place(out, tags[key], notes):
            break
    return _finish(out, tags, "make", "model", notes)


def _finish(out: dict, tags: dict, make_key: str, model_key: str, notes: list[str]) -> dict:
    """Make and model (Apple's and Android's keys first, then the container's own), title,
    description and keywords, and the notes."""
    make = _first_text(tags, "com.apple.quicktime.make", "com.android.manufacturer", make_key)
    model = _first_text(tags, "com.apple.quicktime.model", "com.android.model", model_key)
    _set_camera(out, make, model)
    for key, names in (("title", ("com.apple.quicktime.title", "©nam", "titl", "title")),
                       ("description", ("com.apple.quicktime.description", "desc", "©des", "dscp", "description"))):
        value = _first_text(tags, *names)
        if value:
            out[key] = value
    words = tags.get("com.apple.quicktime.keywords") or tags.get("keyw") or []
    words = sorted({w.strip() for w in (words if isinstance(words, list) else [words])
                    if isinstance(w, str) and w.strip()})
    if words:
        out["keywords"] = words
    if notes:
        out["notes"] = notes[:20]
    return out


# -- metadata values (shared by every container) ------------------------------------------------------
def _set_date(out: dict, text: str, what: str, notes: list[str], *, naive: str) -> bool:
    """An ISO date into the catalog keys: with a UTC offset, the wall clock and its offset; with
    'Z', the UTC instant; with neither, `naive` says which it is ('local' or 'utc')."""
    m = ISO_DATE.fullmatch(text.strip())
    try:
        dt = datetime(*map(int, m.groups()[:6])) if m else None
    except ValueError:
        dt = None
    if dt is None or dt.year < 1970:
        notes.append(f"{what} {text[:40]!r} is not a date: ignored")
        return False
    if dt == UNIX_EPOCH:   # a zero the demuxer converted (an ASF creation time never set): no date
        return False
    if dt > datetime.now(timezone.utc).replace(tzinfo=None) + timedelta(days=2):
        notes.append(f"{what} {text[:40]!r} is in the future: ignored")
        return False
    zone = m.group(7)
    if zone and zone != "Z":
        delta = utc_offset(zone if ":" in zone else zone[:3] + ":" + zone[3:])
        if delta is None:
            notes.append(f"{what} offset {zone!r} is not a UTC offset: ignored")
            zone = None
        else:
            out["taken_local"], out["utc_offset"] = dt.strftime("%Y-%m-%dT%H:%M:%S"), offset_text(delta)
            return True
    if zone == "Z" or naive == "utc":
        out["taken_utc"] = dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    else:
        out["taken_local"] = dt.strftime("%Y-%m-%dT%H:%M:%S")
    return True


def _set_mvhd_date(out: dict, seconds: int, notes: list[str]) -> None:
    """The movie header's creation time: UTC seconds since 1904; 0 means not set."""
    if not seconds:
        return
    try:
        dt = EPOCH_1904 + timedelta(seconds=seconds)
    except OverflowError:
        dt = None
    if dt is None or dt.year < 1970 or dt > datetime.now(timezone.utc).replace(tzinfo=None) + timedelta(days=2):
        notes.append(f"movie creation time {seconds} is not a plausible date: ignored")
        return
    out["taken_utc"] = dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def _set_place(out: dict, text: str, notes: list[str]) -> bool:
    """ISO 6709 '+48.8584+002.2945+035.000/' (degrees, or DDMM.mm / DDMMSS.s) into lat/lon/alt."""
    m = ISO6709.fullmatch(text.strip())
    lat = _angle(m.group(1), 2) if m else None
    lon = _angle(m.group(2), 3) if m else None
    if lat is None or lon is None or abs(lat) > 90 or abs(lon) > 180:
        notes.append(f"location {text[:40]!r} is not ISO 6709: ignored")
        return False
    alt = None
    if m.group(3):
        try:
            alt = float(m.group(3))
        except ValueError:
            alt = None
    _set_latlon(out, lat, lon, alt)
    return True


def _angle(text: str, degree_digits: int) -> float | None:
    """'+48.8584' (degrees), '+4851.504' (degrees and minutes) or '+485130.2' (and seconds)."""
    sign = -1 if text[0] == "-" else 1
    whole, dot, frac = text[1:].partition(".")
    if not whole.isdigit() or (frac and not frac.isdigit()) or (dot and not frac):
        return None
    frac = "." + frac if frac else ""
    extra = len(whole) - degree_digits
    if extra <= 0:
        value = float(whole + frac)
    elif extra == 2:
        value = int(whole[:degree_digits]) + float(whole[degree_digits:] + frac) / 60
    elif extra == 4:
        value = (int(whole[:degree_digits]) + int(whole[degree_digits:degree_digits + 2]) / 60
                 + float(whole[degree_digits + 2:] + frac) / 3600)
    else:
        return None
    return sign * value


def _set_latlon(out: dict, lat: float, lon: float, alt: float | None) -> None:
    if (lat == 0 and lon == 0) or abs(lat) > 90 or abs(lon) > 180:
        return
    out["lat"], out["lon"] = round(lat, 7), round(lon, 7)
    if alt is not None and math.isfinite(alt) and abs(alt) < 1e6:
        out["alt"] = round(alt, 2)


def _set_camera(out: dict, make: str | None, model: str | None) -> None:
    camera = camera_name(make, model)
    if camera:
        out["camera"] = camera
    if make:
        out["make"] = make
