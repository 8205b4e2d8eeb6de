"""`trove export DIR`: real Takeout zips, a Lightroom cache and a folder ingested by the real CLI,
exported into real folders; exiftool reads back what was written, and real processes are killed
with SIGKILL mid-export and resumed."""
from __future__ import annotations

import hashlib
import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from photos import jpeg as plain_jpeg, write
from phototrove.media.jpeg import EXIF_HEADER, XMP_HEADER, scan_data, split_header
from phototrove.output.manifest import EXPORT_MANIFEST

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
import lightroom  # noqa: E402
import takeout_fixtures as tf  # noqa: E402
import video_fixtures as vf  # noqa: E402

Y = "Photos from 2019/"
PARIS = (48.8566, 2.3522, 35.0)
needs_exiftool = pytest.mark.skipif(shutil.which("exiftool") is None, reason="exiftool is the oracle")


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def png(seed: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (seed * 40 % 256, 90, 160)).save(buf, "PNG")
    return buf.getvalue()


# the photos of the Takeout fixture
BEACH = tf.jpeg(1, gps=(48.79, 2.48))                        # camera EXIF: date, Canon, GPS
NO_EXIF = plain_jpeg(64, 48, seed=7)                         # no EXIF at all
ZERO_DATE = tf.jpeg(3, taken="0000:00:00 00:00:00")          # a camera with its clock unset
EDITED, OTHER_0002, TRASHED = tf.jpeg(4), tf.jpeg(5), tf.jpeg(9)
CHART = png(1)
VIDEO = vf.mp4(2, creation_time=None)


def build_takeout(where: Path) -> list[str]:
    return tf.takeout(str(where), [
        {Y + "IMG_0001.jpg": BEACH, Y + "IMG_0001.jpg.json": tf.sidecar("IMG_0001.jpg"),
         "Holidays/metadata.json": tf.album("Holidays"), "Holidays/IMG_0001.jpg": BEACH,
         "Holidays/IMG_0001.jpg.json": tf.sidecar("IMG_0001.jpg"),
         "Trips 2019/metadata.json": tf.album("Trips/2019"), "Trips 2019/IMG_0001.jpg": BEACH,
         "Trips 2019/IMG_0001.jpg.json": tf.sidecar("IMG_0001.jpg"),
         Y + "IMG_0002(1).jpg": NO_EXIF,
         Y + "IMG_0002.jpg(1).json": tf.sidecar("IMG_0002.jpg", geo=PARIS, description="Seine at noon",
                                                people=["Ann"])},
        {Y + "IMG_0002.jpg": OTHER_0002, Y + "IMG_0002.jpg.json": tf.sidecar("IMG_0002.jpg", taken=1563200000),
         Y + "IMG_0003.jpg": ZERO_DATE, Y + "IMG_0003.jpg.json": tf.sidecar("IMG_0003.jpg", taken=1563200000,
                                                                          geo=PARIS),
         Y + "IMG_0003-edited.jpg": EDITED,
         Y + "Screenshot.png": CHART, Y + "Screenshot.png.json": tf.sidecar("Screenshot.png", geo=PARIS,
                                                                          description="a chart"),
         Y + "VID_0001.mp4": VIDEO, Y + "VID_0001.mp4.json": tf.sidecar("VID_0001.mp4", taken=None, created=None),
         Y + "IMG_0009.jpg": TRASHED, Y + "IMG_0009.jpg.json": tf.sidecar("IMG_0009.jpg", trashed=True)},
    ])


@pytest.fixture(scope="module")
def takeout_trove(tmp_path_factory):
    from conftest import Trove

    base = tmp_path_factory.mktemp("takeout-export")
    trove = Trove(base / "library")
    parts = build_takeout(base / "export")
    trove("ingest", "takeout", *parts, "--no-embed")
    trove.parts = parts
    return trove


def export(trove, out, *args, code=0) -> dict:
    lines = trove.json_lines("export", str(out), *map(str, args), code=code)
    return lines[-1]


def tree(out: Path) -> dict[str, bytes]:
    """Every file written (symlinks resolved), but the manifest and the partial-file folder."""
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and p.name != EXPORT_MANIFEST and ".trove-partial" not in p.parts}


def exiftool(path) -> dict:
    return json.loads(subprocess.run(["exiftool", "-j", "-n", "-G1", str(path)], capture_output=True,
                                     check=True).stdout)[0]


def record(trove, data: bytes) -> dict:
    return next(p for p in trove.json_lines("list") if p["hash"] == sha(data))


def segments(jpeg: bytes) -> dict[bytes, bytes]:
    return {p[:6]: p for m, p in split_header(jpeg)[0] if m == 0xE1}


def exif_payload(jpeg: bytes) -> bytes:
    return next(p for m, p in split_header(jpeg)[0] if m == 0xE1 and p.startswith(EXIF_HEADER))


