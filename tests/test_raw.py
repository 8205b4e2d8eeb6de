"""media/raw/ against exiftool's reading of the same files: fixture RAWs of every kind built by
fixtures/media_fixtures.py (real JPEG previews, full EXIF, laid out as each maker's cameras do),
the sample RAWs of exiftool's own test suite when this machine has them, and hostile input."""
from __future__ import annotations

import glob
import io
import json
import os
import random
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
import media_fixtures as mf  # noqa: E402
from conftest import deadline  # noqa: E402

from phototrove.media.exif import camera_name  # noqa: E402
from phototrove.media.jpeg import jpeg_end, jpeg_size  # noqa: E402
from phototrove.media.kinds import MediaError  # noqa: E402
from phototrove.media.raw import RawInfo, preview_bytes, probe_raw  # noqa: E402

EXIFTOOL = shutil.which("exiftool")
needs_exiftool = pytest.mark.skipif(EXIFTOOL is None, reason="exiftool is not installed")
KINDS = {"truncated", "not-an-image", "corrupt", "empty"}
PARIS, SYDNEY, TOKYO, QUITO = (48.8584, 2.2945, 35.5), (-33.8568, 151.2153, 12.0), (35.6586, 139.7454, 40.0), \
    (-0.2202, -78.5123, 2850.0)

# file name -> (bytes, what the fixture holds: displayed size and the sizes of its previews, largest first)
FIXTURES = {
    "DSC_0001.NEF": (lambda: mf.tiff_raw_with_previews(".nef", 1, gps=PARIS, orientation=6), (4000, 6000)),
    "_DSC0002.ARW": (lambda: mf.tiff_raw_with_previews(".arw", 2, orientation=8, lens=None), (4000, 6000)),
    # CR2: the size is IFD0's, its full-size JPEG's (here a small one); the sensor IFD has none
    "IMG_0003.CR2": (lambda: mf.tiff_raw_with_previews(".cr2", 3, gps=QUITO, offset="-05:00"), (1600, 1064)),
    "PXL_0004.DNG": (lambda: mf.tiff_raw_with_previews(".dng", 4, gps=SYDNEY, orientation=3), (5976, 3984)),
    "P0000005.ORF": (lambda: mf.tiff_raw_with_previews(".orf", 5, offset=None), (6000, 4000)),
    "P1000006.RW2": (lambda: mf.tiff_raw_with_previews(".rw2", 6, gps=TOKYO, offset="+09:00"), (6000, 4000)),
    "IMGP0007.PEF": (lambda: mf.tiff_raw_with_previews(".pef", 7, orientation=6), (4000, 6000)),
    "SAM_0008.SRW": (lambda: mf.tiff_raw_with_previews(".srw", 8, gps=QUITO), (6000, 4000)),
    "IMG_0009.CR3": (lambda: mf.cr3_with_preview(9, gps=SYDNEY, orientation=6), (4000, 6000)),
    "DSCF0010.RAF": (lambda: mf.raf_with_exif(10, gps=TOKYO, orientation=8), (4160, 6240)),
    "DSCN0011.NRW": (lambda: mf.tiff_raw_with_previews(".nrw", 11), (6000, 4000)),
    "B0000012.3FR": (lambda: mf.tiff_raw_with_previews(".3fr", 12, previews=((800, 600), (320, 240))), (6000, 4000)),
    "IMG_0013.CR3": (lambda: mf.cr3_with_preview(13, full=None, lens=None, offset=None), (6000, 4000)),
}
EXPECTED_FORMAT = {"NEF": "nef", "ARW": "arw", "CR2": "cr2", "DNG": "dng", "ORF": "orf", "RW2": "rw2", "PEF": "pef",
                   "SRW": "srw", "CR3": "cr3", "RAF": "raf", "NRW": "nrw", "3FR": "3fr"}
_built: dict[str, bytes] = {}


def fixture(name: str) -> bytes:
    if name not in _built:
        _built[name] = FIXTURES[name][0]()
    return _built[name]


