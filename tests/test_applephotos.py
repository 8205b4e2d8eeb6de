"""`trove ingest photos`: generated Apple Photos libraries of two schema generations (Catalina's
ZGENERICASSET and Sequoia's ZASSET) with real files, read through the real CLI: list, search,
export; a real -wal left by a writer that never checkpointed; damaged tables; a missing database;
Photos 4 libraries; missing and empty originals; an iCloud-only photo upgraded once its original
is on disk."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
import applephotos as ap  # noqa: E402
from lightroom import damage_table  # noqa: E402  (a page's b-tree header overwritten, as a bad sector does)

MODEL = ("--model", "colour_embedder:make")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def by_uuid(trove) -> dict[str, list[dict]]:
    """Photo records by the Apple asset UUID(s) their locations stand for."""
    out: dict[str, list[dict]] = {}
    for rec in trove.json_lines("list"):
        out.setdefault(rec["meta"].get("applephotos", {}).get("apple_uuid"), []).append(rec)
    return out


def record(trove, data: bytes) -> dict:
    return next(r for r in trove.json_lines("list") if r["hash"] == sha(data))


def snapshot(root: str) -> dict[str, tuple[str, int]]:
    """Every file of the library with its hash and modification time."""
    out = {}
    for d, _dirs, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            out[os.path.relpath(p, root)] = (sha(open(p, "rb").read()), os.stat(p).st_mtime_ns)
    return out


@pytest.fixture(params=["catalina", "sequoia"])
def lib(request, tmp_path):
    return ap.make_library(str(tmp_path / "Pictures"), request.param)


# -- the round trip ------------------------------------------------------------------------------------
def test_a_library_ingests_with_albums_keywords_people_places_and_dates(trove, lib, tmp_path):
    before = snapshot(lib.root)
    run = trove.json_lines("ingest", "photos", lib.root, *MODEL)[0]
    assert run["kind"] == "applephotos" and run["errors"] == 0, run
    # 15 assets: 13 originals (the twins' are one photo), 2 derivatives, an edit, a RAW, a live video
    assert run["discover.new"] == 18 and run["read.photos"] == 17 and run["read.duplicates"] == 1
    rep = run["report"]
    assert rep["asset_table"] == lib.generation.asset and rep["model_version"] == lib.generation.model
    assert (rep["assets"], rep["icloud_only"], rep["referenced_elsewhere"], rep["renders"]) == (15, 1, 1, 1)
    assert snapshot(lib.root) == before            # nothing of the library was written, not even a -shm

    u = {name: s.uuid for name, s in lib.assets.items()}
    recs = by_uuid(trove)
    beach = {r["meta"]["applephotos"].get("edited", False): r for r in recs[u["beach"]]}
    original, edit = beach[False], beach[True]
    for r in (original, edit):
        assert r["albums"] == ["Plage d\u2019été", "Shared with Ann"]      # NFC, as people typed them
        assert r["keywords"] == ["Café", "Plage", "Été"] and r["people"] == ["Zoë"]
        assert r["title"] == "Plage à Cannes" and r["description"] == "Le café sur la plage"
        assert (r["lat"], r["lon"]) == (43.5513, 7.0128) and r["favorite"] == 1
        assert r["taken_at"] == "2019-07-14T12:00:00" and r["utc_offset"] == "+02:00"
        assert r["taken_utc"] == "2019-07-14T10:00:00Z"
    # the edit is a location of its own, stacked with its original, and the stack's cover
    assert edit["hash"] == sha(lib.files[lib.render("beach")]) and original["hash"] == sha(lib.files[lib.original("beach")])
    assert original["stack"]["cover"] == edit["id"] and set(original["stack"]["members"]) == {edit["id"], original["id"]}
    assert original["meta"]["applephotos"]["original_name"] == "IMG_0001.JPG"

    park, = recs[u["park"]]
    assert (park["taken_at"], park["utc_offset"]) == ("2019-05-01T09:30:00", "-07:00")   # from the zone name alone
    assert park["lat"] is None and park["lon"] is None                                    # -180.0 is no place
    assert park["format"] == "HEIF" and park["albums"] == ["Family"] and park["people"] == ["Ann Lee"]
    shot, = recs[u["screenshot"]]
    assert shot["taken_utc"] == "2019-07-14T10:00:00Z" and shot["meta"]["applephotos"]["apple_kind"] == "screenshot"

    # trash and hidden; the same bytes as a trashed and a kept asset are one photo, not in the trash
    trashed, = recs[u["trashed"]]
    assert trashed["trashed"] == 1 and trashed["albums"] == ["Family"]   # the trashed album "Old trip" is none
    twin = record(trove, lib.original_bytes("twin"))
    assert twin["trashed"] == 0 and len(twin["locations"]) == 2
    assert twin["locations"][0]["path"] == lib.path(lib.original("twin"))   # the kept asset's copy is primary
    hidden, = recs[u["hidden"]]
    assert hidden["archived"] == 1 and hidden["meta"]["applephotos"]["hidden"] is True

    # iCloud-only and referenced: the largest local derivative stands for the original
    cloud, = recs[u["cloud"]]
    assert cloud["hash"] == sha(lib.files[lib.derivative("cloud", master=True)]) and cloud["width"] == 120
    assert cloud["meta"]["applephotos"]["derivative"] is True and cloud["meta"]["applephotos"]["original_in_icloud"]
    assert cloud["keywords"] == ["Nuage"] and cloud["albums"] == ["Plage d\u2019été"]
    ref, = recs[u["referenced"]]
    assert ref["meta"]["applephotos"]["original_elsewhere"] == "/Volumes/Photo Disk/2018/DSC_0007.JPG"

    # a live photo's video belongs to its still; a burst and a RAW+JPEG pair are stacks
    live = {r["media"]: r for r in recs[u["live"]]}
    assert live["video"]["live_of"] == live["image"]["id"] and live["image"]["meta"]["applephotos"]["apple_kind"] == "live"
    bursts = [recs[u[f"burst{i}"]][0] for i in (1, 2, 3)]
    assert {b["stack_id"] for b in bursts} == {bursts[1]["id"]}           # the key frame is the cover
    pair = {r["media"]: r for r in recs[u["rawpair"]]}
    assert pair["raw"]["stack_id"] == pair["image"]["id"] == pair["image"]["stack_id"]
    video, = recs[u["video"]]
    assert video["media"] == "video" and video["duration"] > 0

    # search: the edit (cyan) is found, shown once for its stack; the trash only when asked for
    hits = trove.json_lines("search", "cyan", "--limit", "3")
    assert hits[0]["id"] == edit["id"] and hits[0]["stack_size"] == 2
    red = trove.json_lines("search", "red", "--limit", "20")
    assert trashed["id"] not in {h["id"] for h in red}
    assert trashed["id"] in {h["id"] for h in trove.json_lines("search", "red", "--include-trashed", "--limit", "20")}
    orange = trove.json_lines("search", "orange", "--limit", "1")
    assert orange[0]["id"] == cloud["id"]

    # export: named as in Photos, the derivative written with what trove knows, and said to be one
    out = tmp_path / "out"
    summary = trove.json_lines("export", str(out))[-1]
    assert summary["derivatives"] == 2 and summary["errors"] == 0
    files = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    assert {"Plage d\u2019été/IMG_0001.JPG", "Plage d\u2019été/IMG_0001_edited.jpeg", "Plage d\u2019été/IMG_0006.jpeg",
            "Family/IMG_0002.HEIC", "no album/IMG_0008.HEIC", "no album/IMG_0008.mov", "no album/IMG_0012.dng",
            "no album/DSC_0007.jpeg"} <= files
    assert "Family/IMG_0003.JPG" not in files                               # in the trash
    written = (out / "Plage d\u2019été/IMG_0006.jpeg").read_bytes()
    assert b"Nuage" in written and b"IMG_0006.HEIC" in written              # keywords and the original's name
    if shutil.which("exiftool"):
        x = json.loads(subprocess.run(["exiftool", "-j", "-n", "-G1", str(out / "Plage d\u2019été/IMG_0006.jpeg")],
                                      capture_output=True, check=True).stdout)[0]
        assert x["XMP-xmpMM:PreservedFileName"] == "IMG_0006.HEIC" and x["XMP-dc:Subject"] == "Nuage"
        assert round(x["Composite:GPSLatitude"], 4) == 48.8584 and x["ExifIFD:DateTimeOriginal"] == "2019:07:14 12:00:00"
    manifest = [json.loads(x) for x in (out / ".trove-export.jsonl").read_text().splitlines()]
    assert {m["file"] for m in manifest if m.get("derivative")} == {"Plage d\u2019été/IMG_0006.jpeg",
                                                                     "no album/DSC_0007.jpeg"}
    text = trove("export", str(tmp_path / "out2")).stdout
    assert "2 photo(s) are Apple Photos derivatives" in text
    assert snapshot(lib.root) == before


def test_status_reports_the_library(trove, lib):
    trove("ingest", "photos", lib.root, "--no-embed")
    text = trove("status", "--source", "1").stdout
    version = {"catalina": "Photos 5", "sequoia": "Photos 10"}[lib.generation.name]
    assert f"applephotos [1]: {version}, model {lib.generation.model}, 15 assets" in text
    assert "read from local derivatives: 2 (original in iCloud only: 1, referenced elsewhere: 1" in text
    assert "1 trashed, 1 hidden (archived)" in text


# -- a library in use: changes still in the -wal ------------------------------------------------------------
def test_a_wal_is_read_from_a_private_copy_and_the_library_is_untouched(trove, tmp_path):
    lib = ap.make_library(str(tmp_path / "Pictures"))
    park = lib.assets["park"]
    ap.leave_wal(lib.db, f"UPDATE ZADDITIONALASSETATTRIBUTES SET ZTITLE='Only in the WAL' WHERE ZASSET={park.pk}",
                 "INSERT INTO ZKEYWORD (Z_PK, Z_ENT, Z_OPT, ZTITLE) VALUES (99, 47, 1, 'Walkeyword')",
                 f"INSERT INTO Z_1KEYWORDS (Z_1ASSETATTRIBUTES, Z_47KEYWORDS) VALUES ({park.pk}, 99)")
    # the change really is only in the -wal: the database file itself does not have it
    plain = sqlite3.connect(f"file:{lib.db}?mode=ro&immutable=1", uri=True)
    assert plain.execute("SELECT ZTITLE FROM ZADDITIONALASSETATTRIBUTES WHERE ZASSET=?", (park.pk,)).fetchone() == (None,)
    plain.close()
    before = snapshot(lib.root)
    r = trove("ingest", "photos", lib.root, "--no-embed", quiet=False)
    assert "-wal file" in r.stderr and "private copy" in r.stderr
    park_rec, = by_uuid(trove)[park.uuid]
    assert park_rec["title"] == "Only in the WAL" and "Walkeyword" in park_rec["keywords"]
    assert snapshot(lib.root) == before                        # bytes and mtimes, -wal and -shm included
    scratch = trove.library / "tmp"
    assert not scratch.exists() or not any(scratch.iterdir())  # the private copy is gone


_LOCKER = r"""
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
db.execute("UPDATE ZADDITIONALASSETATTRIBUTES SET ZTITLE='never committed'")
print("locked", flush=True)
time.sleep(120)
"""


def test_a_database_locked_mid_write_is_read_as_last_saved(trove, tmp_path):
    lib = ap.make_library(str(tmp_path / "Pictures"), "catalina")
    locker = subprocess.Popen([sys.executable, "-c", _LOCKER, lib.db], stdout=subprocess.PIPE, text=True)
    try:
        assert locker.stdout.readline().strip() == "locked"
        busy = sqlite3.connect(lib.db, timeout=0.1)
        with pytest.raises(sqlite3.OperationalError, match="locked"):   # the lock is real
            busy.execute("SELECT count(*) FROM ZGENERICASSET").fetchone()
        busy.close()
        trove("ingest", "photos", lib.root, "--no-embed")
    finally:
        locker.kill()
        locker.wait()
    titles = {r["title"] for r in trove.json_lines("list")}
    assert "never committed" not in titles and "Plage à Cannes" in titles


# -- damage and absence ----------------------------------------------------------------------------------------
# the table damaged -> (what it held, as the beach photo's fields: gone after), the rest stays
DAMAGE = {
    "Z_1KEYWORDS": ("keywords", {"keywords": []}),
    "ZADDITIONALASSETATTRIBUTES": ("original names, time zones and titles", {"title": None}),
    "ZDETECTEDFACE": ("people", {"people": []}),
    "ZGENERICALBUM": ("albums and folders", {"albums": []}),
}
KEPT = {"keywords": ["Café", "Plage", "Été"], "title": "Plage à Cannes", "people": ["Zoë"],
        "albums": ["Plage d\u2019été", "Shared with Ann"], "description": "Le café sur la plage", "favorite": 1}


@pytest.mark.parametrize("table", sorted(DAMAGE))
def test_a_damaged_table_costs_its_fields_only(trove, tmp_path, table):
    lib = ap.make_library(str(tmp_path / "Pictures"), "catalina")
    damage_table(lib.db, table)
    what, lost = DAMAGE[table]
    r = trove("ingest", "photos", lib.root, "--no-embed", quiet=False)
    assert f"{table} unreadable" in r.stderr and f"{what} skipped" in r.stderr
    beach = next(x for x in by_uuid(trove)[lib.assets["beach"].uuid] if not x["meta"]["applephotos"].get("edited"))
    assert {k: beach[k] for k in KEPT} == {**KEPT, **lost}
    assert len(trove.json_lines("list")) == 17


def test_a_damaged_asset_table_still_reads_every_original(trove, tmp_path):
    lib = ap.make_library(str(tmp_path / "Pictures"))
    damage_table(lib.db, "ZASSET")
    r = trove("ingest", "photos", lib.root, "--no-embed", "--json", quiet=False)
    run = json.loads(r.stdout.splitlines()[0])
    assert "ZASSET unreadable" in r.stderr and "from their files in originals/" in r.stderr
    # the 13 files in originals/ (12 photos, the live video, the RAW): read without metadata, still paired
    assert run["report"]["not_in_database"] == 15 and run["errors"] == 0
    live = {x["media"]: x for x in trove.json_lines("list") if x["meta"].get("applephotos", {}).get("apple_uuid")
            == lib.assets["live"].uuid}
    assert live["video"]["live_of"] == live["image"]["id"]
    raw = [x for x in trove.json_lines("list") if x["media"] == "raw"]
    assert raw[0]["stack_id"] is not None


def test_a_missing_database_reads_the_files_and_says_so(trove, tmp_path):
    lib = ap.make_library(str(tmp_path / "Pictures"))
    os.remove(lib.db)
    r = trove("ingest", "photos", lib.root, "--no-embed", code=1, quiet=False)
    assert "no database/Photos.sqlite" in r.stderr
    listed = trove.json_lines("list")
    assert len(listed) == 14 and all(x["meta"]["applephotos"]["not_in_database"] for x in listed)
    rows = sqlite3.connect(trove.library / "catalog.db").execute("SELECT kind, path FROM errors").fetchall()
    assert rows == [("no-database", lib.db)]


def test_a_database_gone_since_the_last_run_marks_nothing_missing(trove, tmp_path):
    lib = ap.make_library(str(tmp_path / "Pictures"))
    trove("ingest", "photos", lib.root, "--no-embed")
    os.rename(lib.db, lib.db + ".away")
    run = trove.json_lines("ingest", "photos", lib.root, "--no-embed", code=1)[0]
    assert run.get("discover.missing", 0) == 0          # the edits and derivatives are not known to be gone
    states = sqlite3.connect(trove.library / "catalog.db").execute("SELECT DISTINCT state FROM locations").fetchall()
    assert states == [("ok",)]
    os.rename(lib.db + ".away", lib.db)
    run = trove.json_lines("ingest", "photos", lib.root, "--no-embed")[0]
    assert run["errors"] == 0 and run.get("discover.missing", 0) == 0
    assert by_uuid(trove)[lib.assets["beach"].uuid][0]["keywords"] == ["Café", "Plage", "Été"]


def test_a_photos_4_library_is_one_clear_line(trove, tmp_path):
    old = tmp_path / "iPhoto Library.photolibrary"
    (old / "database").mkdir(parents=True)
    (old / "database" / "Library.apdb").write_bytes(b"SQLite format 3\x00")
    (old / "Masters").mkdir()
    r = trove("ingest", "photos", old, code=2)
    assert r.stderr.count("\n") == 1 and "Photos 4 or older" in r.stderr and "Photos 5 and later" in r.stderr
    if sys.platform != "darwin":   # no system library to default to
        assert "give the library's path" in trove("ingest", "photos", code=2).stderr
    r = trove("ingest", "photos", tmp_path, code=2)   # a folder that is no library at all
    assert "not an Apple Photos library" in r.stderr
    # Photos 2-4 named their libraries .photoslibrary too: Aperture's RKVersion in photos.db says which
    mojave = tmp_path / "Photos Library.photoslibrary"
    (mojave / "database").mkdir(parents=True)
    db = sqlite3.connect(mojave / "database" / "photos.db")
    db.execute("CREATE TABLE RKVersion (modelId INTEGER PRIMARY KEY, uuid VARCHAR, fileName VARCHAR)")
    db.commit()
    db.close()
    r = trove("ingest", "photos", mojave, code=2)
    assert "Photos 4 or older" in r.stderr and r.stderr.count("\n") == 1


def test_a_library_given_as_a_folder_source_says_which_command(trove, tmp_path):
    lib = ap.make_library(str(tmp_path / "Pictures"))
    r = trove("ingest", "folder", lib.root, code=2)
    assert "use `trove ingest photos" in r.stderr and r.stderr.count("\n") == 1


def test_missing_and_empty_originals(trove, tmp_path):
    lib = ap.make_library(str(tmp_path / "Pictures"))
    os.remove(lib.path(lib.original("park")))                       # lost: its small derivative stands in
    open(lib.path(lib.original("hidden")), "wb").close()            # 0 bytes, and no derivative either
    os.remove(lib.path(lib.derivative("hidden")))
    r = trove("ingest", "photos", lib.root, "--no-embed", code=1, quiet=False)
    assert "missing from the library: its largest local derivative is read instead" in r.stderr
    park, = by_uuid(trove)[lib.assets["park"].uuid]
    assert park["hash"] == sha(lib.files[lib.derivative("park")]) and park["meta"]["applephotos"]["derivative"]
    assert lib.assets["hidden"].uuid not in by_uuid(trove)
    rows = sqlite3.connect(trove.library / "catalog.db").execute("SELECT kind, path, message FROM errors").fetchall()
    assert [(k, p) for k, p, _m in rows] == [("empty", lib.path(lib.original("hidden")))]
    assert "empty (0 bytes), and no local derivative" in rows[0][2]
    assert "1 file(s) failed" in trove("ingest", "photos", lib.root, "--no-embed", code=1).stdout


def test_an_icloud_photo_is_upgraded_when_its_original_turns_up(trove, lib):
    first = trove.json_lines("ingest", "photos", lib.root, *MODEL)[0]
    cloud = lib.assets["cloud"]
    assert first["read.photos"] == 17
    ap.write(lib.path(lib.original("cloud")), lib.original_bytes("cloud"))   # downloaded from iCloud since
    second = trove.json_lines("ingest", "photos", lib.root, *MODEL)[0]
    assert second["discover.moved"] == 1 and second.get("discover.new", 0) == 0, second
    recs = by_uuid(trove)
    rec, = recs[cloud.uuid]                                                  # the same photo, not a second one
    assert rec["hash"] == sha(lib.original_bytes("cloud")) and rec["format"] == "HEIF"
    assert "derivative" not in rec["meta"]["applephotos"] and rec["keywords"] == ["Nuage"]
    assert len(trove.json_lines("list")) == 17
    db = sqlite3.connect(trove.library / "catalog.db")
    assert db.execute("SELECT count(*) FROM photos").fetchone()[0] == 17    # the derivative's photo is gone
    assert trove.json_lines("search", "orange", "--limit", "1")[0]["id"] == rec["id"]
    third = trove.json_lines("ingest", "photos", lib.root, *MODEL)[0]
    assert third["discover.unchanged"] == 18 and third.get("read.photos", 0) == 0


def test_the_same_photo_in_a_folder_is_one_photo_with_both_locations(trove, tmp_path):
    lib = ap.make_library(str(tmp_path / "Pictures"))
    ap.write(str(tmp_path / "Desktop" / "IMG_0002.HEIC"), lib.original_bytes("park"))
    trove("ingest", "folder", tmp_path / "Desktop", "--no-embed")
    trove("ingest", "photos", lib.root, "--no-embed")
    rec = record(trove, lib.original_bytes("park"))
    assert sorted(loc["source"] for loc in rec["locations"]) == ["applephotos", "folder"]
    assert rec["keywords"] == ["Parc"] and rec["albums"] == ["Family"] and len(trove.json_lines("list")) == 17


# -- the schema is found, not assumed ------------------------------------------------------------------------
def test_join_tables_are_found_by_their_shape_when_the_entity_numbers_lie(trove, tmp_path):
    lib = ap.make_library(str(tmp_path / "Pictures"))
    db = sqlite3.connect(lib.db)
    db.execute("UPDATE Z_PRIMARYKEY SET Z_ENT = Z_ENT + 100 WHERE Z_NAME IN ('Album', 'Keyword')")
    db.execute("UPDATE Z_METADATA SET Z_PLIST = ?", (__import__("plistlib").dumps({"PLModelVersion": 23001},
                                                                                   fmt=__import__("plistlib").FMT_BINARY),))
    db.commit()
    db.close()
    r = trove("ingest", "photos", lib.root, "--no-embed", quiet=False)
    assert "model version 23001 is not one trove was tested with" in r.stderr
    assert "read from Z_30ASSETS (found by its shape)" in r.stderr and "read from Z_1KEYWORDS" in r.stderr
    beach = next(x for x in by_uuid(trove)[lib.assets["beach"].uuid] if not x["meta"]["applephotos"].get("edited"))
    assert beach["keywords"] == ["Café", "Plage", "Été"] and beach["albums"] == ["Plage d\u2019été", "Shared with Ann"]


def test_the_schema_reader_resolves_both_generations(tmp_path):
    from phototrove.ingest.applephotos.schema import Schema

    for name, (asset, albums, keywords, faces, edited) in {
            "catalina": ("ZGENERICASSET", ("Z_26ASSETS", "Z_26ALBUMS", "Z_34ASSETS"),
                         ("Z_1KEYWORDS", "Z_1ASSETATTRIBUTES", "Z_37KEYWORDS"), ("ZASSET", "ZPERSON"), "ZHASADJUSTMENTS"),
            "sequoia": ("ZASSET", ("Z_30ASSETS", "Z_30ALBUMS", "Z_3ASSETS"),
                        ("Z_1KEYWORDS", "Z_1ASSETATTRIBUTES", "Z_47KEYWORDS"), ("ZASSETFORFACE", "ZPERSONFORFACE"),
                        "ZADJUSTMENTSSTATE")}.items():
        lib = ap.make_library(str(tmp_path / name), name)
        notes: list[str] = []
        s = Schema(sqlite3.connect(lib.db), notes, [])
        assert s.asset == asset and s.faces == faces and s.edited == edited, name
        assert (s.album_join.table, s.album_join.left, s.album_join.right) == albums
        assert (s.keyword_join.table, s.keyword_join.left, s.keyword_join.right) == keywords
        assert notes == [] and s.model == lib.generation.model


def test_capture_times_take_the_stored_offset_or_the_zone_name():
    from phototrove.ingest.applephotos.library import capture_time

    t = ap.apple_seconds("2021-03-28T00:30:00Z")   # the night Paris moves from +01:00 to +02:00
    assert capture_time(t, 3600, "Europe/Paris") == {"taken_local": "2021-03-28T01:30:00", "utc_offset": "+01:00"}
    assert capture_time(t + 3600, None, "Europe/Paris") == {"taken_local": "2021-03-28T03:30:00", "utc_offset": "+02:00"}
    assert capture_time(t, None, "GMT+0530") == {"taken_local": "2021-03-28T06:00:00", "utc_offset": "+05:30"}
    assert capture_time(t + 0.25, None, None) == {"taken_utc": "2021-03-28T00:30:00.250Z"}
    assert capture_time(None, 3600, "Europe/Paris") == {} and capture_time(float("nan"), 0, None) == {}


def test_the_fixture_is_real(tmp_path):
    """The generated files are what they claim: pictures Pillow opens, a video PyAV decodes, a DNG."""
    from PIL import Image

    lib = ap.make_library(str(tmp_path / "Pictures"))
    import pillow_heif

    pillow_heif.register_heif_opener()
    assert Image.open(lib.path(lib.original("park"))).format == "HEIF"
    assert Image.open(lib.path(lib.render("beach"))).size == (96, 64)
    import av

    live = lib.assets["live"]
    with av.open(lib.path(os.path.join("originals", live.uuid[0], f"{live.uuid}_3.mov"))) as f:
        assert f.streams.video
    db = sqlite3.connect(lib.db)
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert db.execute("SELECT Z_NAME FROM Z_PRIMARYKEY WHERE Z_ENT=3").fetchone() == ("Asset",)
    db.close()
    shutil.rmtree(lib.root)