# -- layouts, names, albums ---------------------------------------------------------------------------
def test_album_layout_folders_names_and_hard_links(takeout_trove, tmp_path):
    out = tmp_path / "out"
    s = export(takeout_trove, out)
    assert sorted(tree(out)) == [
        "Holidays/IMG_0001.jpg", "Trips_2019/IMG_0001.jpg",             # in two albums: in both
        "no album/IMG_0002-2.jpg", "no album/IMG_0002.jpg",           # `IMG_0002(1).jpg` named by its title
        "no album/IMG_0003-edited.jpg", "no album/IMG_0003.jpg",
        "no album/Screenshot.png", "no album/Screenshot.png.xmp",     # not edited here: a sidecar
        "no album/VID_0001.mp4", "no album/VID_0001.mp4.xmp",
    ]
    assert (s["photos"], s["files"], s["written"], s["linked"], s["skipped_trashed"], s["errors"]) == (7, 8, 7, 1, 1, 0)
    a, b = (out / "Holidays/IMG_0001.jpg").stat(), (out / "Trips_2019/IMG_0001.jpg").stat()
    assert a.st_ino == b.st_ino and a.st_nlink == 2          # one file, two names
    # the file's time is the capture instant: EXIF 10:30 at +00:00 (Takeout's UTC time agrees)
    assert a.st_mtime == 1563100200
    manifest = [json.loads(x) for x in (out / EXPORT_MANIFEST).read_text().splitlines()]
    assert sorted(r["file"] for r in manifest) == sorted(f for f in tree(out) if not f.endswith(".xmp"))
    assert len({r["key"] for r in manifest}) == len(manifest)   # a record per (photo, folder)


@pytest.mark.parametrize("layout, expected", [
    ("date", {"2019/07/IMG_0001.jpg", "2019/07/IMG_0002.jpg", "2019/07/IMG_0002-2.jpg", "2019/07/IMG_0003.jpg",
              "2019/07/IMG_0003-edited.jpg", "2019/07/Screenshot.png", "undated/VID_0001.mp4"}),
    ("day", {"2019/07-14/IMG_0001.jpg", "2019/07-14/IMG_0002.jpg", "2019/07-15/IMG_0002.jpg",
             "2019/07-15/IMG_0003.jpg", "2019/07-15/IMG_0003-edited.jpg", "2019/07-14/Screenshot.png",
             "undated/VID_0001.mp4"}),
    ("source", {"Photos from 2019/IMG_0001.jpg", "Holidays/IMG_0001.jpg", "Trips 2019/IMG_0001.jpg",
                "Photos from 2019/IMG_0002.jpg", "Photos from 2019/IMG_0002-2.jpg", "Photos from 2019/IMG_0003.jpg",
                "Photos from 2019/IMG_0003-edited.jpg", "Photos from 2019/Screenshot.png",
                "Photos from 2019/VID_0001.mp4"}),
    ("flat", {"IMG_0001.jpg", "IMG_0002.jpg", "IMG_0002-2.jpg", "IMG_0003.jpg", "IMG_0003-edited.jpg",
              "Screenshot.png", "VID_0001.mp4"}),
])
def test_each_layout_has_its_folders(takeout_trove, tmp_path, layout, expected):
    out = tmp_path / layout
    export(takeout_trove, out, "--layout", layout)
    assert {f for f in tree(out) if not f.endswith(".xmp")} == expected
    if layout == "source":   # the year-folder copy and the two album copies: one file
        inodes = {(out / f).stat().st_ino for f in ("Photos from 2019/IMG_0001.jpg", "Holidays/IMG_0001.jpg",
                                                      "Trips 2019/IMG_0001.jpg")}
        assert len(inodes) == 1


def test_the_takeout_title_names_the_file_and_goes_in_as_the_original_name(takeout_trove, tmp_path):
    out = tmp_path / "out"
    export(takeout_trove, out, "--layout", "flat")
    named = {f: sha(scan_data(d)) for f, d in tree(out).items() if f.endswith(".jpg")}
    assert named["IMG_0002.jpg"] in (sha(scan_data(NO_EXIF)), sha(scan_data(OTHER_0002)))
    assert {named["IMG_0002.jpg"], named["IMG_0002-2.jpg"]} == {sha(scan_data(NO_EXIF)), sha(scan_data(OTHER_0002))}
    if shutil.which("exiftool"):
        for name in ("IMG_0002.jpg", "IMG_0002-2.jpg"):
            assert exiftool(out / name)["XMP-xmpMM:PreservedFileName"] == "IMG_0002.jpg"


