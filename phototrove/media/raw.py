"""Camera RAW files without demosaicing: the format, what the camera recorded (EXIF), the image
size, and where the embedded JPEG previews lie, all read from the file's structure.

A RAW's sensor data needs demosaicing; its previews (JPEGs the camera wrote beside it, often full
size) are what trove shows and embeds. Where they are:
- TIFF-structured RAWs (DNG, CR2, NEF, NRW, ARW, SR2, SRF, ORF, RW2, PEF, SRW, 3FR, IIQ, ERF, KDC,
  MOS, DCR, ...): any IFD (the IFD0 chain and SubIFDs) holding a JPEG through
  JPEGInterchangeFormat (0x0201/0x0202) or as its single strip (compression 6/7); Nikon's
  PreviewIFD and Olympus' CameraSettings in the maker note; Panasonic's JpgFromRaw (0x002E).
- CR3 (ISO-BMFF): metadata in the CMT1..CMT4 boxes; previews PRVW, THMB and the first track's
  full-size JPEG.
- RAF: one embedded JPEG, which also carries the EXIF; the image size from the RAF directory.
- CRW (CIFF): camera, date, size, orientation and its JpgFromRaw; MRW: EXIF and size; X3F: the
  format alone.

Previews are stored as the sensor lay: turn them by RawInfo.orientation (IFD0's, CMT1's, or for
RAF the embedded JPEG's). RAF's and RW2's previews carry an EXIF block of their own with the same
orientation; the others mostly carry none, so a viewer honouring only the JPEG shows them unturned.

`data` may be the whole file or its head (`size` then says how long the file is). Every offset
and count is bounded by the data and every loop by a limit; all failures are MediaError:
'truncated' (a byte range the file needs runs past its end, or the structure is cut),
'not-an-image' (not a RAW at all), 'corrupt' (damaged structure), 'empty'; preview_bytes adds
'no-preview'.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, replace
from datetime import datetime, timezone

from .exif import camera_name, exif_fields, read_exif
from .kinds import MediaError
from .tiff import TYPES, Ifd, Tiff, TiffError, header, read_tiff, text


@dataclass
class Preview:
    offset: int                 # byte range of an embedded JPEG inside the RAW file
    length: int
    width: int | None           # its pixel size as stored (JPEG frame, else its IFD), None if unknown
    height: int | None


@dataclass
class RawInfo:
    format: str                 # 'dng', 'cr2', 'cr3', 'nef', ... ('raw': some TIFF-based RAW)
    width: int | None           # the full image as displayed (orientation applied), best effort
    height: int | None
    stored_width: int | None
    stored_height: int | None
    exif: dict                  # catalog metadata keys, as exif_fields() gives them
    previews: list[Preview]     # largest first (by pixel area; unknown sizes last, by length)
    orientation: int | None     # 1..8 as the camera recorded it (previews rarely carry it)


# TIFF-structured RAW extensions: the name tells these apart where the structure does not
TIFF_EXTS = {"dng", "cr2", "nef", "nrw", "arw", "sr2", "srf", "orf", "rw2", "rwl", "pef", "srw", "3fr", "fff",
             "iiq", "erf", "kdc", "dcr", "mos", "gpr", "raw", "mef"}
# Make (lower-case prefix) -> format, for a TIFF-structured RAW without a telling extension
MAKERS = (("nikon", "nef"), ("sony", "arw"), ("pentax", "pef"), ("ricoh", "pef"), ("samsung", "srw"),
          ("hasselblad", "3fr"), ("phase one", "iiq"), ("leaf", "mos"), ("seiko epson", "erf"),
          ("eastman kodak", "dcr"), ("kodak", "dcr"), ("canon", "cr2"), ("olympus", "orf"), ("om digital", "orf"),
          ("panasonic", "rw2"), ("leica", "rwl"), ("mamiya", "mef"), ("gopro", "gpr"))
CFA, LINEAR_RAW = 32803, 34892                      # PhotometricInterpretation of sensor data
RAW_COMPRESSIONS = {32767, 32769, 32770, 32773, 34316, 34713, 65000, 65535}  # makers' own (Sony, Nikon, ...)
NEW_SUBFILE, WIDTH, HEIGHT, BITS, COMPRESSION, PHOTOMETRIC = 0x00FE, 0x0100, 0x0101, 0x0102, 0x0103, 0x0106
STRIPS, STRIP_BYTES, TILES, TILE_BYTES = 0x0111, 0x0117, 0x0144, 0x0145
JIF, JIF_LENGTH, MAKE = 0x0201, 0x0202, 0x010F
DNG_VERSION, DEFAULT_CROP, CR2_SLICE, MAKER_NOTE = 0xC612, 0xC620, 0xC640, 0x927C
RW2_JPEG, RW2_RAW_OFFSET = 0x002E, 0x0118
CANON_UUID = bytes.fromhex("85c0b687820f11e08111f4ce462b6a48")
PREVIEW_UUID = bytes.fromhex("eaf42b5e1c984b88b9fbb7dc406e4d16")
SOF = set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
LOSSLESS_SOF = {0xC3, 0xC7, 0xCB, 0xCF}             # lossless JPEG: sensor data (CR2, DNG), not a preview
MAX_ENTRIES, MAX_BOXES, MAX_PREVIEWS = 1024, 4096, 64


def probe_raw(data: bytes | memoryview, *, size: int | None = None, name: str = "") -> RawInfo:
    """Format, size, metadata and previews of a camera RAW, from its structure alone. `data` is
    the file or its head (`size` then is the file's length); `name` its file name."""
    f = None
    try:
        f = _File(data, size)
        return _probe(f, _ext(name))
    except MediaError:
        raise
    except _Short as e:
        raise f.cut(f"the structure (a read at offset {e.args[0]})", e.args[0] + 1) from None
    except Exception as e:  # whatever damaged bytes make of the parsers below: the file is damaged
        raise MediaError("corrupt", f"unreadable RAW structure ({type(e).__name__}: {e})"[:300]) from None


def preview_bytes(data: bytes | memoryview, info: RawInfo | None = None, *,
                  min_side: int = 0) -> tuple[bytes, Preview]:
    """The bytes of the largest preview whose short side is >= min_side (else the largest).
    One that is not within `data` (only a head was given) gives way to the next usable one."""
    info = probe_raw(data) if info is None else info
    if not info.previews:
        raise MediaError("no-preview", f"no embedded JPEG preview in this {info.format.upper()} file")
    big = [p for p in info.previews if p.width and p.height and min(p.width, p.height) >= min_side]
    first_error = None
    for p in big + [p for p in info.previews if p not in big]:
        try:
            return _preview_at(data, p), p
        except MediaError as e:
            first_error = first_error or e
    raise first_error


def _preview_at(data, p: Preview) -> bytes:
    try:
        n = len(data)
        jpeg = bytes(data[p.offset:p.offset + p.length]) if 0 <= p.offset and p.offset + p.length <= n else None
    except Exception as e:  # not bytes at all
        raise MediaError("corrupt", f"preview unreadable ({type(e).__name__}: {e})") from None
    if jpeg is None or p.length < 4:
        raise MediaError("truncated", f"preview at {p.offset}+{p.length} lies past the {n} bytes given")
    if jpeg[:2] != b"\xff\xd8":
        raise MediaError("corrupt", f"preview at {p.offset} is not a JPEG")
    return jpeg


# -- the bytes at hand ------------------------------------------------------------------------------
class _File:
    """The bytes held (maybe only the file's head) and the file's full length."""

    def __init__(self, data, size: int | None):
        self.buf = data if isinstance(data, bytes) else memoryview(data).cast("B")
        self.n = len(self.buf)
        self.size = self.n if size is None else max(size, self.n)
        self.notes: list[str] = []

    def has(self, offset: int, length: int) -> bool:
        """The range lies within the bytes held."""
        return 0 <= offset and 0 <= length and offset + length <= self.n

    def fits(self, offset: int, length: int) -> bool:
        """The range lies within the file."""
        return 0 <= offset and 0 <= length and offset + length <= self.size

    def get(self, offset: int, length: int) -> bytes:
        if offset < 0 or length <= 0:
            return b""
        return bytes(self.buf[offset:offset + length])

    def unpack(self, fmt: str, offset: int) -> tuple:
        if offset < 0 or offset + struct.calcsize(fmt) > self.n:
            raise _Short(offset)
        return struct.unpack_from(fmt, self.buf, offset)

    def cut(self, what: str, end: int) -> MediaError:
        """The error for a needed range ending at `end` that the bytes do not reach."""
        if end > self.size:
            return MediaError("truncated", f"{what} runs past the end of the file ({end} > {self.size} bytes)")
        return MediaError("truncated", f"{what} lies past the {self.n} bytes read (of {self.size})")


class _Short(Exception):
    """A read past the bytes held (turned into MediaError by the reader that needed it)."""


def _ext(name: str) -> str:
    i = name.rfind(".")
    return name[i + 1:].lower() if i >= 0 else ""


def _probe(f: _File, ext: str) -> RawInfo:
    if f.size == 0:
        raise MediaError("empty", "empty file (0 bytes)")
    head = f.get(0, 64)
    if header(head[:16]) is not None:
        return _tiff_raw(f, ext)
    if head[4:8] == b"ftyp" and head[8:12] == b"crx ":
        return _cr3(f)
    if head.startswith(b"FUJIFILM"):
        return _raf(f)
    if head[:2] in (b"II", b"MM") and head[6:14] == b"HEAPCCDR":
        return _crw(f)
    if head.startswith(b"\x00MRM"):
        return _mrw(f)
    if head.startswith(b"FOVb"):
        return _x3f(f)
    if len(head) < 16 and f.n == f.size and f.size < 16:
        raise MediaError("truncated" if _raw_prefix(head) else "not-an-image",
                         f"{f.size} bytes: too short for a camera RAW")
    from .sniff import sniff

    media, what = sniff(f.get(0, 4096))
    what = f"a {what.upper()} image" if media == "image" else f"a {what.upper()} video" if media == "video" else what
    raise MediaError("not-an-image", f"not a camera RAW ({what})")


def _raw_prefix(head: bytes) -> bool:
    """A short file that begins like a RAW: cut, rather than something else."""
    sigs = (b"II*\x00", b"MM\x00*", b"IIRO", b"IIRS", b"MMOR", b"IIU\x00", b"FUJIFILMCCD-RAW ", b"\x00MRM", b"FOVb")
    return bool(head) and any(s.startswith(head[:len(s)]) or head.startswith(s) for s in sigs)


def _info(fmt: str, size: tuple[int | None, int | None], exif: dict, previews: list[Preview],
          notes: list[str]) -> RawInfo:
    orientation = exif.get("orientation")
    w, h = size
    shown = (h, w) if orientation in (5, 6, 7, 8) else (w, h)
    if notes:
        exif["notes"] = (exif.get("notes", []) + notes)[:20]
    return RawInfo(fmt, shown[0], shown[1], w, h, exif, previews, orientation)


# -- previews ---------------------------------------------------------------------------------------
def _jpeg_frame(f: _File, start: int, end: int) -> tuple[int, int, bool] | None:
    """(width, height, lossless) from the frame header of the JPEG at `start`, None if not reached."""
    pos, end = start + 2, min(end, f.n)
    for _ in range(512):
        if pos + 4 > end or f.buf[pos] != 0xFF:
            return None
        marker = f.buf[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        if marker in (0xD9, 0xDA):
            return None
        if marker in SOF:
            if pos + 9 > end:
                return None
            h, w = struct.unpack_from(">HH", f.buf, pos + 5)
            return w, h, marker in LOSSLESS_SOF
        pos += 2 + ((f.buf[pos + 2] << 8) | f.buf[pos + 3])
    return None


def _previews(f: _File, found: list[tuple[int, int, int | None, int | None]], fmt: str) -> list[Preview]:
    """Found (offset, length, width, height) checked against the bytes: JPEGs only (the frame's
    size preferred), one per offset, largest first. The largest must lie within the file."""
    kept: dict[int, Preview] = {}
    for offset, length, w, h in found[:MAX_PREVIEWS]:
        if not isinstance(offset, int) or not isinstance(length, int) or offset <= 0 or length < 4:
            continue
        if f.has(offset, 2):
            if f.get(offset, 2) != b"\xff\xd8":
                f.notes.append(f"{fmt.upper()}: preview at {offset} is not a JPEG: ignored")
                continue
            frame = _jpeg_frame(f, offset, offset + length)
            if frame is not None:
                if frame[2]:
                    continue
                w, h = frame[:2]
        w, h = (w, h) if w and h and w > 0 and h > 0 else (None, None)
        if offset not in kept or kept[offset].width is None:
            kept[offset] = Preview(offset, length, w, h)
    previews = sorted(kept.values(), key=lambda p: (0, -p.width * p.height, -p.length) if p.width
                      else (1, -p.length, 0))
    whole = [p for p in previews if f.fits(p.offset, p.length)]
    cut = [p for p in previews if p not in whole]
    # one past the end is the largest if it comes first, or (its size unknown: its bytes are not
    # there to say) if it is longer than every whole one
    if cut and (cut[0] is previews[0] or cut[0].width is None and cut[0].length >= max(p.length for p in whole)):
        raise f.cut(f"{fmt.upper()} preview JPEG", cut[0].offset + cut[0].length)
    if cut:
        f.notes.append(f"{fmt.upper()}: {len(cut)} preview(s) past the end of the file: ignored")
    return whole


def _jpeg_exif(f: _File, p: Preview) -> dict:
    """Catalog metadata from a preview JPEG's own EXIF (RAF, RW2), {} if it is not within the data."""
    if not f.has(p.offset, p.length):
        return {}
    from .containers import blocks

    return read_exif(blocks(f.get(p.offset, p.length), "JPEG").exif)


# -- TIFF-structured RAWs ---------------------------------------------------------------------------
def _int(value, default=None):
    if isinstance(value, tuple) and value:
        value = value[0]
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _ints(value) -> tuple[int, ...]:
    values = value if isinstance(value, tuple) else (value,)
    return tuple(v for v in values if isinstance(v, int) and not isinstance(v, bool))


def _tiff_raw(f: _File, ext: str) -> RawInfo:
    little, big, first = header(f.get(0, 16))
    e = "<" if little else ">"
    _check_first_ifd(f, first, big, e)
    try:
        tiff = read_tiff(f.buf)
    except TiffError as err:
        raise MediaError("corrupt", f"unreadable TIFF structure: {err}") from None
    fmt = _tiff_format(f, tiff, ext)
    images = [d for d in tiff.ifds if d.name.startswith(("ifd", "sub"))]
    found = []
    for d in images:
        found += _ifd_previews(d, fmt == "dng")
    found += _maker_previews(f, tiff, e)
    rw2_jpeg = _rw2_jpeg(f, first, e) if f.get(0, 4) == b"IIU\x00" and not big else None
    if rw2_jpeg:
        found.append(rw2_jpeg)
    _check_image_data(f, images, fmt)
    previews = _previews(f, found, fmt)
    exif = exif_fields(tiff)
    if rw2_jpeg:   # RW2 keeps the full EXIF in its JpgFromRaw; the file's own IFDs hold a part
        jpeg = next((p for p in previews if p.offset == rw2_jpeg[0]), None)
        inner = _jpeg_exif(f, jpeg) if jpeg else {}
        inner.pop("notes", None)
        exif = {**exif, **inner, **{k: exif[k] for k in ("orientation",) if k in exif}}
    return _info(fmt, _tiff_size(tiff, images, fmt, previews), exif, previews, f.notes)


def _check_first_ifd(f: _File, first: int, big: bool, e: str) -> None:
    """IFD0 must be there, whole: without it nothing of the file can be read."""
    count_size, entry_size = (8, 20) if big else (2, 12)
    if first < 8:
        raise MediaError("corrupt", f"first TIFF directory at offset {first}")
    if first + count_size > f.n:
        raise f.cut("the first TIFF directory", first + count_size)
    count = f.unpack(e + ("Q" if big else "H"), first)[0]
    if count == 0 or count > 4096:
        raise MediaError("corrupt", f"first TIFF directory declares {count} entries")
    if first + count_size + count * entry_size > f.n:
        raise f.cut("the first TIFF directory", first + count_size + count * entry_size)


def _tiff_format(f: _File, tiff: Tiff, ext: str) -> str:
    sig, ifd0 = f.get(0, 4), tiff.ifd("ifd0")
    if sig in (b"IIRO", b"IIRS", b"MMOR"):
        return "orf"
    if sig == b"IIU\x00":
        return ext if ext in ("rwl", "raw") else "rw2"
    if f.get(8, 2) == b"CR" and sig == b"II*\x00":
        return "cr2"
    if DNG_VERSION in ifd0:
        return "gpr" if ext == "gpr" else "dng"
    if ext in TIFF_EXTS:
        return ext
    if not _looks_raw(tiff):
        raise MediaError("not-an-image", "a TIFF image, not a camera RAW")
    make = ifd0.get(MAKE)
    make = make.lower() if isinstance(make, str) else ""
    fmt = next((fmt for prefix, fmt in MAKERS if make.startswith(prefix)), "raw")
    if fmt == "nef" and _int(ifd0.get(COMPRESSION)) == 6:   # Coolpix NRW: a JPEG thumbnail in IFD0
        return "nrw"
    return fmt


def _looks_raw(tiff: Tiff) -> bool:
    """Sensor data somewhere (CFA or linear raw, a maker's compression), or a reduced-size IFD0
    with a maker's name (how RAWs begin and camera TIFFs do not)."""
    ifd0 = tiff.ifd("ifd0")
    for d in tiff.ifds:
        if _int(d.tags.get(PHOTOMETRIC)) in (CFA, LINEAR_RAW) or _int(d.tags.get(COMPRESSION)) in RAW_COMPRESSIONS:
            return True
    return MAKE in ifd0 and (_int(ifd0.get(NEW_SUBFILE)) == 1 or MAKER_NOTE in tiff.ifd("exif"))


def _is_sensor_data(tags: dict, dng: bool) -> bool:
    bits = _ints(tags.get(BITS))
    return (_int(tags.get(PHOTOMETRIC)) in (CFA, LINEAR_RAW) or CR2_SLICE in tags
            or (dng and _int(tags.get(NEW_SUBFILE), 0) == 0) or any(b > 8 for b in bits))


def _ifd_previews(d: Ifd, dng: bool) -> list[tuple[int, int, int | None, int | None]]:
    """The JPEGs one IFD holds: through JPEGInterchangeFormat, or as its single strip."""
    t, out = d.tags, []
    offset, length = _int(t.get(JIF)), _int(t.get(JIF_LENGTH))
    if offset and length:
        out.append((offset, length, None, None))   # the IFD's own size may be another image's
    if _int(t.get(COMPRESSION)) in (6, 7) and not _is_sensor_data(t, dng):
        offsets, counts = _ints(t.get(STRIPS)), _ints(t.get(STRIP_BYTES))
        if len(offsets) == 1 and len(counts) == 1:
            out.append((offsets[0], counts[0], _int(t.get(WIDTH)), _int(t.get(HEIGHT))))
    return out


def _check_image_data(f: _File, images: list[Ifd], fmt: str) -> None:
    """Every IFD's strips and tiles (the sensor data among them) must lie within the file."""
    for d in images:
        t = d.tags
        for offs_tag, counts_tag in ((STRIPS, STRIP_BYTES), (TILES, TILE_BYTES)):
            offsets, counts = _ints(t.get(offs_tag)), _ints(t.get(counts_tag))
            if offs_tag == STRIPS and fmt in ("rw2", "rwl", "raw") and _int(t.get(RW2_RAW_OFFSET)):
                offsets = (_int(t.get(RW2_RAW_OFFSET)),)   # Panasonic: StripOffsets may be 0xFFFFFFFF
            ends = [o + c for o, c in zip(offsets, counts) if o > 0 and c > 0]
            if ends and max(ends) > f.size:
                raise f.cut(f"{fmt.upper()} image data ({d.name})", max(ends))


def _tiff_size(tiff: Tiff, images: list[Ifd], fmt: str, previews: list[Preview]) -> tuple[int | None, int | None]:
    """DNG: the raw IFD's DefaultCropSize, else its size. Panasonic: the sensor inside its borders.
    Others: the largest of the IFDs' and the previews' sizes (placeholders under 16 px left out)."""
    ifd0 = tiff.ifd("ifd0")
    if fmt in ("rw2", "rwl", "raw") and _int(ifd0.get(0x0002)):
        top, left, bottom, right = (_int(ifd0.get(t)) for t in (4, 5, 6, 7))
        if None not in (top, left, bottom, right) and bottom > top and right > left:
            return right - left, bottom - top
        return _int(ifd0.get(0x0002)), _int(ifd0.get(0x0003))
    sizes = [(d, _int(d.tags.get(WIDTH), 0), _int(d.tags.get(HEIGHT), 0)) for d in images]
    sizes = [(d, w, h) for d, w, h in sizes if w >= 16 and h >= 16]
    if fmt in ("dng", "gpr"):
        raw = [s for s in sizes if _int(s[0].tags.get(NEW_SUBFILE), 0) == 0]
        if raw:
            d, w, h = max(raw, key=lambda s: s[1] * s[2])
            crop = d.tags.get(DEFAULT_CROP)
            if isinstance(crop, tuple) and len(crop) == 2 and all(isinstance(v, (int, float)) and v >= 1 for v in crop):
                return round(crop[0]), round(crop[1])
            return w, h
    known = [(w, h) for _, w, h in sizes] + [(p.width, p.height) for p in previews if p.width]
    return max(known, key=lambda wh: wh[0] * wh[1]) if known else (None, None)


# maker notes: small IFD readers of their own (offsets relative to a base, any value size)
def _entries(f: _File, at: int, e: str, base: int = 0) -> dict[int, tuple[int, int, int]]:
    """Tag -> (type, count, absolute offset of its value) of the classic-TIFF IFD at `at`."""
    if at <= 0 or at + 2 > f.n:
        return {}
    count = f.unpack(e + "H", at)[0]
    out: dict[int, tuple[int, int, int]] = {}
    for i in range(min(count, MAX_ENTRIES)):
        p = at + 2 + 12 * i
        if p + 12 > f.n:
            break
        tag, typ, n = struct.unpack_from(e + "HHI", f.buf, p)
        if typ not in TYPES:
            continue
        inline = TYPES[typ][0] * n <= 4
        out.setdefault(tag, (typ, n, p + 8 if inline else base + struct.unpack_from(e + "I", f.buf, p + 8)[0]))
    return out


def _uint(f: _File, entry: tuple[int, int, int] | None, e: str) -> int | None:
    """The first value of a SHORT/LONG/IFD entry."""
    if entry is None or entry[0] not in (3, 4, 13) or entry[1] < 1 or not f.has(entry[2], 4):
        return None
    return f.unpack(e + ("H" if entry[0] == 3 else "I"), entry[2])[0]


def _maker_previews(f: _File, tiff: Tiff, e: str) -> list[tuple[int, int, None, None]]:
    exif = next((d for d in tiff.ifds if d.name == "exif"), None)
    if exif is None or tiff.big:
        return []
    note = _entries(f, exif.offset, e).get(MAKER_NOTE)
    if note is None or not f.has(note[2], 16):
        return []
    start = note[2]
    head = f.get(start, 16)
    if head.startswith(b"Nikon\x00\x02"):
        return _nikon_preview(f, start + 10)
    if head.startswith((b"OLYMPUS\x00", b"OM SYSTEM\x00", b"OLYMP\x00", b"EPSON\x00")):
        return _olympus_preview(f, start, head, e)
    return []


def _nikon_preview(f: _File, base: int) -> list:
    """Nikon's maker note is a TIFF of its own (offsets from its header); PreviewIFD is tag 0x0011."""
    head = header(f.get(base, 16))
    if head is None:
        return []
    e = "<" if head[0] else ">"
    pointer = _uint(f, _entries(f, base + head[2], e, base).get(0x0011), e)
    if not pointer:
        return []
    ifd = _entries(f, base + pointer, e, base)
    offset, length = _uint(f, ifd.get(JIF), e), _uint(f, ifd.get(JIF_LENGTH), e)
    return [(base + offset, length, None, None)] if offset and length else []


def _olympus_preview(f: _File, start: int, head: bytes, file_e: str) -> list:
    """Olympus: the preview's place in CameraSettings (0x2020: 0x0101 start, 0x0102 length), or an
    older camera's whole JPEG as tag 0x0280. New-style notes count offsets from their own start."""
    if head.startswith(b"OLYMPUS\x00"):
        base, at, order = start, start + 12, head[8:10]
    elif head.startswith(b"OM SYSTEM\x00"):
        base, at, order = start, start + 16, head[12:14]
    else:
        base, at, order = 0, start + 8, b""
    e = "<" if order == b"II" else ">" if order == b"MM" else file_e
    main = _entries(f, at, e, base)
    out = []
    blob = main.get(0x0280)
    if blob and blob[0] in (1, 7):
        out.append((blob[2], blob[1], None, None))
    settings = main.get(0x2020)
    if settings:
        if settings[0] == 7:   # UNDEFINED: the directory sits in the value itself
            where = settings[2]
        else:                  # LONG/IFD: a pointer to it
            pointer = _uint(f, settings, e)
            where = base + pointer if pointer else 0
        cs = _entries(f, where, e, base)
        offset, length = _uint(f, cs.get(0x0101), e), _uint(f, cs.get(0x0102), e)
        if offset and length:
            out.append((base + offset, length, None, None))
    return out


def _rw2_jpeg(f: _File, first: int, e: str) -> tuple[int, int, None, None] | None:
    """Panasonic's JpgFromRaw: IFD0 tag 0x002E holds a whole JPEG (read_tiff skips values > 1 MiB)."""
    entry = _entries(f, first, e).get(RW2_JPEG)
    return (entry[2], entry[1], None, None) if entry and entry[0] in (1, 7) else None


# -- CR3: ISO base media ----------------------------------------------------------------------------
def _boxes(f: _File, start: int, end: int, parent: str):
    """(type, payload start, box end) of the boxes in [start, end); only headers within the data."""
    pos = start
    for _ in range(MAX_BOXES):
        if pos + 8 > end:
            if pos < end and end <= f.n:
                f.notes.append(f"CR3 {parent}: {end - pos} stray byte(s) at its end: ignored")
            return
        if pos + 8 > f.n:
            return   # beyond the head we were given
        size, kind = struct.unpack_from(">I4s", f.buf, pos)
        head = 8
        if size == 1:
            if pos + 16 > f.n:
                return
            size, head = struct.unpack_from(">Q", f.buf, pos + 8)[0], 16
        elif size == 0:
            size = end - pos
        if size < head:
            raise MediaError("corrupt", f"CR3 box {kind!r} declares {size} bytes")
        if pos + size > end:
            if end >= f.size:
                raise f.cut(f"CR3 box {kind.decode('latin-1')!r}", pos + size)
            # inside a box that itself fits: a size overstated, as some files have; keep what is there
            f.notes.append(f"CR3 box {kind.decode('latin-1')!r} runs past its parent {parent}: cut to it")
            yield kind, pos + head, end
            return
        yield kind, pos + head, pos + size
        pos += size


def _children(f: _File, start: int, end: int, parent: str) -> dict[bytes, list[tuple[int, int]]]:
    if end > f.n:
        raise f.cut(f"CR3 {parent} box", end)
    out: dict[bytes, list[tuple[int, int]]] = {}
    for kind, s, e in _boxes(f, start, end, parent):
        out.setdefault(kind, []).append((s, e))
    return out


def _cr3(f: _File) -> RawInfo:
    top = list(_boxes(f, 0, f.size, "file"))
    moov = next(((s, e) for k, s, e in top if k == b"moov"), None)
    if moov is None:
        if not top or top[-1][2] < f.size:   # boxes past the head we were given: it may be there
            raise f.cut("CR3 metadata (moov)", f.size)
        f.notes.append("CR3 without a moov box: no metadata, no previews")   # the brand says CR3
        return _info("cr3", (None, None), {}, [], f.notes)
    boxes = _children(f, *moov, "moov")
    canon = next(((s, e) for s, e in boxes.get(b"uuid", []) if f.get(s, 16) == CANON_UUID), None)
    if canon is None:
        raise MediaError("corrupt", "CR3 without Canon's metadata box")
    meta = _children(f, canon[0] + 16, canon[1], "Canon uuid")
    found, craws = [], []
    for s, e in meta.get(b"THMB", [])[:1]:
        found.append(_sized_jpeg(f, s + 4, s + 8, s + 16, e))   # version/flags, w, h, length, 4 bytes
    for k, s, e in top:
        if k == b"uuid" and f.get(s, 16) == PREVIEW_UUID and e <= f.n:
            for kind, ps, pe in _boxes(f, s + 24, e, "preview uuid"):
                if kind == b"PRVW":
                    found.append(_sized_jpeg(f, ps + 6, ps + 12, ps + 16, pe))   # 6 bytes, w, h, 2, length
    for i, (s, e) in enumerate(boxes.get(b"trak", [])[:8]):
        track = _cr3_track(f, s, e)
        if track:
            craws.append(track[:2])
            if i == 0 and track[2] is not None:   # the first track: the full-size JPEG
                found.append(track[2])
    previews = _previews(f, found, "cr3")
    exif = exif_fields(_cr3_tiff(f, meta))
    ifd0 = _cr3_ifd(f, meta, b"CMT1")
    size = (_int(ifd0.tags.get(WIDTH)), _int(ifd0.tags.get(HEIGHT))) if ifd0 else (None, None)
    if not size[0] and craws:
        size = max(craws, key=lambda wh: wh[0] * wh[1])
    return _info("cr3", size, exif, previews, f.notes)


def _sized_jpeg(f: _File, size_at: int, length_at: int, data_at: int, end: int):
    """THMB and PRVW: u16 width and height, a u32 length, the JPEG (bounded by its box)."""
    w, h = f.unpack(">HH", size_at)
    length = f.unpack(">I", length_at)[0]
    return data_at, min(length, end - data_at), w, h


def _cr3_track(f: _File, start: int, end: int):
    """(width, height, the first sample as a preview candidate or None) of a CRAW track."""
    node = (start, end)
    for kind in (b"mdia", b"minf", b"stbl"):
        found = _children(f, *node, "track").get(kind)
        if not found:
            return None
        node = found[0]
    stbl = _children(f, *node, "stbl")
    stsd = stbl.get(b"stsd")
    if not stsd or stsd[0][1] - stsd[0][0] < 8 + 8 + 28:
        return None
    entry = stsd[0][0] + 8                      # version/flags, entry count, then the first entry
    size, kind = f.unpack(">I4s", entry)
    if kind != b"CRAW":
        return None
    w, h = f.unpack(">HH", entry + 8 + 24)       # sample entry (8) and video fields (16) before them
    jpeg = _cr3_first_sample(f, stbl, w, h) if b"JPEG" in f.get(entry + 8 + 70, max(0, size - 78)) else None
    return w, h, jpeg


def _cr3_first_sample(f: _File, stbl: dict, w: int, h: int):
    sizes, chunks = stbl.get(b"stsz"), stbl.get(b"co64") or stbl.get(b"stco")
    if not sizes or not chunks:
        return None
    size, count = f.unpack(">II", sizes[0][0] + 4)
    if size == 0 and count:
        size = f.unpack(">I", sizes[0][0] + 12)[0]
    wide = b"co64" in stbl
    if f.unpack(">I", chunks[0][0] + 4)[0] < 1:
        return None
    offset = f.unpack(">Q" if wide else ">I", chunks[0][0] + 8)[0]
    return offset, size, w, h


def _cr3_ifd(f: _File, meta: dict, kind: bytes) -> Ifd | None:
    """The first IFD of a CMTn box (each is a TIFF structure of its own)."""
    box = meta.get(kind)
    if not box:
        return None
    try:
        tiff = read_tiff(f.get(box[0][0], box[0][1] - box[0][0]), sub_ifds=False)
    except TiffError:
        f.notes.append(f"CR3 {kind.decode()} is not a TIFF structure: ignored")
        return None
    f.notes += tiff.notes
    return tiff.ifds[0] if tiff.ifds else None


def _cr3_tiff(f: _File, meta: dict) -> Tiff:
    """One Tiff of CMT1 (IFD0), CMT2 (EXIF) and CMT4 (GPS), as exif_fields reads a file's."""
    tiff = Tiff(little=True, big=False)
    for kind, name in ((b"CMT1", "ifd0"), (b"CMT2", "exif"), (b"CMT4", "gps")):
        ifd = _cr3_ifd(f, meta, kind)
        if ifd is not None:
            tiff.ifds.append(replace(ifd, name=name))
    return tiff


# -- RAF --------------------------------------------------------------------------------------------
def _raf(f: _File) -> RawInfo:
    if f.n < 108:
        raise f.cut("RAF header", 108)
    jpeg_at, jpeg_len, dir_at, _dir_len, cfa_at, cfa_len = f.unpack(">6I", 84)
    if cfa_at and cfa_len and cfa_at + cfa_len > f.size:
        raise f.cut("RAF sensor data", cfa_at + cfa_len)
    previews = _previews(f, [(jpeg_at, jpeg_len, None, None)], "raf")
    exif = _jpeg_exif(f, previews[0]) if previews else {}
    size = _raf_size(f, dir_at)
    if not size[0] and previews and previews[0].width:
        size = previews[0].width, previews[0].height
    return _info("raf", size, exif, previews, f.notes)


def _raf_size(f: _File, at: int) -> tuple[int | None, int | None]:
    """From the RAF directory: RawImageCroppedSize (0x111), else RawImageFullSize (0x100); height first."""
    if not at or not f.has(at, 4):
        return None, None
    sizes = {}
    pos = at + 4
    for _ in range(min(f.unpack(">I", at)[0], 256)):
        if not f.has(pos, 4):
            break
        tag, length = f.unpack(">HH", pos)
        if tag in (0x100, 0x111) and length == 4 and f.has(pos + 4, 4):
            sizes[tag] = f.unpack(">HH", pos + 4)
        pos += 4 + length
    h, w = sizes.get(0x111) or sizes.get(0x100) or (None, None)
    return (w, h) if w and h else (None, None)


# -- CRW (Canon's CIFF) -----------------------------------------------------------------------------
def _crw(f: _File) -> RawInfo:
    e = "<" if f.get(0, 2) == b"II" else ">"
    start = f.unpack(e + "I", 2)[0]
    out: dict = {}
    previews: list[Preview] = []
    if f.n < f.size:   # the record table sits at the heap's end: without it, the format alone
        f.notes.append("CRW: only the file's head was given: metadata not read")
        return _info("crw", (None, None), out, previews, f.notes)
    if not 14 <= start < f.n - 4:
        raise MediaError("corrupt", f"CRW heap starts at {start}")
    records: dict[int, tuple[int, int]] = {}
    _ciff_heap(f, e, start, f.n, records, 0, [64])
    found = [(o, n, None, None) for tag, (o, n) in records.items() if tag == 0x2007]
    previews = _previews(f, found, "crw")
    if 0x080A in records:
        o, n = records[0x080A]
        parts = f.get(o, min(n, 256)).split(b"\x00")
        if len(parts) >= 2:
            make, model = text(parts[0]), text(parts[1])
            out.update({k: v for k, v in (("camera", camera_name(make, model)), ("make", make)) if v})
    if 0x180E in records and records[0x180E][1] >= 4:
        seconds = f.unpack(e + "I", records[0x180E][0])[0]   # the camera's wall clock, as seconds
        if seconds:
            out["taken_local"] = datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    size = (None, None)
    if 0x1810 in records and records[0x1810][1] >= 16:
        w, h, _aspect, rotation = f.unpack(e + "IIfi", records[0x1810][0])
        size = (w, h) if w and h else size
        out["orientation"] = {0: 1, 90: 6, 180: 3, -180: 3, 270: 8, -90: 8}.get(rotation, 1)
    return _info("crw", size, out, previews, f.notes)


def _ciff_heap(f: _File, e: str, start: int, end: int, records: dict, depth: int, budget: list[int]) -> None:
    """Collect tag -> (offset, length) of a CIFF heap's records, sub-heaps included (bounded in
    depth and in heaps read, `budget`). A heap's last four bytes point at its record table."""
    budget[0] -= 1
    if depth > 4 or budget[0] < 0 or end - start < 6:
        return
    table = start + f.unpack(e + "I", end - 4)[0]
    if not start <= table <= end - 6:
        raise MediaError("truncated" if depth == 0 else "corrupt", "CRW record table out of place")
    count = f.unpack(e + "H", table)[0]
    for i in range(min(count, MAX_ENTRIES)):
        at = table + 2 + 10 * i
        if at + 10 > end:
            break
        tag, length, offset = f.unpack(e + "HII", at)
        if tag & 0xC000 == 0x4000:       # the value is in the record itself
            records.setdefault(tag & 0x3FFF, (at + 2, 8))
            continue
        o = start + offset
        if not (start <= o and o + length <= end):
            continue
        if tag & 0x3800 in (0x2800, 0x3000):  # a sub-heap
            _ciff_heap(f, e, o, o + length, records, depth + 1, budget)
        else:
            records.setdefault(tag & 0x3FFF, (o, length))


# -- MRW and X3F ------------------------------------------------------------------------------------
def _mrw(f: _File) -> RawInfo:
    """Minolta: blocks (4-byte name, big-endian length) before the sensor data; TTW holds a TIFF
    (the EXIF), PRD the sensor and image sizes."""
    if f.n < 8:
        raise f.cut("MRW header", 8)
    end = 8 + f.unpack(">I", 4)[0]
    if end > f.size:
        raise f.cut("MRW header blocks", end)
    exif, size, pos = {}, (None, None), 8
    for _ in range(64):
        if pos + 8 > min(end, f.n):
            break
        kind, length = f.unpack(">4sI", pos)
        body = pos + 8
        if kind == b"\x00TTW" and f.has(body, length):
            try:
                exif = exif_fields(read_tiff(f.buf[body:body + length]))
            except TiffError:
                f.notes.append("MRW: TTW block is not a TIFF structure")
        elif kind == b"\x00PRD" and f.has(body, 16):
            h, w = f.unpack(">HH", body + 12)
            size = (w, h) if w and h else size
        pos = body + length
    return _info("mrw", size, exif, [], f.notes)


def _x3f(f: _File) -> RawInfo:
    """Sigma: the header's image size (columns, rows) only."""
    if f.n < 36:
        raise f.cut("X3F header", 36)
    w, h = f.unpack("<II", 28)
    return _info("x3f", (w, h) if 0 < w < 100_000 and 0 < h < 100_000 else (None, None), {}, [], f.notes)
