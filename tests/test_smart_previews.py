"""Lightroom Smart Previews (ingest/lightroom/smart.py) on lossy DNGs built as Lightroom's DNG code
writes them (fixtures/smart_preview.py): the structure against exiftool, truncated and foreign
files, the `<U>/<UUUU>/<UUID>.dng` layout, LibRaw's development against the fixture's source
picture (colour, size, orientation), and what happens without the `raw` extra."""
from __future__ import annotations

import functools
import io
import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
import dng_fixtures as dng  # noqa: E402
import smart_preview as sp  # noqa: E402

from phototrove.ingest.lightroom.previews import PreviewError  # noqa: E402
from phototrove.ingest.lightroom.smart import (read_smart, scan_smart_previews, smart_dir_for,  # noqa: E402
                                               smart_jpeg)
from phototrove.media.tiff import read_tiff  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
EXIFTOOL = shutil.which("exiftool")
needs_exiftool = pytest.mark.skipif(EXIFTOOL is None, reason="exiftool is not installed")
UUIDS = ["3829E5FC-7F3F-4B22-94F3-FB5E2C796026", "00BAACF9-1D2E-4F11-8A2B-0123456789AB",
         "F0E1D2C3-B4A5-4968-8776-65544332211F"]

# stored width, height, and options: landscape, portrait, a camera turned (6, 8), odd sizes, both
# byte orders, both layouts (main image in IFD0; thumbnail in IFD0 and the main image in SubIFD 0)
CASES = {
    "landscape": (2560, 1707, {}),
    "portrait": (1707, 2560, {"big_endian": False}),
    "turned-6": (2560, 1707, {"orientation": 6, "thumbnail": True, "original_name": "IMG_0001.CR2"}),
    "odd-8": (1001, 777, {"orientation": 8, "big_endian": False}),
    "odd-256-tiles": (333, 250, {"tile": 256}),
    "output-referred": (1203, 901, {"referred": "output", "thumbnail": True}),
}


@functools.lru_cache(maxsize=None)
def built(name: str) -> bytes:
    w, h, options = CASES[name]
    return sp.smart_preview_dng(w, h, seed=len(name), **options)


def put(tmp_path: Path, name: str, data: bytes | None = None, uuid: str = UUIDS[0]) -> str:
    return sp.write_smart_preview(str(tmp_path / "Cat Smart Previews.lrdata"), uuid,
                                  built(name) if data is None else data)


def exiftool(path: str) -> dict:
    out = subprocess.run([EXIFTOOL, "-j", "-n", "-a", "-G1", "-All", "-validate", "-warning", path],
                         capture_output=True, text=True, timeout=60)
    return json.loads(out.stdout)[0]


def expect_error(path: str, kind: str, *words: str) -> PreviewError:
    with pytest.raises(PreviewError) as err:
        read_smart(path)
    e = err.value
    assert e.kind == kind, (e.kind, str(e))
    assert "\n" not in str(e) and all(w.lower() in str(e).lower() for w in words), str(e)
    return e


# -- the structure, against exiftool ----------------------------------------------------------------
@needs_exiftool
@pytest.mark.parametrize("name", list(CASES))
def test_structure_matches_exiftool(tmp_path, name):
    w, h, options = CASES[name]
    path = put(tmp_path, name)
    tool = exiftool(path)
    assert tool["ExifTool:Validate"] == "0 0 0" and not any("Warning" in k for k in tool), tool   # a valid DNG
    group = "SubIFD" if options.get("thumbnail") else "IFD0"
    info = read_smart(path)
    assert (info.stored_width, info.stored_height) == (tool[f"{group}:ImageWidth"], tool[f"{group}:ImageHeight"])
    assert tool[f"{group}:DefaultCropSize"] == f"{w} {h}"
    assert info.orientation == tool["IFD0:Orientation"] == options.get("orientation", 1)
    assert info.dng_version == tool["IFD0:DNGVersion"].replace(" ", ".") == "1.4.0.0"
    assert tool[f"{group}:PhotometricInterpretation"] == 34892 and tool[f"{group}:Compression"] == 34892
    turned = info.orientation in (5, 6, 7, 8)
    assert (info.width, info.height) == ((h, w) if turned else (w, h))
    assert info.uuid == UUIDS[0] and info.complete and info.compression == 34892 and not info.warnings
    assert info.size == os.path.getsize(path) and info.mtime_ns == os.stat(path).st_mtime_ns
    ow, oh = (int(v) for v in tool["IFD0:OriginalDefaultFinalSize"].split())
    assert (info.original_width, info.original_height) == ((oh, ow) if turned else (ow, oh))
    assert info.original_name == options.get("original_name")
    assert info.exif["taken_local"] == "2021-06-05T14:30:15" and info.exif["camera"] == tool["IFD0:Model"]


