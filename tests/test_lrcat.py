"""The catalog reader: the join from preview to original, metadata, other versions, WAL and locks."""
import hashlib
import os
import shutil
import sqlite3
import tempfile

import pytest

from lrfix import lightroom
from phototrove.ingest.lightroom.images import capture_time
from phototrove.ingest.lightroom.lrcat import CatalogReadError, find_catalog, load_catalog, xmp_bytes
from phototrove.ingest.readonly_db import open_readonly, open_snapshot


@pytest.fixture
def lib(tmp_path):
    return lightroom.make_library(str(tmp_path))


def digest(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def test_join_and_metadata(lib):
    before = digest(lib.catalog)
    cat = load_catalog(lib.catalog)
    assert digest(lib.catalog) == before and not os.path.exists(lib.catalog + "-journal")
    assert cat.version == "1300025" and cat.skipped == [] and cat.damaged == []
    assert cat.notes == ["1 smart collection(s) not evaluated (their rules are not applied): Five stars"]
    assert len(cat.images) == len(lightroom.IMAGES)
    one, = [img for img in cat.by_uuid[lightroom.uuid_of(101)] if img.digest == lightroom.IMAGES[0].digest]
    assert one.path == "/Volumes/Photos/2019/Beach/IMG_0001.CR2" and one.root_name == "Photos"
    assert (one.orientation, one.rating, one.pick, one.color_label) == (6, 4, 1, "Red")
    assert (one.keywords, one.people) == (["Marseille", "beach", "dog"], ["Alice"])   # the leaves
    assert one.meta()["keyword_paths"] == ["Places|France|Marseille", "beach", "dog"]
    assert (one.camera, one.lens, one.focal_length, one.iso) == (
        "Canon EOS 5D Mark III", "EF24-105mm f/4L IS USM", 50.0, 200)
    assert one.aperture == 4.0 and one.shutter == pytest.approx(1 / 250, rel=1e-3)  # APEX Av 4, Tv 7.97
    assert (one.lat, one.lon, one.caption, one.title) == (43.2965, 5.3698, "Rex on the beach", "Summer")
    # the virtual copy: same preview UUID (root file), its own digest, copy name, master
    vc = cat.by_id[3]
    assert vc.uuid == one.uuid and vc.digest != one.digest and vc.is_virtual_copy
    assert (vc.copy_name, vc.master, vc.keywords) == ("Black & White", 1, ["bw", "dog"])
    assert len(cat.by_uuid[one.uuid]) == 2
    assert cat.by_id[4].orientation == 8 and cat.by_id[5].orientation == 2 and cat.by_id[5].pick == -1
    assert cat.by_id[4].lat is None  # hasGPS = 0
    meta = one.meta()
    assert meta["taken_local"] == "2019-07-14T16:32:10" and meta["description"] == "Rex on the beach"
    assert "utc_offset" not in meta
    assert (cat.by_id[2].meta()["taken_local"], cat.by_id[2].meta()["utc_offset"]) == ("2019-07-14T16:32:10", "+02:00")


def test_capture_time_forms():
    assert capture_time("2019-07-14T16:32:10.25") == ("2019-07-14T16:32:10", "2019-07-14T16:32:10", None)
    assert capture_time("2019-07-14T16:32") == ("2019-07-14T16:32:00", "2019-07-14T16:32:00", None)
    assert capture_time("2019-07-14T00:30:00-0130") == ("2019-07-14T02:00:00Z", "2019-07-14T00:30:00", "-01:30")
    assert capture_time("garbage") == (None, None, None) and capture_time(None) == (None, None, None)


def test_xmp_plain_and_compressed():
    assert xmp_bytes("<x:xmpmeta/>") == b"<x:xmpmeta/>"
    assert b"Summer" in xmp_bytes(lightroom.compressed_xmp("Summer"))
    assert xmp_bytes(b"\x00\x00\x00\x05garbage") is None


def test_unknown_version_reads_what_it_can(tmp_path):
    # an older/odd catalog: no keyword tables, no lens table, AgHarvestedExifMetadata without GPS columns
    schema = lightroom.CATALOG_SCHEMA
    for table in ("AgLibraryKeyword ", "AgLibraryKeywordImage ", "AgInternedExifLens "):
        start = schema.index(f"CREATE TABLE {table}")
        schema = schema[:start] + schema[schema.index(";", start) + 1:]
    schema = "\n".join(line for line in schema.splitlines()
                        if not any(f"ON {t.strip()}(" in line for t in ("AgLibraryKeyword ", "AgLibraryKeywordImage ")))
    schema = schema.replace("gpsLatitude, gpsLongitude,", "")
    path = str(tmp_path / "old.lrcat")
    db = sqlite3.connect(path)
    db.executescript(schema)
    db.execute("INSERT INTO Adobe_variablesTable VALUES (1, 'G', 'Adobe_DBVersion', NULL, '9900001')")
    db.execute("INSERT INTO AgLibraryRootFolder VALUES (1, 'R', '/p/', 'p', NULL)")
    db.execute("INSERT INTO AgLibraryFolder VALUES (1, 'F', NULL, 'a/', 1, NULL)")
    db.execute("INSERT INTO AgLibraryFile(id_local, id_global, baseName, extension, folder) "
               "VALUES (5, 'AAAAAAAA-AAAA-AAAA-AAAA-AAAAAAAAAAAA', 'x', 'jpg', 1)")
    db.execute("INSERT INTO Adobe_images(id_local, id_global, rootFile, orientation, rating) VALUES (9, 'I', 5, 'CD', 3)")
    db.execute("INSERT INTO AgHarvestedExifMetadata(image, aperture, isoSpeedRating) VALUES (9, 5.0, 100)")
    db.commit()
    db.close()
    cat = load_catalog(path)
    img = cat.images[0]
    assert (img.path, img.orientation, img.rating, img.iso, img.aperture) == ("/p/a/x.jpg", 3, 3, 100, 5.7)
    assert any("9900001" in n for n in cat.notes)
    assert {"AgLibraryKeyword (table missing)", "AgLibraryKeywordImage (table missing)",
            "AgInternedExifLens (table missing)", "AgHarvestedExifMetadata.gpsLatitude (column missing)"} <= set(cat.skipped)


def test_not_a_catalog(tmp_path):
    (tmp_path / "x.lrcat").write_bytes(b"not sqlite" * 50)
    with pytest.raises(CatalogReadError):
        load_catalog(str(tmp_path / "x.lrcat"))
    db = sqlite3.connect(tmp_path / "y.lrcat")
    db.execute("CREATE TABLE t(a)")
    db.close()
    with pytest.raises(CatalogReadError, match="not a Lightroom catalog"):
        load_catalog(str(tmp_path / "y.lrcat"))


def test_locked_catalog_is_read_without_waiting(lib):
    holder = sqlite3.connect(lib.catalog, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")   # as Lightroom holds it while open
    try:
        assert len(load_catalog(lib.catalog).images) == len(lightroom.IMAGES)
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_wal_changes_are_read_and_catalog_untouched(lib):
    writer = sqlite3.connect(lib.catalog, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")
    writer.execute("UPDATE Adobe_images SET rating=1 WHERE id_local=1")   # only in the -wal file
    assert os.path.getsize(lib.catalog + "-wal") > 0
    before = {p: digest(p) for p in (lib.catalog, lib.catalog + "-wal")}
    try:
        cat = load_catalog(lib.catalog)
        assert cat.by_id[1].rating == 1 and any("-wal" in n for n in cat.notes)
        assert {p: digest(p) for p in before} == before
    finally:
        writer.close()


def test_find_catalog_beside_lrdata(lib, tmp_path):
    assert find_catalog(lib.lrdata) == lib.catalog
    assert find_catalog(os.path.join(lib.lrdata, "0")) == lib.catalog  # from inside the cache
    other = tmp_path / "elsewhere" / "Foo Previews.lrdata"
    other.mkdir(parents=True)
    assert find_catalog(str(other)) is None


def test_wal_copy_goes_to_the_scratch_folder(lib, tmp_path):
    writer = sqlite3.connect(lib.catalog, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")
    writer.execute("UPDATE Adobe_images SET rating=2 WHERE id_local=1")
    scratch = tmp_path / "library" / "tmp"
    try:
        assert load_catalog(lib.catalog, scratch=str(scratch)).by_id[1].rating == 2
        assert scratch.is_dir() and os.listdir(scratch) == []   # made on demand, emptied after
    finally:
        writer.close()


@pytest.fixture
def system_tmp(tmp_path, monkeypatch):
    """The system temp folder, as tempfile sees it: an empty folder of the test's own."""
    folder = tmp_path / "system-tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_hot_journal_is_rolled_back_in_a_private_copy(lib, tmp_path, system_tmp):
    lightroom.crash_mid_write(lib.catalog)   # a real writer, SIGKILLed mid-transaction
    journal = lib.catalog + "-journal"
    names = sorted({f"{i.base}.{i.ext}" for i in lightroom.IMAGES})
    # immutable mode alone ignores the journal and reads the half-written pages
    db = open_readonly(lib.catalog)
    try:
        half = {r[0] for r in db.execute("SELECT baseName FROM AgLibraryFile")}
    except sqlite3.DatabaseError:
        half = None
    db.close()
    assert half is None or all(n.startswith(lightroom.HALF_WRITTEN) for n in half)
    before = {p: digest(p) for p in (lib.catalog, journal)}
    scratch = tmp_path / "library" / "tmp"
    cat = load_catalog(lib.catalog, scratch=str(scratch))
    # the last complete save: names, keyword links and XMP titles as they were before the transaction
    assert sorted({img.file_name for img in cat.images}) == names
    assert cat.by_id[1].keywords == ["Marseille", "beach", "dog"] and cat.by_id[1].title == "Summer"
    assert "the catalog has a hot -journal (Lightroom crashed mid-write): read a private copy rolled back to " \
           "the last complete save; the catalog itself was not touched" in cat.notes
    assert {p: digest(p) for p in before} == before          # catalog and journal untouched
    assert os.listdir(scratch) == [] and os.listdir(system_tmp) == []   # the copy is gone, and was not in /tmp
    # the copy SQLite rolled back is the one in the scratch folder, named as the catalog
    db, tmp = open_snapshot(lib.catalog, [], str(scratch))
    try:
        copy = db.execute("PRAGMA database_list").fetchone()[2]
        assert os.path.dirname(tmp) == str(scratch) and copy == os.path.join(tmp, os.path.basename(lib.catalog))
        assert not os.path.exists(copy + "-journal")   # rolled back: the copy's journal is spent
    finally:
        db.close()
        shutil.rmtree(tmp)
    # without a scratch folder the copy goes to the system temp folder, and is removed from it too
    assert load_catalog(lib.catalog).by_id[1].title == "Summer" and os.listdir(system_tmp) == []
    assert {p: digest(p) for p in before} == before


def test_a_committed_journal_is_not_hot(lib):
    db = sqlite3.connect(lib.catalog, isolation_level=None)
    db.execute("PRAGMA journal_mode=PERSIST")   # the journal stays after COMMIT, its header zeroed
    db.execute("UPDATE Adobe_images SET rating=5 WHERE id_local=2")
    db.close()
    journal = lib.catalog + "-journal"
    assert os.path.getsize(journal) > 0 and open(journal, "rb").read(8) == b"\0" * 8
    cat = load_catalog(lib.catalog)
    assert cat.by_id[2].rating == 5 and not any("journal" in n for n in cat.notes)


def test_no_room_for_the_private_copy_is_one_clear_error(lib, tmp_path):
    lightroom.crash_mid_write(lib.catalog)
    blocked = tmp_path / "not-a-folder"
    blocked.write_bytes(b"")
    with pytest.raises(CatalogReadError, match=r"cannot make a private copy of the catalog in .*not-a-folder"):
        load_catalog(lib.catalog, scratch=str(blocked))


def test_torn_schema_page_behind_a_hot_journal(lib):
    """The crash came mid schema change and tore the catalog's first page (the schema) as it was
    written: immutable mode cannot even list the tables, but the journal holds that page as saved,
    so --catalog accepts the catalog and its rolled-back copy reads."""
    from phototrove.ingest.lightroom.lrcat import check_catalog

    lightroom.crash_mid_write(lib.catalog, schema_change=True)
    with open(lib.catalog, "r+b") as f:
        f.seek(100)   # page 1's b-tree header, after the 100-byte database header
        f.write(b"\xa5" * 8)
    with pytest.raises(sqlite3.DatabaseError):
        open_readonly(lib.catalog).execute("SELECT name FROM sqlite_master").fetchall()
    check_catalog(lib.catalog)
    cat = load_catalog(lib.catalog)
    assert sorted({img.file_name for img in cat.images}) == sorted({f"{i.base}.{i.ext}" for i in lightroom.IMAGES})
    os.remove(lib.catalog + "-journal")   # without the journal the same file is rightly refused
    with pytest.raises(CatalogReadError, match="not a readable Lightroom catalog"):
        check_catalog(lib.catalog)
