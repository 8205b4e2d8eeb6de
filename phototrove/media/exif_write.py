"""Writing EXIF: a TIFF-structured block (big-endian) from catalog metadata keys, valid by Exif 2.31
for a JPEG (checked with `exiftool -validate`)."""
from __future__ import annotations

import math
import re
import struct
from datetime import datetime, timedelta
from fractions import Fraction
from functools import lru_cache

from .exif import offset_text, utc_offset

_BYTE, _ASCII, _SHORT, _LONG, _RATIONAL, _UNDEFINED = 1, 2, 3, 4, 5, 7
_U32 = 0xFFFFFFFF


def _ascii(text: str) -> tuple[int, int, bytes]:
    # a NUL would end the string early; a lone surrogate cannot be encoded
    raw = str(text).replace("\x00", "").encode("utf-8", "replace") + b"\x00"
    return _ASCII, len(raw), raw


def _rational(values: list[float], denominator: int = 10000) -> tuple[int, int, bytes]:
    """Unsigned rationals with a fixed denominator (exact for the precisions EXIF readers show)."""
    raw = b"".join(struct.pack(">II", round(v * denominator), denominator) for v in values)
    return _RATIONAL, len(values), raw


# Standard shutter speeds in third stops, 1/32000 s .. 30 s, as cameras label them; entry i sits at
# the exact APEX position 2**((i - 45) / 3) s (so 1/250 is 2**-8 = 1/256 "really").
_NOMINAL = tuple(Fraction(s) for s in (
    "1/32000 1/25000 1/20000 1/16000 1/13000 1/10000 1/8000 1/6400 1/5000 1/4000 1/3200 1/2500 1/2000 "
    "1/1600 1/1250 1/1000 1/800 1/640 1/500 1/400 1/320 1/250 1/200 1/160 1/125 1/100 1/80 1/60 1/50 1/40 "
    "1/30 1/25 1/20 1/15 1/13 1/10 1/8 1/6 1/5 1/4 1/3 2/5 1/2 3/5 4/5 1 13/10 8/5 2 5/2 16/5 4 5 6 8 10 13 "
    "15 20 25 30").split())
# 2%: wide enough for Lightroom's 6-digit rounding (1/6400 arrives as 0.000156), narrow enough that a
# phone's 1/121 stays 1/121 (1/125 is 3% away)
_SNAP = math.log(1.02)
# (speed, log of its label, log of its exact APEX position), computed once: this runs per photo
_SPEEDS = tuple((nominal, math.log(nominal), (i - 45) / 3 * math.log(2)) for i, nominal in enumerate(_NOMINAL))


@lru_cache(maxsize=1024)   # (a catalog holds a few dozen distinct speeds: each is worked out once)
def exposure_fraction(seconds: float) -> Fraction | None:
    """The exposure time as a photographer reads it: a standard speed when the value is within 2% of
    its label or of its exact APEX position (Tv = 5/3 is the camera's 1/3 s; so a half-stop camera's
    16 s, Tv = -4 exactly, reads as 15 s, the same stop), else 1/N below one
    second when that is the value (a phone's 1/121), else the nearest fraction with a denominator
    of at most 1000. None when it does not fit a 32-bit rational."""
    if not (isinstance(seconds, (int, float)) and 0 < seconds < _U32):
        return None
    here = math.log(seconds)
    for nominal, labelled, exact in _SPEEDS:
        if abs(here - labelled) <= _SNAP or abs(here - exact) <= _SNAP:
            return nominal
    if seconds < 1:
        n = round(1 / seconds)
        if 2 <= n <= _U32 and abs(1 / n - seconds) <= max(5e-7, seconds * 1e-3):
            return Fraction(1, n)
    f = Fraction(seconds).limit_denominator(1000)
    return f if f > 0 and f.numerator <= _U32 else None


def _exposure(seconds: float) -> tuple[int, int, bytes] | None:
    f = exposure_fraction(seconds)
    return (_RATIONAL, 1, struct.pack(">II", f.numerator, f.denominator)) if f is not None else None


