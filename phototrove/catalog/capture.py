"""When a photo was taken, as the photographer lived it: the local wall-clock time and, when it can
be known, its UTC offset, chosen by one documented priority across every origin.

Capture date: camera EXIF > an XMP sidecar > XMP/IPTC in the file > the source's own record
(Lightroom catalog, Takeout sidecar, Apple Photos) > the file name > the upload time > nothing.
A Takeout sidecar's photoTakenTime is the same instant as the file's own time seen from UTC; when
the two are not (no whole-quarter-hour offset within +-14 h apart), the date was changed in Google
Photos after the shot, and the sidecar's instant wins, shown in the file's own zone where known.
UTC offset: the winner's own (EXIF OffsetTime*, an XMP or catalog zone); else the difference
between that local time and a Takeout sidecar's UTC instant (rounded to 15 minutes, within
+-14 h); else the time zone at the photo's GPS position; else unknown (and said so).
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import lru_cache

CAMERA, SIDECAR, EMBEDDED, FILENAME = "exif", "xmp-sidecar", "xmp", "filename"
SOURCES = ("lrcat", "applephotos", "takeout")      # the sources' own records, in this order
DATE_ORDER = (CAMERA, SIDECAR, EMBEDDED) + SOURCES + (FILENAME,)


def resolve_time(meta: dict[str, dict], lat: float | None = None, lon: float | None = None) -> dict:
    """taken_at (local wall clock, ISO without zone), utc_offset ('+02:00'), taken_utc (ISO 'Z'),
    date_source (origin that gave the date) and offset_source (how the offset was found)."""
    out = {"taken_at": None, "utc_offset": None, "taken_utc": None, "date_source": None, "offset_source": None}
    local = offset = utc = None
    for origin in DATE_ORDER:
        m = meta.get(origin) or {}
        if _valid(m.get("taken_local")):
            local, offset, out["date_source"] = m["taken_local"], m.get("utc_offset"), origin
            break
        if _valid(m.get("taken_utc")):
            utc, out["date_source"] = m["taken_utc"], origin
            break
    else:
        for origin in SOURCES:   # an upload time is better than nothing, and said to be one
            m = meta.get(origin) or {}
            if _valid(m.get("created_utc")):
                utc, out["date_source"] = m["created_utc"], f"{origin}-upload"
                break
    if local is None and utc is None:
        return out
    edited = _edited_in_source(local, out["date_source"], meta)
    if edited:   # the instant the source was told; the file still knows its zone
        own = out["date_source"]
        utc, local, out["date_source"] = edited, None, "takeout"
        if offset:
            out["offset_source"] = own
    elif offset:
        out["offset_source"] = out["date_source"]
    elif local is not None:
        offset = _from_instants(local, meta)
        if offset:
            out["offset_source"] = "takeout-utc"
    if offset is None:
        offset = _from_place(local or utc, lat, lon, is_utc=local is None)
        if offset:
            out["offset_source"] = "gps-timezone"
    try:
        if local is None:   # only the instant is known: its local time where the zone is known, else UTC
            instant = _parse(utc)
            shown = instant + _delta(offset) if offset else instant
            out.update(taken_at=_iso(shown, utc), utc_offset=offset, taken_utc=_utc_text(instant, utc))
            if offset is None:
                out["offset_source"] = "unknown (shown in UTC)"
            return out
        out.update(taken_at=local, utc_offset=offset)
        if offset:
            out["taken_utc"] = _utc_text(_parse(local) - _delta(offset), local)
    except OverflowError:   # year 9999 and a negative offset: past the end of time
        out.update(taken_utc=None)
    return out


def _valid(text) -> bool:
    return isinstance(text, str) and _parse(text) is not None


def _parse(text: str) -> datetime | None:
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, TypeError):
        return None
    return dt.replace(tzinfo=None) if dt.tzinfo is None else dt.astimezone(timezone.utc).replace(tzinfo=None)


def _delta(offset: str) -> timedelta:
    sign = -1 if offset[0] == "-" else 1
    return sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6]))


def _offset_text(delta: timedelta) -> str | None:
    minutes = round(delta.total_seconds() / 60)
    if abs(minutes) > 14 * 60:
        return None
    return f"{'+' if minutes >= 0 else '-'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _iso(dt: datetime, like: str) -> str:
    """dt as ISO without zone, with fractions of a second when `like` had them."""
    text = dt.strftime("%Y-%m-%dT%H:%M:%S")
    return text + (dt.strftime(".%f").rstrip("0") if "." in like and dt.microsecond else "")


def _utc_text(dt: datetime, like: str) -> str:
    return _iso(dt, like) + "Z"


def _edited_in_source(local: str | None, origin: str | None, meta: dict) -> str | None:
    """The Takeout sidecar's instant when it disagrees with the file's own wall clock."""
    if local is None or origin not in (CAMERA, SIDECAR, EMBEDDED):
        return None
    utc = (meta.get("takeout") or {}).get("taken_utc")
    if not _valid(utc) or _from_instants(local, {"takeout": {"taken_utc": utc}}):
        return None
    return utc


def _from_instants(local: str, meta: dict) -> str | None:
    """A Takeout sidecar's UTC instant of the same photo, against the camera's wall clock."""
    for origin in SOURCES:
        utc = (meta.get(origin) or {}).get("taken_utc")
        if not _valid(utc):
            continue
        diff = _parse(local) - _parse(utc)
        quarters = round(diff.total_seconds() / 900)
        if abs(diff.total_seconds() - quarters * 900) <= 120:   # the same instant, to a couple of minutes
            return _offset_text(timedelta(minutes=15 * quarters))
    return None


def _from_place(when: str, lat, lon, *, is_utc: bool) -> str | None:
    """The UTC offset in force at the GPS position at that time (an offline time-zone database)."""
    if lat is None or lon is None:
        return None
    name = _zone_name(round(float(lat), 4), round(float(lon), 4))
    if not name:
        return None
    try:
        from zoneinfo import ZoneInfo

        zone = ZoneInfo(name)
    except Exception:  # no tz database entry: nothing to say
        return None
    dt = _parse(when)
    if dt is None:
        return None
    try:
        offset = (dt.replace(tzinfo=timezone.utc).astimezone(zone) if is_utc else dt.replace(tzinfo=zone)).utcoffset()
    except OverflowError:
        return None
    return _offset_text(offset) if offset is not None else None


@lru_cache(maxsize=4096)
def _zone_name(lat: float, lon: float) -> str | None:
    try:
        finder = _finder()
    except ImportError:  # timezonefinder not installed: the zone stays unknown
        return None
    return finder.timezone_at(lng=lon, lat=lat) or None


@lru_cache(maxsize=1)
def _finder():
    from timezonefinder import TimezoneFinder

    return TimezoneFinder()
