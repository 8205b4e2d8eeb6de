"""Read-only queries on the library's embedded Chroma store through chromadb's own Rust core.

Importing the `chromadb` package costs ~1.3 s (pydantic models, telemetry, HTTP clients) before a
query can run, most of a cold `trove search`. Its Rust engine (`chromadb_rust_bindings`, shipped
in the same wheel) opens the same store in ~10 ms and runs the same query and `where` code. This
module gives the few collection calls that searching and reports need on top of it; writes, and
anything the engine does not offer, go through the chromadb client as before. `open_reader` returns
None when the bindings are missing or differ from what this code knows: the caller then uses the
client, which is always correct, only slower to start.
"""
from __future__ import annotations

import os

TENANT, DATABASE = "default_tenant", "default_database"


def open_reader(persist_dir: str) -> "StoreReader | None":
    if not os.path.exists(os.path.join(persist_dir, "chroma.sqlite3")):
        return None  # no store yet: the client path reports that (and creates nothing here)
    try:
        return StoreReader(persist_dir)
    except Exception:  # an engine of another version, or a store that needs migrating: use the client
        return None


class StoreReader:
    """The subset of chromadb's client API that `trove search`, `similar` and `report` use."""

    def __init__(self, persist_dir: str):
        import chromadb_rust_bindings as rb

        config = rb.SqliteDBConfig(hash_type=rb.MigrationHash.MD5, migration_mode=rb.MigrationMode.Validate,
                                   url=os.path.join(persist_dir, "chroma.sqlite3"))
        self._engine = rb.Bindings(allow_reset=False, sqlite_db_config=config, persist_path=persist_dir,
                                   hnsw_cache_size=64)

    def get_collection(self, name: str) -> "CollectionReader":
        model = self._engine.get_collection(name, TENANT, DATABASE)
        return CollectionReader(self._engine, model)


class CollectionReader:
    def __init__(self, engine, model):
        self._engine = engine
        self.id, self.name, self.metadata = model.id, model.name, model.metadata

    def count(self) -> int:
        return self._engine.count(str(self.id), TENANT, DATABASE)

    def query(self, *, query_embeddings, n_results: int = 10, where: dict | None = None,
              include=("metadatas", "distances")) -> dict:
        import numpy as np

        vectors = np.asarray(query_embeddings, dtype=np.float32)
        r = self._engine.query(str(self.id), None, vectors, n_results, _json(where), None, list(include),
                               TENANT, DATABASE)
        return {"ids": r.ids, "distances": r.distances, "metadatas": r.metadatas, "embeddings": r.embeddings}

    def get(self, *, ids=None, where: dict | None = None, include=("metadatas",), limit: int | None = None,
            offset: int | None = None) -> dict:
        r = self._engine.get(str(self.id), ids, _json(where), limit, offset or 0, None, list(include),
                             TENANT, DATABASE)
        return {"ids": r.ids, "metadatas": r.metadatas, "embeddings": r.embeddings}


def _json(where: dict | None) -> str | None:
    import json

    return json.dumps(where) if where else None
