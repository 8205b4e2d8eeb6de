"""A few hundred damaged variants of the committed fixture photos and of Takeout sidecars, made
deterministically (truncations at many offsets, bit flips in the header/EXIF and in the image data,
huge declared sizes, IFD loops, zero length, wrong extensions), ingested in ONE folder: the run
finishes, every file is one photo or one error row, and no traceback reaches the user."""
from __future__ import annotations

import io
import json
import random
import sqlite3
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
import takeout_fixtures as tf  # noqa: E402

from photos import jpeg  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "photos"


def originals() -> dict[str, bytes]:
    """The committed fixture photos and a few more formats made here."""
    out = {p.name: p.read_bytes() for p in sorted(FIXTURES.iterdir())}
    im = Image.fromarray(np.random.default_rng(7).integers(0, 255, (48, 64, 3)).astype("uint8"))
    for fmt, ext, kw in (("PNG", "png", {}), ("GIF", "gif", {}), ("WEBP", "webp", {}), ("TIFF", "tif", {}),
                         ("TIFF", "tiff", {"compression": "tiff_lzw"})):
        buf = io.BytesIO()
        im.save(buf, fmt, **kw)
        out[f"made.{ext}"] = buf.getvalue()
    out["exif.jpg"] = jpeg(64, 48, seed=3, taken="2019:07:14 10:30:00", offset="+02:00", make="Canon",
                           model="Canon EOS 5D", gps=(48.85, 2.35), orientation=6)
    return out


