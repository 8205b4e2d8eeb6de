"""Lightroom Classic preview caches: `.lrprev` files (AgHg sections), the Lightroom 13.3+ layout
(one extension-less JPEG per size), previews.db and root-pixels.db. Readers only; pairing previews
with catalog photos lives in lrlibrary.py.

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

from .media import jpeg_end

MAGIC = b"AgHg"
PREVIEW_NAME = re.compile(r"^([0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12})-([0-9a-f]{32})\.lrprev$")
LR133_NAME = re.compile(r"^([0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12})-([0-9a-f]{32})_(\d{1,6})$")
MAX_HEADER_TEXT = 1 << 20


class PreviewError(Exception):
    """A preview file that cannot be used at all. `kind` is a short class for error rows."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


# -- the header table: a tiny Lua data-language parser ---------------------------------------------
class HeaderSyntaxError(ValueError):
    pass


_TOKEN = re.compile(r"""
    (?P<ws>\s+|--\[(?P<ceq>=*)\[.*?\](?P=ceq)\]|--[^\n]*)
  | (?P<longstr>\[(?P<eq>=*)\[.*?\](?P=eq)\])
  | (?P<str>"(?:[^"\\\n]|\\.|\\\n)*"|'(?:[^'\\\n]|\\.|\\\n)*')
  | (?P<num>0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>[{}\[\]=,;-])
""", re.VERBOSE | re.DOTALL)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "f": "\f", "v": "\v",
            "\\": "\\", '"': '"', "'": "'", "\n": "\n"}
MAX_DEPTH = 32


def _unescape(body: str) -> str:
    out, i, n = [], 0, len(body)
    while i < n:
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        i += 1
        if i >= n:
            raise HeaderSyntaxError("string ends in a backslash")
        c = body[i]
        if c in _ESCAPES:
            out.append(_ESCAPES[c])
            i += 1
        elif c.isdigit():
            m = re.match(r"\d{1,3}", body[i:])
            out.append(chr(int(m.group())))
            i += len(m.group())
        elif c == "x" and re.match(r"[0-9a-fA-F]{2}", body[i + 1:i + 3]):
            out.append(chr(int(body[i + 1:i + 3], 16)))
            i += 3
        elif c == "u" and (m := re.match(r"\{([0-9a-fA-F]{1,6})\}", body[i + 1:])):
            out.append(chr(min(int(m.group(1), 16), 0x10FFFF)))
            i += 1 + len(m.group())
        elif c == "z":
            i += 1
            while i < n and body[i].isspace():
                i += 1
        else:
            raise HeaderSyntaxError(f"unknown escape \\{c}")
    return "".join(out)


def _tokens(text: str):
    pos, n = 0, len(text)
    while pos < n:
        m = _TOKEN.match(text, pos)
        if m is None:
            raise HeaderSyntaxError(f"unexpected character {text[pos]!r} at offset {pos}")
        pos = m.end()
        kind = m.lastgroup
        if kind in ("ws", "ceq"):
            continue
        if kind in ("longstr", "eq"):
            raw = m.group("longstr")
            level = len(m.group("eq"))
            body = raw[level + 2:-(level + 2)]
            yield "str", body[1:] if body.startswith("\n") else body
        elif kind == "str":
            yield "str", _unescape(m.group("str")[1:-1])
        elif kind == "num":
            s = m.group("num")
            yield "num", int(s, 16) if s[:2] in ("0x", "0X") else (
                float(s) if any(ch in s for ch in ".eE") else int(s))
        elif kind == "name":
            yield "name", m.group("name")
        else:
            yield "op", m.group("op")
    yield "end", None


