"""Reading the catalog for people and scripts: photo records, counts, and the look-ups behind
search filters, galleries and reports."""
from __future__ import annotations

import json
import os
import re
import sqlite3
from typing import Any, Iterator

from .records import Location, location, location_label, shown_label
from .sql import EMBEDDABLE, FLAGS, IN_LIST, LOCATION_PRESENT, NAMES_OF, PRIMARY_FIRST, db_path, id_list, present, \
    py_path


class BrowseQueries:
    db: sqlite3.Connection

    # -- one photo --------------------------------------------------------------------------------
    def photo_record(self, photo_id: int) -> dict:
        rec = self.photo_records([photo_id]).get(photo_id)
        if rec is None:
            raise LookupError(f"no photo {photo_id} in the catalog")
        return rec

    def photo_records(self, photo_ids) -> dict[int, dict]:
        """photo_record of each of the photos (those in the catalog), in a few set-based queries:
        a gallery's thousands of photos cost the same handful of queries as one."""
        ids = id_list(dict.fromkeys(photo_ids))
        cur = self.db.cursor()
        cur.row_factory = None   # plain tuples: a dict per row is made here once, not through sqlite3.Row
        cur.execute(f"SELECT * FROM photos WHERE id {IN_LIST}", (ids,))
        cols = [d[0] for d in cur.description]
        rows = {rec["id"]: rec for rec in (dict(zip(cols, r)) for r in cur)}
        if not rows:
            return {}
        recs: dict[int, dict] = {pid: {"locations": [], "albums": [], "keywords": [], "people": [], "tags": [],
                                       "meta": {}, "embedded": []} for pid in rows}
        ids = id_list(recs)
        for pid, source_id, kind, path, entry, size, mtime_ns, state, meta in cur.execute(
                "SELECT l.photo_id, l.source_id, s.kind, l.path, l.entry, l.size, l.mtime_ns, l.state, l.meta "
                "FROM locations l JOIN sources s ON s.id=l.source_id "
                f"WHERE l.photo_id {IN_LIST} ORDER BY l.photo_id, (NOT l.{LOCATION_PRESENT}), {PRIMARY_FIRST}",
                (ids,)):
            path, entry = py_path(path), py_path(entry)
            recs[pid]["locations"].append(
                {"source_id": source_id, "source": kind, "path": path, **({"entry": entry} if entry else {}),
                 "size": size, "mtime_ns": mtime_ns, "state": state,
                 "label": shown_label(kind, path, entry, json.loads(meta) if meta and kind == "lrprev" else None)})
        for pid, album in self.db.execute(
                "SELECT DISTINCT l.photo_id, coalesce(a.title, a.key) FROM albums a "
                "JOIN location_albums la ON la.album_id=a.id JOIN locations l ON l.id=la.location_id "
                f"WHERE l.photo_id {IN_LIST} AND l.{LOCATION_PRESENT} ORDER BY 1, 2", (ids,)):
            recs[pid]["albums"].append(album)
        for field in ("keywords", "people"):
            for pid, name in self.db.execute(NAMES_OF[field], (ids,)):
                recs[pid][field].append(name)
        for pid, name, score in self.db.execute(
                "SELECT pt.photo_id, t.name, pt.score FROM photo_tags pt JOIN tags t ON t.id=pt.tag_id "
                f"WHERE pt.photo_id {IN_LIST} ORDER BY pt.photo_id, pt.score DESC, t.name", (ids,)):
            recs[pid]["tags"].append({"name": name, "score": score})
        for pid, origin, key, value in self.db.execute(
                f"SELECT photo_id, origin, key, value FROM photo_meta WHERE photo_id {IN_LIST} "
                "ORDER BY photo_id, origin, key", (ids,)):
            recs[pid]["meta"].setdefault(origin, {})[key] = json.loads(value)
        stacks: dict[int, list[int]] = {}
        for stack, pid in self.db.execute(
                "SELECT stack_id, id FROM photos WHERE stack_id IN (SELECT DISTINCT stack_id FROM photos "
                f"WHERE id {IN_LIST} AND stack_id IS NOT NULL) ORDER BY stack_id, id != stack_id, id", (ids,)):
            stacks.setdefault(stack, []).append(pid)
        for pid, model in self.db.execute(
                f"SELECT photo_id, model FROM embeddings WHERE photo_id {IN_LIST} ORDER BY photo_id, model", (ids,)):
            recs[pid]["embedded"].append(model)
        out = {}
        for pid, p in rows.items():   # the keys in the order photo_record always gave them
            got = recs[pid]
            first = got["locations"][0] if got["locations"] else None
            p["locations"] = got["locations"]
            p["path"] = location_label(first["path"], first.get("entry")) if first else None
            p["label"] = first["label"] if first else None   # the name people know it by
            for key in ("albums", "keywords", "people", "tags", "meta"):
                p[key] = got[key]
            if p.get("stack_id") is not None:
                p["stack"] = {"cover": p["stack_id"], "members": stacks.get(p["stack_id"], [])}
            p["embedded"] = got["embedded"]
            out[pid] = p
        return out

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

    def iter_photo_ids(self, page: int = 5000) -> Iterator[int]:
        """Every photo id in id order, a page at a time: as little memory, and as soon a first id,
        at 10 million photos as at 10 (a photo added or removed meanwhile is seen or not, each page
        reading the catalog as it is then)."""
        after = -1 << 63
        while ids := [r[0] for r in self.db.execute("SELECT id FROM photos WHERE id > ? ORDER BY id LIMIT ?",
                                                    (after, page))]:
            yield from ids
            after = ids[-1]

    # -- many photos ------------------------------------------------------------------------------
    def ids_by_hash(self, hashes) -> dict[str, int]:
        return {r[1]: r[0] for r in self.db.execute(
            f"SELECT id, hash FROM photos WHERE hash {IN_LIST}", (id_list(hashes),))}

    def hashes_by_id(self, photo_ids) -> dict[int, str]:
        return {r[0]: r[1] for r in self.db.execute(
            f"SELECT id, hash FROM photos WHERE id {IN_LIST}", (id_list(photo_ids),))}

    def present_locations_of(self, photo_ids) -> dict[int, list[Location]]:
        """present_locations of each of the photos (an empty list for one with none), in one query."""
        out: dict[int, list[Location]] = {pid: [] for pid in photo_ids}
        for r in self.db.execute(f"SELECT * FROM locations l WHERE photo_id {IN_LIST} AND {LOCATION_PRESENT} "
                                 f"ORDER BY photo_id, {PRIMARY_FIRST}", (id_list(out),)):
            out[r["photo_id"]].append(location(r))
        return out

    def dimensions_of(self, photo_ids) -> dict[int, tuple[int | None, int | None]]:
        """Photo id -> (width, height) as displayed (None where unknown), of the photos in the catalog."""
        return {r[0]: (r[1], r[2]) for r in self.db.execute(
            f"SELECT id, width, height FROM photos WHERE id {IN_LIST}", (id_list(photo_ids),))}

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
