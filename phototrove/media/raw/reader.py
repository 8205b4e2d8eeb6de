"""The bytes at hand: _File, the bounded reader every format's reader goes through (the bytes held,
maybe only the file's head, and the file's full length), _Short for a read past them, and the limits
every loop over a file's entries, boxes and previews keeps."""
from __future__ import annotations

import struct

from ..kinds import MediaError

MAX_ENTRIES, MAX_BOXES, MAX_PREVIEWS = 1024, 4096, 64


# -- the bytes at hand ------------------------------------------------------------------------------
class _File:
    """The bytes held (maybe only the file's head) and the file's full length."""

    def __init__(self, data, size: int | None):
        self.buf = data if isinstance(data, bytes) else memoryview(data).cast("B")
        self.n = len(self.buf)
        self.size = self.n if size is None else max(size, self.n)
        self.notes: list[str] = []

    def has(self, offset: int, length: int) -> bool:
        """The range lies within the bytes held."""
        return 0 <= offset and 0 <= length and offset + length <= self.n

    def fits(self, offset: int, length: int) -> bool:
        """The range lies within the file."""
        return 0 <= offset and 0 <= length and offset + length <= self.size

    def get(self, offset: int, length: int) -> bytes:
        if offset < 0 or length <= 0:
            return b""
        return bytes(self.buf[offset:offset + length])

    def unpack(self, fmt: str, offset: int) -> tuple:
        if offset < 0 or offset + struct.calcsize(fmt) > self.n:
            raise _Short(offset)
        return struct.unpack_from(fmt, self.buf, offset)

    def cut(self, what: str, end: int) -> MediaError:
        """The error for a needed range ending at `end` that the bytes do not reach."""
        if end > self.size:
            return MediaError("truncated", f"{what} runs past the end of the file ({end} > {self.size} bytes)")
        return MediaError("truncated", f"{what} lies past the {self.n} bytes read (of {self.size})")


class _Short(Exception):
    """A read past the bytes held (turned into MediaError by the reader that needed it)."""