# -- metadata written ---------------------------------------------------------------------------------
@needs_exiftool
def test_a_jpeg_without_exif_gets_date_offset_and_gps_and_keeps_its_image_data(takeout_trove, tmp_path):
    out = tmp_path / "out"
    export(takeout_trove, out, "--layout", "flat")
    rec = record(takeout_trove, NO_EXIF)
    assert rec["utc_offset"] == "+02:00" and rec["taken_at"] == "2019-07-14T12:30:00"   # Paris in July
    got = next(d for f, d in tree(out).items() if f.endswith(".jpg") and scan_data(d) == scan_data(NO_EXIF))
    assert got.endswith(NO_EXIF[-1000:]) and len(got) > len(NO_EXIF)
    path = next(out / f for f, d in tree(out).items() if d == got)
    x = exiftool(path)
    assert x["ExifIFD:DateTimeOriginal"] == "2019:07:14 12:30:00" and x["ExifIFD:OffsetTimeOriginal"] == "+02:00"
    assert abs(x["GPS:GPSLatitude"] - PARIS[0]) < 1e-6 and abs(x["GPS:GPSLongitude"] - PARIS[1]) < 1e-6
    assert x["XMP-dc:Description"] == "Seine at noon" and x["XMP-iptcExt:PersonInImage"] == "Ann"
    assert x["XMP-photoshop:DateCreated"] == "2019:07:14 12:30:00+02:00"
    assert "XMP-exif:GPSLatitude" not in x   # the EXIF has it now
    assert x["File:ImageWidth"] == 64 and "Warning" not in x
    assert path.stat().st_mtime == 1563100200   # 12:30 at +02:00


@needs_exiftool
def test_a_camera_exif_is_kept_byte_for_byte(takeout_trove, tmp_path):
    out = tmp_path / "out"
    export(takeout_trove, out)
    got = (out / "Holidays/IMG_0001.jpg").read_bytes()
    assert exif_payload(got) == exif_payload(BEACH)   # not rewritten
    assert scan_data(got) == scan_data(BEACH)
    x = exiftool(out / "Holidays/IMG_0001.jpg")
    assert x["ExifIFD:DateTimeOriginal"] == "2019:07:14 10:30:00" and x["IFD0:Model"] == "Canon EOS 5D"
    assert x["XMP-photoshop:DateCreated"] == "2019:07:14 10:30:00+00:00"   # the offset Takeout's UTC time gave


@needs_exiftool
def test_an_unset_camera_date_is_patched_in_place(takeout_trove, tmp_path):
    out = tmp_path / "out"
    export(takeout_trove, out, "--layout", "flat")
    rec = record(takeout_trove, ZERO_DATE)
    assert rec["date_source"] != "exif"
    got = (out / "IMG_0003.jpg").read_bytes()
    before, after = exif_payload(ZERO_DATE), exif_payload(got)
    assert len(before) == len(after)
    diff = [i for i in range(len(before)) if before[i] != after[i]]
    at = before.rindex(b"0000:00:00 00:00:00\x00")   # (IFD0 DateTime comes first: left as the camera wrote it)
    assert diff and all(at <= i < at + 19 for i in diff)     # only DateTimeOriginal's 19 characters
    local = rec["taken_at"].replace("-", ":").replace("T", " ")
    assert exiftool(out / "IMG_0003.jpg")["ExifIFD:DateTimeOriginal"] == local
    assert scan_data(got) == scan_data(ZERO_DATE)


@needs_exiftool
def test_png_and_video_are_copied_untouched_with_an_xmp_sidecar(takeout_trove, tmp_path):
    out = tmp_path / "out"
    export(takeout_trove, out, "--layout", "flat")
    assert (out / "Screenshot.png").read_bytes() == CHART and (out / "VID_0001.mp4").read_bytes() == VIDEO
    x = exiftool(out / "Screenshot.png.xmp")
    assert x["XMP-dc:Description"] == "a chart" and x["XMP-xmpMM:PreservedFileName"] == "Screenshot.png"
    assert abs(x["XMP-exif:GPSLatitude"] - PARIS[0]) < 1e-6 and abs(x["XMP-exif:GPSLongitude"] - PARIS[1]) < 1e-6
    assert x["XMP-photoshop:DateCreated"] == "2019:07:14 12:30:00+02:00"
    assert (out / "Screenshot.png.xmp").stat().st_mtime == (out / "Screenshot.png").stat().st_mtime == 1563100200
    v = exiftool(out / "VID_0001.mp4.xmp")
    assert v["XMP-xmpMM:PreservedFileName"] == "VID_0001.mp4" and "XMP-photoshop:DateCreated" not in v


def test_no_metadata_copies_the_bytes_as_they_are(takeout_trove, tmp_path):
    out = tmp_path / "out"
    export(takeout_trove, out, "--no-metadata", "--layout", "source")
    members = {}
    for part in takeout_trove.parts:
        with zipfile.ZipFile(part) as z:
            members.update({n.split("Google Photos/", 1)[1]: z.read(n) for n in z.namelist()})
    got = tree(out)
    assert not [f for f in got if f.endswith(".xmp")]
    media = {sha(d) for n, d in members.items() if not n.endswith(".json") and d != TRASHED}
    assert {sha(d) for d in got.values()} == media             # every photo, each byte as it was
    assert got["Holidays/IMG_0001.jpg"] == BEACH and got["Photos from 2019/Screenshot.png"] == CHART
    assert (out / "Holidays/IMG_0001.jpg").stat().st_mtime == 1563100200   # the time still the capture's


