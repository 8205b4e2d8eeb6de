"""What a file is by its first bytes, for files whose name does not say (no extension, a clipped
one, `.MV`): a photo, a camera RAW, a video, or something else, said in words.

Only signatures that cannot be mistaken are taken: a two-byte `BM` must also carry a known
BITMAPINFOHEADER size, an MPEG transport stream must repeat its sync byte at packet boundaries, a
TIFF-structured file is a RAW only when its first directory says so (DNG version, a reduced-size
first image with a maker's name).
"""
from __future__ import annotations

import struct

HEAD_BYTES = 4096   # what sniff() wants to see of a file

_HEIF = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs"}
_AVIF = {b"avif", b"avis"}
_AUDIO = {b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "}
_OTHER = (  # (signature at offset 0, what it is): said to the user for what is skipped
    (b"%PDF", "a PDF document"), (b"PK\x03\x04", "a zip archive"), (b"\x1f\x8b", "a gzip file"),
    (b"Rar!", "a RAR archive"), (b"7z\xbc\xaf", "a 7-Zip archive"), (b"ID3", "audio (MP3)"),
    (b"OggS", "audio or video (Ogg)"), (b"fLaC", "audio (FLAC)"), (b"8BPS", "a Photoshop document"),
    (b"SQLite format 3\x00", "an SQLite database"), (b"\xd0\xcf\x11\xe0", "an Office document"),
    (b"BEGIN:VCARD", "a contact card"), (b"BEGIN:VCALENDAR", "a calendar"),
)


def sniff(head: bytes) -> tuple[str | None, str]:
    """(media, format) for a photo ('image'), camera RAW ('raw') or video ('video'); else
    (None, what the bytes look like: 'an empty file', 'a PDF document', 'text', ...)."""
    if not head:
        return None, "an empty file"
    h = head
    if h[:3] == b"\xff\xd8\xff":
        return "image", "jpeg"
    if h[:8] == b"\x89PNG\r\n\x1a\n":
        return "image", "png"
    if h[:6] in (b"GIF87a", b"GIF89a"):
        return "image", "gif"
    if h[:4] == b"RIFF" and len(h) >= 12:
        kind = h[8:12]
        if kind == b"WEBP":
            return "image", "webp"
        if kind in (b"AVI ", b"AVIX"):
            return "video", "avi"
        return None, "audio (WAV)" if kind == b"WAVE" else "a RIFF file"
    if h[:2] == b"BM" and len(h) >= 18 and struct.unpack_from("<I", h, 14)[0] in (12, 40, 52, 56, 64, 108, 124):
        return "image", "bmp"
    if len(h) >= 12 and h[4:8] == b"ftyp":
        return _iso_bmff(h)
    if h[:4] in (b"II*\x00", b"MM\x00*", b"IIRO", b"IIRS", b"MMOR", b"IIU\x00"):
        return _tiff_like(h)
    if h[:16] == b"FUJIFILMCCD-RAW ":
        return "raw", "raf"
    if h[:4] == b"FOVb":
        return "raw", "x3f"
    if h[:4] == b"\x00MRM":
        return "raw", "mrw"
    if h[:2] == b"II" and h[6:14] == b"HEAPCCDR":
        return "raw", "crw"
    if h[:4] == b"\x1a\x45\xdf\xa3":
        return "video", "webm" if b"webm" in h[:64] else "mkv"
    if h[:8] == b"\x30\x26\xb2\x75\x8e\x66\xcf\x11":
        return "video", "wmv"
    if h[:4] in (b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3"):
        return "video", "mpg"
    if h[:3] == b"FLV":
        return "video", "flv"
    for start, fmt in ((0, "mts"), (4, "m2ts")):   # MPEG-TS: a sync byte every 188 (192) bytes
        step = 188 if start == 0 else 192
        if len(h) >= start + 3 * step and all(h[start + i * step] == 0x47 for i in range(3)):
            return "video", fmt
    if h[:2] == b"\xff\x0a" or h[:12] == b"\x00\x00\x00\x0cJXL \r\n\x87\n":
        return "image", "jxl"
    for sig, what in _OTHER:
        if h.startswith(sig):
            return None, what
    return None, _text_or_not(h)


def _iso_bmff(h: bytes) -> tuple[str | None, str]:
    size = struct.unpack_from(">I", h, 0)[0]
    major = h[8:12]
    brands = {major} | {h[i:i + 4] for i in range(16, min(max(size, 16), len(h)) - 3, 4)}
    if major == b"crx ":
        return "raw", "cr3"
    if brands & _AVIF and not (major in _HEIF):
        return "image", "avif"
    if brands & _HEIF or major in (b"mif1", b"msf1"):
        return "image", "heif"
    if major in _AUDIO:
        return None, "audio (M4A)"
    if major == b"qt  ":
        return "video", "mov"
    if major.startswith((b"3gp", b"3g2")):
        return "video", "3gp"
    return "video", "mp4"


def _tiff_like(h: bytes) -> tuple[str | None, str]:
    """TIFF-structured: a RAW by its own signature or by what its first directory holds."""
    if h[:4] in (b"IIRO", b"IIRS", b"MMOR"):
        return "raw", "orf"
    if h[:4] == b"IIU\x00":
        return "raw", "rw2"
    if h[8:10] == b"CR":
        return "raw", "cr2"
    tags = _first_ifd(h)
    if 0xC612 in tags:                       # DNGVersion
        return "raw", "dng"
    if tags.get(0x00FE) == 1 and 0x010F in tags:  # a reduced-size first image, with a maker: a RAW
        return "raw", "raw"
    return "image", "tiff"


def _first_ifd(h: bytes) -> dict[int, int | None]:
    """Tag -> its first SHORT/LONG value (None for other types) of IFD0, from the head only."""
    end = "<" if h[:2] == b"II" else ">"
    try:
        off = struct.unpack_from(end + "I", h, 4)[0]
        count = struct.unpack_from(end + "H", h, off)[0]
    except struct.error:
        return {}
    out: dict[int, int | None] = {}
    for i in range(min(count, 512)):
        at = off + 2 + 12 * i
        if at + 12 > len(h):
            break
        tag, typ = struct.unpack_from(end + "HH", h, at)
        out[tag] = (struct.unpack_from(end + "H", h, at + 8)[0] if typ == 3
                    else struct.unpack_from(end + "I", h, at + 8)[0] if typ == 4 else None)
    return out


def _text_or_not(h: bytes) -> str:
    sample = h[:1024]
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.start < len(sample) - 4:   # not just a character cut at the sample's end
            return "unrecognised content"
        text = sample[:e.start].decode("utf-8")
    if any(c < " " and c not in "\t\r\n\f" for c in text):
        return "unrecognised content"
    low = text.lstrip().lower()
    if low.startswith(("<!doctype html", "<html")):
        return "an HTML page"
    if low.startswith(("{", "[")):
        return "JSON"
    if low.startswith("<?xml") or low.startswith("<x:xmpmeta"):
        return "XML"
    return "text"
