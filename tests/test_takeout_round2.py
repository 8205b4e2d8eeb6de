"""Takeout, round two (issue 12), through real zip/tgz/folder exports and the real CLI: every file
Google exports (RAW, video, files named oddly), product JSON, year-named albums, the date order,
trash and archive, one sidecar precedence whatever the entry order, streamed zips cut short, and
sources that can be listed and removed."""
from __future__ import annotations

import json
import os
import sys
import zipfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
import media_fixtures as mf  # noqa: E402
import takeout_fixtures as tf  # noqa: E402

from photos import jpeg  # noqa: E402

Y = "Photos from 2019/"
PHOTOS = tf.PHOTOS
COLOUR = "colour_embedder:make"


def ingest(trove, *paths, code=0, extra=("--no-embed",)) -> dict:
    [line] = trove.json_lines("ingest", "takeout", *map(str, paths), *extra, code=code)
    return line


def listed(trove) -> dict[str, dict]:
    """list --json by the primary location's name."""
    return {os.path.basename(p["path"].split("!")[-1]): p for p in trove.json_lines("list")}


def zip_entries(path: str) -> list[str]:
    with zipfile.ZipFile(path) as zf:
        return [zi.filename for zi in zf.infolist() if not zi.is_dir()]


# -- 1. every media type Google stores ----------------------------------------------------------------
RAWS = {"IMG_0001.CR2": mf.tiff_raw(".cr2", 1), "DSC_0002.NEF": mf.tiff_raw(".nef", 2),
        "_DSC0003.ARW": mf.tiff_raw(".arw", 3), "DSCF0004.RAF": mf.raf(4), "P1000005.RW2": mf.tiff_raw(".rw2", 5),
        "P7040006.ORF": mf.tiff_raw(".orf", 6), "IMG_0007.CR3": mf.cr3(7), "IMGP0008.PEF": mf.tiff_raw(".pef", 8),
        "SAM_0009.SRW": mf.tiff_raw(".srw", 9), "PXL_20230101_101010123.RAW-01.COVER.dng": mf.tiff_raw(".dng", 10)}
VIDEOS = {f"VID_{i:04d}{ext.upper()}": mf.video(ext, i) for i, ext in enumerate(mf.VIDEO_FORMATS)}


def test_raw_and_video_of_every_kind_are_catalogued_matched_and_deduplicated(tmp_path, trove):
    files: dict = {}
    for name, data in {**RAWS, **VIDEOS}.items():
        files[Y + name] = data
        files[Y + name + ".supplemental-metadata.json"] = tf.sidecar(name, description=f"about {name}")
    files["Trip/metadata.json"] = tf.album("Trip")
    files["Trip/DSC_0002.NEF"] = RAWS["DSC_0002.NEF"]          # the same RAW in an album
    files["Trip/DSC_0002.NEF.json"] = tf.sidecar("DSC_0002.NEF")
    parts = tf.takeout(str(tmp_path / "e"), [dict(list(files.items())[0::2]), dict(list(files.items())[1::2])])
    r = ingest(trove, *parts)["report"]
    assert r["sidecars_unused"] == [] and r["media_unmatched"] == []       # no "archive part missing?"
    assert (r["raw"], r["videos"], r["photos"]) == (len(RAWS), len(VIDEOS), 0)
    assert r["duplicates_collapsed"] == 1
    got = listed(trove)
    for name in RAWS:
        assert got[name]["media"] == "raw" and got[name]["description"] == f"about {name}", name
    assert got["PXL_20230101_101010123.RAW-01.COVER.dng"]["format"] == "DNG"
    for name in VIDEOS:
        assert got[name]["media"] == "video" and got[name]["description"] == f"about {name}", name
    nef = got["DSC_0002.NEF"]
    assert len(nef["locations"]) == 2 and nef["albums"] == ["Trip"]
    assert r["files"] == {**r["files"], "media": len(RAWS) + len(VIDEOS) + 1, "sidecars": len(RAWS) + len(VIDEOS) + 1,
                          "album_json": 1, "listed": 2 * (len(RAWS) + len(VIDEOS) + 1) + 1}


