"""The library as the web app sees it: read-only, shared by the server's threads, with the text
tower loaded once at start. Every answer is plain data (dicts and lists) for app.py to send.

Nothing here takes the write lock or writes to the catalog or the index: an ingest may run while the
app serves. The only files written are the thumbnail and rendition caches (renditions.py)."""
from __future__ import annotations

import os
import random
import threading
from dataclasses import replace
from typing import Callable

from ..catalog import Catalog, duration_text
from ..search.filters import Filters
from ..search.index import ChromaIndex, NotIndexed, SearchError, item_metadata
from ..search.query import check_model, combine, open_collection, pick_model, query, ranked, search_terms
from ..search.report import hit_summary
from .details import photo_details
from ..search.selection import newest_first

PAGE = 120          # tiles per grid page
SIMILAR = 24        # neighbours in the full view


class LibraryView:
    def __init__(self, library, *, model: str | None = None, chroma_url: str | None = None,
                 log: Callable[[str], None] = lambda m: None):
        self.library, self.log = library, log
        self._local = threading.local()
        self._lock = threading.Lock()
        self._metas: tuple[tuple, dict] | None = None   # (catalog file marks, item_metadata)
        self._orders: dict[tuple, tuple[tuple, list[int]]] = {}   # filters -> (catalog marks, ids newest first)
        self._images = None                             # the image tower, loaded on the first image search
        self.index = ChromaIndex(library, url=chroma_url, readonly=True)
        self.model_id = self.spec = None
        self.col = self.text = None
        catalog = self.catalog()
        if catalog.embedding_models():
            self.model_id, self.spec = pick_model(catalog, self.index, model)
            self.col = open_collection(catalog, self.index, self.model_id)
            self.text = self._tower("text")
            check_model(catalog, self.model_id, self.text.model_id)
        self._term_cache: dict[str, object] = {}
        # the exact vector table filtered searches rank over (catalog_vectors), built beside the first
        # requests (until then they go to the index's own filter) and rebuilt after ingests commit
        self.warming = threading.Thread(target=self._keep_table_warm, name="trove-vector-table", daemon=True)
        if self.col is not None and getattr(self.col, "table", None) is None:   # (a read-only library's has one)
            self.warming.start()

    def _keep_table_warm(self) -> None:
        from ..search.catalog_vectors import keep_warm

        try:
            catalog = self.library.reading()
            try:
                keep_warm(catalog, self.model_id)
            finally:
                catalog.close()
        except Exception as e:   # no table: searches are answered as without one, only slower
            self.log(f"filtered searches use the index's own filter: {type(e).__name__}: {e}")

    # -- plumbing ---------------------------------------------------------------------------------
    def catalog(self) -> Catalog:
        """This thread's read-only connection (SQLite connections are not shared between threads)."""
        cat = getattr(self._local, "catalog", None)
        if cat is None:
            cat = self._local.catalog = self.library.reading()
        return cat

    def _tower(self, towers: str):
        from ..embed import load_embedder

        return load_embedder(self.spec, towers=towers)

    def _version(self) -> tuple:
        """Changes whenever a writer commits (the WAL grows or is reset, a checkpoint writes the file)."""
        marks = []
        for path in (self.library.catalog_path, self.library.catalog_path.with_name("catalog.db-wal")):
            try:
                st = os.stat(path)
                marks += [st.st_size, st.st_mtime_ns]
            except OSError:
                marks += [None, None]
        return tuple(marks)

    def metas(self) -> dict[int, dict]:
        """item_metadata of the whole library, read again only after the catalog changed."""
        version = self._version()
        with self._lock:
            if self._metas is None or self._metas[0] != version:
                self._metas = (version, item_metadata(self.catalog()))
            return self._metas[1]

    # -- the grid ---------------------------------------------------------------------------------
    def order(self, filters: Filters) -> list[int]:
        """The photos a gallery shows for these filters, newest first; kept until the catalog changes."""
        key = (filters.described(), filters.include_trashed, filters.stacks)
        version = self._version()
        with self._lock:
            cached = self._orders.get(key)
        if cached is None or cached[0] != version:
            if filters.given():
                ids = newest_first(self.catalog(), filters, self.metas(), gallery=True)[0]
            else:   # the whole library: one query, no filter data needed (cheap while an ingest commits)
                ids = self.catalog().newest_present_images(None, include_trashed=filters.include_trashed,
                                                           covers_only=filters.stacks)
            cached = (version, ids)
            with self._lock:
                if len(self._orders) > 64:
                    self._orders.clear()
                self._orders[key] = cached
        return cached[1]

    def grid(self, filters: Filters, offset: int = 0, limit: int = PAGE) -> dict:
        """A page of the library (or what the filters select), newest first."""
        ids = self.order(filters)
        page = ids[offset:offset + limit]
        return {"total": len(ids), "offset": offset, "next": offset + limit if offset + limit < len(ids) else None,
                "photos": [self.tile(pid) for pid in page]}

    def random(self, filters: Filters, n: int = PAGE) -> dict:
        ids = self.order(filters)
        chosen = random.sample(ids, min(n, len(ids)))
        return {"total": len(chosen), "offset": 0, "next": None, "photos": [self.tile(pid) for pid in chosen]}

    def tile(self, pid: int, score: float | None = None, rec: dict | None = None) -> dict:
        s = hit_summary(rec or self.catalog().photo_record(pid))
        out = {"id": pid, "hash": s["hash"], "name": s["name"], "folder": s["where"], "date": s["taken_at"],
               "width": s["width"], "height": s["height"], "media": s["media"], "flags": s["flags"],
               "duration": duration_text(s["duration"]), "stack": s["stack_size"] or None,
               "favorite": s["favorite"], "rating": s["rating"]}
        if score is not None:
            out["score"] = round(score, 4)
        if "match" in s:
            out["match"] = s["match"]
        return out

    # -- search and similar -----------------------------------------------------------------------
    def _need_index(self) -> None:
        if self.col is None:
            raise NotIndexed("nothing is embedded yet: run `trove ingest ... ` without --no-embed to search")

    def _text_vector(self, text: str):
        with self._lock:
            v = self._term_cache.get(text)
        if v is None:
            v = self.text.encode_texts([text])[0]
            with self._lock:
                if len(self._term_cache) > 512:
                    self._term_cache.clear()
                self._term_cache[text] = v
        return v

    def search(self, text: str, plus=(), minus=(), *, filters: Filters, limit: int = PAGE, image: bytes | None = None,
               match: str = "both") -> dict:
        terms = search_terms(text, plus, minus)
        if not terms and image is None:
            raise SearchError("nothing to search for: type words, or drop a photo")
        if self.col is None:   # nothing embedded: the words of names, captions, keywords and albums
            if image is not None:
                self._need_index()
            hits = ranked(self.catalog(), self.index, None, None, text, filters=filters, limit=limit, match="text")
        else:
            parts = [(w, self._text_vector(t)) for w, t in terms]
            if image is not None:
                parts.append((1.0, self._image_vector(image)))
            hits = ranked(self.catalog(), self.index, self.col, combine(parts), text if image is None else "",
                          filters=filters, limit=limit, match=match)
        return {"total": len(hits), "offset": 0, "next": None,
                "photos": [self.tile(h.photo_id, h.score, h.record) for h in hits]}

    def _image_vector(self, data: bytes):
        from ..media.decode import load_image
        from ..media.kinds import MediaError

        with self._lock:
            if self._images is None:
                self._images = self._tower("image")
        try:
            image = load_image(data, min_side=self._images.image_size)
        except MediaError as e:
            raise SearchError(f"the dropped file is not a photo trove can read: {e}") from None
        return self._images.encode_images([image])[0]

    def similar(self, pid: int, *, filters: Filters | None = None, limit: int = SIMILAR) -> list[dict]:
        self._need_index()
        vector = self.catalog().embedding(pid, self.model_id)
        if vector is None:
            return []
        hits = query(self.catalog(), self.index, self.col, vector, filters=filters or Filters(), limit=limit,
                     exclude={pid})
        return [self.tile(h.photo_id, h.score, h.record) for h in hits]

    # -- one photo --------------------------------------------------------------------------------
    def photo(self, pid: int) -> dict:
        cat = self.catalog()
        if not cat.hashes_by_id([pid]):
            raise LookupError(pid)
        rec = cat.photo_record(pid)
        return {**self.tile(pid, rec=rec), **photo_details(rec, cat.present_locations(pid)), "embedded": self.model_id in rec["embedded"]}

    def photo_hash(self, ref: str) -> tuple[int, str] | None:
        """(id, hash) of a photo named by id or full content hash; never by path."""
        cat = self.catalog()
        if ref.isdigit():
            rows = cat.hashes_by_id([int(ref)])
            return (int(ref), rows[int(ref)]) if rows else None
        if len(ref) == 64 and all(c in "0123456789abcdef" for c in ref):
            pid = cat.ids_by_hash([ref]).get(ref)
            return (pid, ref) if pid is not None else None
        return None

    def original(self, pid: int) -> "Original":
        """The photo's own bytes for download: a present plain file as it is, else the member or
        preview its source streams; named after the original."""
        from ..ingest import Sources, plain_file
        from ..output.materialize import plain_problem
        from ..output.originals import original_name

        cat = self.catalog()
        rec = cat.photo_record(pid)
        kinds = {loc["source_id"]: loc["source"] for loc in rec["locations"]}
        locs = cat.present_locations(pid)
        for loc in locs:
            kind = kinds.get(loc.source_id, "?")
            stem, ext, _ = original_name(kind, loc, rec.get("format"))
            if plain_file(kind, loc.entry):
                if plain_problem(loc) is None:
                    return Original(stem + ext, path=loc.path)
                continue
            adapters = Sources(cat)
            adapter = adapters.of(loc.source_id)
            try:
                if adapter is not None:
                    return Original(stem + ext, stream=adapter.open(loc), closer=adapters)
            except (OSError, EOFError, ValueError):
                pass
            adapters.close()
        raise SearchError(f"photo {pid}: no copy of it can be read now (moved, changed or deleted since it was "
                          "ingested?)")

    # -- what filters can name --------------------------------------------------------------------
    def facets(self) -> dict:
        cat = self.catalog()
        return {**cat.facets(), "tags": [list(t) for t in cat.tag_counts()[:500]], "model": self.model_id, "library": str(self.library.root),
                "searchable": self.col is not None}

    def export(self, out: str, layout: str = "album", *, ids: list[int] | None = None,
               filters: Filters | None = None) -> dict:
        """`trove export` of the photos shown (ids) or of everything the filters select, with
        the videos of live photos."""
        from ..output.export import Options
        from ..output.export import export_selection
        from ..search.selection import Selection

        def chosen(cat):
            if ids is not None:
                picked, what = [i for i in ids if i in cat.hashes_by_id(ids)], f"{len(ids)} photos shown in trove serve"
            else:
                picked, what = newest_first(cat, filters)[0], filters.described() or "every photo"
            return Selection(picked + [v for v in cat.live_videos_of(picked) if v not in set(picked)], what=what)

        summary, _ = export_selection(self.library, os.path.expanduser(out), chosen,
                                      options=Options(layout, "hard", True, False, 2), show_progress=False,
                                      log=self.log)
        return summary