# Make as the cameras themselves write it, for a model that starts with the vendor's name (or with
# a model family only one vendor uses). Anything else gets no Make rather than a guess.
_MAKES = [(re.compile(p, re.IGNORECASE), make) for p, make in (
    (r"canon\b", "Canon"), (r"nikon\b", "NIKON CORPORATION"), (r"sony\b", "SONY"),
    (r"(ilce|ilca|nex)-|(dslr|slt)-a\d", "SONY"), (r"fujifilm\b", "FUJIFILM"),
    (r"olympus\b", "OLYMPUS CORPORATION"), (r"om system\b", "OM Digital Solutions"), (r"panasonic\b", "Panasonic"),
    (r"pentax\b", "PENTAX"), (r"ricoh\b", "RICOH"), (r"leica\b", "Leica Camera AG"), (r"hasselblad\b", "Hasselblad"),
    (r"sigma\b", "SIGMA"), (r"kodak\b", "EASTMAN KODAK COMPANY"), (r"gopro\b", "GoPro"), (r"dji\b", "DJI"),
    (r"apple\b|iphone\b|ipad\b", "Apple"), (r"google\b|pixel \d", "Google"), (r"samsung\b", "samsung"),
    (r"huawei\b", "HUAWEI"), (r"xiaomi\b", "Xiaomi"), (r"oneplus\b", "OnePlus"),
)]


@lru_cache(maxsize=1024)
def derive_make(model: str | None) -> str | None:
    """'Canon EOS 5D Mark III' -> 'Canon', 'NIKON D850' -> 'NIKON CORPORATION', 'ILCE-7M3' -> 'SONY'."""
    if not isinstance(model, str):
        return None
    model = model.strip()
    return next((make for pattern, make in _MAKES if pattern.match(model)), None)


def _ifd(entries: dict[int, tuple[int, int, bytes]], offset: int) -> tuple[bytes, bytes]:
    """One IFD placed at `offset` (from the TIFF header): (directory bytes, its data area)."""
    tags = sorted(entries)
    data_at = offset + 2 + 12 * len(tags) + 4
    fmt, values, data = [">H"], [len(tags)], []
    for tag in tags:
        typ, count, raw = entries[tag]
        if len(raw) <= 4:
            fmt.append("HHI4s")   # (4s pads with NULs)
            values += (tag, typ, count, raw)
        else:
            fmt.append("HHII")
            values += (tag, typ, count, data_at)
            if len(raw) & 1:
                raw += b"\x00"
            data.append(raw)
            data_at += len(raw)
    fmt.append("I")   # no next IFD
    values.append(0)
    return _pack("".join(fmt), *values), b"".join(data)


def _ifd_size(entries: dict) -> int:
    size = 2 + 12 * len(entries) + 4
    for _typ, _count, raw in entries.values():
        if len(raw) > 4:
            size += len(raw) + (len(raw) & 1)
    return size


_pack = struct.pack
# the entries every block has (what Exif requires of a JPEG: resolution, 72 dpi as no physical size
# is known; centred chroma, as JPEG encoders subsample; Y Cb Cr components; Flashpix 1.0), built once
_IFD0_FIXED = {
    0x011A: (_RATIONAL, 1, _pack(">II", 72, 1)),
    0x011B: (_RATIONAL, 1, _pack(">II", 72, 1)),
    0x0128: (_SHORT, 1, _pack(">H", 2)),
    0x0213: (_SHORT, 1, _pack(">H", 1)),
}
_ORIENTATIONS = {o: (_SHORT, 1, _pack(">H", o)) for o in range(1, 9)}
_EXIF_FIXED = {
    0x9101: (_UNDEFINED, 4, bytes((1, 2, 3, 0))),
    0xA000: (_UNDEFINED, 4, b"0100"),
    # Adobe RGB the way cameras and DCF 2.0 say it: ColorSpace uncalibrated + InteropIndex R03
    0xA001: (_SHORT, 1, _pack(">H", 0xFFFF)),
}
_SRGB = (_SHORT, 1, _pack(">H", 1))
_INTEROP = {0x0001: _ascii("R03"), 0x0002: (_UNDEFINED, 4, b"0100")}
_INTEROP_SRGB = {0x0001: _ascii("R98"), 0x0002: (_UNDEFINED, 4, b"0100")}
_GPS_VERSION = (_BYTE, 4, bytes((2, 3, 0, 0)))
_POINTER = (_LONG, 1, b"\x00" * 4)