@needs_exiftool
def test_tiles_are_laid_out_as_the_dng_sdk_does(tmp_path):
    """2560 x 1707: 5 x 4 tiles of 512 x 432 (equal parts, multiples of 16), each a JPEG of the
    full tile size; the pixels past the image edge repeat its last row and column."""
    from PIL import Image

    data = built("landscape")
    path = put(tmp_path, "landscape")
    tool = exiftool(path)
    assert (tool["IFD0:TileWidth"], tool["IFD0:TileLength"]) == (512, 432)
    tags = read_tiff(data).ifd("ifd0")
    offsets, counts = tags[324], tags[325]
    assert len(offsets) == 20 and offsets == tuple(sorted(offsets))
    last = Image.open(io.BytesIO(data[offsets[-1]:offsets[-1] + counts[-1]]))
    assert last.size == (512, 432) and last.format == "JPEG"
    import numpy as np

    px = np.asarray(last.convert("RGB"), dtype=int)
    inside = 1707 - 3 * 432            # rows of the last tile row that are image
    assert np.abs(px[inside:] - px[inside - 1:inside]).mean() < 3   # padding repeats the last row
    opcodes = subprocess.run([EXIFTOOL, "-s3", "-OpcodeList2", path], capture_output=True, text=True, timeout=60)
    assert opcodes.stdout.strip() == "MapPolynomial, MapPolynomial, MapPolynomial"


def test_directories_past_the_first_read_are_fetched(tmp_path, monkeypatch):
    """The directories are read from the file's head; a SubIFD or EXIF directory further in makes
    read_smart read more (here the head is cut to 64 bytes to show it)."""
    from phototrove.ingest.lightroom import smart

    path = put(tmp_path, "turned-6")
    whole = read_smart(path)
    sub = next(d.offset for d in read_tiff(built("turned-6")).ifds if d.name == "sub0")
    for head in (64, sub):      # IFD0 cut; IFD0 whole but its SubIFD (the main image) beyond
        monkeypatch.setattr(smart, "HEAD_READS", (head, head + 1))
        assert read_smart(path) == whole, head


# -- truncated, damaged and foreign files -----------------------------------------------------------
def test_cut_inside_a_tile_is_incomplete(tmp_path):
    data = built("odd-256-tiles")
    tags = read_tiff(data).ifd("ifd0")
    end = tags[324][-1] + tags[325][-1] // 2
    path = put(tmp_path, "odd-256-tiles", data[:end])
    info = read_smart(path)
    assert not info.complete and info.size == end
    assert "past the end" in info.warnings[0]
    with pytest.raises(PreviewError) as err:
        smart_jpeg(path)
    assert err.value.kind == "truncated" and "\n" not in str(err.value)
    assert read_smart(put(tmp_path, "odd-256-tiles")).complete      # the whole file is


@pytest.mark.parametrize("cut", [6, 100, 300, 8 + 2 + 12 * 40])
def test_cut_in_the_directories_is_an_error(tmp_path, cut):
    data = built("odd-256-tiles")
    assert cut < read_tiff(data).ifd("ifd0")[324][0]      # before any tile
    expect_error(put(tmp_path, "odd-256-tiles", data[:cut]), "truncated", "truncated")


def test_what_is_not_a_smart_preview_is_rejected(tmp_path):
    from PIL import Image

    def write(name: str, data: bytes) -> str:
        p = tmp_path / name
        p.write_bytes(data)
        return str(p)

    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 40, 40)).save(buf, "JPEG")
    expect_error(write(f"{UUIDS[0]}.dng", buf.getvalue()), "not-a-preview", "JPEG")
    expect_error(write(f"{UUIDS[1]}.dng", b""), "empty", "0 bytes")
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 40, 40)).save(buf, "TIFF")
    expect_error(write("rgb.dng", buf.getvalue()), "not-a-preview", "without DNGVersion")
    expect_error(write("linear.dng", dng.linear_dng()), "not-a-preview", "compression 1")
    expect_error(write("text.dng", b"not a dng at all\n" * 10), "not-a-preview", "no TIFF header")
    os.mkdir(tmp_path / f"{UUIDS[2]}.dng")
    e = expect_error(str(tmp_path / f"{UUIDS[2]}.dng"), "not-a-file")
    assert str(e).startswith("cannot read")


