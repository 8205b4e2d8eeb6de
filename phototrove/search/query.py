"""Queries: text, an image file, a photo of the library, and weighted mixes of them, with filters
that Chroma applies inside the vector search (`where`)."""
from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from ..catalog import Catalog
from .index import ChromaIndex, ModelMismatch, NotIndexed, SearchError

EARTH_KM = 6371.0088


@dataclass
class Filters:
    date_from: str | None = None
    date_to: str | None = None
    sources: tuple[str, ...] = ()
    albums: tuple[str, ...] = ()
    cameras: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    min_rating: int | None = None
    favorite: bool = False
    near: str | None = None  # "LAT,LON,KM"

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


@dataclass
class Hit:
    photo_id: int
    score: float
    record: dict = field(default_factory=dict)


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
def _match_ids(catalog: Catalog, flag: str, values, sql: str) -> list:
    """Resolve each user value (case-insensitive substring, or an exact id) through the catalog."""
    found: list = []
    for v in values:
        rows = [r[0] for r in catalog.db.execute(sql, (v, f"%{v}%"))]
        if not rows:
            raise SearchError(f"{flag} {v!r}: nothing in the catalog matches")
        found += [r for r in rows if r not in found]
    return found


def _any(key: str, values: list, op: str = "$contains") -> dict:
    clauses = [{key: {op: v}} for v in values]
    return clauses[0] if len(clauses) == 1 else {"$or": clauses}


def build_where(catalog: Catalog, f: Filters) -> dict | None:
    clauses: list[dict] = []
    if f.date_from:
        clauses.append({"t": {"$gte": _epoch(_parse_day(f.date_from, "--from")[0])}})
    if f.date_to:
        clauses.append({"t": {"$lt": _epoch(_parse_day(f.date_to, "--to")[1])}})
    if f.sources:
        ids = _match_ids(catalog, "--source", f.sources,
                         "SELECT id FROM sources WHERE CAST(id AS TEXT)=?1 OR root LIKE ?2 OR kind=?1 ORDER BY id")
        clauses.append(_any("src", ids))
    if f.albums:
        ids = _match_ids(catalog, "--album", f.albums,
                         "SELECT id FROM albums WHERE coalesce(title, key) LIKE ?2 OR key=?1 ORDER BY id")
        clauses.append(_any("alb", ids))
    if f.keywords:
        ids = _match_ids(catalog, "--keyword", f.keywords,
                         "SELECT id FROM keywords WHERE name=?1 COLLATE NOCASE OR name LIKE ?2 ORDER BY id")
        clauses.append(_any("kw", ids))
    if f.cameras:
        names = _match_ids(catalog, "--camera", f.cameras,
                           "SELECT DISTINCT camera FROM photos WHERE camera=?1 OR camera LIKE ?2 ORDER BY 1")
        clauses.append({"cam": {"$in": names}} if len(names) > 1 else {"cam": names[0]})
    if f.min_rating is not None:
        clauses.append({"rt": {"$gte": int(f.min_rating)}})
    if f.favorite:
        clauses.append({"fav": True})
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


# -- models -------------------------------------------------------------------------------------------
def pick_model(catalog: Catalog, index: ChromaIndex, requested: str | None) -> tuple[str, str | None]:
    """(model id to search, spec to load its towers with). `requested` may be a model id of the
    catalog or a spec (registry name, folder, module:factory)."""
    models = catalog.embedding_models()
    if not models:
        raise NotIndexed("nothing is embedded yet: run `trove ingest folder PATH --model NAME` first")
    if requested:
        if requested in models:
            return requested, index.stored_spec(requested) or requested
        for m in models:
            if index.stored_spec(m) == requested:
                return m, requested
        return "", requested  # known only once loaded: checked by check_model
    if len(models) > 1:
        raise SearchError(f"the library holds embeddings of several models ({', '.join(models)}): "
                          "choose one with --model")
    return models[0], index.stored_spec(models[0]) or models[0]


def check_model(catalog: Catalog, model_id: str, loaded_id: str) -> None:
    models = catalog.embedding_models()
    if loaded_id not in models:
        raise ModelMismatch(
            f"the library is indexed with model {', '.join(repr(m) for m in models)}, but the query model is "
            f"{loaded_id!r}: search with --model {models[0]}, or embed the library with the new model "
            f"(`trove ingest ... --model {loaded_id}`)")


def open_collection(catalog: Catalog, index: ChromaIndex, model_id: str):
    col = index.collection(model_id)
    if col is None:
        name = index.name(model_id)
        raise NotIndexed(f"nothing is indexed for model {model_id!r} yet"
                         + (f" ({name} is missing from {index.where})" if name else "")
                         + f": run `trove index rebuild --model {model_id}`")
    dims = [r[0] for r in catalog.db.execute("SELECT dim FROM embeddings WHERE model=? LIMIT 1", (model_id,))]
    stored = (col.metadata or {}).get("trove_dim")
    if dims and stored and stored != dims[0]:
        raise ModelMismatch(f"the index holds {stored}-dimensional vectors for model {model_id!r} but the catalog "
                            f"has {dims[0]}: run `trove index rebuild --model {model_id}`")
    return col


def unindexed(catalog: Catalog, model_id: str) -> int:
    """Present photos embedded with the model that the index does not hold yet."""
    return catalog.db.execute(
        "SELECT count(*) FROM embeddings e WHERE e.model=? AND e.indexed=0 AND EXISTS "
        "(SELECT 1 FROM locations l WHERE l.photo_id=e.photo_id AND l.state='ok')", (model_id,)).fetchone()[0]


