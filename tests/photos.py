"""Real JPEG/PNG files for tests, with EXIF written by Pillow (no hand-made byte strings)."""
from __future__ import annotations

import io
import sys
import zlib
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
from fixture_exif import exif_bytes  # noqa: E402


def pixels(w: int, h: int, seed: int = 0, color: tuple[int, int, int] | None = None) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if color is not None:
        base = np.broadcast_to(np.array(color, dtype=np.int16), (h, w, 3)).astype(np.int16)
        return np.clip(base + rng.integers(-8, 9, (h, w, 3)), 0, 255).astype(np.uint8)
    # smooth gradients plus noise: compresses like a photo, not like white noise
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([(x * (3 + seed % 5) + y) % 256, (y * 2 + seed * 37) % 256, (x + y * (1 + seed % 3)) % 256], -1)
    return np.clip(img + rng.integers(-12, 13, (h, w, 3)), 0, 255).astype(np.uint8)


def jpeg(w: int = 64, h: int = 48, seed: int = 0, color=None, quality: int = 90, **exif) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels(w, h, seed, color)).save(buf, "JPEG", quality=quality,
                                                    exif=exif_bytes(**exif) if exif else b"")
    return buf.getvalue()


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def write_jpeg(path: Path, **kw) -> Path:
    return write(Path(path), jpeg(**kw))


@lru_cache(maxsize=2)
def png_bomb(w: int = 30000, h: int = 30000) -> bytes:
    """A real, valid PNG of w x h grey pixels that compresses to ~1 MB: an image bomb."""
    def chunk(tag: bytes, body: bytes) -> bytes:
        return len(body).to_bytes(4, "big") + tag + body + zlib.crc32(tag + body).to_bytes(4, "big")
    comp = zlib.compressobj(1)
    rows = b"\x00" * (w + 1) * 1000  # per row: filter byte + one byte per pixel
    body = b"".join(comp.compress(rows) for _ in range(h // 1000))
    body += comp.compress(b"\x00" * (w + 1) * (h % 1000)) + comp.flush()
    ihdr = w.to_bytes(4, "big") + h.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
