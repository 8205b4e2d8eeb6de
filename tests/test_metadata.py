"""Metadata as exiftool reads it (issue 11): EXIF wherever the container puts it, XMP and IPTC,
.xmp sidecars, the capture time as lived, dates from file names, displayed sizes, completeness.
Fixtures are the committed photos with exiftool (the oracle) writing the awkward cases onto them."""
from __future__ import annotations

import io
import json
import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from photos import jpeg, write, write_jpeg

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "photos"
EXIFTOOL = shutil.which("exiftool")
needs_exiftool = pytest.mark.skipif(EXIFTOOL is None, reason="exiftool (libimage-exiftool-perl) is not installed")


def et(*args) -> str:
    r = subprocess.run(["exiftool", "-q", "-q", "-overwrite_original", *map(str, args)], capture_output=True,
                       text=True, check=True)
    return r.stdout


def oracle(path) -> dict:
    return json.loads(subprocess.run(["exiftool", "-j", "-n", "-G1", str(path)], capture_output=True, text=True,
                                     check=True).stdout)[0]


def listed(trove) -> dict[str, dict]:
    return {os.path.basename(p["locations"][0]["path"]): p for p in trove.json_lines("list")}


def rocket(tmp_path, name="rocket.jpg") -> Path:
    """The committed photo with EXIF orientation 6, copied to play with."""
    dest = tmp_path / "pics" / name
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(FIXTURES / "rocket_exif6.jpg", dest)
    return dest


def segments(data: bytes) -> tuple[list[bytes], bytes]:
    """A JPEG's leading APPn/COM segments (whole, with marker and length) and the rest."""
    pos, out = 2, []
    while data[pos] == 0xFF and (0xE0 <= data[pos + 1] <= 0xEF or data[pos + 1] == 0xFE):
        length = int.from_bytes(data[pos + 2:pos + 4], "big")
        out.append(data[pos:pos + 2 + length])
        pos += 2 + length
    return out, data[pos:]


