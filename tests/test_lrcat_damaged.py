"""A catalog with a damaged page: each table is read on its own, what can be read is kept, and
the notes say which table was skipped. The damage is real: a page's b-tree header overwritten."""
import json
import sqlite3

import pytest

from lrfix import lightroom
from phototrove.ingest.lightroom.lrcat import CatalogReadError, load_catalog
from phototrove.ingest.lightroom.pairing import load_plan

IMG = {i.id: i for i in lightroom.IMAGES}
MALFORMED = "database disk image is malformed"


def name_of(img) -> str:
    root, folder = lightroom.ROOTS[1][0], lightroom.FOLDERS[img.folder][1]
    return f"{root}{folder}{img.base}.{img.ext}"


def fields(img) -> dict:
    return {"camera": img.camera, "lat": img.lat, "keywords": img.keywords, "people": img.people,
            "caption": img.caption, "title": img.title, "rating": img.rating, "collections": img.collections}


# the table damaged -> the fields it held (absent after), and fields of other tables (still there)
CASES = {
    "AgHarvestedExifMetadata": ({"camera", "lat"}, {"keywords", "caption", "title", "rating", "collections"}),
    "AgLibraryKeyword": ({"keywords", "people"}, {"camera", "lat", "caption", "title", "rating", "collections"}),
    "AgLibraryKeywordImage": ({"keywords", "people"}, {"camera", "lat", "caption", "title", "rating", "collections"}),
    "AgLibraryIPTC": ({"caption"}, {"camera", "lat", "keywords", "people", "title", "rating", "collections"}),
    "Adobe_AdditionalMetadata": ({"title"}, {"camera", "lat", "keywords", "people", "caption", "rating",
                                            "collections"}),
    "AgLibraryCollection": ({"collections"}, {"camera", "lat", "keywords", "people", "caption", "title", "rating"}),
}


@pytest.fixture
def healthy(tmp_path):
    path = str(tmp_path / "healthy.lrcat")
    lightroom.write_catalog(path)
    return {img.image_id: fields(img) for img in load_catalog(path).images}


@pytest.mark.parametrize("table", sorted(CASES))
def test_one_bad_page_costs_only_its_table(tmp_path, healthy, table):
    path = str(tmp_path / "x.lrcat")
    lightroom.write_catalog(path)
    lightroom.damage_table(path, table)
    cat = load_catalog(path)
    gone, kept = CASES[table]
    assert {img.image_id: img.path for img in cat.images} == {i.id: name_of(i) for i in lightroom.IMAGES}
    assert all(cat.by_id[i.id].digest == i.digest for i in lightroom.IMAGES)
    for img in cat.images:
        got, was = fields(img), healthy[img.image_id]
        assert all(got[f] in (None, [], ()) for f in gone), (img.image_id, got)
        assert {f: got[f] for f in kept} == {f: was[f] for f in kept}
    assert any(any(was[f] not in (None, [], ()) for f in gone) for was in healthy.values())  # it did hold some
    assert cat.damaged == [table]
    assert any(n.startswith(f"{table} unreadable ({MALFORMED}): ") and n.endswith(" skipped") for n in cat.notes)


def test_exif_note_says_what_was_lost(tmp_path):
    path = str(tmp_path / "x.lrcat")
    lightroom.write_catalog(path)
    lightroom.damage_table(path, "AgHarvestedExifMetadata")
    assert f"AgHarvestedExifMetadata unreadable ({MALFORMED}): camera, lens, exposure and GPS skipped" \
        in load_catalog(path).notes


