"""`trove ingest takeout` end to end: real multi-part zips/tgz, the real CLI, a real SQLite catalog."""
from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import sys
import zipfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
import takeout_fixtures as tf  # noqa: E402
import video_fixtures as vf  # noqa: E402

Y = "Photos from 2019/"


def db(trove) -> sqlite3.Connection:
    con = sqlite3.connect(trove.library / "catalog.db")
    con.row_factory = sqlite3.Row
    return con


def ingest(trove, *paths, code=0, extra=()) -> dict:
    """Run the CLI with --json; returns the run's summary (with its takeout report)."""
    lines = trove.json_lines("ingest", "takeout", *map(str, paths), "--no-embed", *extra, code=code)
    assert len(lines) == 1
    return lines[0]


def photos(trove) -> list[dict]:
    return trove.json_lines("list")


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


# -- de-duplication -------------------------------------------------------------------------------
def test_year_folder_and_two_albums_are_one_photo_three_locations_two_albums(tmp_path, trove):
    beach = tf.jpeg(1)
    parts = tf.takeout(str(tmp_path / "e"), [{
        "Holidays/metadata.json": tf.album("Holidays", "Brittany"), "Holidays/IMG_1.jpg": beach,
        "Best of/metadata.json": tf.album("Best of"), "Best of/IMG_1.jpg": beach,
        Y + "IMG_1.jpg": beach, Y + "IMG_1.jpg.json": tf.sidecar("IMG_1.jpg"),
    }])
    s = ingest(trove, *parts)
    [p] = photos(trove)
    assert p["hash"] == sha(beach) and len(p["locations"]) == 3
    assert p["albums"] == ["Best of", "Holidays"]
    assert p["locations"][0]["entry"].endswith(Y + "IMG_1.jpg")  # the year-folder copy is primary
    r = s["report"]
    assert (r["photos"], r["duplicates_collapsed"], r["bytes_saved"]) == (1, 2, 2 * len(beach))
    assert s["read.copies_not_reread"] == 2  # stored bytes compared equal: not inflated, hashed, probed
    assert {a["title"]: a["photos"] for a in r["albums"]} == {"Best of": 1, "Holidays": 1}
    album = db(trove).execute("SELECT description FROM albums WHERE title='Holidays'").fetchone()
    assert album[0] == "Brittany"


def test_same_entry_in_two_parts_is_counted_once(tmp_path, trove):
    img = tf.jpeg(2)
    parts = tf.takeout(str(tmp_path / "e"), [
        {Y + "IMG_2.jpg": img, Y + "IMG_2.jpg.json": tf.sidecar("IMG_2.jpg")},
        {Y + "IMG_2.jpg": img, Y + "IMG_3.jpg": tf.jpeg(3)},
    ])
    r = ingest(trove, *parts)["report"]
    assert r["photos"] == 2 and r["duplicates_collapsed"] == 1 and r["media_files"] == 2
    assert r["media_unmatched"] == [{"path": "Google Photos/" + Y + "IMG_3.jpg", "at": [parts[1],
                                     "Takeout/Google Photos/" + Y + "IMG_3.jpg"],
                                     "cause": "no sidecar in the given parts: archive part missing?"}]


def test_numbered_duplicates_with_different_bytes_are_three_photos(tmp_path, trove):
    parts = tf.takeout(str(tmp_path / "e"), [{
        Y + "IMG_3479.JPG": tf.jpeg(1), Y + "IMG_3479(1).JPG": tf.jpeg(2), Y + "IMG_3479(2).JPG": tf.jpeg(3),
        Y + "IMG_3479.JPG.json": tf.sidecar("IMG_3479.JPG", taken=1500000000, description="zero"),
        Y + "IMG_3479.JPG(1).json": tf.sidecar("IMG_3479.JPG", taken=1500000001, description="one"),
        Y + "IMG_3479.JPG(2).json": tf.sidecar("IMG_3479.JPG", taken=1500000002, description="two"),
    }])
    ingest(trove, *parts)
    got = {p["locations"][0]["entry"].rsplit("/", 1)[1]: (p["description"], p["meta"]["takeout"]["taken_utc"])
           for p in photos(trove)}
    assert got == {"IMG_3479.JPG": ("zero", "2017-07-14T02:40:00Z"), "IMG_3479(1).JPG": ("one", "2017-07-14T02:40:01Z"),
                   "IMG_3479(2).JPG": ("two", "2017-07-14T02:40:02Z")}