class _Parser:
    def __init__(self, text: str):
        self.tokens = list(_tokens(text))
        self.i = 0

    def peek(self, ahead: int = 0):
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def take(self, kind: str, value=None):
        tok = self.peek()
        if tok[0] != kind or (value is not None and tok[1] != value):
            raise HeaderSyntaxError(f"expected {value or kind}, found {tok[1]!r}")
        self.i += 1
        return tok[1]

    def value(self, depth: int):
        kind, val = self.peek()
        if kind == "op" and val == "{":
            return self.table(depth + 1)
        if kind == "op" and val == "-" and self.peek(1)[0] == "num":
            self.i += 2
            return -self.tokens[self.i - 1][1]
        if kind in ("str", "num"):
            self.i += 1
            return val
        if kind == "name" and val in ("true", "false", "nil"):
            self.i += 1
            return {"true": True, "false": False, "nil": None}[val]
        raise HeaderSyntaxError(f"unexpected {val!r}")

    def table(self, depth: int):
        if depth > MAX_DEPTH:
            raise HeaderSyntaxError("tables nested too deeply")
        self.take("op", "{")
        keyed: dict = {}
        positional: list = []
        while not (self.peek() == ("op", "}")):
            kind, val = self.peek()
            if kind == "name" and self.peek(1) == ("op", "="):
                self.i += 2
                keyed[val] = self.value(depth)
            elif kind == "op" and val == "[":
                self.i += 1
                key = self.value(depth)
                self.take("op", "]")
                self.take("op", "=")
                keyed[key] = self.value(depth)
            else:
                positional.append(self.value(depth))
            if self.peek() in (("op", ","), ("op", ";")):
                self.i += 1
            elif self.peek() != ("op", "}"):
                raise HeaderSyntaxError(f"expected , or }} in table, found {self.peek()[1]!r}")
        self.take("op", "}")
        if not keyed:
            return positional
        for n, v in enumerate(positional, 1):
            keyed.setdefault(n, v)
        return keyed

    def chunk(self) -> dict:
        out: dict = {}
        while self.peek()[0] != "end":
            name = self.take("name")
            if name == "local":
                name = self.take("name")
            self.take("op", "=")
            out[name] = self.value(0)
            if self.peek() == ("op", ";"):
                self.i += 1
        return out


def parse_header(text: str) -> dict:
    """`pyramid = { ... }` -> {"pyramid": {...}}. Lua tables become dicts (keyed) or lists
    (positional only). Raises HeaderSyntaxError; nothing is ever evaluated."""
    if len(text) > MAX_HEADER_TEXT:
        raise HeaderSyntaxError("header text too large")
    return _Parser(text).chunk()


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

    def present_levels(self) -> list[Level]:
        """Levels whose bytes are all in the file, largest first."""
        return sorted((lv for lv in self.levels if lv.present), key=lambda lv: -lv.index)

    def largest(self) -> Level | None:
        levels = self.present_levels()
        return levels[0] if levels else None

    def partial(self) -> bool:
        """Larger levels than the one usable were declared (a truncated or damaged file)."""
        best = self.largest()
        declared = len(self.header.get("levels") or []) if isinstance(self.header.get("levels"), list) else 0
        top = max([lv.index for lv in self.levels] + [declared])
        return best is None or best.index < top


def read_sections(fd: int, file_size: int) -> tuple[list[tuple[str, int, int, int]], list[str]]:
    """Walk the AgHg chain: [(name, data offset, available length, declared length)], warnings.
    One 32-byte pread per section: the JPEG data in between is never read here."""
    sections, warnings, pos = [], [], 0
    while pos + 24 <= file_size:
        head = os.pread(fd, 32, pos)
        if head[:4] != MAGIC:
            if head.strip(b"\x00"):
                warnings.append(f"unexpected bytes at offset {pos}; sections after it ignored")
            break
        header_len = int.from_bytes(head[4:6], "big")
        if header_len < 24 or header_len > 4096:
            warnings.append(f"bad section header length {header_len} at offset {pos}")
            break
        if header_len > len(head):
            head = os.pread(fd, header_len, pos)
        if len(head) < header_len:
            warnings.append(f"section header at offset {pos} cut short")
            break
        data_len, pad_len = struct.unpack(">QQ", head[8:24])
        name = head[24:header_len].split(b"\x00", 1)[0].decode("ascii", "replace")
        start = pos + header_len
        available = max(0, min(data_len, file_size - start))
        sections.append((name, start, available, data_len))
        if available < data_len:
            warnings.append(f"file truncated inside section {name!r} ({available} of {data_len} bytes)")
            break
        pos = start + data_len + pad_len
        pos += -pos % 16 if pos % 16 and file_size > pos else 0
    return sections, warnings