# -- selection ------------------------------------------------------------------------------------------
def test_the_trash_only_when_asked_and_filters_alone(takeout_trove, tmp_path):
    s = export(takeout_trove, tmp_path / "all", "--include-trashed", "--layout", "flat")
    assert "IMG_0009.jpg" in tree(tmp_path / "all") and s["skipped_trashed"] == 0
    s = export(takeout_trove, tmp_path / "trash", "--trashed", "--layout", "flat")
    assert sorted(tree(tmp_path / "trash")) == ["IMG_0009.jpg"]
    s = export(takeout_trove, tmp_path / "hol", "--album", "holi")
    assert sorted(tree(tmp_path / "hol")) == ["Holidays/IMG_0001.jpg", "Trips_2019/IMG_0001.jpg"]
    s = export(takeout_trove, tmp_path / "day", "--from", "2019-07-15", "--to", "2019-07-15", "--layout", "flat",
               "--media", "photo")
    assert sorted(tree(tmp_path / "day")) == ["IMG_0002.jpg", "IMG_0003-edited.jpg", "IMG_0003.jpg"]
    r = takeout_trove("export", str(tmp_path / "none"), "--album", "nope", code=2)
    assert "nothing in the catalog matches" in r.stderr and not (tmp_path / "none").exists()


def test_a_query_and_like_choose_as_search_and_similar_do(trove, tmp_path):
    src = tmp_path / "src"
    for i, colour in enumerate([(250, 10, 10), (240, 30, 20), (10, 10, 250), (20, 240, 20)]):
        write(src / f"p{i}.jpg", plain_jpeg(32, 32, seed=i, color=colour))
    trove("ingest", "folder", str(src), "--model", "tiny_embedder:make")
    s = export(trove, tmp_path / "q", "--image", src / "p0.jpg", "--limit", "2", "--layout", "flat")
    assert sorted(tree(tmp_path / "q")) == ["p0.jpg", "p1.jpg"] and s["photos"] == 2
    export(trove, tmp_path / "like", "--like", src / "p0.jpg", "--limit", "1", "--layout", "flat")
    assert sorted(tree(tmp_path / "like")) == ["p1.jpg"]
    r = trove("export", str(tmp_path / "x"), "--min-score", "0.5", code=2)
    assert "--min-score needs a query" in r.stderr


# -- resume, dry run, honesty ------------------------------------------------------------------------
def test_a_second_run_adds_only_what_is_new(tmp_path, trove):
    parts = build_takeout(tmp_path / "e")
    trove("ingest", "takeout", *parts[:1], "--no-embed")
    out = tmp_path / "out"
    first = export(trove, out)
    before = {f: (out / f).stat().st_ino for f in tree(out)}
    again = export(trove, out)
    assert again["written"] == 0 and again["already_there"] == first["files"]
    trove("ingest", "takeout", *parts, "--no-embed")           # the second part turns up
    third = export(trove, out)
    assert third["already_there"] == first["files"] == 3 and third["written"] == 5
    assert all((out / f).stat().st_ino == ino for f, ino in before.items())   # nothing written twice
    assert len(tree(out)) == len(before) + 7   # (two of them with a sidecar)


def test_dry_run_writes_nothing_and_lists_the_plan(takeout_trove, tmp_path):
    out = tmp_path / "out"
    lines = takeout_trove.json_lines("export", str(out), "--dry-run")
    assert not out.exists()
    files, summary = lines[:-1], lines[-1]
    assert summary["would_write"] == len(files) == 8 and summary["written"] == 0
    assert {f["file"] for f in files} == {f for f in tree_of_real_run(takeout_trove, tmp_path) if not f.endswith(".xmp")}
    link = next(f for f in files if f["file"] == "Trips_2019/IMG_0001.jpg")
    assert link["action"] == "hard link of Holidays/IMG_0001.jpg"
    assert next(f for f in files if f["file"].endswith("png"))["sidecar"] is True
    text = takeout_trove("export", str(out), "--dry-run", quiet=False).stdout
    assert "Takeout/Google Photos/Photos from 2019/IMG_0002(1).jpg -> no album/IMG_0002" in text
    assert not out.exists()


def tree_of_real_run(trove, tmp_path) -> dict:
    out = tmp_path / "real"
    export(trove, out)
    return tree(out)


def test_a_file_trove_did_not_write_is_never_overwritten(takeout_trove, tmp_path):
    out = tmp_path / "out"
    write(out / "Holidays/IMG_0001.jpg", b"mine")
    write(out / "no album/Screenshot.png.xmp", b"my sidecar")
    s = export(takeout_trove, out)
    assert (out / "Holidays/IMG_0001.jpg").read_bytes() == b"mine"
    assert (out / "no album/Screenshot.png.xmp").read_bytes() == b"my sidecar"
    got = tree(out)
    assert scan_data(got["Holidays/IMG_0001-2.jpg"]) == scan_data(BEACH)
    assert got["no album/Screenshot-2.png"] == CHART and "no album/Screenshot-2.png.xmp" in got
    assert s["renamed_around_existing"] == 2


