"""Camera RAW and video end to end (issue 13): a folder with RAW+JPEG pairs, a RAW alone, a DNG with
no preview (LibRaw), a video and a motion photo -> ingest with the colour embedder -> search shows
one result per stack and the video with its duration; RAW metadata, orientation and sidecars;
bad input; and what waits for an extra that is not installed."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
import dng_fixtures as dng  # noqa: E402
import media_fixtures as mf  # noqa: E402
import video_fixtures as vf  # noqa: E402

from photos import jpeg  # noqa: E402

COLOUR = "colour_embedder:make"


def by_name(trove) -> dict[str, dict]:
    return {os.path.basename(p["path"]): p for p in trove.json_lines("list")}


def search(trove, *args) -> list[dict]:
    return trove.json_lines("search", *args, "--limit", "50")


def shot(tmp_path) -> Path:
    """A photographer's folder: RAW+JPEG of one shot, a portrait RAW alone, a DNG without preview,
    a video, a motion photo and an XMP sidecar that belongs to a RAW."""
    d = tmp_path / "shoot"
    d.mkdir()
    (d / "IMG_0001.NEF").write_bytes(mf.tiff_raw_with_previews(".nef", 1, taken="2021:06:05 14:30:15"))
    (d / "IMG_0001.JPG").write_bytes(jpeg(seed=1, color=(200, 40, 40), taken="2021:06:05 14:30:16"))
    (d / "DSC_0002.NEF").write_bytes(mf.tiff_raw_with_previews(".nef", 2, orientation=6))
    (d / "linear.dng").write_bytes(dng.linear_dng())
    (d / "VID_0003.mp4").write_bytes(vf.mp4(3, rotation=90, seconds=3.0, size=(64, 48)))
    (d / "MVIMG_0004.jpg").write_bytes(dng.motion_photo(jpeg(seed=4, color=(30, 200, 40)), vf.mp4(4)))
    (d / "IMG_0005.CR2").write_bytes(mf.tiff_raw_with_previews(".cr2", 5))
    (d / "IMG_0005.JPG").write_bytes(jpeg(seed=5, color=(40, 40, 200)))
    (d / "IMG_0005.xmp").write_bytes(
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        b'<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:subject><rdf:Bag>'
        b'<rdf:li>picked in darktable</rdf:li></rdf:Bag></dc:subject></rdf:Description></rdf:RDF></x:xmpmeta>')
    return d


def test_a_shoot_round_trip_raw_video_stacks(tmp_path, trove):
    d = shot(tmp_path)
    s = trove.json_lines("ingest", "folder", d, "--model", COLOUR)[0]
    assert s["errors"] == 0, trove("status", "--errors").stdout
    got = by_name(trove)
    nef, jpg = got["IMG_0001.NEF"], got["IMG_0001.JPG"]
    assert (nef["media"], nef["format"], nef["camera"], nef["lens"]) == ("raw", "NEF", "NIKON Z 6", "24-70mm f/2.8")
    assert (nef["taken_at"], nef["utc_offset"], nef["date_source"]) == ("2021-06-05T14:30:15", "+02:00", "exif")
    assert nef["stack_id"] == jpg["id"] and jpg["stack"] == {"cover": jpg["id"], "members": [jpg["id"], nef["id"]]}
    portrait = got["DSC_0002.NEF"]
    assert portrait["height"] > portrait["width"] and portrait["orientation"] == 6
    vid = got["VID_0003.mp4"]
    assert vid["media"] == "video" and abs(vid["duration"] - 3.0) < 0.2 and vid["codec"] == "h264"
    assert (vid["width"], vid["height"]) == (48, 64)           # rotation applied
    assert got["MVIMG_0004.jpg"]["motion"] == 1
    assert got["IMG_0005.CR2"]["keywords"] == ["picked in darktable"] and got["IMG_0005.JPG"]["keywords"] == []
    assert set(got["linear.dng"]["embedded"]) == {"test-colour-v1"}   # developed by LibRaw: no preview
    assert all(p["embedded"] for p in got.values())

    hits = search(trove, "red")
    names = [os.path.basename(h["shown_path"]) for h in hits]
    assert "IMG_0001.JPG" in names and "IMG_0001.NEF" not in names      # one per stack, the JPEG covers
    first = hits[names.index("IMG_0001.JPG")]
    assert first["stack_size"] == 2
    every = [os.path.basename(h["shown_path"]) for h in search(trove, "red", "--no-stacks")]
    assert {"IMG_0001.JPG", "IMG_0001.NEF"} <= set(every) and len(every) == len(got)
    videos = search(trove, "red", "--media", "video")
    assert [os.path.basename(h["shown_path"]) for h in videos] == ["VID_0003.mp4"]
    assert videos[0]["duration"] == pytest.approx(3.0, abs=0.2)
    table = trove("search", "red", "--media", "video").stdout
    assert "[video 0:03]" in table
    photos_only = {os.path.basename(h["shown_path"]) for h in search(trove, "red", "--media", "photo")}
    assert "VID_0003.mp4" not in photos_only and "DSC_0002.NEF" in photos_only


def test_raw_thumbnails_and_model_input_are_upright(tmp_path, trove):
    d = tmp_path / "p"
    d.mkdir()
    (d / "DSC_0002.NEF").write_bytes(mf.tiff_raw_with_previews(".nef", 2, orientation=6))
    trove("ingest", "folder", d, "--model", COLOUR)
    page = Path(trove("report", "--out", str(tmp_path / "g.html")).stdout.strip())
    assert page.exists()
    from PIL import Image

    [thumb] = list((trove.library / "thumbs").rglob("*.jpg"))
    w, h = Image.open(thumb).size
    assert h > w   # the preview is stored landscape; the RAW says 6: shown portrait


def test_bad_raw_and_video_get_one_error_row_each(tmp_path, trove):
    d = tmp_path / "bad"
    d.mkdir()
    whole = mf.tiff_raw_with_previews(".nef", 7)
    (d / "cut.NEF").write_bytes(whole[:len(whole) // 2])
    (d / "text.NEF").write_bytes(b"this is not a raw file\n" * 20)
    video = vf.mp4(8, faststart=False, seconds=2.0)
    (d / "cut.mp4").write_bytes(video[:len(video) // 2])          # its index (moov) was at the end
    (d / "fine.NEF").write_bytes(mf.tiff_raw_with_previews(".nef", 9))
    r = trove.run("ingest", "folder", str(d), "--model", COLOUR)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    errors = {os.path.basename(e["path"]): e["kind"] for e in trove.json_lines("status", "--errors")}
    assert errors == {"cut.NEF": "truncated", "text.NEF": "not-an-image", "cut.mp4": "truncated"}
    assert list(by_name(trove)) == ["fine.NEF"]


def test_what_needs_an_extra_says_so_and_is_embedded_once_it_is_there(tmp_path, trove):
    d = tmp_path / "x"
    d.mkdir()
    (d / "linear.dng").write_bytes(dng.linear_dng())
    (d / "clip.mp4").write_bytes(vf.mp4(11, seconds=2.0))
    blocker = tmp_path / "no-extras"   # `import rawpy` and `import av` fail, as without the extras
    blocker.mkdir()
    for name in ("rawpy", "av"):
        (blocker / f"{name}.py").write_text("raise ImportError('not installed (test)')\n")
    env = {"PYTHONPATH": os.pathsep.join([str(blocker), trove.env()["PYTHONPATH"]])}
    r = trove.run("ingest", "folder", str(d), "--model", COLOUR, env=env)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    rows = trove.json_lines("status", "--errors")   # embed errors name the file in their message
    errors = {name: (e["kind"], e["message"]) for e in rows for name in ("linear.dng", "clip.mp4")
              if name in e["message"]}
    assert len(rows) == 2
    assert errors["linear.dng"][0] == "needs-raw-extra" and "phototrove[raw]" in errors["linear.dng"][1]
    assert errors["clip.mp4"][0] == "needs-video-extra" and "phototrove[video]" in errors["clip.mp4"][1]
    again = trove.run("ingest", "folder", str(d), "--model", COLOUR)   # the extras are there now
    assert again.returncode == 0, again.stderr
    assert trove.json_lines("status", "--errors") == []
    assert all(p["embedded"] for p in by_name(trove).values())


def test_a_raw_in_a_takeout_is_embedded_from_its_preview(tmp_path, trove):
    import takeout_fixtures as tf

    shot = 1622896215   # 2021-06-05 12:30:15 UTC: the CR2's 14:30:15 +02:00
    parts = tf.takeout(str(tmp_path / "e"), [{
        "Photos from 2021/IMG_0001.CR2": mf.tiff_raw_with_previews(".cr2", 21),
        "Photos from 2021/IMG_0001.CR2.json": tf.sidecar("IMG_0001.CR2", taken=shot),
        "Photos from 2021/IMG_0001.jpg": jpeg(seed=21, color=(200, 40, 40)),
        "Photos from 2021/IMG_0001.jpg.json": tf.sidecar("IMG_0001.jpg", taken=shot + 1),
        "Photos from 2021/VID_0002.mp4": vf.mp4(22, seconds=2.0),
        "Photos from 2021/VID_0002.mp4.json": tf.sidecar("VID_0002.mp4"),
    }])
    trove.json_lines("ingest", "takeout", *parts, "--model", COLOUR)
    got = {os.path.basename(p["path"].split("!")[-1]): p for p in trove.json_lines("list")}
    assert got["IMG_0001.CR2"]["embedded"] and got["VID_0002.mp4"]["embedded"]
    assert got["IMG_0001.CR2"]["stack_id"] == got["IMG_0001.jpg"]["id"]
