"""What a Takeout JSON says, by content alone (file names are localized): a photo sidecar's
metadata, or an album's title and description."""
from __future__ import annotations

from datetime import datetime, timezone


def _epoch(value) -> int | None:
    if isinstance(value, dict):
        value = value.get("timestamp")
    if isinstance(value, bool) or value is None:
        return None
    try:
        ts = int(str(value).strip())
    except ValueError:
        return None
    return ts if 0 < ts < 32503680000 else None  # 0 / "" mean "unknown"; beyond year 3000 is junk


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _geo(value) -> dict | None:
    if not isinstance(value, dict):
        return None
    try:
        lat, lon = float(value.get("latitude")), float(value.get("longitude"))
    except (TypeError, ValueError):
        return None
    if (lat == 0 and lon == 0) or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    out = {"lat": round(lat, 7), "lon": round(lon, 7)}
    alt = value.get("altitude")
    if isinstance(alt, (int, float)) and not isinstance(alt, bool) and alt == alt:
        out["alt"] = round(float(alt), 2)
    return out


def _flag(value) -> bool | None:
    if isinstance(value, bool):
        return value or None
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true" or None
    return None


def sidecar_meta(doc: dict) -> dict:
    """Catalog metadata from a photo sidecar; a field of the wrong type is left out, never fatal."""
    meta: dict = {}
    taken, uploaded = _epoch(doc.get("photoTakenTime")), _epoch(doc.get("creationTime"))
    if taken:      # the instant (UTC): the local time comes from the file's EXIF or the GPS position
        meta["taken_utc"] = _iso(taken)
    if uploaded:   # when it was uploaded: a date of last resort, said as such
        meta["created_utc"] = _iso(uploaded)
    edited, camera = _geo(doc.get("geoData")), _geo(doc.get("geoDataExif"))
    place = edited or camera
    if place:
        meta.update(place)
    if camera:
        meta["geo_exif"] = camera
    for key in ("title", "description"):
        v = doc.get(key)
        if isinstance(v, str) and v.strip():
            meta[key] = v.strip()
    people = doc.get("people")
    if isinstance(people, list):
        names = sorted({p["name"].strip() for p in people
                        if isinstance(p, dict) and isinstance(p.get("name"), str) and p["name"].strip()})
        if names:
            meta["people"] = names
    for src, dst in (("favorited", "favorite"), ("archived", "archived"), ("trashed", "trashed"),
                     ("inLockedFolder", "locked")):
        v = _flag(doc.get(src))
        if v:
            meta[dst] = True
    origin = doc.get("googlePhotosOrigin")
    if isinstance(origin, dict) and origin.get("fromPartnerSharing") not in (None, False):
        meta["partner"] = True  # present (as {}) when a partner shared it: the partner's photo, kept
    return meta


def json_kind(doc) -> str:
    """'sidecar', 'album' or 'other' (print orders, shared-album comments, memory titles and the
    rest of Google's product data), by content alone: file names are localized."""
    if not isinstance(doc, dict):
        return "other"
    if isinstance(doc.get("albumData"), dict):
        return "album"
    if any(k in doc for k in ("photoTakenTime", "creationTime", "imageViews", "photoLastModifiedTime")):
        return "sidecar"  # (album JSON may carry geoData too, so that key decides nothing)
    if isinstance(doc.get("title"), str) and ("access" in doc or isinstance(doc.get("date"), dict)):
        return "album"    # an album's title comes with its sharing state and date
    return "other"


def album_info(doc: dict) -> tuple[str | None, str | None]:
    d = doc.get("albumData") if isinstance(doc.get("albumData"), dict) else doc
    title = d.get("title") if isinstance(d.get("title"), str) and d.get("title").strip() else None
    desc = d.get("description") if isinstance(d.get("description"), str) and d.get("description").strip() else None
    return title, desc