# -- 2. files whose name does not say what they are -----------------------------------------------------
ODD = {
    "MVIMG_20190101_120000": mf.video(".mp4", 21),              # extension-less motion-photo video
    "IMG_20190714_103000_LONG_EXPOSURE_COVER_0.jp": jpeg(seed=22),  # an extension clipped by Google
    "VID_20190714.MV": mf.video(".mov", 23),                    # an extension nobody lists
    "20190714_103000": jpeg(seed=24),                           # a photo with no extension at all
    "notes.txt": b"remember the milk\n",
    "DSC_0099.nef~": b"",                                       # an editor's empty backup file
    "scan.pdf": b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n",
}


@pytest.mark.parametrize("form", ["zip", "tgz", "folder"])
def test_unknown_files_are_sniffed_and_the_rest_listed_with_why(tmp_path, trove, form):
    entries = [(PHOTOS + Y + name, data) for name, data in ODD.items()]
    entries += [("Takeout/Google Photos/" + Y + "MVIMG_20190101_120000.jpg", jpeg(seed=25)),
                ("Takeout/Google Photos/" + Y + "MVIMG_20190101_120000.jpg.json", tf.sidecar("MVIMG_20190101_120000.jpg")),
                ("Takeout/Google Photos/.DS_Store", b"\x00\x00\x00\x01Bud1")]
    if form == "zip":
        paths = [tf.write_zip(str(tmp_path / "takeout-20240101T000000Z-001.zip"), entries)]
    elif form == "tgz":
        paths = [tf.write_tgz(str(tmp_path / "takeout-20240101T000000Z-001.tgz"), entries)]
    else:
        paths = [tf.write_folder(str(tmp_path / "export"), entries)]
    r = ingest(trove, *paths)["report"]
    got = listed(trove)
    assert got["MVIMG_20190101_120000"]["media"] == "video" and got["MVIMG_20190101_120000"]["format"] == "MP4"
    assert got["MVIMG_20190101_120000"]["live_of"] == got["MVIMG_20190101_120000.jpg"]["id"]
    assert got["VID_20190714.MV"]["media"] == "video" and got["VID_20190714.MV"]["format"] == "MOV"
    for name in ("IMG_20190714_103000_LONG_EXPOSURE_COVER_0.jp", "20190714_103000"):
        assert got[name]["media"] == "image" and got[name]["format"] == "JPEG" and got[name]["width"] == 64
    causes = {os.path.basename(s["path"]): s["cause"] for s in r["not_media"]}
    assert causes == {"notes.txt": "not a photo or video: text", "DSC_0099.nef~": "not a photo or video: an empty file",
                      "scan.pdf": "not a photo or video: a PDF document"}
    f = r["files"]
    assert (f["media"], f["sidecars"], f["not_media"]) == (5, 1, 3)
    assert f["listed"] == sum(v for k, v in f.items() if k != "listed")
    if form != "folder":   # (a folder's dot files are not listed at all)
        assert f["system"] == 1 and f["listed"] == len(entries)
    text = trove("status", "--source", "1").stdout
    assert "skipped: Google Photos/Photos from 2019/notes.txt (not a photo or video: text)" in text