def app(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


# -- 1-6: EXIF wherever the format puts it ----------------------------------------------------------
@needs_exiftool
def test_01_exif_after_xmp_app6_app13_and_junk_between_segments(trove, tmp_path):
    photo = rocket(tmp_path, "moto.jpg")
    et("-DateTimeOriginal=2019:07:14 21:00:00", "-Make=motorola", "-Model=moto g(7)", "-GPSLatitude=37.7749",
       "-GPSLatitudeRef=N", "-GPSLongitude=122.4194", "-GPSLongitudeRef=W", "-XMP-dc:Subject=phone",
       "-IPTC:Keywords=phone", photo)
    segs, rest = segments(photo.read_bytes())
    exif = [s for s in segs if s[4:10] == b"Exif\x00\x00"]
    others = [s for s in segs if s not in exif]
    # what phones and editors do: XMP, a vendor APP6 and Photoshop's APP13 first, junk between segments
    reordered = b"\xff\xd8" + b"".join(others) + app(0xE6, b"MOTO\x00" + bytes(40)) + b"\x00\x00junk" + \
        b"".join(exif) + rest
    photo.write_bytes(reordered)
    assert oracle(photo)["ExifIFD:DateTimeOriginal"] == "2019:07:14 21:00:00"   # exiftool agrees it is there
    trove("ingest", "folder", photo.parent, "--no-embed")
    p = listed(trove)["moto.jpg"]
    assert p["taken_at"] == "2019-07-14T21:00:00" and p["camera"] == "motorola moto g(7)" and p["orientation"] == 6
    assert (round(p["lat"], 4), round(p["lon"], 4)) == (37.7749, -122.4194)
    assert any("junk" in n for n in p["meta"]["exif"]["notes"])   # said, and not called truncated


@needs_exiftool
@pytest.mark.parametrize("prefix", [False, True])
def test_02_webp_exif_with_and_without_its_prefix(trove, tmp_path, prefix):
    from PIL import Image

    path = tmp_path / "pics" / "cam.webp"
    path.parent.mkdir(parents=True)
    Image.open(FIXTURES / "rocket_exif6.jpg").save(path, "WEBP")
    et("-DateTimeOriginal=2020:01:02 03:04:05", "-Model=X-T4", "-Make=FUJIFILM", "-Orientation#=8", path)
    data = path.read_bytes()
    at = data.find(b"EXIF")
    assert data[at + 8:at + 10] in (b"MM", b"II")   # exiftool writes the standard form: no prefix
    if prefix:   # the form many other tools write
        body = b"Exif\x00\x00" + data[at + 8:at + 8 + int.from_bytes(data[at + 4:at + 8], "little")]
        old = 8 + int.from_bytes(data[at + 4:at + 8], "little")
        chunk = b"EXIF" + len(body).to_bytes(4, "little") + body + b"\x00" * (len(body) & 1)
        data = data[:at] + chunk + data[at + old + (old & 1):]
        data = data[:4] + (len(data) - 8).to_bytes(4, "little") + data[8:]
        path.write_bytes(data)
    trove("ingest", "folder", path.parent, "--no-embed")
    p = listed(trove)["cam.webp"]
    assert (p["taken_at"], p["camera"], p["orientation"]) == ("2020-01-02T03:04:05", "FUJIFILM X-T4", 8)


@needs_exiftool
def test_03_png_exif_chunk_and_imagemagick_raw_profile(trove, tmp_path):
    from PIL import Image

    src = tmp_path / "pics"
    src.mkdir()
    Image.open(FIXTURES / "rocket_exif6.jpg").save(src / "exif.png")
    et("-DateTimeOriginal=2018:05:06 07:08:09", "-Model=Pixel 3", "-Make=Google", src / "exif.png")
    # ImageMagick's legacy form: the EXIF block as hex text in a zTXt 'Raw profile type exif'
    tiff = oracle_block(src / "exif.png")
    hexed = b"\nexif\n" + str(len(tiff) + 6).rjust(8).encode() + b"\n" + (b"Exif\x00\x00" + tiff).hex().encode() + b"\n"
    body = b"Raw profile type exif\x00\x00" + zlib.compress(hexed)
    chunk = len(body).to_bytes(4, "big") + b"zTXt" + body + zlib.crc32(b"zTXt" + body).to_bytes(4, "big")
    buf = io.BytesIO()
    Image.open(FIXTURES / "rocket_exif6.jpg").save(buf, "PNG")
    plain = buf.getvalue()
    (src / "magick.png").write_bytes(plain[:33] + chunk + plain[33:])
    trove("ingest", "folder", src, "--no-embed")
    got = listed(trove)
    assert (got["exif.png"]["taken_at"], got["exif.png"]["camera"]) == ("2018-05-06T07:08:09", "Google Pixel 3")
    assert (got["magick.png"]["taken_at"], got["magick.png"]["camera"]) == ("2018-05-06T07:08:09", "Google Pixel 3")


def oracle_block(png: Path) -> bytes:
    data = png.read_bytes()
    at = data.find(b"eXIf")
    return data[at + 4:at + 4 + int.from_bytes(data[at - 4:at], "big")]


def test_04_heic_orientation_from_its_exif_item_and_every_brand(trove, tmp_path):
    pillow_heif = pytest.importorskip("pillow_heif")
    from PIL import Image

    from fixture_exif import exif_bytes

    pillow_heif.register_heif_opener()
    im = Image.open(FIXTURES / "rocket_exif6.jpg").convert("RGB")
    buf = io.BytesIO()
    im.save(buf, "HEIF", exif=exif_bytes(taken="2023:09:22 14:49:36", make="Apple", model="iPhone 12", orientation=6))
    heic = buf.getvalue()
    src = tmp_path / "pics"
    for brand in (b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1"):
        write(src / f"{brand.decode()}.heic", heic[:8] + brand + heic[12:])
    trove("ingest", "folder", src, "--no-embed")   # one fresh process sees them in name order
    got = listed(trove)
    assert len(got) == 1 and len(next(iter(got.values()))["locations"]) == 1 or len(got) == 6
    for p in got.values():
        assert (p["orientation"], p["camera"], p["taken_at"]) == (6, "Apple iPhone 12", "2023-09-22T14:49:36")


@needs_exiftool
def test_05_tiff_both_byte_orders_and_a_damaged_ifd_entry(trove, tmp_path):
    from PIL import Image

    src = tmp_path / "pics"
    src.mkdir()
    im = Image.open(FIXTURES / "rocket_exif6.jpg")
    im.save(src / "little.tif")
    et("-DateTimeOriginal=2017:01:02 03:04:05", "-Model=NIKON D850", "-Make=NIKON CORPORATION",
       "-Software=a software name longer than four bytes", src / "little.tif")
    big = src / "big.tif"
    big.write_bytes(big_endian_tiff(im.convert("RGB")))
    et("-DateTimeOriginal=2017:01:02 03:04:05", "-Model=NIKON D850", "-Make=NIKON CORPORATION", big)
    assert big.read_bytes()[:2] == b"MM"
    data = bytearray((src / "little.tif").read_bytes())
    from phototrove.media.tiff import read_tiff

    ifd0 = next(d for d in read_tiff(bytes(data)).ifds if d.name == "ifd0")
    victim = 0x0131   # Software, stored out of line: point its value far past the end
    assert victim in ifd0.spans
    entry = next(i for i in range(ifd0.offset + 2, ifd0.offset + 2 + 12 * 40, 12)
                 if int.from_bytes(data[i:i + 2], "little") == victim)
    data[entry + 8:entry + 12] = (10 ** 9).to_bytes(4, "little")
    (src / "damaged.tif").write_bytes(bytes(data))
    r = trove("ingest", "folder", src, "--no-embed", quiet=False)
    assert "Warning" not in r.stderr   # Pillow's warnings are recorded with the file, never printed bare
    got = listed(trove)
    notes = got["damaged.tif"]["meta"]["exif"]["notes"]
    assert any("0x0131" in n for n in notes) and any(n.startswith("UserWarning") for n in notes), notes
    for name in ("little.tif", "damaged.tif"):
        assert (got[name]["taken_at"], got[name]["camera"]) == ("2017-01-02T03:04:05", "NIKON D850"), name
    assert got["big.tif"]["camera"] == "NIKON D850"


@needs_exiftool
def test_06_strings_that_are_not_utf8_and_library_warnings(trove, tmp_path):
    photo = rocket(tmp_path, "hp.jpg")
    et("-charset", "exif=latin", "-Make=\x8c Photosmart", "-Model=Photosmart Plus B210", photo)
    r = trove("ingest", "folder", photo.parent, "--no-embed", quiet=False)
    p = listed(trove)["hp.jpg"]
    assert "b'" not in p["camera"] and p["camera"] == "? Photosmart Photosmart Plus B210"
    assert "Warning" not in r.stderr and "warn(" not in r.stderr


def test_05_a_tiff_pillow_cannot_open_is_called_damaged_not_unknown(trove, tmp_path):
    from oracle_corpus import picture, tiff_file

    # Make's value points past the end: exiftool still calls it a TIFF, Pillow does not open it
    data = tiff_file(picture(40, 30, 1), little=True, big=False, damage="past-end",
                     ifd0=[(0x010F, 2, "Hasselblad"), (0x0110, 2, "X2D 100C")])
    write(tmp_path / "pics" / "scan.tif", data)
    trove("ingest", "folder", tmp_path / "pics", "--no-embed", code=1)
    errors = trove.json_lines("status", "--errors")
    assert [(e["kind"], "damaged TIFF" in e["message"]) for e in errors] == [("corrupt", True)], errors


def big_endian_tiff(im) -> bytes:
    """An uncompressed RGB TIFF in Motorola byte order (Pillow only writes Intel order)."""
    w, h = im.size
    pixels = im.tobytes()
    entries = [(256, 4, 1, w), (257, 4, 1, h), (258, 3, 3, None), (259, 3, 1, 1), (262, 3, 1, 2),
               (273, 4, 1, None), (277, 3, 1, 3), (278, 4, 1, h), (279, 4, 1, len(pixels))]
    ifd_size = 2 + 12 * len(entries) + 4
    bits_at = 8 + ifd_size
    strip_at = bits_at + 6
    out = [b"MM\x00\x2a" + struct.pack(">I", 8), struct.pack(">H", len(entries))]
    for tag, typ, count, value in entries:
        value = bits_at if tag == 258 else strip_at if tag == 273 else value
        raw = struct.pack(">HH", value, 0) if typ == 3 and tag != 258 else struct.pack(">I", value)
        out.append(struct.pack(">HHI", tag, typ, count) + raw)
    out.append(b"\x00" * 4)
    return b"".join(out) + struct.pack(">HHH", 8, 8, 8) + pixels


# -- 7-9: XMP and IPTC, .xmp sidecars -------------------------------------------------------------------
@needs_exiftool
def test_07_xmp_and_iptc_fields(trove, tmp_path):
    photo = rocket(tmp_path, "tagged.jpg")
    et("-XMP-dc:Subject=beach", "-XMP-dc:Subject=dog", "-XMP-lr:HierarchicalSubject=Places|France|Paris",
       "-IPTC:Keywords=holiday", "-XMP-dc:Title=Rex on the beach", "-XMP-dc:Description=He ran",
       "-XMP-xmp:Rating=4", "-XMP-xmp:Label=Red", "-XMP-iptcExt:PersonInImage=Alice",
       "-RegionName=Bob", "-RegionType=Face", "-RegionAreaX=0.5", "-RegionAreaY=0.5", "-RegionAreaW=0.1",
       "-RegionAreaH=0.1", "-RegionAreaUnit=normalized", "-RegionAppliedToDimensionsW=64",
       "-RegionAppliedToDimensionsH=48", "-RegionAppliedToDimensionsUnit=pixel",
       "-XMP-photoshop:DateCreated=2016:03:04 05:06:07-08:00", "-XMP-exif:GPSLatitude=48.8584",
       "-XMP-exif:GPSLongitude=2.2945", "-XMP-exif:GPSLatitudeRef=N", "-XMP-exif:GPSLongitudeRef=E", photo)
    trove("ingest", "folder", photo.parent, "--no-embed")
    p = listed(trove)["tagged.jpg"]
    assert p["keywords"] == ["Paris", "beach", "dog", "holiday"]
    assert p["meta"]["xmp"]["keyword_paths"] == ["Places|France|Paris"]
    assert (p["title"], p["description"], p["rating"]) == ("Rex on the beach", "He ran", 4)
    assert p["people"] == ["Alice", "Bob"]
    assert (p["taken_at"], p["utc_offset"], p["date_source"]) == ("2016-03-04T05:06:07", "-08:00", "xmp")
    assert (round(p["lat"], 4), round(p["lon"], 4)) == (48.8584, 2.2945)
    # the same fields feed the search filters, as for Takeout and Lightroom
    trove("ingest", "folder", photo.parent, "--model", "tiny_embedder:make")
    hits = trove.json_lines("search", "x", "--model", "tiny_embedder:make", "--keyword", "Paris", "--min-rating", "4")
    assert [h["id"] for h in hits] == [p["id"]]
    r = trove("search", "x", "--model", "tiny_embedder:make", "--keyword", "Paris", "--min-rating", "5", code=2)
    assert "match" in r.stderr


@needs_exiftool
def test_07_iptc_without_a_charset_is_windows_latin1(trove, tmp_path):
    photo = rocket(tmp_path, "iptc.jpg")
    et("-IPTC:Keywords=\u20acuro", "-IPTC:Keywords=caf\u00e9", "-IPTC:ObjectName=\u00c7a co\u00fbte 5 \u20ac", photo)
    assert b"\x80uro" in photo.read_bytes() and b"\x1b%G" not in photo.read_bytes()   # cp1252, no charset record
    assert oracle(photo)["IPTC:Keywords"] == ["\u20acuro", "caf\u00e9"]
    trove("ingest", "folder", photo.parent, "--no-embed")
    p = listed(trove)["iptc.jpg"]
    assert (p["keywords"], p["title"]) == (["caf\u00e9", "\u20acuro"], "\u00c7a co\u00fbte 5 \u20ac")


@needs_exiftool
def test_07_rejected_is_rating_minus_one(trove, tmp_path):
    photo = rocket(tmp_path, "bad.jpg")
    et("-XMP-xmp:Rating=-1", photo)
    trove("ingest", "folder", photo.parent, "--no-embed")
    p = listed(trove)["bad.jpg"]
    assert p["rating"] is None and p["meta"]["xmp"]["rejected"] is True


@needs_exiftool
def test_08_xmp_sidecars_are_read_and_a_changed_one_is_read_again(trove, tmp_path):
    a, b = rocket(tmp_path, "IMG_1.jpg"), rocket(tmp_path, "IMG_2.jpg")
    write_jpeg(a, seed=1)
    write_jpeg(b, seed=2)
    subprocess.run(["exiftool", "-q", "-q", "-XMP-dc:Subject=first", "-XMP-dc:Title=darktable title",
                    "-o", str(a) + ".xmp", str(a)], check=True)          # IMG_1.jpg.xmp (darktable)
    subprocess.run(["exiftool", "-q", "-q", "-XMP-dc:Subject=second", "-o", str(b.with_suffix(".xmp")), str(b)],
                   check=True)                                          # IMG_2.xmp (Lightroom, digiKam)
    trove("ingest", "folder", a.parent, "--no-embed")
    got = listed(trove)
    assert got["IMG_1.jpg"]["keywords"] == ["first"] and got["IMG_1.jpg"]["title"] == "darktable title"
    assert got["IMG_2.jpg"]["keywords"] == ["second"]
    assert got["IMG_1.jpg"]["meta"]["xmp-sidecar"]["xmp_sidecar"] == "IMG_1.jpg.xmp"
    et("-XMP-dc:Subject=changed", str(a) + ".xmp")
    run = trove.json_lines("ingest", "folder", a.parent, "--no-embed")[0]
    assert run["discover.changed"] == 1
    assert listed(trove)["IMG_1.jpg"]["keywords"] == ["changed"]
    assert trove.json_lines("list")  # and the keyword filter sees it
    db_keywords = {k for p in trove.json_lines("list") for k in p["keywords"]}
    assert db_keywords == {"changed", "second"}


# -- 10-12: the capture time as lived ---------------------------------------------------------------------
@needs_exiftool
def test_10_local_time_offsets_subseconds_and_the_gps_zone(trove, tmp_path):
    sf = rocket(tmp_path, "sf.jpg")   # 21:00 in San Francisco, no offset recorded: the GPS zone gives it
    et("-DateTimeOriginal=2019:07:14 21:00:00", "-SubSecTimeOriginal=25", "-GPSLatitude=37.7749",
       "-GPSLatitudeRef=N", "-GPSLongitude=122.4194", "-GPSLongitudeRef=W", sf)
    tokyo = rocket(tmp_path, "tokyo.jpg")
    et("-DateTimeOriginal=2019:07:15 08:30:00", "-OffsetTimeOriginal=+09:00", tokyo)
    nowhere = rocket(tmp_path, "nowhere.jpg")
    et("-DateTimeOriginal=2019:07:14 23:59:59", nowhere)
    trove("ingest", "folder", sf.parent, "--model", "tiny_embedder:make")
    got = listed(trove)
    assert {k: got["sf.jpg"][k] for k in ("taken_at", "utc_offset", "taken_utc", "offset_source")} == {
        "taken_at": "2019-07-14T21:00:00.25", "utc_offset": "-07:00", "taken_utc": "2019-07-15T04:00:00.25Z",
        "offset_source": "gps-timezone"}
    assert (got["tokyo.jpg"]["taken_at"], got["tokyo.jpg"]["taken_utc"]) == ("2019-07-15T08:30:00",
                                                                             "2019-07-14T23:30:00Z")
    assert (got["nowhere.jpg"]["utc_offset"], got["nowhere.jpg"]["taken_utc"]) == (None, None)
    # date filters use the local date: the evening in San Francisco is on the 14th
    day = {os.path.basename(r["shown_path"]) for r in trove.json_lines("search", "x", "--from", "2019-07-14",
                                                                        "--to", "2019-07-14")}
    assert day == {"sf.jpg", "nowhere.jpg"}


@pytest.mark.parametrize("name, expected", [
    ("IMG_20210921_144423.jpg", "2021-09-21T14:44:23"),
    ("PXL_20230615_090000000.jpg", "2023-06-15T09:00:00"),
    ("VID_20210921_144423.jpg", "2021-09-21T14:44:23"),
    ("MVIMG_20190101_120000.jpg", "2019-01-01T12:00:00"),
    ("Screenshot_20220807-195908.png", "2022-08-07T19:59:08"),
    ("Screenshot_2022-06-21-16-51-29-164.png", "2022-06-21T16:51:29.164"),
    ("2020-11-01 02.31.02.jpg", "2020-11-01T02:31:02"),
    ("20221107_231730.jpg", "2022-11-07T23:17:30"),
    ("IMG-20150125-WA0003.jpg", "2015-01-25T00:00:00"),
    ("signal-2022-12-17-15-16-04-718.jpg", "2022-12-17T15:16:04.718"),
    ("2022-02-18 16.00.12-DCMX.jpg", "2022-02-18T16:00:12"),
    ("IMG_19850101_120000.jpg", None),   # before 1990: not a date
    ("IMG_20990101_120000.jpg", None),   # in the future
    ("DSC_1234.jpg", None),
])
def test_11_dates_from_file_names(name, expected):
    from phototrove.media.filename_dates import filename_date

    assert filename_date(name) == expected


def test_11_12_a_file_name_date_is_the_last_resort_and_says_so(trove, tmp_path):
    src = tmp_path / "pics"
    write_jpeg(src / "IMG_20210921_144423.jpg", seed=1)                               # no EXIF date
    write_jpeg(src / "IMG_20210921_144424.jpg", seed=2, taken="2001:02:03 04:05:06")  # EXIF wins
    trove("ingest", "folder", src, "--no-embed")
    got = listed(trove)
    assert (got["IMG_20210921_144423.jpg"]["taken_at"], got["IMG_20210921_144423.jpg"]["date_source"]) == (
        "2021-09-21T14:44:23", "filename")
    assert (got["IMG_20210921_144424.jpg"]["taken_at"], got["IMG_20210921_144424.jpg"]["date_source"]) == (
        "2001-02-03T04:05:06", "exif")


# -- 13-14: sizes and completeness -------------------------------------------------------------------------
def test_13_width_and_height_are_as_displayed(trove, tmp_path):
    src = tmp_path / "pics"
    shutil.copy(FIXTURES / "rocket_exif6.jpg", src.mkdir() or src / "rocket.jpg")
    trove("ingest", "folder", src, "--no-embed")
    p = listed(trove)["rocket.jpg"]
    from PIL import Image

    stored = Image.open(src / "rocket.jpg").size
    assert (p["stored_width"], p["stored_height"]) == stored and (p["width"], p["height"]) == stored[::-1]


@needs_exiftool
def test_13_tiff_and_avif_sizes_are_as_displayed(trove, tmp_path):
    from PIL import Image, features

    from fixture_exif import exif_bytes

    src = tmp_path / "pics"
    src.mkdir()
    im = Image.open(FIXTURES / "rocket_exif6.jpg").convert("RGB")
    stored = im.size
    for name, kw in (("plain.tif", {}), ("lzw.tif", {"compression": "tiff_lzw"})):
        im.save(src / name, "TIFF", **kw)
        et("-IFD0:Orientation#=8", src / name)
        assert oracle(src / name)["Composite:ImageSize"] == f"{stored[0]} {stored[1]}"
    if features.check("avif"):   # Pillow writes the EXIF orientation as irot, which its reader leaves to viewers
        im.save(src / "turned.avif", exif=exif_bytes(orientation=6, make="Google", model="Pixel 8"))
        assert oracle(src / "turned.avif")["QuickTime:Rotation"] in (90, 270)
    trove("ingest", "folder", src, "--no-embed")
    got = listed(trove)
    for name, p in got.items():
        assert (p["stored_width"], p["stored_height"]) == stored, name
        assert (p["width"], p["height"]) == stored[::-1], name


def test_14_complete_files_are_not_called_truncated(trove, tmp_path):
    from PIL import Image

    src = tmp_path / "pics"
    src.mkdir()
    base = jpeg(64, 48, seed=1, taken="2019:07:14 10:30:00")
    (src / "padded.jpg").write_bytes(base + b"\x00" * 4096)
    buf = io.BytesIO()
    Image.open(io.BytesIO(base)).save(buf, "PNG")
    (src / "padded.png").write_bytes(buf.getvalue() + b"\x00" * 100)
    buf = io.BytesIO()
    Image.open(io.BytesIO(base)).save(buf, "GIF")
    (src / "padded.gif").write_bytes(buf.getvalue() + b"\x00" * 4096)
    big = src / "huge.png"   # over 256 MiB: its end is beyond what is kept in memory
    png = buf = io.BytesIO()
    Image.open(io.BytesIO(base)).save(png, "PNG")
    data = png.getvalue()
    iend = data.rfind(b"IEND") - 4
    with open(big, "wb") as f:
        f.write(data[:iend])
        size = 260 << 20
        f.write(size.to_bytes(4, "big") + b"prVt")   # a private chunk after the image data
        for _ in range(size >> 20):
            f.write(bytes(1 << 20))
        f.write(b"\x00\x00\x00\x00" + data[iend:])
    r = trove.json_lines("ingest", "folder", src, "--no-embed")[0]
    assert r.get("read.errors", 0) == 0 and r["read.photos"] == 4, r


def test_14_truncated_heic_and_big_endian_bigtiff_are_said(trove, tmp_path):
    pillow_heif = pytest.importorskip("pillow_heif")
    from PIL import Image

    pillow_heif.register_heif_opener()
    buf = io.BytesIO()
    im = Image.effect_noise((640, 480), 60).convert("RGB")
    im.save(buf, "HEIF", quality=90)
    heic = buf.getvalue()
    src = tmp_path / "pics"
    write(src / "cut.heic", heic[:len(heic) // 20])   # an iPhone HEIC cut to 5%
    tiff = b"MM\x00\x2b\x00\x08\x00\x00" + (16).to_bytes(8, "big") + (1).to_bytes(8, "big") + \
        struct.pack(">HHQQ", 256, 4, 1, 8 << 32) + bytes(8)
    write(src / "big.tif", tiff)
    trove("ingest", "folder", src, "--no-embed", code=1)
    import sqlite3

    rows = dict(sqlite3.connect(trove.library / "catalog.db").execute(
        "SELECT substr(path, length(path) - 7), kind || ': ' || message FROM errors"))
    assert rows["cut.heic"].startswith("truncated")
    assert "big-endian BigTIFF" in rows["/big.tif"] or "big-endian BigTIFF" in next(
        v for k, v in rows.items() if k.endswith("big.tif"))
