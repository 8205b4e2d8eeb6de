"""Error rows: one per problem, with where it happened and why (named `faults` so it does not
shadow the `errors` table's meaning or Python's own)."""
from __future__ import annotations

import sqlite3

from .records import error_row
from .sql import db_path, now_iso


class ErrorQueries:
    db: sqlite3.Connection

    def add_error(self, stage: str, kind: str, message: str, *, source_id: int | None = None,
                  location_id: int | None = None, photo_id: int | None = None, path: str | None = None,
                  model: str | None = None) -> None:
        if location_id is not None:
            self.db.execute("DELETE FROM errors WHERE location_id=? AND stage=?", (location_id, stage))
            self.db.execute("UPDATE locations SET state='error', read_size=size, read_mtime_ns=mtime_ns "
                            "WHERE id=? AND state!='missing'", (location_id,))
        elif photo_id is not None:
            self.db.execute("DELETE FROM errors WHERE photo_id=? AND stage=? AND model IS ?", (photo_id, stage, model))
        new = self.db.execute(
            "INSERT INTO errors(at, stage, kind, source_id, location_id, photo_id, path, message, model) "
            "VALUES (?,?,?,?,?,?,?,?,?)",
            (now_iso(), stage, kind, source_id, location_id, photo_id, path and db_path(path), message, model),
        ).lastrowid
        if location_id is None and photo_id is None and path is not None:
            # one row per problem: discovery finding it again replaces it. The old row goes after the
            # new one is in, so the new id is above every id a scan started with (SQLite hands the
            # highest id out again once its row is deleted) and clear_discover_errors keeps it.
            self.db.execute("DELETE FROM errors WHERE location_id IS NULL AND photo_id IS NULL AND stage=? "
                            "AND source_id IS ? AND path=? AND id<?", (stage, source_id, db_path(path), new))

    def errors(self, source_id: int | None = None) -> list[dict]:
        q, args = "SELECT * FROM errors", ()
        if source_id is not None:
            q, args = q + " WHERE source_id=?", (source_id,)
        return [error_row(r) for r in self.db.execute(q + " ORDER BY id", args)]

    def last_error_id(self) -> int:
        return self.db.execute("SELECT coalesce(max(id), 0) FROM errors").fetchone()[0]

    def clear_embed_errors(self, kind: str) -> None:
        """Embed errors of one kind (what waited for an extra now installed) go, so they are tried again."""
        self.db.execute("DELETE FROM errors WHERE stage='embed' AND kind=?", (kind,))

    def clear_discover_errors(self, source_id: int, up_to_id: int) -> None:
        """After a complete scan: discovery problems of the source it did not find again are gone."""
        self.db.execute("DELETE FROM errors WHERE source_id=? AND stage='discover' AND location_id IS NULL "
                        "AND id<=?", (source_id, up_to_id))

    def count_errors(self, source_id: int) -> int:
        """Error rows of one source, each counted once (embed errors carry the source of the copy
        that failed to decode)."""
        return self.db.execute("SELECT count(*) FROM errors WHERE source_id=?", (source_id,)).fetchone()[0]
