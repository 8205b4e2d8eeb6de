"""Lightroom Smart Previews: `<Catalog> Smart Previews.lrdata/<U>/<UUUU>/<UUID>.dng`, U the UUID's
first character and UUUU its first four; the UUID is the standard previews' (AgLibraryFile.id_global).

A Smart Preview is a "proxy" DNG 1.4: the original's demosaiced linear camera RGB (develop settings
NOT applied), trimmed to its default crop and resampled to at most 2560 px on the long edge, stored
as 3-sample LinearRaw (PhotometricInterpretation 34892) in tiles. Lightroom up to Classic 12 writes
8-bit tiles, each a baseline JPEG (Compression 34892, "lossy JPEG"), with an OpcodeList2 of
MapPolynomials that undo the 8-bit encoding curve; Lightroom Classic 13+ writes JPEG XL (52546).
The main image sits in IFD0, or in SubIFD 0 when IFD0 holds a thumbnail; the original's size is in
OriginalDefaultFinalSize.

read_smart reads the structure only (the TIFF directories, no pixels); smart_jpeg develops the
pixels with LibRaw (rawpy, the `raw` extra): camera white balance (AsShotNeutral), no automatic
brightening, sRGB primaries and tone curve, turned upright by the DNG's Orientation as LibRaw does.
"""
from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass, field

from ...media.exif import exif_fields
from ...media.kinds import MediaError
from ...media.raw.tiff_based import (BITS, CFA, COMPRESSION, DEFAULT_CROP, DNG_VERSION, HEIGHT, LINEAR_RAW,
                                     NEW_SUBFILE, PHOTOMETRIC, STRIP_BYTES, STRIPS, TILE_BYTES, TILES, WIDTH, tag_int,
                                     tag_ints)
from ...media.tiff import Tiff, TiffError, header, read_tiff
from ..files import open_fd, open_regular
from .previews import PreviewError

SMART_NAME = re.compile(r"^([0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})\.dng$",
                        re.IGNORECASE)
LOSSY_JPEG, JPEG_XL = 34892, 52546
COMPRESSIONS = {LOSSY_JPEG: "lossy JPEG", JPEG_XL: "JPEG XL"}
ORIENTATION, ROWS_PER_STRIP, SAMPLES, TILE_WIDTH, TILE_LENGTH = 0x0112, 0x0116, 0x0115, 0x0142, 0x0143
ORIGINAL_NAME, ORIGINAL_FINAL_SIZE, SUB_IFDS, EXIF_IFD = 0xC68B, 0xC791, 0x014A, 0x8769
HEAD_READS = (64 << 10, 1 << 20)     # bytes read for the directories before the whole file
MAX_READ = 256 << 20                 # a Smart Preview is a few MB; never read more than this
NEEDS_RAW = "decoding a Lightroom Smart Preview needs LibRaw (pip install 'phototrove[raw]')"


@dataclass
class SmartPreview:
    path: str
    uuid: str | None               # upper-case, from the file name (None when the name is not <UUID>.dng)
    width: int                     # the main image as displayed: DefaultCrop applied, then orientation
    height: int
    stored_width: int              # ImageWidth x ImageLength of the main image, as stored
    stored_height: int
    orientation: int               # the DNG's Orientation, 1..8 (1 when absent)
    compression: int               # 34892 lossy JPEG (LR <= 12), 52546 JPEG XL (LR Classic 13+)
    size: int                      # bytes
    mtime_ns: int
    complete: bool                 # every tile (or strip) lies within the file
    dng_version: str = ""          # "1.4.0.0"
    original_width: int | None = None     # OriginalDefaultFinalSize, orientation applied
    original_height: int | None = None
    original_name: str | None = None      # OriginalRawFileName, when Lightroom kept it
    exif: dict = field(default_factory=dict)   # capture date, camera, exposure (exif_fields keys)
    warnings: list[str] = field(default_factory=list)

    @property
    def codec(self) -> str:
        return COMPRESSIONS.get(self.compression, f"compression {self.compression}")


