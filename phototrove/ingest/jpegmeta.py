"""Lossless JPEG metadata: insert EXIF, XMP and an ICC profile as APP segments in front of a JPEG's
own bytes. The compressed image data is never touched, so nothing is decoded or re-encoded.

Used by `trove recover lrprev` (full metadata) and by the Lightroom source for ingest (orientation
and profile only, so thumbnails and the model see the photo upright).
"""
from __future__ import annotations

import re
import struct
from functools import lru_cache

EXIF_HEADER = b"Exif\x00\x00"
XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
ICC_HEADER = b"ICC_PROFILE\x00"
MAX_SEGMENT = 65533  # payload bytes one APP segment can hold (length field is 16 bits, counts itself)


class JpegError(ValueError):
    pass


# -- JPEG segments --------------------------------------------------------------------------------
def split_header(jpeg: bytes) -> tuple[list[tuple[int, bytes]], int]:
    """The APPn/COM segments right after SOI as (marker, payload), and the offset where the rest
    (tables, frame, scan) begins."""
    if jpeg[:2] != b"\xff\xd8":
        raise JpegError("not a JPEG (no SOI marker)")
    segments, pos, n = [], 2, len(jpeg)
    while pos + 4 <= n and jpeg[pos] == 0xFF:
        marker = jpeg[pos + 1]
        if not (0xE0 <= marker <= 0xEF or marker == 0xFE):
            break
        length = int.from_bytes(jpeg[pos + 2:pos + 4], "big")
        if length < 2 or pos + 2 + length > n:
            raise JpegError("damaged JPEG header segment")
        segments.append((marker, jpeg[pos + 4:pos + 2 + length]))
        pos += 2 + length
    return segments, pos


def _segment(marker: int, payload: bytes) -> bytes:
    if len(payload) > MAX_SEGMENT:
        raise JpegError(f"segment too large ({len(payload)} bytes)")
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def _replaced(marker: int, payload: bytes) -> bool:
    return ((marker == 0xE1 and (payload.startswith(EXIF_HEADER) or payload.startswith(XMP_HEADER)))
            or (marker == 0xE2 and payload.startswith(ICC_HEADER)))


def with_metadata(jpeg: bytes, *, exif: bytes | None = None, xmp: bytes | None = None,
                  icc: bytes | None = None) -> bytes:
    """The same JPEG with the given EXIF (TIFF bytes), XMP (packet) and ICC profile segments.
    Existing segments of those kinds are dropped; every other byte is kept as it was."""
    head, rest = metadata_prefix(jpeg, exif=exif, xmp=xmp, icc=icc)
    return head + rest


def metadata_prefix(jpeg: bytes, *, exif: bytes | None = None, xmp: bytes | None = None,
                    icc: bytes | None = None) -> tuple[bytes, memoryview]:
    """`with_metadata` as (new leading bytes, the untouched rest of `jpeg`), to write without a copy."""
    segments, rest = split_header(jpeg)
    out = [b"\xff\xd8"]
    keep = [(m, p) for m, p in segments if not _replaced(m, p)]
    if keep and keep[0][0] == 0xE0:  # JFIF APP0 stays first, as its spec requires
        out.append(_segment(*keep.pop(0)))
    if exif is not None:
        out.append(_segment(0xE1, EXIF_HEADER + exif))
    if xmp is not None:
        out.append(_segment(0xE1, XMP_HEADER + xmp))
    if icc is not None:
        out.extend(_icc_segments(icc))
    out.extend(_segment(m, p) for m, p in keep)
    return b"".join(out), memoryview(jpeg)[rest:]


def _icc_segments(icc: bytes) -> list[bytes]:
    room = MAX_SEGMENT - len(ICC_HEADER) - 2
    chunks = [icc[i:i + room] for i in range(0, len(icc), room)]
    return [_segment(0xE2, ICC_HEADER + bytes((i + 1, len(chunks))) + c) for i, c in enumerate(chunks)]