# -- 3. product JSON ------------------------------------------------------------------------------------
def test_product_json_is_ignored_by_content_and_counted(tmp_path, trove):
    parts = tf.takeout(str(tmp_path / "e"), [{
        "print-order.json": {"orders": [{"orderId": "PO-1", "items": [{"photo": "IMG_1.jpg", "copies": 2}]}]},
        "user-generated-memory-titles.json": {"title": "Summer with the kids"},
        "Shared album/metadata.json": tf.album("Shared album"),
        "Shared album/shared_album_comments.json": [{"text": "Lovely!", "author": "Ann"}],
        "Shared album/IMG_1.jpg": jpeg(seed=31), "Shared album/IMG_1.jpg.json": tf.sidecar("IMG_1.jpg"),
        "Untitled(3)/user-generated-memory-titles.json": {"title": "A memory"},
        "Untitled(3)/IMG_2.jpg": jpeg(seed=32),
    }])
    r = ingest(trove, *parts)["report"]
    assert r["sidecars_unused"] == [] and r["files"]["other_json"] == 4 and r["files"]["album_json"] == 1
    assert sorted(os.path.basename(p) for p in r["other_json"]) == [
        "print-order.json", "shared_album_comments.json", "user-generated-memory-titles.json",
        "user-generated-memory-titles.json"]
    got = listed(trove)
    assert got["IMG_1.jpg"]["albums"] == ["Shared album"]
    assert got["IMG_2.jpg"]["albums"] == ["Untitled(3)"]      # the memory title is not an album's title
    assert "4 other JSON ignored" in trove("status", "--source", "1").stdout


# -- 4. year folders are Google's only ------------------------------------------------------------------
@pytest.mark.parametrize("folder", ["Family Photos 2021", "2022 Vacation", "Christmas_2020_Photos",
                                    "2019-Summer-Trip", "Photos from 2023 (Backup)", "2019", "Summer 2019"])
def test_year_named_folders_are_albums(tmp_path, trove, folder):
    parts = tf.takeout(str(tmp_path / "e"), [{folder + "/IMG_1.jpg": jpeg(seed=41),
                                              folder + "/IMG_1.jpg.json": tf.sidecar("IMG_1.jpg"),
                                              "Photos from 2021/IMG_1.jpg": jpeg(seed=41),
                                              "Photos from 2021/IMG_1.jpg.json": tf.sidecar("IMG_1.jpg")}])
    ingest(trove, *parts)
    [p] = trove.json_lines("list")
    assert p["albums"] == [folder]
    assert "/Photos from 2021/" in p["path"]   # the year folder's copy is the primary one


@pytest.mark.parametrize("folder", ["Photos from 2019", "Fotos von 2019", "Fotos de 2019", "Photos de 2019",
                                    "Foto del 2019", "Foto's uit 2019", "Zdjęcia z 2019", "Фото за 2019 г.",
                                    "Photos\u00a0from 2019", "2019 年の写真", "2005-02-05"])
def test_googles_year_and_day_folders_are_no_albums(tmp_path, trove, folder):
    parts = tf.takeout(str(tmp_path / "e"), [{folder + "/IMG_1.jpg": jpeg(seed=42),
                                              folder + "/IMG_1.jpg.json": tf.sidecar("IMG_1.jpg")}])
    r = ingest(trove, *parts)["report"]
    [p] = trove.json_lines("list")
    assert p["albums"] == [] and r["albums"] == []


# -- 5. the date order ----------------------------------------------------------------------------------
def test_upload_time_comes_last_and_an_edited_date_wins(tmp_path, trove):
    t_exif = 1563100200          # 2019-07-14 10:30:00 UTC; the EXIF says 12:30 local (UTC+2)
    parts = tf.takeout(str(tmp_path / "e"), [{
        Y + "exif.jpg": tf.jpeg(51, taken="2019:07:14 12:30:00"),
        Y + "exif.jpg.json": tf.sidecar("exif.jpg", taken=None, created=1700000000),
        Y + "IMG_20180301_081500.jpg": tf.jpeg(52, taken=None),
        Y + "IMG_20180301_081500.jpg.json": tf.sidecar("IMG_20180301_081500.jpg", taken="0", created=1700000000),
        Y + "upload.jpg": tf.jpeg(53, taken=None),
        Y + "upload.jpg.json": tf.sidecar("upload.jpg", taken="", created=1700000000),
        Y + "agree.jpg": tf.jpeg(54, taken="2019:07:14 12:30:00"),
        Y + "agree.jpg.json": tf.sidecar("agree.jpg", taken=t_exif),
        Y + "edited.jpg": tf.jpeg(55, taken="2019:07:14 12:30:00"),
        Y + "edited.jpg.json": tf.sidecar("edited.jpg", taken=946729800),   # changed to 2000-01-01 12:30 UTC
    }])
    ingest(trove, *parts)
    got = listed(trove)
    when = {n: (p["taken_at"], p["date_source"]) for n, p in got.items()}
    assert when["exif.jpg"] == ("2019-07-14T12:30:00", "exif")
    assert when["IMG_20180301_081500.jpg"] == ("2018-03-01T08:15:00", "filename")
    assert when["upload.jpg"] == ("2023-11-14T22:13:20", "takeout-upload")   # said to be an upload time
    assert when["agree.jpg"] == ("2019-07-14T12:30:00", "exif") and got["agree.jpg"]["utc_offset"] == "+02:00"
    assert got["edited.jpg"]["date_source"] == "takeout" and got["edited.jpg"]["taken_utc"] == "2000-01-01T12:30:00Z"