def test_same_name_and_size_with_different_bytes_stays_two_photos(tmp_path, trove):
    a = tf.jpeg(4)
    b = bytearray(a)
    b[-3] ^= 0xFF  # same size, one byte differs (inside the entropy-coded data)
    parts = tf.takeout(str(tmp_path / "e"), [{"A/metadata.json": tf.album("A"), "A/IMG.jpg": a,
                                             "B/metadata.json": tf.album("B"), "B/IMG.jpg": bytes(b)}])
    ingest(trove, *parts)
    ps = photos(trove)
    assert len(ps) == 2 and sorted(p["albums"][0] for p in ps) == ["A", "B"]


def forge_crc(data: bytes, at: int, target: int) -> bytes:
    """`data` with the 4 bytes at `at` replaced so that its CRC32 is `target` (CRC32 is affine in
    those 32 bits: solve the 32x32 system over GF(2))."""
    import zlib

    def crc(x: int) -> int:
        return zlib.crc32(data[:at] + x.to_bytes(4, "little") + data[at + 4:])

    base = crc(0)
    cols = [crc(1 << j) ^ base for j in range(32)]
    rows = [(cols[j], 1 << j) for j in range(32)]  # (image, preimage) pairs, reduced below
    basis: dict[int, tuple[int, int]] = {}
    for img, pre in rows:
        for bit in sorted(basis, reverse=True):
            if img >> bit & 1:
                img, pre = img ^ basis[bit][0], pre ^ basis[bit][1]
        if img:
            basis[img.bit_length() - 1] = (img, pre)
    want, x = target ^ base, 0
    for bit in sorted(basis, reverse=True):
        if want >> bit & 1:
            want, x = want ^ basis[bit][0], x ^ basis[bit][1]
    assert want == 0
    return data[:at] + x.to_bytes(4, "little") + data[at + 4:]


def test_equal_size_and_crc32_with_different_bytes_stays_two(tmp_path, trove):
    import zlib

    a = vf.mp4(1, faststart=True, noise=True)   # a real video: its index first, then its frames
    at = len(a) - 20000                          # inside the frame data: still a video that reads
    b = forge_crc(a[:at] + bytes([a[at] ^ 0xFF]) + a[at + 1:], at + 100, zlib.crc32(a))
    assert len(a) == len(b) and zlib.crc32(a) == zlib.crc32(b) and a != b
    parts = tf.takeout(str(tmp_path / "e"), [{"A/metadata.json": tf.album("A"), "A/clip.mp4": a,
                                             "B/metadata.json": tf.album("B"), "B/clip.mp4": b}])
    s = ingest(trove, *parts)
    assert s["report"]["videos"] == 2 and s["report"]["duplicates_collapsed"] == 0
    assert "read.copies_not_reread" not in s
    assert {p["hash"] for p in photos(trove)} == {sha(a), sha(b)}


def test_two_different_files_over_64_mib_with_equal_size_are_two_photos(tmp_path, trove):
    big = 65 << 20
    out = tmp_path / "takeout-20240101T000000Z-001.zip"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:  # streamed: no 65 MiB buffers twice
        for name, last in (("VID_1.mp4", b"\x01"), ("VID_2.mp4", b"\x02")):
            with zf.open("Takeout/Google Photos/" + Y + name, "w", force_zip64=True) as f:
                head = vf.mp4(2, faststart=True)   # a real video grown to 65 MiB by a `free` box
                f.write(head + (big - len(head)).to_bytes(4, "big") + b"free")
                chunk = bytes(1 << 20)
                left = big - len(head) - 8 - 1
                while left:
                    f.write(chunk[:min(left, len(chunk))])
                    left -= min(left, len(chunk))
                f.write(last)
    r = ingest(trove, out)["report"]
    assert r["videos"] == 2 and r["duplicates_collapsed"] == 0
    sizes = [row[0] for row in db(trove).execute("SELECT size FROM photos WHERE media='video'")]
    assert sizes == [big, big]


