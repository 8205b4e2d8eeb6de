"""Queries: text, an image file, a photo of the library, and weighted mixes of them, with filters
(filters.py) that Chroma applies inside the vector search (`where`). `run_search` and
`run_similar` are the whole of `trove search` and `trove similar` but for printing."""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field

from ..catalog import Catalog
from .filters import Filters, build_where, haversine_km, matches
from .index import ChromaIndex, IndexUnavailable, ModelMismatch, NotIndexed, SearchError


@dataclass
class Hit:
    photo_id: int
    score: float
    record: dict = field(default_factory=dict)


# -- models -------------------------------------------------------------------------------------------
def pick_model(catalog: Catalog, index: ChromaIndex, requested: str | None,
               *, loading: bool = False) -> tuple[str, str]:
    """(model id to search, spec to load its towers with). `requested` may be a model id of the
    catalog or a spec (registry name, folder, module:factory). With `loading`, a spec the library
    does not know yet is returned as ("", spec): the model's own id, once loaded, decides
    (check_model); without it (similar, reports: no model runs) that is a usage error."""
    models = catalog.embedding_models()
    if not models:
        raise NotIndexed("nothing is embedded yet: run `trove ingest folder PATH --model NAME` first")

    def spec_of(m: str) -> str:
        return catalog.model_spec(m) or index.stored_spec(m) or m

    if requested:
        if requested in models:
            return requested, spec_of(requested)
        known = catalog.model_for_spec(requested)
        known = known if known in models else next((m for m in models if index.stored_spec(m) == requested), None)
        if known:
            return known, requested
        if loading:
            return "", requested
        raise SearchError(f"the library has no embeddings for model {requested!r} (it has: {', '.join(models)})")
    default = catalog.default_model() or models[0]
    return default, spec_of(default)


def check_model(catalog: Catalog, model_id: str, loaded_id: str) -> None:
    models = catalog.embedding_models()
    if loaded_id not in models:
        raise ModelMismatch(
            f"the library is indexed with model {', '.join(repr(m) for m in models)}, but the query model is "
            f"{loaded_id!r}: search with --model {models[0]}, or embed the library with the new model "
            f"(`trove ingest ... --model {loaded_id}`)")


def open_collection(catalog: Catalog, index: ChromaIndex, model_id: str):
    try:
        col = index.collection(model_id)
    except IndexUnavailable:
        if not index.store_read_only():
            raise
        from .catalog_vectors import CatalogVectors  # a read-only library: search its stored vectors

        return CatalogVectors(catalog, model_id)
    if col is None:
        writer = index.library.writer()
        if writer:
            raise NotIndexed(f"the index is being written by another trove process (pid {writer}): "
                             "run this again when it has finished")
        name = index.name(model_id)
        raise NotIndexed(f"nothing is indexed for model {model_id!r} yet"
                         + (f" ({name} is missing from {index.where})" if name else "")
                         + ": run `trove index sync` to index what the catalog holds")
    dim = catalog.embedding_dim(model_id)   # (one row: embedding_dims reads them all, ~0.5 s at 100k photos)
    stored = (col.metadata or {}).get("trove_dim")
    if dim and stored and stored != dim:
        raise ModelMismatch(f"the index holds {stored}-dimensional vectors for model {model_id!r} but the catalog "
                            f"has {dim}: run `trove index rebuild --model {model_id}`")
    return col


def combine(parts: list[tuple[float, object]]):
    """Weighted sum of unit vectors, normalized: "beach" - "people" and friends."""
    import numpy as np

    total = sum(w * np.asarray(v, dtype=np.float32) for w, v in parts)
    norm = float(np.linalg.norm(total))
    if not math.isfinite(norm) or norm < 1e-6:
        raise SearchError("the query terms cancel out: nothing left to search for")
    return total / norm


WEIGHT = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*:(.*)$", re.S)


def weighted(term: str) -> tuple[float, str]:
    """"2:sunset" -> (2.0, "sunset"); a term without a weight counts once. A term with nothing to
    search for ("", "  ", "3:") is a usage error."""
    m = WEIGHT.match(term)
    weight, text = (float(m.group(1)), m.group(2).strip()) if m else (1.0, term.strip())
    if not text:
        raise SearchError(f"{term!r}: nothing to search for (a term is TEXT or W:TEXT, e.g. \"2:sunset\")")
    return weight, text