def read_lrprev(path: str, header: bool = True) -> Preview:
    """Sections, header and levels of one .lrprev (no JPEG bytes are read). PreviewError when the
    file holds no preview at all. With header=False the header table is only parsed when the file
    name does not give the UUID and digest (level sizes then come from the JPEGs themselves)."""
    name = os.path.basename(path)
    m = PREVIEW_NAME.match(name)
    uuid, digest = (m.group(1), m.group(2)) if m else (None, None)
    header = header or m is None
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            st = os.fstat(fd)
            if st.st_size == 0:
                raise PreviewError("empty", "empty preview file (0 bytes)")
            if os.pread(fd, 4, 0) != MAGIC:
                raise PreviewError("not-a-preview", "not a Lightroom preview (no AgHg section)")
            sections, warnings = read_sections(fd, st.st_size)
            header_text = None
            for sname, start, available, declared in sections:
                if sname == "header" and available == declared and header:
                    header_text = os.pread(fd, min(available, MAX_HEADER_TEXT), start).split(b"\x00", 1)[0]
                    break
        finally:
            os.close(fd)
    except OSError as e:
        raise PreviewError("unreadable", f"cannot read: {e.strerror or e}") from None
    if not any(s[0] == "header" for s in sections):
        raise PreviewError("not-a-preview", "AgHg file without a 'header' section "
                                            "(a Photoshop resource, not a Lightroom preview)")
    preview = Preview(path, uuid, digest, st.st_size, st.st_mtime_ns, warnings=warnings)
    if not header:
        pass
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
    if isinstance(hdr.get("uuid"), str) and re.fullmatch(r"[0-9A-Fa-f-]{36}", hdr["uuid"]):
        if preview.uuid and preview.uuid != hdr["uuid"].upper():
            preview.warnings.append("header uuid differs from the file name; using the file name")
        preview.uuid = preview.uuid or hdr["uuid"].upper()
    if isinstance(hdr.get("digest"), str) and re.fullmatch(r"[0-9a-fA-F]{32}", hdr["digest"]):
        preview.digest = preview.digest or hdr["digest"].lower()
    dims = hdr.get("levels") if isinstance(hdr.get("levels"), list) else []
    for sname, start, available, declared in sections:
        lm = re.fullmatch(r"level_(\d{1,3})", sname)
        if not lm:
            continue
        index = int(lm.group(1))
        lv = Level(sname, index, start, available, declared)
        if 1 <= index <= len(dims) and isinstance(dims[index - 1], dict):
            w, h = dims[index - 1].get("width"), dims[index - 1].get("height")
            if isinstance(w, (int, float)) and isinstance(h, (int, float)):
                lv.width, lv.height = int(w), int(h)
        preview.levels.append(lv)
    if not preview.levels:
        raise PreviewError("truncated" if warnings else "no-levels",
                           "preview holds no image level" + (f" ({warnings[0]})" if warnings else ""))
    return preview


def read_level(path: str, level: Level) -> bytes:
    """The level's JPEG bytes, checked complete (SOI .. EOI by walking its markers). OSError if
    the file changed or the level is damaged."""
    with open(path, "rb") as f:
        f.seek(level.offset)
        data = f.read(level.length)
    if len(data) != level.declared:
        raise OSError(f"{level.name} is truncated ({len(data)} of {level.declared} bytes)")
    end = jpeg_end(data)
    if end is None:
        raise OSError(f"{level.name} is not a complete JPEG")
    return data[:end]


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
def jpeg_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from the JPEG's frame header, without decoding."""
    pos, n = 2, len(data)
    while pos + 9 < n and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        length = int.from_bytes(data[pos + 2:pos + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            h, w = struct.unpack(">HH", data[pos + 5:pos + 9])
            return w, h
        pos += 2 + length
    return None


def read_lr13(path: str) -> Preview:
    """One Lightroom 13.3+ preview file as a one-level Preview (sizes from the JPEG itself)."""
    m = LR133_NAME.match(os.path.basename(path))
    try:
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            head = f.read(65536)
            f.seek(max(0, st.st_size - 64))
            tail = f.read().rstrip(b"\x00")
    except OSError as e:
        raise PreviewError("unreadable", f"cannot read: {e.strerror or e}") from None
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
def open_readonly(path: str) -> sqlite3.Connection:
    """SQLite opened without any chance of writing (immutable: no locks, no journal, no WAL)."""
    from urllib.parse import quote

    db = sqlite3.connect(f"file:{quote(os.path.abspath(path))}?mode=ro&immutable=1", uri=True)
    db.execute("SELECT count(*) FROM sqlite_master").fetchone()  # fails now if not a database
    return db


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


# -- orientation codes --------------------------------------------------------------------------------
# Lightroom names an orientation by where the original's top-left (A) and top-right (B) corners end
# up, corners lettered A B C D clockwise from the top-left: AB upright, BC turned 90° clockwise, ...
LR_ORIENTATION = {"AB": 1, "BA": 2, "CD": 3, "DC": 4, "AD": 5, "BC": 6, "CB": 7, "DA": 8}


def orientation_code(value) -> int | None:
    """EXIF orientation (1..8) from a Lightroom code ('BC') or a number; None if unknown."""
    if isinstance(value, str):
        v = value.strip().upper()
        if v in LR_ORIENTATION:
            return LR_ORIENTATION[v]
        if v.isdigit():
            value = int(v)
    if isinstance(value, int) and 1 <= value <= 8:
        return value
    return None