@pytest.fixture(autouse=True)
def no_reader_hangs():
    """No reader may hang: every test here gets 60 seconds."""
    with deadline(60):
        yield


# -- exiftool ---------------------------------------------------------------------------------------
TAGS = ["-DateTimeOriginal", "-OffsetTimeOriginal", "-Make", "-Model", "-LensModel", "-Orientation", "-GPSLatitude",
        "-GPSLongitude", "-ImageWidth", "-ImageHeight"]
PREVIEW_TAGS = ["-PreviewImage", "-JpgFromRaw", "-OtherImage", "-ThumbnailImage"]


def exiftool(path: Path) -> dict:
    out = subprocess.run([EXIFTOOL, "-j", "-n", *TAGS, str(path)], capture_output=True, text=True, timeout=60)
    return json.loads(out.stdout)[0] if out.stdout.strip() else {}


def exiftool_jpegs(path: Path) -> list[bytes]:
    """Every embedded JPEG exiftool extracts (duplicates of a name included), largest first."""
    import base64

    out = subprocess.run([EXIFTOOL, "-a", "-b", "-j", "-G1", *PREVIEW_TAGS, str(path)], capture_output=True,
                         text=True, timeout=60)
    pairs = json.loads(out.stdout, object_pairs_hook=lambda kv: kv)[0] if out.stdout.strip() else []
    jpegs = [base64.b64decode(v[7:]) for _, v in pairs if isinstance(v, str) and v.startswith("base64:")]
    jpegs = [j for j in jpegs if j[:2] == b"\xff\xd8" and jpeg_size(j)]
    return sorted(jpegs, key=lambda j: (jpeg_size(j)[0] * jpeg_size(j)[1], len(j)), reverse=True)


def agree(info: RawInfo, tool: dict, *, strict: bool = True) -> None:
    """probe_raw's metadata equals exiftool's: date, UTC offset, make and camera, lens,
    orientation, GPS. `strict`: what exiftool has, probe_raw must have too."""
    exif = info.exif

    def check(key, expected, got):
        if expected is None and not strict:
            return
        if got is None and not strict:
            return
        assert got == expected, f"{key}: probe_raw {got!r}, exiftool {expected!r}"

    date = tool.get("DateTimeOriginal")
    if isinstance(date, str) and not date.startswith("0000"):
        expected = date[:19].replace(":", "-", 2).replace(" ", "T")
        check("date", expected, exif.get("taken_local", "")[:19] or None)
    check("offset", tool.get("OffsetTimeOriginal"), exif.get("utc_offset"))
    make = str(tool["Make"]).strip() if "Make" in tool else None
    check("make", make, exif.get("make"))
    if "Model" in tool:
        check("camera", camera_name(make, str(tool["Model"])), exif.get("camera"))
    check("lens", tool.get("LensModel"), exif.get("lens"))
    check("orientation", tool.get("Orientation"), info.orientation)
    for key, tag in (("lat", "GPSLatitude"), ("lon", "GPSLongitude")):
        if tag in tool or exif.get(key) is not None:
            assert exif.get(key) == pytest.approx(tool.get(tag), abs=1e-6), key