def resolve_photo(catalog: Catalog, ref: str) -> int:
    """A photo by catalog id, content-hash prefix (>= 6 hex digits) or a path it was seen at."""
    try:
        pid = catalog.find_photo(ref)
    except LookupError as e:
        raise SearchError(f"photo {ref!r}: {e}") from None
    if pid is not None:
        return pid
    raise SearchError(f"photo {ref!r}: no photo with that id, hash prefix or path (see `trove list`)")


# -- running a query ----------------------------------------------------------------------------------
# Chroma's local engine evaluates `where` by scanning every item's metadata (no metadata indices:
# ~0.7 s per query at 100k photos here). So a filtered query first looks at the OVERFETCH best
# unfiltered candidates and applies the same `where` to their metadata: if enough pass, they are
# exactly the filtered query's best (anything ranked lower scores below all of them); if too few
# pass, the filter is selective and Chroma runs the query with `where`. 0 always asks Chroma.
# A warm process that keeps a VectorTable (catalog_vectors.keep_warm) does better: the filter is
# resolved over every photo at once, and the photos that pass are ranked exactly when they are few
# (or lie in one date range); when they are many, the index's unfiltered best, enough of them that
# about twice `want` should pass, are filtered by the table, and only if too few pass is the ranking
# exact over all that passed. Either way the answer is the exact filtered ranking (up to the index's
# own approximation of the unfiltered one, as before).
OVERFETCH = 400
OVERFETCH_FACTOR = 2  # ask the index for this many times the candidates that should pass the filter
# Which way is cheaper, in rows' worth of exact ranking (VectorTable.exact_cost, ~0.6 us a row on two
# cores): asking the index costs about EXACT_ROWS, plus OVERFETCH_COST a candidate it returns.
EXACT_ROWS = 3000
OVERFETCH_COST = 100


def _take(res, near, min_score, where=None) -> tuple[list[Hit], bool]:
    """Hits from one Chroma answer, best first; True when min_score cut the list short."""
    hits: list[Hit] = []
    metas = res.get("metadatas")
    metas = metas[0] if metas and metas[0] is not None else [None] * len(res["ids"][0])
    for h, d, m in zip(res["ids"][0], res["distances"][0], metas):
        score = 1.0 - float(d)
        if min_score is not None and score < min_score:
            return hits, True
        m = m or {}  # an item without metadata: being re-added by `index rebuild` in another process
        if where is not None and not matches(where, m):
            continue
        if near and (m.get("lat") is None or haversine_km(near[0], near[1], m["lat"], m["lon"]) > near[2]):
            continue
        hits.append(Hit(int(m.get("pid") or 0), score, {"hash": h}))
    return hits, False


def query(catalog: Catalog, index: ChromaIndex, col, vector, *, filters: Filters | None = None,
          limit: int = 20, min_score: float | None = None, exclude: set[int] = frozenset()) -> list[Hit]:
    """The best `limit` present photos for `vector`, every filter inside the vector query; a stack
    shows once, by its best-scoring member (unless filters.stacks is off), with its size."""
    from .catalog_vectors import table_for

    filters = filters or Filters()
    table = table_for(catalog, col)
    where = build_where(catalog, filters, trash=None if table is None else table.columns.any_true("tr"))
    near = filters.near_point()
    stacked = filters.stacks and catalog.has_stacks()
    want = (limit * 3 if stacked else limit) + len(exclude)
    while True:
        hits, cut, exhausted = _ranked(index, col, vector, where, near, min_score, want, table)
        if not hits and not cut and (where is not None or near):  # every candidate was looked at
            raise SearchError(filters.nothing_matches())
        out = _records(catalog, hits, limit, exclude, stacked)
        if len(out) >= limit or cut or exhausted or not stacked:
            return out
        want *= 4   # stacks folded more hits together than were asked for