# -- where they are ---------------------------------------------------------------------------------
def smart_dir_for(previews_lrdata: str) -> str | None:
    """The `<Name> Smart Previews.lrdata` beside `<Name> Previews.lrdata` (given that folder, a path
    inside it, or the catalog `<Name>.lrcat`), if it exists. A Smart Previews folder (or a path in
    it) gives itself."""
    path = os.path.abspath(previews_lrdata)
    if path.lower().endswith(".lrcat"):
        folder, name = os.path.split(path)
        return _existing(folder, name[:-len(".lrcat")] + " Smart Previews.lrdata")
    while True:
        folder, name = os.path.split(path)
        low = name.lower()
        if low.endswith(" smart previews.lrdata") and not os.path.exists(os.path.join(path, "previews.db")):
            return path if os.path.isdir(path) else None
        if low.endswith("previews.lrdata"):
            return _existing(folder, name[:-len("Previews.lrdata")] + "Smart Previews.lrdata")
        if not name or folder == path:
            return None
        path = folder


def _existing(folder: str, name: str) -> str | None:
    """`folder/name` if it is a folder; on a case-sensitive file system, a folder whose name
    differs only in case (catalogs copied from macOS or Windows)."""
    exact = os.path.join(folder, name)
    if os.path.isdir(exact):
        return exact
    try:
        with os.scandir(folder) as it:
            for entry in it:
                if entry.name.lower() == name.lower() and entry.is_dir():
                    return entry.path
    except OSError:
        pass
    return None


def scan_smart_previews(smart_dir: str) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """UUID (upper-case) -> path of every `<UUID>.dng` two folders down (`<U>/<UUUU>/`), and
    (path, message) for folders that could not be read. Dot files and folders and other names are
    skipped; nothing is opened or stat'ed beyond the directory listings. When one UUID turns up
    twice, the copy in its own `<U>/<UUUU>` folder (else the first by name) wins, the other is a
    problem."""
    found: dict[str, str] = {}
    problems: list[tuple[str, str]] = []

    def listing(path: str) -> list[os.DirEntry]:
        try:
            with os.scandir(path) as it:
                return sorted((e for e in it if not e.name.startswith(".")), key=lambda e: e.name)
        except OSError as e:
            problems.append((path, e.strerror or str(e)))
            return []

    def is_dir(entry: os.DirEntry) -> bool:
        try:
            return entry.is_dir()
        except OSError:
            return False

    home: dict[str, bool] = {}
    for top in listing(smart_dir):
        if not is_dir(top):
            continue
        for mid in listing(top.path):
            if not is_dir(mid):
                continue
            for entry in listing(mid.path):
                m = SMART_NAME.match(entry.name)
                if not m:
                    continue
                try:
                    if not entry.is_file():
                        continue
                except OSError:
                    continue
                uuid = m.group(1).upper()
                at_home = top.name.upper() == uuid[0] and mid.name.upper() == uuid[:4]
                if uuid in found:
                    if at_home and not home[uuid]:
                        problems.append((found[uuid], f"another copy of {uuid} is in its own folder: ignored"))
                    else:
                        problems.append((entry.path, f"duplicate of {found[uuid]}: ignored"))
                        continue
                found[uuid] = entry.path
                home[uuid] = at_home
    return found, problems


# -- the structure ----------------------------------------------------------------------------------
def read_smart(path: str) -> SmartPreview:
    """The Smart Preview's main image from its TIFF directories (no pixel is decoded). PreviewError
    'empty', 'not-a-preview', 'truncated' (the directories are cut; tiles past the end only make
    `complete` False), 'corrupt' or 'unreadable'."""
    try:
        fd = open_fd(path)
        try:
            st = os.fstat(fd)
            if st.st_size == 0:
                raise PreviewError("empty", "empty Smart Preview file (0 bytes)")
            data = os.pread(fd, HEAD_READS[0], 0)
            _check_signature(data)
            tiff = _parse(data, st.st_size)
            for more in HEAD_READS[1:] + (min(st.st_size, MAX_READ),):
                if len(data) >= st.st_size or not _wants_more(tiff, len(data)) or more <= len(data):
                    break
                data = os.pread(fd, more, 0)
                tiff = _parse(data, st.st_size)
        finally:
            os.close(fd)
    except OSError as e:
        raise PreviewError(getattr(e, "kind", "unreadable"), f"cannot read: {e.strerror or e}") from None
    return _smart_info(path, tiff, st.st_size, st.st_mtime_ns)


