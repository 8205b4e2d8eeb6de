"""Bytes -> what a photo is: format, size as stored and as displayed, completeness, and what the
file says of itself (EXIF; XMP and IPTC), without decoding pixels.

Reading is header-only (Pillow opens lazily; metadata blocks are found by walking the container),
so the read stage costs little more than hashing. Completeness is checked from the container's own
structure (a JPEG's markers, a PNG's chunks, a HEIF's item extents, a TIFF's strips) instead of
decoding every pixel; for a file larger than what is kept in memory, from its head and its tail.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field

from .containers import blocks, heif_brand
from .exif import read_exif
from .jpeg import jpeg_end
from .kinds import MAX_PIXELS, MediaError, collect_warnings, heif_available, pillow_limits
from .tiff import TiffError, header, read_tiff
from .xmp import merge_xmp_iptc, read_iptc, read_xmp


@dataclass
class Probe:
    format: str
    width: int                 # as displayed (the orientation applied)
    height: int
    exif: dict = field(default_factory=dict)   # what the camera wrote (EXIF)
    xmp: dict = field(default_factory=dict)    # what people and their software wrote (XMP, IPTC)
    stored_width: int | None = None            # the pixel grid as stored in the file
    stored_height: int | None = None
    notes: list[str] = field(default_factory=list)
    duration: float | None = None              # a video's, in seconds
    codec: str | None = None                   # a video's
    motion: bool = False                       # a still holding a video (Pixel/Samsung motion photo)
    burst: str | None = None                   # the camera's burst id


def probe_media(media: str, data: bytes | memoryview, *, size: int | None = None, tail: bytes | None = None,
                name: str = "") -> Probe:
    """What the read stage learns of any item: a photo (probe), a camera RAW or a video, by the
    kind its source says it is."""
    if media == "raw":
        return _probe_raw(data, size, name)
    if media == "video":
        from .video import probe_video

        v = probe_video(data, size=size, tail=tail, name=name)
        meta = dict(v.meta)
        xmp_notes: list[str] = []
        xmp = read_xmp(v.xmp, xmp_notes)
        if xmp_notes:
            meta["notes"] = (meta.get("notes", []) + xmp_notes)[:20]
        return Probe(v.format.upper(), v.width or 0, v.height or 0, meta, xmp, v.stored_width, v.stored_height,
                     duration=v.duration, codec=v.codec)
    p = probe(data, size=size, tail=tail)
    if p.format in ("JPEG", "MPO"):
        p.motion = holds_video(data, p)
    p.burst = p.exif.get("burst") or p.xmp.get("burst")
    return p


def _probe_raw(data, size: int | None, name: str) -> Probe:
    from .raw import probe_raw

    info = probe_raw(data, size=size, name=name)
    xmp: dict = {}
    if header(data) is not None:   # TIFF-based: XMP (tag 700) and IPTC beside the EXIF
        found = blocks(data, "TIFF")
        notes: list[str] = []
        xmp = merge_xmp_iptc(read_xmp(found.xmp, notes), read_iptc(found.iptc, notes))
    return Probe(info.format.upper(), info.width or 0, info.height or 0, dict(info.exif), xmp,
                 info.stored_width, info.stored_height, burst=info.exif.get("burst") or xmp.get("burst"))


def ends_in_eoi(data) -> bool:
    """The bytes of a JPEG end in an EOI marker: then the image is complete (whatever follows its
    own EOI is another complete JPEG, e.g. an MPF preview, or nothing), found without the search
    of `jpeg_end`, which costs ~4 ms on 12 MP and holds the GIL all that time. A video appended to
    a JPEG ends in its own boxes (or Samsung's SEFT trailer), not in FF D9."""
    return len(data) >= 4 and data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9"


def holds_video(data, p: Probe) -> bool:
    """A JPEG with a video appended (Google's MotionPhoto/MicroVideo, Samsung's MotionPhoto_Data):
    an MP4 `ftyp` after the image's end, or the XMP saying so."""
    if p.xmp.get("motion_photo"):
        return True
    if ends_in_eoi(data):   # what follows the image, if anything, is another JPEG (an MPF preview)
        return False
    end = jpeg_end(data)
    if end is None:
        return False
    rest = bytes(data[end:end + (1 << 16)])
    i = rest.find(b"ftyp")
    return i >= 4 or b"MotionPhoto_Data" in rest


def probe(data: bytes | memoryview, *, size: int | None = None, tail: bytes | None = None) -> Probe:
    """Format, sizes and metadata of an image held in memory. `data` may be only the head of a
    larger file: then `size` is the file's length and `tail` its last bytes."""
    from PIL import Image, UnidentifiedImageError

    size = len(data) if size is None else size
    if size == 0:
        raise MediaError("empty", "empty file (0 bytes)")
    notes: list[str] = []
    if heif_brand(data) is not None and not heif_available():
        raise MediaError("unsupported", "HEIC/HEIF image: install phototrove[heic] (pillow-heif) to read it")
    heif_available()   # registered for every file, so a HEIF is recognised whatever came before it
    pillow_limits()
    try:
        with collect_warnings() as caught:
            with Image.open(io.BytesIO(data)) as im:
                fmt, (width, height) = im.format or "?", im.size
                turned = type(im).__module__.startswith("pillow_heif")   # libheif applies irot/imir/clap
        notes += caught
    except Image.DecompressionBombError as e:
        raise MediaError("too-large", f"image too large to decode safely ({e})") from None
    except UnidentifiedImageError:
        head = header(data)
        if head is not None and head[1]:
            raise MediaError("unsupported", "unsupported variant: "
                             f"{'little' if head[0] else 'big'}-endian BigTIFF") from None
        if head is not None:
            raise MediaError("corrupt", "damaged TIFF: its directory cannot be decoded (Pillow does not open it)") \
                from None
        raise MediaError("not-an-image", "not an image (unrecognised content)") from None
    except Exception as e:  # Pillow's plugins raise anything on damaged headers
        raise MediaError("corrupt", f"unreadable image: {e}") from None
    if width * height > MAX_PIXELS:
        raise MediaError("too-large", f"image too large to decode safely ({width}x{height} pixels)")
    if width <= 0 or height <= 0:
        raise MediaError("corrupt", f"image has no pixels ({width}x{height})")
    found = blocks(data, fmt)
    if not complete(fmt, data, size, tail, found):
        raise MediaError("truncated", f"truncated {fmt} file ({size} bytes)")
    exif = read_exif(found.exif)
    xmp_notes: list[str] = []
    xmp = merge_xmp_iptc(read_xmp(found.xmp, xmp_notes), read_iptc(found.iptc, xmp_notes))
    notes += found.notes + exif.pop("notes", []) + xmp_notes
    stored = (width, height)
    if fmt == "TIFF":   # Pillow gives a TIFF's size turned by its orientation already: IFD0 says what is stored
        stored = _tiff_size(data) or stored
    turns = found.rotation in (1, 3)
    if fmt in ("HEIF", "AVIF") and turned:   # pillow-heif's size is the displayed one; the file stores ispe
        stored = found.size or ((height, width) if turns else (width, height))
        displayed = (width, height)
    elif fmt in ("HEIF", "AVIF"):            # Pillow's own AVIF reader leaves irot to the viewer
        stored = found.size or (width, height)
        displayed = (height, width) if turns else (width, height)
    else:
        displayed = stored[::-1] if exif.get("orientation") in (5, 6, 7, 8) else stored
    if notes:
        exif["notes"] = notes[:20]
    return Probe(fmt, displayed[0], displayed[1], exif, xmp, stored[0], stored[1])


# -- completeness ---------------------------------------------------------------------------------
def complete(fmt: str, data: bytes | memoryview, size: int, tail: bytes | None, found) -> bool:
    whole = size <= len(data)
    end = (tail or b"")[-(1 << 20):]   # a large file's last bytes
    if fmt in ("JPEG", "MPO"):
        if whole:
            return ends_in_eoi(data) or jpeg_end(data) is not None
        return b"\xff\xd9" in end
    if fmt == "PNG":
        return _png_complete(data) if whole else b"IEND" in end
    if fmt == "GIF":   # the trailer byte, zero padding after it allowed
        return (bytes(data) if whole else end).rstrip(b"\x00").endswith(b";")
    if fmt == "WEBP":
        return size >= 8 + int.from_bytes(bytes(data[4:8]), "little")
    if fmt in ("HEIF", "AVIF"):
        return not found.truncated
    if fmt == "TIFF":
        return _tiff_complete(data, size)
    return True


def _tiff_size(data) -> tuple[int, int] | None:
    try:
        ifd0 = read_tiff(data, sub_ifds=False).ifd("ifd0")
    except TiffError:
        return None
    w, h = ifd0.get(256), ifd0.get(257)
    return (w, h) if isinstance(w, int) and isinstance(h, int) and w > 0 and h > 0 else None


def _png_complete(data) -> bool:
    """Walk the chunks by their lengths to IEND (zero padding or junk after it does not matter)."""
    pos, n = 8, len(data)
    while pos + 8 <= n:
        length = int.from_bytes(bytes(data[pos:pos + 4]), "big")
        if bytes(data[pos + 4:pos + 8]) == b"IEND":
            return True
        pos += 12 + length
    return False


def _tiff_complete(data, size: int) -> bool:
    """Every strip or tile of the first image lies inside the file."""
    try:
        tiff = read_tiff(data, sub_ifds=False)
    except TiffError:
        return True
    ifd0 = tiff.ifd("ifd0")
    for offsets_tag, counts_tag in ((273, 279), (324, 325)):
        offsets, counts = ifd0.get(offsets_tag), ifd0.get(counts_tag)
        if offsets is None or counts is None:
            continue
        offsets = offsets if isinstance(offsets, tuple) else (offsets,)
        counts = counts if isinstance(counts, tuple) else (counts,)
        if any(isinstance(o, int) and isinstance(c, int) and o + c > size for o, c in zip(offsets, counts)):
            return False
    return True
