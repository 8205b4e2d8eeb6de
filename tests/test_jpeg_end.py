"""jpeg_end, the read stage's completeness check: header segments walked by their lengths, then one
search for the EOI after the first scan (entropy-coded data never holds FF D9)."""
from __future__ import annotations

import io

import numpy as np
import pytest
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


@pytest.mark.parametrize("options", [{}, {"progressive": True}, {"restart_marker_blocks": 4},
                                     {"progressive": True, "optimize": True}])
def test_scan_damage_agrees_with_libjpeg(options):
    """Whole JPEGs (baseline, progressive, with restart markers) pass; every garbled copy that
    libjpeg gives up on ("broken data stream") is seen as damaged, without decoding."""
    import io

    import numpy as np
    from PIL import Image

    from phototrove.media.jpeg import scan_damage

    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:480, 0:640]
    pixels = np.clip(np.stack([(x // 3) % 256, (y // 2 + x // 5) % 256, (x + y) // 4 % 256], -1)
                     + rng.integers(-6, 7, (480, 640, 3)), 0, 255).astype("uint8")
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG", quality=85, **options)
    whole = buf.getvalue()
    assert scan_damage(whole) is None
    sos = whole.index(b"\xff\xda")
    broken = 0
    for seed in range(30):
        r = np.random.default_rng(seed)
        at = int(r.integers(sos + 50, len(whole) - 600))
        bad = whole[:at] + bytes(r.integers(0, 256, 400, dtype=np.uint8)) + whole[at + 400:]
        try:
            Image.open(io.BytesIO(bad)).load()
        except OSError:
            broken += 1
            assert scan_damage(bad) is not None, seed
    assert broken >= 5       # the garbling does hit libjpeg (restart markers let it resync more often)