def capture_clock(meta: dict) -> tuple[str | None, str | None]:
    """(wall clock 'YYYY:MM:DD HH:MM:SS', offset '+HH:MM' or None) of the capture: the local time
    with its zone when known; with only a UTC instant, that instant at +00:00."""
    local = exif_datetime(meta.get("taken_local") or meta.get("taken_at"))
    if local:
        delta = utc_offset(meta.get("utc_offset"))
        return local, offset_text(delta) if delta is not None else None
    utc = _parse_utc(meta.get("taken_utc"))
    if utc is not None:
        return f"{utc.year:04d}:{utc:%m:%d %H:%M:%S}", "+00:00"   # (%Y does not pad years before 1000)
    return None, None


def _parse_utc(text) -> datetime | None:
    """An ISO instant ('...Z', with an offset, or without: it is called UTC) as a naive UTC datetime."""
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00")) if isinstance(text, str) else None
        if dt is not None and dt.tzinfo is not None:
            dt = (dt - dt.utcoffset()).replace(tzinfo=None)
    except (ValueError, OverflowError):
        return None
    return dt


RECOVERED = "phototrove (recovered from a Lightroom preview)"


def build_exif(meta: dict, software: str = RECOVERED) -> bytes:
    """TIFF-structured EXIF from catalog metadata keys: orientation, taken_local/taken_at (+ utc_offset)
    or taken_utc, lat/lon/alt, make, camera, lens, focal_length, aperture (f-number), shutter (seconds),
    iso, width/height (of the stored image, before orientation), color_space ("sRGB"; else Adobe
    RGB, as Lightroom previews are). The rating goes in XMP (xmp:Rating): the IFD0 Rating tag is
    Microsoft's, not EXIF. `software` names what wrote the block (IFD0 Software)."""
    ifd0 = dict(_IFD0_FIXED)
    exif = dict(_EXIF_FIXED)
    interop = _INTEROP
    if meta.get("color_space") == "sRGB":   # pixels developed to sRGB (a Smart Preview): ColorSpace 1, R98
        exif[0xA001] = _SRGB
        interop = _INTEROP_SRGB
    gps: dict[int, tuple[int, int, bytes]] = {}
    orientation = meta.get("orientation")
    ifd0[0x0112] = _ORIENTATIONS.get(orientation, _ORIENTATIONS[1]) if type(orientation) is int else _ORIENTATIONS[1]
    if meta.get("camera"):
        ifd0[0x0110] = _ascii(meta["camera"])
    make = meta.get("make") or derive_make(meta.get("camera"))
    if make:
        ifd0[0x010F] = _ascii(make)
    ifd0[0x0131] = _ascii(software)
    local, offset = capture_clock(meta)
    if local:
        ifd0[0x0132] = _ascii(local)   # nothing was changed since: DateTime is the capture too
        exif[0x9003] = _ascii(local)
        exif[0x9004] = _ascii(local)
        if offset:
            for tag in (0x9010, 0x9011, 0x9012):   # OffsetTime, ...Original, ...Digitized
                exif[tag] = _ascii(offset)
    # Exif 2.31 introduced the OffsetTime tags; 2.30 covers everything else written here (LensModel)
    exif[0x9000] = (_UNDEFINED, 4, b"0231" if 0x9011 in exif else b"0230")
    if meta.get("lens"):
        exif[0xA434] = _ascii(meta["lens"])
    if _positive(meta.get("shutter")):
        entry = _exposure(meta["shutter"])
        if entry:
            exif[0x829A] = entry
    if _positive(meta.get("aperture")):
        exif[0x829D] = _rational([round(meta["aperture"], 1)], 10)
    if _positive(meta.get("focal_length")):
        exif[0x920A] = _rational([round(meta["focal_length"], 2)], 100)
    if _positive(meta.get("iso")) and meta["iso"] < 65536:
        exif[0x8827] = (_SHORT, 1, struct.pack(">H", int(meta["iso"])))
    for tag, key in ((0xA002, "width"), (0xA003, "height")):
        if _dimension(meta.get(key)):
            exif[tag] = (_LONG, 1, struct.pack(">I", meta[key]))
    lat, lon = meta.get("lat"), meta.get("lon")
    if _coordinate(lat, 90) and _coordinate(lon, 180):
        gps[0x0000] = _GPS_VERSION
        gps[0x0001] = _ascii("S" if lat < 0 else "N")
        gps[0x0002] = _rational(_dms(abs(lat)))
        gps[0x0003] = _ascii("W" if lon < 0 else "E")
        gps[0x0004] = _rational(_dms(abs(lon)))
        if isinstance(meta.get("alt"), (int, float)) and abs(meta["alt"]) < 1e6:
            gps[0x0005] = (_BYTE, 1, bytes((1 if meta["alt"] < 0 else 0,)))
            gps[0x0006] = _rational([abs(meta["alt"])], 100)
    # layout: header(8) | IFD0 | Exif IFD | Interop IFD | GPS IFD; pointers are fixed-size, so the
    # sizes are known before their values
    ifd0[0x8769] = exif[0xA005] = _POINTER
    if gps:
        ifd0[0x8825] = _POINTER
    exif_at = 8 + _ifd_size(ifd0)
    interop_at = exif_at + _ifd_size(exif)
    gps_at = interop_at + _ifd_size(interop)
    ifd0[0x8769] = (_LONG, 1, struct.pack(">I", exif_at))
    exif[0xA005] = (_LONG, 1, struct.pack(">I", interop_at))
    if gps:
        ifd0[0x8825] = (_LONG, 1, struct.pack(">I", gps_at))
    parts = [b"MM\x00\x2a\x00\x00\x00\x08"]
    for entries, at in ((ifd0, 8), (exif, exif_at), (interop, interop_at), (gps, gps_at)):
        if entries:
            parts += _ifd(entries, at)
    return b"".join(parts)