def scan_data(jpeg: bytes) -> bytes:
    """Everything after the leading APP/COM segments: what a lossless rewrite must keep identical."""
    return jpeg[split_header(jpeg)[1]:]


# -- EXIF (TIFF structure, big-endian) ------------------------------------------------------------
_BYTE, _ASCII, _SHORT, _LONG, _RATIONAL, _UNDEFINED, _SRATIONAL = 1, 2, 3, 4, 5, 7, 10
_SIZES = {_BYTE: 1, _ASCII: 1, _SHORT: 2, _LONG: 4, _RATIONAL: 8, _UNDEFINED: 1, _SRATIONAL: 8}


def _ascii(text: str) -> tuple[int, int, bytes]:
    raw = text.encode("utf-8") + b"\x00"
    return _ASCII, len(raw), raw


def _rational(values: list[float], denominator: int = 10000) -> tuple[int, int, bytes]:
    """Unsigned rationals with a fixed denominator (exact for the precisions EXIF readers show)."""
    raw = b"".join(struct.pack(">II", round(v * denominator), denominator) for v in values)
    return _RATIONAL, len(values), raw


def _exposure(seconds: float) -> tuple[int, int, bytes]:
    """1/250 s as 1/250, not 0.004: the way cameras write it."""
    if seconds < 1:
        return _RATIONAL, 1, struct.pack(">II", 1, round(1 / seconds))
    return _rational([seconds], 10)


def _ifd(entries: dict[int, tuple[int, int, bytes]], offset: int) -> tuple[bytes, bytes]:
    """One IFD placed at `offset` (from the TIFF header): (directory bytes, its data area)."""
    tags = sorted(entries)
    data_at = offset + 2 + 12 * len(tags) + 4
    directory, data = [struct.pack(">H", len(tags))], []
    for tag in tags:
        typ, count, raw = entries[tag]
        if len(raw) <= 4:
            directory.append(struct.pack(">HHI", tag, typ, count) + raw.ljust(4, b"\x00"))
        else:
            directory.append(struct.pack(">HHII", tag, typ, count, data_at))
            raw += b"\x00" * (len(raw) & 1)
            data.append(raw)
            data_at += len(raw)
    directory.append(b"\x00\x00\x00\x00")  # no next IFD
    return b"".join(directory), b"".join(data)


def _ifd_size(entries: dict) -> int:
    size = 2 + 12 * len(entries) + 4
    for _typ, _count, raw in entries.values():
        if len(raw) > 4:
            size += len(raw) + (len(raw) & 1)
    return size