def _ranked(index: ChromaIndex, col, vector, where, near, min_score, want: int,
            table=None) -> tuple[list[Hit], bool, bool]:
    """(hits best first, whether min_score cut the list, whether every candidate was looked at)."""
    def ask(n: int, where_: dict | None, metadatas: bool = True):
        return index._call("the query", col.query, query_embeddings=[vector], n_results=n, where=where_,
                           include=["distances", "metadatas"] if metadatas else ["distances"])

    if table is not None and (where is not None or near):
        return _ranked_table(table, ask, vector, where, near, min_score, want,
                             exact_only=table is getattr(col, "table", None))
    if where is None and not near:   # the metadata is only read to filter
        res = ask(want, None, metadatas=False)
        got, cut = _take(res, None, min_score)
        return got, cut, len(res["ids"][0]) < want
    if where is not None and OVERFETCH:
        k = max(OVERFETCH, want * 4)
        res = ask(k, None)
        got, cut = _take(res, near, min_score, where)
        # enough matches, or every item was looked at (Chroma answers fewer than asked when it holds fewer)
        if cut or len(got) >= want or len(res["ids"][0]) < k:
            return got, cut, len(res["ids"][0]) < k
    n = want * 4 + 20 if near else want
    while True:
        res = ask(n, where)
        got, cut = _take(res, near, min_score)
        if cut or len(got) >= want or len(res["ids"][0]) < n:
            return got, cut, len(res["ids"][0]) < n
        n *= 4


def _ranked_table(table, ask, vector, where, near, min_score, want: int,
                  exact_only: bool = False) -> tuple[list[Hit], bool, bool]:
    """_ranked with a VectorTable: the filter resolved by the table, the ranking exact (see above).
    `exact_only`: the table is the collection itself (CatalogVectors): no index to ask."""
    import numpy as np

    rows = table.select(where, near)
    if not len(rows):
        return [], False, True

    def exact() -> tuple[list[Hit], bool, bool]:
        best, scores = table.best(vector, rows, want, min_score)
        hits = [Hit(int(table.pids[r]), float(s), {"hash": table.hashes[r], "pid": int(table.pids[r])})
                for r, s in zip(best, scores)]
        return hits, len(hits) < min(want, len(rows)), len(rows) <= want

    k = min(table.n, math.ceil(OVERFETCH_FACTOR * want * table.n / len(rows)) + 20)
    if exact_only or table.exact_cost(rows) <= EXACT_ROWS + OVERFETCH_COST * k:
        return exact()
    res = ask(k, None, metadatas=False)
    allowed = np.zeros(table.n, bool)
    allowed[rows] = True
    hits: list[Hit] = []
    for h, d in zip(res["ids"][0], res["distances"][0]):
        score = 1.0 - float(d)
        if min_score is not None and score < min_score:
            return hits, True, False
        r = table.row_of.get(h)
        if r is not None and allowed[r]:
            hits.append(Hit(int(table.pids[r]), score, {"hash": h, "pid": int(table.pids[r])}))
    if len(hits) >= want:
        return hits, False, False
    return exact()   # the filter and the query disagree: fewer passed than the index was asked for


def _records(catalog: Catalog, hits: list[Hit], limit: int, exclude, stacked: bool) -> list[Hit]:
    """Hits mapped back through the catalog by hash (the id Chroma knows), without what is no
    longer present, excluded, or (stacked) a second member of a stack already shown."""
    # (a VectorTable's hits know their photo; the index's are looked up: its metadata may lag)
    unknown = [h.record["hash"] for h in hits if "pid" not in h.record]
    by_hash = catalog.ids_by_hash(unknown) if unknown else {}
    pids = [h.record.get("pid") or by_hash.get(h.record["hash"]) for h in hits]
    batch = getattr(catalog, "photo_records", None)   # a few queries for many records, not ~10 each
    records: dict[int, dict] = {}
    out: list[Hit] = []
    shown: set[int] = set()
    for i, h in enumerate(hits):
        pid = pids[i]
        if pid is None or pid in exclude:
            continue
        if batch is None:
            rec = catalog.photo_record(pid)
        else:
            if pid not in records:   # the records of the next hits, as many as are still wanted
                records.update(batch([p for p in pids[i:i + limit - len(out) + 4] if p is not None]))
            rec = records.get(pid)
            if rec is None:
                continue
        if not any(loc["state"] == "ok" for loc in rec["locations"]):
            continue
        stack = rec.get("stack_id")
        if stacked and stack is not None:
            if stack in shown:
                continue
            shown.add(stack)
        h.photo_id, h.record = pid, rec
        out.append(h)
        if len(out) >= limit:
            break
    if stacked and shown:
        sizes = catalog.stack_sizes(shown)
        for h in out:
            if h.record.get("stack_id") is not None:
                h.record["stack_size"] = sizes.get(h.record["stack_id"], 1)
    return out


