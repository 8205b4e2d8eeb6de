"""Lightroom recovery from imperfect caches: a better preview that turns up later replaces the
worse output (recover) and the worse photo (ingest); truncated and damaged levels are said per file;
--out is never among what trove reads; photos are named as the photographer knows them."""
import io
import json
import os
import shutil
import subprocess
import sys
import sqlite3

import pytest
from PIL import Image

from lrfix import lightroom
from phototrove.ingest.lightroom.previews import read_sections
from phototrove.media.jpeg import scan_damage, scan_data
from phototrove.output.recover import MANIFEST

U = lightroom.uuid_of
IMG = {i.id: i for i in lightroom.IMAGES}
MODEL = ("--model", "tiny_embedder:make")


@pytest.fixture
def lib(tmp_path):
    return lightroom.make_library(str(tmp_path / "lr"))


def outputs(out):
    return sorted(os.path.relpath(os.path.join(d, f), out) for d, ds, fs in os.walk(out)
                  for f in fs if f != MANIFEST and ".trove-partial" not in d)


def hide_previews(lib, where):
    """Move every .lrprev away (a disk that was not plugged in): only root-pixels.db is left."""
    os.makedirs(where)
    moved = []
    for d, _, fs in os.walk(lib.lrdata):
        for f in fs:
            if f.endswith(".lrprev"):
                shutil.move(os.path.join(d, f), os.path.join(where, f))
                moved.append(os.path.join(d, f))
    return moved


def restore(moved, where):
    for path in moved:
        shutil.move(os.path.join(where, os.path.basename(path)), path)


def level_span(path, name):
    fd = os.open(path, os.O_RDONLY)
    try:
        sections, _ = read_sections(fd, os.fstat(fd).st_size)
    finally:
        os.close(fd)
    return next((start, length) for sname, start, length, _ in sections if sname == name)


def level(lib, image_id, index=-1):
    img = IMG[image_id]
    return lib.levels[(U(img.file), img.digest)][index]


def test_recover_upgrades_thumbnails_when_the_previews_turn_up(trove, lib, tmp_path):
    out = tmp_path / "out"
    moved = hide_previews(lib, str(tmp_path / "away"))
    first = trove.json_lines("recover", "lrprev", lib.lrdata, "--out", str(out))[0]
    # images 1-5 and 7 and the orphan from root-pixels.db; image 6's only preview is an outdated one
    assert first["thumbnails_only"] == first["written"] == 7 and first["images_without_preview"] == 1
    text = trove("recover", "lrprev", lib.lrdata, "--out", str(tmp_path / "out2")).stdout
    assert "0 written, 7 only as a tiny thumbnail" in text
    names = outputs(out)
    restore(moved, str(tmp_path / "away"))
    second = trove.json_lines("recover", "lrprev", lib.lrdata, "--out", str(out))[0]
    # the 5 catalog photos and the orphan with a real preview now get it, in place, under the same
    # names; image 7 only ever had its thumbnail; image 6 is new (its outdated preview is back)
    assert (second["upgraded"], second["written"], second["already_done"]) == (6, 7, 1), second
    assert second.get("thumbnails_only", 0) == 0
    assert outputs(out) == sorted(names + ["Photos/2020/Park/IMG_0006.jpg"])
    got = (out / "Photos/2019/Beach/IMG_0001_CR2.jpg").read_bytes()
    assert scan_data(got) == scan_data(level(lib, 1)) and Image.open(io.BytesIO(got)).size == (384, 256)
    assert scan_data((out / "Photos/2020/Park/IMG_0007.jpg").read_bytes()) == scan_data(level(lib, 7, 0))
    recs = [json.loads(x) for x in (out / MANIFEST).read_text().splitlines()]
    last = {r["item"]: r for r in recs}
    assert last["lrcat-image:1"]["level"] == "level_4" and (last["lrcat-image:1"]["width"],
                                                             last["lrcat-image:1"]["height"]) == (384, 256)
    third = trove.json_lines("recover", "lrprev", lib.lrdata, "--out", str(out))[0]
    assert third.get("written", 0) == 0 and third["already_done"] == 8