def test_live_photo_video_is_linked_inherits_metadata_and_is_not_embedded(tmp_path, trove):
    parts = tf.takeout(str(tmp_path / "e"), [
        {Y + "IMG_5580.JPG": tf.jpeg(5, taken=None),
         Y + "IMG_5580.JPG.json": tf.sidecar("IMG_5580.JPG", taken=1600000000)},
        {Y + "IMG_5580.MP4": vf.mp4(3, creation_time=None), Y + "VID_9.mp4": vf.mp4(4, creation_time=None),
         Y + "VID_9.mp4.json": tf.sidecar("VID_9.mp4", description="a clip")},
    ])
    s = trove.json_lines("ingest", "takeout", *parts, "--model", "tiny_embedder:make", code=0)[0]
    con = db(trove)
    still = con.execute("SELECT id, taken_at FROM photos WHERE media='image'").fetchone()
    video = con.execute("SELECT id, live_of, taken_at FROM photos WHERE live_of IS NOT NULL").fetchone()
    # the sidecar's instant, shown in UTC since no zone can be found (no EXIF clock, no GPS)
    assert video["live_of"] == still["id"] and video["taken_at"] == still["taken_at"] == "2020-09-13T12:26:40"
    other = con.execute("SELECT id, live_of, description FROM photos WHERE media='video' AND live_of IS NULL").fetchone()
    assert other["description"] == "a clip"
    # the still and the video of its own are embedded (a poster frame); the live photo's video is not
    assert sorted(r[0] for r in con.execute("SELECT photo_id FROM embeddings")) == sorted([still["id"], other["id"]])
    assert s["report"]["videos"] == 2 and s["report"]["live_videos_linked"] == 1


# -- metadata -------------------------------------------------------------------------------------
def test_sidecar_metadata_lands_in_the_catalog_beside_exif(tmp_path, trove):
    parts = tf.takeout(str(tmp_path / "e"), [{
        Y + "IMG_1.jpg": tf.jpeg(1, taken="2019:07:14 12:00:00", gps=(10.0, 20.0)),
        Y + "IMG_1.jpg.json": tf.sidecar("IMG_1.jpg", taken=1563100200, geo=(48.79, 2.48, 90.25),
                                         geo_exif=(48.7, 2.4, 80.0), description="Beach day", people=["Susan", "Bo"],
                                         favorited=True, archived=True),
        Y + "IMG_2.jpg": tf.jpeg(2, taken=None),
        Y + "IMG_2.jpg.json": tf.sidecar("IMG_2.jpg", taken="0", created=1600000000, geo=(0.0, 0.0),
                                         geo_exif=(51.5, -0.12, 11.0)),
        Y + "IMG_3.jpg": tf.jpeg(3, taken=None),
        Y + "IMG_3.jpg.json": tf.sidecar("IMG_3.jpg", taken="", created=None, geo=(0.0, 0.0), geo_exif=(0.0, 0.0)),
    }])
    ingest(trove, *parts)
    by = {p["locations"][0]["entry"].rsplit("/", 1)[1]: p for p in photos(trove)}
    p1 = by["IMG_1.jpg"]
    assert (p1["lat"], p1["lon"], p1["alt"]) == (48.79, 2.48, 90.25)   # the sidecar's (edited) place
    # the camera's wall clock; its offset from the sidecar's UTC instant of the same photo
    assert (p1["taken_at"], p1["utc_offset"], p1["taken_utc"], p1["date_source"], p1["offset_source"]) == (
        "2019-07-14T12:00:00", "+01:30", "2019-07-14T10:30:00Z", "exif", "takeout-utc")
    assert p1["description"] == "Beach day" and p1["people"] == ["Bo", "Susan"] and p1["favorite"] == 1
    tk = p1["meta"]["takeout"]
    assert tk["geo_exif"] == {"lat": 48.7, "lon": 2.4, "alt": 80.0} and tk["archived"] is True
    assert tk["title"] == "IMG_1.jpg" and tk["sidecar"].endswith("IMG_1.jpg.json")
    assert p1["meta"]["exif"]["taken_local"] == "2019-07-14T12:00:00" and p1["meta"]["exif"]["lat"] == 10.0  # kept too
    p2 = by["IMG_2.jpg"]
    # photoTakenTime "0": the upload time, last resort and said as such, local to where the camera was
    assert (p2["taken_at"], p2["utc_offset"], p2["date_source"], p2["offset_source"]) == (
        "2020-09-13T13:26:40", "+01:00", "takeout-upload", "gps-timezone")
    assert (p2["lat"], p2["lon"]) == (51.5, -0.12)   # geoData (0,0) is no location: the camera's
    p3 = by["IMG_3.jpg"]
    assert p3["taken_at"] is None and p3["lat"] is None and "lat" not in p3["meta"]["takeout"]


