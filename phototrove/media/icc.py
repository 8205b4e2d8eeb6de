"""An Adobe RGB (1998)-compatible ICC profile, computed from the specification (no profile file shipped)."""
from __future__ import annotations

import struct
from functools import lru_cache

# A matrix/TRC profile, ICC v2.
# Primaries and white point from the Adobe RGB (1998) specification; gamma 563/256 (2.19921875);
# colorants adapted from D65 to the D50 profile connection space with the Bradford transform.
_PRIMARIES = ((0.64, 0.33), (0.21, 0.71), (0.15, 0.06))
_D65 = (0.3127, 0.3290)
_D50_XYZ = (0.9642, 1.0, 0.8249)
_BRADFORD = ((0.8951, 0.2664, -0.1614), (-0.7502, 1.7135, 0.0367), (0.0389, -0.0685, 1.0296))


def _mat_mul(a, b):
    return [[sum(a[i][k] * b[k][j] for k in range(3)) for j in range(3)] for i in range(3)]


def _mat_vec(a, v):
    return [sum(a[i][k] * v[k] for k in range(3)) for i in range(3)]


def _mat_inv(m):
    (a, b, c), (d, e, f), (g, h, i) = m
    det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g)
    return [[(e * i - f * h) / det, (c * h - b * i) / det, (b * f - c * e) / det],
            [(f * g - d * i) / det, (a * i - c * g) / det, (c * d - a * f) / det],
            [(d * h - e * g) / det, (b * g - a * h) / det, (a * e - b * d) / det]]


def adobe_rgb_colorants() -> list[list[float]]:
    """Columns r, g, b of the RGB -> XYZ(D50) matrix (rows X, Y, Z)."""
    xyz = [[x / y, 1.0, (1 - x - y) / y] for x, y in _PRIMARIES]  # XYZ of each primary, Y = 1
    p = [[xyz[j][i] for j in range(3)] for i in range(3)]
    wx, wy = _D65
    white = [wx / wy, 1.0, (1 - wx - wy) / wy]
    s = _mat_vec(_mat_inv(p), white)
    m = [[p[i][j] * s[j] for j in range(3)] for i in range(3)]  # RGB -> XYZ(D65)
    src = _mat_vec(_BRADFORD, white)
    dst = _mat_vec(_BRADFORD, list(_D50_XYZ))
    scale = [[dst[i] / src[i] if i == j else 0.0 for j in range(3)] for i in range(3)]
    adapt = _mat_mul(_mat_inv(_BRADFORD), _mat_mul(scale, _BRADFORD))
    return _mat_mul(adapt, m)


def _s15f16(v: float) -> bytes:
    return struct.pack(">i", round(v * 65536))


def _xyz_tag(x: float, y: float, z: float) -> bytes:
    return b"XYZ \x00\x00\x00\x00" + _s15f16(x) + _s15f16(y) + _s15f16(z)


def _desc_tag(text: str) -> bytes:
    ascii_ = text.encode("ascii") + b"\x00"
    return (b"desc\x00\x00\x00\x00" + struct.pack(">I", len(ascii_)) + ascii_
            + struct.pack(">II", 0, 0) + struct.pack(">HB", 0, 0) + b"\x00" * 67)


@lru_cache(maxsize=1)
def adobe_rgb_icc() -> bytes:
    m = adobe_rgb_colorants()
    curve = b"curv\x00\x00\x00\x00" + struct.pack(">I", 1) + struct.pack(">H", 563)  # u8Fixed8 gamma
    tags = [
        (b"desc", _desc_tag("Compatible with Adobe RGB (1998)")),
        (b"cprt", b"text\x00\x00\x00\x00" + b"No copyright, use freely\x00"),
        (b"wtpt", _xyz_tag(*_D50_XYZ)),
        (b"rXYZ", _xyz_tag(m[0][0], m[1][0], m[2][0])),
        (b"gXYZ", _xyz_tag(m[0][1], m[1][1], m[2][1])),
        (b"bXYZ", _xyz_tag(m[0][2], m[1][2], m[2][2])),
        (b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve),
    ]
    table_size = 4 + 12 * len(tags)
    offset = 128 + table_size
    table, data, placed = [struct.pack(">I", len(tags))], [], {}
    for sig, body in tags:
        if body not in placed:  # the three TRCs share one curve, as ICC allows
            offset += -offset % 4
            placed[body] = offset
            data.append((offset, body))
            offset += len(body)
        table.append(sig + struct.pack(">II", placed[body], len(body)))
    size = offset + (-offset % 4)
    out = bytearray(size)
    header = (struct.pack(">I", size) + b"\x00\x00\x00\x00" + bytes((2, 0x10, 0, 0)) + b"mntrRGB XYZ "
              + struct.pack(">6H", 2000, 1, 1, 0, 0, 0) + b"acsp" + b"\x00" * 4 + b"\x00" * 4
              + b"\x00" * 4 + b"\x00" * 4 + b"\x00" * 8 + struct.pack(">I", 0)
              + _s15f16(_D50_XYZ[0]) + _s15f16(_D50_XYZ[1]) + _s15f16(_D50_XYZ[2]) + b"\x00" * 4)
    out[:len(header)] = header
    t = b"".join(table)
    out[128:128 + len(t)] = t
    for at, body in data:
        out[at:at + len(body)] = body
    return bytes(out)
