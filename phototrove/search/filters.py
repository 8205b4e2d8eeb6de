"""Search filters (dates, sources, albums, cameras, keywords, auto-tags, rating, favorite, place) as Chroma
`where` clauses, and the same semantics in Python for candidates already fetched."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from ..catalog import Catalog
from .index import SearchError

EARTH_KM = 6371.0088


@dataclass
class Filters:
    date_from: str | None = None
    date_to: str | None = None
    sources: tuple[str, ...] = ()
    albums: tuple[str, ...] = ()
    cameras: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()     # auto-tags (the model's), apart from the user's keywords
    min_rating: int | None = None
    favorite: bool = False
    near: str | None = None  # "LAT,LON,KM"
    trashed: bool = False          # only photos in the trash (Takeout's trashed)
    archived: bool = False         # only archived photos
    partner: bool = False          # only photos a partner shared
    include_trashed: bool = False  # trashed photos are left out unless asked for
    media: str = "all"             # photo (images and RAW), video, or all
    stacks: bool = True            # a stack shows once, by its best member (False: every member)

    def described(self) -> str:
        """The filters as they were given: `--from 2019 --album ski`."""
        flags = [("--from", self.date_from), ("--to", self.date_to), ("--min-rating", self.min_rating),
                 ("--near", self.near)] + [(f, v) for f, vs in (("--source", self.sources), ("--album", self.albums),
                                                              ("--camera", self.cameras), ("--keyword", self.keywords),
                                                              ("--tag", self.tags))
                                           for v in vs]
        switches = [f for f, on in (("--favorite", self.favorite), ("--trashed", self.trashed),
                                    ("--archived", self.archived), ("--partner", self.partner)) if on]
        if self.media != "all":
            switches.append(f"--media {self.media}")
        return " ".join([f"{f} {v}" for f, v in flags if v is not None] + switches)

    def given(self) -> bool:
        """Whether the user asked for any filter (leaving out the trash is not one)."""
        return bool(self.described())

    def nothing_matches(self) -> str:
        if self.given():
            return f"no photo matches {self.described()}"
        return "no photo matches: the only matches are in the trash (add --include-trashed to see them)"

    def near_point(self) -> tuple[float, float, float] | None:
        if not self.near:
            return None
        try:
            lat, lon, km = (float(x) for x in self.near.split(","))
        except ValueError:
            raise SearchError(f"--near {self.near!r}: expected LAT,LON,KM (e.g. 48.8584,2.2945,5)") from None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180 and km > 0):
            raise SearchError(f"--near {self.near!r}: latitude -90..90, longitude -180..180, radius > 0 km")
        return lat, lon, km


# -- dates --------------------------------------------------------------------------------------------
def _parse_day(text: str, flag: str) -> tuple[datetime, datetime]:
    """YYYY, YYYY-MM, YYYY-MM-DD or a full ISO time -> [start, end) in UTC."""
    t = text.strip()
    try:
        if re.fullmatch(r"\d{4}", t):
            start = datetime(int(t), 1, 1)
            return start, start.replace(year=start.year + 1)
        if re.fullmatch(r"\d{4}-\d{1,2}", t):
            y, m = map(int, t.split("-"))
            start = datetime(y, m, 1)
            return start, datetime(y + (m == 12), m % 12 + 1, 1)
        if re.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}", t):
            start = datetime(*map(int, t.split("-")))
            return start, start + timedelta(days=1)
        dt = datetime.fromisoformat(t.replace("Z", "+00:00"))
        if dt.tzinfo is not None:
            dt = dt.astimezone(timezone.utc).replace(tzinfo=None)
        return dt, dt + timedelta(seconds=1)
    except ValueError:
        raise SearchError(f"{flag} {text!r}: expected a date like 2019, 2019-07 or 2019-07-14") from None


def _epoch(dt: datetime) -> int:
    return int(dt.replace(tzinfo=timezone.utc).timestamp())


# -- filters -> where ---------------------------------------------------------------------------------
def _match_ids(flag: str, values, match, catalog: Catalog | None = None) -> list:
    """Resolve each user value (case-insensitive substring, or an exact id) with `match(value)`;
    with `catalog`, through its connection's cache (see _cached)."""
    found: list = []
    for v in values:
        rows = match(v) if catalog is None else _cached(catalog, (flag, v), lambda: match(v))
        if not rows:
            raise SearchError(f"{flag} {v!r}: nothing in the catalog matches")
        found += [r for r in rows if r not in found]
    return found


def _any(key: str, values: list, op: str = "$contains") -> dict:
    clauses = [{key: {op: v}} for v in values]
    return clauses[0] if len(clauses) == 1 else {"$or": clauses}


