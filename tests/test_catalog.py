import sqlite3

import pytest

from phototrove.catalog import MIGRATIONS, SCHEMA_VERSION, Catalog, CatalogError


def test_new_catalog_is_current_and_wal(tmp_path):
    with Catalog(tmp_path / "c.db") as cat:
        assert cat.version == SCHEMA_VERSION
        assert cat.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_older_catalog_migrates_step_by_step_keeping_its_rows(tmp_path):
    path = tmp_path / "c.db"
    db = sqlite3.connect(path)  # a catalog written by the first release: schema v1 only
    db.executescript(MIGRATIONS[0] + ";PRAGMA user_version=1;")
    db.execute("INSERT INTO sources(kind, root, added_at) VALUES ('folder', '/photos', 'x')")
    db.execute("INSERT INTO photos(hash, size, added_at) VALUES ('ab', 3, 'x')")
    db.execute("INSERT INTO errors(at, stage, kind, message) VALUES ('x', 'read', 'empty', 'old')")
    db.commit()
    db.close()
    with Catalog(path) as cat:
        assert cat.version == SCHEMA_VERSION
        assert cat.db.execute("SELECT hash FROM photos").fetchall()[0][0] == "ab"
        assert cat.db.execute("SELECT model FROM errors").fetchone()[0] is None  # v2 column added
        cat.db.execute("SELECT count(*) FROM embeddings").fetchone()  # v2 table exists
    assert (tmp_path / "c.db.v1.bak").exists()  # the pre-migration catalog is kept


def test_newer_catalog_is_refused(tmp_path):
    path = tmp_path / "c.db"
    Catalog(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(CatalogError, match="newer than this trove"):
        Catalog(path)


def test_readonly_catalog_does_not_migrate(tmp_path):
    path = tmp_path / "c.db"
    db = sqlite3.connect(path)
    db.executescript(MIGRATIONS[0] + ";PRAGMA user_version=1;")
    db.close()
    with pytest.raises(CatalogError, match="schema v1"):
        Catalog(path, readonly=True)


def test_source_metadata_wins_over_exif_and_keeps_both(tmp_path):
    """Descriptive fields: the source's record wins (it carries edits); the capture time: the
    camera's wall clock, with the offset found from the Takeout sidecar's UTC instant."""
    with Catalog(tmp_path / "c.db") as cat:
        with cat.db:
            pid = cat.add_photo("h1", 10, "image", "JPEG", 4, 3)
            cat.set_meta(pid, "exif", {"taken_local": "2020-01-01T10:00:00", "camera": "X100", "keywords": ["a"]})
            cat.set_meta(pid, "takeout", {"taken_utc": "2020-01-01T09:00:00Z", "people": ["Susan"],
                                          "keywords": ["b"], "favorite": True})
            cat.resolve(pid)
        rec = cat.photo_record(pid)
    assert (rec["taken_at"], rec["utc_offset"], rec["taken_utc"]) == ("2020-01-01T10:00:00", "+01:00",
                                                                      "2020-01-01T09:00:00Z")
    assert (rec["date_source"], rec["offset_source"]) == ("exif", "takeout-utc")
    assert rec["camera"] == "X100"
    assert rec["favorite"] == 1
    assert rec["keywords"] == ["a", "b"] and rec["people"] == ["Susan"]
    assert rec["meta"]["exif"]["taken_local"] == "2020-01-01T10:00:00"


def test_photo_ids_come_a_page_at_a_time_and_see_the_catalog_as_it_is(tmp_path):
    """`trove list` streams: the ids are read in pages (keyset), never all at once, so a photo added
    while the list runs is still listed and one removed before its page is not."""
    with Catalog(tmp_path / "c.db") as cat:
        with cat.transaction():
            ids = [cat.add_photo(f"{i:064x}", 1, "image", "JPEG", 1, 1) for i in range(12)]
        real, queries = cat.db, []

        class Counting:   # the catalog's own connection, each query it is sent counted
            def execute(self, sql, args=()):
                queries.append(args)
                return real.execute(sql, args)

        cat.db = Counting()
        seen = []
        for pid in cat.iter_photo_ids(page=5):
            seen.append(pid)
            if pid == ids[1]:   # while the first page is out: one photo removed ahead, one added at the end
                real.execute("DELETE FROM photos WHERE id=?", (ids[7],))
                real.execute("INSERT INTO photos(hash, size, added_at) VALUES (?, 1, '')", ("e" * 64,))
        cat.db = real
        newest = real.execute("SELECT max(id) FROM photos").fetchone()[0]
        assert seen == [i for i in ids if i != ids[7]] + [newest]
        assert [a[1] for a in queries] == [5, 5, 5, 5]   # 12 ids in pages of 5, then the empty page that ends it