NEIGHBOUR_BATCH = 256


def neighbours(catalog: Catalog, index: ChromaIndex, col, photo_ids: list[int], model_id: str,
               k: int = 8, include_trashed: bool = False) -> dict[int, list[tuple[int, float]]]:
    """Each photo's k nearest neighbours in the whole index (the trash left out unless asked
    for), in one batched query."""
    import numpy as np

    vecs = {pid: catalog.embedding(pid, model_id) for pid in photo_ids}
    ids = [pid for pid in photo_ids if vecs[pid] is not None]
    if not ids:
        return {}
    where = None if include_trashed or not catalog.has_flagged("trashed") else {"tr": {"$ne": True}}
    out: dict[int, list[tuple[int, float]]] = {}
    for i in range(0, len(ids), NEIGHBOUR_BATCH):   # Chroma's own SQL has a cap on variables per query
        chunk = ids[i:i + NEIGHBOUR_BATCH]
        res = index._call("the neighbour query", col.query, query_embeddings=np.stack([vecs[p] for p in chunk]),
                          n_results=k + 1, where=where, include=["distances", "metadatas"])
        for pid, metas, dists in zip(chunk, res["metadatas"], res["distances"]):
            out[pid] = [(int(m["pid"]), 1.0 - float(d)) for m, d in zip(metas, dists)
                        if m and m.get("pid") not in (None, pid)][:k]
    return out


# -- the commands -------------------------------------------------------------------------------------
@dataclass
class Results:
    """What a search or similar found, and what a gallery of it needs."""
    hits: list[Hit]
    title: str
    catalog: Catalog
    index: ChromaIndex
    col: object
    model_id: str
    unindexed: int = 0  # embedded photos the index does not hold yet (they cannot be found)
    coverage: tuple[int, int] = (0, 0)  # (present images embedded with the model, present images)
    include_trashed: bool = False  # the trash was asked for (--include-trashed or --trashed)
    note: str | None = None        # what the user should know about how it was searched


def search_terms(text: str, plus=(), minus=()) -> list[tuple[float, str]]:
    """The weighted terms of a text query: TEXT and --plus add, --minus subtracts."""
    terms = ([weighted(text)] if text.strip() else []) + [weighted(t) for t in plus]
    return terms + [(-w, t) for w, t in map(weighted, minus)]


MATCHES = ("both", "semantic", "text")


def ranked(catalog: Catalog, index: ChromaIndex, col, vector, text: str, *, filters: Filters | None = None,
           limit: int = 20, min_score: float | None = None, match: str = "both") -> list[Hit]:
    """The best photos for a query: by the model (`vector`), by the words of `text` in the
    catalog, or both fused (see fusion.py). `vector` None (no model, or --text): words only."""
    from .fusion import fuse, text_hits

    filters = filters or Filters()
    semantic = [] if vector is None or match == "text" else \
        query(catalog, index, col, vector, filters=filters, limit=limit, min_score=min_score)
    if match == "semantic" or not text.strip():
        return semantic
    textual = text_hits(catalog, text, filters, limit)
    if vector is None and not textual and (build_where(catalog, filters) is not None or filters.near_point()):
        raise SearchError(filters.nothing_matches())
    return fuse(catalog, text, semantic, textual, limit)


