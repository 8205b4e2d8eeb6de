"""Lightroom's organisation as trove albums and keywords: collections (in sets), smart collections
(named, not evaluated), the folder album of a photo directly in a root folder, the keyword tree;
and PATH given as the .lrcat instead of the previews folder."""
import json
import sqlite3

from lrfix import lightroom
from phototrove.ingest.lightroom.lrcat import load_catalog

FRANCE = (301, "France 2019", ("Trips",))
BEST = (302, "Best", ())


def test_collections_of_each_image(tmp_path):
    path = str(tmp_path / "c.lrcat")
    lightroom.write_catalog(path)
    cat = load_catalog(path)
    got = {img.image_id: img.collections for img in cat.images}
    assert got == {1: (FRANCE, BEST), 2: (FRANCE,), 3: (BEST,), 4: (BEST,), 5: (), 6: (), 7: ()}
    # image 5 is only in the Quick Collection (systemOnly): not an album
    assert cat.smart_collections == ["Five stars"]
    assert "1 smart collection(s) not evaluated (their rules are not applied): Five stars" in cat.notes


def test_nested_sets_and_many_smart_collections(tmp_path):
    path = str(tmp_path / "c.lrcat")
    lightroom.write_catalog(path)
    db = sqlite3.connect(path)
    db.execute("INSERT INTO AgLibraryCollection(id_local, creationId, name, parent) "
               "VALUES (310, 'com.adobe.ag.library.group', 'Europe', 300)")
    db.execute("INSERT INTO AgLibraryCollection(id_local, creationId, name, parent) "
               "VALUES (311, 'com.adobe.ag.library.collection', 'Paris', 310)")
    db.execute("INSERT INTO AgLibraryCollectionImage(collection, image) VALUES (311, 4)")
    db.executemany("INSERT INTO AgLibraryCollection(id_local, creationId, name, parent) "
                   "VALUES (?, 'com.adobe.ag.library.smart_collection', ?, NULL)",
                   [(400 + i, f"Smart {i:02d}") for i in range(12)])
    db.execute("INSERT INTO AgLibraryCollection(id_local, creationId, name, parent) "   # not a collection of photos
               "VALUES (500, 'com.adobe.ag.webGallery', 'My gallery', NULL)")
    db.execute("INSERT INTO AgLibraryCollectionImage(collection, image) VALUES (500, 4)")
    db.commit()
    db.close()
    cat = load_catalog(path)
    assert cat.by_id[4].collections == (BEST, (311, "Paris", ("Trips", "Europe")))
    assert len(cat.smart_collections) == 13
    note, = [n for n in cat.notes if "smart collection" in n]
    assert note.startswith("13 smart collection(s) not evaluated (their rules are not applied): Five stars, Smart 00")
    assert note.endswith("Smart 08, ...")   # ten names, then the rest elided


def test_keyword_paths_from_the_tree(tmp_path):
    path = str(tmp_path / "c.lrcat")
    lightroom.write_catalog(path)
    cat = load_catalog(path)
    one = cat.by_id[1]
    assert one.keywords == ["Marseille", "beach", "dog"]   # the leaves, as before
    assert one.meta()["keyword_paths"] == ["Places|France|Marseille", "beach", "dog"]
    assert "keyword_paths" not in cat.by_id[2].meta()       # no keyword of image 2 nests: nothing to add
    # Paris under the same France: one read of the keyword table serves every image
    db = sqlite3.connect(path)
    france, = db.execute("SELECT id_local FROM AgLibraryKeyword WHERE name='France'").fetchone()
    db.execute("INSERT INTO AgLibraryKeyword(id_local, id_global, name, parent) VALUES (900, 'K900', 'Paris', ?)",
               (france,))
    db.execute("INSERT INTO AgLibraryKeywordImage(image, tag) VALUES (2, 900)")
    db.commit()
    db.close()
    two = load_catalog(path).by_id[2]
    assert (two.keywords, two.meta()["keyword_paths"]) == (["Paris", "beach"], ["Places|France|Paris", "beach"])


def test_keyword_paths_survive_a_damaged_keyword_table_read(tmp_path):
    """With AgLibraryKeyword damaged past its first page, the links are grouped in Python: the
    paths of the keywords read before the damage are still given."""
    path = str(tmp_path / "c.lrcat")
    images = [lightroom.Img(i, 1000 + i, 10, f"IMG_{i:04d}", "CR2", lightroom.digest_of(i),
                            keywords=[f"Top {i % 3}|keyword {i}"]) for i in range(1, 201)]
    lightroom.write_catalog(path, images=images, page_size=512)
    lightroom.damage_table(path, "AgLibraryKeyword")
    cat = load_catalog(path)
    with_paths = [img for img in cat.images if img.keyword_paths]
    assert 0 < len(with_paths) < len(images)
    assert all(img.keyword_paths == [f"Top {img.image_id % 3}|keyword {img.image_id}"] for img in with_paths)


def test_albums_from_folders_roots_and_collections(trove, tmp_path):
    lib = lightroom.make_library(str(tmp_path / "lr"), images=lightroom.IMAGES + lightroom.ROOT_IMAGES)
    s = trove.json_lines("ingest", "lrprev", lib.lrdata, "--no-embed")[0]
    assert s["read.photos"] == 9 and s["errors"] == 0
    db = sqlite3.connect(trove.library / "catalog.db")
    albums = {key: (title, description) for key, title, description in db.execute(
        "SELECT key, title, description FROM albums")}
    coll = f"lrcat:{lib.catalog}#collection:"
    assert albums == {
        "/Volumes/Photos/2019/Beach/": ("Beach", None), "/Volumes/Photos/2020/Park/": ("Park", None),
        "/Volumes/Photos/": ("Photos", None),   # the root itself: IMG_0008 sits directly in it
        coll + "301": ("France 2019", "Lightroom collection in Trips"),
        coll + "302": ("Best", "Lightroom collection"),
    }
    members: dict = {}
    for title, meta in db.execute("SELECT a.title, l.meta FROM albums a JOIN location_albums la ON la.album_id=a.id "
                                  "JOIN locations l ON l.id=la.location_id"):
        members.setdefault(title, set()).add(json.loads(meta)["lr_image_id"])
    assert members == {"Beach": {1, 2, 3}, "Park": {4, 5, 6, 7}, "Photos": {8}, "France 2019": {1, 2},
                       "Best": {1, 3, 4}}
    shown = {tuple(rec["albums"]) for rec in trove.json_lines("list")}   # what `trove list` shows
    assert ("Beach", "Best", "France 2019") in shown and ("Photos",) in shown


def test_catalog_given_as_path_says_what_to_pass(trove, tmp_path):
    lib = lightroom.make_library(str(tmp_path / "lr"))
    want = f"Test Catalog.lrcat is the catalog: pass its previews folder '{lib.lrdata}' (and --catalog {lib.catalog} " \
           "if it is elsewhere)"
    r = trove("ingest", "lrprev", lib.catalog, "--no-embed", code=2)
    assert want in r.stderr and "Traceback" not in r.stderr and r.stdout == ""
    r = trove("recover", "lrprev", lib.catalog, "--out", str(tmp_path / "out"), code=2)
    assert want in r.stderr and not (tmp_path / "out").exists()
    assert not trove.library.joinpath("catalog.db").exists()   # nothing was started
