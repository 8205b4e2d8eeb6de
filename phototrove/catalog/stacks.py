"""Stacks in the catalog: `photos.stack_id` is the cover photo's id (its own for the cover)."""
from __future__ import annotations

import json
import sqlite3

from .sql import IN_LIST, LOCATION_PRESENT, id_list, py_path


class StackQueries:
    db: sqlite3.Connection

    def stack_rows(self, source_id: int) -> list[tuple]:
        """(photo id, media, taken_at, burst, path, entry, location meta, taken_utc) of the source's
        present locations: what ingest/stacks.py groups."""
        return [(r[0], r[1], r[2], r[3], py_path(r[4]), py_path(r[5]), json.loads(r[6]) if r[6] else {}, r[7])
                for r in self.db.execute(
                    "SELECT p.id, p.media, p.taken_at, p.burst, l.path, l.entry, l.meta, p.taken_utc FROM locations l "
                    f"JOIN photos p ON p.id=l.photo_id WHERE l.source_id=? AND l.{LOCATION_PRESENT}", (source_id,))]

    def set_stacks(self, source_id: int, groups: list[list[int]]) -> int:
        """Replace the stacks of the source's photos with `groups` (cover first); returns how many."""
        self.db.execute("UPDATE photos SET stack_id=NULL WHERE stack_id IS NOT NULL AND id IN "
                        "(SELECT photo_id FROM locations WHERE source_id=?)", (source_id,))
        for group in groups:
            self.db.execute(f"UPDATE photos SET stack_id=? WHERE id {IN_LIST}", (group[0], id_list(group)))
        return len(groups)

    def stack_sizes(self, stack_ids) -> dict[int, int]:
        """Stack (cover) id -> how many present photos it holds."""
        return {r[0]: r[1] for r in self.db.execute(
            "SELECT p.stack_id, count(*) FROM photos p WHERE p.stack_id " + IN_LIST + " AND EXISTS (SELECT 1 FROM "
            f"locations pl WHERE pl.photo_id=p.id AND pl.{LOCATION_PRESENT}) GROUP BY p.stack_id",
            (id_list(stack_ids),))}

    def stack_members(self, stack_id: int) -> list[int]:
        return [r[0] for r in self.db.execute("SELECT id FROM photos WHERE stack_id=? ORDER BY id != ?, id",
                                              (stack_id, stack_id))]

    def has_stacks(self) -> bool:
        return self.db.execute("SELECT 1 FROM photos WHERE stack_id IS NOT NULL LIMIT 1").fetchone() is not None
