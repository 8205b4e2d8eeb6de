"""`trove ingest lrprev`: previews into the catalog with the Lightroom catalog's metadata, upright."""
import io
import json
import os
import sqlite3

import numpy as np
from PIL import Image

from lrfix import lightroom
from phototrove.ingest.lightroom.source import LrprevSource
from phototrove.media.icc import adobe_rgb_icc
from phototrove.media.jpeg import scan_data
from phototrove.media.decode import load_image, to_srgb

U = lightroom.uuid_of
IMG = {i.id: i for i in lightroom.IMAGES}


def test_ingest_with_catalog(trove, tmp_path):
    lib = lightroom.make_library(str(tmp_path / "lr"))
    s = trove.json_lines("ingest", "lrprev", lib.lrdata, "--model", "tiny_embedder:make")[0]
    assert (s["discover.new"], s["read.photos"], s["embed.photos"], s["errors"]) == (8, 8, 8, 0)
    db = sqlite3.connect(trove.library / "catalog.db")
    db.row_factory = sqlite3.Row
    rows = {json.loads(r["meta"]).get("lr_image_id"): r for r in db.execute(
        "SELECT l.path, l.entry, l.meta, p.* FROM locations l JOIN photos p ON p.id=l.photo_id")}
    one = rows[1]
    assert one["path"] == lib.preview(U(101), IMG[1].digest) and one["entry"] == "level_4"
    assert (one["taken_at"], one["camera"], one["lens"], one["rating"], one["orientation"]) == (
        "2019-07-14T16:32:10", "Canon EOS 5D Mark III", "EF24-105mm f/4L IS USM", 4, 6)
    assert (one["lat"], one["lon"], one["description"], one["title"]) == (43.2965, 5.3698, "Rex on the beach", "Summer")
    assert (one["width"], one["height"]) == (256, 384)   # as displayed: the catalog's orientation 6
    kw = {r[0] for r in db.execute("SELECT k.name FROM photo_keywords pk JOIN keywords k ON k.id=pk.keyword_id "
                                   "WHERE pk.photo_id=?", (one["id"],))}
    people = {r[0] for r in db.execute("SELECT p.name FROM photo_people pp JOIN people p ON p.id=pp.person_id "
                                       "WHERE pp.photo_id=?", (one["id"],))}
    assert (kw, people) == ({"beach", "dog", "Marseille"}, {"Alice"})   # Marseille: the leaf of Places|France|Marseille
    meta = json.loads(one["meta"])
    assert meta["original_path"] == "/Volumes/Photos/2019/Beach/IMG_0001.CR2" and meta["aperture"] == 4.0
    origins = {r[0] for r in db.execute("SELECT origin FROM photo_meta WHERE photo_id=?", (one["id"],))}
    assert "lrcat" in origins and "lrprev" not in origins  # recorded as the catalog's values
    # the virtual copy is its own photo; the stale preview of image 5 was not ingested
    assert rows[3]["id"] != one["id"] and rows[3]["entry"] == "level_4"
    stale = lib.preview(U(105), lightroom.digest_of(0xB5))
    assert db.execute("SELECT count(*) FROM locations WHERE path=?", (stale,)).fetchone()[0] == 0
    assert rows[7]["path"].endswith("root-pixels.db") and rows[7]["entry"] == f"{U(107)}-{IMG[7].digest}"
    # folder albums and the regular collections from the catalog (not the Quick Collection)
    albums = {r[0] for r in db.execute("SELECT title FROM albums")}
    assert albums == {"Beach", "Park", "France 2019", "Best"}
    again = trove.json_lines("ingest", "lrprev", lib.lrdata, "--model", "tiny_embedder:make")[0]
    assert again["discover.unchanged"] == 8 and again.get("read.photos", 0) == 0 and "embed.photos" not in again


def test_opened_bytes_are_the_level_plus_orientation(tmp_path):
    """What the crawler hashes and decodes: the level's scan data untouched, EXIF orientation in
    front, so load_image turns the preview upright like Lightroom shows it."""
    lib = lightroom.make_library(str(tmp_path / "lr"))
    src = LrprevSource(lib.lrdata)
    found = {f.meta.get("lr_image_id"): f for f in src.discover() if hasattr(f, "meta")}

    class Loc:  # the fields Source.open reads from a catalog Location
        def __init__(self, f):
            self.path, self.entry, self.meta = f.path, f.entry, f.meta

    for image_id, expect_size in ((1, (256, 384)), (2, (384, 256)), (4, (307, 384)), (5, (384, 256))):
        data = src.read_bytes(Loc(found[image_id]))
        level = lib.levels[(U(IMG[image_id].file), IMG[image_id].digest)][-1]
        assert scan_data(data) == scan_data(level)
        upright = load_image(data)
        assert upright.size == expect_size
        # the preview is Adobe RGB: decoding also converts it to sRGB (the profile travels with it)
        raw = np.asarray(to_srgb(Image.open(io.BytesIO(level)).convert("RGB"), adobe_rgb_icc()))
        if image_id == 1:   # BC: turned 90° clockwise, so the white top-left mark is now top-right
            np.testing.assert_array_equal(np.asarray(upright), np.rot90(raw, k=-1))
        if image_id == 5:   # BA: mirrored
            np.testing.assert_array_equal(np.asarray(upright), raw[:, ::-1])


