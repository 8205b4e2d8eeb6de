import os
import sqlite3
import unicodedata

import pytest

from photos import write, write_jpeg


def photos_by_path(trove) -> dict[str, dict]:
    return {loc["path"]: rec for rec in trove.json_lines("list") for loc in rec["locations"]}


def test_ingest_reads_metadata_and_dedupes_by_content(trove, tmp_path):
    src = tmp_path / "pics"
    a = write_jpeg(src / "a.jpg", seed=1, taken="2019:07:04 12:34:56", make="Canon", model="Canon EOS 5D",
                   lens="EF50mm f/1.8", orientation=6, gps=(48.8582, 2.2945))
    b = write_jpeg(src / "trip" / "b.JPG", seed=2)
    dup = write(src / "trip" / "copy of a.jpg", a.read_bytes())
    result = trove("ingest", "folder", str(src), "--json", "--no-embed")
    summary = [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert '"read.photos": 2' in summary[0] and '"read.duplicates": 1' in summary[0]
    recs = photos_by_path(trove)
    assert recs[str(a)]["id"] == recs[str(dup)]["id"]  # same bytes: one photo, two locations
    rec = recs[str(a)]
    assert [loc["path"] for loc in rec["locations"]] == [str(a), str(dup)]  # shallowest path first
    assert rec["taken_at"] == "2019-07-04T12:34:56"
    assert rec["camera"] == "Canon EOS 5D" and rec["lens"] == "EF50mm f/1.8" and rec["orientation"] == 6
    assert rec["lat"] == pytest.approx(48.8582, abs=1e-6) and rec["lon"] == pytest.approx(2.2945, abs=1e-6)
    assert (rec["width"], rec["height"], rec["format"]) == (48, 64, "JPEG")   # displayed: orientation 6
    assert (rec["stored_width"], rec["stored_height"]) == (64, 48)
    import hashlib
    assert rec["hash"] == hashlib.sha256(a.read_bytes()).hexdigest()
    assert recs[str(b)]["taken_at"] is None
    assert len({r["id"] for r in recs.values()}) == 2


def test_formats_junk_hidden_and_symlink_loops(trove, tmp_path):
    from PIL import Image
    from photos import pixels

    src = tmp_path / "pics"
    src.mkdir()
    for fmt, ext in (("PNG", "png"), ("WEBP", "webp"), ("GIF", "gif"), ("TIFF", "tif")):
        Image.fromarray(pixels(30, 20, seed=len(ext))).save(src / f"x.{ext}", fmt)
    write_jpeg(src / ".hidden.jpg")
    write_jpeg(src / "._x.jpg", seed=9)
    write(src / ".DS_Store", b"\0\0\0\1Bud1")
    write(src / "Thumbs.db", b"junk")
    write(src / "notes.txt", b"not a photo")
    write_jpeg(src / "deep" / "d.jpg", seed=4)
    os.symlink(src, src / "deep" / "loop")  # a cycle: must be followed once at most
    os.symlink(src / "deep", src / "alias")
    trove("ingest", "folder", str(src), "--no-embed")
    recs = photos_by_path(trove)
    formats = sorted({r["format"] for r in recs.values()})
    assert formats == ["GIF", "JPEG", "PNG", "TIFF", "WEBP"]
    assert not any(os.path.basename(p).startswith(".") for p in recs)
    assert len({r["id"] for r in recs.values()}) == 5


def test_unicode_names_nfc_and_nfd(trove, tmp_path):
    src = tmp_path / "pics"
    nfc = unicodedata.normalize("NFC", "Café Zoë.jpg")
    nfd = unicodedata.normalize("NFD", "Crème brûlée.jpg")
    write_jpeg(src / nfc, seed=1)
    write_jpeg(src / unicodedata.normalize("NFD", "Été") / nfd, seed=2)
    trove("ingest", "folder", str(src), "--no-embed")
    paths = set(photos_by_path(trove))
    assert str(src / nfc) in paths
    assert str(src / unicodedata.normalize("NFD", "Été") / nfd) in paths
    listing = trove("list").stdout
    assert nfc in listing and nfd in listing


def test_rerun_changed_and_missing_files(trove, tmp_path):
    src = tmp_path / "pics"
    a, b, c = (write_jpeg(src / f"{n}.jpg", seed=i) for i, n in enumerate("abc"))
    trove("ingest", "folder", str(src), "--no-embed")
    db = sqlite3.connect(trove.library / "catalog.db")
    before = db.execute("SELECT id, photo_id, read_mtime_ns FROM locations ORDER BY id").fetchall()

    again = trove.json_lines("ingest", "folder", str(src), "--no-embed")[0]
    assert again.get("discover.unchanged") == 3 and "read.photos" not in again and "read.duplicates" not in again
    assert db.execute("SELECT id, photo_id, read_mtime_ns FROM locations ORDER BY id").fetchall() == before

    write_jpeg(a, seed=42)  # changed content: read again, new photo
    os.utime(a, ns=(1, 1))
    b.unlink()
    run = trove.json_lines("ingest", "folder", str(src), "--no-embed")[0]
    assert run["discover.changed"] == 1 and run["discover.missing"] == 1 and run["read.photos"] == 1
    states = dict(db.execute("SELECT path, state FROM locations"))
    assert states == {str(a): "ok", str(b): "missing", str(c): "ok"}
    assert db.execute("SELECT count(*) FROM photos").fetchone()[0] == 4  # nothing deleted

    write_jpeg(b, seed=1)  # the same bytes come back (new mtime): read again, same photo
    run = trove.json_lines("ingest", "folder", str(src), "--no-embed")[0]
    assert run["read.duplicates"] == 1
    assert dict(db.execute("SELECT path, state FROM locations"))[str(b)] == "ok"


def test_status_and_list_json(trove, tmp_path):
    src = tmp_path / "pics"
    write_jpeg(src / "a.jpg", seed=1)
    write(src / "broken.jpg", b"")
    trove("ingest", "folder", str(src), "--no-embed", code=1)
    st = trove.json_lines("status")[0]
    assert st["photos"] == 1 and st["errors"] == 1
    assert st["sources"][0]["locations"] == {"ok": 1, "error": 1}
    assert st["errors_by_kind"] == {"read/empty": 1}
    assert st["library_bytes"] > 0
    errors = trove.json_lines("status", "--errors")
    assert [(e["path"], e["kind"]) for e in errors] == [(str(src / "broken.jpg"), "empty")]


def test_usage_errors_exit_2(trove, tmp_path):
    assert trove("ingest", "folder", str(tmp_path / "nope"), code=2).exit_code == 2
    assert trove("ingest", "folder", str(tmp_path), "--model", "no_such_module:make", code=2)


def test_status_on_empty_library(trove):
    assert "empty" in trove("status").stdout
    assert trove.json_lines("status")[0]["photos"] == 0


def test_heic_with_pillow_heif(trove, tmp_path):
    pillow_heif = pytest.importorskip("pillow_heif", reason="HEIC support is the optional [heic] extra")
    import io

    from PIL import Image
    from photos import exif_bytes, pixels

    pillow_heif.register_heif_opener()
    buf = io.BytesIO()
    Image.fromarray(pixels(64, 48, seed=7)).save(buf, "HEIF", quality=80,
                                                  exif=exif_bytes(taken="2023:09:22 14:49:36", model="iPhone 12"))
    heic = write(tmp_path / "pics" / "IMG_5580.HEIC", buf.getvalue())
    trove("ingest", "folder", str(tmp_path / "pics"), "--no-embed")
    rec = photos_by_path(trove)[str(heic)]
    assert (rec["format"], rec["width"], rec["height"]) == ("HEIF", 64, 48)
    assert rec["taken_at"] == "2023-09-22T14:49:36" and rec["camera"] == "iPhone 12"
