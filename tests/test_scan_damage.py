"""media.jpeg.scan_damage (the per-file decode check `recover` makes of the level it writes) finds
markers with one C-speed search each; it must answer exactly as a byte-by-byte walk of the same
rules does, on whole JPEGs of every kind and on garbled, cut and fill-byte variants."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from phototrove.media.jpeg import _between_scans, _first_scan, checked_end, jpeg_end, scan_damage


def walk(data: bytes) -> str | None:
    """The rules, one byte at a time: in the scans every FF is stuffing (FF 00), a restart marker,
    a fill byte, the EOI at the very end, or begins the headers between two scans."""
    start = _first_scan(data)
    if start is None:
        return "no scan header"
    i, n = start, len(data)
    while i < n - 1:
        if data[i] != 0xFF or data[i + 1] == 0x00 or 0xD0 <= data[i + 1] <= 0xD7 or data[i + 1] == 0xFF:
            i += 1
            continue
        if i >= n - 2:
            return None
        if data[i - 1] == 0xFF:
            i += 1
            continue
        skip = _between_scans(data, i)
        if skip is None:
            return f"marker FF {data[i + 1]:02X} inside the image data at byte {i}"
        i = skip
    return "no end-of-image marker"


@pytest.mark.parametrize("options", [{}, {"progressive": True}, {"restart_marker_blocks": 2},
                                     {"progressive": True, "optimize": True}])
def test_scan_damage_answers_as_the_byte_walk(options):
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, (96, 128, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG", quality=92, **options)
    whole = buf.getvalue()
    assert scan_damage(whole) is None and walk(whole) is None
    damaged = 0
    for seed in range(400):
        r = np.random.default_rng(seed)
        at = int(r.integers(0, len(whole) - 8))
        kind = seed % 4
        if kind == 0:     # a run of random bytes
            bad = whole[:at] + bytes(r.integers(0, 256, 20, dtype=np.uint8)) + whole[at + 20:]
        elif kind == 1:   # one marker dropped in
            bad = whole[:at] + bytes((0xFF, int(r.integers(0, 256)))) + whole[at + 2:]
        elif kind == 2:   # a fill byte before a marker
            bad = whole[:at] + bytes((0xFF, 0xFF, int(r.integers(0, 256)))) + whole[at + 3:]
        else:             # cut short
            bad = whole[:at + 8]
        want = walk(bad)
        assert scan_damage(bad) == want and scan_damage(memoryview(bad)) == want, seed
        end = jpeg_end(bad)   # the one-pass check answers as the two checks it stands for
        accepted = end if end is not None and scan_damage(bad[:end]) is None else None
        assert checked_end(bad)[0] == accepted, seed
        damaged += want is not None
    assert damaged > 100   # the variants do hit the rules