# -- the fixtures against exiftool ------------------------------------------------------------------
@needs_exiftool
@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_fixture_agrees_with_exiftool(name, tmp_path):
    data = fixture(name)
    assert len(data) < 200_000
    path = tmp_path / name
    path.write_bytes(data)
    info = probe_raw(data, name=name)
    assert info.format == EXPECTED_FORMAT[name.rsplit(".", 1)[1]]
    tool = exiftool(path)
    agree(info, tool)
    if info.format not in ("dng", "raf"):   # DNG: its DefaultCropSize; RAF: exiftool gives the JPEG's
        assert (info.stored_width, info.stored_height) == (tool["ImageWidth"], tool["ImageHeight"])
    for key in ("taken_local", "make", "camera"):   # exiftool agreeing on nothing would prove nothing
        assert key in info.exif
    jpegs = exiftool_jpegs(path)
    assert jpegs, "exiftool found no preview"
    jpeg, preview = preview_bytes(data, info)
    assert jpeg == jpegs[0], "not exiftool's largest preview"
    assert (preview.width, preview.height) == jpeg_size(jpeg)
    # every JPEG exiftool extracts, probe_raw lists (by content); and largest first
    mine = [bytes(data[p.offset:p.offset + p.length]) for p in info.previews]
    assert all(j in mine for j in jpegs)
    areas = [p.width * p.height for p in info.previews]
    assert areas == sorted(areas, reverse=True)


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_fixture_sizes_and_previews(name):
    data = fixture(name)
    info = probe_raw(data, name=name)
    shown = FIXTURES[name][1]
    assert (info.width, info.height) == shown
    turned = info.orientation in (5, 6, 7, 8)
    assert (info.stored_width, info.stored_height) == (shown[::-1] if turned else shown)
    for p in info.previews:
        jpeg = data[p.offset:p.offset + p.length]
        assert jpeg[:2] == b"\xff\xd8" and jpeg_end(jpeg) == p.length
        assert (p.width, p.height) == jpeg_size(jpeg)
    # the same answer from the head alone, given the file's length (the sensor data left out)
    head = data[:len(data) - 20000]
    assert max(p.offset + p.length for p in info.previews) <= len(head)
    head_info = probe_raw(memoryview(head), size=len(data), name=name)
    assert head_info.previews == info.previews
    assert head_info.exif == info.exif and head_info.width == info.width
    assert preview_bytes(head, head_info)[0] == preview_bytes(data, info)[0]


def test_raf_metadata_comes_from_its_jpeg():
    info = probe_raw(mf.raf_with_exif(3, gps=TOKYO, orientation=6, taken="2019:01:02 03:04:05"), name="x.RAF")
    assert info.exif["taken_local"] == "2019-01-02T03:04:05" and info.exif["utc_offset"] == "+09:00"
    assert info.exif["camera"] == "FUJIFILM X-T3" and info.exif["lens"] == "XF16-55mmF2.8 R LM WR"
    assert info.orientation == 6 and (info.width, info.height) == (4160, 6240)
    assert [(p.width, p.height) for p in info.previews] == [(1920, 1280)]


def test_rw2_exif_merged_from_jpg_from_raw():
    """The RW2's own EXIF IFD holds ISO and exposure only; date, offset and lens are in its JpgFromRaw."""
    info = probe_raw(mf.tiff_raw_with_previews(".rw2", 2, taken="2018:08:09 10:11:12", offset="-03:00"))
    assert info.format == "rw2"
    assert info.exif["taken_local"] == "2018-08-09T10:11:12" and info.exif["utc_offset"] == "-03:00"
    assert info.exif["lens"] == "24-70mm f/2.8" and info.exif["iso"] == 400


def test_dng_size_is_its_default_crop():
    assert (probe_raw(mf.tiff_raw_with_previews(".dng", 1, crop=(5000, 3000))).width) == 5000
    info = probe_raw(mf.tiff_raw_with_previews(".dng", 1, crop=None, raw_size=(4032, 3024), orientation=6))
    assert (info.width, info.height, info.stored_width) == (3024, 4032, 4032)


def test_min_side_picks_the_largest_preview_tall_enough():
    data = mf.tiff_raw_with_previews(".nef", 5, previews=((4000, 300), (1200, 800), (400, 300)))
    info = probe_raw(data, name="pano.nef")
    assert [(p.width, p.height) for p in info.previews] == [(4000, 300), (1200, 800), (400, 300)]
    assert preview_bytes(data, info)[1].width == 4000
    assert preview_bytes(data, info, min_side=600)[1].width == 1200
    assert preview_bytes(data, info, min_side=5000)[1].width == 4000   # none is: the largest


