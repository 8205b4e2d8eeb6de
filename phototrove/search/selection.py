"""Which photos a command that takes "what search or report would show" works on (`trove export`):
a query (text, --image, --plus/--minus, --limit, --min-score), the photos like one photo, filters
alone, or everything. Filters alone run on the catalog with the very `where` a search sends to
Chroma (build_where, matches), so they work without a vector index (a library ingested with
--no-embed) and mean exactly what they mean in a search."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..catalog import Catalog
from .filters import Filters, build_where, haversine_km, matches
from .index import SearchError, item_metadata


@dataclass
class Selection:
    photo_ids: list[int]
    scores: dict[int, float] = field(default_factory=dict)
    trashed: int = 0        # photos left out because they are in the trash
    absent: int = 0         # photos no file of which was there at the last scan
    what: str = "every photo"


def select_photos(library, catalog: Catalog, *, text: str = "", plus=(), minus=(), images=(), like: str | None = None,
                  filters: Filters | None = None, limit: int | None = None, min_score: float | None = None,
                  model: str | None = None, chroma_url: str | None = None) -> Selection:
    """The photos asked for, every member of a stack (a RAW and its JPEG, an edit and its
    original are files of their own), with the videos of the live photos chosen."""
    from .query import run_search, run_similar, search_terms

    filters = replace(filters or Filters(), stacks=False)
    terms = search_terms(text, plus, minus)
    if like and (terms or images):
        raise SearchError("give a query (TEXT, --image) or --like PHOTO, not both")
    if terms or images or like:
        n = limit or 20
        if like:
            results = run_similar(library, catalog, like, model=model, filters=filters, limit=n, min_score=min_score,
                                  chroma_url=chroma_url)
        else:
            results = run_search(library, catalog, terms=terms, images=images, model=model, filters=filters, limit=n,
                                 min_score=min_score, chroma_url=chroma_url, title=text)
        ids = [h.photo_id for h in results.hits]
        chosen = Selection(ids, {h.photo_id: h.score for h in results.hits}, what=results.title)
    else:
        if min_score is not None:
            raise SearchError("--min-score needs a query (TEXT, --image or --like)")
        chosen = _filtered(catalog, filters, limit)
    seen = set(chosen.photo_ids)
    chosen.photo_ids += [v for v in catalog.live_videos_of(chosen.photo_ids) if v not in seen]
    return chosen


def _filtered(catalog: Catalog, filters: Filters, limit: int | None) -> Selection:
    """Present photos matching the filters (all of them without any), newest first, the trash left
    out (and counted) unless asked for."""
    ids, trashed = newest_first(catalog, filters)
    if limit:
        ids = ids[:limit]
    if not ids and filters.given():
        raise SearchError(filters.nothing_matches())
    return Selection(sorted(ids), trashed=trashed, absent=0 if filters.given() else catalog.count_absent(),
                     what=filters.described() or "every photo")


def newest_first(catalog: Catalog, filters: Filters, metas: dict[int, dict] | None = None, *,
                 gallery: bool = False) -> tuple[list[int], int]:
    """(present photos matching the filters, newest first and undated last; how many matching photos
    were left out for being in the trash, unless the trash was asked for). With `gallery`, what a
    gallery shows: of a stack only its cover (unless filters.stacks is off), not the video half of
    a live photo. `metas`: item_metadata(catalog), when the caller keeps it."""
    metas = item_metadata(catalog) if metas is None else metas
    wants_trash = filters.include_trashed or filters.trashed
    where = build_where(catalog, replace(filters, include_trashed=True))
    near = filters.near_point()
    hidden = catalog.gallery_hidden(covers_only=filters.stacks) if gallery else set()
    picked = [m for m in metas.values()
              if m["pid"] not in hidden and (where is None or matches(where, m))
              and (not near or (m.get("lat") is not None and haversine_km(near[0], near[1], m["lat"], m["lon"]) <= near[2]))]
    kept = [m for m in picked if wants_trash or not m.get("tr")]
    kept.sort(key=lambda m: (m.get("t") is None, -(m.get("t") or 0), -m["pid"]))
    return [m["pid"] for m in kept], 0 if wants_trash else len(picked) - len(kept)


LIST_BATCH = 500   # records built per set of queries by `trove list` (one photo_record each cost ~1 ms)


def listed_records(catalog: Catalog, filters: Filters, words: str | None = None):
    """photo_record of each photo listed_photos yields, in its order, built a batch at a time (a
    photo removed meanwhile is left out)."""
    from itertools import islice

    ids = listed_photos(catalog, filters, words)
    while batch := list(islice(ids, LIST_BATCH)):
        records = catalog.photo_records(batch)
        yield from (records[pid] for pid in batch if pid in records)


def listed_photos(catalog: Catalog, filters: Filters, words: str | None = None):
    """`trove list`: every photo (in id order) when nothing is asked; with filters, the present
    photos they select, newest first; with words, those holding them, best match first."""
    if not filters.given() and not words:
        yield from catalog.iter_photo_ids()
        return
    ids, _trashed = newest_first(catalog, replace(filters, stacks=False))
    if words:
        chosen = set(ids)
        ids = [pid for pid, _rank in catalog.text_matches(words) if pid in chosen]
    yield from ids
