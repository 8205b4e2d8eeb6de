"""Where each format keeps its metadata: the EXIF (TIFF) block, XMP packets and IPTC-IIM records
of a JPEG, PNG, WebP, HEIC/AVIF or TIFF, found wherever the format allows them to be (a JPEG's
EXIF APP1 after XMP, APP6-9 or APP13; WebP's EXIF with or without its `Exif\\0\\0` prefix; PNG's
eXIf and ImageMagick's hex `Raw profile type exif`; HEIC's Exif and XMP items), and for HEIF the
primary image's size, rotation and whether its data lies past the end of the file."""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

EXIF_HEADER = b"Exif\x00\x00"
XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
XMP_EXT_HEADER = b"http://ns.adobe.com/xmp/extension/\x00"
IRB_HEADER = b"Photoshop 3.0\x00"
HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif", b"avis",
               b"mif2", b"heif"}
MAX_TEXT = 8 << 20   # an XMP packet or profile text chunk larger than this is not metadata


@dataclass
class Blocks:
    exif: bytes | None = None            # a TIFF structure (the `Exif\0\0` prefix removed)
    xmp: list[bytes] = field(default_factory=list)
    iptc: bytes | None = None            # IPTC-IIM records
    notes: list[str] = field(default_factory=list)
    # HEIF only
    size: tuple[int, int] | None = None  # the primary image's stored size (ispe)
    rotation: int = 0                    # irot: counter-clockwise quarter turns
    mirror: int | None = None            # imir axis
    truncated: bool = False              # an item's data lies past the end of the file


def blocks(data: bytes | memoryview, fmt: str) -> Blocks:
    """The metadata blocks of an image whose format Pillow named `fmt` (JPEG, MPO, PNG, WEBP,
    HEIF, AVIF, TIFF); never raises on damaged content: what cannot be read is a note."""
    data = bytes(data) if isinstance(data, memoryview) else data
    out = Blocks()
    reader = {"JPEG": _jpeg, "MPO": _jpeg, "PNG": _png, "WEBP": _webp, "HEIF": _heif, "AVIF": _heif,
              "TIFF": _tiff, "GIF": _gif}.get(fmt)
    if reader is not None:
        try:
            reader(data, out)
        except (struct.error, ValueError, IndexError, zlib.error) as e:
            out.notes.append(f"{fmt} structure damaged ({e}): metadata read as far as it goes")
    return out


# -- JPEG ---------------------------------------------------------------------------------------------
def _jpeg(data: bytes, out: Blocks) -> None:
    pos, n, junk = 2, len(data), 0
    extended: dict[bytes, dict[int, bytes]] = {}
    while pos + 4 <= n:
        if data[pos] != 0xFF:   # junk between segments (some cameras): skip to the next marker
            nxt = data.find(b"\xff", pos)
            if nxt < 0:
                break
            junk += nxt - pos
            pos = nxt
            continue
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        if marker in (0xDA, 0xD9):   # start of scan: metadata comes before it
            break
        length = int.from_bytes(data[pos + 2:pos + 4], "big")
        body = data[pos + 4:pos + 2 + length]
        if marker == 0xE1:
            if body.startswith(EXIF_HEADER) and out.exif is None:
                out.exif = body[6:]
            elif body.startswith(XMP_HEADER):
                out.xmp.append(body[len(XMP_HEADER):])
            elif body.startswith(XMP_EXT_HEADER) and len(body) > len(XMP_EXT_HEADER) + 40:
                guid = body[len(XMP_EXT_HEADER):len(XMP_EXT_HEADER) + 32]
                offset = int.from_bytes(body[len(XMP_EXT_HEADER) + 36:len(XMP_EXT_HEADER) + 40], "big")
                extended.setdefault(guid, {})[offset] = body[len(XMP_EXT_HEADER) + 40:]
        elif marker == 0xED and body.startswith(IRB_HEADER) and out.iptc is None:
            out.iptc = photoshop_iptc(body[len(IRB_HEADER):])
        pos += 2 + length
    if junk:
        out.notes.append(f"{junk} junk byte(s) between JPEG segments (as some cameras write): skipped")
    if out.iptc is None:
        out.iptc = _afcp_iptc(data)
    for chunks in extended.values():
        out.xmp.append(b"".join(chunks[k] for k in sorted(chunks)))


