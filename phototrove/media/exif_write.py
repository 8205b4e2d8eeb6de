"""Writing EXIF: a TIFF-structured block (big-endian) from catalog metadata keys."""
from __future__ import annotations

import re
import struct

_BYTE, _ASCII, _SHORT, _LONG, _RATIONAL, _UNDEFINED = 1, 2, 3, 4, 5, 7


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
