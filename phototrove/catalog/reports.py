"""What one source holds now, counted for its report (the Takeout report today)."""
from __future__ import annotations

import sqlite3

from .sql import LOCATION_PRESENT


class ReportQueries:
    db: sqlite3.Connection

    def source_counts(self, source_id: int) -> dict:
        """Present locations and their bytes; distinct photos and their bytes; videos, RAW, live videos;
        photos flagged trashed, archived, locked, partner-shared."""
        q = self.db.execute
        locs, loc_bytes = q(f"SELECT count(*), coalesce(sum(size),0) FROM locations WHERE source_id=? "
                            f"AND {LOCATION_PRESENT}", (source_id,)).fetchone()
        held = f"(SELECT photo_id FROM locations WHERE source_id=? AND {LOCATION_PRESENT})"
        photos, photo_bytes, videos, raw, trashed, archived, locked, partner = q(
            "SELECT count(*), coalesce(sum(size),0), coalesce(sum(media='video'),0), coalesce(sum(media='raw'),0), "
            "coalesce(sum(trashed),0), coalesce(sum(archived),0), coalesce(sum(locked),0), coalesce(sum(partner),0) "
            f"FROM photos WHERE id IN {held}", (source_id,)).fetchone()
        live = q(f"SELECT count(*) FROM photos WHERE live_of IS NOT NULL AND id IN {held}", (source_id,)).fetchone()[0]
        return {"locations": locs, "location_bytes": loc_bytes, "photos": photos, "photo_bytes": photo_bytes,
                "videos": videos, "raw": raw, "live_videos": live, "trashed": trashed, "archived": archived,
                "locked": locked, "partner": partner}

    def photos_with_location_meta(self, source_id: int, key: str) -> set[int]:
        """Photos of which some present copy in the source has `key` in its location metadata."""
        return {r[0] for r in self.db.execute(
            f"SELECT DISTINCT photo_id FROM locations WHERE source_id=? AND {LOCATION_PRESENT} "
            "AND json_extract(meta, '$.' || ?) IS NOT NULL", (source_id, key))}

    def location_photos(self, source_id: int) -> dict[tuple[str, str], int]:
        """(path, entry) -> photo id of the source's present locations."""
        return {(r[0], r[1]): r[2] for r in self.db.execute(
            f"SELECT path, entry, photo_id FROM locations WHERE source_id=? AND {LOCATION_PRESENT}", (source_id,))}

    def album_counts(self, source_id: int) -> list[dict]:
        return [{"title": r[0], "photos": r[1]} for r in self.db.execute(
            "SELECT coalesce(a.title, a.key), count(DISTINCT l.photo_id) FROM albums a "
            "JOIN location_albums la ON la.album_id=a.id JOIN locations l ON l.id=la.location_id "
            f"WHERE a.source_id=? AND l.{LOCATION_PRESENT} GROUP BY a.id ORDER BY 1", (source_id,))]

    def error_counts(self, source_id: int) -> dict[str, int]:
        """'stage/kind' -> count, most frequent first."""
        return {f"{r[0]}/{r[1]}": r[2] for r in self.db.execute(
            "SELECT stage, kind, count(*) FROM errors WHERE source_id=? GROUP BY 1, 2 ORDER BY 3 DESC", (source_id,))}