def test_links_symlink_and_copy(takeout_trove, tmp_path):
    export(takeout_trove, tmp_path / "s", "--links", "symlink")
    link = tmp_path / "s/Trips_2019/IMG_0001.jpg"
    assert link.is_symlink() and os.readlink(link) == "../Holidays/IMG_0001.jpg"
    export(takeout_trove, tmp_path / "c", "--links", "copy")
    a, b = tmp_path / "c/Holidays/IMG_0001.jpg", tmp_path / "c/Trips_2019/IMG_0001.jpg"
    assert a.read_bytes() == b.read_bytes() and a.stat().st_ino != b.stat().st_ino
    assert b.stat().st_mtime == a.stat().st_mtime == 1563100200


def test_a_vanished_file_is_one_line_and_the_rest_goes_on(trove, tmp_path):
    src = tmp_path / "src"
    for i in range(4):
        write(src / "sub" / f"p{i}.jpg", plain_jpeg(32, 32, seed=i))
    trove("ingest", "folder", str(src), "--no-embed")
    (src / "sub/p1.jpg").unlink()
    (src / "sub/p2.jpg").write_bytes(plain_jpeg(32, 32, seed=99))   # changed since the ingest
    r = trove("export", str(tmp_path / "out"), "--layout", "source", "--json", code=1, quiet=False)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith("skipped: ") for line in lines), r.stderr
    assert str(src / "sub/p1.jpg") in r.stderr and str(src / "sub/p2.jpg") in "\n".join(lines)
    assert "changed since the last ingest" in r.stderr and "Traceback" not in r.stderr
    assert sorted(tree(tmp_path / "out")) == ["sub/p0.jpg", "sub/p3.jpg"]
    assert json.loads(r.stdout.splitlines()[-1])["skipped_vanished"] == 2


def test_dir_inside_a_source_or_the_library_is_refused(takeout_trove, tmp_path):
    inside = Path(takeout_trove.parts[0]).parent / "out"
    r = takeout_trove("export", str(inside), code=2)
    assert "inside source" in r.stderr and not inside.exists()
    r = takeout_trove("export", str(takeout_trove.library / "x"), code=2)
    assert "inside the library" in r.stderr


def test_an_empty_library_says_so(trove, tmp_path):
    r = trove("export", str(tmp_path / "out"), code=3)
    assert "nothing to export yet" in r.stderr


# -- other sources ------------------------------------------------------------------------------------
@needs_exiftool
def test_a_lightroom_cache_exports_like_recover_names_and_writes_it(trove, tmp_path):
    lib = lightroom.make_library(str(tmp_path / "lr"))
    trove("ingest", "lrprev", lib.lrdata, "--no-embed")
    out, rec = tmp_path / "out", tmp_path / "rec"
    export(trove, out, "--layout", "source")
    trove("recover", "lrprev", lib.lrdata, "--out", str(rec))
    recovered = {str(p.relative_to(rec)) for p in rec.rglob("*.jpg")}
    assert set(tree(out)) == recovered
    got = (out / "Photos/2019/Beach/IMG_0001_CR2.jpg").read_bytes()
    level = lib.levels[(lightroom.uuid_of(lightroom.IMAGES[0].file), lightroom.IMAGES[0].digest)][-1]
    assert scan_data(got) == scan_data(level)
    x = exiftool(out / "Photos/2019/Beach/IMG_0001_CR2.jpg")
    r = exiftool(rec / "Photos/2019/Beach/IMG_0001_CR2.jpg")
    for tag in ("ExifIFD:DateTimeOriginal", "IFD0:Model", "ExifIFD:LensModel", "IFD0:Orientation", "XMP-dc:Title",
                "XMP-xmpMM:PreservedFileName", "XMP-dc:Subject", "ICC_Profile:ProfileDescription"):
        assert x.get(tag) == r.get(tag), tag
    assert x["XMP-xmpMM:PreservedFileName"] == "IMG_0001.CR2"
    album = tmp_path / "album"
    export(trove, album)   # folders (Lightroom folders are albums) and collections
    assert "France 2019/IMG_0001_CR2.jpg" in tree(album)


@needs_exiftool
def test_a_folder_source_keeps_its_structure(trove, tmp_path):
    src = tmp_path / "Pictures"
    write(src / "2021/Rome/IMG_1.jpg", plain_jpeg(40, 30, seed=1, taken="2021:05:01 09:00:00", make="Canon",
                                                  model="Canon EOS R"))
    write(src / "2021/Rome/IMG_1.png", png(2))
    write(src / "CON.jpg", plain_jpeg(40, 30, seed=3))   # a name Windows cannot create
    trove("ingest", "folder", str(src), "--no-embed")
    out = tmp_path / "out"
    export(trove, out, "--layout", "source")
    assert sorted(tree(out)) == ["2021/Rome/IMG_1.jpg", "2021/Rome/IMG_1.png", "2021/Rome/IMG_1.png.xmp", "_CON.jpg"]
    assert exif_payload((out / "2021/Rome/IMG_1.jpg").read_bytes()) == exif_payload((src / "2021/Rome/IMG_1.jpg").read_bytes())
    assert exiftool(out / "2021/Rome/IMG_1.jpg")["XMP-xmpMM:PreservedFileName"] == "IMG_1.jpg"
    assert (out / "2021/Rome/IMG_1.png").read_bytes() == (src / "2021/Rome/IMG_1.png").read_bytes()