def _afcp_iptc(data: bytes) -> bytes | None:
    """IPTC in an AFCP trailer (AXS File Concatenation Protocol, after the JPEG's end): the last
    12 bytes are 'AXS!' (big-endian) or 'AXS*' (little-endian) and where the trailer starts; there,
    a directory of (tag, size, offset) entries."""
    tail = data[-12:]
    if len(data) < 24 or tail[:3] != b"AXS" or tail[3:4] not in (b"!", b"*"):
        return None
    e = ">" if tail[3:4] == b"!" else "<"
    start = struct.unpack(e + "I", tail[4:8])[0]
    if start + 12 > len(data) or data[start:start + 4] != tail[:4]:
        return None
    count = struct.unpack(e + "H", data[start + 6:start + 8])[0]
    for i in range(min(count, 64)):
        at = start + 12 + 12 * i
        tag, size, offset = data[at:at + 4], *struct.unpack(e + "II", data[at + 4:at + 12])
        if tag == b"IPTC" and offset + size <= len(data):
            return data[offset:offset + size]
    return None


def photoshop_iptc(irb: bytes) -> bytes | None:
    """The IPTC-IIM records (resource 0x0404) of Photoshop image resource blocks."""
    pos = 0
    while pos + 12 <= len(irb) and irb[pos:pos + 4] == b"8BIM":
        rid = int.from_bytes(irb[pos + 4:pos + 6], "big")
        name_len = irb[pos + 6]
        pos += 7 + name_len + ((name_len + 1) & 1)   # the Pascal name is padded to an even length
        size = int.from_bytes(irb[pos:pos + 4], "big")
        pos += 4
        if rid == 0x0404:
            return irb[pos:pos + size]
        pos += size + (size & 1)
    return None


# -- PNG ----------------------------------------------------------------------------------------------
def _png(data: bytes, out: Blocks) -> None:
    pos, n = 8, len(data)
    while pos + 8 <= n:
        length = int.from_bytes(data[pos:pos + 4], "big")
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        if kind == b"eXIf" and out.exif is None:
            out.exif = body[6:] if body.startswith(EXIF_HEADER) else body
        elif kind in (b"tEXt", b"zTXt", b"iTXt") and length <= MAX_TEXT:
            keyword, value = _png_text(kind, body)
            if keyword == "XML:com.adobe.xmp":
                out.xmp.append(value)
            elif keyword.lower() in ("raw profile type exif", "raw profile type app1") and out.exif is None:
                exif = _raw_profile(value)
                if exif:
                    out.exif = exif[6:] if exif.startswith(EXIF_HEADER) else exif
            elif keyword.lower() == "raw profile type iptc" and out.iptc is None:
                raw = _raw_profile(value)
                out.iptc = photoshop_iptc(raw[len(IRB_HEADER):] if raw and raw.startswith(IRB_HEADER) else raw) \
                    if raw and (raw.startswith(IRB_HEADER) or raw.startswith(b"8BIM")) else raw
        elif kind == b"IEND":
            break
        pos += 12 + length


def _png_text(kind: bytes, body: bytes) -> tuple[str, bytes]:
    keyword, _, rest = body.partition(b"\x00")
    name = keyword.decode("latin-1")
    if kind == b"tEXt":
        return name, rest
    if kind == b"zTXt":
        return name, _inflate(rest[1:])
    compressed, _method = rest[0], rest[1]
    _lang, _, rest = rest[2:].partition(b"\x00")
    _translated, _, text = rest.partition(b"\x00")
    return name, _inflate(text) if compressed else text


def _inflate(data: bytes) -> bytes:
    z = zlib.decompressobj()
    out = z.decompress(data, MAX_TEXT)
    if z.unconsumed_tail:
        raise ValueError("a text chunk inflates beyond 8 MiB")
    return out


def _raw_profile(text: bytes) -> bytes | None:
    """ImageMagick's `Raw profile type ...`: '\\nexif\\n   <length>\\n<hex digits, wrapped>'."""
    parts = text.split(None, 2)
    if len(parts) < 3:
        return None
    try:
        size = int(parts[1])
        raw = bytes.fromhex(parts[2].decode("ascii", "ignore").replace("\n", "").replace(" ", ""))
    except ValueError:
        return None
    return raw[:size]