def test_unreadable_images_table_keeps_every_file_name(tmp_path):
    lib = lightroom.make_library(str(tmp_path / "lr"))
    lightroom.damage_table(lib.catalog, "Adobe_images")
    cat = load_catalog(lib.catalog)
    files = {i.file: i for i in lightroom.IMAGES if i.master is None}
    # one photo per file (the virtual copy's row is lost with the table), known by its file: an id
    # of -file id, the preview UUID from AgLibraryFile.id_global, no digest and no image metadata
    assert sorted((img.image_id, img.uuid, img.path) for img in cat.images) == sorted(
        (-f, lightroom.uuid_of(f), name_of(i)) for f, i in files.items())
    assert all(img.digest is None and img.rating is None and img.keywords == [] for img in cat.images)
    assert "lr_image_id" not in cat.images[0].meta()
    assert any(n.startswith(f"Adobe_images unreadable ({MALFORMED})") for n in cat.notes)
    assert any(n.startswith("6 photo(s) named from AgLibraryFile alone") for n in cat.notes)
    # pairing: no digest to match, so each photo gets the newest preview left of its UUID
    plan = load_plan(lib.lrdata)
    named = {it.image.image_id: it for it in plan.items if it.image is not None}
    # image 7 has only root-pixels.db's thumbnail, found by previews.db's digest for its UUID
    assert set(named) == {-f for f in files} and plan.counts.get("images_without_preview", 0) == 0
    assert named[-107].thumbnail_only and named[-107].digest == IMG[7].digest
    assert named[-105].digest == IMG[5].digest            # the current one is the newest of image 5
    assert named[-106].digest == lightroom.digest_of(0xB6) and not named[-106].current   # only an old one left
    assert named[-105].meta()["lr_image_id"] == 5          # previews.db still knows the image id


def test_unreadable_file_table_is_a_catalog_read_error(tmp_path):
    path = str(tmp_path / "x.lrcat")
    lightroom.write_catalog(path)
    lightroom.damage_table(path, "AgLibraryFile")
    with pytest.raises(CatalogReadError, match=rf"x.lrcat: not a readable Lightroom catalog \(AgLibraryFile "
                                                rf"unreadable \({MALFORMED}\)"):
        load_catalog(path)


# -- a page in the middle of a table of several pages: the rows before it are kept ------------------------
N = 300


def many() -> list:
    return [lightroom.Img(i, 1000 + i, 10 + i % 2, f"IMG_{i:04d}", "CR2", lightroom.digest_of(i), rating=1 + i % 5,
                          keywords=[f"keyword {i}"], gps=(40 + i / 1000, 5.0), camera=f"Camera {i % 7}",
                          caption=f"caption {i}", title=f"title {i}") for i in range(1, N + 1)]


PARTIAL = {"Adobe_images": lambda img, i: img.rating == 1 + i % 5,
           "AgHarvestedExifMetadata": lambda img, i: img.camera == f"Camera {i % 7}" and img.lat == 40 + i / 1000,
           "AgLibraryKeyword": lambda img, i: img.keywords == [f"keyword {i}"],
           "AgLibraryKeywordImage": lambda img, i: img.keywords == [f"keyword {i}"],
           "AgLibraryIPTC": lambda img, i: img.caption == f"caption {i}",
           "Adobe_AdditionalMetadata": lambda img, i: img.title == f"title {i}"}


@pytest.mark.parametrize("table", sorted(PARTIAL))
def test_rows_before_the_damage_are_kept(tmp_path, table):
    path = str(tmp_path / "x.lrcat")
    images = many()
    lightroom.write_catalog(path, images=images, page_size=512)   # every table spans several pages
    lightroom.damage_table(path, table)
    cat = load_catalog(path)
    # every photo is still named, once
    assert sorted(img.path for img in cat.images) == sorted(name_of(i) for i in images)
    by_file = {img.uuid: img for img in cat.images}
    have = [PARTIAL[table](by_file[lightroom.uuid_of(i.file)], i.id) for i in images]
    assert 0 < sum(have) < N, sum(have)   # some read (and right), the damaged page's and maybe later not
    assert cat.damaged == [table]
    assert any(n.startswith(f"{table} partly unreadable ({MALFORMED}): ") and "only, skipped for the rest" in n
               for n in cat.notes), cat.notes


def test_damaged_catalog_ingests_with_a_note(trove, tmp_path):
    lib = lightroom.make_library(str(tmp_path / "lr"))
    lightroom.damage_table(lib.catalog, "AgHarvestedExifMetadata")
    r = trove("ingest", "lrprev", lib.lrdata, "--no-embed", "--json", quiet=False)
    s = json.loads(r.stdout.splitlines()[0])
    assert s["read.photos"] == 8 and s["errors"] == 0
    assert "AgHarvestedExifMetadata unreadable" in r.stderr and "Traceback" not in r.stderr
    db = sqlite3.connect(trove.library / "catalog.db")
    assert db.execute("SELECT count(*) FROM photos WHERE camera IS NOT NULL OR lat IS NOT NULL").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM photos WHERE rating=4").fetchone()[0] == 1   # Adobe_images still read
