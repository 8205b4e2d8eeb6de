"""Lightroom Classic preview caches: `.lrprev` files (AgHg sections), the Lightroom 13.3+ layout
(one extension-less JPEG per size), previews.db and root-pixels.db. Readers only; pairing previews
with catalog photos lives in pairing.py, the header's Lua table syntax in luatable.py.

`.lrprev` is a chain of sections, each `AgHg` + u16 header length + 2 flag bytes + u64 data length +
u64 padding length + a NUL-padded name, then data and padding. Sections are found by walking that
chain (never by scanning for JPEG markers), and identified by name: `header` (a Lua-style table),
then `level_1` (smallest) .. `level_N` (largest), each one complete JPEG.
"""
from __future__ import annotations

import os
import re
import sqlite3
import struct
from dataclasses import dataclass, field

from ...media.jpeg import checked_end, jpeg_end, jpeg_size
from ..files import open_fd, open_regular
from ..readonly_db import open_readonly
from .luatable import MAX_HEADER_TEXT, HeaderSyntaxError, parse_header
from .orientation import orientation_code

MAGIC = b"AgHg"
_HEADER_UUID = re.compile(rb'\buuid\s*=\s*"([0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})"')
_UUID_ENTRY = re.compile(_HEADER_UUID.pattern[2:])   # the same without the leading \b: found by its literal
_WORD = frozenset(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_DIM_KEY = {b"height": "height", b"width": "width"}
_LEVEL_ENTRY = re.compile(rb"\{\s*(height|width)\s*=\s*(\d{1,6})\s*,\s*(height|width)\s*=\s*(\d{1,6})\s*,?\s*\}")
PREVIEW_NAME = re.compile(r"^([0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12})-([0-9a-f]{32})\.lrprev$")
LR133_NAME = re.compile(r"^([0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12})-([0-9a-f]{32})_(\d{1,6})$")


class PreviewError(Exception):
    """A preview file that cannot be used at all. `kind` is a short class for error rows."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


# -- .lrprev files ----------------------------------------------------------------------------------
@dataclass
class Level:
    name: str                 # "level_6"; "jpeg" for a Lightroom 13.3+ file
    index: int                # 1 = smallest
    offset: int               # of the JPEG data in the file
    length: int               # bytes available (less than declared when truncated)
    declared: int
    width: int | None = None
    height: int | None = None
    file: str | None = None   # Lightroom 13.3+: each size is its own file

    @property
    def present(self) -> bool:
        return self.length == self.declared and self.length > 0


@dataclass
class Preview:
    path: str
    uuid: str | None
    digest: str | None
    size: int = 0
    mtime_ns: int = 0
    header: dict = field(default_factory=dict)
    levels: list[Level] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    layout: str = "lrprev"     # lrprev | lr13
    quick_levels: list = field(default_factory=list)  # the header's level sizes, read without parsing it

    def present_levels(self) -> list[Level]:
        """Levels whose bytes are all in the file, largest first."""
        return sorted((lv for lv in self.levels if lv.present), key=lambda lv: -lv.index)

    def largest(self) -> Level | None:
        """The first of present_levels() (the earliest listed of the largest index), without sorting:
        levels are listed smallest first, so from the end the first whole one is usually it."""
        best = None
        for lv in reversed(self.levels):
            if (best is None or lv.index >= best.index) and lv.present:
                best = lv
        return best

    def partial(self) -> bool:
        """Larger levels than the one usable were declared (a truncated or damaged file)."""
        best = self.largest()
        declared = len(self.header.get("levels") or []) if isinstance(self.header.get("levels"), list) else 0
        top = max([lv.index for lv in self.levels] + [declared, len(self.quick_levels)])
        return best is None or best.index < top


_LENGTHS = struct.Struct(">QQ")   # a section's data and padding lengths
_NAMES: dict[bytes, str] = {}     # section names as stored -> as read: a handful (header, level_1 ..)


def read_sections(fd: int, file_size: int, first: bytes = b"") -> tuple[list[tuple[str, int, int, int]], list[str]]:
    """Walk the AgHg chain: [(name, data offset, available length, declared length)], warnings.
    One 32-byte pread per section: the JPEG data in between is never read here. `first`: the
    file's first bytes when already read (section headers inside them are not read again)."""
    sections, warnings, pos = [], [], 0
    have = len(first)
    while pos + 24 <= file_size:
        head = first[pos:pos + 32] if pos + 32 <= have else os.pread(fd, 32, pos)
        if head[:4] != MAGIC:
            if head.strip(b"\x00"):
                warnings.append(f"unexpected bytes at offset {pos}; sections after it ignored")
            break
        header_len = int.from_bytes(head[4:6], "big")
        if header_len < 24 or header_len > 4096:
            warnings.append(f"bad section header length {header_len} at offset {pos}")
            break
        if header_len > len(head):
            head = first[pos:pos + header_len] if pos + header_len <= have else os.pread(fd, header_len, pos)
        if len(head) < header_len:
            warnings.append(f"section header at offset {pos} cut short")
            break
        data_len, pad_len = _LENGTHS.unpack_from(head, 8)
        raw = head[24:header_len]
        name = _NAMES.get(raw)
        if name is None:
            name = raw.split(b"\x00", 1)[0].decode("ascii", "replace")
            if len(_NAMES) < 64:
                _NAMES[raw] = name
        start = pos + header_len
        available = data_len if data_len <= file_size - start else max(0, file_size - start)
        sections.append((name, start, available, data_len))
        if available < data_len:
            warnings.append(f"file truncated inside section {name!r} ({available} of {data_len} bytes)")
            break
        pos = start + data_len + pad_len
        pos += -pos % 16 if pos % 16 and file_size > pos else 0
    return sections, warnings


FIRST_READ = 4096   # the first read of a .lrprev: its magic, the header section and (usually) all its text
_LEVEL_NAME = re.compile(r"level_(\d{1,3})")
_UUID_TEXT = re.compile(r"[0-9A-Fa-f-]{36}")
_DIGEST_TEXT = re.compile(r"[0-9a-fA-F]{32}")


def _header_uuid(text: bytes):
    """`_HEADER_UUID.search(text)`, faster: a pattern that starts with a literal is searched for
    that literal, one that starts with \\b is tried at every byte."""
    pos = 0
    while (m := _UUID_ENTRY.search(text, pos)) is not None:
        if m.start() == 0 or text[m.start() - 1] not in _WORD:
            return m
        pos = m.start() + 1
    return None


def read_lrprev(path: str, header: bool = True) -> Preview:
    """Sections, header and levels of one .lrprev (no JPEG bytes are read). PreviewError when the
    file holds no preview at all. With header=False the header table is only parsed when the file
    name does not give the UUID and digest (level sizes then come from the JPEGs themselves)."""
    name = os.path.basename(path)
    m = PREVIEW_NAME.match(name)
    uuid, digest = (m.group(1), m.group(2)) if m else (None, None)
    header = header or m is None
    try:
        fd = open_fd(path)
        try:
            st = os.fstat(fd)
            if st.st_size == 0:
                raise PreviewError("empty", "empty preview file (0 bytes)")
            first = os.pread(fd, FIRST_READ, 0)
            if first[:4] != MAGIC:
                raise PreviewError("not-a-preview", "not a Lightroom preview (no AgHg section)")
            sections, warnings = read_sections(fd, st.st_size, first)
            header_text = None
            for sname, start, available, declared in sections:
                if sname == "header" and available == declared:
                    n = min(available, MAX_HEADER_TEXT)
                    text = first[start:start + n] if start + n <= len(first) else os.pread(fd, n, start)
                    header_text = text.split(b"\x00", 1)[0]
                    break
        finally:
            os.close(fd)
    except OSError as e:
        raise PreviewError(getattr(e, "kind", "unreadable"), f"cannot read: {e.strerror or e}") from None
    if not any(s[0] == "header" for s in sections):
        raise PreviewError("not-a-preview", "AgHg file without a 'header' section "
                                            "(a Photoshop resource, not a Lightroom preview)")
    preview = Preview(path, uuid, digest, st.st_size, st.st_mtime_ns, warnings=warnings)
    if not header:
        # the level sizes the header declares, picked out without parsing it (the table is parsed
        # only when needed): they tell a file cut exactly between two sections from a whole one
        preview.quick_levels = [{_DIM_KEY[k1]: int(v1), _DIM_KEY[k2]: int(v2)}
                                for k1, v1, k2, v2 in _LEVEL_ENTRY.findall(header_text or b"")]
        named = _header_uuid(header_text) if header_text else None
        if named and preview.uuid and named.group(1).decode().upper() != preview.uuid:
            preview.warnings.append(f"the header names UUID {named.group(1).decode().upper()}, the file name "
                                    f"{preview.uuid}: using the file name (as Lightroom does)")
    elif header_text is None:
        preview.warnings.append("header section truncated")
    else:
        try:
            table = parse_header(header_text.decode("utf-8", "replace"))
            pyramid = table.get("pyramid")
            preview.header = pyramid if isinstance(pyramid, dict) else {}
            if not preview.header:
                preview.warnings.append("header has no pyramid table")
        except HeaderSyntaxError as e:
            preview.warnings.append(f"header not understood ({e}); levels read from the sections")
    hdr = preview.header
    if isinstance(hdr.get("uuid"), str) and _UUID_TEXT.fullmatch(hdr["uuid"]):
        if preview.uuid and preview.uuid != hdr["uuid"].upper():
            preview.warnings.append(f"the header names UUID {hdr['uuid'].upper()}, the file name "
                                    f"{preview.uuid}: using the file name (as Lightroom does)")
        preview.uuid = preview.uuid or hdr["uuid"].upper()
    if isinstance(hdr.get("digest"), str) and _DIGEST_TEXT.fullmatch(hdr["digest"]):
        preview.digest = preview.digest or hdr["digest"].lower()
    dims = hdr.get("levels") if isinstance(hdr.get("levels"), list) else preview.quick_levels
    levels = preview.levels
    for sname, start, available, declared in sections:
        lm = _LEVEL_NAME.fullmatch(sname)
        if not lm:
            continue
        index = int(lm.group(1))
        w = h = None
        dim = dims[index - 1] if 1 <= index <= len(dims) else None
        if isinstance(dim, dict):
            w, h = dim.get("width"), dim.get("height")
            w, h = (int(w), int(h)) if isinstance(w, (int, float)) and isinstance(h, (int, float)) else (None, None)
        levels.append(Level(sname, index, start, available, declared, w, h))
    if not preview.levels:
        raise PreviewError("truncated" if warnings else "no-levels",
                           "preview holds no image level" + (f" ({warnings[0]})" if warnings else ""))
    top = max(lv.index for lv in preview.levels)
    declared_levels = len(dims)
    if declared_levels > top and not warnings:
        preview.warnings.append(f"file ends after level_{top} of {declared_levels} (cut between two sections): "
                                f"level_{top + 1} and larger are missing")
    return preview


def read_level(path: str, level: Level) -> bytes:
    """The level's JPEG bytes, checked complete (SOI .. EOI by walking its markers). OSError if
    the file changed or the level is damaged."""
    with open_regular(path) as f:
        f.seek(level.offset)
        data = f.read(level.length)
    if len(data) != level.declared:
        raise OSError(f"{level.name} is truncated ({len(data)} of {level.declared} bytes)")
    end, damage = checked_end(data)
    if damage:
        raise OSError(f"{level.name} is damaged: {damage}")
    if end is None:
        raise OSError(f"{level.name} is not a complete JPEG")
    return data[:end] if end < len(data) else data


def best_jpeg(preview: Preview, largest: int | None = None) -> tuple[Level, bytes, list[str]]:
    """The largest level (up to index `largest`) that is a complete JPEG, with notes on the larger
    ones that were not."""
    notes = []
    for lv in sorted(preview.levels, key=lambda lv: -lv.index):
        if largest is not None and lv.index > largest:
            continue
        try:
            return lv, read_level(preview.path, lv), notes
        except OSError as e:
            notes.append(str(e))
    raise PreviewError("truncated", "no complete level in the preview" + (f" ({notes[0]})" if notes else ""))


# -- Lightroom 13.3+: one JPEG per size, `<UUID>-<digest>_<long side>` ------------------------------
def read_lr13(path: str) -> Preview:
    """One Lightroom 13.3+ preview file as a one-level Preview (sizes from the JPEG itself)."""
    m = LR133_NAME.match(os.path.basename(path))
    try:
        with open_regular(path) as f:
            st = os.fstat(f.fileno())
            head = f.read(65536)
            f.seek(max(0, st.st_size - 64))
            tail = f.read().rstrip(b"\x00")
    except OSError as e:
        raise PreviewError(getattr(e, "kind", "unreadable"), f"cannot read: {e.strerror or e}") from None
    if st.st_size == 0:
        raise PreviewError("empty", "empty preview file (0 bytes)")
    if head[:2] != b"\xff\xd8":
        raise PreviewError("not-a-preview", "not a JPEG preview")
    size = jpeg_size(head) or (None, None)
    # a cheap completeness hint here; the full marker walk happens when the bytes are read
    declared = st.st_size if tail.endswith(b"\xff\xd9") else st.st_size + 1
    lv = Level("jpeg", int(m.group(3)) if m else 0, 0, st.st_size, declared, *size, file=path)
    return Preview(path, m.group(1) if m else None, m.group(2) if m else None, st.st_size, st.st_mtime_ns,
                   levels=[lv], layout="lr13")


def read_preview(path: str, header: bool = True) -> Preview:
    return read_lrprev(path, header) if path.endswith(".lrprev") else read_lr13(path)


def scan_previews(root: str):
    """Every preview file under `root` (both layouts) as paths, sorted; and unreadable folders."""
    found, problems = [], []
    if os.path.isfile(root):
        return [root], problems

    def onerror(e: OSError) -> None:
        problems.append((e.filename or root, e.strerror or str(e)))

    for folder, dirs, files in os.walk(root, onerror=onerror):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not d.endswith("Smart Previews.lrdata"))
        for name in sorted(files):
            if name.endswith(".lrprev") or LR133_NAME.match(name):
                found.append(os.path.join(folder, name))
    return found, problems


