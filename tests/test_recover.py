"""`trove recover lrprev`: names, lossless bytes, metadata written, resume, collisions, bad input."""
import io
import json
import os

import numpy as np
import pytest
from PIL import Image, ImageCms

from lrfix import exif_of, lightroom, xmp_of
from phototrove.media.icc import adobe_rgb_colorants, adobe_rgb_icc
from phototrove.media.jpeg import scan_data
from phototrove.output.recover import MANIFEST

U = lightroom.uuid_of
IMG = {i.id: i for i in lightroom.IMAGES}


@pytest.fixture
def lib(tmp_path):
    return lightroom.make_library(str(tmp_path / "lr"))


def files(out):
    return sorted(os.path.relpath(os.path.join(d, f), out) for d, _, fs in os.walk(out) for f in fs if f != MANIFEST)


def level(lib, image_id, digest=None, index=-1):
    img = IMG[image_id]
    return lib.levels[(U(img.file), digest or img.digest)][index]


@pytest.mark.parametrize("head_bytes", [65536, 1024])
def test_recover_with_catalog_round_trip(trove, lib, tmp_path, monkeypatch, head_bytes):
    # 1024: every level is larger, so the kernel-copy path (copy_file_range) writes the scan data
    monkeypatch.setattr("phototrove.output.recover.HEAD_BYTES", head_bytes)
    out = tmp_path / "out"
    r = trove.json_lines("recover", "lrprev", lib.lrdata, "--out", str(out))[0]
    assert (r["photos"], r["written"], r["stale"], r["not_in_catalog"], r["root_pixels"], r["errors"]) == (8, 8, 1, 1, 1, 0)
    assert r["db_rows_without_file"] == 2 and r["catalog"] == lib.catalog
    assert files(out) == [
        "Photos/2019/Beach/IMG_0001 (Black & White).jpg",   # virtual copy of IMG_0001.CR2
        "Photos/2019/Beach/IMG_0001_CR2.jpg",               # RAW+JPEG pair: neither overwrites the other
        "Photos/2019/Beach/IMG_0001_JPG.jpg",
        "Photos/2020/Park/IMG_0001.jpg",                    # same name, other folder
        "Photos/2020/Park/IMG_0005.jpg",
        "Photos/2020/Park/IMG_0006.jpg",
        "Photos/2020/Park/IMG_0007.jpg",                    # only root-pixels.db had it
        f"_not_in_catalog/{lightroom.ORPHAN[0]}.jpg",
    ]
    raw = (out / "Photos/2019/Beach/IMG_0001_CR2.jpg").read_bytes()
    # lossless: everything after the inserted segments is the level's own bytes
    assert scan_data(raw) == scan_data(level(lib, 1)) and raw.endswith(level(lib, 1)[-1000:])
    im = Image.open(io.BytesIO(raw))
    assert im.size == (384, 256) and im.getexif()[0x0112] == 6
    assert im.info["icc_profile"] == adobe_rgb_icc()
    ex = exif_of(raw)
    assert ex["EXIF DateTimeOriginal"] == "2019:07:14 16:32:10" and ex["Image Model"] == "Canon EOS 5D Mark III"
    assert ex["EXIF LensModel"] == "EF24-105mm f/4L IS USM" and ex["EXIF FNumber"] == "4"
    assert ex["EXIF ExposureTime"] == "1/250" and ex["EXIF ISOSpeedRatings"] == "200"
    assert ex["GPS GPSLatitudeRef"] == "N" and "Image Rating" not in ex   # the rating is XMP's (below)
    from phototrove.media.probe import probe

    got = probe(raw).exif
    assert (got["lat"], got["lon"]) == pytest.approx((43.2965, 5.3698), abs=1e-6)
    x = xmp_of(raw)
    assert x == {"keywords": ["Marseille", "beach", "dog"], "people": ["Alice"], "description": "Rex on the beach",
                 "title": "Summer", "rating": "4", "label": "Red", "name": "IMG_0001.CR2"}
    vc = (out / "Photos/2019/Beach/IMG_0001 (Black & White).jpg").read_bytes()
    assert scan_data(vc) == scan_data(level(lib, 3)) and xmp_of(vc)["keywords"] == ["bw", "dog"]
    # orientation codes land as EXIF tags; the rejected photo is XMP rating -1
    assert Image.open(out / "Photos/2020/Park/IMG_0001.jpg").getexif()[0x0112] == 8
    assert Image.open(out / "Photos/2020/Park/IMG_0005.jpg").getexif()[0x0112] == 2
    assert xmp_of((out / "Photos/2020/Park/IMG_0005.jpg").read_bytes())["rating"] == "-1"
    # the stale preview of image 5 was skipped; image 6 only had an outdated one, which is used
    assert scan_data((out / "Photos/2020/Park/IMG_0005.jpg").read_bytes()) == scan_data(level(lib, 5))
    assert scan_data((out / "Photos/2020/Park/IMG_0006.jpg").read_bytes()) == \
        scan_data(level(lib, 6, lightroom.digest_of(0xB6)))
    assert scan_data((out / "Photos/2020/Park/IMG_0007.jpg").read_bytes()) == scan_data(level(lib, 7, index=0))


