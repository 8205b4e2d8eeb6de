"""What `trove recover lrprev` writes is valid metadata by exiftool's own checks (`-validate`): every
output of the fixture library, and the EXIF/XMP builders' values read back by exiftool."""
import calendar
import dataclasses
import json
import math
import os
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET

import pytest

from lrfix import exif_of, lightroom, xmp_of
from phototrove.media.exif_write import build_exif, exposure_fraction
from phototrove.media.jpeg import with_metadata
from phototrove.output.mtime import capture_mtime as _capture_mtime
from phototrove.output.recover import MANIFEST
from phototrove.output.xmp import build_xmp

pytestmark = pytest.mark.skipif(shutil.which("exiftool") is None,
                                reason="exiftool (libimage-exiftool-perl) is not installed")

ODD_CAPTION = "Line one\r\nline two\ttab \x0b\x01\x1f end & <b>\"q\"</b> 'a' café 日本 😀"
ODD_CAPTION_READ = "Line one\r\nline two\ttab  end & <b>\"q\"</b> 'a' café 日本 😀"   # C0 controls gone


def tv(seconds: float) -> float:
    """Lightroom's APEX shutter value for an exposure time."""
    return -math.log2(seconds)


def odd_images():
    """The fixture catalog with awkward values: control characters and markup in captions and
    keywords, several camera vendors, southern/western GPS, non-1/N exposure times."""
    by_id = {i.id: i for i in lightroom.IMAGES}
    by_id[2] = dataclasses.replace(by_id[2], caption=ODD_CAPTION, shutter=tv(0.8), keywords=["beach", "R&D <x>"])
    by_id[4] = dataclasses.replace(by_id[4], camera="NIKON D850", shutter=5 / 3, gps=(-33.8568, -151.2153),
                                   caption="\x01\x1f", keywords=["park", "tab\there", "vt\x0bkw"])
    by_id[5] = dataclasses.replace(by_id[5], camera="ILCE-7M3", shutter=tv(2.5), aperture=4.0, iso=100)
    by_id[6] = dataclasses.replace(by_id[6], camera="X-T4", shutter=tv(30), gps=(0.0, 0.0))
    return list(by_id.values())


