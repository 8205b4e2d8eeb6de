"""Lossless metadata insertion: segments replaced, everything else byte-identical, EXIF readable."""
import io

from PIL import Image

from lrfix import exif_of, lightroom
from phototrove.media.exif_write import build_exif
from phototrove.media.icc import adobe_rgb_icc
from phototrove.media.jpeg import EXIF_HEADER, ICC_HEADER, scan_data, split_header, with_metadata
from phototrove.media.jpeg import jpeg_end


def test_existing_exif_and_icc_are_replaced_not_duplicated():
    buf = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 3
    Image.new("RGB", (40, 30), (200, 10, 10)).save(buf, "JPEG", exif=exif.tobytes(), icc_profile=b"x" * 200)
    src = buf.getvalue()
    out = with_metadata(src, exif=build_exif({"orientation": 6, "camera": "Cam"}), icc=adobe_rgb_icc())
    segs = split_header(out)[0]
    assert sum(1 for m, p in segs if m == 0xE1 and p.startswith(EXIF_HEADER)) == 1
    assert sum(1 for m, p in segs if m == 0xE2 and p.startswith(ICC_HEADER)) == 1
    assert segs[0][0] == 0xE0                                  # JFIF APP0 stays first
    assert scan_data(out) == scan_data(src) and jpeg_end(out) == len(out)
    im = Image.open(io.BytesIO(out))
    assert im.getexif()[0x0112] == 6 and im.info["icc_profile"] == adobe_rgb_icc()
    assert exif_of(out)["Image Model"] == "Cam"


def test_exif_values_round_trip():
    j = lightroom.make_jpeg(60, 40, 3)
    meta = {"orientation": 8, "taken_local": "2020-01-02T03:04:05", "utc_offset": "-05:00", "lat": -33.8568,
            "lon": -151.2153, "alt": -12.5, "camera": "NIKON D850", "lens": "24-70 f/2.8", "rating": 5,
            "focal_length": 35.0, "aperture": 2.8, "shutter": 1 / 4000, "iso": 6400, "width": 60, "height": 40}
    out = with_metadata(j, exif=build_exif(meta))
    ex = exif_of(out)
    assert ex["EXIF DateTimeOriginal"] == "2020:01:02 03:04:05" and ex["EXIF OffsetTimeOriginal"] == "-05:00"
    assert (ex["GPS GPSLatitudeRef"], ex["GPS GPSLongitudeRef"], ex["GPS GPSAltitudeRef"]) == ("S", "W", "1")
    assert (ex["EXIF FNumber"], ex["EXIF ExposureTime"], ex["EXIF ISOSpeedRatings"]) == ("14/5", "1/4000", "6400")
    assert ex["Image Orientation"] == "Rotated 90 CCW"  # EXIF 8
    from phototrove.media.probe import probe

    got = probe(out).exif
    assert (got["taken_local"], got["utc_offset"], got["orientation"]) == ("2020-01-02T03:04:05", "-05:00", 8)
    assert (round(got["lat"], 5), round(got["lon"], 5), got["alt"]) == (-33.8568, -151.2153, -12.5)


def test_xmp_escapes_markup_in_values():
    from lrfix import xmp_of
    from phototrove.output.xmp import build_xmp

    j = lightroom.make_jpeg(20, 20, 1)
    meta = {"keywords": ["R&D", "<b>bold</b>", "café"], "description": 'He said "hi" & left', "color_label": 'a"b<',
            "rating": 2, "original_name": "x&y.CR2"}
    x = xmp_of(with_metadata(j, xmp=build_xmp(meta)))
    assert x["keywords"] == ["R&D", "<b>bold</b>", "café"] and x["description"] == 'He said "hi" & left'
    assert (x["label"], x["rating"], x["name"]) == ('a"b<', "2", "x&y.CR2")