def test_a_damaged_tile_is_corrupt_in_one_line(tmp_path):
    data = bytearray(built("odd-256-tiles"))
    tags = read_tiff(bytes(data)).ifd("ifd0")
    first = tags[324][0]
    data[first:first + 2] = b"\x00\x00"                       # the first tile's JPEG lost its SOI
    path = put(tmp_path, "odd-256-tiles", bytes(data))
    assert read_smart(path).complete                         # the structure is intact
    with pytest.raises(PreviewError) as err:
        smart_jpeg(path)
    assert err.value.kind == "corrupt" and "\n" not in str(err.value)
    assert str(err.value).startswith("LibRaw cannot decode this Smart Preview: LibRaw")


def test_a_jpeg_xl_smart_preview_says_so(tmp_path):
    """Lightroom Classic 13+ writes JPEG XL tiles (52546), which LibRaw reads only when built with
    Adobe's DNG SDK. No JPEG XL encoder is at hand: the fixture's Compression tag says JPEG XL."""
    data = bytearray(built("odd-256-tiles"))
    _typ, _count, at = read_tiff(bytes(data)).ifds[0].spans[259]
    data[at:at + 2] = struct.pack(">H", 52546)
    path = put(tmp_path, "odd-256-tiles", bytes(data))
    info = read_smart(path)
    assert info.compression == 52546 and info.codec == "JPEG XL" and info.complete
    with pytest.raises(PreviewError) as err:
        smart_jpeg(path)
    assert err.value.kind == "unsupported-codec" and "JPEG XL" in str(err.value)


# -- where they are ---------------------------------------------------------------------------------
def test_scan_finds_the_layout_and_nothing_else(tmp_path):
    root = tmp_path / "Cat Smart Previews.lrdata"
    data = built("odd-256-tiles")
    paths = {u: sp.write_smart_preview(str(root), u, data) for u in UUIDS}
    lower = "a1b2c3d4-0000-4000-8000-00000000abcd"
    paths[lower.upper()] = sp.write_smart_preview(str(root), lower, data)
    os.rename(paths[lower.upper()], os.path.join(os.path.dirname(paths[lower.upper()]), lower + ".dng"))
    paths[lower.upper()] = os.path.join(os.path.dirname(paths[lower.upper()]), lower + ".dng")
    mid = os.path.dirname(paths[UUIDS[0]])
    for stray in ("notes.txt", ".DS_Store", f"._{UUIDS[0]}.dng", f"{UUIDS[0]}.dng.tmp", "IMG_0001.dng",
                  f"{UUIDS[1][:-1]}.dng"):
        Path(mid, stray).write_bytes(b"x")
    (root / f"{UUIDS[0]}.dng").write_bytes(data)                     # not two folders down
    os.makedirs(root / ".Trash" / "0000")
    (root / ".Trash" / "0000" / f"{UUIDS[2]}.dng").write_bytes(data)  # in a dot folder
    os.makedirs(root / "3" / "3829" / f"{UUIDS[1]}.dng")              # a folder with a preview's name
    moved = root / "F" / "FFFF"                                        # copies outside their own folder,
    moved.mkdir(parents=True)                                          # found after it ...
    (moved / f"{UUIDS[2]}.dng").write_bytes(data)
    early = root / "3" / "0000"                                        # ... and before it
    early.mkdir(parents=True)
    (early / f"{UUIDS[0]}.dng").write_bytes(data)
    found, problems = scan_smart_previews(str(root))
    assert found == paths
    assert sorted(problems) == sorted([
        (str(early / f"{UUIDS[0]}.dng"), f"another copy of {UUIDS[0]} is in its own folder: ignored"),
        (str(moved / f"{UUIDS[2]}.dng"), f"duplicate of {paths[UUIDS[2]]}: ignored")])
    missing, problems = scan_smart_previews(str(tmp_path / "nowhere"))
    assert missing == {} and problems[0][0] == str(tmp_path / "nowhere")


def test_scan_reports_an_unreadable_folder(tmp_path):
    root = tmp_path / "Cat Smart Previews.lrdata"
    data = built("odd-256-tiles")
    kept = sp.write_smart_preview(str(root), UUIDS[0], data)
    locked = os.path.dirname(sp.write_smart_preview(str(root), UUIDS[1], data))
    os.chmod(locked, 0)
    try:
        prefix = []
        if os.geteuid() == 0:   # root reads anything: scan without the capabilities that allow it
            if not shutil.which("setpriv"):
                pytest.skip("running as root without util-linux setpriv: cannot drop DAC override")
            prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]
        code = ("import json, sys; from phototrove.ingest.lightroom.smart import scan_smart_previews; "
                "print(json.dumps(scan_smart_previews(sys.argv[1])))")
        r = subprocess.run([*prefix, sys.executable, "-c", code, str(root)], capture_output=True, text=True,
                           env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=60)
        assert r.returncode == 0, r.stderr
        found, problems = json.loads(r.stdout)
    finally:
        os.chmod(locked, 0o755)
    assert found == {UUIDS[0]: kept}
    assert problems == [[locked, "Permission denied"]]