class Original:
    """A download: a plain file's path, or a stream read (and closed, with its adapters) as it is sent."""

    def __init__(self, name: str, *, path: str | None = None, stream=None, closer=None):
        self.name, self.path, self.stream, self.closer = name, path, stream, closer

    def chunks(self):
        try:
            while chunk := self.stream.read(1 << 20):
                yield chunk
        finally:
            self.stream.close()
            self.closer.close()


def filters_from(params, *, stacks: bool = True) -> Filters:
    """Filters from query parameters named as the CLI's flags (`album=ski&from=2019`)."""
    many = lambda k: tuple(v for v in params.getlist(k) if v)  # noqa: E731
    rating = params.get("min_rating") or None
    try:
        rating = int(rating) if rating is not None else None
    except ValueError:
        raise SearchError(f"min_rating {rating!r}: a number 0..5") from None
    media = params.get("media") or "all"
    if media not in ("photo", "video", "all"):
        raise SearchError(f"media {media!r}: photo, video or all")
    on = lambda k: params.get(k) in ("1", "true", "on")  # noqa: E731
    return replace(Filters(), date_from=params.get("from") or None, date_to=params.get("to") or None,
                   sources=many("source"), albums=many("album"), cameras=many("camera"), keywords=many("keyword"),
                   tags=many("tag"),
                   min_rating=rating, favorite=on("favorite"), near=params.get("near") or None, trashed=on("trashed"),
                   archived=on("archived"), partner=on("partner"), include_trashed=on("include_trashed"), media=media,
                   stacks=stacks)
