"""probe_raw: which kind of RAW the bytes are (by their signature), handed to that format's reader;
and the errors for a file that is empty, cut short, or not a RAW at all."""
from __future__ import annotations

from ..kinds import MediaError
from ..tiff import header
from .cr3 import _cr3
from .crw_mrw_x3f import _crw, _mrw, _x3f
from .info import RawInfo
from .raf import _raf
from .reader import _File, _Short
from .tiff_based import _tiff_raw


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
    from ..sniff import sniff

    media, what = sniff(f.get(0, 4096))
    what = f"a {what.upper()} image" if media == "image" else f"a {what.upper()} video" if media == "video" else what
    raise MediaError("not-an-image", f"not a camera RAW ({what})")


def _raw_prefix(head: bytes) -> bool:
    """A short file that begins like a RAW: cut, rather than something else."""
    sigs = (b"II*\x00", b"MM\x00*", b"IIRO", b"IIRS", b"MMOR", b"IIU\x00", b"FUJIFILMCCD-RAW ", b"\x00MRM", b"FOVb")
    return bool(head) and any(s.startswith(head[:len(s)]) or head.startswith(s) for s in sigs)