def test_recover_upgrades_a_truncated_preview_once_it_is_whole(trove, lib, tmp_path):
    out = tmp_path / "out"
    p4 = lib.preview(U(104), IMG[4].digest)
    whole = open(p4, "rb").read()
    open(p4, "wb").write(whole[:len(whole) - 700])
    r = trove.json_lines("recover", "lrprev", lib.lrdata, "--out", str(out))[0]
    assert r["truncated_fallback"] == 1
    target = out / "Photos/2020/Park/IMG_0001.jpg"
    assert scan_data(target.read_bytes()) == scan_data(level(lib, 4, -2))
    open(p4, "wb").write(whole)
    r = trove.json_lines("recover", "lrprev", lib.lrdata, "--out", str(out))[0]
    assert r["upgraded"] == 1 and r["written"] == 1 and scan_data(target.read_bytes()) == scan_data(level(lib, 4))
    assert len(outputs(out)) == 8


def test_an_output_changed_since_is_not_replaced(trove, lib, tmp_path):
    out = tmp_path / "out"
    p4 = lib.preview(U(104), IMG[4].digest)
    whole = open(p4, "rb").read()
    open(p4, "wb").write(whole[:len(whole) - 700])
    trove("recover", "lrprev", lib.lrdata, "--out", str(out))
    target = out / "Photos/2020/Park/IMG_0001.jpg"
    target.write_bytes(target.read_bytes() + b"edited by the user")
    open(p4, "wb").write(whole)
    r = trove.json_lines("recover", "lrprev", lib.lrdata, "--out", str(out))[0]
    assert r["upgrade_skipped_changed"] == 1 and r.get("written", 0) == 0
    assert target.read_bytes().endswith(b"edited by the user")


def test_ingest_keeps_one_photo_per_image_when_better_previews_turn_up(trove, lib, tmp_path):
    moved = hide_previews(lib, str(tmp_path / "away"))
    first = trove.json_lines("ingest", "lrprev", lib.lrdata, *MODEL)[0]
    assert first["read.photos"] == 7
    restore(moved, str(tmp_path / "away"))
    second = trove.json_lines("ingest", "lrprev", lib.lrdata, *MODEL)[0]
    # images 1-5 and the orphan move to their preview; image 6 (outdated preview only) is new
    assert second["discover.moved"] == 6 and second.get("discover.new", 0) == 1, second
    listed = trove.json_lines("list")
    assert len(listed) == 8                         # one per catalog image and virtual copy (+ the orphan)
    by_image = {}
    for rec in listed:
        lr = rec["meta"].get("lrcat", {})
        by_image.setdefault(lr.get("lr_image_id"), []).append(rec)
    assert all(len(v) == 1 for v in by_image.values())
    assert by_image[1][0]["width"] == 256 and by_image[1][0]["height"] == 384     # level_4, upright
    db = sqlite3.connect(trove.library / "catalog.db")
    assert db.execute("SELECT count(*) FROM locations").fetchone()[0] == 8
    assert db.execute("SELECT count(*) FROM photos").fetchone()[0] == 8            # the thumbnails left
    hits = trove("search", "dog", *MODEL).stdout
    # IMG_0001.CR2 with its virtual copy (one stack), IMG_0001.JPG, the other folder's IMG_0001.CR2
    assert hits.count("IMG_0001") == 3
    assert "lrprev!" not in "".join(x for x in hits.splitlines() if "00000999-" not in x)


def cut_at_boundary(path, keep_levels):
    """The file ends exactly after level_<keep_levels>'s section: every remaining section looks whole."""
    start, length = level_span(path, f"level_{keep_levels}")
    data = open(path, "rb").read()
    end = start + length
    end += -end % 16
    open(path, "wb").write(data[:end])