def _positive(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < _U32


def _dimension(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and 0 < v <= _U32


def _coordinate(v, limit: float) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and abs(v) <= limit


def _dms(value: float) -> list[float]:
    d = int(value)
    m = int((value - d) * 60)
    s = round(((value - d) * 60 - m) * 60, 4)
    if s >= 60:   # 59.99996 rounded up: carry, a seconds value of 60 is out of range
        s, m = 0.0, m + 1
        if m == 60:
            m, d = 0, d + 1
    return [d, m, s]


_ISO_LOCAL = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)")


def exif_datetime(iso: str | None) -> str | None:
    """'2019-07-14T16:32:10[.5][Z|+02:00]' -> '2019:07:14 16:32:10' (the wall-clock part)."""
    m = _ISO_LOCAL.match(iso or "") if isinstance(iso, str) else None
    if not m:
        return None
    try:
        datetime(*map(int, m.groups()))   # no month 13 or 25 o'clock in a written date
    except ValueError:
        return None
    y, mo, d, h, mi, s = m.groups()
    return f"{y}:{mo}:{d} {h}:{mi}:{s}"


def _wall(local: str) -> datetime:
    """'YYYY:MM:DD HH:MM:SS' (as capture_clock gives it) as a datetime, without strptime's cost."""
    return datetime(int(local[0:4]), int(local[5:7]), int(local[8:10]), int(local[11:13]), int(local[14:16]),
                    int(local[17:19]))


def capture_instant(meta: dict) -> float | None:
    """Epoch seconds of the capture when it is known as an instant: the local wall clock minus its
    UTC offset, else the UTC time; None when only a wall clock without zone is known."""
    local, offset = capture_clock(meta)
    try:
        if local is not None and offset is not None:
            wall = _wall(local) - utc_offset(offset)
        else:
            wall = _parse_utc(meta.get("taken_utc"))
        return (wall - datetime(1970, 1, 1)) / timedelta(seconds=1) if wall is not None else None
    except (ValueError, OverflowError):
        return None
