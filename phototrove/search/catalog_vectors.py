"""Exact search over the catalog's own stored embeddings, standing in for a Chroma collection where
the index cannot be opened: a library on a read-only mount or a copy on a DVD (Chroma opens its
store for writing even to read it). Same answers as the index, at the cost of holding the model's
vectors in memory (100,000 photos x 512 floats = 200 MB) and one matrix product per query."""
from __future__ import annotations

from ..catalog import Catalog
from .filters import matches
from .index import item_metadata


class CatalogVectors:
    """The collection calls searching and reports make (query, get, count, metadata)."""

    def __init__(self, catalog: Catalog, model_id: str):
        import numpy as np

        rows = catalog.present_embeddings(model_id)
        self.ids = [h for _, h, _ in rows]
        dim = len(rows[0][2]) if rows else 0
        self.vectors = np.stack([v for _, _, v in rows]) if rows else np.zeros((0, dim), np.float32)
        metas = item_metadata(catalog, [pid for pid, _, _ in rows])
        self.metas = [metas.get(pid, {}) for pid, _, _ in rows]
        self.metadata = {"trove_model": model_id, "trove_dim": dim}

    def count(self) -> int:
        return len(self.ids)

    def _mask(self, where: dict | None):
        import numpy as np

        if where is None:
            return np.ones(len(self.ids), bool)
        return np.array([matches(where, m) for m in self.metas], bool)

    def query(self, *, query_embeddings, n_results: int = 10, where: dict | None = None,
              include=("metadatas", "distances")) -> dict:
        import numpy as np

        q = np.asarray(query_embeddings, dtype=np.float32).reshape(-1, self.vectors.shape[1] or 1)
        keep = np.flatnonzero(self._mask(where))
        scores = self.vectors[keep] @ q.T if len(keep) else np.zeros((0, len(q)), np.float32)
        out = {"ids": [], "distances": [], "metadatas": [], "embeddings": None}
        for j in range(len(q)):
            order = np.argsort(-scores[:, j], kind="stable")[:n_results]
            chosen = keep[order]
            out["ids"].append([self.ids[i] for i in chosen])
            out["distances"].append([float(1.0 - s) for s in scores[order, j]])
            out["metadatas"].append([self.metas[i] for i in chosen])
        return out

    def get(self, *, ids=None, where: dict | None = None, include=("metadatas",), limit: int | None = None,
            offset: int | None = None) -> dict:
        import numpy as np

        chosen = np.flatnonzero(self._mask(where))
        if ids is not None:
            wanted = set(ids)
            chosen = [i for i in chosen if self.ids[i] in wanted]
        chosen = list(chosen)[offset or 0:][:limit]
        return {"ids": [self.ids[i] for i in chosen], "metadatas": [self.metas[i] for i in chosen],
                "embeddings": None}