def test_sidecar_with_wrong_types_keeps_what_is_valid(tmp_path, trove):
    bad = {"title": 42, "photoTakenTime": {"timestamp": "soon"}, "creationTime": {"timestamp": 1600000000},
           "geoData": {"latitude": "north", "longitude": None}, "people": [{"name": 7}, "x", {"name": "Eve"}],
           "favorited": "yes", "description": ["not", "text"], "trashed": True}
    parts = tf.takeout(str(tmp_path / "e"), [{Y + "IMG_1.jpg": tf.jpeg(1, taken=None), Y + "IMG_1.jpg.json": bad}])
    ingest(trove, *parts)
    [p] = photos(trove)
    assert (p["taken_at"], p["date_source"]) == ("2020-09-13T12:26:40", "takeout-upload") and p["people"] == ["Eve"]
    assert p["meta"]["takeout"].get("trashed") is True and p["favorite"] == 0 and p["description"] is None


# -- inputs ---------------------------------------------------------------------------------------
def test_folder_of_parts_tgz_and_mixed_inputs(tmp_path, trove):
    a, b = tf.jpeg(1), tf.jpeg(2)
    tf.takeout(str(tmp_path / "dl"), [{Y + "A.jpg": a, Y + "B.jpg.json": tf.sidecar("B.jpg", description="bee")}])
    tgz = tf.takeout(str(tmp_path / "dl2"), [{Y + "B.jpg": b, Y + "A.jpg.json": tf.sidecar("A.jpg", description="ay")}],
                     fmt="tgz", stamp="20240712T112341Z-2")
    r = ingest(trove, tmp_path / "dl", tgz[0])["report"]
    assert r["photos"] == 2 and r["sidecars_matched"] == 2 and len(r["parts"]) == 2
    assert sorted(p["description"] for p in photos(trove)) == ["ay", "bee"]


def test_extracted_takeout_folder(tmp_path, trove):
    root = tf.write_folder(str(tmp_path / "x"), [
        ("Takeout/Google Photos/" + Y + "A.jpg", tf.jpeg(1)),
        ("Takeout/Google Photos/" + Y + "A.jpg.supplemental-metadata.json", tf.sidecar("A.jpg", description="ay")),
        ("Takeout/Google Photos/Trip/metadata.json", tf.album("Trip")),
        ("Takeout/Google Photos/Trip/A.jpg", tf.jpeg(1)),
    ])
    before = {p: os.stat(p).st_mtime_ns for p in Path(root).rglob("*")}
    r = ingest(trove, Path(root) / "Takeout")["report"]
    [p] = photos(trove)
    assert p["description"] == "ay" and p["albums"] == ["Trip"] and r["duplicates_collapsed"] == 1
    assert p["path"].endswith(Y + "A.jpg")
    assert {p: os.stat(p).st_mtime_ns for p in Path(root).rglob("*")} == before  # nothing written there