def build_exif(meta: dict) -> bytes:
    """TIFF-structured EXIF from catalog metadata keys: orientation, taken_at (+ utc_offset),
    lat/lon/alt, camera, lens, rating, focal_length, aperture (f-number), shutter (seconds), iso,
    width/height."""
    ifd0: dict[int, tuple[int, int, bytes]] = {}
    exif: dict[int, tuple[int, int, bytes]] = {0x9000: (_UNDEFINED, 4, b"0230")}
    gps: dict[int, tuple[int, int, bytes]] = {}
    orientation = meta.get("orientation")
    ifd0[0x0112] = (_SHORT, 1, struct.pack(">H", orientation if orientation in range(1, 9) else 1))
    if meta.get("camera"):
        ifd0[0x0110] = _ascii(meta["camera"])
    if meta.get("make"):
        ifd0[0x010F] = _ascii(meta["make"])
    if isinstance(meta.get("rating"), int) and 0 <= meta["rating"] <= 5:
        ifd0[0x4746] = (_SHORT, 1, struct.pack(">H", meta["rating"]))
    ifd0[0x0131] = _ascii("phototrove (recovered from a Lightroom preview)")
    local = exif_datetime(meta.get("taken_local") or meta.get("taken_at"))
    if local:
        exif[0x9003] = _ascii(local)
        exif[0x9004] = _ascii(local)
        if meta.get("utc_offset"):
            exif[0x9011] = _ascii(meta["utc_offset"])
    if meta.get("lens"):
        exif[0xA434] = _ascii(meta["lens"])
    if _positive(meta.get("shutter")):
        exif[0x829A] = _exposure(meta["shutter"])
    if _positive(meta.get("aperture")):
        exif[0x829D] = _rational([round(meta["aperture"], 1)], 10)
    if _positive(meta.get("focal_length")):
        exif[0x920A] = _rational([round(meta["focal_length"], 2)], 100)
    if _positive(meta.get("iso")) and meta["iso"] < 65536:
        exif[0x8827] = (_SHORT, 1, struct.pack(">H", int(meta["iso"])))
    exif[0xA001] = (_SHORT, 1, struct.pack(">H", 0xFFFF))  # uncalibrated: the ICC profile says Adobe RGB
    for tag, key in ((0xA002, "width"), (0xA003, "height")):
        if isinstance(meta.get(key), int) and meta[key] > 0:
            exif[tag] = (_LONG, 1, struct.pack(">I", meta[key]))
    lat, lon = meta.get("lat"), meta.get("lon")
    if isinstance(lat, (int, float)) and isinstance(lon, (int, float)):
        gps[0x0000] = (_BYTE, 4, bytes((2, 3, 0, 0)))
        gps[0x0001] = _ascii("S" if lat < 0 else "N")
        gps[0x0002] = _rational(_dms(abs(lat)))
        gps[0x0003] = _ascii("W" if lon < 0 else "E")
        gps[0x0004] = _rational(_dms(abs(lon)))
        if isinstance(meta.get("alt"), (int, float)):
            gps[0x0005] = (_BYTE, 1, bytes((1 if meta["alt"] < 0 else 0,)))
            gps[0x0006] = _rational([abs(meta["alt"])], 100)
    # layout: header(8) | IFD0 | Exif IFD | GPS IFD, pointers filled in once sizes are known
    ifd0[0x8769] = (_LONG, 1, b"\x00" * 4)
    if gps:
        ifd0[0x8825] = (_LONG, 1, b"\x00" * 4)
    exif_at = 8 + _ifd_size(ifd0)
    gps_at = exif_at + _ifd_size(exif)
    ifd0[0x8769] = (_LONG, 1, struct.pack(">I", exif_at))
    if gps:
        ifd0[0x8825] = (_LONG, 1, struct.pack(">I", gps_at))
    parts = [b"MM\x00\x2a\x00\x00\x00\x08"]
    for entries, at in ((ifd0, 8), (exif, exif_at), (gps, gps_at)):
        if entries:
            directory, data = _ifd(entries, at)
            parts += [directory, data]
    return b"".join(parts)


def _positive(v) -> bool:
    return isinstance(v, (int, float)) and v > 0


def _dms(value: float) -> list[float]:
    d = int(value)
    m = int((value - d) * 60)
    s = round(((value - d) * 60 - m) * 60, 4)
    return [d, m, s]


_ISO_LOCAL = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)")


def exif_datetime(iso: str | None) -> str | None:
    """'2019-07-14T16:32:10[.5][Z|+02:00]' -> '2019:07:14 16:32:10' (the wall-clock part)."""
    m = _ISO_LOCAL.match(iso or "")
    if not m:
        return None
    y, mo, d, h, mi, s = m.groups()
    return f"{y}:{mo}:{d} {h}:{mi}:{s}"


# -- XMP ------------------------------------------------------------------------------------------
_LABELS = {"red", "yellow", "green", "blue", "purple"}


