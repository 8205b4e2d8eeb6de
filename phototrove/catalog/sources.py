"""Sources, their locations (what discovery found) and albums."""
from __future__ import annotations

import json
import sqlite3
from typing import Any, Iterable

from .records import Location, location, source_row
from .sql import LOCATION_PRESENT, PRIMARY_FIRST, PRIMARY_LAST, db_path, json_text, now_iso, readable

# Read errors that may go away with the same bytes on disk; others are not retried until the file changes.
TRANSIENT_ERRORS = ("unreadable", "vanished", "needs-raw-extra", "needs-video-extra")  # retried on unchanged bytes


class SourceQueries:
    db: sqlite3.Connection

    # -- sources ----------------------------------------------------------------------------------
    def ensure_source(self, kind: str, root: str, info: dict | None = None) -> int:
        with self.db:
            self.db.execute(
                "INSERT INTO sources(kind, root, added_at, info) VALUES (?,?,?,?) "
                "ON CONFLICT(kind, root) DO NOTHING",
                (kind, db_path(root), now_iso(), json_text(info or {})),
            )
        return self.db.execute("SELECT id FROM sources WHERE kind=? AND root=?", (kind, db_path(root))).fetchone()[0]

    def source(self, source_id: int) -> dict | None:
        row = self.db.execute("SELECT * FROM sources WHERE id=?", (source_id,)).fetchone()
        return source_row(row) if row else None

    def sources(self) -> list[dict]:
        return [source_row(r) for r in self.db.execute("SELECT * FROM sources ORDER BY id")]

    def source_info(self, kind: str, root: str) -> dict | None:
        """What the adapter of the source (kind, root) remembered in earlier runs; None if unknown."""
        row = self.db.execute("SELECT info FROM sources WHERE kind=? AND root=?", (kind, db_path(root))).fetchone()
        return json.loads(row[0] or "{}") if row else None

    def remove_source(self, source_id: int) -> list[int]:
        """Forget a source (in the caller's transaction): its locations, albums and error rows.
        Nothing on disk is touched. Returns the photos it held; those no other location holds
        leave with drop_orphans() once the index no longer has them."""
        held = self.photos_of_source(source_id)
        self.db.execute("DELETE FROM locations WHERE source_id=?", (source_id,))   # location_albums cascade
        self.db.execute("DELETE FROM albums WHERE source_id=?", (source_id,))
        self.db.execute("DELETE FROM errors WHERE source_id=?", (source_id,))
        self.db.execute("DELETE FROM sources WHERE id=?", (source_id,))
        return held

    def drop_orphans(self) -> int:
        """Delete photos no location holds any more and no index holds (with their metadata and
        embeddings); returns how many."""
        orphans = ("SELECT id FROM photos p WHERE NOT EXISTS (SELECT 1 FROM locations l WHERE l.photo_id=p.id) "
                   "AND NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.photo_id=p.id AND e.indexed=1)")
        self.db.execute(f"UPDATE photos SET live_of=NULL WHERE live_of IN ({orphans})")
        self.db.execute(f"DELETE FROM errors WHERE photo_id IN ({orphans})")
        return self.db.execute(f"DELETE FROM photos WHERE id IN ({orphans})").rowcount

    def photos_of_source(self, source_id: int) -> list[int]:
        return [r[0] for r in self.db.execute(
            "SELECT DISTINCT photo_id FROM locations WHERE source_id=? AND photo_id IS NOT NULL", (source_id,))]

    def count_locations(self, source_id: int) -> int:
        return self.db.execute("SELECT count(*) FROM locations WHERE source_id=?", (source_id,)).fetchone()[0]

    def only_here(self, source_id: int) -> int:
        """How many of the source's photos no other source holds."""
        return self.db.execute(
            "SELECT count(DISTINCT l.photo_id) FROM locations l WHERE l.source_id=? AND l.photo_id IS NOT NULL "
            "AND NOT EXISTS (SELECT 1 FROM locations o WHERE o.photo_id=l.photo_id AND o.source_id!=l.source_id)",
            (source_id,)).fetchone()[0]

    def merge_source_info(self, source_id: int, info: dict) -> None:
        """Update the source's remembered info with `info` (top-level keys replace)."""
        row = self.source(source_id)
        merged = {**(json.loads(row["info"] or "{}") if row else {}), **info}
        self.db.execute("UPDATE sources SET info=? WHERE id=?", (json_text(merged), source_id))

    def begin_scan(self, source_id: int) -> int:
        with self.db:
            self.db.execute("UPDATE sources SET scan_gen = scan_gen + 1 WHERE id=?", (source_id,))
        return self.db.execute("SELECT scan_gen FROM sources WHERE id=?", (source_id,)).fetchone()[0]

    def finish_scan(self, source_id: int, gen: int) -> int:
        """Mark what this complete scan did not see as missing; returns how many went missing."""
        with self.db:
            cur = self.db.execute(
                "UPDATE locations SET state='missing' WHERE source_id=? AND seen_gen<? AND state!='missing'",
                (source_id, gen),
            )
            self.db.execute("UPDATE sources SET last_scan_at=? WHERE id=?", (now_iso(), source_id))
        return cur.rowcount

    # -- locations --------------------------------------------------------------------------------
    def upsert_locations(self, source_id: int, gen: int, found: Iterable[Any]) -> dict[str, int]:
        """Record what discovery found (in the caller's transaction). Returns counts of new/changed.

        A location whose size or mtime differs from what was last read goes back to 'new' so the
        read stage reads it again; one that reappears unchanged after being missing is 'ok' again.
        """
        counts = {"new": 0, "changed": 0, "unchanged": 0}
        for f in found:
            meta = json_text(f.meta) if f.meta else None
            path, entry = db_path(f.path), db_path(f.entry)
            row = self.db.execute(
                "SELECT id, state, read_size, read_mtime_ns, meta, photo_id FROM locations "
                "WHERE source_id=? AND path=? AND entry=?",
                (source_id, path, entry),
            ).fetchone()
            key = getattr(f, "key", None)
            moved = None
            if row is None and key is not None:
                moved = self.db.execute("SELECT id FROM locations WHERE source_id=? AND item_key=?",
                                        (source_id, key)).fetchone()
            if moved is not None:
                # the item's bytes are now elsewhere (a larger preview turned up): the location follows
                # and is read again, so its photo is replaced rather than joined by a second one
                loc_id = moved[0]
                self.db.execute(
                    "UPDATE locations SET path=?, entry=?, size=?, mtime_ns=?, meta=?, rank=?, seen_gen=?, "
                    "state='new', read_size=NULL, read_mtime_ns=NULL WHERE id=?",
                    (path, entry, f.size, f.mtime_ns, meta, f.rank, gen, loc_id))
                self.db.execute("DELETE FROM location_albums WHERE location_id=?", (loc_id,))
                counts["moved"] = counts.get("moved", 0) + 1
            elif row is None:
                cur = self.db.execute(
                    "INSERT INTO locations(source_id, path, entry, size, mtime_ns, meta, rank, seen_gen, item_key) "
                    "VALUES (?,?,?,?,?,?,?,?,?)",
                    (source_id, path, entry, f.size, f.mtime_ns, meta, f.rank, gen, key),
                )
                loc_id = cur.lastrowid
                counts["new"] += 1
            else:
                loc_id = row["id"]
                unchanged = (row["read_size"] == f.size and row["read_mtime_ns"] == f.mtime_ns
                             and row["meta"] == meta)
                if unchanged and row["photo_id"] is not None:
                    state = "ok"  # also brings back a location that had gone missing
                elif unchanged and row["state"] == "error" and not self._transient_error(loc_id):
                    state = "error"  # the same broken bytes: don't fail on them again
                else:
                    state = "new"
                counts["unchanged" if state != "new" else ("new" if row["state"] == "new" else "changed")] += 1
                if key is not None:   # another location of the same item (a second find): it yields
                    self.db.execute("UPDATE locations SET item_key=NULL WHERE source_id=? AND item_key=? "
                                    "AND id!=?", (source_id, key, loc_id))
                self.db.execute(
                    "UPDATE locations SET size=?, mtime_ns=?, meta=?, rank=?, seen_gen=?, state=?, item_key=? "
                    "WHERE id=?",
                    (f.size, f.mtime_ns, meta, f.rank, gen, state, key, loc_id),
                )
            if f.albums:
                for key, title, description in f.albums:
                    album_id = self.ensure_album(source_id, key, title, description)
                    self.db.execute(
                        "INSERT OR IGNORE INTO location_albums(location_id, album_id) VALUES (?,?)",
                        (loc_id, album_id),
                    )
        return counts

    def _transient_error(self, location_id: int) -> bool:
        """Errors worth retrying on unchanged bytes (permissions can be fixed without touching mtime)."""
        row = self.db.execute("SELECT kind FROM errors WHERE location_id=? AND stage='read'", (location_id,)).fetchone()
        return row is None or row[0] in TRANSIENT_ERRORS

    def ensure_album(self, source_id: int, key: str, title: str | None, description: str | None) -> int:
        self.db.execute(
            "INSERT INTO albums(source_id, key, title, description) VALUES (?,?,?,?) "
            "ON CONFLICT(source_id, key) DO UPDATE SET "
            "title=coalesce(excluded.title, title), description=coalesce(excluded.description, description)",
            (source_id, readable(key), title and readable(title), description and readable(description)),
        )
        return self.db.execute("SELECT id FROM albums WHERE source_id=? AND key=?",
                               (source_id, readable(key))).fetchone()[0]

    def pending_locations(self, source_id: int, limit: int, after_id: int = 0) -> list[Location]:
        rows = self.db.execute(
            "SELECT * FROM locations WHERE source_id=? AND state='new' AND id>? ORDER BY id LIMIT ?",
            (source_id, after_id, limit),
        ).fetchall()
        return [location(r) for r in rows]

    def count_pending(self, source_id: int) -> int:
        return self.db.execute(
            "SELECT count(*) FROM locations WHERE source_id=? AND state='new'", (source_id,)
        ).fetchone()[0]

    def photo_at(self, source_id: int, path: str, entry: str) -> int | None:
        """The photo a present location of the source holds, if it has been read."""
        row = self.db.execute(
            f"SELECT photo_id FROM locations WHERE source_id=? AND path=? AND entry=? AND {LOCATION_PRESENT} "
            "AND photo_id IS NOT NULL", (source_id, db_path(path), db_path(entry))).fetchone()
        return row[0] if row else None

    def mark_missing(self, location_id: int) -> None:
        self.db.execute("UPDATE locations SET state='missing' WHERE id=?", (location_id,))

    def link_location(self, location_id: int, photo_id: int, size: int | None, mtime_ns: int | None) -> None:
        self.db.execute(
            "UPDATE locations SET photo_id=?, state='ok', read_size=?, read_mtime_ns=? WHERE id=?",
            (photo_id, size, mtime_ns, location_id),
        )
        self.db.execute("DELETE FROM errors WHERE location_id=? AND stage IN ('read','discover')", (location_id,))

    def present_locations(self, photo_id: int) -> list[Location]:
        rows = self.db.execute(
            f"SELECT * FROM locations l WHERE photo_id=? AND {LOCATION_PRESENT} ORDER BY {PRIMARY_FIRST}", (photo_id,)
        ).fetchall()
        return [location(r) for r in rows]

    def source_metas(self, photo_id: int) -> list[tuple[str, dict]]:
        """Every (source kind, location meta) recorded for the photo, primary location last."""
        rows = self.db.execute(
            "SELECT s.kind, l.meta FROM locations l JOIN sources s ON s.id=l.source_id "
            f"WHERE l.photo_id=? AND l.{LOCATION_PRESENT} AND l.meta IS NOT NULL ORDER BY {PRIMARY_LAST}",
            (photo_id,),
        ).fetchall()
        return [(r[0], json.loads(r[1])) for r in rows]