# -- 6. trash, archive, locked folder, partner sharing --------------------------------------------------
def flagged_export(tmp_path) -> list[str]:
    red, green, blue, yellow = (jpeg(seed=61, color=(220, 30, 30)), jpeg(seed=62, color=(30, 200, 40)),
                                jpeg(seed=63, color=(30, 40, 220)), jpeg(seed=64, color=(230, 220, 30)))
    cyan, magenta = jpeg(seed=65, color=(30, 210, 210)), jpeg(seed=66, color=(220, 30, 220))
    return tf.takeout(str(tmp_path / "e"), [{
        "Photos from 2020/green.jpg": green, "Photos from 2020/green.jpg.json": tf.sidecar("green.jpg"),
        "Trash/red.jpg": red, "Trash/red.jpg.json": tf.sidecar("red.jpg", trashed=True),
        "Bin/magenta.jpg": magenta,                                   # the trash by name, no sidecar
        "Trash/green.jpg": green, "Trash/green.jpg.json": tf.sidecar("green.jpg", trashed=True),
        "Photos from 2020/blue.jpg": blue, "Photos from 2020/blue.jpg.json": tf.sidecar("blue.jpg", archived=True),
        "Locked Folder/yellow.jpg": yellow,
        "Photos from 2020/cyan.jpg": cyan,
        "Photos from 2020/cyan.jpg.json": tf.sidecar("cyan.jpg", googlePhotosOrigin={"fromPartnerSharing": {}}),
    }])


def test_flags_are_kept_and_trash_is_left_out_unless_asked_for(tmp_path, trove):
    s = ingest(trove, *flagged_export(tmp_path), extra=("--model", COLOUR))
    got = listed(trove)
    flags = {n: [f for f in ("trashed", "archived", "locked", "partner") if p[f]] for n, p in got.items()}
    assert flags == {"green.jpg": [], "red.jpg": ["trashed"], "magenta.jpg": ["trashed"], "blue.jpg": ["archived"],
                     "yellow.jpg": ["locked"], "cyan.jpg": ["partner"]}   # green is also outside the trash
    assert s["report"]["flagged"] == {"trashed": 2, "archived": 1, "locked": 1, "partner": 1}

    def names(*args):
        return [os.path.basename(r["shown_path"].split("!")[-1])
                for r in trove.json_lines("search", *args, "--limit", "20")]
    assert "red.jpg" not in names("red") and "magenta.jpg" not in names("red")
    assert names("red", "--include-trashed")[0] == "red.jpg"
    assert set(names("red", "--trashed")) == {"red.jpg", "magenta.jpg"}
    assert names("red", "--archived") == ["blue.jpg"] and names("red", "--partner") == ["cyan.jpg"]
    table = trove("search", "red", "--include-trashed", "--limit", "3").stdout
    assert "[trashed]" in table.splitlines()[1]
    similar = trove.json_lines("similar", str(got["magenta.jpg"]["id"]), "--limit", "20")
    assert "red.jpg" not in {os.path.basename(r["shown_path"]) for r in similar}
    assert trove("search", "red", "--trashed", "--archived", code=2).stderr.strip() == \
        "trove: no photo matches --trashed --archived"
    page = trove("report", "--out", str(tmp_path / "g.html")).stdout.strip()
    html = Path(page).read_text()
    assert "green.jpg" in html and "red.jpg" not in html and "magenta.jpg" not in html
    html = Path(trove("report", "--include-trashed", "--out", str(tmp_path / "t.html")).stdout.strip()).read_text()
    assert "red.jpg" in html and '<span class="flag">trashed</span>' in html


