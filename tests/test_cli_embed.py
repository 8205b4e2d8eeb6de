"""`trove ingest ... --model/--backend` and `trove models`, end to end on real files and SQLite.
No test downloads: models come from fixture folders or a hand-laid hub cache."""
from __future__ import annotations

import importlib.util
import io
import json
import shutil
import sqlite3

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from embed_fixtures import META, PHOTOS, REF, model_dir
from phototrove.catalog import Catalog
from phototrove.cli import main
from phototrove.crawler import Crawler
from phototrove.embed import load_embedder
from phototrove.embed.models import REGISTRY, files_for
from phototrove.ingest.folder import FolderSource
from test_models import fake_hub_cache

HAS_MLX = importlib.util.find_spec("mlx") is not None


def trove(lib, *args):
    return CliRunner().invoke(main, ["--library", str(lib), "-q", *args], catch_exceptions=False)


def stored(lib) -> dict[str, tuple[str, np.ndarray]]:
    """photo file name -> (dtype, vector) of every stored embedding."""
    db = sqlite3.connect(lib / "catalog.db")
    rows = db.execute("SELECT l.path, e.model, e.dtype, e.vector FROM embeddings e "
                      "JOIN locations l ON l.photo_id=e.photo_id").fetchall()
    out = {}
    for path, model, dtype, blob in rows:
        vec = np.frombuffer(blob, "<f4" if dtype == "float32" else "<f2").astype(np.float32)
        out[path.rsplit("/", 1)[-1]] = (model, dtype, vec)
    return out


@pytest.mark.parametrize("layout", ["onnx", pytest.param("hf", marks=pytest.mark.skipif(
    not HAS_MLX, reason="mlx is not installed"))])
def test_ingest_embeds_photos_like_the_reference(tmp_path, layout):
    lib = tmp_path / "lib"
    r = trove(lib, "ingest", "folder", str(PHOTOS), "--model", str(model_dir(layout, "clip-tiny")))
    assert r.exit_code == 0, r.output
    got = stored(lib)
    assert sorted(got) == sorted(META["photos"])
    for i, photo in enumerate(META["photos"]):
        model, dtype, vec = got[photo]
        assert model == "clip-tiny" and dtype == "float32"
        assert float(vec @ REF["clip-tiny.image"][i]) >= 0.9999, photo
    assert "5 embedded" in r.output


@pytest.mark.skipif(not HAS_MLX, reason="mlx is not installed")
def test_other_backend_same_weights_has_nothing_left_to_do(tmp_path):
    lib = tmp_path / "lib"
    assert trove(lib, "ingest", "folder", str(PHOTOS), "--model", str(model_dir("onnx", "clip-tiny"))).exit_code == 0
    r = trove(lib, "--quiet", "ingest", "folder", str(PHOTOS), "--json", "--model", str(model_dir("hf", "clip-tiny")))
    assert json.loads(r.output.splitlines()[0]).get("embed.photos", 0) == 0


def test_float16_vectors(tmp_path):
    lib = tmp_path / "lib"
    r = trove(lib, "ingest", "folder", str(PHOTOS), "--model", str(model_dir("onnx", "siglip-tiny")),
              "--vector-dtype", "float16")
    assert r.exit_code == 0, r.output
    for i, photo in enumerate(META["photos"]):
        model, dtype, vec = stored(lib)[photo]
        assert dtype == "float16" and float(vec @ REF["siglip-tiny.image"][i]) >= 0.999


