"""The catalog: SQLite (WAL), the source of truth for everything trove knows.

A photo's identity is its content hash; every place it was seen is a location. Values each origin
reported (EXIF, a Takeout sidecar, a Lightroom catalog row) are kept in `photo_meta`, and the photo's
own columns hold the resolved value (source metadata wins over EXIF: it carries the user's edits).
The schema is versioned with PRAGMA user_version and migrated one step at a time.
"""
from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

# Step-by-step migrations: MIGRATIONS[i] takes a catalog from version i to i + 1.
MIGRATIONS: list[str] = [
    # v1: sources, photos with provenance, locations, albums, keywords, people, errors
    """
    CREATE TABLE sources(
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,                 -- folder | takeout | lrprev
        root TEXT NOT NULL,                 -- what the user pointed at, absolute
        added_at TEXT NOT NULL,
        last_scan_at TEXT,
        scan_gen INTEGER NOT NULL DEFAULT 0,
        info TEXT,                          -- JSON: what the adapter wants to remember
        UNIQUE(kind, root)
    );
    CREATE TABLE photos(
        id INTEGER PRIMARY KEY,
        hash TEXT NOT NULL UNIQUE,          -- sha256 of the content: the photo's identity
        size INTEGER NOT NULL,
        media TEXT NOT NULL DEFAULT 'image',  -- image | video
        format TEXT,
        width INTEGER,
        height INTEGER,
        taken_at TEXT,                      -- ISO 8601; ends in Z when known to be UTC
        lat REAL,
        lon REAL,
        alt REAL,
        camera TEXT,
        lens TEXT,
        orientation INTEGER,                -- EXIF orientation 1..8
        title TEXT,
        description TEXT,
        rating INTEGER,
        favorite INTEGER NOT NULL DEFAULT 0,
        live_of INTEGER REFERENCES photos(id),  -- the still a live/motion video belongs to
        added_at TEXT NOT NULL
    );
    CREATE TABLE photo_meta(
        photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
        origin TEXT NOT NULL,               -- exif | takeout | lrcat | ...
        key TEXT NOT NULL,
        value TEXT NOT NULL,                -- JSON
        PRIMARY KEY(photo_id, origin, key)
    );
    CREATE TABLE locations(
        id INTEGER PRIMARY KEY,
        source_id INTEGER NOT NULL REFERENCES sources(id),
        path TEXT NOT NULL,                 -- the file; for an archive, the archive file
        entry TEXT NOT NULL DEFAULT '',     -- the member inside `path` ('' for a plain file)
        size INTEGER,
        mtime_ns INTEGER,
        meta TEXT,                          -- JSON the source knows about this item
        photo_id INTEGER REFERENCES photos(id),
        state TEXT NOT NULL DEFAULT 'new',  -- new | ok | error | missing
        read_size INTEGER,                  -- signature of the bytes last read
        read_mtime_ns INTEGER,
        rank INTEGER NOT NULL DEFAULT 100,  -- lower = preferred as the photo's primary path
        seen_gen INTEGER NOT NULL DEFAULT 0,
        UNIQUE(source_id, path, entry)
    );
    CREATE INDEX locations_photo ON locations(photo_id);
    CREATE INDEX locations_state ON locations(source_id, state);
    CREATE TABLE albums(
        id INTEGER PRIMARY KEY,
        source_id INTEGER NOT NULL REFERENCES sources(id),
        key TEXT NOT NULL,                  -- stable name within the source (folder, collection id)
        title TEXT,
        description TEXT,
        UNIQUE(source_id, key)
    );
    CREATE TABLE location_albums(
        location_id INTEGER NOT NULL REFERENCES locations(id) ON DELETE CASCADE,
        album_id INTEGER NOT NULL REFERENCES albums(id) ON DELETE CASCADE,
        PRIMARY KEY(location_id, album_id)
    );
    CREATE TABLE keywords(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
    CREATE TABLE photo_keywords(
        photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
        keyword_id INTEGER NOT NULL REFERENCES keywords(id),
        PRIMARY KEY(photo_id, keyword_id)
    );
    CREATE TABLE people(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
    CREATE TABLE photo_people(
        photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
        person_id INTEGER NOT NULL REFERENCES people(id),
        PRIMARY KEY(photo_id, person_id)
    );
    CREATE TABLE errors(
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        stage TEXT NOT NULL,                -- discover | read | embed | index
        kind TEXT NOT NULL,                 -- short class: empty, truncated, not-an-image, ...
        source_id INTEGER,
        location_id INTEGER,
        photo_id INTEGER,
        path TEXT,
        message TEXT NOT NULL
    );
    CREATE INDEX errors_location ON errors(location_id);
    CREATE INDEX errors_photo ON errors(photo_id);
    """,
    # v2: embeddings per (photo, model), with whether the vector index holds them
    """
    CREATE TABLE embeddings(
        photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
        model TEXT NOT NULL,
        dim INTEGER NOT NULL,
        dtype TEXT NOT NULL,                -- float32 | float16
        vector BLOB NOT NULL,               -- L2-normalized, little-endian
        created_at TEXT NOT NULL,
        indexed INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY(photo_id, model)
    );
    CREATE INDEX embeddings_unindexed ON embeddings(model, indexed);
    ALTER TABLE errors ADD COLUMN model TEXT;
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)

# Which origin's value wins for a photo column; anything not listed ranks after these.
ORIGIN_PRIORITY = ("lrcat", "takeout", "exif")
RESOLVED_FIELDS = (
    "taken_at", "lat", "lon", "alt", "camera", "lens", "orientation",
    "title", "description", "rating", "favorite",
)
# Read errors that may go away with the same bytes on disk; others are not retried until the file changes.
TRANSIENT_ERRORS = ("unreadable", "vanished")


class CatalogError(Exception):
    """A catalog that cannot be used (newer than this trove, corrupt, disk full)."""


def location_label(path: str, entry: str | None = "") -> str:
    """How a location is shown and reported: the file, or `archive!member` inside an archive."""
    return f"{path}!{entry}" if entry else path


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


@dataclass
class Location:
    id: int
    source_id: int
    path: str
    entry: str
    size: int | None
    mtime_ns: int | None
    meta: dict
    photo_id: int | None
    state: str


class Catalog:
    def __init__(self, path: str | Path, *, readonly: bool = False):
        self.path = Path(path)
        if readonly and not self.path.exists():
            raise CatalogError(f"{self.path}: no catalog here yet (run `trove ingest ...` first)")
        if not readonly:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            if readonly:
                self.db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)
            else:
                self.db = sqlite3.connect(self.path, timeout=30)
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA foreign_keys=ON")
            if not readonly:
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=NORMAL")
            self._migrate(readonly)
        except sqlite3.DatabaseError as e:
            raise CatalogError(f"{self.path}: {e}") from None

    # -- schema -----------------------------------------------------------------------------------
    @property
    def version(self) -> int:
        return self.db.execute("PRAGMA user_version").fetchone()[0]

    def _migrate(self, readonly: bool) -> None:
        version = self.version
        if version > SCHEMA_VERSION:
            raise CatalogError(
                f"{self.path}: catalog schema v{version} is newer than this trove understands "
                f"(v{SCHEMA_VERSION}); upgrade phototrove"
            )
        if version == SCHEMA_VERSION:
            return
        if readonly:
            raise CatalogError(f"{self.path}: catalog is at schema v{version}; run any writing "
                               f"trove command (e.g. `trove ingest`) to migrate it")
        if version > 0:  # keep the old catalog until the migration has committed
            backup = self.path.with_name(f"{self.path.name}.v{version}.bak")
            with sqlite3.connect(backup) as dst:
                self.db.backup(dst)
        for step in range(version, SCHEMA_VERSION):
            # one transaction per step: a crash mid-migration leaves the previous version intact
            self.db.executescript(f"BEGIN;\n{MIGRATIONS[step]};\nPRAGMA user_version={step + 1};\nCOMMIT;")

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "Catalog":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- sources ----------------------------------------------------------------------------------
    def ensure_source(self, kind: str, root: str, info: dict | None = None) -> int:
        with self.db:
            self.db.execute(
                "INSERT INTO sources(kind, root, added_at, info) VALUES (?,?,?,?) "
                "ON CONFLICT(kind, root) DO NOTHING",
                (kind, root, now_iso(), json.dumps(info or {})),
            )
        return self.db.execute("SELECT id FROM sources WHERE kind=? AND root=?", (kind, root)).fetchone()[0]

    def source(self, source_id: int) -> sqlite3.Row | None:
        return self.db.execute("SELECT * FROM sources WHERE id=?", (source_id,)).fetchone()

    def sources(self) -> list[sqlite3.Row]:
        return self.db.execute("SELECT * FROM sources ORDER BY id").fetchall()

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
            meta = json.dumps(f.meta, sort_keys=True, ensure_ascii=False) if f.meta else None
            row = self.db.execute(
                "SELECT id, state, read_size, read_mtime_ns, meta, photo_id FROM locations "
                "WHERE source_id=? AND path=? AND entry=?",
                (source_id, f.path, f.entry),
            ).fetchone()
            if row is None:
                cur = self.db.execute(
                    "INSERT INTO locations(source_id, path, entry, size, mtime_ns, meta, rank, seen_gen) "
                    "VALUES (?,?,?,?,?,?,?,?)",
                    (source_id, f.path, f.entry, f.size, f.mtime_ns, meta, f.rank, gen),
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
                self.db.execute(
                    "UPDATE locations SET size=?, mtime_ns=?, meta=?, rank=?, seen_gen=?, state=? WHERE id=?",
                    (f.size, f.mtime_ns, meta, f.rank, gen, state, loc_id),
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
            (source_id, key, title, description),
        )
        return self.db.execute("SELECT id FROM albums WHERE source_id=? AND key=?", (source_id, key)).fetchone()[0]

    def pending_locations(self, source_id: int, limit: int, after_id: int = 0) -> list[Location]:
        rows = self.db.execute(
            "SELECT * FROM locations WHERE source_id=? AND state='new' AND id>? ORDER BY id LIMIT ?",
            (source_id, after_id, limit),
        ).fetchall()
        return [_location(r) for r in rows]

    def count_pending(self, source_id: int) -> int:
        return self.db.execute(
            "SELECT count(*) FROM locations WHERE source_id=? AND state='new'", (source_id,)
        ).fetchone()[0]

    # -- photos -----------------------------------------------------------------------------------
    def photo_id_by_hash(self, digest: str) -> int | None:
        row = self.db.execute("SELECT id FROM photos WHERE hash=?", (digest,)).fetchone()
        return row[0] if row else None

    def add_photo(self, digest: str, size: int, media: str, fmt: str | None,
                  width: int | None, height: int | None) -> int:
        self.db.execute(
            "INSERT INTO photos(hash, size, media, format, width, height, added_at) VALUES (?,?,?,?,?,?,?) "
            "ON CONFLICT(hash) DO NOTHING",
            (digest, size, media, fmt, width, height, now_iso()),
        )
        return self.photo_id_by_hash(digest)

    def set_meta(self, photo_id: int, origin: str, values: dict) -> None:
        """Replace what `origin` says about the photo (None values are dropped)."""
        self.db.execute("DELETE FROM photo_meta WHERE photo_id=? AND origin=?", (photo_id, origin))
        self.db.executemany(
            "INSERT INTO photo_meta(photo_id, origin, key, value) VALUES (?,?,?,?)",
            [(photo_id, origin, k, json.dumps(v, ensure_ascii=False)) for k, v in sorted(values.items())
             if v is not None and v != [] and v != ""],
        )

    def meta(self, photo_id: int) -> dict[str, dict]:
        out: dict[str, dict] = {}
        for r in self.db.execute("SELECT origin, key, value FROM photo_meta WHERE photo_id=?", (photo_id,)):
            out.setdefault(r["origin"], {})[r["key"]] = json.loads(r["value"])
        return out

    def resolve(self, photo_id: int) -> None:
        """Recompute the photo's columns, keywords and people from every origin's metadata."""
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
        sets = ", ".join(f"{f}=?" for f in RESOLVED_FIELDS)
        self.db.execute(f"UPDATE photos SET {sets} WHERE id=?", [resolved[f] for f in RESOLVED_FIELDS] + [photo_id])
        for table, link, col, key in (("keywords", "photo_keywords", "keyword_id", "keywords"),
                                      ("people", "photo_people", "person_id", "people")):
            names = sorted({n for o in meta.values() for n in o.get(key, []) if isinstance(n, str) and n})
            self.db.execute(f"DELETE FROM {link} WHERE photo_id=?", (photo_id,))
            for name in names:
                self.db.execute(f"INSERT OR IGNORE INTO {table}(name) VALUES (?)", (name,))
                self.db.execute(
                    f"INSERT OR IGNORE INTO {link}(photo_id, {col}) SELECT ?, id FROM {table} WHERE name=?",
                    (photo_id, name),
                )

    def link_location(self, location_id: int, photo_id: int, size: int | None, mtime_ns: int | None) -> None:
        self.db.execute(
            "UPDATE locations SET photo_id=?, state='ok', read_size=?, read_mtime_ns=? WHERE id=?",
            (photo_id, size, mtime_ns, location_id),
        )
        self.db.execute("DELETE FROM errors WHERE location_id=? AND stage IN ('read','discover')", (location_id,))

    def present_locations(self, photo_id: int) -> list[Location]:
        rows = self.db.execute(
            "SELECT * FROM locations WHERE photo_id=? AND state='ok' ORDER BY rank, id", (photo_id,)
        ).fetchall()
        return [_location(r) for r in rows]

    def source_metas(self, photo_id: int) -> list[tuple[str, dict]]:
        """Every (source kind, location meta) recorded for the photo, primary location first."""
        rows = self.db.execute(
            "SELECT s.kind, l.meta FROM locations l JOIN sources s ON s.id=l.source_id "
            "WHERE l.photo_id=? AND l.state='ok' AND l.meta IS NOT NULL ORDER BY l.rank DESC, l.id DESC",
            (photo_id,),
        ).fetchall()
        return [(r[0], json.loads(r[1])) for r in rows]

    # -- errors -----------------------------------------------------------------------------------
    def add_error(self, stage: str, kind: str, message: str, *, source_id: int | None = None,
                  location_id: int | None = None, photo_id: int | None = None, path: str | None = None,
                  model: str | None = None) -> None:
        if location_id is not None:
            self.db.execute("DELETE FROM errors WHERE location_id=? AND stage=?", (location_id, stage))
            self.db.execute("UPDATE locations SET state='error', read_size=size, read_mtime_ns=mtime_ns "
                            "WHERE id=? AND state!='missing'", (location_id,))
        elif photo_id is not None:
            self.db.execute("DELETE FROM errors WHERE photo_id=? AND stage=? AND model IS ?", (photo_id, stage, model))
        self.db.execute(
            "INSERT INTO errors(at, stage, kind, source_id, location_id, photo_id, path, message, model) "
            "VALUES (?,?,?,?,?,?,?,?,?)",
            (now_iso(), stage, kind, source_id, location_id, photo_id, path, message, model),
        )

    def errors(self, source_id: int | None = None) -> list[sqlite3.Row]:
        q, args = "SELECT * FROM errors", ()
        if source_id is not None:
            q, args = q + " WHERE source_id=?", (source_id,)
        return self.db.execute(q + " ORDER BY id", args).fetchall()

    # -- embeddings -------------------------------------------------------------------------------
    def photos_to_embed(self, model: str, limit: int, after_id: int = 0,
                        source_id: int | None = None) -> list[int]:
        """Images with a present location, no embedding for `model` and no embed error for it."""
        extra, args = "", [model, model, after_id]
        if source_id is not None:
            extra, args = " AND l.source_id=?", args + [source_id]
        rows = self.db.execute(
            "SELECT DISTINCT p.id FROM photos p JOIN locations l ON l.photo_id=p.id AND l.state='ok' "
            "WHERE p.media='image' "
            "AND NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.photo_id=p.id AND e.model=?) "
            "AND NOT EXISTS (SELECT 1 FROM errors x WHERE x.photo_id=p.id AND x.stage='embed' AND x.model=?) "
            f"AND p.id>?{extra} ORDER BY p.id LIMIT ?",
            args + [limit],
        ).fetchall()
        return [r[0] for r in rows]

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
        import numpy as np

        row = self.db.execute("SELECT dtype, vector FROM embeddings WHERE photo_id=? AND model=?",
                              (photo_id, model)).fetchone()
        if row is None:
            return None
        return np.frombuffer(row["vector"], dtype="<f4" if row["dtype"] == "float32" else "<f2").astype("float32")

    def embedding_models(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT DISTINCT model FROM embeddings ORDER BY model")]

    # -- reading for humans and scripts -----------------------------------------------------------
    def photo_record(self, photo_id: int) -> dict:
        p = dict(self.db.execute("SELECT * FROM photos WHERE id=?", (photo_id,)).fetchone())
        locs = self.db.execute(
            "SELECT l.*, s.kind AS source_kind FROM locations l JOIN sources s ON s.id=l.source_id "
            "WHERE l.photo_id=? ORDER BY (l.state!='ok'), l.rank, l.id", (photo_id,)
        ).fetchall()
        p["locations"] = [
            {"source_id": r["source_id"], "source": r["source_kind"], "path": r["path"],
             **({"entry": r["entry"]} if r["entry"] else {}), "size": r["size"], "mtime_ns": r["mtime_ns"],
             "state": r["state"]}
            for r in locs
        ]
        first = p["locations"][0] if p["locations"] else None
        p["path"] = location_label(first["path"], first.get("entry")) if first else None
        p["albums"] = [r[0] for r in self.db.execute(
            "SELECT DISTINCT coalesce(a.title, a.key) FROM albums a JOIN location_albums la ON la.album_id=a.id "
            "JOIN locations l ON l.id=la.location_id WHERE l.photo_id=? AND l.state='ok' ORDER BY 1",
            (photo_id,))]
        p["keywords"] = [r[0] for r in self.db.execute(
            "SELECT k.name FROM keywords k JOIN photo_keywords pk ON pk.keyword_id=k.id "
            "WHERE pk.photo_id=? ORDER BY 1", (photo_id,))]
        p["people"] = [r[0] for r in self.db.execute(
            "SELECT x.name FROM people x JOIN photo_people pp ON pp.person_id=x.id "
            "WHERE pp.photo_id=? ORDER BY 1", (photo_id,))]
        p["meta"] = self.meta(photo_id)
        p["embedded"] = [r[0] for r in self.db.execute(
            "SELECT model FROM embeddings WHERE photo_id=? ORDER BY model", (photo_id,))]
        return p

    def iter_photo_ids(self, source_id: int | None = None) -> Iterator[int]:
        if source_id is None:
            rows = self.db.execute("SELECT id FROM photos ORDER BY id")
        else:
            rows = self.db.execute(
                "SELECT DISTINCT photo_id FROM locations WHERE source_id=? AND photo_id IS NOT NULL ORDER BY 1",
                (source_id,))
        for r in rows.fetchall():
            yield r[0]

    def stats(self) -> dict:
        q = lambda sql, *a: self.db.execute(sql, a).fetchone()[0]  # noqa: E731
        out: dict[str, Any] = {
            "schema_version": self.version,
            "photos": q("SELECT count(*) FROM photos"),
            "photos_present": q("SELECT count(DISTINCT photo_id) FROM locations WHERE state='ok'"),
            "locations": q("SELECT count(*) FROM locations"),
            "errors": q("SELECT count(*) FROM errors"),
            "sources": [],
            "errors_by_kind": {r[0] + "/" + r[1]: r[2] for r in self.db.execute(
                "SELECT stage, kind, count(*) FROM errors GROUP BY 1, 2 ORDER BY 3 DESC")},
            "embeddings": {r[0]: {"embedded": r[1], "indexed": r[2]} for r in self.db.execute(
                "SELECT model, count(*), sum(indexed) FROM embeddings GROUP BY model")},
        }
        for s in self.sources():
            states = {r[0]: r[1] for r in self.db.execute(
                "SELECT state, count(*) FROM locations WHERE source_id=? GROUP BY state", (s["id"],))}
            out["sources"].append({
                "id": s["id"], "kind": s["kind"], "root": s["root"], "last_scan_at": s["last_scan_at"],
                "locations": states,
                "photos": q("SELECT count(DISTINCT photo_id) FROM locations WHERE source_id=? AND state='ok'", s["id"]),
                "errors": q("SELECT count(*) FROM errors WHERE source_id=?", s["id"]),
            })
        return out


def _location(r: sqlite3.Row) -> Location:
    return Location(r["id"], r["source_id"], r["path"], r["entry"], r["size"], r["mtime_ns"],
                    json.loads(r["meta"]) if r["meta"] else {}, r["photo_id"], r["state"])

