"""The crawler's embed stage, driven through the CLI with the test-only plugin embedder."""
import io
import sqlite3

import numpy as np
from PIL import Image

from phototrove.media.decode import load_image
from phototrove.media.thumbnail import decode_side
from photos import pixels, write, write_jpeg
from tiny_embedder import TinyEmbedder


def test_embed_stage_stores_normalized_vectors_once(trove, tmp_path):
    src = tmp_path / "pics"
    for i in range(5):
        write_jpeg(src / f"{i}.jpg", w=80, h=60, seed=i, orientation=(6 if i == 0 else 1))
    buf = io.BytesIO()
    Image.fromarray(pixels(200, 150, seed=9)).save(buf, "TIFF")
    tif = write(src / "cut.tif", buf.getvalue()[:2000])  # header fine, strips past the end: truncated
    r = trove.json_lines("ingest", "folder", str(src), "--model", "tiny_embedder:make", "--batch-size", "2", code=1)[0]
    assert r["read.photos"] == 5 and r["embed.photos"] == 5 and r["read.errors"] == 1
    db = sqlite3.connect(trove.library / "catalog.db")
    rows = db.execute("SELECT l.path, e.model, e.dim, e.dtype, e.vector FROM embeddings e "
                      "JOIN locations l ON l.photo_id=e.photo_id").fetchall()
    assert len(rows) == 5
    ref = TinyEmbedder()
    for path, model, dim, dtype, blob in rows:
        vec = np.frombuffer(blob, "<f4")
        assert (model, dim, dtype) == ("test/tiny-colour-4x4", 48, "float32")
        assert abs(np.linalg.norm(vec) - 1) < 1e-5
        data = open(path, "rb").read()
        with Image.open(io.BytesIO(data)) as im:   # one decode for the model and the 320-px thumbnail
            need = max(ref.image_size, decode_side(*im.size))
        expected = ref.encode_images([load_image(data, min_side=need)])[0]
        np.testing.assert_allclose(vec, expected, atol=1e-6)
    assert db.execute("SELECT stage, kind, path FROM errors").fetchall() == [("read", "truncated", str(tif))]

    again = trove.json_lines("ingest", "folder", str(src), "--model", "tiny_embedder:make", code=1)[0]
    assert "embed.photos" not in again and "read.errors" not in again  # nothing done twice, the broken one not retried
