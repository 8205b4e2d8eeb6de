"""Embeddings per (photo, model), and the bookkeeping of which ones the vector index holds.

`embeddings.indexed` says whether Chroma holds the vector; the index stage sets it in the same
step Chroma accepted the vectors, so an interrupted sync resumes without re-sending anything.
"""
from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from typing import Any, Iterator, Sequence

from .sql import EMBEDDABLE, IN_LIST, LOCATION_PRESENT, id_list, now_iso, present


def vector_of(dtype: str, blob: bytes):
    """A stored vector as float32."""
    import numpy as np

    return np.frombuffer(blob, dtype="<f4" if dtype == "float32" else "<f2").astype(np.float32)


class EmbeddingQueries:
    db: sqlite3.Connection

    # -- the embed stage --------------------------------------------------------------------------
    def photos_to_embed(self, model: str, limit: int, after_id: int = 0) -> list[int]:
        """Present photos, RAWs and videos (see sql.EMBEDDABLE) with no embedding for `model` and no
        embed error for it."""
        rows = self.db.execute(
            f"SELECT p.id FROM photos p WHERE {EMBEDDABLE} AND " + present() + " "
            "AND NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.photo_id=p.id AND e.model=?) "
            "AND NOT EXISTS (SELECT 1 FROM errors x WHERE x.photo_id=p.id AND x.stage='embed' AND x.model=?) "
            "AND p.id>? ORDER BY p.id LIMIT ?",
            (model, model, after_id, limit),
        ).fetchall()
        return [r[0] for r in rows]

    def count_to_embed(self, model: str) -> int:
        """Present images without an embedding for `model` (the embed stage's progress total)."""
        return self.db.execute(
            f"SELECT count(*) FROM photos p WHERE {EMBEDDABLE} AND " + present() + " "
            "AND NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.photo_id=p.id AND e.model=?)", (model,)).fetchone()[0]

    def put_embeddings(self, model: str, items: Sequence[tuple[int, Any]], dtype: str = "float32") -> None:
        now = now_iso()
        self.db.executemany(
            "INSERT INTO embeddings(photo_id, model, dim, dtype, vector, created_at) VALUES (?,?,?,?,?,?) "
            "ON CONFLICT(photo_id, model) DO UPDATE SET dim=excluded.dim, dtype=excluded.dtype, "
            "vector=excluded.vector, created_at=excluded.created_at, indexed=0",
            [(pid, model, len(vec), dtype, vec.astype("<" + ("f4" if dtype == "float32" else "f2")).tobytes(), now)
             for pid, vec in items],
        )

    def embedding(self, photo_id: int, model: str):
        row = self.db.execute("SELECT dtype, vector FROM embeddings WHERE photo_id=? AND model=?",
                              (photo_id, model)).fetchone()
        return None if row is None else vector_of(row["dtype"], row["vector"])

    def embedding_models(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT DISTINCT model FROM embeddings ORDER BY model")]

    def remember_model(self, model: str, spec: str) -> None:
        """How `model` was loaded (first spec wins: a later run naming it otherwise loads the same)."""
        with self.db:
            self.db.execute("INSERT INTO models(id, spec, added_at) VALUES (?,?,?) ON CONFLICT(id) DO NOTHING",
                            (model, spec, now_iso()))

    def model_spec(self, model: str) -> str | None:
        row = self.db.execute("SELECT spec FROM models WHERE id=?", (model,)).fetchone()
        return row[0] if row else None

    def default_model(self) -> str | None:
        """The model the library is embedded with: the first one recorded (others were added on
        purpose); for libraries from before schema v3, the one with the most embeddings."""
        row = self.db.execute("SELECT m.id FROM models m WHERE EXISTS (SELECT 1 FROM embeddings e "
                              "WHERE e.model=m.id) ORDER BY m.added_at, m.rowid LIMIT 1").fetchone()
        if row:
            return row[0]
        row = self.db.execute("SELECT model FROM embeddings GROUP BY model ORDER BY count(*) DESC, model "
                              "LIMIT 1").fetchone()
        return row[0] if row else None

    def coverage(self, model: str) -> tuple[int, int]:
        """(present images embedded with the model, present images)."""
        images = self.db.execute(f"SELECT count(*) FROM photos p WHERE {EMBEDDABLE} AND " + present()).fetchone()[0]
        done = self.db.execute("SELECT count(*) FROM embeddings e JOIN photos p ON p.id=e.photo_id WHERE "
                               f"e.model=? AND {EMBEDDABLE} AND " + present("e.photo_id"), (model,)).fetchone()[0]
        return done, images

    def model_for_spec(self, spec: str) -> str | None:
        row = self.db.execute("SELECT id FROM models WHERE spec=? ORDER BY added_at LIMIT 1", (spec,)).fetchone()
        return row[0] if row else None

    def embedding_dims(self, model: str) -> list[int]:
        return [r[0] for r in self.db.execute("SELECT DISTINCT dim FROM embeddings WHERE model=?", (model,))]

    def embedding_dim(self, model: str) -> int | None:
        """The size of one of the model's embeddings (embedding_dims reads every row: ~0.5 s at
        100,000 photos; this reads one)."""
        row = self.db.execute("SELECT dim FROM embeddings WHERE model=? LIMIT 1", (model,)).fetchone()
        return row[0] if row else None

    # -- what the index holds ---------------------------------------------------------------------
    def count_indexed(self, model: str) -> int:
        return self.db.execute("SELECT count(*) FROM embeddings WHERE model=? AND indexed=1", (model,)).fetchone()[0]

    def count_unindexed(self, model: str) -> int:
        """Present photos embedded with the model that the index does not hold yet."""
        return self.db.execute(
            "SELECT count(*) FROM embeddings e WHERE e.model=? AND e.indexed=0 AND " + present("e.photo_id"),
            (model,)).fetchone()[0]

    def unindexed(self, model: str, after_id: int, limit: int) -> list[tuple[int, str, Any]]:
        """(photo id, hash, float32 vector) of present photos the index lacks, by photo id."""
        rows = self.db.execute(
            "SELECT e.photo_id, p.hash, e.dtype, e.vector FROM embeddings e JOIN photos p ON p.id=e.photo_id "
            "WHERE e.model=? AND e.indexed=0 AND " + present("e.photo_id") + " AND e.photo_id>? "
            "ORDER BY e.photo_id LIMIT ?", (model, after_id, limit)).fetchall()
        return [(r[0], r[1], vector_of(r[2], r[3])) for r in rows]

    def indexed_but_gone(self, model: str) -> list[tuple[int, str]]:
        """(photo id, hash) of photos the index holds that lost every present location."""
        return [(r[0], r[1]) for r in self.db.execute(
            "SELECT e.photo_id, p.hash FROM embeddings e JOIN photos p ON p.id=e.photo_id WHERE e.model=? "
            "AND e.indexed=1 AND NOT " + present("e.photo_id"), (model,))]

    def set_indexed(self, model: str, photo_ids, indexed: bool) -> None:
        self.db.executemany("UPDATE embeddings SET indexed=? WHERE photo_id=? AND model=?",
                            [(int(indexed), pid, model) for pid in photo_ids])

    def reset_indexed(self, model: str) -> None:
        """The index holds nothing of this model (dropped, or not to be trusted)."""
        with self.db:
            self.db.execute("UPDATE embeddings SET indexed=0 WHERE model=?", (model,))

    def embedded_hashes(self, model: str) -> set[str]:
        return {r[0] for r in self.db.execute(
            "SELECT p.hash FROM embeddings e JOIN photos p ON p.id=e.photo_id WHERE e.model=?", (model,))}

    def indexed_photos(self, model: str) -> list[tuple[int, str]]:
        """(photo id, hash) of every photo the index holds for the model."""
        return [(r[0], r[1]) for r in self.db.execute(
            "SELECT e.photo_id, p.hash FROM embeddings e JOIN photos p ON p.id=e.photo_id "
            "WHERE e.model=? AND e.indexed=1 ORDER BY e.photo_id", (model,))]

    def present_embeddings(self, model: str) -> list[tuple[int, str, Any]]:
        """(photo id, hash, float32 vector) of every present photo embedded with the model."""
        return [(r[0], r[1], vector_of(r[2], r[3])) for r in self.db.execute(
            "SELECT e.photo_id, p.hash, e.dtype, e.vector FROM embeddings e JOIN photos p ON p.id=e.photo_id "
            "WHERE e.model=? AND " + present("e.photo_id") + " ORDER BY e.photo_id", (model,))]

    def present_vectors(self, model: str, include_trashed: bool = True) -> list[tuple[int, Any]]:
        """(photo id, float32 vector) of every present photo the index holds for the model."""
        trash = "" if include_trashed else "AND NOT (SELECT trashed FROM photos t WHERE t.id=e.photo_id) "
        return [(r[0], vector_of(r[1], r[2])) for r in self.db.execute(
            "SELECT e.photo_id, e.dtype, e.vector FROM embeddings e WHERE e.model=? AND e.indexed=1 AND "
            + present("e.photo_id") + f" {trash}ORDER BY e.photo_id", (model,))]

    def vector_matrix(self, model: str, *, indexed_only: bool = True, include_trashed: bool = True, order=None):
        """(photo ids, hashes, float32 matrix one row per photo) of the present photos embedded with
        the model (only those the index holds, unless not `indexed_only`), by photo id: what
        present_vectors gives, as one array filled as the rows are read (no copy per vector).
        `order(ids) -> positions`: where each photo's row goes instead (a permutation)."""
        import numpy as np

        where = ("AND e.indexed=1 " if indexed_only else "") + \
            ("" if include_trashed else "AND NOT (SELECT trashed FROM photos t WHERE t.id=e.photo_id) ")
        scope = "FROM embeddings e WHERE e.model=? " + where + "AND " + present("e.photo_id")
        ids = [r[0] for r in self.db.execute(f"SELECT e.photo_id {scope} ORDER BY e.photo_id", (model,))]
        if not ids:
            return ids, [], np.zeros((0, 0), np.float32)
        dim = self.db.execute("SELECT dim FROM embeddings WHERE model=? AND photo_id=?", (model, ids[0])).fetchone()[0]
        positions = list(range(len(ids))) if order is None else list(order(ids))
        matrix = np.empty((len(ids), dim), np.float32)
        hashes: list = [None] * len(ids)
        rows = self.db.execute(
            "SELECT e.photo_id, p.hash, e.dtype, e.vector FROM embeddings e JOIN photos p ON p.id=e.photo_id "
            "WHERE e.model=? " + where + "AND " + present("e.photo_id") + " ORDER BY e.photo_id", (model,))
        done = 0
        while True:
            chunk = rows.fetchmany(4096)
            if not chunk:
                break
            if done + len(chunk) > len(ids) or any(r[0] != ids[done + j] for j, r in enumerate(chunk)):
                raise RuntimeError("the catalog changed while its vectors were read")
            at = positions[done:done + len(chunk)]
            for j, r in zip(at, chunk):
                hashes[j] = r[1]
            if any(len(r[3]) != dim * (4 if r[2] == "float32" else 2) for r in chunk):
                raise ValueError(f"embeddings of more than one size for model {model!r}")
            if all(r[2] == "float32" for r in chunk):
                matrix[at] = np.frombuffer(b"".join(r[3] for r in chunk), dtype="<f4").reshape(len(chunk), dim)
            else:
                matrix[at] = np.stack([vector_of(r[2], r[3]) for r in chunk])
            done += len(chunk)
        if done != len(ids):
            raise RuntimeError("the catalog changed while its vectors were read")
        return [ids[j] for j in np.argsort(positions)] if order is not None else ids, hashes, matrix

    @contextmanager
    def read_snapshot(self) -> Iterator[None]:
        """Every query inside sees one state of the catalog (a read transaction), unless the
        connection is in a transaction of its own already."""
        if self.db.in_transaction:
            yield
            return
        self.db.execute("BEGIN")
        try:
            yield
        finally:
            self.db.execute("COMMIT")

    def change_mark(self) -> tuple[int, int]:
        """Changes whenever anything is committed to the catalog: by another connection (SQLite's
        data_version) or by this one (its total_changes). Cheap: for caches of derived data."""
        return self.db.execute("PRAGMA data_version").fetchone()[0], self.db.total_changes

    def filter_rows(self, photo_ids=None) -> tuple[list[sqlite3.Row], dict[str, list[tuple[int, int]]]]:
        """What the index's filters need of present photos (all when photo_ids is None): their
        columns, and (photo id, value) pairs of their sources, albums, keywords and auto-tags."""
        scope, args = ("", ()) if photo_ids is None else (" AND {col} " + IN_LIST, (id_list(photo_ids),))
        rows = self.db.execute(
            "SELECT id, taken_at, camera, rating, favorite, lat, lon, trashed, archived, locked, partner, media "
            "FROM photos p WHERE " + present()
            + scope.format(col="p.id"), args).fetchall()
        lists = {
            "src": f"SELECT DISTINCT photo_id, source_id FROM locations WHERE {LOCATION_PRESENT}"
                   + scope.format(col="photo_id"),
            "alb": "SELECT DISTINCT l.photo_id, la.album_id FROM locations l JOIN location_albums la "
                   f"ON la.location_id=l.id WHERE l.{LOCATION_PRESENT}" + scope.format(col="l.photo_id"),
            "kw": "SELECT photo_id, keyword_id FROM photo_keywords WHERE 1" + scope.format(col="photo_id"),
            "tg": "SELECT photo_id, tag_id FROM photo_tags WHERE 1" + scope.format(col="photo_id"),
        }
        return rows, {k: [(r[0], r[1]) for r in self.db.execute(sql + " ORDER BY 1, 2", args)]
                      for k, sql in lists.items()}