# -- SIGKILL, a full disk -------------------------------------------------------------------------------
def big_takeout(where: Path, n: int = 30) -> list[str]:
    """n photos of ~0.5 MB (slow enough to be caught mid-run), a third of them also in an album."""
    rng = random.Random(5)
    files = {}
    for i in range(n):
        data = tf.jpeg(i, size=(640, 480), quality=100) + rng.randbytes(400_000)   # trailing bytes: kept as they are
        files[Y + f"IMG_{i:04d}.jpg"] = data
        files[Y + f"IMG_{i:04d}.jpg.json"] = tf.sidecar(f"IMG_{i:04d}.jpg", taken=1563100200 + i)
        if i % 3 == 0:
            files[f"Album {i % 2}/metadata.json"] = tf.album(f"Album {i % 2}")
            files[f"Album {i % 2}/IMG_{i:04d}.jpg"] = data
    return tf.takeout(str(where), [files])


def partial_free(out: Path, reference: dict[str, bytes]) -> None:
    """A real name only ever holds a complete file (the one an uninterrupted run writes)."""
    for rel, data in tree(out).items():
        assert data == reference[rel], (rel, len(data), len(reference[rel]))


def test_sigkill_at_several_points_then_resume_gives_the_same_tree(trove, tmp_path):
    parts = big_takeout(tmp_path / "e")
    trove("ingest", "takeout", *parts, "--no-embed")
    reference = tmp_path / "reference"
    export(trove, reference)
    want = tree(reference)
    killed_mid_run = 0
    for trial, after in enumerate((1, 5, 12, 25)):
        out = tmp_path / f"out{trial}"
        p = trove.popen("export", str(out))
        deadline = time.monotonic() + 60
        while p.poll() is None and time.monotonic() < deadline:
            if out.exists() and len(tree_names(out)) >= after:
                break
            time.sleep(0.001)
        p.send_signal(signal.SIGKILL)
        p.communicate()
        killed_mid_run += p.returncode == -signal.SIGKILL and len(tree_names(out)) < len(want)
        partial_free(out, want)
        inodes = {f: (out / f).stat().st_ino for f in tree_names(out)}
        r = trove.run("export", str(out), "--json")
        assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
        s = json.loads(r.stdout.splitlines()[-1])
        assert "renamed_around_existing" not in s, s        # no `-2` twins of its own files
        assert tree(out) == want, trial
        assert all((out / f).stat().st_ino == ino for f, ino in inodes.items())   # nothing written twice
        keys = [json.loads(x)["key"] for x in (out / EXPORT_MANIFEST).read_text().splitlines() if x.strip()]
        assert sorted(set(keys)) == sorted(keys) and len(keys) == len(want)
        assert not (out / ".trove-partial").exists()
    assert killed_mid_run >= 2, killed_mid_run


def tree_names(out: Path) -> list[str]:
    return [str(p.relative_to(out)) for p in out.rglob("*.jpg") if ".trove-partial" not in p.parts]


def test_sigkill_exactly_between_writing_and_placing(trove, tmp_path):
    """strace kills the process at the Nth link()/linkat() (a file complete without its name or
    under a temporary one, not yet or just placed), write() (a header, a manifest line) or copy_file_range() (the image data,
    copied by the kernel from the stored zip member): each point resumes to the same tree."""
    if not shutil.which("strace"):
        pytest.skip("strace is needed to kill the process at a chosen system call")
    parts = big_takeout(tmp_path / "e", n=9)
    trove("ingest", "takeout", *parts, "--no-embed")
    reference = tmp_path / "reference"
    export(trove, reference)
    want = tree(reference)
    for trial, (call, nth) in enumerate((("link", 1), ("link", 4), ("link", 9), ("write", 2), ("write", 7),
                                         ("copy_file_range", 1), ("copy_file_range", 6))):
        out = tmp_path / f"out{trial}"
        call = "link,linkat" if call == "link" else call   # (linkat: an unnamed file given its name)
        killed = subprocess.run(["strace", "-f", "-qq", "-o", "/dev/null", "-e", f"trace={call}",
                                 "-e", f"inject={call}:signal=KILL:when={nth}", sys.executable, "-m", "phototrove.cli",
                                 "--library", str(trove.library), "-q", "export", str(out), "--workers", "1"],
                                env=trove.env(), capture_output=True, timeout=120)   # one thread: the Nth call is exact
        assert killed.returncode != 0, (trial, killed.stderr)
        partial_free(out, want)
        assert trove.run("export", str(out)).returncode == 0
        assert tree(out) == want, (trial, call, nth)