def _check_signature(data: bytes) -> None:
    if header(data) is not None:
        return
    if len(data) < 16 and data[:4] in (b"MM\x00\x2a", b"II\x2a\x00", b"MM\x00\x2b", b"II\x2b\x00"):
        raise PreviewError("truncated", f"truncated DNG: the file ends inside its header ({len(data)} bytes)")
    if data[:3] == b"\xff\xd8\xff":
        raise PreviewError("not-a-preview", "a JPEG named .dng, not a Lightroom Smart Preview (a DNG)")
    if data[:4] == b"AgHg":
        raise PreviewError("not-a-preview", "a Lightroom .lrprev preview named .dng, not a Smart Preview")
    raise PreviewError("not-a-preview", "not a DNG (no TIFF header): not a Lightroom Smart Preview")


def _parse(data: bytes, size: int) -> Tiff:
    """The TIFF directories of the bytes read; PreviewError when IFD0 itself is not all there."""
    little, big, first = header(data)
    e = "<" if little else ">"
    count_size, entry_size = (8, 20) if big else (2, 12)
    if first < 8:
        raise PreviewError("corrupt", f"damaged DNG: first directory at offset {first}")
    if first + count_size > size:
        raise PreviewError("truncated", f"truncated DNG: its first directory lies past the end of the file "
                                        f"(offset {first}, {size} bytes)")
    if first + count_size <= len(data):
        count = int.from_bytes(data[first:first + count_size], "little" if e == "<" else "big")
        if count == 0 or count > 4096:
            raise PreviewError("corrupt", f"damaged DNG: first directory declares {count} entries")
        end = first + count_size + count * entry_size
        if end > size:
            raise PreviewError("truncated", f"truncated DNG: the file ends inside its first directory "
                                            f"({size} of {end} bytes)")
    try:
        return read_tiff(data)
    except TiffError as err:
        raise PreviewError("corrupt", f"damaged DNG: {err}") from None


def _wants_more(tiff: Tiff, held: int) -> bool:
    """Some directory or value lies past the bytes read (more of the file may hold it)."""
    if not tiff.ifds or any("past the end" in note or "cut short" in note for note in tiff.notes):
        return True
    pointers = [v for d in tiff.ifds for tag in (SUB_IFDS, EXIF_IFD) for v in tag_ints(d.tags.get(tag))]
    return any(p >= held for p in pointers)


