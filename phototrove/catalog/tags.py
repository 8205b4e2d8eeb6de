"""Auto-tags: the vocabulary concepts a photo's embedding clears the thresholds of, with their
margins, apart from the user's own keywords; and which photos are tagged with which model and
vocabulary (so a new model or vocabulary tags them again)."""
from __future__ import annotations

import sqlite3
from typing import Iterable, Sequence

from .embeddings import vector_of
from .sql import IN_LIST, id_list, present


class TagQueries:
    db: sqlite3.Connection

    def photos_to_tag(self, model: str, vocabulary: str, limit: int, after_id: int = 0) -> list[tuple[int, object]]:
        """(photo id, vector) of photos embedded with `model` not yet tagged with it and `vocabulary`."""
        rows = self.db.execute(
            "SELECT e.photo_id, e.dtype, e.vector FROM embeddings e WHERE e.model=? AND e.photo_id>? "
            "AND NOT EXISTS (SELECT 1 FROM photo_tagged t WHERE t.photo_id=e.photo_id AND t.model=? "
            "AND t.vocabulary=?) ORDER BY e.photo_id LIMIT ?", (model, after_id, model, vocabulary, limit))
        return [(r[0], vector_of(r[1], r[2])) for r in rows]

    def count_to_tag(self, model: str, vocabulary: str) -> int:
        return self.db.execute(
            "SELECT count(*) FROM embeddings e WHERE e.model=? AND NOT EXISTS (SELECT 1 FROM photo_tagged t "
            "WHERE t.photo_id=e.photo_id AND t.model=? AND t.vocabulary=?)", (model, model, vocabulary)).fetchone()[0]

    def sample_vectors(self, model: str, n: int) -> list:
        """Up to n stored vectors of the model, spread over the library (for calibrating thresholds)."""
        total = self.db.execute("SELECT count(*) FROM embeddings WHERE model=?", (model,)).fetchone()[0]
        step = max(1, total // max(n, 1))
        return [vector_of(r[0], r[1]) for r in self.db.execute(
            "SELECT dtype, vector FROM embeddings WHERE model=? AND photo_id % ? = 0 LIMIT ?", (model, step, n))]

    def put_tags(self, model: str, vocabulary: str, tagged: Sequence[tuple[int, Iterable[tuple[str, float]]]]) -> int:
        """Replace the auto-tags of each photo (photo id, [(tag, margin)]); returns how many were set."""
        names = sorted({name for _pid, tags in tagged for name, _ in tags})
        self.db.executemany("INSERT OR IGNORE INTO tags(name) VALUES (?)", [(n,) for n in names])
        ids = {r[1]: r[0] for r in self.db.execute(f"SELECT id, name FROM tags WHERE name {IN_LIST}",
                                                     (id_list(names),))}
        pids = [pid for pid, _ in tagged]
        self.db.execute(f"DELETE FROM photo_tags WHERE photo_id {IN_LIST}", (id_list(pids),))
        rows = [(pid, ids[name], round(float(score), 4)) for pid, tags in tagged for name, score in tags]
        self.db.executemany("INSERT INTO photo_tags(photo_id, tag_id, score) VALUES (?,?,?)", rows)
        self.db.executemany("INSERT INTO photo_tagged(photo_id, model, vocabulary) VALUES (?,?,?) "
                            "ON CONFLICT(photo_id) DO UPDATE SET model=excluded.model, vocabulary=excluded.vocabulary",
                            [(pid, model, vocabulary) for pid in pids])
        return len(rows)

    def tag_counts(self, include_trashed: bool = False) -> list[tuple[str, int]]:
        """Every auto-tag with how many present photos carry it, most common first."""
        trash = "" if include_trashed else "AND NOT p.trashed "
        return [(r[0], r[1]) for r in self.db.execute(
            "SELECT t.name, count(*) FROM photo_tags pt JOIN tags t ON t.id=pt.tag_id JOIN photos p ON p.id=pt.photo_id "
            f"WHERE {present('p.id')} {trash}GROUP BY t.id ORDER BY 2 DESC, 1")]

    def match_tags(self, value: str) -> list[int]:
        """Tags by exact name (any case), else by part of it."""
        exact = [r[0] for r in self.db.execute("SELECT id FROM tags WHERE name=? COLLATE NOCASE", (value,))]
        return exact or [r[0] for r in self.db.execute("SELECT id FROM tags WHERE name LIKE ? ORDER BY id",
                                                       (f"%{value}%",))]

    def tagged_models(self) -> list[tuple[str, str, int]]:
        """(model, vocabulary digest, photos) of what tagged the library."""
        return [tuple(r) for r in self.db.execute(
            "SELECT model, vocabulary, count(*) FROM photo_tagged GROUP BY 1, 2 ORDER BY 3 DESC")]