def test_a_full_disk_stops_with_the_message_and_a_consistent_manifest(trove, tmp_path):
    full = tmp_path / "full"
    full.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1300k", "tmpfs", str(full)],
                      capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs CAP_SYS_ADMIN)")
    try:
        parts = big_takeout(tmp_path / "e", n=4)   # ~0.5 MB each: two fit
        trove("ingest", "takeout", *parts, "--no-embed")
        reference = tmp_path / "reference"
        export(trove, reference)
        out = full / "out"
        r = trove.run("export", str(out), "--workers", "1")   # (in order: what landed before is recorded)
        assert r.returncode == 3 and "is full" in r.stderr and "free space" in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
        assert not (out / ".trove-partial").exists()
        partial_free(out, tree(reference))            # nothing cut short under a real name
        recorded = [json.loads(x) for x in (out / EXPORT_MANIFEST).read_text().splitlines() if x.strip()]
        assert recorded and all((out / rec["file"]).stat().st_size == rec["bytes"] for rec in recorded)
        assert sorted(rec["file"] for rec in recorded) == sorted(tree(out))
        assert 0 < len(tree(out)) < len(tree(reference))
        r = trove.run("export", str(out))    # several at once, the disk still full: said the same way
        assert r.returncode == 3 and len(r.stderr.strip().splitlines()) == 1 and "is full" in r.stderr, r.stderr
        partial_free(out, tree(reference))
        assert not (out / ".trove-partial").exists()
    finally:
        subprocess.run(["umount", str(full)])


# -- what is in the file already --------------------------------------------------------------------------
def xmp_packet(extra_ns: str = "", extra_attr: str = "") -> bytes:
    return ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            f'<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"{extra_ns}{extra_attr}>'
            '<dc:subject><rdf:Bag><rdf:li>cat</rdf:li></rdf:Bag></dc:subject>'
            '</rdf:Description></rdf:RDF></x:xmpmeta>').encode()


@needs_exiftool
def test_an_xmp_trove_can_write_back_is_replaced_one_it_cannot_is_kept(trove, tmp_path):
    from phototrove.media.jpeg import with_metadata

    src = tmp_path / "src"
    plain = with_metadata(plain_jpeg(40, 30, seed=1), xmp=xmp_packet())
    motion = with_metadata(plain_jpeg(40, 30, seed=2), xmp=xmp_packet(
        ' xmlns:GCamera="http://ns.google.com/photos/1.0/camera/"', ' GCamera:MotionPhoto="1"'))
    write(src / "plain.jpg", plain)
    write(src / "motion.jpg", motion)
    trove("ingest", "folder", str(src), "--no-embed")
    out = tmp_path / "out"
    export(trove, out, "--layout", "flat")
    assert sorted(tree(out)) == ["motion.jpg", "motion.jpg.xmp", "plain.jpg"]
    got = (out / "plain.jpg").read_bytes()
    assert segments(got)[XMP_HEADER[:6]] != segments(plain)[XMP_HEADER[:6]]       # replaced...
    x = exiftool(out / "plain.jpg")
    assert x["XMP-dc:Subject"] == "cat" and x["XMP-xmpMM:PreservedFileName"] == "plain.jpg"   # ...losing nothing
    kept = (out / "motion.jpg").read_bytes()
    assert segments(kept)[XMP_HEADER[:6]] == segments(motion)[XMP_HEADER[:6]]     # the video's directory stays
    assert exiftool(out / "motion.jpg")["XMP-GCamera:MotionPhoto"] == 1
    side = exiftool(out / "motion.jpg.xmp")
    assert side["XMP-dc:Subject"] == "cat" and side["XMP-xmpMM:PreservedFileName"] == "motion.jpg"
    assert scan_data(got) == scan_data(plain) and scan_data(kept) == scan_data(motion)


def test_a_tgz_export_is_streamed_out(trove, tmp_path):
    parts = tf.takeout(str(tmp_path / "e"), [{Y + "IMG_1.jpg": BEACH, Y + "IMG_1.jpg.json": tf.sidecar("IMG_1.jpg"),
                                             Y + "IMG_2.png": CHART, Y + "IMG_2.png.json": tf.sidecar("IMG_2.png")},
                                            {Y + "VID_3.mp4": VIDEO}], fmt="tgz")
    trove("ingest", "takeout", *parts, "--no-embed")
    out = tmp_path / "out"
    export(trove, out, "--layout", "source")
    got = tree(out)
    assert sorted(got) == ["Photos from 2019/IMG_1.jpg", "Photos from 2019/IMG_2.png", "Photos from 2019/IMG_2.png.xmp",
                           "Photos from 2019/VID_3.mp4", "Photos from 2019/VID_3.mp4.xmp"]
    assert scan_data(got["Photos from 2019/IMG_1.jpg"]) == scan_data(BEACH)
    assert got["Photos from 2019/IMG_2.png"] == CHART and got["Photos from 2019/VID_3.mp4"] == VIDEO


def test_a_manifest_line_cut_short_does_not_swallow_the_next(tmp_path):
    from phototrove.output.manifest import ManifestLog, read_manifest

    (tmp_path / EXPORT_MANIFEST).write_text('{"key": "a", "file": "a.jpg"}\n{"key": "b", "fi')   # a kill mid-line
    with ManifestLog(str(tmp_path), EXPORT_MANIFEST) as log:
        log.add({"key": "c", "file": "c.jpg"})
    assert sorted(read_manifest(str(tmp_path), EXPORT_MANIFEST)) == ["a", "c"]


