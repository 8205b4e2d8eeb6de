"""Resolving --model: registry names through huggingface_hub's cache (offline), local folders in
either layout, towers, backend choice, and the one-line failures."""
from __future__ import annotations

import importlib.util
import shutil

import numpy as np
import pytest

from embed_fixtures import META, REF, cosines, model_dir
from phototrove.embed import ModelError, load_embedder, pick_backend
from phototrove.embed.models import DEFAULT_MODEL, REGISTRY, files_for

HAS_MLX = importlib.util.find_spec("mlx") is not None


def fake_hub_cache(cache, repo: str, source, files) -> None:
    """Lay `files` of a fixture folder out as huggingface_hub's cache holds a downloaded repo."""
    root = cache / ("models--" + repo.replace("/", "--"))
    snap = root / "snapshots" / ("0" * 40)
    for f in files:
        if (source / f).exists():
            (snap / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source / f, snap / f)
    (root / "refs").mkdir(parents=True, exist_ok=True)
    (root / "refs" / "main").write_text("0" * 40)


@pytest.fixture()
def hub_cache(tmp_path, monkeypatch):
    from huggingface_hub import constants

    cache = tmp_path / "hub"
    cache.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return cache


def test_registry_has_the_default_and_siglip2():
    clip = REGISTRY[DEFAULT_MODEL]
    assert clip.mlx_repo == "openai/clip-vit-base-patch32" and clip.onnx_repo == "immich-app/ViT-B-32__openai"
    assert any(m.family == "siglip" and "siglip2" in m.mlx_repo for m in REGISTRY.values())
    assert "textual/model.onnx" not in files_for("onnx", "image")
    assert "visual/model.onnx" not in files_for("onnx", "text")


def test_cached_registry_model_loads_offline(hub_cache, monkeypatch):
    import huggingface_hub

    repo = REGISTRY["clip-vit-b32"].onnx_repo
    fake_hub_cache(hub_cache, repo, model_dir("onnx", "clip-tiny"), files_for("onnx", "both"))

    def no_hub(*args, **kwargs):
        raise AssertionError("a fully cached model must load without asking the hub")
    monkeypatch.setattr(huggingface_hub, "snapshot_download", no_hub)
    e = load_embedder("clip-vit-b32", backend="onnx")
    assert e.model_id == "clip-vit-b32"  # recorded under the registry name, whatever the backend
    assert cosines(e.encode_texts(META["texts"]), REF["clip-tiny.text"]).min() >= 0.9999


def test_text_only_needs_and_loads_only_the_text_tower(hub_cache):
    repo = REGISTRY["clip-vit-b32"].onnx_repo
    fake_hub_cache(hub_cache, repo, model_dir("onnx", "clip-tiny"), files_for("onnx", "text"))
    e = load_embedder("clip-vit-b32", towers="text", backend="onnx")
    assert e._visual is None
    assert e.encode_texts(["a cat"]).shape == (1, 24)
    with pytest.raises(ModelError, match="text only"):
        e.encode_pixels(np.zeros((1, 3, 224, 224), np.float32))
    with pytest.raises(ModelError, match="cannot download"):  # the image tower is not cached
        load_embedder("clip-vit-b32", towers="both", backend="onnx")
    # with both towers cached, a text query still loads only the text tower
    fake_hub_cache(hub_cache, repo, model_dir("onnx", "clip-tiny"), files_for("onnx", "both"))
    assert load_embedder("clip-vit-b32", towers="text", backend="onnx")._visual is None
    assert load_embedder("clip-vit-b32", towers="both", backend="onnx")._visual is not None


@pytest.mark.skipif(not HAS_MLX, reason="mlx is not installed")
def test_mlx_text_only_reads_no_vision_weights():
    e = load_embedder(str(model_dir("hf", "siglip-tiny")), towers="text")
    assert e.backend == "mlx" and not any(k.startswith("vision_model") for k in e.w)
    assert cosines(e.encode_texts(META["texts"]), REF["siglip-tiny.text"]).min() >= 0.9999


def test_uncached_model_offline_fails_in_one_line(hub_cache):
    with pytest.raises(ModelError) as err:
        load_embedder("siglip2-b16", backend="onnx")
    msg = str(err.value)
    assert "\n" not in msg and "immich-app/ViT-B-16-SigLIP2__webli" in msg and "--model" in msg


def test_local_folders_pick_their_backend(tmp_path):
    assert load_embedder(str(model_dir("onnx", "clip-tiny"))).backend == "onnx"
    with pytest.raises(ModelError, match="--backend onnx"):
        load_embedder(str(model_dir("onnx", "clip-tiny")), backend="mlx")
    with pytest.raises(ModelError, match="not a model folder"):
        load_embedder(str(tmp_path))
    with pytest.raises(ModelError, match="trove models"):
        load_embedder("clip-vit-b99")


def test_text_tower_alone_in_a_folder(tmp_path):
    """A folder with no image tower at all still answers text queries."""
    src = model_dir("onnx", "clip-tiny")
    shutil.copytree(src / "textual", tmp_path / "m" / "textual")
    shutil.copy(src / "config.json", tmp_path / "m" / "config.json")
    e = load_embedder(str(tmp_path / "m"), towers="text")
    assert cosines(e.encode_texts(META["texts"][:2]), REF["clip-tiny.text"][:2]).min() >= 0.9999
    with pytest.raises(ModelError, match="no image tower"):
        load_embedder(str(tmp_path / "m"), towers="image")


def test_auto_backend_is_onnx_off_apple_silicon(monkeypatch):
    import phototrove.embed as embed

    monkeypatch.setattr(embed, "apple_silicon", lambda: False)
    assert pick_backend("auto") == "onnx"
    monkeypatch.setattr(embed, "apple_silicon", lambda: True)
    assert pick_backend("auto") == ("mlx" if HAS_MLX else "onnx")
    with pytest.raises(ModelError, match="unknown backend"):
        pick_backend("tpu")


def test_plugin_hook_still_works():
    e = load_embedder("embed_plugin:make")
    assert e.model_id == "plugin-tiny"


def test_background_loading(tmp_path):
    from PIL import Image

    e = load_embedder(str(model_dir("onnx", "clip-tiny")), towers="image", background=True)
    assert e.model_id == "clip-tiny"  # known before the weights are loaded
    red = [Image.new("RGB", (50, 40), "red")]
    inline = load_embedder(str(model_dir("onnx", "clip-tiny")), towers="image")
    assert cosines(e.encode_images(red), inline.encode_images(red)).min() > 0.99999
    # a load that fails in the thread fails at first use, as a ModelError
    broken = tmp_path / "broken"
    shutil.copytree(model_dir("onnx", "clip-tiny"), broken)
    (broken / "visual" / "model.onnx").write_bytes(b"not an onnx graph")
    e = load_embedder(str(broken), towers="image", background=True)
    assert e.model_id == "broken"
    with pytest.raises(ModelError, match="cannot load"):
        e.encode_pixels(np.zeros((1, 3, 224, 224), np.float32))
