"""A TIFF structure reader: the IFDs of an EXIF block, a TIFF or DNG file, or a TIFF-based camera
RAW, in either byte order, classic or BigTIFF.

Built for files as they come: every offset and count is bounded by the data, a loop of IFDs is
cut, and an entry that cannot be read is skipped alone (one bad entry does not drop the others).
Values are decoded to Python (ASCII as text, UTF-8 or else Latin-1; rationals as floats).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field

# type -> (size of one value, struct code)
TYPES = {1: (1, "B"), 2: (1, "s"), 3: (2, "H"), 4: (4, "I"), 5: (8, "II"), 6: (1, "b"), 7: (1, "s"),
         8: (2, "h"), 9: (4, "i"), 10: (8, "ii"), 11: (4, "f"), 12: (8, "d"), 13: (4, "I"), 16: (8, "Q"),
         17: (8, "q"), 18: (8, "Q")}
ASCII, UNDEFINED, BYTE = 2, 7, 1
SUB_IFDS = {0x8769: "exif", 0x8825: "gps", 0xA005: "interop", 0x014A: "sub"}
MAX_ENTRIES = 4096       # real IFDs hold a few hundred at most
MAX_IFDS = 64            # IFD chains and sub-IFDs together
MAX_VALUE = 1 << 20      # bytes read for one value (a huge declared count is damage)


class TiffError(ValueError):
    pass


@dataclass
class Ifd:
    name: str                                      # ifd0, ifd1, exif, gps, interop, sub0, ...
    offset: int
    tags: dict[int, object] = field(default_factory=dict)
    spans: dict[int, tuple[int, int, int]] = field(default_factory=dict)  # tag -> (type, count, offset)


@dataclass
class Tiff:
    little: bool
    big: bool                                      # BigTIFF
    ifds: list[Ifd] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def ifd(self, name: str) -> dict[int, object]:
        for d in self.ifds:
            if d.name == name:
                return d.tags
        return {}

    def get(self, name: str, tag: int, default=None):
        return self.ifd(name).get(tag, default)


def header(data: bytes | memoryview) -> tuple[bool, bool, int] | None:
    """(little-endian, BigTIFF, first IFD offset) if `data` starts with a TIFF header."""
    if len(data) < 8:
        return None
    order = bytes(data[:2])
    if order not in (b"II", b"MM"):
        return None
    little = order == b"II"
    e = "<" if little else ">"
    magic = struct.unpack(e + "H", data[2:4])[0]
    if magic == 42:
        return little, False, struct.unpack(e + "I", data[4:8])[0]
    if magic == 43 and len(data) >= 16:
        size, _zero = struct.unpack(e + "HH", data[4:8])
        if size == 8:
            return little, True, struct.unpack(e + "Q", data[8:16])[0]
    if magic in (0x4F52, 0x5352, 0x55):  # Olympus ORF ('RO', 'RS'), Panasonic RW2 (0x55): TIFF inside
        return little, False, struct.unpack(e + "I", data[4:8])[0]
    return None


def read_tiff(data: bytes | memoryview, *, sub_ifds: bool = True) -> Tiff:
    """The IFDs of a TIFF structure. TiffError only when there is no TIFF header at all."""
    head = header(data)
    if head is None:
        raise TiffError("not a TIFF structure")
    little, big, first = head
    tiff = Tiff(little, big)
    reader = _Reader(data, little, big, tiff)
    queue: list[tuple[str, int]] = [("ifd0", first)]
    seen: set[int] = set()
    chain = 0
    while queue and len(tiff.ifds) < MAX_IFDS:
        name, offset = queue.pop(0)
        if offset in seen or offset <= 0 or offset >= len(data):
            if offset in seen:
                tiff.notes.append(f"IFD loop at offset {offset}: cut")
            continue
        seen.add(offset)
        ifd, next_offset = reader.ifd(name, offset)
        tiff.ifds.append(ifd)
        if name.startswith("ifd") and next_offset:
            chain += 1
            queue.append((f"ifd{chain}", next_offset))
        if sub_ifds:
            for tag, sub in SUB_IFDS.items():
                value = ifd.tags.get(tag)
                offsets = value if isinstance(value, tuple) else (value,)
                for i, off in enumerate(o for o in offsets if isinstance(o, int)):
                    queue.append((f"{sub}{i}" if sub == "sub" else sub, off))
    return tiff


class _Reader:
    def __init__(self, data, little: bool, big: bool, tiff: Tiff):
        self.data, self.e, self.big, self.tiff = data, "<" if little else ">", big, tiff
        self.n = len(data)

    def ifd(self, name: str, offset: int) -> tuple[Ifd, int]:
        e, data = self.e, self.data
        ifd = Ifd(name, offset)
        count_size, entry_size, ptr = (8, 20, "Q") if self.big else (2, 12, "I")
        if offset + count_size > self.n:
            self.tiff.notes.append(f"{name}: offset {offset} past the end")
            return ifd, 0
        count = struct.unpack(e + ("Q" if self.big else "H"), data[offset:offset + count_size])[0]
        if count > MAX_ENTRIES:
            self.tiff.notes.append(f"{name}: {count} entries declared: damaged, read none")
            return ifd, 0
        pos = offset + count_size
        for i in range(count):
            at = pos + i * entry_size
            if at + entry_size > self.n:
                self.tiff.notes.append(f"{name}: cut short after {i} of {count} entries")
                return ifd, 0
            try:
                self._entry(ifd, at)
            except (struct.error, ValueError, OverflowError, IndexError) as err:
                self.tiff.notes.append(f"{name}: entry {i} unreadable ({err}): skipped")
        end = pos + count * entry_size
        nxt = struct.unpack(e + ptr, data[end:end + struct.calcsize(ptr)])[0] if end + struct.calcsize(ptr) <= self.n else 0
        return ifd, nxt

    def _entry(self, ifd: Ifd, at: int) -> None:
        e, data = self.e, self.data
        if self.big:
            tag, typ, count = struct.unpack(e + "HHQ", data[at:at + 12])
            inline, room = at + 12, 8
        else:
            tag, typ, count = struct.unpack(e + "HHI", data[at:at + 8])
            inline, room = at + 8, 4
        if typ not in TYPES or tag in ifd.tags:   # a tag given twice: the first stands, as readers agree
            return
        size = TYPES[typ][0] * count
        if size > MAX_VALUE:
            raise ValueError(f"tag 0x{tag:04x} declares {size} bytes")
        if size <= room:
            offset = inline
        else:
            offset = struct.unpack(e + ("Q" if self.big else "I"), data[inline:inline + room])[0]
        if offset + size > self.n:
            raise ValueError(f"tag 0x{tag:04x} points past the end")
        ifd.spans[tag] = (typ, count, offset)
        ifd.tags[tag] = self._value(typ, count, data[offset:offset + size])

    def _value(self, typ: int, count: int, raw):
        raw = bytes(raw)
        if typ == ASCII:
            return text(raw)
        if typ == UNDEFINED or (typ == BYTE and count > 8):
            return raw
        size, code = TYPES[typ]
        if typ in (5, 10):  # rationals
            nums = struct.unpack(f"{self.e}{2 * count}{code[0]}", raw)
            values = tuple(a / b if b else None for a, b in zip(nums[::2], nums[1::2]))
        else:
            values = struct.unpack(f"{self.e}{count}{code}", raw)
        return values[0] if count == 1 else values


def text(raw: bytes) -> str:
    """An ASCII/text value: up to the first NUL, UTF-8 or else Latin-1 (a Make of b'\\x8c Photosmart'),
    never a bytes repr."""
    raw = raw.split(b"\x00", 1)[0]
    try:
        s = raw.decode("utf-8")
    except UnicodeDecodeError:
        s = raw.decode("latin-1")
    return "".join("?" if ord(c) < 32 and c not in "\t\n" or 0x7F <= ord(c) < 0xA0 else c for c in s).strip()