def _smart_info(path: str, tiff: Tiff, size: int, mtime_ns: int) -> SmartPreview:
    ifd0 = tiff.ifd("ifd0")
    version = ifd0.get(DNG_VERSION)
    if version is None:
        if tiff.ifds and tiff.ifds[0].name == "ifd0" and not ifd0:
            raise PreviewError("truncated", "truncated DNG: its first directory could not be read")
        raise PreviewError("not-a-preview", "a TIFF image without DNGVersion: not a DNG Smart Preview")
    images = [d for d in tiff.ifds if d.name.startswith(("ifd", "sub"))
              and tag_int(d.tags.get(NEW_SUBFILE), 0) == 0 and tag_int(d.tags.get(WIDTH), 0) > 0]
    main = next((d for d in images if tag_int(d.tags.get(PHOTOMETRIC)) == LINEAR_RAW), None)
    if main is None:
        kinds = {tag_int(d.tags.get(PHOTOMETRIC)) for d in images}
        if CFA in kinds:
            raise PreviewError("not-a-preview", "a camera-raw DNG (CFA mosaic data), not a Smart Preview")
        if not images and _cut(tiff):
            raise PreviewError("truncated", f"truncated DNG: its main image directory is cut ({_cut(tiff)})")
        raise PreviewError("not-a-preview", "a DNG without a LinearRaw main image: not a Smart Preview")
    t = main.tags
    compression = tag_int(t.get(COMPRESSION), 1)
    samples = tag_int(t.get(SAMPLES), 1)
    if compression not in COMPRESSIONS or samples != 3:
        raise PreviewError("not-a-preview", f"a linear DNG with {samples} sample(s) and compression {compression}, "
                                            "not a Smart Preview (3 samples, lossy JPEG or JPEG XL)")
    stored_w, stored_h = tag_int(t.get(WIDTH)), tag_int(t.get(HEIGHT), 0)
    if stored_h <= 0:
        raise PreviewError("corrupt", "damaged DNG: the main image has no height")
    complete, warnings = _data_complete(tiff, main, stored_w, stored_h, size)
    bits = tag_ints(t.get(BITS))
    if compression == LOSSY_JPEG and bits and any(b != 8 for b in bits):
        warnings.append(f"lossy JPEG with BitsPerSample {bits} (8 expected)")
    crop_w, crop_h = _crop(t, stored_w, stored_h, warnings)
    orientation = tag_int(ifd0.get(ORIENTATION), 1)
    if orientation not in range(1, 9):
        warnings.append(f"Orientation {orientation} is not 1..8: taken as 1")
        orientation = 1
    turned = orientation in (5, 6, 7, 8)
    original = tag_ints(ifd0.get(ORIGINAL_FINAL_SIZE, t.get(ORIGINAL_FINAL_SIZE)))
    original = (original[1], original[0]) if turned and len(original) == 2 else original
    exif = exif_fields(tiff)
    notes = exif.pop("notes", [])
    name = SMART_NAME.match(os.path.basename(path))
    return SmartPreview(
        path=path, uuid=name.group(1).upper() if name else None,
        width=crop_h if turned else crop_w, height=crop_w if turned else crop_h,
        stored_width=stored_w, stored_height=stored_h, orientation=orientation, compression=compression,
        size=size, mtime_ns=mtime_ns, complete=complete,
        dng_version=".".join(str(b) for b in version) if isinstance(version, (bytes, tuple)) else str(version),
        original_width=original[0] if len(original) == 2 else None,
        original_height=original[1] if len(original) == 2 else None,
        original_name=_text(ifd0.get(ORIGINAL_NAME, t.get(ORIGINAL_NAME))),
        exif=exif, warnings=(warnings + notes)[:20])


def _cut(tiff: Tiff) -> str:
    return next((n for n in tiff.notes if "past the end" in n or "cut short" in n), "")