def test_ingest_without_catalog_and_bad_files(trove, tmp_path):
    lib = lightroom.make_library(str(tmp_path / "lr"), catalog=False)
    d = os.path.join(lib.lrdata, "E", "EEEE")
    os.makedirs(d)
    open(os.path.join(d, f"EEEEEEEE-0000-0000-0000-000000000001-{'0' * 32}.lrprev"), "wb").close()
    cut = lib.preview(U(104), IMG[4].digest)
    data = open(cut, "rb").read()
    open(cut, "wb").write(data[:len(data) - 700])
    s = trove.json_lines("ingest", "lrprev", lib.lrdata, "--no-embed", code=1)[0]
    assert s["read.photos"] == 8 and s["errors"] == 1
    errors = trove.json_lines("status", "--errors")
    assert [(e["stage"], e["kind"]) for e in errors] == [("discover", "empty")]
    db = sqlite3.connect(trove.library / "catalog.db")
    entry, orient = db.execute("SELECT l.entry, p.orientation FROM locations l JOIN photos p ON p.id=l.photo_id "
                               "WHERE l.path=?", (cut,)).fetchone()
    assert (entry, orient) == ("level_3", 8)   # largest complete level; orientation from previews.db


def test_ingest_lr13_layout(trove, tmp_path):
    lib = lightroom.make_library(str(tmp_path / "lr"), lr13=True)
    s = trove.json_lines("ingest", "lrprev", lib.lrdata, "--no-embed")[0]
    assert s["read.photos"] == 8 and s["errors"] == 0
    db = sqlite3.connect(trove.library / "catalog.db")
    path, entry, w, h, rating = db.execute(
        "SELECT l.path, l.entry, p.width, p.height, p.rating FROM locations l JOIN photos p ON p.id=l.photo_id "
        "WHERE l.path LIKE ?", (f"%{U(101)}-{IMG[1].digest}%",)).fetchone()
    assert path.endswith("_384") and entry == "" and (w, h, rating) == (256, 384, 4)


def test_explicit_catalog_and_bad_catalog(trove, tmp_path):
    lib = lightroom.make_library(str(tmp_path / "lr"))
    moved = tmp_path / "elsewhere.lrcat"
    os.rename(lib.catalog, moved)
    s = trove.json_lines("ingest", "lrprev", lib.lrdata, "--catalog", str(moved), "--no-embed")[0]
    assert s["read.photos"] == 8
    db = sqlite3.connect(trove.library / "catalog.db")
    assert db.execute("SELECT count(*) FROM photos WHERE camera='Canon EOS 5D Mark III'").fetchone()[0] == 2
    bad = tmp_path / "bad.lrcat"
    bad.write_bytes(b"x" * 1000)
    res = trove("ingest", "lrprev", lib.lrdata, "--catalog", str(bad), code=2)
    assert "not a readable Lightroom catalog" in res.stderr


def test_ingest_says_what_an_unknown_catalog_version_skipped(trove, tmp_path):
    lib = lightroom.make_library(str(tmp_path / "lr"))
    db = sqlite3.connect(lib.catalog)
    db.execute("UPDATE Adobe_variablesTable SET value='2500001' WHERE name='Adobe_DBVersion'")
    db.execute("DROP TABLE AgLibraryIPTC")
    db.commit()
    db.close()
    r = trove("ingest", "lrprev", lib.lrdata, "--no-embed", "--json", quiet=False)
    s = json.loads(r.stdout.splitlines()[0])
    assert s["read.photos"] == 8 and s["errors"] == 0
    assert "2500001" in r.stderr and "AgLibraryIPTC (table missing)" in r.stderr  # said, as notes
    quiet = trove("ingest", "lrprev", lib.lrdata, "--no-embed")
    assert "2500001" not in quiet.stderr  # -q silences notes
    db = sqlite3.connect(trove.library / "catalog.db")
    assert db.execute("SELECT count(*) FROM photos WHERE description IS NOT NULL").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM photos WHERE rating=4 AND camera IS NOT NULL").fetchone()[0] == 1


def test_source_kind_is_registered(tmp_path):
    from phototrove.ingest import make_source

    src = make_source("lrprev", str(tmp_path), {"catalog": None})
    assert isinstance(src, LrprevSource) and src.kind == "lrprev"