def test_boundary_cut_and_scan_damage_are_said_per_file(trove, lib, tmp_path):
    p2 = lib.preview(U(102), IMG[2].digest)
    cut_at_boundary(p2, 3)
    p4 = lib.preview(U(104), IMG[4].digest)
    start, length = level_span(p4, "level_4")
    data = bytearray(open(p4, "rb").read())
    sos = bytes(data).index(b"\xff\xda", start)
    data[sos + 400:sos + 404] = b"\xff\xc8\x12\x34"     # a marker inside the scan: libjpeg gives up there
    open(p4, "wb").write(bytes(data))
    bad = bytes(data[start:start + length])
    with pytest.raises(OSError, match="broken data stream"):
        Image.open(io.BytesIO(bad)).load()
    assert scan_damage(bad) is not None and scan_damage(level(lib, 4)) is None
    out = tmp_path / "out"
    res = trove("recover", "lrprev", lib.lrdata, "--out", str(out), "--json", quiet=False)
    summary = json.loads(res.stdout.splitlines()[-1])
    assert summary["truncated_fallback"] == 1 and summary["fell_back"] == 1 and summary["errors"] == 0
    warnings = [x for x in res.stderr.splitlines() if x.startswith("warning:")]
    assert any(p2 in x and "cut between two sections" in x and "level_3" in x for x in warnings), warnings
    assert any(p4 in x and "level_4 is damaged" in x and "wrote level_3" in x for x in warnings), warnings
    jpg = (out / "Photos/2019/Beach/IMG_0001_JPG.jpg").read_bytes()
    assert scan_data(jpg) == scan_data(lib.levels[(U(102), IMG[2].digest)][2])
    park = (out / "Photos/2020/Park/IMG_0001.jpg").read_bytes()
    assert scan_data(park) == scan_data(level(lib, 4, -2))
    Image.open(io.BytesIO(park)).load()
    # ingest takes the whole smaller level too: the photo is the size of level_3
    trove("ingest", "lrprev", lib.lrdata, *MODEL)
    rec = [r for r in trove.json_lines("list") if r["meta"].get("lrcat", {}).get("lr_image_id") == 4][0]
    assert max(rec["width"], rec["height"]) == lightroom.LEVEL_SIDES[-2]


def test_out_inside_what_trove_reads_is_refused(trove, lib, tmp_path):
    inside = os.path.join(lib.lrdata, "recovered")
    res = trove("recover", "lrprev", lib.lrdata, "--out", inside, code=2)
    assert "inside the preview cache" in res.stderr and not os.path.exists(inside)
    res = trove("recover", "lrprev", os.path.join(lib.lrdata, "0"), "--out", os.path.join(lib.lrdata, "x"), code=2)
    assert "inside the preview cache" in res.stderr
    folder = tmp_path / "photos"
    folder.mkdir()
    Image.new("RGB", (32, 32), "red").save(folder / "a.jpg")
    trove("ingest", "folder", str(folder), "--no-embed")
    res = trove("recover", "lrprev", lib.lrdata, "--out", str(folder / "sub"), code=2)
    assert "inside source [1]" in res.stderr and not (folder / "sub").exists()
    res = trove("recover", "lrprev", lib.lrdata, "--out", str(trove.library / "out"), code=2)
    assert "inside the library" in res.stderr


def test_photos_are_named_as_the_catalog_names_them(trove, lib, tmp_path):
    trove("ingest", "lrprev", lib.lrdata, *MODEL)
    text = trove("list").stdout
    assert "/Volumes/Photos/2019/Beach/IMG_0001.CR2\t" in text
    assert "/Volumes/Photos/2019/Beach/IMG_0001.CR2 (Black & White)\t" in text
    orphan = [x for x in text.splitlines() if lightroom.ORPHAN[0] in x]   # not in the catalog: the cache's name
    assert len(orphan) == 1 and ".lrprev!" not in text.replace(orphan[0], "")
    hits = trove("search", "beach", *MODEL, "--limit", "8").stdout
    assert "IMG_0001.CR2" in hits and "Beach" in hits
    assert ".lrprev" not in "".join(x for x in hits.splitlines() if "00000999-" not in x)
    page = tmp_path / "g.html"
    trove("search", "beach", *MODEL, "--html", str(page))
    html = page.read_text()
    assert "/Volumes/Photos/2019/Beach/IMG_0001.CR2" in html and "IMG_0001.JPG" in html
    assert html.count("level_4") == html.count(f"{lightroom.ORPHAN[1]}.lrprev!level_4")


def test_header_uuid_unlike_the_file_name_is_reported(trove, lib, tmp_path):
    p5 = lib.preview(U(105), IMG[5].digest)
    data = open(p5, "rb").read()
    other = U(0x777)
    open(p5, "wb").write(data.replace(U(105).encode(), other.encode(), 1))
    res = trove("recover", "lrprev", lib.lrdata, "--out", str(tmp_path / "out"), quiet=False)
    line = [x for x in res.stderr.splitlines() if p5 in x]
    assert line and "warning:" in line[0] and other in line[0] and "using the file name" in line[0]
    assert (tmp_path / "out/Photos/2020/Park/IMG_0005.jpg").exists()


