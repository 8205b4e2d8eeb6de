"""Search that also reads: the photos whose names, titles, captions, keywords, people or albums hold
the query's words (the catalog's FTS5 index, through the same filters as the vector query), and
their ranking combined with the model's by reciprocal rank fusion, so a photo called
`Baratunde_2017.jpg` or captioned "Baratunde at the studio" comes first for `trove search baratunde`
even when the model does not know the name.

Each hit says why it was found: record["match"] = {"semantic": rank or None, "text": rank or None,
"fields": the fields holding a query word}."""
from __future__ import annotations

from ..catalog import Catalog
from .filters import Filters, build_where, haversine_km, matches
from .index import item_metadata

RRF_K = 60          # the usual constant: a rank's weight is 1 / (RRF_K + rank)
PHRASE_WEIGHT = 2.0  # a photo holding the whole query as a phrase counts twice: an exact caption first


def text_hits(catalog: Catalog, text: str, filters: Filters, limit: int, exclude=frozenset()) -> list:
    """Present photos whose words match `text`, best first (bm25), as the filters select them; of a
    stack only its cover, never the video half of a live photo."""
    from .query import Hit

    where = build_where(catalog, filters)
    near = filters.near_point()
    # a filter may pass few of the matches: then every match is looked at
    found = catalog.text_matches(text, None if where is not None or near else limit * 4 + 20)
    if not found:
        return []
    ids = [pid for pid, _ in found]
    metas = item_metadata(catalog, ids)   # present photos only
    hidden = catalog.gallery_hidden(covers_only=filters.stacks)
    phrase = catalog.phrase_matches(text, ids)
    out = []
    for rank, pid in enumerate(ids, 1):
        m = metas.get(pid)
        if m is None or pid in exclude or pid in hidden or (where is not None and not matches(where, m)):
            continue
        if near and (m.get("lat") is None or haversine_km(near[0], near[1], m["lat"], m["lon"]) > near[2]):
            continue
        out.append(Hit(pid, None, {"text_rank": len(out) + 1, "phrase": pid in phrase}))
        if len(out) >= limit:
            break
    return out


def fuse(catalog: Catalog, text: str, semantic: list, textual: list, limit: int) -> list:
    """One ranking of both lists (reciprocal rank fusion), each hit's record with its `match`."""
    from ..catalog.text import words

    by_id: dict[int, object] = {}
    score: dict[int, float] = {}
    stacks: dict[int, int] = {}   # stack id -> the photo showing it
    for rank, h in enumerate(semantic, 1):
        by_id[h.photo_id] = h
        h.record["match"] = {"semantic": rank, "text": None}
        score[h.photo_id] = 1.0 / (RRF_K + rank)
        if h.record.get("stack_id") is not None:
            stacks[h.record["stack_id"]] = h.photo_id
    for rank, h in enumerate(textual, 1):
        weight = (PHRASE_WEIGHT if h.record["phrase"] else 1.0) / (RRF_K + rank)
        rec = catalog.photo_record(h.photo_id)
        pid = stacks.get(rec.get("stack_id"), h.photo_id)   # the member the semantic list shows
        if pid in by_id:
            by_id[pid].record["match"]["text"] = rank
        else:
            h.record = {**rec, "match": {"semantic": None, "text": rank}}
            by_id[pid] = h
        score[pid] = score.get(pid, 0.0) + weight
    order = sorted(by_id, key=lambda pid: (-score[pid], by_id[pid].record["match"]["semantic"] or 10**9))[:limit]
    query_words = set(words(text))
    fields = catalog.photo_words([pid for pid in order if by_id[pid].record["match"]["text"]])
    for pid in order:
        got = fields.get(pid, {})
        by_id[pid].record["match"]["fields"] = [c for c, v in got.items() if query_words & set(words(v or ""))]
    return [by_id[pid] for pid in order]