def with_ifd_loop(data: bytes) -> bytes:
    """A JPEG whose EXIF IFD0 names itself as the next IFD, and whose Exif IFD pointer points at IFD0."""
    tiff = b"MM\x00\x2a\x00\x00\x00\x08" + struct.pack(">H", 2)
    tiff += struct.pack(">HHII", 0x0112, 3, 1, 6 << 16) + struct.pack(">HHII", 0x8769, 4, 1, 8)
    tiff += struct.pack(">I", 8)
    app1 = b"Exif\x00\x00" + tiff
    return data[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + data[2:]


def huge_dimensions(name: str, data: bytes) -> bytes | None:
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        ihdr = bytearray(data[16:29])
        ihdr[0:8] = struct.pack(">II", 0x7FFFFFFF, 0x7FFFFFFF)
        return data[:16] + bytes(ihdr) + struct.pack(">I", zlib.crc32(b"IHDR" + bytes(ihdr))) + data[33:]
    if data[:2] == b"\xff\xd8":
        at = data.find(b"\xff\xc0")
        return data[:at + 5] + b"\xff\xff\xff\xff" + data[at + 9:] if at > 0 else None
    if data[:4] == b"GIF8":
        return data[:6] + b"\xff\xff\xff\xff" + data[10:]
    return None


def variants() -> dict[str, bytes]:
    rng = random.Random(2024)
    out: dict[str, bytes] = {}
    for name, data in originals().items():
        stem, ext = name.rsplit(".", 1)
        n = len(data)
        for cut in sorted({0, 1, 2, 4, 16, 100, n // 8, n // 4, n // 2, 3 * n // 4, n - 100, n - 10, n - 2, n - 1}):
            if 0 <= cut < n:
                out[f"{stem}_cut{cut}.{ext}"] = data[:cut]
        for k in range(6):
            flipped = bytearray(data)
            region = (0, min(n, 600)) if k < 3 else (n // 3, n - 2)  # header/EXIF, then the image data
            for _ in range(rng.randint(1, 8)):
                at = rng.randrange(*region)
                flipped[at] ^= 1 << rng.randrange(8)
            out[f"{stem}_flip{k}.{ext}"] = bytes(flipped)
        big = huge_dimensions(name, data)
        if big is not None:
            out[f"{stem}_huge.{ext}"] = big
        if data[:2] == b"\xff\xd8":
            out[f"{stem}_ifdloop.{ext}"] = with_ifd_loop(data)
        out[f"{stem}_wrongext.{'png' if ext != 'png' else 'jpg'}"] = data
        out[f"{stem}_junk_after.{ext}"] = data + b"\x00" * 64 + b"trailing junk"
    out["empty.jpg"] = b""
    out["json_named.jpg"] = json.dumps(tf.sidecar("x.jpg")).encode()
    out["text_named.png"] = b"not an image\n" * 10
    return out


def ingest(trove, *args, timeout: float = 600) -> subprocess.CompletedProcess:
    p = trove.popen(*map(str, args))
    out, err = p.communicate(timeout=timeout)
    assert "Traceback" not in err and "Error:" not in err.replace("error:", ""), err[-3000:]
    return subprocess.CompletedProcess(p.args, p.returncode, out, err)


def test_hundreds_of_damaged_photos_in_one_folder(trove, tmp_path):
    files = variants()
    assert len(files) >= 250
    src = tmp_path / "pics"
    src.mkdir()
    for name, data in files.items():
        (src / name).write_bytes(data)
    r = ingest(trove, "ingest", "folder", src, "--model", "tiny_embedder:make")
    assert r.returncode in (0, 1), r.stderr[-2000:]
    db = sqlite3.connect(trove.library / "catalog.db")
    states = dict(db.execute("SELECT state, count(*) FROM locations GROUP BY state"))
    assert set(states) <= {"ok", "error"} and sum(states.values()) == len(files), states
    # every file is one photo or one error row
    assert db.execute("SELECT count(*) FROM locations WHERE state='ok' AND photo_id IS NULL").fetchone()[0] == 0
    errored = db.execute("SELECT count(*) FROM locations l WHERE state='error' AND "
                         "(SELECT count(*) FROM errors e WHERE e.location_id=l.id) = 1").fetchone()[0]
    assert errored == states.get("error", 0)
    # every catalogued image was embedded or has its one embed error
    unaccounted = db.execute(
        "SELECT count(*) FROM photos p WHERE p.media='image' AND NOT EXISTS (SELECT 1 FROM embeddings e "
        "WHERE e.photo_id=p.id) AND (SELECT count(*) FROM errors x WHERE x.photo_id=p.id AND x.stage='embed') != 1"
    ).fetchone()[0]
    assert unaccounted == 0
    assert states.get("ok", 0) > 50 and states.get("error", 0) > 50   # both kinds really happened
    again = ingest(trove, "ingest", "folder", src, "--model", "tiny_embedder:make", "--json")
    assert json.loads(again.stdout)["discover.unchanged"] == len(files)   # nothing is retried on the same bytes
    page = tmp_path / "all.html"
    r = ingest(trove, "report", "--limit", "1000", "--out", page)
    assert r.returncode == 0 and page.stat().st_size > 0


def damaged_sidecars() -> dict[str, bytes]:
    rng = random.Random(7)
    out: dict[str, bytes] = {}
    good = json.dumps(tf.sidecar("x.jpg", geo=(48.8, 2.3)), indent=2).encode()
    for k in range(80):
        name = f"IMG_{k:04d}.jpg"
        doc = bytearray(json.dumps(tf.sidecar(name, geo=(48.8, 2.3)), indent=2).encode())
        kind = k % 8
        if kind == 0:
            doc = doc[:rng.randrange(len(doc))]
        elif kind == 1:
            for _ in range(rng.randint(1, 6)):
                doc[rng.randrange(len(doc))] = rng.randrange(256)
        elif kind == 2:
            doc = bytearray(b"[" * 50_000 + b"]" * 50_000)
        elif kind == 3:
            doc = bytearray(json.dumps({"title": 5, "photoTakenTime": {"timestamp": [1]}, "geoData": "x",
                                        "people": {"name": 3}, "favorited": "maybe"}).encode())
        elif kind == 4:
            doc = bytearray(json.dumps({"photoTakenTime": {"timestamp": "99999999999999999999"},
                                        "geoData": {"latitude": 1e308, "longitude": float("nan")}}).encode())
        elif kind == 5:
            doc = bytearray(b"\xef\xbb\xbf" + bytes(doc))   # a byte-order mark, as some tools write
        elif kind == 6:
            doc = bytearray(b"\x00" * 10)
        out[f"Photos from 2019/{name}"] = tf.jpeg(k)
        out[f"Photos from 2019/{name}.json"] = bytes(doc) if kind != 7 else good
    return out


def test_a_takeout_whose_sidecars_are_damaged(trove, tmp_path):
    files = damaged_sidecars()
    tf.write_folder(str(tmp_path / "x"), [("Takeout/Google Photos/" + k, v) for k, v in files.items()])
    part, = tf.takeout(str(tmp_path / "parts"), [files])
    for form in (tmp_path / "x" / "Takeout", part):
        r = ingest(trove, "ingest", "takeout", form, "--no-embed", "--json")
        assert r.returncode in (0, 1)
        report = json.loads(r.stdout)["report"]
        assert report["photos"] == 80
    db = sqlite3.connect(trove.library / "catalog.db")
    assert db.execute("SELECT count(*) FROM locations WHERE state='ok'").fetchone()[0] == 160