# -- previews.db and root-pixels.db ---------------------------------------------------------------
@dataclass
class CacheEntry:
    image_id: int | None
    uuid: str
    digest: str
    orientation: int | None


def read_previews_db(path: str) -> tuple[list[CacheEntry], dict[tuple[str, str], int], list[str]]:
    """ImageCacheEntry rows, Pyramid file time stamps by (uuid, digest), and warnings."""
    entries, stamps, warnings = [], {}, []
    try:
        db = open_readonly(path)
    except sqlite3.Error as e:
        return entries, stamps, [f"{path}: not readable as SQLite ({e})"]
    try:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "ImageCacheEntry" in tables:
            cols = {r[1] for r in db.execute("PRAGMA table_info(ImageCacheEntry)")}
            orient = "orientation" if "orientation" in cols else "NULL"
            image = "imageId" if "imageId" in cols else "NULL"
            for image_id, uuid, digest, o in db.execute(
                    f"SELECT {image}, uuid, digest, {orient} FROM ImageCacheEntry"):
                if isinstance(uuid, str) and isinstance(digest, str):
                    entries.append(CacheEntry(image_id, uuid.upper(), digest.lower(), orientation_code(o)))
        else:
            warnings.append(f"{path}: no ImageCacheEntry table")
        if "Pyramid" in tables:
            cols = {r[1] for r in db.execute("PRAGMA table_info(Pyramid)")}
            if "fileTimeStamp" in cols:
                for uuid, digest, ts in db.execute("SELECT uuid, digest, fileTimeStamp FROM Pyramid"):
                    if isinstance(uuid, str) and isinstance(digest, str) and isinstance(ts, (int, float)):
                        stamps[(uuid.upper(), digest.lower())] = ts
    except sqlite3.Error as e:
        warnings.append(f"{path}: {e}")
    finally:
        db.close()
    return entries, stamps, warnings


def read_root_pixels(path: str, uuid: str, digest: str | None = None) -> bytes | None:
    """The tiny level_1 JPEG Lightroom keeps in root-pixels.db for a preview, if any."""
    try:
        db = open_readonly(path)
        try:
            if digest:
                row = db.execute("SELECT jpegData FROM RootPixels WHERE uuid=? AND digest=?", (uuid, digest)).fetchone()
            else:
                row = db.execute("SELECT jpegData FROM RootPixels WHERE uuid=?", (uuid,)).fetchone()
        finally:
            db.close()
    except sqlite3.Error:
        return None
    data = bytes(row[0]) if row and row[0] else None
    return data if data and jpeg_end(data) else None
