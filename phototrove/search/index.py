"""The vector index: one ChromaDB collection per model, derived from the catalog and rebuildable from it.

Items are keyed by the photo's content hash (never a file name) and carry the metadata the search
filters need, so every filter runs inside Chroma's vector query (`where`) instead of after it:
  t    taken_at as epoch seconds (int; naive times are read as UTC)
  src  ids of the sources holding a present copy (list[int])
  alb  album ids (list[int])        kw   keyword ids (list[int])
  cam  camera (str)   rt rating (int)   fav favorite (bool)   lat, lon (float)   pid photo id (int)
Lists are only stored when non-empty (Chroma refuses empty lists).

The catalog's `embeddings.indexed` flag says which vectors Chroma holds; it is set in the same step
that Chroma accepted them, so an interrupted sync resumes without re-sending anything.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from datetime import datetime, timezone
from typing import Iterable

from ..catalog import Catalog
from ..errors import EXIT_LIBRARY, UsageError

BATCH = 1000
PREFIX = "trove-"
# A collection's index: cosine distance, and a search that looks at 400 candidates (Chroma's default
# is 100): on CLIP-shaped vectors (bench/recall.py) that returns 0.74 of the exact top 20 at 100,000
# photos instead of 0.44, for ~2 ms more a query. Chroma keeps ef_search with the collection and lets
# it change later; the other settings are fixed when the collection is made (Chroma's defaults).
HNSW = {"space": "cosine", "ef_search": 400}


class SearchError(UsageError):
    """Anything a search or index command reports as one line: a bad request (exit 2) unless a
    subclass says the library cannot be used now (exit 3)."""


class IndexUnavailable(SearchError):
    exit_code = EXIT_LIBRARY


class NotIndexed(SearchError):
    exit_code = EXIT_LIBRARY


class ModelMismatch(SearchError):
    exit_code = EXIT_LIBRARY


def collection_name(model_id: str, library_id: str) -> str:
    """A valid Chroma collection name (3-63 chars, the strictest limit any Chroma version had, of [a-zA-Z0-9._-], alphanumeric at both ends),
    unique per library (several may share one server) and per model id (even when two ids sanitize
    alike)."""
    slug = re.sub(r"[^a-zA-Z0-9._-]+", "-", model_id).strip("-._")
    slug = re.sub(r"\.{2,}", ".", slug)[:32].strip("-._")
    digest = hashlib.sha1(model_id.encode("utf-8")).hexdigest()[:8]
    return f"{PREFIX}{library_id}-{slug}-{digest}" if slug else f"{PREFIX}{library_id}-{digest}"


def epoch(taken_at: str | None) -> int | None:
    """ISO 8601 (as the catalog stores it) -> epoch seconds; a time without zone counts as UTC."""
    if not taken_at:
        return None
    try:
        dt = datetime.fromisoformat(taken_at.replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return int(dt.timestamp())


def item_metadata(catalog: Catalog, photo_ids: Iterable[int] | None = None) -> dict[int, dict]:
    """The Chroma metadata of present photos (all of them when photo_ids is None), in a few bulk queries."""
    rows, lists = catalog.filter_rows(photo_ids)
    out: dict[int, dict] = {}
    for r in rows:
        # the flags always, so that `{"tr": {"$ne": True}}` reads the same in every Chroma version
        m: dict = {"pid": r[0], "fav": bool(r[4]), "tr": bool(r[7]), "ar": bool(r[8]), "lk": bool(r[9]),
                   "pt": bool(r[10]), "md": r[11]}
        t = epoch(r[1])
        if t is not None:
            m["t"] = t
        if r[2]:
            m["cam"] = r[2]
        if r[3] is not None:
            m["rt"] = int(r[3])
        if r[5] is not None and r[6] is not None:
            m["lat"], m["lon"] = float(r[5]), float(r[6])
        out[r[0]] = m
    for key, pairs in lists.items():
        for pid, value in pairs:
            if pid in out:
                out[pid].setdefault(key, []).append(value)
    return out


def parse_url(url: str) -> tuple[str, int, bool]:
    from urllib.parse import urlparse

    u = urlparse(url if "://" in url else f"http://{url}")
    if u.scheme not in ("http", "https") or not u.hostname:
        raise SearchError(f"bad Chroma URL {url!r}: expected http://host:port")
    try:
        port = u.port or (443 if u.scheme == "https" else 8000)
    except ValueError:
        raise SearchError(f"bad Chroma URL {url!r}: the port is not a number") from None
    return u.hostname, port, u.scheme == "https"


class ChromaIndex:
    """The index stage (`sync`) and the query side of one library's Chroma collections.

    Every model with embeddings in the catalog gets its own collection."""

    def __init__(self, library, *, url: str | None = None, readonly: bool = False):
        self.library = library
        self.url = url
        self.readonly = readonly  # queries only: the embedded store may be read through Chroma's engine
        self._client = None
        self.removed = 0

    # -- connection ---------------------------------------------------------------------------------
    @property
    def where(self) -> str:
        return f"the Chroma server at {self.url}" if self.url else f"the index in {self.library.chroma_dir}"

    def store_read_only(self) -> bool:
        """The embedded store sits where trove cannot write (Chroma cannot open it then)."""
        return not self.url and self.library.chroma_dir.exists() and not os.access(self.library.chroma_dir, os.W_OK)

    def prefetch(self, model_id: str | None = None) -> None:
        """Connect in a background thread (importing chromadb alone takes a second) while the caller
        loads its model; the first use of `client` waits for it. Errors surface on that use.
        With `model_id`, also load that collection's vector index (the first query of a process
        reads it from disk) with a throw-away query."""
        import threading

        def connect() -> None:
            try:
                self.client
                col = self.collection(model_id) if model_id else None
                dim = (col.metadata or {}).get("trove_dim") if col is not None else None
                if dim:
                    col.query(query_embeddings=[[1.0] + [0.0] * (int(dim) - 1)], n_results=1, include=[])
            except Exception:  # reported again, as one line, when the foreground asks
                pass

        self._prefetch = threading.Thread(target=connect, name="chroma-connect", daemon=True)
        self._prefetch.start()

    @property
    def client(self):
        import threading

        pending = getattr(self, "_prefetch", None)
        if pending is not None and pending is not threading.current_thread():
            pending.join()
            self._prefetch = None
        if self._client is None and self.readonly and not self.url:
            from .chroma_reader import open_reader

            self._client = open_reader(str(self.library.chroma_dir))
        if self._client is None:
            os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
            import chromadb
            from chromadb.config import Settings

            settings = Settings(anonymized_telemetry=False)
            try:
                if self.url:
                    host, port, ssl = parse_url(self.url)
                    self._client = chromadb.HttpClient(host=host, port=port, ssl=ssl, settings=settings)
                else:
                    self.library.ensure()
                    self._client = chromadb.PersistentClient(path=str(self.library.chroma_dir), settings=settings)
            except SearchError:
                raise
            except Exception as e:  # chromadb raises ValueError/ConnectionError/... for an unusable server
                raise IndexUnavailable(f"cannot use {self.where}: {_first_line(e)}") from None
        return self._client

    def _call(self, what: str, fn, *args, **kwargs):
        """Run one Chroma call; any failure becomes one line naming the index."""
        try:
            return fn(*args, **kwargs)
        except SearchError:
            raise
        except Exception as e:
            if _is_missing(e):  # the collection went away under us: `index rebuild` in another process
                writer = self.library.writer()
                raise NotIndexed(("the index is being written by another trove process"
                                  + (f" (pid {writer})" if writer else "") + ": run this again when it has finished")
                                 if writer else f"the index changed while {what} ran: run this again") from None
            raise IndexUnavailable(f"{what} failed on {self.where}: {_first_line(e)}") from None

    def name(self, model_id: str, *, create: bool = False) -> str | None:
        """The model's collection name; None for a library that never had an index (and not `create`)."""
        state = self._state()
        if "library_id" not in state:
            if not create:
                return None
            import uuid

            state["library_id"] = uuid.uuid4().hex[:10]
            self._save_state(state)
        return collection_name(model_id, state["library_id"])

    def collection(self, model_id: str, *, dim: int | None = None, create: bool = False):
        """The model's collection; None when it does not exist and `create` is False."""
        name = self.name(model_id, create=create)
        if name is None:
            return None
        try:
            col = self.client.get_collection(name)
        except SearchError:
            raise
        except Exception as e:
            if not _is_missing(e):
                raise IndexUnavailable(f"cannot open collection {name} on {self.where}: {_first_line(e)}") from None
            if not create:
                return None
            meta = {"trove_model": model_id, "trove_dim": int(dim or 0)}
            col = self._call("creating the collection", self.client.create_collection, name,
                             configuration={"hnsw": dict(HNSW)}, metadata=meta,
                             embedding_function=None)
        meta = col.metadata or {}
        if meta.get("trove_model") != model_id or (dim and meta.get("trove_dim") not in (None, 0, dim)):
            raise ModelMismatch(
                f"collection {name} on {self.where} holds model {meta.get('trove_model')!r} "
                f"(dim {meta.get('trove_dim')}), but the catalog's embeddings are model {model_id!r} (dim {dim}); "
                f"run `trove index rebuild --model {model_id}` to re-create it from the catalog")
        return col

    # -- <library>/index.json: the library's id in collection names, how each model was loaded -------
    def _state(self) -> dict:
        try:
            return json.loads((self.library.root / "index.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def _save_state(self, state: dict) -> None:
        from ..library import write_atomic

        text = json.dumps(state, indent=1, sort_keys=True).encode("utf-8")
        write_atomic(self.library.root / "index.json", lambda f: f.write(text))

    def stored_spec(self, model_id: str) -> str | None:
        """How a model was loaded, as libraries from before catalog schema v3 remembered it (the
        catalog's `models` table holds it now)."""
        return self._state().get("specs", {}).get(model_id)

    # -- the index stage ----------------------------------------------------------------------------
    def sync(self, catalog: Catalog, show_progress: bool = True) -> int:
        """Bring every model's collection in line with the catalog; returns how many photos were sent."""
        sent = 0
        for model_id in catalog.embedding_models():
            sent += self._sync_model(catalog, model_id, show_progress)
        return sent

    def _sync_model(self, catalog: Catalog, model_id: str, show_progress: bool) -> int:
        import numpy as np

        from ..progress import progress

        dims = catalog.embedding_dims(model_id)
        if len(dims) > 1:
            raise ModelMismatch(f"the catalog holds embeddings of {len(dims)} sizes ({dims}) for model {model_id!r}")
        col = self.collection(model_id, dim=dims[0], create=True)
        self._search_settings(col)
        if self._call("counting", col.count) != catalog.count_indexed(model_id):
            self._reconcile(catalog, col, model_id)

        # photos that lost every present location leave the index
        gone = catalog.indexed_but_gone(model_id)
        for i in range(0, len(gone), BATCH):
            chunk = gone[i:i + BATCH]
            self._call("deleting", col.delete, ids=[h for _, h in chunk])
            with catalog.transaction():
                catalog.set_indexed(model_id, [pid for pid, _ in chunk], False)
        self.removed += len(gone)

        total = catalog.count_unindexed(model_id)
        sent, after = 0, 0
        with progress(total=total, desc="index", unit="photo", enabled=show_progress) as bar:
            while total:
                rows = catalog.unindexed(model_id, after, BATCH)
                if not rows:
                    break
                after = rows[-1][0]
                metas = item_metadata(catalog, [r[0] for r in rows])
                self._call("adding embeddings", col.upsert, ids=[r[1] for r in rows],
                           embeddings=np.stack([r[2] for r in rows]), metadatas=[metas[r[0]] for r in rows])
                with catalog.transaction():  # Chroma holds them now: record it in the same step
                    catalog.set_indexed(model_id, [r[0] for r in rows], True)
                sent += len(rows)
                bar.update(len(rows))
        self._refresh_metadata(catalog, col, model_id)
        return sent

    def _search_settings(self, col) -> None:
        """A collection made before HNSW's ef_search (or by another tool) gets it: searches by other
        processes from then on look at as many candidates as a new collection's."""
        try:
            hnsw = (col.configuration or {}).get("hnsw") or {}
            if hnsw.get("ef_search", 0) < HNSW["ef_search"]:
                col.modify(configuration={"hnsw": {"ef_search": HNSW["ef_search"]}})
        except Exception:   # a server that cannot change it (another version): searches as before, no worse
            pass

    def _reconcile(self, catalog: Catalog, col, model_id: str) -> None:
        """Chroma and the catalog disagree (index deleted, another server, photos dropped): drop what
        Chroma holds that the catalog does not, and let the upsert pass re-send everything."""
        known = catalog.embedded_hashes(model_id)
        stale = [i for i in self._all_ids(col) if i not in known]
        for i in range(0, len(stale), BATCH):
            self._call("deleting", col.delete, ids=stale[i:i + BATCH])
        catalog.reset_indexed(model_id)

    def _all_ids(self, col) -> list[str]:
        ids, offset = [], 0
        while True:
            got = self._call("listing", col.get, include=[], limit=10000, offset=offset)["ids"]
            ids += got
            offset += len(got)
            if len(got) < 10000:
                return ids

    def _refresh_metadata(self, catalog: Catalog, col, model_id: str) -> None:
        """Albums, keywords, dates and ratings change when a source is re-read: update the items whose
        metadata differs from what the catalog now resolves."""
        rows = catalog.indexed_photos(model_id)
        metas = item_metadata(catalog)
        # what this collection last received, as one digest: an unchanged library skips reading it back
        digest = hashlib.sha256(json.dumps([(h, metas.get(pid)) for pid, h in rows], sort_keys=True)
                                .encode("utf-8")).hexdigest()
        state = self._state()
        if state.get("metadata", {}).get(model_id) == [str(col.id), digest]:
            return
        for i in range(0, len(rows), 5000):
            chunk = rows[i:i + 5000]
            got = self._call("reading metadata", col.get, ids=[h for _, h in chunk], include=["metadatas"])
            have = dict(zip(got["ids"], got["metadatas"]))
            changed = [(h, metas[pid]) for pid, h in chunk
                       if pid in metas and _normal(have.get(h)) != _normal(metas[pid])]
            if changed:
                self._call("updating metadata", col.update, ids=[h for h, _ in changed],
                           metadatas=[_with_removals(have.get(h), m) for h, m in changed])
        state = self._state()
        state.setdefault("metadata", {})[model_id] = [str(col.id), digest]
        self._save_state(state)

    def rebuild(self, catalog: Catalog, models: list[str] | None = None,
                show_progress: bool = True) -> dict[str, int]:
        """Drop each model's collection and re-create it from the catalog's stored embeddings."""
        out = {}
        for model_id in models or catalog.embedding_models():
            name = self.name(model_id, create=True)
            try:
                self.client.get_collection(name)
                self._call("deleting the collection", self.client.delete_collection, name)
            except SearchError:
                raise
            except Exception as e:
                if not _is_missing(e):
                    raise IndexUnavailable(f"cannot open collection {name} on {self.where}: {_first_line(e)}") from None
            catalog.reset_indexed(model_id)
            out[model_id] = self._sync_model(catalog, model_id, show_progress)
        return out


def _normal(meta: dict | None) -> dict:
    return {k: v for k, v in (meta or {}).items() if v is not None}


def _with_removals(old: dict | None, new: dict) -> dict:
    """Chroma's update merges metadata: keys the photo no longer has are removed by setting None."""
    return {**{k: None for k in (old or {}) if k not in new}, **new}


def _is_missing(e: Exception) -> bool:
    text = f"{type(e).__name__} {e}".lower()
    return "notfound" in text or "does not exist" in text or "not found" in text


def _first_line(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


# -- the commands ---------------------------------------------------------------------------------
def _under_lock(library, chroma_url: str | None, work, models=()):
    if not library.exists():
        raise NotIndexed(f"library {library.root}: nothing to index yet")
    with library.writing() as catalog:
        have = catalog.embedding_models()
        if not have:
            raise NotIndexed("the catalog holds no embeddings yet: run `trove ingest ... --model NAME`")
        unknown = [m for m in models if m not in have]
        if unknown:
            raise SearchError(f"the catalog holds no embeddings for model {unknown[0]!r} "
                              f"(it has: {', '.join(have)})")
        index = ChromaIndex(library, url=chroma_url)
        done = work(catalog, index)
        catalog.refresh_all_text()   # (what is derived from the catalog is all brought in step)
        return done, index.removed


def rebuild_index(library, models=None, *, chroma_url: str | None = None,
                  show_progress: bool = True) -> tuple[dict[str, int], int]:
    """`trove index rebuild`: (photos sent per model, photos removed as gone)."""
    return _under_lock(library, chroma_url,
                       lambda catalog, index: index.rebuild(catalog, list(models or ()) or None, show_progress),
                       models or ())


def sync_index(library, *, chroma_url: str | None = None, show_progress: bool = True) -> tuple[int, int]:
    """`trove index sync`: (photos sent, photos removed as gone); photos of a removed source that
    waited for the index to let them go leave the catalog."""
    def work(catalog, index):
        sent = index.sync(catalog, show_progress)
        with catalog.transaction():
            catalog.drop_orphans()
        return sent
    return _under_lock(library, chroma_url, work)