def test_resume_dry_run_and_never_overwrite(trove, lib, tmp_path):
    out = tmp_path / "out"
    (out / "Photos/2020/Park").mkdir(parents=True)
    mine = out / "Photos/2020/Park/IMG_0005.jpg"
    mine.write_bytes(b"the user's own file")
    dry = trove.json_lines("recover", "lrprev", lib.lrdata, "--out", str(out), "--dry-run")[0]
    assert dry["would_write"] == 8 and files(out) == ["Photos/2020/Park/IMG_0005.jpg"]
    first = trove.json_lines("recover", "lrprev", lib.lrdata, "--out", str(out))[0]
    assert first["written"] == 8 and mine.read_bytes() == b"the user's own file"
    assert (out / "Photos/2020/Park/IMG_0005-2.jpg").exists()
    snapshot = {f: (out / f).read_bytes() for f in files(out)}
    again = trove.json_lines("recover", "lrprev", lib.lrdata, "--out", str(out))[0]
    assert again.get("written", 0) == 0 and again["already_done"] == 8
    (out / "Photos/2020/Park/IMG_0001.jpg").unlink()            # lost output: written again, same name
    third = trove.json_lines("recover", "lrprev", lib.lrdata, "--out", str(out))[0]
    assert third["written"] == 1 and {f: (out / f).read_bytes() for f in files(out)} == snapshot
    lines = (out / MANIFEST).read_text().splitlines()
    assert len(lines) == 9 and all(json.loads(line)["file"] for line in lines)


def test_recover_without_catalog_names_by_uuid(trove, tmp_path):
    lib = lightroom.make_library(str(tmp_path / "lr"), catalog=False)
    out = tmp_path / "out"
    r = trove.json_lines("recover", "lrprev", lib.lrdata, "--out", str(out))[0]
    assert r["catalog"] is None and r["errors"] == 0
    names = files(out)
    # previews.db tells which digests are current: the virtual copy (same UUID) is kept, stale ones not
    assert f"{U(101)}-{IMG[1].digest}.jpg" in names and f"{U(101)}-{IMG[3].digest}.jpg" in names
    assert f"{U(105)}.jpg" in names and len(names) == r["photos"] == 8
    got = (out / f"{U(104)}.jpg").read_bytes()
    assert Image.open(io.BytesIO(got)).getexif()[0x0112] == 8      # orientation from previews.db
    assert scan_data(got) == scan_data(level(lib, 4))


@pytest.mark.parametrize("head_bytes", [65536, 1024])
def test_damaged_largest_level_falls_back(trove, lib, tmp_path, monkeypatch, head_bytes):
    """Full length but no EOI (bytes lost in the middle of a copy): the next level is recovered."""
    monkeypatch.setattr("phototrove.output.recover.HEAD_BYTES", head_bytes)
    p1 = lib.preview(U(102), IMG[2].digest)
    data = bytearray(open(p1, "rb").read())
    last = level(lib, 2)
    end = bytes(data).index(last) + len(last)
    data[end - 2:end] = b"\x00\x00"
    open(p1, "wb").write(bytes(data))
    out = tmp_path / "out"
    r = trove.json_lines("recover", "lrprev", lib.lrdata, "--out", str(out))[0]
    assert r["written"] == 8 and r["errors"] == 0
    got = (out / "Photos/2019/Beach/IMG_0001_JPG.jpg").read_bytes()
    assert scan_data(got) == scan_data(level(lib, 2, index=-2))
    line = [json.loads(x) for x in (out / MANIFEST).read_text().splitlines() if "IMG_0001_JPG" in x][0]
    assert line["level"] == "level_3"


def test_bad_previews_give_one_line_each_and_the_rest_is_recovered(trove, lib, tmp_path):
    d = os.path.join(lib.lrdata, "F", "FFFF")
    os.makedirs(d)
    empty = os.path.join(d, f"FFFFFFFF-0000-0000-0000-000000000001-{'0' * 32}.lrprev")
    open(empty, "wb").close()
    ps = os.path.join(d, f"FFFFFFFF-0000-0000-0000-000000000002-{'0' * 32}.lrprev")
    open(ps, "wb").write(lightroom.section("resource", b"8BIM" * 10, 0))
    # image 4's preview cut inside its largest level: the next level is recovered instead
    p4 = lib.preview(U(104), IMG[4].digest)
    data = open(p4, "rb").read()
    open(p4, "wb").write(data[:len(data) - 700])
    out = tmp_path / "out"
    from click.testing import CliRunner
    from phototrove.cli import main

    res = CliRunner().invoke(main, ["--library", str(tmp_path / "library"), "recover", "lrprev", lib.lrdata,
                                    "--out", str(out), "--json"])
    assert res.exit_code == 1
    summary = json.loads(res.stdout.splitlines()[-1])
    assert summary["errors"] == 2 and summary["written"] == 8 and summary["truncated_fallback"] == 1
    err_lines = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert len(err_lines) == 2 and any(empty in line and "empty" in line for line in err_lines)
    assert any(ps in line and "header" in line for line in err_lines)
    assert "Traceback" not in res.stderr
    assert scan_data((out / "Photos/2020/Park/IMG_0001.jpg").read_bytes()) == scan_data(level(lib, 4, index=-2))