def test_head_without_the_largest_preview_gives_the_next():
    data = mf.cr3_with_preview(4)
    info = probe_raw(data)
    full, prvw = info.previews[0], info.previews[1]
    assert (full.width, full.height, prvw.width) == (2400, 1600, 1620)
    head = data[:full.offset]   # the mdat's full-size JPEG not read
    jpeg, chosen = preview_bytes(head, probe_raw(head, size=len(data)))
    assert chosen == prvw and jpeg == data[prvw.offset:prvw.offset + prvw.length]


def test_no_preview():
    data = mf.tiff_raw(".nef", 1)   # its IFD0 preview is uncompressed RGB: no JPEG
    info = probe_raw(data, name="x.nef")
    assert info.format == "nef" and info.previews == [] and info.exif["camera"] == "NIKON D750"
    with pytest.raises(MediaError) as e:
        preview_bytes(data, info)
    assert e.value.kind == "no-preview"


@pytest.mark.parametrize("ext", sorted(mf.TIFF_RAWS))
def test_older_fixtures_read(ext):
    info = probe_raw(mf.tiff_raw(ext, 3), name="x" + ext)
    assert info.format == ext[1:] and info.exif["taken_local"] == "2019-07-14T10:30:00"


@needs_exiftool
def test_minimal_rw2_fixture_is_an_rw2_to_exiftool(tmp_path):
    path = tmp_path / "P1000001.RW2"
    path.write_bytes(mf.tiff_raw(".rw2", 4))
    out = subprocess.run([EXIFTOOL, "-j", "-n", "-G1", str(path)], capture_output=True, text=True, timeout=60)
    meta = json.loads(out.stdout)[0]
    info = probe_raw(path.read_bytes(), name=path.name)
    assert meta["File:FileType"] == "RW2" and meta["ExifIFD:DateTimeOriginal"] == "2019:07:14 10:30:00"
    assert f"{info.width} {info.height}" == meta["Composite:ImageSize"]
    assert (info.exif["taken_local"], info.exif["camera"]) == ("2019-07-14T10:30:00", "Panasonic DMC-GH4")


def test_older_raf_and_cr3_fixtures_read():
    raf = probe_raw(mf.raf(2))   # a JPEG without EXIF
    assert raf.format == "raf" and [(p.width, p.height) for p in raf.previews] == [(32, 24)]
    cr3 = probe_raw(mf.cr3(2))   # ftyp and mdat only: a CR3 by its brand, with nothing to read
    assert (cr3.format, cr3.previews, cr3.width) == ("cr3", [], None) and "moov" in cr3.exif["notes"][0]


def test_format_from_the_structure_or_name():
    nef = mf.tiff_raw_with_previews(".nef", 1)
    assert probe_raw(nef).format == "nef"                  # by its maker, with no name
    assert probe_raw(nef, name="x.NRW").format == "nrw"    # the name tells NEF from NRW
    assert probe_raw(nef, name="x.dng").format == "dng"    # a TIFF RAW named .dng without DNGVersion: as named
    assert probe_raw(mf.tiff_raw_with_previews(".dng", 1), name="x.nef").format == "dng"   # DNGVersion wins
    assert probe_raw(mf.tiff_raw_with_previews(".cr2", 1), name="x.tif").format == "cr2"


# -- exiftool's (and exiv2's) own sample files ------------------------------------------------------
RAW_EXTS = {"cr2", "cr3", "crw", "nef", "nrw", "arw", "sr2", "srf", "orf", "rw2", "rwl", "pef", "srw", "dng", "raf",
            "mrw", "x3f", "3fr", "fff", "iiq", "erf", "kdc", "dcr", "mos", "gpr", "raw"}
EXIFTOOL_DIRS = ["/tmp/corpus/exiftool", *glob.glob("/tmp/src/Image-ExifTool-*/t/images")]
OTHER_DIRS = glob.glob("/tmp/src/exiv2-*/test/data")   # fuzzers' findings, and a few camera files:
REAL_OTHERS = {"Canon-R6-pruned.CR3", "IMG_1361.dng", "exiv2-canon-powershot-s40.crw"}


