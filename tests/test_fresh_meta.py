"""The read stage writes a new photo's metadata from what it has in hand (apply_fresh_meta) instead
of reading it back: every row and column must be what the general path (apply_source_meta, which
reads everything from the catalog) makes of the same photo, for every kind of source."""
from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from photos import write_jpeg

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
import takeout_fixtures as tf  # noqa: E402
from lrfix import lightroom  # noqa: E402

from phototrove.catalog import Catalog  # noqa: E402
from phototrove.crawler import apply_source_meta  # noqa: E402

TABLES = {
    "photos": "SELECT * FROM photos ORDER BY id",
    "photo_meta": "SELECT * FROM photo_meta ORDER BY photo_id, origin, key",
    "keywords": "SELECT pk.photo_id, k.name FROM photo_keywords pk JOIN keywords k ON k.id=pk.keyword_id "
                "ORDER BY 1, 2",
    "people": "SELECT pp.photo_id, p.name FROM photo_people pp JOIN people p ON p.id=pp.person_id ORDER BY 1, 2",
}


def snapshot(path: Path) -> dict[str, list[tuple]]:
    con = sqlite3.connect(path)
    try:
        return {name: con.execute(q).fetchall() for name, q in TABLES.items()}
    finally:
        con.close()


def resolved_the_general_way(library: Path) -> dict[str, list[tuple]]:
    """Every photo's metadata made again by apply_source_meta, on a copy of the catalog."""
    copy = library.parent / "general.db"
    src = sqlite3.connect(library / "catalog.db")
    dst = sqlite3.connect(copy)
    src.backup(dst)
    src.close()
    dst.close()
    cat = Catalog(copy)
    try:
        with cat.transaction():
            for (pid,) in cat.db.execute("SELECT id FROM photos").fetchall():
                apply_source_meta(cat, pid)
    finally:
        cat.close()
    return snapshot(copy)


def et(*args) -> None:
    subprocess.run(["exiftool", "-q", "-q", "-overwrite_original", *map(str, args)], check=True)


@pytest.mark.skipif(shutil.which("exiftool") is None, reason="exiftool (libimage-exiftool-perl) is not installed")
def test_new_photos_get_the_same_rows_as_the_general_path_from_every_source(trove, tmp_path):
    pics = tmp_path / "pics"
    tagged = write_jpeg(pics / "tagged.jpg", seed=1)
    et("-DateTimeOriginal=2019:07:14 21:00:00", "-GPSLatitude=37.7749", "-GPSLatitudeRef=N",
       "-GPSLongitude=122.4194", "-GPSLongitudeRef=W", "-Make=Google", "-Model=Pixel 3",
       "-XMP-dc:Subject=beach", "-XMP-lr:HierarchicalSubject=Places|France|Paris", "-XMP-dc:Title=Rex",
       "-XMP-xmp:Rating=4", "-XMP-iptcExt:PersonInImage=Alice", "-IPTC:Keywords=holiday", tagged)
    side = write_jpeg(pics / "IMG_20180102_030405.jpg", seed=2)   # a date in its name, keywords in a sidecar
    subprocess.run(["exiftool", "-q", "-q", "-XMP-dc:Subject=sidecar kw", "-XMP-dc:Title=from the sidecar",
                    "-XMP-iptcExt:PersonInImage=Bob", "-o", str(side) + ".xmp", str(side)], check=True)
    write_jpeg(pics / "copy" / "tagged again.jpg", seed=1)   # the same bytes: a second location
    shutil.copy(tagged, pics / "copy" / "tagged.jpg")
    write_jpeg(pics / "plain.jpg", seed=3)
    trove("ingest", "folder", pics, "--no-embed")
    trove("ingest", "takeout", *tf.sample(str(tmp_path / "takeout")), "--no-embed")
    lib = lightroom.make_library(str(tmp_path / "lr"))
    trove("ingest", "lrprev", lib.lrdata, "--no-embed")
    # a changed file: its location moves to a new photo, the old one is resolved again
    write_jpeg(pics / "plain.jpg", seed=4)
    trove("ingest", "folder", pics, "--no-embed")

    fast = snapshot(trove.library / "catalog.db")
    assert len(fast["photos"]) >= 15 and fast["keywords"] and fast["people"]
    origins = {row[1] for row in fast["photo_meta"]}
    assert {"exif", "xmp", "xmp-sidecar", "filename", "takeout", "lrcat"} <= origins
    general = resolved_the_general_way(trove.library)
    for table in TABLES:
        assert fast[table] == general[table], table