def test_default_model_unavailable_still_catalogues(tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    lib = tmp_path / "lib"
    r = trove(lib, "ingest", "folder", str(PHOTOS))
    assert r.exit_code == 3  # case 18: a run whose embedding could not happen does not say "done"
    assert "5 photos added" in r.output and stored(lib) == {}
    lines = [line for line in r.stderr.splitlines() if "not embedded" in line]
    assert len(lines) == 1 and "immich-app/ViT-B-32__openai" in lines[0] and "--no-embed" in lines[0]


def test_default_model_from_the_cache(tmp_path, monkeypatch):
    """No --model: clip-vit-b32, found in huggingface_hub's cache while offline."""
    from huggingface_hub import constants

    cache = tmp_path / "hub"
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    fake_hub_cache(cache, REGISTRY["clip-vit-b32"].onnx_repo, model_dir("onnx", "clip-tiny"),
                   files_for("onnx", "image"))
    lib = tmp_path / "lib"
    r = trove(lib, "ingest", "folder", str(PHOTOS), "--backend", "onnx")
    assert r.exit_code == 0, r.output
    assert {m for m, _, _ in stored(lib).values()} == {"clip-vit-b32"}
    r = trove(lib, "models", "--json")
    rows = {json.loads(line)["name"]: json.loads(line) for line in r.output.splitlines()}
    assert rows["clip-vit-b32"]["cached"]["onnx"] == ["image"] and rows["clip-vit-b32"]["default"]
    assert rows["siglip2-b16"]["cached"] == {"onnx": [], "mlx": []}
    assert "cached (image tower)" in trove(lib, "models").output


def test_named_model_that_cannot_load_is_a_usage_error(tmp_path):
    lib = tmp_path / "lib"
    r = trove(lib, "ingest", "folder", str(PHOTOS), "--model", str(tmp_path))
    assert r.exit_code == 2 and "not a model folder" in r.stderr
    r = trove(lib, "ingest", "folder", str(PHOTOS), "--model", str(model_dir("onnx", "clip-tiny")), "--backend", "mlx")
    assert r.exit_code == 2 and "--backend onnx" in r.stderr


def test_undecodable_photo_is_reported_and_the_rest_embedded(tmp_path):
    src = tmp_path / "photos"
    shutil.copytree(PHOTOS, src)
    # a PNG whose structure is complete (it passes the read stage) but whose pixel data is damaged
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (200, 300, 3), dtype=np.uint8)).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    i = data.index(b"IDAT") + 40
    data[i:i + 200] = bytes(200)
    (src / "broken.png").write_bytes(bytes(data))
    lib = tmp_path / "lib"
    r = trove(lib, "ingest", "folder", str(src), "--model", str(model_dir("onnx", "clip-tiny")))
    assert r.exit_code == 1
    assert sorted(stored(lib)) == sorted(META["photos"])
    errs = [line for line in trove(lib, "status", "--errors").output.splitlines() if line]
    assert len(errs) == 1 and errs[0].startswith("embed\tcorrupt") and "broken.png" in errs[0]
    # the next run does not retry it, and has nothing else to do
    r = trove(lib, "ingest", "folder", str(src), "--json", "--model", str(model_dir("onnx", "clip-tiny")))
    assert json.loads(r.stdout.splitlines()[0]).get("embed.photos", 0) == 0


class Interrupting:
    """A real embedder that stops the run (as Ctrl-C would) after `n` batches."""

    def __init__(self, inner, n):
        self.inner, self.n = inner, n
        self.model_id, self.dim, self.image_size = inner.model_id, inner.dim, inner.image_size

    def preprocess(self, image):
        return self.inner.preprocess(image)

    def encode_pixels(self, batch):
        if self.n == 0:
            raise KeyboardInterrupt
        self.n -= 1
        return self.inner.encode_pixels(batch)


def test_embed_stage_resumes_after_interruption(tmp_path):
    real = load_embedder(str(model_dir("onnx", "clip-tiny")), towers="image")
    with Catalog(tmp_path / "catalog.db") as cat:
        with pytest.raises(KeyboardInterrupt):
            Crawler(cat, embedder=Interrupting(real, 1), batch_size=2, show_progress=False).run(
                FolderSource(str(PHOTOS)))
        first = dict(cat.db.execute("SELECT photo_id, created_at FROM embeddings").fetchall())
        assert len(first) == 2
        summary = Crawler(cat, embedder=real, batch_size=2, show_progress=False).run(FolderSource(str(PHOTOS)))
        assert summary.counts["embed.photos"] == 3
        after = dict(cat.db.execute("SELECT photo_id, created_at FROM embeddings").fetchall())
        assert len(after) == 5 and all(after[k] == v for k, v in first.items())