def test_rerun_reads_nothing_again_and_adding_the_missing_part_completes_matching(tmp_path, trove):
    parts = tf.takeout(str(tmp_path / "e"), [
        {Y + "A.jpg": tf.jpeg(1)},
        {Y + "A.jpg.json": tf.sidecar("A.jpg", description="found later")},
    ])
    r1 = ingest(trove, parts[0])
    assert r1["report"]["parts_missing"] == [] and len(r1["report"]["media_unmatched"]) == 1
    r2 = ingest(trove, parts[0])
    assert r2.get("read.photos", 0) == 0 and r2.get("discover.unchanged") == 1
    r3 = ingest(trove, parts[1])  # the same export folder: part 1 is remembered
    assert r3["report"]["media_unmatched"] == [] and photos(trove)[0]["description"] == "found later"


def test_missing_middle_part_is_named_in_the_report(tmp_path, trove):
    parts = tf.takeout(str(tmp_path / "e"), [{Y + "A.jpg": tf.jpeg(1)}, {Y + "A.jpg.json": tf.sidecar("A.jpg")},
                                             {Y + "B.jpg.json": tf.sidecar("B.jpg")}])
    r = ingest(trove, parts[0], parts[2])["report"]
    assert r["parts_missing"] == [2]
    assert r["media_unmatched"][0]["cause"] == "no sidecar: archive part missing? (parts 2 not given)"
    assert r["sidecars_unused"][0]["path"].endswith("B.jpg.json")
    text = trove("ingest", "takeout", parts[0], parts[2], "--no-embed").stdout
    assert "parts 2 missing" in text and "no sidecar: Google Photos/Photos from 2019/A.jpg" in text


# -- report, dry run, status ----------------------------------------------------------------------
def test_dry_run_reports_without_touching_the_library(tmp_path, trove):
    parts = tf.sample(str(tmp_path / "e"))
    out = trove("ingest", "takeout", *parts, "--dry-run").stdout
    assert "duplicates collapsed: 2 copies" in out and "sidecars: 6 of 6 matched" in out
    assert not (trove.library / "catalog.db").exists()


def test_status_source_shows_the_takeout_report(tmp_path, trove):
    parts = tf.sample(str(tmp_path / "e"))
    ingest(trove, *parts)
    [st] = trove.json_lines("status", "--source", "1")
    r = st["report"]
    assert (r["photos"], r["duplicates_collapsed"], r["sidecars_matched"], r["sidecars"]) == (5, 2, 6, 6)
    assert [a["title"] for a in r["albums"]] == ["Best of", "Holidays"]
    text = trove("status", "--source", "1").stdout
    assert "albums: 2: Best of (1), Holidays (1)" in text and "errors: none" in text


# -- bad input ------------------------------------------------------------------------------------
@pytest.mark.parametrize("media_stored", [True, False])
def test_truncated_part_salvages_complete_members_and_the_rest_ingests(tmp_path, trove, media_stored):
    parts = tf.takeout(str(tmp_path / "e"), [
        {Y + "A0.jpg.json": tf.sidecar("A0.jpg", description="deflated sidecar, salvaged"),
         **{Y + f"A{i}.jpg": tf.jpeg(i) for i in range(5)}},
        {Y + "B.jpg": tf.jpeg(9)},
    ], media_stored=media_stored)
    data = Path(parts[0]).read_bytes()
    Path(parts[0]).write_bytes(data[: int(len(data) * 0.7)])  # a download cut short
    s = ingest(trove, *parts, code=1)
    assert 2 <= s["report"]["photos"] < 6 and any(p["path"] == parts[1] + "!Takeout/Google Photos/" + Y + "B.jpg" for p in photos(trove))
    assert "deflated sidecar, salvaged" in [p["description"] for p in photos(trove)]
    errors = trove.json_lines("status", "--errors")
    assert any(e["kind"] == "truncated" and e["path"] == parts[0] for e in errors)


