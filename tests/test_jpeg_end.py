"""jpeg_end, the read stage's completeness check: header segments walked by their lengths, then one
search for the EOI after the first scan (entropy-coded data never holds FF D9)."""
from __future__ import annotations

import io

import numpy as np
from PIL import Image

from phototrove.media.jpeg import jpeg_end


def jpeg(progressive=False, **kw) -> bytes:
    rng = np.random.default_rng(3)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)).save(
        buf, "JPEG", quality=95, progressive=progressive, **kw)
    return buf.getvalue()


def test_complete_baseline_progressive_and_restart_marker_files():
    for data in (jpeg(), jpeg(progressive=True), jpeg(restart_marker_blocks=1)):
        assert jpeg_end(data) == len(data)
        assert jpeg_end(data + b"\x00trailing junk") == len(data)


def test_truncated_files_are_incomplete():
    for data in (jpeg(), jpeg(progressive=True)):
        assert b"\xff\x00" in data  # stuffed bytes: the scan must not stop at them
        for cut in (len(data) - 2, len(data) // 2, 30):
            assert jpeg_end(data[:cut]) is None


def test_fill_bytes_before_a_marker():
    data = jpeg()
    padded = data[:-2] + b"\xff\xff\xff" + data[-2:]  # fill bytes before EOI are legal
    assert jpeg_end(padded) == len(padded)