# -- WebP ---------------------------------------------------------------------------------------------
def _webp(data: bytes, out: Blocks) -> None:
    pos, n = 12, len(data)
    while pos + 8 <= n:
        kind = data[pos:pos + 4]
        length = int.from_bytes(data[pos + 4:pos + 8], "little")
        body = data[pos + 8:pos + 8 + length]
        if kind == b"EXIF" and out.exif is None:   # the standard holds a bare TIFF block; many add the prefix
            out.exif = body[6:] if body.startswith(EXIF_HEADER) else body
        elif kind == b"XMP ":
            out.xmp.append(body)
        pos += 8 + length + (length & 1)


# -- GIF ----------------------------------------------------------------------------------------------
def _gif(data: bytes, out: Blocks) -> None:
    """XMP in the 'XMP DataXMP' application extension (the packet, then a 258-byte magic trailer)."""
    at = data.find(b"\x21\xff\x0bXMP DataXMP")
    if at < 0:
        return
    start = at + 14
    end = data.find(b"\x01\xff\xfe", start)
    out.xmp.append(data[start:end if end > 0 else len(data)])


# -- TIFF ---------------------------------------------------------------------------------------------
def _tiff(data: bytes, out: Blocks) -> None:
    from .tiff import TiffError, read_tiff

    out.exif = data
    try:
        tiff = read_tiff(data, sub_ifds=False)
    except TiffError:
        return
    ifd0 = tiff.ifd("ifd0")
    xmp = ifd0.get(700)
    if isinstance(xmp, (bytes, str)):
        out.xmp.append(xmp if isinstance(xmp, bytes) else xmp.encode("utf-8"))
    iptc = ifd0.get(33723)
    if isinstance(iptc, tuple) and iptc and all(isinstance(v, int) for v in iptc):   # often typed LONG
        iptc = struct.pack((">" if data[:2] == b"MM" else "<") + f"{len(iptc)}I", *iptc)
    if isinstance(iptc, bytes):
        out.iptc = iptc
    elif isinstance(ifd0.get(34377), bytes):
        out.iptc = photoshop_iptc(ifd0[34377])


# -- HEIF / AVIF (ISO base media file format) -----------------------------------------------------------
def heif_brand(data: bytes | memoryview) -> bytes | None:
    """The HEIF brand that makes `data` a HEIF/AVIF image (major or compatible), else None."""
    if len(data) < 16 or bytes(data[4:8]) != b"ftyp":
        return None
    size = int.from_bytes(bytes(data[:4]), "big")
    major = bytes(data[8:12])
    if major in HEIF_BRANDS:
        return major
    brands = bytes(data[16:min(size, 256)])
    for i in range(0, len(brands) - 3, 4):
        if brands[i:i + 4] in HEIF_BRANDS:
            return brands[i:i + 4]
    return None


def _boxes(data: bytes, start: int, end: int):
    pos = start
    while pos + 8 <= end:
        size = int.from_bytes(data[pos:pos + 4], "big")
        kind = data[pos + 4:pos + 8]
        head = 8
        if size == 1:
            size, head = int.from_bytes(data[pos + 8:pos + 16], "big"), 16
        elif size == 0:
            size = end - pos
        if size < head or pos + size > end:
            raise ValueError(f"box {kind!r} runs past its parent")
        yield kind, pos + head, pos + size
        pos += size