def test_corrupt_member_is_an_error_row_and_the_rest_ingests(tmp_path, trove):
    good, victim = tf.jpeg(1), tf.jpeg(2)
    [part] = tf.takeout(str(tmp_path / "e"), [{Y + "good.jpg": good, Y + "bad.jpg": victim}])
    raw = bytearray(Path(part).read_bytes())
    i = raw.find(victim[-300:-200])
    assert i > 0 and raw.find(victim[-300:-200], i + 1) < 0
    raw[i] ^= 0xFF  # flip a byte of stored data: the CRC no longer matches
    Path(part).write_bytes(bytes(raw))
    ingest(trove, part, code=1)
    assert [p["hash"] for p in photos(trove)] == [sha(good)]
    [e] = trove.json_lines("status", "--errors")
    assert e["path"].endswith("!Takeout/Google Photos/" + Y + "bad.jpg") and "CRC" in e["message"]


def test_hostile_names_never_escape_and_zip_bomb_is_refused(tmp_path, trove):
    bomb = tmp_path / "takeout-20240101T000000Z-001.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("Takeout/Google Photos/" + Y + "ok.jpg", tf.jpeg(1))
        zf.writestr("Takeout/Google Photos/../../../etc/evil.jpg", tf.jpeg(2))
        zf.writestr("/abs/Takeout/Google Photos/Album/metadata.json", json.dumps(tf.album("A")))
        zf.writestr("/abs/Takeout/Google Photos/Album/x.jpg", tf.jpeg(3))
        with zf.open("Takeout/Google Photos/" + Y + "bomb.jpg", "w", force_zip64=True) as f:
            zeros = bytes(1 << 20)
            for _ in range(200):  # 200 MiB of zeros -> ~200 KiB compressed
                f.write(zeros)
    ingest(trove, bomb, code=1)
    con = db(trove)
    assert con.execute("SELECT count(*) FROM photos").fetchone()[0] == 3
    keys = [r[0] for r in con.execute("SELECT key FROM albums")]
    assert keys and all(".." not in k and not k.startswith("/") for k in keys)
    [e] = trove.json_lines("status", "--errors")
    assert e["path"].endswith("bomb.jpg") and "refusing" in e["message"]


def test_malformed_json_empty_archive_and_non_takeout_zip(tmp_path, trove):
    [part] = tf.takeout(str(tmp_path / "e"), [{Y + "A.jpg": tf.jpeg(1), Y + "A.jpg.json": "{not json"}])
    empty = tf.write_zip(str(tmp_path / "empty.zip"), [])
    garbage = tmp_path / "takeout-20240712T112341Z-009.zip"
    garbage.write_text("<html>Sign in to continue</html>")  # what a failed download saves
    other = tf.write_zip(str(tmp_path / "holiday.zip"), [("beach/IMG_1.jpg", tf.jpeg(2))])
    s = ingest(trove, part, empty, other, garbage, code=1)
    assert s["report"]["photos"] == 1 and s["report"]["media_unmatched"][0]["path"].endswith("A.jpg")
    kinds = {e["kind"]: e for e in trove.json_lines("status", "--errors")}
    assert set(kinds) == {"bad-json", "empty", "not-takeout", "corrupt"}
    assert kinds["corrupt"]["path"] == str(garbage) and "not a readable zip" in kinds["corrupt"]["message"]
    assert "not a Google Takeout export" in kinds["not-takeout"]["message"]
    assert kinds["not-takeout"]["path"] == other


def test_archives_are_never_modified(tmp_path, trove):
    parts = tf.sample(str(tmp_path / "e"))
    before = {p: (hashlib.sha256(Path(p).read_bytes()).hexdigest(), os.stat(p).st_mtime_ns) for p in parts}
    ingest(trove, *parts)
    assert {p: (hashlib.sha256(Path(p).read_bytes()).hexdigest(), os.stat(p).st_mtime_ns) for p in parts} == before
    assert sorted(os.listdir(tmp_path / "e")) == sorted(os.path.basename(p) for p in parts)