def run_search(library, catalog: Catalog, *, terms: list[tuple[float, str]], images=(), model: str | None = None,
               filters: Filters | None = None, limit: int = 20, min_score: float | None = None,
               chroma_url: str | None = None, title: str = "", match: str = "both") -> Results:
    """`trove search`: text terms and/or image files -> the best photos, by the model and by the
    words of the catalog (`match`: both, semantic or text). Only the towers the query needs are
    loaded; the index opens and loads its vectors while the model loads. A library with nothing
    embedded is searched by its words."""
    if not terms and not images:
        raise SearchError("nothing to search for: give TEXT or --image FILE (see `trove search --help`)")
    import numpy  # noqa: F401  (before the prefetch thread, so the two threads share no import)

    words = title if terms and terms[0][0] > 0 else ""
    index = ChromaIndex(library, url=chroma_url, readonly=True)
    if match == "text" or (match == "both" and not images and not catalog.embedding_models()):
        if not words.strip():
            raise SearchError("--text searches the words of TEXT: give TEXT")
        model_id = catalog.default_model()
        hits = ranked(catalog, index, None, None, words, filters=filters, limit=limit, match="text")
        note = None if match == "text" else ("nothing is embedded yet: only the words of names, titles, captions, "
                                             "keywords, people and albums were searched")
        return Results(hits, f"search: {title}", catalog, index, None, model_id or "", 0,
                       catalog.coverage(model_id) if model_id else (0, 0), _wants_trash(filters), note)
    model_id, spec = pick_model(catalog, index, model, loading=True)
    index.prefetch(model_id)
    embedder = _load_query_model(index, spec, "both" if terms and images else ("image" if images else "text"))
    check_model(catalog, model_id, embedder.model_id)
    col = open_collection(catalog, index, embedder.model_id)
    parts = []
    if terms:
        parts += [(w, v) for (w, _), v in zip(terms, embedder.encode_texts([t for _, t in terms]))]
    for path in images:
        parts.append((1.0, embedder.encode_images([_query_image(path, embedder.image_size)])[0]))
    hits = ranked(catalog, index, col, combine(parts), words, filters=filters, limit=limit, min_score=min_score,
                  match=match)
    title = title or ", ".join(os.path.basename(p) for p in images)
    return Results(hits, f"search: {title}", catalog, index, col, embedder.model_id,
                   catalog.count_unindexed(embedder.model_id), catalog.coverage(embedder.model_id),
                   _wants_trash(filters))


def run_similar(library, catalog: Catalog, photo: str, *, model: str | None = None, filters: Filters | None = None,
                limit: int = 20, min_score: float | None = None, chroma_url: str | None = None) -> Results:
    """`trove similar`: photos that look like a photo of the library (its stored embedding; no model runs)."""
    index = ChromaIndex(library, url=chroma_url, readonly=True)
    pid = resolve_photo(catalog, photo)
    model_id, _spec = pick_model(catalog, index, model)
    vector = catalog.embedding(pid, model_id)
    if vector is None:
        raise NotIndexed(f"photo {photo!r} has no {model_id} embedding yet (run `trove ingest` with --model)")
    col = open_collection(catalog, index, model_id)
    hits = query(catalog, index, col, vector, filters=filters, limit=limit, min_score=min_score, exclude={pid})
    return Results(hits, f"like photo {pid}", catalog, index, col, model_id, catalog.count_unindexed(model_id),
                   catalog.coverage(model_id), _wants_trash(filters))


def _wants_trash(filters: Filters | None) -> bool:
    return bool(filters and (filters.include_trashed or filters.trashed))


def _load_query_model(index: ChromaIndex, spec: str, towers: str):
    from ..embed import load_embedder

    cache = index.library.models_dir  # the text tower's optimized graph is kept there (embed/cache.py)
    try:
        return load_embedder(spec, towers=towers, cache_dir=cache, once=True)
    except RuntimeError as e:  # Python's import lock saw the prefetch thread's imports cross ours
        if "deadlock" not in str(e):
            raise
        index.client  # wait for that thread, then import alone
        return load_embedder(spec, towers=towers, cache_dir=cache, once=True)


def _query_image(path: str, min_side: int):
    from ..media.decode import load_image
    from ..media.kinds import MediaError

    from ..ingest.files import open_regular

    try:
        with open_regular(path) as fh:   # a FIFO given as --image must not block the search
            return load_image(fh.read(), min_side=min_side)
    except (MediaError, OSError) as e:
        raise SearchError(f"{path}: {e}") from None