# -- 7. one precedence, whatever the form and entry order ---------------------------------------------
def precedence_export() -> list[tuple[str, object]]:
    return [(PHOTOS + n, c) for n, c in {
        Y + "IMG_1.jpg": jpeg(seed=71),
        Y + "IMG_1.jpg.json": tf.sidecar("IMG_1.jpg", description="old export"),
        Y + "IMG_1.jpg.supplemental-metadata.json": tf.sidecar("IMG_1.jpg", description="new export"),
        Y + "IMG_2.jpg": jpeg(seed=72),
        Y + "IMG_2.jpg.supplemental-metadata.json": tf.sidecar("IMG_2.jpg", description="full name"),
        Y + "IMG_2.jpg.supplemental-metad.json": tf.sidecar("IMG_2.jpg", description="clipped"),
        Y + "PXL_1.jpg": jpeg(seed=73), Y + "PXL_1.jpg.json": tf.sidecar("PXL_1.jpg"),
        Y + "PXL_1.mp4": mf.video(".mp4", 74), Y + "PXL_1.MP4": mf.video(".mp4", 75),
        "A/metadata.json": tf.album("A"), "A/IMG_1.jpg": jpeg(seed=71),
        "A/metadata(1).json": tf.album("A (other)"),
        "B/metadata.json": tf.album("B"), "B/IMG_1.jpg": jpeg(seed=71), "B/IMG_2.jpg": jpeg(seed=72),
    }.items()]


def normalized(trove) -> list[dict]:
    """list --json with every location named by its path below Takeout/ (the form's own prefix gone)."""
    def below(loc):
        name = (loc.get("entry") or loc["path"]).replace(os.sep, "/")
        return name[name.index("Takeout/"):]
    out = []
    for p in trove.json_lines("list"):
        keep = {k: p[k] for k in ("hash", "media", "taken_at", "utc_offset", "title", "description", "albums",
                                  "keywords", "people", "width", "height", "favorite", "trashed", "live_of")}
        keep["live_of"] = keep["live_of"] is not None
        keep["locations"] = [below(loc) for loc in p["locations"]]
        keep["meta"] = p["meta"]
        out.append(keep)
    return sorted(out, key=lambda p: p["hash"])


def test_three_forms_and_two_entry_orders_read_alike(tmp_path, tmp_path_factory):
    from conftest import Trove

    entries = precedence_export()
    runs = []
    for order, es in (("forward", entries), ("backward", entries[::-1])):
        for form in ("zip", "tgz", "folder"):
            where = tmp_path / f"{form}-{order}"
            where.mkdir()
            if form == "zip":
                path = tf.write_zip(str(where / "takeout-20240101T000000Z-001.zip"), es)
            elif form == "tgz":
                path = tf.write_tgz(str(where / "takeout-20240101T000000Z-001.tgz"), es)
            else:
                path = tf.write_folder(str(where / "Takeout-extracted"), es)
            trove = Trove(tmp_path_factory.mktemp("lib"))
            r = ingest(trove, path)["report"]
            runs.append((form, order, normalized(trove), sorted(u["path"] for u in r["sidecars_unused"])))
    first = runs[0]
    for form, order, got, unused in runs[1:]:
        assert got == first[2], (form, order)
        assert unused == first[3], (form, order)
    by_desc = {p["description"] for p in first[2]}
    assert {"new export", "full name"} <= by_desc and not {"old export", "clipped"} & by_desc
    img1 = next(p for p in first[2] if p["description"] == "new export")
    assert img1["albums"] == ["A", "B"] and img1["locations"][0].endswith(Y + "IMG_1.jpg")
    assert first[3] == [PHOTOS[len("Takeout/"):] + Y + "IMG_1.jpg.json",
                        PHOTOS[len("Takeout/"):] + Y + "IMG_2.jpg.supplemental-metad.json"]