def exiftool_json(paths) -> list[dict]:
    """Every tag exiftool reads, with its verdict (-validate) and each warning (-a -G1:4: one key each)."""
    r = subprocess.run(["exiftool", "-j", "-a", "-G1:4", "-all", "-validate", "-warning", *map(str, paths)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def problems(record: dict) -> list[str]:
    """exiftool's warnings and errors, and a Validate verdict that is not OK."""
    out = [f"{k}: {v}" for k, v in record.items() if k.rsplit(":", 1)[-1] in ("Warning", "Error")]
    if record.get("ExifTool:Validate") != "OK":
        out.append(f"Validate: {record.get('ExifTool:Validate')}")
    return out


def outputs(out) -> list[str]:
    return sorted(os.path.join(d, f) for d, _, fs in os.walk(out) for f in fs if f != MANIFEST)


def recover(trove, tmp_path, **library) -> tuple[list[str], dict]:
    odd = library.pop("odd", False)
    lib = lightroom.make_library(str(tmp_path / "lr"), **library)
    if odd:
        lightroom.write_catalog(lib.catalog, images=odd_images())
    out = tmp_path / "out"
    r = trove.json_lines("recover", "lrprev", lib.lrdata, "--out", str(out))[0]
    assert r["errors"] == 0 and r["written"] == r["photos"] == 8
    return outputs(out), {os.path.relpath(p, out): p for p in outputs(out)}


@pytest.mark.parametrize("library", [{}, {"odd": True}, {"catalog": False}, {"lr13": True}],
                         ids=["catalog", "odd-values", "no-catalog", "lr13"])
def test_every_recovered_file_validates(trove, tmp_path, library):
    files, _ = recover(trove, tmp_path, **library)
    records = exiftool_json(files)
    bad = {os.path.relpath(r["SourceFile"], tmp_path): problems(r) for r in records if problems(r)}
    assert not bad, json.dumps(bad, indent=1, ensure_ascii=False)
    for r in records:
        # the stored pixels' size, before orientation: what Exif means by PixelX/YDimension
        assert (r["ExifIFD:ExifImageWidth"], r["ExifIFD:ExifImageHeight"]) == \
            (r["File:ImageWidth"], r["File:ImageHeight"]), r["SourceFile"]
        assert xmp_of(open(r["SourceFile"], "rb").read()) is not None   # the packet parses (xml.etree)


def test_odd_values_read_back(trove, tmp_path):
    _, by_rel = recover(trove, tmp_path, odd=True)
    names = ["Photos/2019/Beach/IMG_0001_CR2.jpg", "Photos/2019/Beach/IMG_0001_JPG.jpg", "Photos/2020/Park/IMG_0001.jpg",
             "Photos/2020/Park/IMG_0005.jpg", "Photos/2020/Park/IMG_0006.jpg"]
    cr2, jpg, nikon, sony, fuji = exiftool_json([by_rel[n] for n in names])
    assert jpg["XMP-dc:Description"] == ODD_CAPTION_READ and sorted(jpg["XMP-dc:Subject"]) == ["R&D <x>", "beach"]
    assert jpg["ExifIFD:ExposureTime"] == 0.8 and jpg["ExifIFD:ExifVersion"] == "0231"
    assert jpg["ExifIFD:OffsetTimeOriginal"] == jpg["ExifIFD:OffsetTime"] == "+02:00"
    assert cr2["ExifIFD:ExifVersion"] == "0230" and "ExifIFD:OffsetTimeOriginal" not in cr2
    assert cr2["XMP-xmp:Rating"] == 4 and "IFD0:Rating" not in cr2
    assert (cr2["IFD0:Make"], nikon["IFD0:Make"], sony["IFD0:Make"]) == ("Canon", "NIKON CORPORATION", "SONY")
    assert "IFD0:Make" not in fuji and fuji["IFD0:Model"] == "X-T4"
    assert (nikon["ExifIFD:ExposureTime"], sony["ExifIFD:ExposureTime"], fuji["ExifIFD:ExposureTime"]) == \
        (0.3, 2.5, 30)
    assert exif_of(open(by_rel["Photos/2020/Park/IMG_0001.jpg"], "rb").read())["EXIF ExposureTime"] == "1/3"
    assert sorted(nikon["XMP-dc:Subject"]) == ["park", "tab\there", "vtkw"] and "XMP-dc:Description" not in nikon
    assert (nikon["GPS:GPSLatitudeRef"], nikon["GPS:GPSLongitudeRef"]) == ("South", "West")
    assert (cr2["ExifIFD:ColorSpace"], cr2["InteropIFD:InteropIndex"]) == \
        ("Uncalibrated", "R03 - DCF option file (Adobe RGB)")


def test_file_times_are_the_capture_instant(trove, tmp_path, monkeypatch):
    # this machine 5 hours behind UTC (a POSIX zone: no tz database needed), so a wall clock read in
    # the wrong zone shows
    monkeypatch.setenv("TZ", "XYZ+05")
    time.tzset()
    try:
        _, by_rel = recover(trove, tmp_path)
        zoned = os.stat(by_rel["Photos/2019/Beach/IMG_0001_JPG.jpg"]).st_mtime     # 16:32:10+02:00
        naive = os.stat(by_rel["Photos/2020/Park/IMG_0005.jpg"]).st_mtime          # 10:11:12, no zone
        assert zoned == calendar.timegm((2019, 7, 14, 14, 32, 10))
        assert naive == calendar.timegm((2020, 5, 2, 15, 11, 12))   # 10:11:12 on this machine's clock
        assert _capture_mtime({"taken_utc": "2020-01-01T00:00:00Z"}) == calendar.timegm((2020, 1, 1, 0, 0, 0))
        # a wall clock without zone and the instant (what the catalog resolved): the instant
        assert _capture_mtime({"taken_local": "2020-01-01T09:00:00", "taken_utc": "2020-01-01T00:00:00Z"}) == \
            calendar.timegm((2020, 1, 1, 0, 0, 0))
        assert _capture_mtime({"taken_local": "2020-01-01T00:30:00", "utc_offset": "-03:30"}) == \
            calendar.timegm((2020, 1, 1, 4, 0, 0))
    finally:
        monkeypatch.undo()
        time.tzset()


def write_jpeg(tmp_path, name: str, **segments) -> str:
    path = str(tmp_path / name)
    with open(path, "wb") as f:
        f.write(with_metadata(lightroom.make_jpeg(60, 40, 3), **segments))
    return path


# shown: exiftool's reading (decimals from 1/4 s up: 1/3 s and 3/10 s both print 0.3); ratio: the rational
@pytest.mark.parametrize("seconds, shown, ratio", [
    (0.004, "1/250", "1/250"), (round(1 / 2 ** tv(1 / 250), 6), "1/250", "1/250"),
    (round(1 / 2 ** tv(0.8), 6), 0.8, "4/5"), (0.4, 0.4, "2/5"), (round(1 / 2 ** (5 / 3), 6), 0.3, "1/3"),
    (1 / 3, 0.3, "1/3"), (2.5, 2.5, "5/2"), (30, 30, "30"), (0.000156, "1/6400", "1/6400"),
    (1 / 121, "1/121", "1/121"), (0.3, 0.3, "3/10"), (37.5, 37.5, "75/2"),
])
def test_exposure_times_are_exact_rationals(tmp_path, seconds, shown, ratio):
    path = write_jpeg(tmp_path, "x.jpg", exif=build_exif({"shutter": seconds, "width": 60, "height": 40}))
    (rec,) = exiftool_json([path])
    assert rec["ExifIFD:ExposureTime"] == shown and not problems(rec)
    assert exif_of(open(path, "rb").read())["EXIF ExposureTime"] == ratio    # the stored rational itself
    assert str(exposure_fraction(seconds)) == ratio


@pytest.mark.parametrize("model, make", [
    ("Canon EOS 5D Mark III", "Canon"), ("NIKON D850", "NIKON CORPORATION"), ("ILCE-7M3", "SONY"),
    ("DSLR-A900", "SONY"), ("PENTAX K-1", "PENTAX"), ("iPhone 12 Pro", "Apple"), ("Pixel 7", "Google"),
    ("X-T4", None), ("COOLPIX P900", None), ("Canonet QL17", None),
])
def test_make_from_the_model_only_when_it_names_the_vendor(tmp_path, model, make):
    path = write_jpeg(tmp_path, "x.jpg", exif=build_exif({"camera": model}))
    (rec,) = exiftool_json([path])
    assert rec.get("IFD0:Make") == make and rec["IFD0:Model"] == model
    path = write_jpeg(tmp_path, "y.jpg", exif=build_exif({"camera": model, "make": "Told"}))
    assert exiftool_json([path])[0]["IFD0:Make"] == "Told"    # the catalog's own Make wins


def test_rating_is_xmp_not_the_microsoft_ifd0_tag(tmp_path):
    meta = {"rating": 4, "orientation": 6, "width": 60, "height": 40}
    path = write_jpeg(tmp_path, "x.jpg", exif=build_exif(meta), xmp=build_xmp(meta))
    (rec,) = exiftool_json([path])
    assert rec["XMP-xmp:Rating"] == 4 and "IFD0:Rating" not in rec and not problems(rec)
    assert "XMP-xmp:RatingPercent" not in rec and "IFD0:RatingPercent" not in rec
    rejected = exiftool_json([write_jpeg(tmp_path, "r.jpg", xmp=build_xmp({"rating": 3, "pick": -1}))])[0]
    assert rejected["XMP-xmp:Rating"] == -1


def test_control_characters_never_reach_the_xmp(tmp_path):
    meta = {"description": "a\x0bb\x00c\td\r\ne\ufffe\uffff\ud800f & <g>", "title": "\x08t\x7f",
            "keywords": ["k\x0c1", "\udcff"], "color_label": "x\ty\nz\x1b", "original_name": "n\x01.CR2"}
    packet = build_xmp(meta)
    body = packet.decode("utf-8").split("?>", 1)[1].rsplit("<?xpacket", 1)[0]
    desc = ET.fromstring(body).find(".//{http://purl.org/dc/elements/1.1/}description")   # well-formed
    assert desc[0][0].text == "abc\td\r\nef & <g>"   # CR kept: a conforming parser turns a raw CR LF into LF
    path = write_jpeg(tmp_path, "x.jpg", xmp=packet)
    (rec,) = exiftool_json([path])
    assert not problems(rec)
    assert rec["XMP-dc:Description"] == "abc\td\r\nef & <g>" and rec["XMP-dc:Title"] == "t\x7f"
    assert rec["XMP-dc:Subject"] == "k1"                    # a keyword with nothing left is left out
    assert (rec["XMP-xmp:Label"], rec["XMP-xmpMM:PreservedFileName"]) == ("x\ty\nz", "n.CR2")


def test_keyword_hierarchy_as_lightroom_writes_it(tmp_path):
    meta = {"keywords": ["Paris", "Alice"], "keyword_paths": ["Places|France|Paris", "People|Alice & <Bob>"]}
    path = write_jpeg(tmp_path, "x.jpg", xmp=build_xmp(meta))
    (rec,) = exiftool_json([path])
    assert rec["XMP-lr:HierarchicalSubject"] == ["Places|France|Paris", "People|Alice & <Bob>"]
    assert rec["XMP-dc:Subject"] == ["Paris", "Alice"] and not problems(rec)
    assert "lr:hierarchicalSubject" not in build_xmp({"keywords": ["x"]}).decode()


def test_exif_of_a_zoned_capture_with_gps(tmp_path):
    meta = {"taken_local": "2020-01-02T03:04:05", "utc_offset": "-05:00", "lat": 43.2965, "lon": 5.3698, "alt": -12.5,
            "camera": "Canon EOS R5", "lens": "RF24-70mm F2.8 L IS USM", "focal_length": 35.0, "aperture": 2.8,
            "shutter": 1 / 4000, "iso": 6400, "width": 60, "height": 40, "orientation": 8}
    path = write_jpeg(tmp_path, "x.jpg", exif=build_exif(meta), xmp=build_xmp(meta))
    (rec,) = exiftool_json([path])
    assert not problems(rec), problems(rec)
    assert (rec["ExifIFD:ExifVersion"], rec["ExifIFD:OffsetTimeDigitized"]) == ("0231", "-05:00")
    assert rec["Composite:SubSecDateTimeOriginal"] == "2020:01:02 03:04:05-05:00"
    assert rec["XMP-photoshop:DateCreated"] == "2020:01:02 03:04:05-05:00"
    assert (rec["ExifIFD:ExifImageWidth"], rec["ExifIFD:ExifImageHeight"]) == (60, 40)