@pytest.mark.parametrize("fmt", ["zip", "tgz"])
def test_each_archive_handle_is_opened_once_per_thread(tmp_path, fmt, monkeypatch):
    """The read stage reuses one handle per archive per thread instead of reopening per member."""
    from phototrove.catalog import Catalog
    from phototrove.crawler import Crawler
    from phototrove.ingest import archives
    from phototrove.ingest.takeout.source import TakeoutSource

    files = {f"{'Photos from 2019' if i % 2 else 'Album ' + str(i % 3)}/I{i}.jpg": tf.jpeg(i) for i in range(20)}
    parts = tf.takeout(str(tmp_path / "e"), [files, dict(reversed(files.items()))], fmt=fmt)
    opened = []
    real_zip, real_cursor = archives.zipfile.ZipFile, archives._TarCursor.restart
    monkeypatch.setattr(archives.zipfile, "ZipFile", lambda *a, **k: opened.append(a[0]) or real_zip(*a, **k))
    monkeypatch.setattr(archives._TarCursor, "restart", lambda self: opened.append(self.path) or real_cursor(self))
    with Catalog(tmp_path / "c.db") as cat:
        summary = Crawler(cat, workers=2, show_progress=False).run(TakeoutSource(str(tmp_path / "e"), {"paths": parts}))
    assert summary.counts["read.photos"] == 20 and summary.counts["read.duplicates"] == 20
    per_archive = {p: opened.count(p) for p in parts}
    # zip: listing (1) + at most one handle per read thread (2); tar: one forward pass
    assert all(n <= (3 if fmt == "zip" else 1) for n in per_archive.values()), per_archive


def test_truncated_tgz_part_keeps_what_was_listed_and_the_rest_ingests(tmp_path, trove):
    tgz = tf.takeout(str(tmp_path / "e"), [{Y + f"A{i}.jpg": tf.jpeg(i, size=(400, 300)) for i in range(4)}], fmt="tgz")
    [ok] = tf.takeout(str(tmp_path / "e"), [{Y + "B.jpg": tf.jpeg(9)}], stamp="20240712T112341Z-2")
    data = Path(tgz[0]).read_bytes()
    Path(tgz[0]).write_bytes(data[: int(len(data) * 0.6)])
    s = ingest(trove, tgz[0], ok, code=1)
    assert 1 <= s["report"]["photos"] <= 4 and any(p["path"] == ok + "!Takeout/Google Photos/" + Y + "B.jpg" for p in photos(trove))
    assert any(e["kind"] == "truncated" for e in trove.json_lines("status", "--errors"))


def test_pointing_at_the_google_photos_folder_and_files_at_product_level(tmp_path, trove):
    root = tf.write_folder(str(tmp_path / "x"), [
        ("Google Fotos/Reise/métadonnées.json", tf.album("Reise nach Rom")),
        ("Google Fotos/Reise/IMG_1.jpg", tf.jpeg(1)),
        ("Google Fotos/Fotos von 2018/IMG_1.jpg", tf.jpeg(1)),
        ("Google Fotos/stray.jpg", tf.jpeg(2)),
    ])
    ingest(trove, Path(root) / "Google Fotos")
    by = {Path(p["path"]).name: p for p in photos(trove)}
    assert by["IMG_1.jpg"]["albums"] == ["Reise nach Rom"] and "Fotos von 2018" in by["IMG_1.jpg"]["path"]
    assert by["stray.jpg"]["albums"] == []


@pytest.mark.parametrize("fmt", ["zip", "tgz", "truncated zip"])
def test_a_fresh_source_reads_members_without_discovery(tmp_path, fmt):
    """The embed stage of a later run opens members through a source that did not list them."""
    from phototrove.catalog import Location
    from phototrove.ingest import make_source

    imgs = {f"I{i}.jpg": tf.jpeg(i) for i in range(4)}
    [part] = tf.takeout(str(tmp_path / "e"), [{Y + k: v for k, v in imgs.items()}],
                        fmt="tgz" if fmt == "tgz" else "zip")
    if fmt == "truncated zip":
        data = Path(part).read_bytes()
        Path(part).write_bytes(data[: len(data) - 200])  # the central directory is gone
    src = make_source("takeout", str(tmp_path / "e"), {"paths": [part]})
    try:
        for name in ("I2.jpg", "I0.jpg", "I3.jpg"):  # out of order on purpose
            loc = Location(1, 1, part, "Takeout/Google Photos/" + Y + name, None, None, {}, None, "ok")
            assert src.read_bytes(loc) == imgs[name]
    finally:
        src.close()