def test_a_crashed_catalog_is_copied_into_the_library_not_the_system_temp(trove, lib, tmp_path):
    """A hot -journal: the catalog and journal are copied into the library's tmp/ and rolled back
    there (strace shows where the copy is made); the user's files are untouched, nothing is left."""
    import hashlib

    if not shutil.which("strace"):
        pytest.skip("strace shows where the private copy is made")
    lightroom.write_catalog(lib.catalog)                 # journal mode DELETE, like Lightroom 6
    lightroom.crash_mid_write(lib.catalog)
    digests = {p: hashlib.sha256(open(p, "rb").read()).hexdigest() for p in (lib.catalog, lib.catalog + "-journal")}
    out = tmp_path / "out"
    p = subprocess.run(["strace", "-f", "-qq", "-e", "trace=mkdir", "-o", str(tmp_path / "trace"), sys.executable,
                        "-m", "phototrove.cli", "--library", str(trove.library), "recover", "lrprev", lib.lrdata,
                        "--out", str(out)], capture_output=True, text=True, env=trove.env())
    assert p.returncode == 0, p.stderr
    assert "hot -journal" in p.stderr and "rolled back" in p.stderr
    made = [line for line in (tmp_path / "trace").read_text().splitlines() if "trove-lrcat-" in line]
    assert made and all(str(trove.library / "tmp") in line for line in made), made
    assert os.listdir(trove.library / "tmp") == []
    assert {p: hashlib.sha256(open(p, "rb").read()).hexdigest() for p in digests} == digests
    assert (out / "Photos/2019/Beach/IMG_0001_CR2.jpg").exists()        # the names from before the crash


def many_previews(tmp_path, n=300):
    """A cache of `n` previews (no catalog): enough for the writer to spread the work over processes."""
    lib = lightroom.make_library(str(tmp_path / "many"), catalog=False)
    for i in range(n):
        lightroom.add_preview(lib, U(0x10000 + i), lightroom.digest_of(i), 1.5, i % 7, lightroom.NOW)
    return lib


def test_many_photos_spread_over_processes_match_one_writer(trove, tmp_path):
    lib = many_previews(tmp_path)
    one, spread = tmp_path / "one", tmp_path / "spread"
    a = trove.json_lines("recover", "lrprev", lib.lrdata, "--out", str(one), "--workers", "1")[0]
    b = trove.json_lines("recover", "lrprev", lib.lrdata, "--out", str(spread), "--workers", "4")[0]
    assert a["written"] == b["written"] == a["photos"] >= 300 and b["errors"] == 0
    assert outputs(one) == outputs(spread)
    assert all((one / f).read_bytes() == (spread / f).read_bytes() for f in outputs(one))
    lines = [json.loads(x) for x in (spread / MANIFEST).read_text().splitlines()]
    assert sorted(x["file"] for x in lines) == outputs(spread)
    assert not (spread / ".trove-partial").exists()


def test_a_killed_run_spread_over_processes_resumes_cleanly(trove, tmp_path):
    import signal
    import time

    lib = many_previews(tmp_path, 400)
    ref, out = tmp_path / "ref", tmp_path / "out"
    trove("recover", "lrprev", lib.lrdata, "--out", str(ref), "--workers", "1")
    p = trove.popen("recover", "lrprev", lib.lrdata, "--out", str(out))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not out.exists() or len(outputs(out)) < 40):
        time.sleep(0.005)
    p.send_signal(signal.SIGKILL)
    p.communicate()
    written = len(outputs(out))
    assert 40 <= written < len(outputs(ref)), written      # killed mid-run
    time.sleep(0.5)          # forked workers left behind end with their slice (or the broken pipe)
    again = trove.json_lines("recover", "lrprev", lib.lrdata, "--out", str(out))[0]
    assert again["errors"] == 0 and "renamed_around_existing" not in again, again
    assert outputs(out) == outputs(ref)
    assert all((out / f).read_bytes() == (ref / f).read_bytes() for f in outputs(ref))