def test_the_losing_sidecar_is_said_to_have_lost(tmp_path, trove):
    path = tf.write_zip(str(tmp_path / "takeout-20240101T000000Z-001.zip"), precedence_export())
    r = ingest(trove, path)["report"]
    causes = {os.path.basename(u["path"]): u["cause"] for u in r["sidecars_unused"]}
    assert causes["IMG_1.jpg.json"] == ("a second sidecar for the same photo; "
                                        "IMG_1.jpg.supplemental-metadata.json was used (fixed precedence)")


# -- 8. streamed zips cut short -------------------------------------------------------------------------
def streamed_zip(path: Path, members: list[tuple[str, bytes, int]], *, zip64: bool = False) -> list[tuple[str, int]]:
    """Write a streamed zip; returns (member name, offset where the member's descriptor ends)."""
    tf.write_streamed_zip(str(path), members, zip64=zip64)
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        ends = [i.header_offset for i in infos[1:]] + [zf.start_dir]
    assert all(i.flag_bits & 8 for i in infos)
    return [(i.filename, end) for i, end in zip(infos, ends)]


def streamed_members() -> list[tuple[str, bytes, int]]:
    out = []
    for i in range(8):
        name = f"IMG_{i:04d}.jpg"
        data = jpeg(seed=80 + i, w=96, h=64) + b"PK\x07\x08PK\x03\x04" * (i % 3)  # signatures inside the data
        method = zipfile.ZIP_STORED if i % 2 else zipfile.ZIP_DEFLATED
        out.append((PHOTOS + Y + name, data, method))
        out.append((PHOTOS + Y + name + ".json", json.dumps(tf.sidecar(name)).encode(), zipfile.ZIP_DEFLATED))
    out.append((PHOTOS + Y + "clip.mp4", mf.video(".mp4", 89), zipfile.ZIP_STORED))
    return out