def corpus(dirs: list[str]) -> list[str]:
    files = [p for d in dirs for p in sorted(glob.glob(os.path.join(d, "*")))
             if p.rsplit(".", 1)[-1].lower() in RAW_EXTS and os.path.isfile(p)]
    return files or [pytest.param(None, marks=pytest.mark.skip(reason="no sample RAWs on this machine"))]


@needs_exiftool
@pytest.mark.parametrize("path", corpus(EXIFTOOL_DIRS + OTHER_DIRS),
                         ids=lambda p: os.path.basename(p) if p else "none")
def test_sample_raws(path):
    """Each sample is read or refused with a MediaError (many are stubs with the image data cut
    out). What is read agrees with exiftool. A stub is read again as the head of a larger file:
    its metadata must then agree as well."""
    data = Path(path).read_bytes()
    trusted = any(path.startswith(d) for d in EXIFTOOL_DIRS) or os.path.basename(path) in REAL_OTHERS
    try:
        info = probe_raw(data, name=path)
    except MediaError as e:
        assert e.kind in KINDS
        if e.kind != "truncated" or not trusted:
            return
        info = probe_raw(data, size=len(data) + (1 << 30), name=path)   # as if only the head were here
    if not trusted:
        return
    tool = exiftool(Path(path))
    agree(info, tool, strict=False)
    if info.format != "x3f":
        assert "taken_local" in info.exif and "camera" in info.exif
    for p in info.previews:
        if p.offset + p.length <= len(data):
            assert data[p.offset:p.offset + 2] == b"\xff\xd8"


@needs_exiftool
def test_real_cr3_preview_matches_exiftool():
    path = next((p for d in OTHER_DIRS for p in glob.glob(d + "/Canon-R6-pruned.CR3")), None)
    if path is None:
        pytest.skip("exiv2's CR3 sample is not on this machine")
    data = Path(path).read_bytes()
    with pytest.raises(MediaError) as e:   # its mdat was pruned: the full-size JPEG is gone
        probe_raw(data)
    assert e.value.kind == "truncated"
    info = probe_raw(data, size=len(data) + (1 << 30))
    assert (info.previews[0].width, info.previews[0].height) == (3408, 2272)   # in the missing mdat
    jpeg, chosen = preview_bytes(data, info)
    assert (chosen.width, chosen.height) == (1620, 1080)
    theirs = exiftool_jpegs(Path(path))[0]   # exiftool keeps the box's padding after the JPEG
    assert theirs[:len(jpeg)] == jpeg and jpeg_end(jpeg) == len(jpeg) and not theirs[len(jpeg):].strip(b"\x00")