def _data_complete(tiff: Tiff, main, width: int, height: int, size: int) -> tuple[bool, list[str]]:
    """Whether every tile (or strip) of the main image lies within the file: the table must hold
    one entry per tile, each with a place and a length. PreviewError when the table itself is not
    in the file."""
    t, warnings = main.tags, []
    tw, th = tag_int(t.get(TILE_WIDTH)), tag_int(t.get(TILE_LENGTH))
    if tw and th:
        offsets_tag, counts_tag = TILES, TILE_BYTES
        expected = -(-width // tw) * -(-height // th)
    else:
        offsets_tag, counts_tag = STRIPS, STRIP_BYTES
        rows = tag_int(t.get(ROWS_PER_STRIP), height) or height
        expected = -(-height // min(rows, height))
    for tag in (offsets_tag, counts_tag):
        if tag not in t:
            if any(f"0x{tag:04x}" in note for note in tiff.notes):
                raise PreviewError("truncated", "truncated DNG: its tile table lies past the end of the file")
            raise PreviewError("corrupt", f"damaged DNG: the main image has no {'tile' if tw else 'strip'} table")
    offsets, counts = tag_ints(t[offsets_tag]), tag_ints(t[counts_tag])
    if len(offsets) != expected or len(counts) != expected:
        warnings.append(f"{len(offsets)} offsets and {len(counts)} byte counts for {expected} tiles")
        return False, warnings
    bad = [i for i, (o, c) in enumerate(zip(offsets, counts)) if o <= 0 or c <= 0 or o + c > size]
    if bad:
        warnings.append(f"{len(bad)} of {expected} tiles missing or past the end of the file "
                        f"(first: tile {bad[0]}, ends at {offsets[bad[0]] + counts[bad[0]]} of {size} bytes)")
    return not bad, warnings


def _crop(t: dict, width: int, height: int, warnings: list[str]) -> tuple[int, int]:
    crop = t.get(DEFAULT_CROP)
    if not (isinstance(crop, tuple) and len(crop) == 2 and all(isinstance(v, (int, float)) for v in crop)):
        return width, height
    cw, ch = round(crop[0]), round(crop[1])
    if not (1 <= cw <= width and 1 <= ch <= height):
        warnings.append(f"DefaultCropSize {cw} x {ch} does not fit the {width} x {height} image: ignored")
        return width, height
    return cw, ch


def _text(value) -> str | None:
    if isinstance(value, bytes):
        raw = value.split(b"\x00", 1)[0]
        try:
            value = raw.decode("utf-8")
        except UnicodeDecodeError:
            value = raw.decode("latin-1")
    if not isinstance(value, str):
        return None
    return value.strip() or None


# -- the pixels -------------------------------------------------------------------------------------
def smart_image(path: str, info: SmartPreview | None = None, *, upright: bool = True):
    """The Smart Preview developed by LibRaw as an 8-bit sRGB PIL image, turned by the DNG's
    Orientation (read_smart's width x height), or as stored with upright=False (for callers that
    apply the catalog's orientation, as for standard previews). MediaError 'needs-raw-extra' without
    rawpy; PreviewError 'truncated', 'unsupported-codec' (JPEG XL, which this LibRaw cannot read)
    or 'corrupt'."""
    info = info or read_smart(path)
    if not info.complete:
        raise PreviewError("truncated", f"truncated Smart Preview: tile data runs past the end of the file "
                                        f"({info.size} bytes)")
    try:
        import rawpy
    except ImportError:
        raise MediaError("needs-raw-extra", NEEDS_RAW) from None
    from PIL import Image

    try:
        with open_regular(path) as f:
            data = f.read(MAX_READ + 1)
    except OSError as e:
        raise PreviewError(getattr(e, "kind", "unreadable"), f"cannot read: {e.strerror or e}") from None
    if len(data) != info.size:
        raise PreviewError("truncated", f"the Smart Preview changed while being read ({len(data)} of {info.size} bytes)")
    try:
        with rawpy.imread(io.BytesIO(data)) as raw:
            rgb = raw.postprocess(use_camera_wb=True, no_auto_bright=True, adjust_maximum_thr=0.0, output_bps=8,
                                  gamma=(2.4, 12.92), output_color=rawpy.ColorSpace.sRGB,
                                  user_flip=None if upright else 0)
    except rawpy.LibRawError as e:
        if info.compression == JPEG_XL:
            raise PreviewError("unsupported-codec", "a JPEG XL Smart Preview (Lightroom Classic 13+): this LibRaw "
                                                    "cannot decode JPEG XL DNGs") from None
        raise PreviewError("corrupt", f"LibRaw cannot decode this Smart Preview: {_libraw_message(e)}") from None
    except MemoryError:
        raise PreviewError("too-large", "Smart Preview too large to decode in memory") from None
    image = Image.fromarray(rgb)
    want = (info.width, info.height) if upright or info.orientation in (1, 2, 3, 4) else (info.height, info.width)
    if image.size != want:
        info.warnings.append(f"LibRaw developed {image.width} x {image.height}, the DNG says "
                             f"{want[0]} x {want[1]}")
    return image


def smart_jpeg(path: str, quality: int = 95, *, upright: bool = True) -> tuple[bytes, int, int]:
    """The Smart Preview as a high-quality JPEG (4:4:4, sRGB; upright unless upright=False):
    (bytes, width, height)."""
    image = smart_image(path, upright=upright)
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=quality, subsampling=0, optimize=True)
    return buf.getvalue(), image.width, image.height


def _libraw_message(e: Exception) -> str:
    text = e.args[0] if e.args else ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = " ".join(str(text).split()) or "no message"
    return f"{type(e).__name__}: {text}"