def test_smart_dir_beside_the_previews(tmp_path):
    previews = tmp_path / "Lightroom Catalog Previews.lrdata"
    smart = tmp_path / "Lightroom Catalog Smart Previews.lrdata"
    (previews / "3" / "3829").mkdir(parents=True)
    (previews / "previews.db").write_bytes(b"")
    assert smart_dir_for(str(previews)) is None                        # no Smart Previews (yet)
    smart.mkdir()
    for given in (previews, previews / "3" / "3829", previews / "previews.db", str(previews) + os.sep,
                  tmp_path / "Lightroom Catalog.lrcat", smart, smart / "3"):
        assert smart_dir_for(str(given)) == str(smart), given
    assert smart_dir_for(str(tmp_path)) is None
    # a catalog named "Trip Smart": its standard previews end in " Smart Previews.lrdata" too
    odd = tmp_path / "Trip Smart Previews.lrdata"
    odd.mkdir()
    (odd / "previews.db").write_bytes(b"")
    assert smart_dir_for(str(odd)) is None
    (tmp_path / "Trip Smart Smart Previews.lrdata").mkdir()
    assert smart_dir_for(str(odd)) == str(tmp_path / "Trip Smart Smart Previews.lrdata")


# -- the pixels -------------------------------------------------------------------------------------
def corner_means(img) -> dict[str, float]:
    """Mean brightness where the fixture's mark is (top-right) and at the same place mirrored to
    the other three corners."""
    h, w = img.shape[:2]
    left, top, right, bottom = sp.mark_box(w, h)
    rows, cols = slice(top + 2, bottom - 2), slice(left + 2, right - 2)
    flipped_rows, flipped_cols = slice(h - bottom + 2, h - top - 2), slice(w - right + 2, w - left - 2)
    blocks = {"top-right": img[rows, cols], "top-left": img[rows, flipped_cols],
              "bottom-left": img[flipped_rows, flipped_cols], "bottom-right": img[flipped_rows, cols]}
    return {k: float(v.mean()) for k, v in blocks.items()}


@pytest.mark.parametrize("name", ["landscape", "turned-6", "odd-8", "output-referred"])
def test_smart_jpeg_shows_the_source_picture_upright(tmp_path, name):
    import numpy as np
    from PIL import Image

    path = put(tmp_path, name)
    info = read_smart(path)
    jpeg, w, h = smart_jpeg(path)
    assert (w, h) == (info.width, info.height)
    im = Image.open(io.BytesIO(jpeg))
    assert im.format == "JPEG" and im.size == (w, h) and im.mode == "RGB"
    assert [c[1:3] for c in im.layer] == [(1, 1)] * 3                 # 4:4:4
    got = np.asarray(im, dtype=np.int16)
    want = sp.upright_picture(w, h, seed=len(name)).astype(np.int16)
    assert np.abs(got - want).mean() < 1.2                             # lossy JPEG twice, nothing more
    left, top, right, bottom = sp.patch_box(w, h)
    patch = got[top + 4:bottom - 4, left + 4:right - 4].reshape(-1, 3).mean(axis=0)
    assert np.abs(patch - sp.PATCH_RGB).max() < 3, patch               # white balance and sRGB curve right
    corners = corner_means(got)
    assert corners["top-right"] > 245 and max(v for k, v in corners.items() if k != "top-right") < 190, corners


def test_without_rawpy_the_raw_extra_is_asked_for(tmp_path):
    path = put(tmp_path, "odd-256-tiles")
    blocker = tmp_path / "no-extras" / "rawpy"      # `import rawpy` fails, as without the extra
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('rawpy is not installed (test)')\n")
    code = ("import sys\n"
            "from phototrove.ingest.lightroom.smart import read_smart, smart_jpeg\n"
            "from phototrove.media.kinds import MediaError\n"
            "print(read_smart(sys.argv[1]).width)\n"
            "try:\n    smart_jpeg(sys.argv[1])\n"
            "except MediaError as e:\n    print(e.kind); print(e)\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(blocker.parent), str(REPO)])}
    r = subprocess.run([sys.executable, "-c", code, path], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    width, kind, message = r.stdout.splitlines()
    assert width == "333" and kind == "needs-raw-extra" and "phototrove[raw]" in message


def test_heavy_libraries_wait_until_pixels_are_needed():
    code = ("import sys; import phototrove.ingest.lightroom.smart; "
            "print(sorted(m for m in ('rawpy', 'numpy', 'PIL') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                       env={**os.environ, "PYTHONPATH": str(REPO)})
    assert r.returncode == 0 and r.stdout.strip() == "[]", (r.stdout, r.stderr)
