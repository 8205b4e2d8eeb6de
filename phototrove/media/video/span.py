"""The bytes known of a video file (_Span: its head and, for a large file, its tail, by absolute
offset), and the limits every walk over them keeps."""
from __future__ import annotations

MAX_BOXES = 100_000        # top-level boxes walked; real files have a handful
MAX_CHILDREN = 10_000      # children of one box


class _Span:
    """The bytes known of a file: its head and, for a large file, its tail, by absolute offset."""

    def __init__(self, head, size: int | None, tail: bytes | None):
        head = memoryview(head).cast("B") if not isinstance(head, bytes) else head
        size = len(head) if size is None else max(0, size)
        head = head[:size]
        tail = bytes(tail or b"")[-max(0, size - len(head)):] if size > len(head) else b""
        tail_at = size - len(tail)
        if tail and tail_at <= len(head):   # head and tail meet: the whole file is known
            head, tail, tail_at = bytes(head) + tail[len(head) - tail_at:], b"", size
        self.head, self.tail, self.size, self.tail_at = head, tail, size, tail_at

    @property
    def whole(self) -> bool:
        return len(self.head) >= self.size

    def get(self, at: int, n: int) -> bytes | memoryview | None:
        """n bytes at offset `at`, or None where any of them is not known (or past the end)."""
        if at < 0 or n < 0 or at + n > self.size:
            return None
        if at + n <= len(self.head):
            return self.head[at:at + n]
        if at >= self.tail_at:
            return self.tail[at - self.tail_at:at - self.tail_at + n]
        return None