def combine(parts: list[tuple[float, object]]):
    """Weighted sum of unit vectors, normalized: "beach" - "people" and friends."""
    import numpy as np

    total = sum(w * np.asarray(v, dtype=np.float32) for w, v in parts)
    norm = float(np.linalg.norm(total))
    if not math.isfinite(norm) or norm < 1e-6:
        raise SearchError("the query terms cancel out: nothing left to search for")
    return total / norm


WEIGHT = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*:(.+)$")


def weighted(term: str) -> tuple[float, str]:
    """"2:sunset" -> (2.0, "sunset"); a term without a weight counts once."""
    m = WEIGHT.match(term)
    return (float(m.group(1)), m.group(2).strip()) if m else (1.0, term)


def resolve_photo(catalog: Catalog, ref: str) -> int:
    """A photo by catalog id, content-hash prefix (>= 6 hex digits) or a path it was seen at."""
    db = catalog.db
    if ref.isdigit() and db.execute("SELECT 1 FROM photos WHERE id=?", (int(ref),)).fetchone():
        return int(ref)
    if re.fullmatch(r"[0-9a-fA-F]{6,64}", ref):
        rows = db.execute("SELECT id FROM photos WHERE hash LIKE ? LIMIT 2", (ref.lower() + "%",)).fetchall()
        if len(rows) == 1:
            return rows[0][0]
        if len(rows) > 1:
            raise SearchError(f"photo {ref!r}: the hash prefix matches several photos; give more digits")
    for candidate in dict.fromkeys([ref, os.path.abspath(os.path.expanduser(ref))]):
        row = db.execute("SELECT photo_id FROM locations WHERE (path=? OR path || '!' || entry=?) "
                         "AND photo_id IS NOT NULL ORDER BY state!='ok', rank LIMIT 1",
                         (candidate, candidate)).fetchone()
        if row:
            return row[0]
    raise SearchError(f"photo {ref!r}: no photo with that id, hash prefix or path (see `trove list`)")


# -- running a query ----------------------------------------------------------------------------------
# Chroma's local engine evaluates `where` by scanning every item's metadata (no metadata indices:
# ~0.5-0.8 s per query at 100k photos here). So a filtered query first looks at the OVERFETCH best
# unfiltered candidates and applies the same `where` to their metadata: if enough pass, they are
# exactly the filtered query's best (anything ranked lower scores below all of them); if too few
# pass, the filter is selective and Chroma runs the query with `where`. 0 always asks Chroma.
OVERFETCH = 400


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
        return False
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


def _take(res, near, min_score, where=None) -> tuple[list[Hit], bool]:
    """Hits from one Chroma answer, best first; True when min_score cut the list short."""
    hits: list[Hit] = []
    for h, d, m in zip(res["ids"][0], res["distances"][0], res["metadatas"][0]):
        score = 1.0 - float(d)
        if min_score is not None and score < min_score:
            return hits, True
        if where is not None and not matches(where, m):
            continue
        if near and (m.get("lat") is None or haversine_km(near[0], near[1], m["lat"], m["lon"]) > near[2]):
            continue
        hits.append(Hit(int(m.get("pid") or 0), score, {"hash": h}))
    return hits, False


def query(catalog: Catalog, index: ChromaIndex, col, vector, *, filters: Filters | None = None,
          limit: int = 20, min_score: float | None = None, exclude: set[int] = frozenset()) -> list[Hit]:
    filters = filters or Filters()
    where = build_where(catalog, filters)
    near = filters.near_point()
    want = limit + len(exclude)

    def ask(n: int, where_: dict | None):
        return index._call("the query", col.query, query_embeddings=[vector], n_results=n, where=where_,
                           include=["distances", "metadatas"])

    hits: list[Hit] | None = None
    if where is not None and OVERFETCH:
        k = max(OVERFETCH, want * 4)
        res = ask(k, None)
        got, cut = _take(res, near, min_score, where)
        # enough matches, or every item was looked at (Chroma answers fewer than asked when it holds fewer)
        if cut or len(got) >= want or len(res["ids"][0]) < k:
            hits = got
    n = want * 4 + 20 if near else want
    while hits is None:
        res = ask(n, where)
        got, cut = _take(res, near, min_score)
        if cut or len(got) >= want or len(res["ids"][0]) < n:
            hits = got
        n *= 4
    # map back through the catalog by hash (the id Chroma knows); drop what is no longer present
    by_hash = {r[1]: r[0] for r in catalog.db.execute(
        "SELECT id, hash FROM photos WHERE hash IN (SELECT value FROM json_each(?))",
        (json.dumps([h.record["hash"] for h in hits]),))}
    out = []
    for h in hits:
        pid = by_hash.get(h.record["hash"])
        if pid is None or pid in exclude:
            continue
        rec = catalog.photo_record(pid)
        if not any(loc["state"] == "ok" for loc in rec["locations"]):
            continue
        h.photo_id, h.record = pid, rec
        out.append(h)
        if len(out) >= limit:
            break
    return out


def neighbours(catalog: Catalog, index: ChromaIndex, col, photo_ids: list[int], model_id: str,
               k: int = 8) -> dict[int, list[tuple[int, float]]]:
    """Each photo's k nearest neighbours in the whole index, in one batched query."""
    import numpy as np

    vecs = {pid: catalog.embedding(pid, model_id) for pid in photo_ids}
    ids = [pid for pid in photo_ids if vecs[pid] is not None]
    if not ids:
        return {}
    res = index._call("the neighbour query", col.query, query_embeddings=np.stack([vecs[p] for p in ids]),
                      n_results=k + 1, include=["distances", "metadatas"])
    out: dict[int, list[tuple[int, float]]] = {}
    for pid, metas, dists in zip(ids, res["metadatas"], res["distances"]):
        out[pid] = [(int(m["pid"]), 1.0 - float(d)) for m, d in zip(metas, dists) if m.get("pid") != pid][:k]
    return out
