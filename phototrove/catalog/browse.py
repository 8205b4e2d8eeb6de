"""Reading the catalog for people and scripts: photo records, counts, and the look-ups behind
search filters, galleries and reports."""
from __future__ import annotations

import json
import os
import re
import sqlite3
from typing import Any, Iterator

from .records import location_label, shown_label
from .sql import EMBEDDABLE, FLAGS, IN_LIST, LOCATION_PRESENT, PRIMARY_FIRST, db_path, id_list, present, py_path


class BrowseQueries:
    db: sqlite3.Connection

    # -- one photo --------------------------------------------------------------------------------
    def photo_record(self, photo_id: int) -> dict:
        p = dict(self.db.execute("SELECT * FROM photos WHERE id=?", (photo_id,)).fetchone())
        locs = self.db.execute(
            "SELECT l.*, s.kind AS source_kind FROM locations l JOIN sources s ON s.id=l.source_id "
            f"WHERE l.photo_id=? ORDER BY (NOT l.{LOCATION_PRESENT}), {PRIMARY_FIRST}", (photo_id,)
        ).fetchall()
        p["locations"] = [
            {"source_id": r["source_id"], "source": r["source_kind"], "path": py_path(r["path"]),
             **({"entry": py_path(r["entry"])} if r["entry"] else {}), "size": r["size"], "mtime_ns": r["mtime_ns"],
             "state": r["state"],
             "label": shown_label(r["source_kind"], py_path(r["path"]), py_path(r["entry"]),
                                  json.loads(r["meta"]) if r["meta"] and r["source_kind"] == "lrprev" else None)}
            for r in locs
        ]
        first = p["locations"][0] if p["locations"] else None
        p["path"] = location_label(first["path"], first.get("entry")) if first else None
        p["label"] = first["label"] if first else None   # the name people know it by
        p["albums"] = [r[0] for r in self.db.execute(
            "SELECT DISTINCT coalesce(a.title, a.key) FROM albums a JOIN location_albums la ON la.album_id=a.id "
            f"JOIN locations l ON l.id=la.location_id WHERE l.photo_id=? AND l.{LOCATION_PRESENT} ORDER BY 1",
            (photo_id,))]
        p["keywords"] = [r[0] for r in self.db.execute(
            "SELECT k.name FROM keywords k JOIN photo_keywords pk ON pk.keyword_id=k.id "
            "WHERE pk.photo_id=? ORDER BY 1", (photo_id,))]
        p["people"] = [r[0] for r in self.db.execute(
            "SELECT x.name FROM people x JOIN photo_people pp ON pp.person_id=x.id "
            "WHERE pp.photo_id=? ORDER BY 1", (photo_id,))]
        p["tags"] = [{"name": r[0], "score": r[1]} for r in self.db.execute(
            "SELECT t.name, pt.score FROM photo_tags pt JOIN tags t ON t.id=pt.tag_id WHERE pt.photo_id=? "
            "ORDER BY pt.score DESC, t.name", (photo_id,))]
        p["meta"] = self.meta(photo_id)
        if p.get("stack_id") is not None:
            p["stack"] = {"cover": p["stack_id"], "members": self.stack_members(p["stack_id"])}
        p["embedded"] = [r[0] for r in self.db.execute(
            "SELECT model FROM embeddings WHERE photo_id=? ORDER BY model", (photo_id,))]
        return p

    def find_photo(self, ref: str) -> int | None:
        """A photo by catalog id, content-hash prefix (>= 6 hex digits) or a path it was seen at.
        Raises LookupError when a hash prefix matches several photos."""
        if ref.isdigit() and self.db.execute("SELECT 1 FROM photos WHERE id=?", (int(ref),)).fetchone():
            return int(ref)
        if re.fullmatch(r"[0-9a-fA-F]{6,64}", ref):
            rows = self.db.execute("SELECT id FROM photos WHERE hash LIKE ? LIMIT 2", (ref.lower() + "%",)).fetchall()
            if len(rows) == 1:
                return rows[0][0]
            if len(rows) > 1:
                raise LookupError("the hash prefix matches several photos; give more digits")
        for candidate in dict.fromkeys([ref, os.path.abspath(os.path.expanduser(ref))]):
            row = self.db.execute(
                "SELECT photo_id FROM locations l WHERE (path=? OR path || '!' || entry=?) "
                f"AND photo_id IS NOT NULL ORDER BY NOT {LOCATION_PRESENT}, {PRIMARY_FIRST} LIMIT 1",
                (db_path(candidate), db_path(candidate))).fetchone()
            if row:
                return row[0]
        return None

    def iter_photo_ids(self, source_id: int | None = None) -> Iterator[int]:
        if source_id is None:
            rows = self.db.execute("SELECT id FROM photos ORDER BY id")
        else:
            rows = self.db.execute(
                "SELECT DISTINCT photo_id FROM locations WHERE source_id=? AND photo_id IS NOT NULL ORDER BY 1",
                (source_id,))
        for r in rows.fetchall():
            yield r[0]

    # -- many photos ------------------------------------------------------------------------------
    def ids_by_hash(self, hashes) -> dict[str, int]:
        return {r[1]: r[0] for r in self.db.execute(
            f"SELECT id, hash FROM photos WHERE hash {IN_LIST}", (id_list(hashes),))}

    def hashes_by_id(self, photo_ids) -> dict[int, str]:
        return {r[0]: r[1] for r in self.db.execute(
            f"SELECT id, hash FROM photos WHERE id {IN_LIST}", (id_list(photo_ids),))}

    def present_among(self, photo_ids) -> set[int]:
        return {r[0] for r in self.db.execute(
            f"SELECT DISTINCT photo_id FROM locations WHERE {LOCATION_PRESENT} AND photo_id {IN_LIST}",
            (id_list(photo_ids),))}

    def newest_present_images(self, limit: int | None, include_trashed: bool = False, covers_only: bool = True
                              ) -> list[int]:
        """Present photos, RAWs and videos (not a live photo's video), newest first (undated last);
        trashed ones only when asked for; of a stack only its cover unless `covers_only` is off."""
        return [r[0] for r in self.db.execute(
            f"SELECT p.id FROM photos p WHERE {EMBEDDABLE} AND " + ("" if include_trashed else "NOT p.trashed AND ")
            + ("(p.stack_id IS NULL OR p.stack_id = p.id) AND " if covers_only else "") + present()
            + " ORDER BY p.taken_at IS NULL, p.taken_at DESC, p.id DESC LIMIT ?", (-1 if limit is None else limit,))]

    def stack_covers_among(self, photo_ids) -> set[int]:
        """Those of the photos that are in no stack or are their stack's cover."""
        return {r[0] for r in self.db.execute(
            f"SELECT id FROM photos WHERE id {IN_LIST} AND (stack_id IS NULL OR stack_id = id)",
            (id_list(photo_ids),))}

    def gallery_hidden(self, covers_only: bool = True) -> set[int]:
        """Photos a gallery does not show as tiles of their own: the video half of a live photo, and
        (covers_only) the members of a stack that are not its cover."""
        sql = "SELECT id FROM photos WHERE media='video' AND live_of IS NOT NULL"
        if covers_only:
            sql += " UNION SELECT id FROM photos WHERE stack_id IS NOT NULL AND stack_id != id"
        return {r[0] for r in self.db.execute(sql)}

    def has_flagged(self, flag: str) -> bool:
        """Whether any photo carries the flag (trashed, archived, locked, partner)."""
        if flag not in FLAGS:
            raise ValueError(flag)
        return self.db.execute(f"SELECT 1 FROM photos WHERE {flag}=1 LIMIT 1").fetchone() is not None

    def photos_with_copies(self, include_trashed: bool = True) -> list[int]:
        """Photos present in more than one place."""
        trash = "" if include_trashed else "AND photo_id NOT IN (SELECT id FROM photos WHERE trashed) "
        return [r[0] for r in self.db.execute(
            f"SELECT photo_id FROM locations WHERE {LOCATION_PRESENT} AND photo_id IS NOT NULL {trash}"
            "GROUP BY photo_id HAVING count(*) > 1 ORDER BY photo_id")]

    # -- what filters name ------------------------------------------------------------------------
    def match_sources(self, value: str) -> list[int]:
        """Sources by id, kind or part of their root."""
        return self._match("SELECT id FROM sources WHERE CAST(id AS TEXT)=?1 OR root LIKE ?2 OR kind=?1 ORDER BY id",
                           value)

    def match_albums(self, value: str) -> list[int]:
        return self._match("SELECT id FROM albums WHERE coalesce(title, key) LIKE ?2 OR key=?1 ORDER BY id", value)

    def match_keywords(self, value: str) -> list[int]:
        return self._match("SELECT id FROM keywords WHERE name=?1 COLLATE NOCASE OR name LIKE ?2 ORDER BY id", value)

    def match_cameras(self, value: str) -> list[str]:
        return self._match("SELECT DISTINCT camera FROM photos WHERE camera=?1 OR camera LIKE ?2 ORDER BY 1", value)

    def _match(self, sql: str, value: str) -> list:
        """Case-insensitive substring (SQLite's LIKE), or the exact value."""
        return [r[0] for r in self.db.execute(sql, (value, f"%{value}%"))]

    # -- the library as a whole -------------------------------------------------------------------
    def facets(self, top: int = 500) -> dict:
        """What a browser's filter chips can offer, with how many present photos each holds."""
        q = lambda sql: [list(r) for r in self.db.execute(sql, (top,))]  # noqa: E731
        pres = f"l.{LOCATION_PRESENT}"
        return {
            "sources": q(f"SELECT s.id, s.kind, s.root, count(DISTINCT l.photo_id) FROM sources s JOIN locations l "
                         f"ON l.source_id=s.id WHERE {pres} GROUP BY s.id ORDER BY s.id LIMIT ?"),
            "albums": q("SELECT a.id, coalesce(a.title, a.key), count(DISTINCT l.photo_id) FROM albums a "
                        f"JOIN location_albums la ON la.album_id=a.id JOIN locations l ON l.id=la.location_id "
                        f"WHERE {pres} GROUP BY a.id ORDER BY 2 COLLATE NOCASE LIMIT ?"),
            "cameras": q("SELECT camera, count(*) FROM photos WHERE camera IS NOT NULL GROUP BY camera "
                         "ORDER BY 2 DESC LIMIT ?"),
            "keywords": q("SELECT k.name, count(*) FROM keywords k JOIN photo_keywords pk ON pk.keyword_id=k.id "
                          "GROUP BY k.id ORDER BY 2 DESC, 1 LIMIT ?"),
            "people": q("SELECT x.name, count(*) FROM people x JOIN photo_people pp ON pp.person_id=x.id "
                        "GROUP BY x.id ORDER BY 2 DESC, 1 LIMIT ?"),
        }

    def stats(self) -> dict:
        q = lambda sql, *a: self.db.execute(sql, a).fetchone()[0]  # noqa: E731
        out: dict[str, Any] = {
            "schema_version": q("PRAGMA user_version"),
            "photos": q("SELECT count(*) FROM photos"),
            "photos_present": q(f"SELECT count(DISTINCT photo_id) FROM locations WHERE {LOCATION_PRESENT}"),
            "locations": q("SELECT count(*) FROM locations"),
            "errors": q("SELECT count(*) FROM errors"),
            "sources": [],
            "errors_by_kind": {r[0] + "/" + r[1]: r[2] for r in self.db.execute(
                "SELECT stage, kind, count(*) FROM errors GROUP BY 1, 2 ORDER BY 3 DESC")},
            "embeddings": {r[0]: {"embedded": r[1], "indexed": r[2]} for r in self.db.execute(
                "SELECT model, count(*), sum(indexed) FROM embeddings GROUP BY model")},
        }
        for s in self.db.execute("SELECT * FROM sources ORDER BY id").fetchall():
            states = {r[0]: r[1] for r in self.db.execute(
                "SELECT state, count(*) FROM locations WHERE source_id=? GROUP BY state", (s["id"],))}
            out["sources"].append({
                "id": s["id"], "kind": s["kind"], "root": py_path(s["root"]), "last_scan_at": s["last_scan_at"],
                "locations": states,
                "photos": q(f"SELECT count(DISTINCT photo_id) FROM locations WHERE source_id=? AND {LOCATION_PRESENT}",
                            s["id"]),
                "errors": q("SELECT count(*) FROM errors WHERE source_id=?", s["id"]),
            })
        return out