def _cached(catalog: Catalog, key, compute):
    """compute(), kept by the catalog connection until anything is committed to the catalog
    (Catalog.change_mark): a warm process resolves the same filters query after query."""
    mark = getattr(catalog, "change_mark", None)
    if mark is None:
        return compute()
    now = mark()
    cache = catalog.__dict__.get("_trove_filter_cache")
    if cache is None or cache[0] != now or len(cache[1]) > 256:
        cache = catalog.__dict__["_trove_filter_cache"] = (now, {})
    if key not in cache[1]:
        cache[1][key] = compute()
    return cache[1][key]


def any_trashed(catalog: Catalog) -> bool:
    """Whether any photo is in the trash. The catalog answers by reading every photo when none is
    (~45 ms at 100,000 photos): a connection keeps the answer until anything is committed."""
    return _cached(catalog, "any trashed", lambda: catalog.has_flagged("trashed"))


def build_where(catalog: Catalog, f: Filters, *, trash: bool | None = None) -> dict | None:
    """The filters as a Chroma `where` (None: no filter). `trash`: whether any photo the query can
    find is in the trash, when the caller knows (else the catalog is asked)."""
    clauses: list[dict] = []
    if f.date_from:
        clauses.append({"t": {"$gte": _epoch(_parse_day(f.date_from, "--from")[0])}})
    if f.date_to:
        clauses.append({"t": {"$lt": _epoch(_parse_day(f.date_to, "--to")[1])}})
    if f.sources:
        ids = _match_ids("--source", f.sources, catalog.match_sources, catalog)
        clauses.append(_any("src", ids))
    if f.albums:
        ids = _match_ids("--album", f.albums, catalog.match_albums, catalog)
        clauses.append(_any("alb", ids))
    if f.keywords:
        ids = _match_ids("--keyword", f.keywords, catalog.match_keywords, catalog)
        clauses.append(_any("kw", ids))
    if f.tags:
        ids = _match_ids("--tag", f.tags, catalog.match_tags, catalog)
        clauses.append(_any("tg", ids))
    if f.cameras:
        names = _match_ids("--camera", f.cameras, catalog.match_cameras, catalog)
        clauses.append({"cam": {"$in": names}} if len(names) > 1 else {"cam": names[0]})
    if f.min_rating is not None:
        clauses.append({"rt": {"$gte": int(f.min_rating)}})
    if f.favorite:
        clauses.append({"fav": True})
    for on, key in ((f.trashed, "tr"), (f.archived, "ar"), (f.partner, "pt")):
        if on:
            clauses.append({key: True})
    if f.media == "video":
        clauses.append({"md": "video"})
    elif f.media == "photo":
        clauses.append({"md": {"$in": ["image", "raw"]}})
    if not (f.trashed or f.include_trashed) and (any_trashed(catalog) if trash is None else trash):
        clauses.append({"tr": {"$ne": True}})  # an item without the key is not in the trash
    near = f.near_point()
    if near:
        lat, lon, km = near
        dlat = km / 111.195
        clauses += [{"lat": {"$gte": lat - dlat}}, {"lat": {"$lte": lat + dlat}}]
        cos = math.cos(math.radians(min(89.9, abs(lat) + dlat)))
        dlon = km / (111.195 * cos) if cos > 0 else 360
        if dlon < 180:  # a box that wraps the antimeridian is two ranges
            lo, hi = lon - dlon, lon + dlon
            if lo < -180:
                clauses.append({"$or": [{"lon": {"$gte": lo + 360}}, {"lon": {"$lte": hi}}]})
            elif hi > 180:
                clauses.append({"$or": [{"lon": {"$gte": lo}}, {"lon": {"$lte": hi - 360}}]})
            else:
                clauses += [{"lon": {"$gte": lo}}, {"lon": {"$lte": hi}}]
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_KM * math.asin(min(1.0, math.sqrt(a)))


def matches(where: dict, meta: dict) -> bool:
    """Chroma's `where` semantics for the operators build_where emits (a missing key never matches)."""
    (key, cond), = where.items()
    if key == "$and":
        return all(matches(w, meta) for w in cond)
    if key == "$or":
        return any(matches(w, meta) for w in cond)
    if not isinstance(cond, dict):
        cond = {"$eq": cond}
    (op, operand), = cond.items()
    if key not in meta or meta[key] is None:
        return op == "$ne"  # as Chroma answers: a missing key is not equal to anything
    value = meta[key]
    if op == "$contains":
        return isinstance(value, list) and operand in value
    if op == "$in":
        return value in operand
    if op == "$eq":
        return value == operand
    if op == "$ne":
        return value != operand
    if isinstance(value, (bool, str, list)):
        return False
    return {"$gt": value > operand, "$gte": value >= operand, "$lt": value < operand,
            "$lte": value <= operand}[op]