def test_names_are_safe_everywhere():
    from phototrove.output.naming import Names, pair_stems, safe_part

    assert safe_part("CON.jpg") == "_CON.jpg" and safe_part("lpt1") == "_lpt1" and safe_part("a:b?.jpg") == "a_b_.jpg"
    assert safe_part("trailing. ") == "trailing" and safe_part("caf\udce9.jpg") == "caf\ufffd.jpg"
    assert safe_part("x" * 300 + ".jpeg").endswith("x.jpeg") and len(safe_part("x" * 300 + ".jpeg")) == 200
    names = Names(["A/IMG.jpg"])
    assert names.claim(["a"], "img", ".JPG") == "a/img-2.JPG"           # case-insensitive, as macOS/Windows
    assert names.claim(["a"], "x", ".png", (".xmp",)) == "a/x.png"
    names.keep("a/y.png.xmp")
    assert names.claim(["a"], "y", ".png", (".xmp",)) == "a/y-2.png"    # its sidecar's name is taken
    assert pair_stems([("f", "IMG_1", ".jpg", ".CR2"), ("f", "IMG_1", ".jpg", ".JPG"), ("g", "IMG_1", ".jpg", ".CR2")]) \
        == ["IMG_1_CR2", "IMG_1_JPG", "IMG_1"]


def test_streamed_zips_stored_or_deflated_give_the_same_bytes(trove, tmp_path):
    """Zips written in streaming mode (data descriptors, no sizes in the local headers), members
    stored (copied from the archive by the kernel) or deflated (inflated as they are written)."""
    e = tmp_path / "e"
    e.mkdir()
    side = json.dumps(tf.sidecar("IMG_1.jpg"))
    tf.write_streamed_zip(str(e / "takeout-20240712T112341Z-001.zip"), [
        ("Takeout/Google Photos/" + Y + "IMG_1.jpg", BEACH, zipfile.ZIP_STORED),
        ("Takeout/Google Photos/" + Y + "IMG_1.jpg.json", side, zipfile.ZIP_DEFLATED),
        ("Takeout/Google Photos/" + Y + "IMG_2.jpg", NO_EXIF, zipfile.ZIP_DEFLATED),
        ("Takeout/Google Photos/" + Y + "IMG_3.png", CHART, zipfile.ZIP_DEFLATED)])
    trove("ingest", "takeout", str(e), "--no-embed")
    plain, meta = tmp_path / "plain", tmp_path / "meta"
    export(trove, plain, "--no-metadata", "--layout", "flat")
    assert tree(plain) == {"IMG_1.jpg": BEACH, "IMG_2.jpg": NO_EXIF, "IMG_3.png": CHART}
    export(trove, meta, "--layout", "flat")
    got = tree(meta)
    assert scan_data(got["IMG_1.jpg"]) == scan_data(BEACH) and scan_data(got["IMG_2.jpg"]) == scan_data(NO_EXIF)
    assert exif_payload(got["IMG_1.jpg"]) == exif_payload(BEACH) and got["IMG_3.png"] == CHART


def test_a_member_damaged_since_the_ingest_is_one_error_line(trove, tmp_path):
    parts = tf.takeout(str(tmp_path / "e"), [{Y + "IMG_1.jpg": BEACH, Y + "IMG_2.jpg": NO_EXIF}])
    trove("ingest", "takeout", *parts, "--no-embed")
    with zipfile.ZipFile(parts[0]) as z:
        zi = z.getinfo("Takeout/Google Photos/" + Y + "IMG_2.jpg")
    with open(parts[0], "r+b") as f:     # one byte of its image data flipped, the archive's size kept
        f.seek(zi.header_offset + 30 + len(zi.filename) + len(zi.extra) + len(NO_EXIF) - 100)
        b = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([b[0] ^ 0xFF]))
    r = trove("export", str(tmp_path / "out"), "--layout", "flat", code=1, quiet=False)
    [line] = r.stderr.strip().splitlines()
    assert line.startswith("error: ") and "IMG_2.jpg" in line and "damaged" in line, line
    assert sorted(tree(tmp_path / "out")) == ["IMG_1.jpg"]


def test_a_member_replaced_since_the_ingest_is_not_written_as_the_photo(trove, tmp_path):
    parts = tf.takeout(str(tmp_path / "e"), [{Y + "IMG_1.jpg": BEACH, Y + "IMG_2.jpg": NO_EXIF}])
    trove("ingest", "takeout", *parts, "--no-embed")
    tf.takeout(str(tmp_path / "e"), [{Y + "IMG_1.jpg": BEACH, Y + "IMG_2.jpg": OTHER_0002}])   # the same names
    r = trove("export", str(tmp_path / "out"), "--layout", "flat", code=1, quiet=False)
    [line] = r.stderr.strip().splitlines()
    assert line.startswith("skipped: ") and "IMG_2.jpg" in line and "changed since the last ingest" in line, line
    assert sorted(tree(tmp_path / "out")) == ["IMG_1.jpg"]