# -- hostile input ----------------------------------------------------------------------------------
def refused(data, name: str = "", size: int | None = None) -> str:
    with pytest.raises(MediaError) as e:
        probe_raw(data, name=name, size=size)
    assert e.value.kind in KINDS, e.value.kind
    return e.value.kind


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_cut_files_are_truncated(name):
    data = fixture(name)
    for n in sorted({1, 7, 8, 12, 16, 40, 100, 300, len(data) // 4, len(data) // 2, len(data) - 5000, len(data) - 1}):
        kind = refused(data[:n], name)
        assert kind == "truncated" or (n < 16 and kind in ("not-an-image", "corrupt")), (n, kind)
        # the same head, said to be the head of the whole file: not cut, at most unreadable so far
        try:
            probe_raw(data[:n], size=len(data), name=name)
        except MediaError as e:
            assert e.kind in KINDS


@pytest.mark.parametrize("content, kind", [
    (b"", "empty"), (b"hello, this is a text file\n" * 50, "not-an-image"), (bytes(4096), "not-an-image"),
    (b"\x89PNG\r\n\x1a\n" + bytes(100), "not-an-image"), (b"\xff\xd8\xff\xe0" + bytes(100), "not-an-image"),
    (b"%PDF-1.4\n" + bytes(100), "not-an-image"), (b"II*\x00", "truncated"), (b"FUJIFILM", "truncated"),
])
def test_not_raws(content, kind):
    assert refused(content, "DSC_0001.NEF") == kind


def test_png_and_tiff_images_are_not_raws():
    from PIL import Image

    for fmt in ("PNG", "TIFF", "JPEG"):
        buf = io.BytesIO()
        Image.new("RGB", (64, 48), (10, 200, 30)).save(buf, fmt)
        assert refused(buf.getvalue(), "IMG_0001.CR3" if fmt == "TIFF" else "IMG_0001.NEF") == "not-an-image"


def _patch_entry(data: bytes, tag: int, value: int, ifd_at: int | None = None, e: str = "<") -> bytes:
    """Set every IFD entry `tag` in the file (found by scanning for its 12-byte entries) to `value`."""
    out = bytearray(data)
    hits = 0
    for at in range(8, len(out) - 12, 2):
        t, typ, count = struct.unpack_from(e + "HHI", out, at)
        if t == tag and typ == 4 and count == 1:
            struct.pack_into(e + "I", out, at + 8, value)
            hits += 1
    assert hits
    return bytes(out)


def test_largest_preview_past_the_end_is_truncated():
    data = mf.tiff_raw_with_previews(".arw", 1)
    largest = probe_raw(data).previews[0]
    out = bytearray(data)
    at = bytes(out).find(struct.pack("<HHII", 0x0201, 4, 1, largest.offset))
    struct.pack_into("<I", out, at + 8, len(data) + 10)
    assert refused(bytes(out)) == "truncated"


def test_small_preview_past_the_end_is_dropped():
    data = mf.tiff_raw_with_previews(".arw", 1)
    previews = probe_raw(data).previews
    out = bytearray(data)
    at = bytes(out).find(struct.pack("<HHII", 0x0201, 4, 1, previews[-1].offset))
    struct.pack_into("<I", out, at + 8, len(data) + 10)
    info = probe_raw(bytes(out))
    assert info.previews == previews[:-1] and any("past the end" in n for n in info.exif["notes"])
    struct.pack_into("<I", out, at + 8, len(data) - 10)   # inside, but not a JPEG there
    info = probe_raw(bytes(out))
    assert info.previews == previews[:-1] and any("not a JPEG" in n for n in info.exif["notes"])


def test_ifd_loops_and_huge_counts():
    data = mf.tiff_raw_with_previews(".nef", 2)   # big-endian
    first = struct.unpack_from(">I", data, 4)[0]
    count = struct.unpack_from(">H", data, first)[0]
    loop = bytearray(data)
    struct.pack_into(">I", loop, first + 2 + 12 * count, first)        # IFD0's next is IFD0
    sub = bytes(loop).find(struct.pack(">HHI", 0x014A, 4, 3))
    offsets = struct.unpack_from(">I", loop, sub + 8)[0]
    struct.pack_into(">I", loop, offsets, first)                        # and its first SubIFD is IFD0
    info = probe_raw(bytes(loop), name="x.nef")
    assert info.exif["camera"] == "NIKON Z 6"
    huge = bytearray(data)
    struct.pack_into(">H", huge, first, 0xFFFF)
    assert refused(bytes(huge), "x.nef") == "corrupt"
    cut = bytearray(data)
    struct.pack_into(">H", cut, first, 4000)   # more entries than the file holds
    assert refused(bytes(cut[:20000]), "x.nef") == "truncated"


def test_nikon_preview_ifd_pointing_anywhere():
    data = mf.tiff_raw_with_previews(".nef", 2)
    note = data.find(b"Nikon\x00\x02")
    for value in (0, 1, 8, 0xFFFF, 0xFFFFFFFF):
        out = bytearray(data)
        at = bytes(out).find(struct.pack("<HHI", 0x0011, 13, 1), note)
        struct.pack_into("<I", out, at + 8, value)
        info = probe_raw(bytes(out), name="x.nef")
        assert len(info.previews) == 2   # the maker note's one lost, the others kept


@pytest.mark.parametrize("size", [0, 1, 7, 0xFFFFFFFF])
def test_cr3_box_sizes(size):
    data = bytearray(mf.cr3_with_preview(1))
    moov = data.find(b"moov") - 4
    struct.pack_into(">I", data, moov, size)
    if size == 0:   # "to the end of the file": the boxes after it read as its own
        assert probe_raw(bytes(data)).exif["camera"] == "Canon EOS R5"
    else:
        refused(bytes(data))
    huge = bytearray(mf.cr3_with_preview(1))
    struct.pack_into(">I", huge, moov, 1)
    huge[moov + 8:moov + 16] = struct.pack(">Q", 1 << 62)   # a 64-bit size (over what was a uuid box)
    refused(bytes(huge))


def test_cr3_nested_box_larger_than_its_parent():
    data = bytearray(mf.cr3_with_preview(1))
    at = data.find(b"CMT2") - 4
    struct.pack_into(">I", data, at, 1 << 20)
    info = probe_raw(bytes(data))   # CMT2 (EXIF) cut to its parent: read as far as it goes
    assert info.exif["camera"] == "Canon EOS R5"


def test_crw_record_table_pointing_anywhere():
    heap = bytes(20) + struct.pack("<H", 1) + struct.pack("<HII", 0x2007, 1 << 30, 0) + struct.pack("<I", 20)
    crw = b"II" + struct.pack("<I", 26) + b"HEAPCCDR" + b"\x01\x00\x02\x00" + bytes(8) + heap
    assert probe_raw(crw).previews == []
    for table in (0, 3, 1 << 31, len(heap) - 4):
        bad = crw[:-4] + struct.pack("<I", table)
        try:
            probe_raw(bad)
        except MediaError as e:
            assert e.kind in KINDS


def test_crw_sub_heaps_are_bounded():
    """1000 records each naming the whole heap as a sub-heap of itself: read in bounded time."""
    count = 1000
    table = struct.pack("<H", count) + struct.pack("<HII", 0x300A, 2 + 10 * count + 4 + 8, 0) * count
    heap = bytes(8) + table + struct.pack("<I", 8)
    crw = b"II" + struct.pack("<I", 26) + b"HEAPCCDR" + b"\x01\x00\x02\x00" + bytes(8) + heap
    try:
        probe_raw(crw)
    except MediaError as e:
        assert e.kind in KINDS


def test_lossless_jpeg_sensor_data_is_no_preview():
    """CR2's sensor data is a lossless JPEG (SOF3) in IFD3's strip: never a preview, even without
    the CR2 slice tag that marks it."""
    data = mf.tiff_raw_with_previews(".cr2", 1)
    unmarked = data.replace(struct.pack("<HHI", 0xC640, 3, 3), struct.pack("<HHI", 0xC641, 3, 3), 1)
    assert unmarked != data
    for d in (data, unmarked):
        assert [(p.width, p.height) for p in probe_raw(d).previews] == [(1600, 1064), (640, 424), (160, 120)]


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_random_damage(name):
    """Bytes overwritten at random (in the structure, where it matters): a RawInfo or a MediaError."""
    data = fixture(name)
    rnd = random.Random(name)
    structure = min(len(data), 4096)
    for _ in range(150):
        out = bytearray(data)
        for _ in range(rnd.randrange(1, 12)):
            at = rnd.randrange(structure) if rnd.random() < 0.8 else rnd.randrange(len(out))
            out[at] = rnd.choice((0, 0xFF, rnd.randrange(256)))
        try:
            info = probe_raw(bytes(out), name=name)
            if info.previews:
                preview_bytes(bytes(out), info)
        except MediaError as e:
            assert e.kind in KINDS | {"no-preview"}
