"""What `trove export` needs of many photos at once, in a few bulk queries per thousand photos
instead of a handful per photo: their columns, present locations (with their source's kind and
root) and albums to plan with; keywords, people and every origin's metadata for those written."""
from __future__ import annotations

import json
import sqlite3

from .records import location
from .sql import IN_LIST, LOCATION_PRESENT, NAMES_OF, PRIMARY_FIRST, id_list, present, py_path

CHUNK = 1000
COLUMNS = ("id", "hash", "size", "media", "format", "width", "height", "stored_width", "stored_height", "taken_at",
           "utc_offset", "taken_utc", "date_source", "lat", "lon", "alt", "camera", "lens", "orientation", "title",
           "description", "rating", "favorite", "trashed", "motion", "live_of")


class ExportQueries:
    db: sqlite3.Connection

    def export_records(self, photo_ids) -> dict[int, dict]:
        """photo id -> its columns, `locations` (the present ones, primary first), `sources` (the
        (kind, root) of each location's source, in the same order) and `albums` (titles): what
        naming and foldering need."""
        ids = list(photo_ids)
        out: dict[int, dict] = {}
        for i in range(0, len(ids), CHUNK):
            out.update(self._export_chunk(ids[i:i + CHUNK]))
        return out

    def export_details(self, records: dict[int, dict]) -> None:
        """Adds `keywords`, `people` and `meta` (origin -> values) to these export records: what goes
        into the files (only needed for the photos still to be written)."""
        ids = list(records)
        for i in range(0, len(ids), CHUNK):
            arg = (id_list(ids[i:i + CHUNK]),)
            for pid in ids[i:i + CHUNK]:
                records[pid].update(keywords=[], people=[], meta={})
            for key, sql in NAMES_OF.items():
                for pid, value in self.db.execute(sql, arg):
                    records[pid][key].append(value)
            for pid, origin, key, value in self.db.execute(
                    f"SELECT photo_id, origin, key, value FROM photo_meta WHERE photo_id {IN_LIST}", arg):
                records[pid]["meta"].setdefault(origin, {})[key] = json.loads(value)

    def _export_chunk(self, ids: list[int]) -> dict[int, dict]:
        arg = (id_list(ids),)
        recs = {r["id"]: {**dict(r), "locations": [], "sources": [], "albums": []}
                for r in self.db.execute(f"SELECT {', '.join(COLUMNS)} FROM photos WHERE id {IN_LIST}", arg)}
        for r in self.db.execute(
                "SELECT l.*, s.kind AS source_kind, s.root AS source_root FROM locations l "
                f"JOIN sources s ON s.id=l.source_id WHERE l.photo_id {IN_LIST} AND l.{LOCATION_PRESENT} "
                f"ORDER BY l.photo_id, {PRIMARY_FIRST}", arg):
            rec = recs[r["photo_id"]]
            rec["locations"].append(location(r))
            rec["sources"].append((r["source_kind"], py_path(r["source_root"])))
        for pid, title in self.db.execute(
                "SELECT DISTINCT l.photo_id, coalesce(a.title, a.key) FROM locations l "
                "JOIN location_albums la ON la.location_id=l.id JOIN albums a ON a.id=la.album_id "
                f"WHERE l.photo_id {IN_LIST} AND l.{LOCATION_PRESENT} ORDER BY 1, 2", arg):
            recs[pid]["albums"].append(title)
        return recs

    def live_videos_of(self, photo_ids) -> list[int]:
        """The videos of these live or motion photos (they go where their still goes)."""
        return [r[0] for r in self.db.execute(
            f"SELECT id FROM photos WHERE live_of {IN_LIST} ORDER BY id", (id_list(photo_ids),))]

    def count_absent(self) -> int:
        """Photos no location holds any more (every file of theirs was gone at the last scan)."""
        return self.db.execute(f"SELECT count(*) FROM photos p WHERE NOT {present()}").fetchone()[0]