def build_xmp(meta: dict) -> bytes:
    """An XMP packet with what Lightroom knew: keywords, caption, title, rating, colour label,
    pick, date, original file name."""
    props, blocks = [], []
    if isinstance(meta.get("rating"), int):
        rating = -1 if meta.get("pick") == -1 else meta["rating"]  # XMP rating -1 = rejected
        props.append(f'xmp:Rating="{rating}"')
    elif meta.get("pick") == -1:
        props.append('xmp:Rating="-1"')
    if meta.get("color_label"):
        props.append(f'xmp:Label={_attr(meta["color_label"])}')
    local = meta.get("taken_local") or meta.get("taken_at")
    if local:
        props.append(f'photoshop:DateCreated={_attr(local + (meta.get("utc_offset") or ""))}')
    if meta.get("original_name"):
        props.append(f'xmpMM:PreservedFileName={_attr(meta["original_name"])}')
    if meta.get("keywords"):
        items = "".join(f"<rdf:li>{escape(k)}</rdf:li>" for k in meta["keywords"])
        blocks.append(f"<dc:subject><rdf:Bag>{items}</rdf:Bag></dc:subject>")
    if meta.get("people"):
        items = "".join(f"<rdf:li>{escape(k)}</rdf:li>" for k in meta["people"])
        blocks.append(f"<Iptc4xmpExt:PersonInImage><rdf:Bag>{items}</rdf:Bag></Iptc4xmpExt:PersonInImage>")
    for key, tag in (("description", "dc:description"), ("title", "dc:title")):
        if meta.get(key):
            blocks.append(f'<{tag}><rdf:Alt><rdf:li xml:lang="x-default">{escape(meta[key])}</rdf:li>'
                          f"</rdf:Alt></{tag}>")
    attrs = "".join("\n    " + p for p in props)
    packet = (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        '<rdf:Description rdf:about=""\n'
        '    xmlns:xmp="http://ns.adobe.com/xap/1.0/"\n'
        '    xmlns:dc="http://purl.org/dc/elements/1.1/"\n'
        '    xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/"\n'
        '    xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/"\n'
        '    xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"'
        f"{attrs}>\n" + "\n".join(blocks) + "\n</rdf:Description>\n</rdf:RDF>\n</x:xmpmeta>\n"
        '<?xpacket end="w"?>'
    )
    data = packet.encode("utf-8")
    if len(data) + len(XMP_HEADER) > MAX_SEGMENT:  # absurd keyword lists: keep what fits
        raise JpegError("XMP packet larger than one JPEG segment")
    return data


