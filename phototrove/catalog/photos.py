"""Photos: identity by content hash, what each origin says about them, and the resolved columns."""
from __future__ import annotations

import json
import sqlite3
from typing import Any

from .capture import resolve_time
from .sql import IN_LIST, LOCATION_PRESENT, PRIMARY_FIRST, db_path, flag_updates, id_list, json_text, now_iso, py_path

# Which origin's value wins for a photo column (not the capture time: capture.py has its own
# order): the sources' records and the user's XMP carry edits; anything not listed ranks after.
ORIGIN_PRIORITY = ("lrcat", "applephotos", "takeout", "xmp-sidecar", "xmp", "exif", "filename")
RESOLVED_FIELDS = (
    "lat", "lon", "alt", "camera", "lens", "orientation",
    "title", "description", "rating", "favorite",
)
_SAME_IN_JSON = (str, int, float, bool)   # values json.loads(json_text(v)) gives back as they are
TIME_FIELDS = ("taken_at", "utc_offset", "taken_utc", "date_source", "offset_source")


class PhotoQueries:
    db: sqlite3.Connection

    def photo_id_by_hash(self, digest: str) -> int | None:
        row = self.db.execute("SELECT id FROM photos WHERE hash=?", (digest,)).fetchone()
        return row[0] if row else None

    def add_photo(self, digest: str, size: int, media: str, fmt: str | None, width: int | None, height: int | None,
                  *, stored: tuple = (None, None), duration=None, codec=None, motion=False, burst=None) -> int:
        """A new photo's row, with what its bytes say of its size (as displayed and as `stored`) and
        media details (see set_dimensions, set_media_details), in one statement."""
        cur = self.db.execute(
            "INSERT INTO photos(hash, size, media, format, width, height, stored_width, stored_height, duration, "
            "codec, motion, burst, added_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(hash) DO NOTHING",
            (digest, size, media, fmt, width, height, *stored, duration, codec, 1 if motion else 0, burst, now_iso()),
        )
        return cur.lastrowid if cur.rowcount == 1 else self.photo_id_by_hash(digest)

    def set_media(self, photo_id: int, media: str, fmt: str | None) -> None:
        """What kind of media the bytes are (image, raw, video), when a source knows better."""
        self.db.execute("UPDATE photos SET media=?, format=coalesce(?, format) WHERE id=? AND media!=?",
                        (media, fmt, photo_id, media))

    def set_media_details(self, photo_id: int, *, duration=None, codec=None, motion=False, burst=None) -> None:
        self.db.execute("UPDATE photos SET duration=?, codec=?, motion=?, burst=? WHERE id=?",
                        (duration, codec, 1 if motion else 0, burst, photo_id))

    def media_of(self, photo_ids) -> dict[int, str]:
        """Photo id -> its media (image, raw, video)."""
        return {r[0]: r[1] for r in self.db.execute(
            f"SELECT id, media FROM photos WHERE id {IN_LIST}", (id_list(photo_ids),))}

    def set_dimensions(self, photo_id: int, width, height, stored_width, stored_height) -> None:
        """The size as displayed (orientation applied) and as stored."""
        self.db.execute("UPDATE photos SET width=?, height=?, stored_width=?, stored_height=? WHERE id=?",
                        (width, height, stored_width, stored_height, photo_id))

    def dimensions(self, photo_id: int) -> tuple[int | None, int | None]:
        """(width, height) as displayed; (None, None) when unknown."""
        row = self.db.execute("SELECT width, height FROM photos WHERE id=?", (photo_id,)).fetchone()
        return (row[0], row[1]) if row else (None, None)

    def set_meta(self, photo_id: int, origin: str, values: dict, *, fresh: bool = False) -> dict:
        """Replace what `origin` says about the photo (None, [] and "" are dropped); returns it as
        meta() will read it back. fresh: a photo just added, which has no metadata yet to delete."""
        if not fresh:
            self.db.execute("DELETE FROM photo_meta WHERE photo_id=? AND origin=?", (photo_id, origin))
        rows, stored = [], {}
        for k, v in sorted(values.items()):
            if v is None or v == [] or v == "":
                continue
            text = json_text(v)
            rows.append((photo_id, origin, k, text))
            stored[k] = v if v.__class__ in _SAME_IN_JSON else json.loads(text)
        self.db.executemany("INSERT INTO photo_meta(photo_id, origin, key, value) VALUES (?,?,?,?)", rows)
        return stored

    def meta(self, photo_id: int) -> dict[str, dict]:
        out: dict[str, dict] = {}
        for r in self.db.execute("SELECT origin, key, value FROM photo_meta WHERE photo_id=?", (photo_id,)):
            out.setdefault(r["origin"], {})[r["key"]] = json.loads(r["value"])
        return out

    def resolve(self, photo_id: int, meta: dict[str, dict] | None = None, *, fresh: bool = False) -> None:
        """Recompute the photo's columns, keywords and people from every origin's metadata (`meta`:
        what meta() would read, when the caller has just written it all; fresh: a photo just added,
        with no keywords or people linked yet)."""
        if meta is None:
            meta = self.meta(photo_id)
        order = sorted(meta, key=lambda o: (ORIGIN_PRIORITY.index(o) if o in ORIGIN_PRIORITY else -1, o))
        resolved: dict[str, Any] = {}
        for field in RESOLVED_FIELDS:
            for origin in order:
                if field in meta[origin]:
                    resolved[field] = meta[origin][field]
                    break
            else:
                resolved[field] = None
        resolved["favorite"] = 1 if resolved["favorite"] else 0
        resolved.update(resolve_time(meta, resolved["lat"], resolved["lon"]))
        fields = RESOLVED_FIELDS + TIME_FIELDS
        sets = ", ".join(f"{f}=?" for f in fields)   # (the flags come from the locations, not these columns)
        self.db.execute(f"UPDATE photos SET {sets}, {flag_updates()} WHERE id=?",
                        [resolved[f] for f in fields] + [photo_id])
        for table, link, col, key in (("keywords", "photo_keywords", "keyword_id", "keywords"),
                                      ("people", "photo_people", "person_id", "people")):
            names = sorted({n for o in meta.values() for n in o.get(key, []) if isinstance(n, str) and n})
            if not fresh:
                self.db.execute(f"DELETE FROM {link} WHERE photo_id=?", (photo_id,))
            for name in names:
                self.db.execute(f"INSERT OR IGNORE INTO {table}(name) VALUES (?)", (name,))
                self.db.execute(
                    f"INSERT OR IGNORE INTO {link}(photo_id, {col}) SELECT ?, id FROM {table} WHERE name=?",
                    (photo_id, name),
                )

    def link_live(self, source_id: int, pairs) -> int:
        """Link each live/motion video to its still: `pairs` of ((path, entry) of the video, (path,
        entry) of the still), both locations of the source. Returns how many were linked."""
        at = (f"SELECT photo_id FROM locations WHERE source_id=? AND path=? AND entry=? AND {LOCATION_PRESENT} "
              "AND photo_id IS NOT NULL")
        linked = 0
        for (vpath, ventry), (spath, sentry) in pairs:
            v = self.db.execute(at, (source_id, db_path(vpath), db_path(ventry))).fetchone()
            s = self.db.execute(at, (source_id, db_path(spath), db_path(sentry))).fetchone()
            if v and s and v[0] != s[0]:
                linked += self.db.execute("UPDATE photos SET live_of=? WHERE id=? AND media='video'",
                                          (s[0], v[0])).rowcount
        return linked

    def duplicate_rows(self, photo_ids) -> dict[int, dict]:
        """What a duplicates report shows of each photo, in two queries for any number of them: id,
        hash, size, width, height, taken_at, and its present locations as (path, entry), primary first."""
        ids = id_list(photo_ids)
        out = {r[0]: {"id": r[0], "hash": r[1], "size": r[2], "width": r[3], "height": r[4], "taken_at": r[5],
                      "locations": []}
               for r in self.db.execute("SELECT id, hash, size, width, height, taken_at FROM photos "
                                        f"WHERE id {IN_LIST}", (ids,))}
        for r in self.db.execute(f"SELECT l.photo_id, l.path, l.entry FROM locations l WHERE l.photo_id {IN_LIST} "
                                 f"AND l.{LOCATION_PRESENT} ORDER BY l.photo_id, {PRIMARY_FIRST}", (ids,)):
            if r[0] in out:
                out[r[0]]["locations"].append((py_path(r[1]), py_path(r[2])))
        return out
