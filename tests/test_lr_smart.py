"""Smart Previews as another source of pixels: `recover` and `ingest` use whichever is larger and
complete, the standard preview or the Smart Preview (developed by LibRaw, written as a JPEG)."""
import io
import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from lrfix import lightroom
from phototrove.media.jpeg import scan_data
from phototrove.media.tiff import read_tiff

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
import smart_preview as sp  # noqa: E402

U = lightroom.uuid_of
IMG = {i.id: i for i in lightroom.IMAGES}
EXIFTOOL = shutil.which("exiftool")


@pytest.fixture
def lib(tmp_path):
    lib = lightroom.make_library(str(tmp_path / "lr"))
    smart = os.path.join(lib.folder, "Test Catalog Smart Previews.lrdata")
    # image 1 (and its virtual copy 3): 1707 x 2560 upright, stored turned as the catalog says (BC = 6)
    sp.write_smart_preview(smart, U(101), sp.smart_preview_dng(2560, 1707, seed=1, orientation=6))
    # image 7: only root-pixels.db's thumbnail among the standard previews
    sp.write_smart_preview(smart, U(107), sp.smart_preview_dng(1200, 800, seed=7))
    # image 4: a JPEG XL one (Lightroom Classic 13+), which LibRaw cannot develop
    data = bytearray(sp.smart_preview_dng(1280, 1024, seed=4, tile=256))
    _t, _c, at = read_tiff(bytes(data)).ifds[0].spans[259]
    data[at:at + 2] = struct.pack(">H", 52546)
    sp.write_smart_preview(smart, U(104), bytes(data))
    # image 5: cut short (a copy that did not finish)
    whole = sp.smart_preview_dng(1600, 1067, seed=5)
    sp.write_smart_preview(smart, U(105), whole[:len(whole) * 2 // 3])
    # a Smart Preview of a photo the catalog no longer has, with no standard preview at all
    sp.write_smart_preview(smart, U(0x555), sp.smart_preview_dng(640, 480, seed=9))
    lib.smart = smart
    return lib


def level(lib, image_id, index=-1):
    img = IMG[image_id]
    return lib.levels[(U(img.file), img.digest)][index]


def close_to(got: Image.Image, want: np.ndarray) -> float:
    """Mean absolute difference (0..255) between an image and the picture it should show."""
    got = np.asarray(got.convert("RGB").resize((want.shape[1], want.shape[0])), np.float64)
    return float(np.abs(got - want).mean())


def test_recover_uses_the_larger_smart_preview(trove, lib, tmp_path):
    out = tmp_path / "out"
    res = trove("recover", "lrprev", lib.lrdata, "--out", str(out), "--json", quiet=False)
    r = json.loads(res.stdout.splitlines()[-1])
    assert r["from_smart_previews"] == 3 and r["errors"] == 0, r      # images 1 and 7, the orphan
    assert r.get("images_without_preview", 0) == 0      # image 7 (thumbnail only) has a Smart Preview now
    assert any("JPEG XL" in x for x in res.stderr.splitlines()), res.stderr
    assert any(U(105) in x and "warning:" in x for x in res.stderr.splitlines()), res.stderr
    raw = (out / "Photos/2019/Beach/IMG_0001_CR2.jpg").read_bytes()
    im = Image.open(io.BytesIO(raw))
    assert im.size == (2560, 1707) and im.getexif()[0x0112] == 6 and "icc_profile" not in im.info
    assert im.getexif().get_ifd(0x8769)[0xA001] == 1                       # ColorSpace sRGB
    assert close_to(ImageOps.exif_transpose(im), sp.upright_picture(1707, 2560, seed=1)) < 4
    # the virtual copy keeps its own (edited) preview: the Smart Preview has no develop settings
    vc = (out / "Photos/2019/Beach/IMG_0001 (Black & White).jpg").read_bytes()
    assert scan_data(vc) == scan_data(level(lib, 3))
    seven = Image.open(out / "Photos/2020/Park/IMG_0007.jpg")
    assert seven.size == (1200, 800)
    assert close_to(seven, sp.upright_picture(1200, 800, seed=7)) < 4
    # JPEG XL and the cut one: their standard previews, losslessly
    assert scan_data((out / "Photos/2020/Park/IMG_0001.jpg").read_bytes()) == scan_data(level(lib, 4))
    assert scan_data((out / "Photos/2020/Park/IMG_0005.jpg").read_bytes()) == scan_data(level(lib, 5))
    assert (out / f"_not_in_catalog/{U(0x555)}.jpg").exists()
    text = trove("recover", "lrprev", lib.lrdata, "--out", str(tmp_path / "again")).stdout
    assert "3 from Smart Previews" in text and "quality 95" in text and "cannot be kept losslessly" in text
    if EXIFTOOL:
        check = subprocess.run([EXIFTOOL, "-j", "-all", "-validate", "-warning", "-a", "-G1:4",
                                str(out / "Photos/2019/Beach/IMG_0001_CR2.jpg")], capture_output=True, text=True)
        info = json.loads(check.stdout)[0]
        assert info.get("ExifTool:Validate") == "OK", info


def test_a_smart_preview_that_turns_up_later_replaces_the_output(trove, lib, tmp_path):
    out = tmp_path / "out"
    away = tmp_path / "away"
    shutil.move(lib.smart, away)
    trove("recover", "lrprev", lib.lrdata, "--out", str(out))
    target = out / "Photos/2019/Beach/IMG_0001_CR2.jpg"
    assert scan_data(target.read_bytes()) == scan_data(level(lib, 1))
    shutil.move(away, lib.smart)
    r = trove.json_lines("recover", "lrprev", lib.lrdata, "--out", str(out))[0]
    assert r["upgraded"] == 2 and Image.open(target).size == (2560, 1707)      # images 1 and 7


def test_ingest_takes_the_smart_preview_upright(trove, lib, tmp_path):
    s = trove.json_lines("ingest", "lrprev", lib.lrdata, "--model", "tiny_embedder:make")[0]
    assert s["errors"] == 0 and s["read.photos"] == 9, s       # 8 as before, + the orphan Smart Preview
    recs = {r["meta"].get("lrcat", {}).get("lr_image_id"): r for r in trove.json_lines("list")}
    one = recs[1]
    assert (one["width"], one["height"]) == (1707, 2560) and one["meta"]["lrcat"]["lr_level"] == "smart-preview"
    assert one["locations"][0]["path"] == sp.smart_path(lib.smart, U(101))
    assert recs[3]["meta"]["lrcat"]["lr_level"] == "level_4"
    again = trove.json_lines("ingest", "lrprev", lib.lrdata, "--model", "tiny_embedder:make")[0]
    assert again["discover.unchanged"] == 9 and again.get("read.photos", 0) == 0


def test_without_the_raw_extra_the_standard_previews_are_used(trove, lib, tmp_path):
    blocker = tmp_path / "no-extras"
    blocker.mkdir()
    (blocker / "rawpy.py").write_text("raise ImportError('not installed (test)')\n")
    env = {"PYTHONPATH": os.pathsep.join([str(blocker), trove.env()["PYTHONPATH"]])}
    out = tmp_path / "out"
    p = trove.run("recover", "lrprev", lib.lrdata, "--out", str(out), "--json", env=env)
    assert p.returncode == 0 and "Traceback" not in p.stderr
    r = json.loads(p.stdout.splitlines()[-1])
    assert "from_smart_previews" not in r and r["written"] == 8
    assert scan_data((out / "Photos/2019/Beach/IMG_0001_CR2.jpg").read_bytes()) == scan_data(level(lib, 1))
