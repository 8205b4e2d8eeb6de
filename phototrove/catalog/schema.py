"""The catalog's schema: versioned with PRAGMA user_version, migrated one step at a time.

Each step runs in one transaction, so a crash mid-migration leaves the previous version intact;
a copy of the catalog (`catalog.db.vN.bak`) is kept before the first step runs.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

from .sql import flag_updates

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
    # v3: how each model was loaded, recorded when its embedding starts (a search after a crash
    # mid-embedding can load the same model again)
    """
    CREATE TABLE models(
        id TEXT PRIMARY KEY,                -- the model id embeddings are recorded under
        spec TEXT NOT NULL,                 -- how to load it: registry name, folder, repo id, module:factory
        added_at TEXT NOT NULL
    );
    """,
    # v4: capture time as lived (taken_at becomes the local wall clock; its offset and the UTC
    # instant beside it, with where each came from), displayed and stored sizes; and since the
    # metadata reader changed, every file is read once more (embeddings are kept: same bytes)
    """
    ALTER TABLE photos ADD COLUMN utc_offset TEXT;       -- '+02:00'; NULL when unknown
    ALTER TABLE photos ADD COLUMN taken_utc TEXT;        -- ISO 'Z', when the offset (or instant) is known
    ALTER TABLE photos ADD COLUMN date_source TEXT;      -- exif | xmp-sidecar | xmp | lrcat | takeout | filename | ...
    ALTER TABLE photos ADD COLUMN offset_source TEXT;    -- how utc_offset was found
    ALTER TABLE photos ADD COLUMN stored_width INTEGER;  -- the pixel grid as stored (width/height: as displayed)
    ALTER TABLE photos ADD COLUMN stored_height INTEGER;
    UPDATE locations SET read_size = NULL, read_mtime_ns = NULL;
    """,
    # v5: what the photo's source says of its state: in the trash, archived, in a locked folder,
    # shared by a partner (computed from the locations' records, see sql.FLAGS)
    f"""
    ALTER TABLE photos ADD COLUMN trashed INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE photos ADD COLUMN archived INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE photos ADD COLUMN locked INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE photos ADD COLUMN partner INTEGER NOT NULL DEFAULT 0;
    UPDATE photos SET {flag_updates(('trashed', 'archived', 'locked', 'partner'))};
    """,
    # v6: camera RAW and video read for what they are (their previews, poster frames, duration),
    # and stacks: a RAW with its JPEG, an edited copy with its original, a burst, shown once
    """
    ALTER TABLE photos ADD COLUMN duration REAL;          -- seconds, for videos
    ALTER TABLE photos ADD COLUMN codec TEXT;             -- a video's codec (h264, hevc, ...)
    ALTER TABLE photos ADD COLUMN motion INTEGER NOT NULL DEFAULT 0;  -- a still that holds a video (motion photo)
    ALTER TABLE photos ADD COLUMN stack_id INTEGER;       -- the stack's cover photo (itself for the cover)
    ALTER TABLE photos ADD COLUMN burst TEXT;             -- the camera's burst id, when it recorded one
    CREATE INDEX photos_stack ON photos(stack_id) WHERE stack_id IS NOT NULL;
    UPDATE locations SET read_size = NULL, read_mtime_ns = NULL
        WHERE photo_id IN (SELECT id FROM photos WHERE media != 'image');
    """,
    # v7: a source item's identity when its bytes can move between files (a Lightroom photo whose
    # better preview turns up elsewhere): the location follows it instead of becoming a second photo
    """
    ALTER TABLE locations ADD COLUMN item_key TEXT;
    CREATE INDEX locations_item ON locations(source_id, item_key) WHERE item_key IS NOT NULL;
    """,
    # v8: tags the model finds (zero-shot over a vocabulary: never mixed with the user's keywords),
    # and the text of each photo (names, title, caption, keywords, people, albums) in an FTS5 index
    # that triggers keep marked for refreshing whenever what it is made of changes (each mark is
    # inserted only when absent, not with OR IGNORE: an outer upsert's conflict rule would override it)
    """
    CREATE TABLE tags(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
    CREATE TABLE photo_tags(
        photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
        tag_id INTEGER NOT NULL REFERENCES tags(id),
        score REAL NOT NULL,                -- the calibrated margin by which it cleared its threshold
        PRIMARY KEY(photo_id, tag_id)
    );
    CREATE INDEX photo_tags_tag ON photo_tags(tag_id);
    CREATE TABLE photo_tagged(              -- tagged with this model and vocabulary (none may have cleared)
        photo_id INTEGER PRIMARY KEY REFERENCES photos(id) ON DELETE CASCADE,
        model TEXT NOT NULL,
        vocabulary TEXT NOT NULL            -- the vocabulary's digest
    );
    CREATE VIRTUAL TABLE photo_text USING fts5(names, title, description, keywords, people, albums,
                                               tokenize='unicode61 remove_diacritics 2');
    CREATE TABLE text_dirty(photo_id INTEGER PRIMARY KEY);
    INSERT INTO text_dirty SELECT id FROM photos;
    CREATE TRIGGER text_photo_new AFTER INSERT ON photos BEGIN
        INSERT INTO text_dirty SELECT new.id WHERE NOT EXISTS (SELECT 1 FROM text_dirty WHERE photo_id=new.id); END;
    CREATE TRIGGER text_photo_edit AFTER UPDATE OF title, description ON photos BEGIN
        INSERT INTO text_dirty SELECT new.id WHERE NOT EXISTS (SELECT 1 FROM text_dirty WHERE photo_id=new.id); END;
    CREATE TRIGGER text_photo_gone AFTER DELETE ON photos BEGIN
        INSERT INTO text_dirty SELECT old.id WHERE NOT EXISTS (SELECT 1 FROM text_dirty WHERE photo_id=old.id); END;
    CREATE TRIGGER text_location_new AFTER INSERT ON locations WHEN new.photo_id IS NOT NULL BEGIN
        INSERT INTO text_dirty SELECT new.photo_id WHERE NOT EXISTS (SELECT 1 FROM text_dirty WHERE photo_id=new.photo_id); END;
    CREATE TRIGGER text_location_edit AFTER UPDATE OF path, entry, photo_id, state, meta ON locations BEGIN
        INSERT INTO text_dirty SELECT new.photo_id WHERE new.photo_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM text_dirty WHERE photo_id=new.photo_id);
        INSERT INTO text_dirty SELECT old.photo_id WHERE old.photo_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM text_dirty WHERE photo_id=old.photo_id); END;
    CREATE TRIGGER text_location_gone AFTER DELETE ON locations WHEN old.photo_id IS NOT NULL BEGIN
        INSERT INTO text_dirty SELECT old.photo_id WHERE NOT EXISTS (SELECT 1 FROM text_dirty WHERE photo_id=old.photo_id); END;
    CREATE TRIGGER text_keyword_new AFTER INSERT ON photo_keywords BEGIN
        INSERT INTO text_dirty SELECT new.photo_id WHERE NOT EXISTS (SELECT 1 FROM text_dirty WHERE photo_id=new.photo_id); END;
    CREATE TRIGGER text_keyword_gone AFTER DELETE ON photo_keywords BEGIN
        INSERT INTO text_dirty SELECT old.photo_id WHERE NOT EXISTS (SELECT 1 FROM text_dirty WHERE photo_id=old.photo_id); END;
    CREATE TRIGGER text_person_new AFTER INSERT ON photo_people BEGIN
        INSERT INTO text_dirty SELECT new.photo_id WHERE NOT EXISTS (SELECT 1 FROM text_dirty WHERE photo_id=new.photo_id); END;
    CREATE TRIGGER text_person_gone AFTER DELETE ON photo_people BEGIN
        INSERT INTO text_dirty SELECT old.photo_id WHERE NOT EXISTS (SELECT 1 FROM text_dirty WHERE photo_id=old.photo_id); END;
    CREATE TRIGGER text_album_new AFTER INSERT ON location_albums BEGIN
        INSERT INTO text_dirty SELECT photo_id FROM locations WHERE id=new.location_id AND photo_id IS NOT NULL
            AND photo_id NOT IN (SELECT photo_id FROM text_dirty); END;
    CREATE TRIGGER text_album_gone AFTER DELETE ON location_albums BEGIN
        INSERT INTO text_dirty SELECT photo_id FROM locations WHERE id=old.location_id AND photo_id IS NOT NULL
            AND photo_id NOT IN (SELECT photo_id FROM text_dirty); END;
    CREATE TRIGGER text_album_title AFTER UPDATE OF title ON albums BEGIN
        INSERT INTO text_dirty SELECT DISTINCT l.photo_id FROM location_albums la JOIN locations l
            ON l.id=la.location_id WHERE la.album_id=new.id AND l.photo_id IS NOT NULL
            AND l.photo_id NOT IN (SELECT photo_id FROM text_dirty); END;
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)


class SchemaError(Exception):
    """The catalog's schema cannot be used by this trove (newer, or read-only and old)."""


def migrate(db: sqlite3.Connection, path: Path, *, readonly: bool) -> None:
    """Bring `db` to SCHEMA_VERSION, or refuse a catalog this trove cannot use."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise SchemaError(f"{path}: catalog schema v{version} is newer than this trove understands "
                          f"(v{SCHEMA_VERSION}); upgrade phototrove")
    if version == SCHEMA_VERSION:
        return
    if readonly:
        raise SchemaError(f"{path}: catalog is at schema v{version}; run any writing "
                          f"trove command (e.g. `trove ingest`) to migrate it")
    if version > 0:  # keep the old catalog until the migration has committed
        backup = path.with_name(f"{path.name}.v{version}.bak")
        with sqlite3.connect(backup) as dst:
            db.backup(dst)
    for step in range(version, SCHEMA_VERSION):
        db.executescript(f"BEGIN;\n{MIGRATIONS[step]};\nPRAGMA user_version={step + 1};\nCOMMIT;")