@pytest.mark.parametrize("zip64", [False, True])
def test_a_cut_streamed_zip_gives_every_member_before_the_cut(tmp_path, zip64):
    from conftest import Trove

    intact = tmp_path / "intact.zip"
    ends = streamed_zip(intact, streamed_members(), zip64=zip64)
    data = intact.read_bytes()
    media = [n for n, _ in ends if not n.endswith(".json")]
    cuts = [ends[3][1], ends[3][1] + 1, ends[8][1] - 3, (ends[10][1] + ends[11][1]) // 2, len(data) - 10, len(data)]
    for cut in cuts:
        part = tmp_path / f"cut{cut}" / "takeout-20240101T000000Z-001.zip"
        part.parent.mkdir()
        part.write_bytes(data[:cut])
        trove = Trove(tmp_path / f"lib{cut}")
        ingest(trove, part, code=0 if cut == len(data) else 1)
        complete = {n for n, end in ends if end <= cut}
        got = {p["locations"][0]["entry"] for p in trove.json_lines("list")}
        assert got == {n for n in media if n in complete}, cut
        for p in trove.json_lines("list"):
            entry = p["locations"][0]["entry"]
            if p["media"] == "image":   # read whole, with its sidecar when that was before the cut too
                assert p["width"] == 96
                assert p["title"] == (os.path.basename(entry) if entry + ".json" in complete else None)
        if cut < len(data):
            for again in (False, True):   # a second run finds the same problem again, and keeps saying it
                if again:
                    ingest(trove, part, code=1)
                errors = trove.json_lines("status", "--errors")
                assert [e["kind"] for e in errors] == ["truncated"]
                assert f"read the {len(complete)} complete members" in errors[0]["message"]


def test_a_damaged_member_of_a_cut_streamed_zip_fails_its_crc_alone(tmp_path, trove):
    intact = tmp_path / "intact.zip"
    members = streamed_members()
    ends = streamed_zip(intact, members)
    data = bytearray(intact.read_bytes()[:ends[12][1] + 5])
    stored = next(i for i, (n, _, m) in enumerate(members) if m == zipfile.ZIP_STORED and n.endswith(".jpg"))
    deflated = next(i for i, (n, _, m) in enumerate(members) if m == zipfile.ZIP_DEFLATED and n.endswith(".jpg"))
    for i in (stored, deflated):
        start = ends[i - 1][1] if i else 0
        data[start + 30 + len(members[i][0]) + 200] ^= 0xFF   # a byte of the member's data
    part = tmp_path / "e" / "takeout-20240101T000000Z-001.zip"
    part.parent.mkdir()
    part.write_bytes(bytes(data))
    ingest(trove, part, code=1)
    errors = {os.path.basename(e["path"].split("!")[-1]): e for e in trove.json_lines("status", "--errors")}
    for i in (stored, deflated):
        name = os.path.basename(members[i][0])
        assert errors[name]["kind"] == "corrupt", errors[name]
    got = {os.path.basename(p["locations"][0]["entry"]) for p in trove.json_lines("list")}
    assert got == {os.path.basename(n) for n, _, _ in members[:13] if n.endswith(".jpg")} - {
        os.path.basename(members[stored][0]), os.path.basename(members[deflated][0])}


# -- 9. sources --------------------------------------------------------------------------------------
def test_a_zip_that_is_no_takeout_leaves_no_source(tmp_path, trove):
    z = tf.write_zip(str(tmp_path / "holiday.zip"), [("DCIM/IMG_1.jpg", jpeg(seed=91))])
    r = trove("ingest", "takeout", z, "--no-embed", code=1)   # (quiet: the reason is in the summary itself)
    assert r.stdout.splitlines() == [f"takeout {tmp_path}: nothing to catalogue in it, so it was not added as a "
                                     f"source:", f"  {z}: not a Google Takeout export (no Takeout/ folder and no "
                                     "photo sidecars): skipped; use `trove ingest folder`"]
    assert trove.json_lines("sources") == []


def test_sources_list_and_remove(tmp_path, trove):
    shared, only_takeout = jpeg(seed=92, color=(220, 30, 30)), jpeg(seed=93, color=(30, 40, 220))
    parts = tf.takeout(str(tmp_path / "e"), [{"Trip/metadata.json": tf.album("Trip"), "Trip/shared.jpg": shared,
                                              "Trip/shared.jpg.json": tf.sidecar("shared.jpg", description="from Google"),
                                              Y + "blue.jpg": only_takeout}])
    folder = tmp_path / "pics"
    folder.mkdir()
    (folder / "red.jpg").write_bytes(shared)
    ingest(trove, *parts, extra=("--model", COLOUR))
    trove("ingest", "folder", folder, "--model", COLOUR)
    rows = trove.json_lines("sources")
    assert [(s["id"], s["kind"], s["photos"]) for s in rows] == [(1, "takeout", 2), (2, "folder", 1)]
    assert "takeout" in trove("sources").stdout.splitlines()[1]
    assert "--yes" in trove("sources", "remove", "1", code=2).stderr     # never without being asked
    out = trove.json_lines("sources", "remove", "1", "--yes")[0]
    assert (out["photos"], out["only_here"], out["photos_dropped"], out["index_removed"]) == (2, 1, 1, 1)
    [p] = trove.json_lines("list")
    assert [loc["source"] for loc in p["locations"]] == ["folder"]
    assert p["albums"] == [] and p["description"] is None and "takeout" not in p["meta"]
    status = trove.json_lines("status")[0]
    assert status["embeddings"][COLOUR_ID]["indexed"] == 1 and [s["id"] for s in status["sources"]] == [2]
    assert [os.path.basename(r["shown_path"]) for r in trove.json_lines("search", "blue")] == ["red.jpg"]
    assert all(os.path.exists(p) for p in parts)                          # nothing on disk touched
    assert trove("sources", "remove", "7", "--yes", code=2).stderr.startswith("trove: no source 7")


COLOUR_ID = "test-colour-v1"


# -- all of it at once ------------------------------------------------------------------------------
def test_a_real_multi_part_export_is_accounted_for_file_by_file(tmp_path, trove):
    """Three parts (a zip, a .tgz and a streamed zip cut short) holding RAW, video, trash, year-named
    albums, product JSON and odd files: every file listed lands in exactly one count of the report."""
    P = "Takeout/Google Photos/"
    part1 = [(P + Y + "IMG_0001.CR2", RAWS["IMG_0001.CR2"]), (P + Y + "IMG_0001.jpg", jpeg(seed=101)),
             (P + Y + "IMG_0001.CR2.supplemental-metadata.json", tf.sidecar("IMG_0001.CR2")),
             (P + "Trash/VID_0002.MP4", VIDEOS["VID_0000.MP4"]),
             (P + "Trash/VID_0002.MP4.json", tf.sidecar("VID_0002.MP4", trashed=True)),
             (P + "Family Photos 2021/IMG_0001.jpg", jpeg(seed=101)),
             (P + "print-order.json", {"orders": []}), ("Takeout/archive_browser.html", b"<!DOCTYPE html><html>"),
             ("Takeout/Drive/My Drive/report.docx", b"PK\x03\x04docx")]
    part2 = [(P + Y + "IMG_0001.jpg.json", tf.sidecar("IMG_0001.jpg", description="beach")),
             (P + "2019-Summer-Trip/DSC_0003.NEF", RAWS["DSC_0002.NEF"]),
             (P + "2019-Summer-Trip/DSC_0003.NEF.json", tf.sidecar("DSC_0003.NEF")),
             (P + Y + "MVIMG_20190101_120000", mf.video(".mp4", 102)), (P + Y + "notes.txt", b"hello\n"),
             (P + ".DS_Store", b"\x00\x00\x00\x01Bud1")]
    part3 = [(P + Y + f"PXL_2019070{i}_101010.jpg", jpeg(seed=110 + i), zipfile.ZIP_STORED if i % 2 else
              zipfile.ZIP_DEFLATED) for i in range(6)] + [(P + Y + "VID_0009.MOV", mf.video(".mov", 120), 0)]
    out = tmp_path / "export"
    out.mkdir()
    p1 = tf.write_zip(str(out / "takeout-20240101T000000Z-001.zip"), part1)
    p2 = tf.write_tgz(str(out / "takeout-20240101T000000Z-002.tgz"), part2)
    ends = streamed_zip(out / "whole.zip", part3)
    cut_at = (ends[4][1] + ends[5][1]) // 2       # inside the sixth member: five complete before the cut
    (out / "takeout-20240101T000000Z-003.zip").write_bytes((out / "whole.zip").read_bytes()[:cut_at])
    (out / "whole.zip").unlink()
    r = ingest(trove, p1, p2, str(out / "takeout-20240101T000000Z-003.zip"), code=1)["report"]
    f = r["files"]
    assert f["listed"] == len(part1) + len(part2) + 5
    assert f["listed"] == sum(v for k, v in f.items() if k != "listed")
    assert (f["media"], f["sidecars"], f["other_json"], f["other_products"], f["not_media"], f["system"]) == \
        (4 + 2 + 5, 4, 1, 1, 2, 1)
    assert {os.path.basename(s["path"]) for s in r["not_media"]} == {"archive_browser.html", "notes.txt"}
    assert (r["raw"], r["videos"], r["flagged"]["trashed"]) == (2, 2, 1)
    assert r["errors"] == {"discover/truncated": 1}
    got = listed(trove)
    assert got["IMG_0001.jpg"]["albums"] == ["Family Photos 2021"] and got["IMG_0001.jpg"]["description"] == "beach"
    assert got["DSC_0003.NEF"]["albums"] == ["2019-Summer-Trip"] and got["VID_0002.MP4"]["trashed"] == 1
    assert "files: 20 listed = 11 media + 4 sidecars + 1 other JSON ignored + 1 other Takeout products + " \
           "2 not media (skipped) + 1 system files" in trove("status", "--source", "1").stdout