def test_explicit_bad_catalog_is_a_usage_error(trove, lib, tmp_path):
    bad = tmp_path / "bad.lrcat"
    bad.write_bytes(b"nope" * 100)
    res = trove("recover", "lrprev", lib.lrdata, "--out", str(tmp_path / "o"), "--catalog", str(bad), code=2)
    assert "not a readable Lightroom catalog" in res.stderr and not (tmp_path / "o").exists()


def test_icc_profile_matches_adobe_rgb_math():
    """LittleCMS reads the profile and converts exactly like the Adobe RGB (1998) equations."""
    prof = ImageCms.ImageCmsProfile(io.BytesIO(adobe_rgb_icc()))
    assert ImageCms.getProfileDescription(prof).strip() == "Compatible with Adobe RGB (1998)"
    m = np.array(adobe_rgb_colorants())
    assert m.sum(axis=1) == pytest.approx([0.9642, 1.0, 0.8249], abs=1e-4)   # white maps to D50
    xyz_to_srgb_d50 = np.linalg.inv(np.array([[0.4360747, 0.3850649, 0.1430804], [0.2225045, 0.7168786, 0.0606169],
                                              [0.0139322, 0.0971045, 0.7141733]]))
    rng = np.random.default_rng(1)
    src = rng.integers(30, 226, (64, 3)).astype(np.uint8)
    im = Image.fromarray(src.reshape(8, 8, 3))
    t = ImageCms.buildTransform(prof, ImageCms.createProfile("sRGB"), "RGB", "RGB",
                                renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC)
    got = np.asarray(ImageCms.applyTransform(im, t)).reshape(-1, 3).astype(float)
    lin = (src / 255.0) ** (563 / 256)
    srgb_lin = np.clip(lin @ m.T @ xyz_to_srgb_d50.T, 0, 1)
    expect = np.where(srgb_lin <= 0.0031308, srgb_lin * 12.92, 1.055 * srgb_lin ** (1 / 2.4) - 0.055) * 255
    assert np.abs(got - expect).max() <= 2.5


def test_outputs_of_an_interrupted_run_are_recognised(trove, lib, tmp_path):
    """A crash can leave a finished file not yet in the manifest, or a file cut short: the next run
    recognises both as its own (byte for byte) instead of writing `-2` copies."""
    out = tmp_path / "out"
    trove("recover", "lrprev", lib.lrdata, "--out", str(out))
    done = out / "Photos/2020/Park/IMG_0005.jpg"
    cut = out / "Photos/2020/Park/IMG_0001.jpg"
    full = {p: p.read_bytes() for p in (done, cut)}
    cut.write_bytes(full[cut][:len(full[cut]) // 2])
    lines = (out / MANIFEST).read_text().splitlines()
    keep = [line for line in lines if json.loads(line)["file"] not in ("Photos/2020/Park/IMG_0005.jpg",
                                                                       "Photos/2020/Park/IMG_0001.jpg")]
    (out / MANIFEST).write_text("\n".join(keep) + "\n")
    r = trove.json_lines("recover", "lrprev", lib.lrdata, "--out", str(out))[0]
    assert r["written"] == 2 and "renamed_around_existing" not in r
    assert {p: p.read_bytes() for p in full} == full and len(files(out)) == 8


def test_recover_lr13_layout(trove, tmp_path):
    lib = lightroom.make_library(str(tmp_path / "lr"), lr13=True)
    out = tmp_path / "out"
    r = trove.json_lines("recover", "lrprev", lib.lrdata, "--out", str(out))[0]
    assert r["written"] == 8 and r["errors"] == 0
    got = (out / "Photos/2019/Beach/IMG_0001_CR2.jpg").read_bytes()
    assert scan_data(got) == scan_data(level(lib, 1)) and Image.open(io.BytesIO(got)).getexif()[0x0112] == 6


def test_names_cannot_leave_the_output_folder(tmp_path):
    from phototrove.ingest.lightroom.images import CatalogImage
    from phototrove.ingest.lightroom.pairing import Item, Plan
    from phototrove.output.recover import plan_names, safe_part

    img = CatalogImage(1, U(1), "0" * 32, "/x/", "..", "../../etc/", "pass:wd", "JPG")
    plan = Plan("/nowhere", items=[Item(U(1), "0" * 32, None, None, image=img)], catalog=object())
    (job,) = plan_names(plan, {})
    assert job.rel == "_/_/_/etc/pass_wd.jpg"
    assert safe_part("..") == "_" and safe_part("a/b\\c") == "a_b_c" and safe_part("") == "_"
