"""TIFF-structured RAWs (DNG, CR2, NEF, NRW, ARW, SR2, SRF, ORF, RW2, PEF, SRW, 3FR, IIQ, ERF, KDC,
MOS, DCR, ...): the format (from the signature, the extension or the Make), the JPEGs every IFD holds,
Nikon's PreviewIFD and Olympus' CameraSettings in the maker note, Panasonic's JpgFromRaw (0x002E),
the image data checked to lie within the file, and the image size."""
from __future__ import annotations

import struct

from ..exif import exif_fields
from ..kinds import MediaError
from ..tiff import TYPES, Ifd, Tiff, TiffError, header, read_tiff
from .info import Preview, RawInfo, _info
from .previews import _jpeg_exif, _previews
from .reader import MAX_ENTRIES, _File

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


# -- TIFF-structured RAWs ---------------------------------------------------------------------------
def tag_int(value, default=None):
    """A TIFF tag's (first) integer value, else `default` (tags read as tuples, bools excluded)."""
    if isinstance(value, tuple) and value:
        value = value[0]
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def tag_ints(value) -> tuple[int, ...]:
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
    if fmt == "nef" and tag_int(ifd0.get(COMPRESSION)) == 6:   # Coolpix NRW: a JPEG thumbnail in IFD0
        return "nrw"
    return fmt


def _looks_raw(tiff: Tiff) -> bool:
    """Sensor data somewhere (CFA or linear raw, a maker's compression), or a reduced-size IFD0
    with a maker's name (how RAWs begin and camera TIFFs do not)."""
    ifd0 = tiff.ifd("ifd0")
    for d in tiff.ifds:
        if tag_int(d.tags.get(PHOTOMETRIC)) in (CFA, LINEAR_RAW) or tag_int(d.tags.get(COMPRESSION)) in RAW_COMPRESSIONS:
            return True
    return MAKE in ifd0 and (tag_int(ifd0.get(NEW_SUBFILE)) == 1 or MAKER_NOTE in tiff.ifd("exif"))


def _is_sensor_data(tags: dict, dng: bool) -> bool:
    bits = tag_ints(tags.get(BITS))
    return (tag_int(tags.get(PHOTOMETRIC)) in (CFA, LINEAR_RAW) or CR2_SLICE in tags
            or (dng and tag_int(tags.get(NEW_SUBFILE), 0) == 0) or any(b > 8 for b in bits))


def _ifd_previews(d: Ifd, dng: bool) -> list[tuple[int, int, int | None, int | None]]:
    """The JPEGs one IFD holds: through JPEGInterchangeFormat, or as its single strip."""
    t, out = d.tags, []
    offset, length = tag_int(t.get(JIF)), tag_int(t.get(JIF_LENGTH))
    if offset and length:
        out.append((offset, length, None, None))   # the IFD's own size may be another image's
    if tag_int(t.get(COMPRESSION)) in (6, 7) and not _is_sensor_data(t, dng):
        offsets, counts = tag_ints(t.get(STRIPS)), tag_ints(t.get(STRIP_BYTES))
        if len(offsets) == 1 and len(counts) == 1:
            out.append((offsets[0], counts[0], tag_int(t.get(WIDTH)), tag_int(t.get(HEIGHT))))
    return out


def _check_image_data(f: _File, images: list[Ifd], fmt: str) -> None:
    """Every IFD's strips and tiles (the sensor data among them) must lie within the file."""
    for d in images:
        t = d.tags
        for offs_tag, counts_tag in ((STRIPS, STRIP_BYTES), (TILES, TILE_BYTES)):
            offsets, counts = tag_ints(t.get(offs_tag)), tag_ints(t.get(counts_tag))
            if offs_tag == STRIPS and fmt in ("rw2", "rwl", "raw") and tag_int(t.get(RW2_RAW_OFFSET)):
                offsets = (tag_int(t.get(RW2_RAW_OFFSET)),)   # Panasonic: StripOffsets may be 0xFFFFFFFF
            ends = [o + c for o, c in zip(offsets, counts) if o > 0 and c > 0]
            if ends and max(ends) > f.size:
                raise f.cut(f"{fmt.upper()} image data ({d.name})", max(ends))


def _tiff_size(tiff: Tiff, images: list[Ifd], fmt: str, previews: list[Preview]) -> tuple[int | None, int | None]:
    """DNG: the raw IFD's DefaultCropSize, else its size. Panasonic: the sensor inside its borders.
    Others: the largest of the IFDs' and the previews' sizes (placeholders under 16 px left out)."""
    ifd0 = tiff.ifd("ifd0")
    if fmt in ("rw2", "rwl", "raw") and tag_int(ifd0.get(0x0002)):
        top, left, bottom, right = (tag_int(ifd0.get(t)) for t in (4, 5, 6, 7))
        if None not in (top, left, bottom, right) and bottom > top and right > left:
            return right - left, bottom - top
        return tag_int(ifd0.get(0x0002)), tag_int(ifd0.get(0x0003))
    sizes = [(d, tag_int(d.tags.get(WIDTH), 0), tag_int(d.tags.get(HEIGHT), 0)) for d in images]
    sizes = [(d, w, h) for d, w, h in sizes if w >= 16 and h >= 16]
    if fmt in ("dng", "gpr"):
        raw = [s for s in sizes if tag_int(s[0].tags.get(NEW_SUBFILE), 0) == 0]
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