def _heif(data: bytes, out: Blocks) -> None:
    n = len(data)
    meta = next(((s, e) for kind, s, e in _boxes(data, 0, n) if kind == b"meta"), None)
    if meta is None:
        out.notes.append("HEIF without a meta box")
        return
    start, end = meta[0] + 4, meta[1]   # meta is a full box: version and flags first
    items: dict[int, tuple[bytes, bytes]] = {}      # id -> (type, content type)
    locs: dict[int, list[tuple[int, int]]] = {}
    props: list[tuple[bytes, bytes]] = []
    assoc: dict[int, list[int]] = {}
    primary = None
    for kind, s, e in _boxes(data, start, end):
        if kind == b"pitm":
            primary = int.from_bytes(data[s + 4:s + 6], "big") if data[s] == 0 else int.from_bytes(data[s + 4:s + 8], "big")
        elif kind == b"iinf":
            version = data[s]
            first = s + 4 + (2 if version == 0 else 4)
            for k, s2, e2 in _boxes(data, first, e):
                if k == b"infe":
                    _infe(data, s2, e2, items)
        elif kind == b"iloc":
            _iloc(data, s, e, locs)
        elif kind == b"iprp":
            for k, s2, e2 in _boxes(data, s, e):
                if k == b"ipco":
                    props = [(k3, data[s3:e3]) for k3, s3, e3 in _boxes(data, s2, e2)]
                elif k == b"ipma":
                    _ipma(data, s2, e2, assoc)
    for item, extents in locs.items():
        if any(off + length > n for off, length in extents):
            out.truncated = True
    for item, (typ, content) in items.items():
        payload = b"".join(data[off:off + length] for off, length in locs.get(item, ()))
        if typ == b"Exif" and out.exif is None and len(payload) >= 4:
            skip = int.from_bytes(payload[:4], "big")   # offset to the TIFF header after this field
            tiff = payload[4 + skip:]
            out.exif = tiff[6:] if tiff.startswith(EXIF_HEADER) else tiff
        elif typ == b"mime" and content.startswith(b"application/rdf+xml"):
            out.xmp.append(payload)
    for index in assoc.get(primary, []):
        if not 0 < index <= len(props):
            continue
        kind, body = props[index - 1]
        if kind == b"ispe" and len(body) >= 12:
            out.size = struct.unpack(">II", body[4:12])
        elif kind == b"irot" and body:
            out.rotation = body[0] & 3
        elif kind == b"imir" and body:
            out.mirror = body[0] & 1


def _infe(data: bytes, s: int, e: int, items: dict) -> None:
    version = data[s]
    if version < 2:
        return
    pos = s + 4
    item = int.from_bytes(data[pos:pos + (2 if version == 2 else 4)], "big")
    pos += (2 if version == 2 else 4) + 2   # id, protection index
    typ = data[pos:pos + 4]
    pos += 4
    _name, _, rest = data[pos:e].partition(b"\x00")
    items[item] = (typ, rest.split(b"\x00", 1)[0] if typ == b"mime" else b"")


def _iloc(data: bytes, s: int, e: int, locs: dict) -> None:
    version = data[s]
    sizes = int.from_bytes(data[s + 4:s + 6], "big")
    off_size, len_size, base_size = sizes >> 12, (sizes >> 8) & 15, (sizes >> 4) & 15
    index_size = sizes & 15 if version in (1, 2) else 0
    pos = s + 6
    count = int.from_bytes(data[pos:pos + (2 if version < 2 else 4)], "big")
    pos += 2 if version < 2 else 4

    def num(size: int) -> int:
        nonlocal pos
        v = int.from_bytes(data[pos:pos + size], "big") if size else 0
        pos += size
        return v

    for _ in range(min(count, 100_000)):
        item = num(2 if version < 2 else 4)
        if version in (1, 2):
            pos += 2   # construction method
        pos += 2       # data reference index
        base = num(base_size)
        extents = []
        for _ in range(num(2)):
            if index_size:
                num(index_size)
            extents.append((base + num(off_size), num(len_size)))
        locs[item] = extents
        if pos > e:
            raise ValueError("iloc runs past its box")


def _ipma(data: bytes, s: int, e: int, assoc: dict) -> None:
    version, flags = data[s], int.from_bytes(data[s + 1:s + 4], "big")
    pos = s + 4
    count = int.from_bytes(data[pos:pos + 4], "big")
    pos += 4
    for _ in range(min(count, 100_000)):
        item = int.from_bytes(data[pos:pos + (2 if version < 1 else 4)], "big")
        pos += 2 if version < 1 else 4
        n = data[pos]
        pos += 1
        for _ in range(n):
            if flags & 1:
                index = int.from_bytes(data[pos:pos + 2], "big") & 0x7FFF
                pos += 2
            else:
                index = data[pos] & 0x7F
                pos += 1
            assoc.setdefault(item, []).append(index)
        if pos > e:
            raise ValueError("ipma runs past its box")