def escape(text: str) -> str:
    """XML character data (xml.sax.saxutils would import urllib and http: 0.1 s at start-up)."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _attr(value: str) -> str:
    return '"' + escape(value).replace('"', "&quot;") + '"'


# -- ICC: an Adobe RGB (1998)-compatible matrix/TRC profile, ICC v2 -------------------------------
# Primaries and white point from the Adobe RGB (1998) specification; gamma 563/256 (2.19921875);
# colorants adapted from D65 to the D50 profile connection space with the Bradford transform.
_PRIMARIES = ((0.64, 0.33), (0.21, 0.71), (0.15, 0.06))
_D65 = (0.3127, 0.3290)
_D50_XYZ = (0.9642, 1.0, 0.8249)
_BRADFORD = ((0.8951, 0.2664, -0.1614), (-0.7502, 1.7135, 0.0367), (0.0389, -0.0685, 1.0296))


def _mat_mul(a, b):
    return [[sum(a[i][k] * b[k][j] for k in range(3)) for j in range(3)] for i in range(3)]


def _mat_vec(a, v):
    return [sum(a[i][k] * v[k] for k in range(3)) for i in range(3)]


def _mat_inv(m):
    (a, b, c), (d, e, f), (g, h, i) = m
    det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g)
    return [[(e * i - f * h) / det, (c * h - b * i) / det, (b * f - c * e) / det],
            [(f * g - d * i) / det, (a * i - c * g) / det, (c * d - a * f) / det],
            [(d * h - e * g) / det, (b * g - a * h) / det, (a * e - b * d) / det]]


def adobe_rgb_colorants() -> list[list[float]]:
    """Columns r, g, b of the RGB -> XYZ(D50) matrix (rows X, Y, Z)."""
    xyz = [[x / y, 1.0, (1 - x - y) / y] for x, y in _PRIMARIES]  # XYZ of each primary, Y = 1
    p = [[xyz[j][i] for j in range(3)] for i in range(3)]
    wx, wy = _D65
    white = [wx / wy, 1.0, (1 - wx - wy) / wy]
    s = _mat_vec(_mat_inv(p), white)
    m = [[p[i][j] * s[j] for j in range(3)] for i in range(3)]  # RGB -> XYZ(D65)
    src = _mat_vec(_BRADFORD, white)
    dst = _mat_vec(_BRADFORD, list(_D50_XYZ))
    scale = [[dst[i] / src[i] if i == j else 0.0 for j in range(3)] for i in range(3)]
    adapt = _mat_mul(_mat_inv(_BRADFORD), _mat_mul(scale, _BRADFORD))
    return _mat_mul(adapt, m)


def _s15f16(v: float) -> bytes:
    return struct.pack(">i", round(v * 65536))


def _xyz_tag(x: float, y: float, z: float) -> bytes:
    return b"XYZ \x00\x00\x00\x00" + _s15f16(x) + _s15f16(y) + _s15f16(z)


def _desc_tag(text: str) -> bytes:
    ascii_ = text.encode("ascii") + b"\x00"
    return (b"desc\x00\x00\x00\x00" + struct.pack(">I", len(ascii_)) + ascii_
            + struct.pack(">II", 0, 0) + struct.pack(">HB", 0, 0) + b"\x00" * 67)


@lru_cache(maxsize=1)
def adobe_rgb_icc() -> bytes:
    m = adobe_rgb_colorants()
    curve = b"curv\x00\x00\x00\x00" + struct.pack(">I", 1) + struct.pack(">H", 563)  # u8Fixed8 gamma
    tags = [
        (b"desc", _desc_tag("Compatible with Adobe RGB (1998)")),
        (b"cprt", b"text\x00\x00\x00\x00" + b"No copyright, use freely\x00"),
        (b"wtpt", _xyz_tag(*_D50_XYZ)),
        (b"rXYZ", _xyz_tag(m[0][0], m[1][0], m[2][0])),
        (b"gXYZ", _xyz_tag(m[0][1], m[1][1], m[2][1])),
        (b"bXYZ", _xyz_tag(m[0][2], m[1][2], m[2][2])),
        (b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve),
    ]
    table_size = 4 + 12 * len(tags)
    offset = 128 + table_size
    table, data, placed = [struct.pack(">I", len(tags))], [], {}
    for sig, body in tags:
        if body not in placed:  # the three TRCs share one curve, as ICC allows
            offset += -offset % 4
            placed[body] = offset
            data.append((offset, body))
            offset += len(body)
        table.append(sig + struct.pack(">II", placed[body], len(body)))
    size = offset + (-offset % 4)
    out = bytearray(size)
    header = (struct.pack(">I", size) + b"\x00\x00\x00\x00" + bytes((2, 0x10, 0, 0)) + b"mntrRGB XYZ "
              + struct.pack(">6H", 2000, 1, 1, 0, 0, 0) + b"acsp" + b"\x00" * 4 + b"\x00" * 4
              + b"\x00" * 4 + b"\x00" * 4 + b"\x00" * 8 + struct.pack(">I", 0)
              + _s15f16(_D50_XYZ[0]) + _s15f16(_D50_XYZ[1]) + _s15f16(_D50_XYZ[2]) + b"\x00" * 4)
    out[:len(header)] = header
    t = b"".join(table)
    out[128:128 + len(t)] = t
    for at, body in data:
        out[at:at + len(body)] = body
    return bytes(out)
