"""`--precision int8`: the image tower quantized once with onnxruntime's dynamic quantization, kept in
the library (`models/<model>/visual-int8-<key>/`), reused, rebuilt when broken, never half-written;
embeddings close to float32 on the fixture photos; and `trove ingest folder --precision int8` end to
end. Only the committed tiny models are used."""
from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap

import numpy as np
import onnx
import pytest

from embed_fixtures import META, PHOTOS, REF, cosines, model_dir, normalized_pixels
from phototrove.embed import ModelError, load_embedder
from phototrove.embed import quantize as quantize_module

MODELS = ["clip-tiny", "siglip-tiny"]
MIN_COSINE = 0.99   # measured 0.9998 on both tiny models (AVX2 without VNNI, 7-bit weights)


def int8(name: str, cache, **kw):
    return load_embedder(str(model_dir("onnx", name)), towers="image", precision="int8", cache_dir=cache, **kw)


def entries(cache, name="clip-tiny", kind="visual-int8"):
    """The visible (not temporary) cache entries of one kind."""
    folder = cache / name
    return sorted(p for p in folder.iterdir() if p.name.startswith(f"{kind}-")) if folder.exists() else []


def model_file(cache, name="clip-tiny"):
    (entry,) = entries(cache, name)
    return entry / "model.onnx"


@pytest.fixture
def quantizations(monkeypatch):
    """Counts the calls of the real quantizer."""
    calls = []
    real = quantize_module.quantize

    def counted(source, out, **kw):
        calls.append(source)
        return real(source, out, **kw)
    monkeypatch.setattr(quantize_module, "quantize", counted)
    return calls


@pytest.mark.parametrize("name", MODELS)
def test_int8_embeddings_stay_close_to_float32(tmp_path, name):
    fp32 = load_embedder(str(model_dir("onnx", name)), towers="image")
    q = int8(name, tmp_path / "models")
    assert q.precision == "int8" and q.model_id == fp32.model_id == name   # the same embedding space
    x = normalized_pixels(name, fp32.pre_cfg)
    a, b = fp32.encode_pixels(x), q.encode_pixels(x)
    assert len(a) == len(META["photos"]) == 5
    cos = cosines(a, b)
    assert cos.min() > MIN_COSINE, cos
    assert not np.allclose(a, b, atol=1e-6)     # it really ran another graph
    assert cosines(b, REF[f"{name}.image"]).min() > MIN_COSINE


def test_the_cached_model_is_quantized(tmp_path):
    int8("clip-tiny", tmp_path / "models")
    ops = {n.op_type for n in onnx.load(str(model_file(tmp_path / "models"))).graph.node}
    assert ops & {"DynamicQuantizeLinear", "MatMulInteger", "DynamicQuantizeMatMul", "MatMulIntegerToFloat"}, ops
    weights = [t for t in onnx.load(str(model_file(tmp_path / "models"))).graph.initializer
               if t.data_type == onnx.TensorProto.INT8]
    assert weights, "no int8 weights"
    original = {n.op_type for n in onnx.load(str(model_dir("onnx", "clip-tiny") / "visual" / "model.onnx")).graph.node}
    assert "MatMul" in original


def test_made_once_then_reused(tmp_path, quantizations):
    cache = tmp_path / "models"
    first = int8("clip-tiny", cache)
    path = model_file(cache)
    st = path.stat()
    assert len(quantizations) == 1
    second = int8("clip-tiny", cache)
    assert len(quantizations) == 1                                   # not quantized again
    assert model_file(cache) == path
    assert (path.stat().st_ino, path.stat().st_mtime_ns) == (st.st_ino, st.st_mtime_ns)
    x = normalized_pixels("clip-tiny", first.pre_cfg)
    np.testing.assert_array_equal(first.encode_pixels(x), second.encode_pixels(x))
    assert "int8" in second.device


def test_a_changed_source_model_makes_a_new_one(tmp_path, quantizations):
    src = tmp_path / "clip-tiny"
    shutil.copytree(model_dir("onnx", "clip-tiny"), src)
    cache = tmp_path / "models"
    load_embedder(str(src), towers="image", precision="int8", cache_dir=cache)
    old = model_file(cache)
    st = (src / "visual" / "model.onnx").stat()
    os.utime(src / "visual" / "model.onnx", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    load_embedder(str(src), towers="image", precision="int8", cache_dir=cache)
    assert len(quantizations) == 2
    assert model_file(cache) != old and not old.exists()      # the stale one is gone


@pytest.mark.parametrize("damage", ["truncated", "emptied", "garbage", "no meta"])
def test_a_damaged_cache_is_made_again(tmp_path, quantizations, damage):
    cache = tmp_path / "models"
    fp32 = load_embedder(str(model_dir("onnx", "clip-tiny")), towers="image")
    int8("clip-tiny", cache)
    path = model_file(cache)
    data = path.read_bytes()
    if damage == "truncated":     # what a copy cut short leaves
        with open(path, "r+b") as f:
            f.truncate(len(data) // 2)
    elif damage == "emptied":
        path.write_bytes(b"")
    elif damage == "garbage":     # same size, bytes that are no model: only loading it can tell
        path.write_bytes(bytes(len(data)))
    else:
        (path.parent / "meta.json").unlink()
    q = int8("clip-tiny", cache)
    assert len(quantizations) == 2
    x = normalized_pixels("clip-tiny", fp32.pre_cfg)
    assert cosines(fp32.encode_pixels(x), q.encode_pixels(x)).min() > MIN_COSINE
    assert model_file(cache).stat().st_size == len(data)


def test_an_interrupted_quantization_leaves_nothing_usable(tmp_path, monkeypatch):
    cache = tmp_path / "models"

    def interrupted(source, out, **kw):
        out.write_bytes(b"\x08\x07half a model")
        raise KeyboardInterrupt
    monkeypatch.setattr(quantize_module, "quantize", interrupted)
    with pytest.raises(KeyboardInterrupt):
        int8("clip-tiny", cache)
    assert entries(cache) == [] and not [p for p in (cache / "clip-tiny").iterdir()]
    monkeypatch.undo()
    q = int8("clip-tiny", cache)
    assert q.encode_pixels(normalized_pixels("clip-tiny", q.pre_cfg)).shape == (5, q.dim)


KILLED = textwrap.dedent("""
    import sys, time
    from phototrove.embed import load_embedder, quantize

    def slow(source, out, **kw):
        with open(out, "wb") as f:
            f.write(b"\\x08\\x07" + b"x" * 100000)   # a partial model on disk...
            f.flush()
            print("writing", flush=True)
            time.sleep(120)                       # ...when the process is killed
    quantize.quantize = slow
    load_embedder(sys.argv[1], towers="image", precision="int8", cache_dir=sys.argv[2])
""")


def test_a_run_killed_mid_quantize_leaves_no_broken_cache(tmp_path, quantizations):
    cache = tmp_path / "models"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    p = subprocess.Popen([sys.executable, "-c", KILLED, str(model_dir("onnx", "clip-tiny")), str(cache)],
                         stdout=subprocess.PIPE, env=env, text=True)
    try:
        assert p.stdout.readline().strip() == "writing"
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait(30)
    left = list((cache / "clip-tiny").iterdir())
    assert left and all(e.name.startswith(".") and e.name.endswith(".tmp") for e in left)   # hidden, never an entry
    assert entries(cache) == []
    q = int8("clip-tiny", cache)
    assert len(quantizations) == 1                     # made properly, the partial file not used
    assert cosines(q.encode_pixels(normalized_pixels("clip-tiny", q.pre_cfg)), REF["clip-tiny.image"]).min() > MIN_COSINE


def test_quantization_tools_missing_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime.quantization", None)   # as without the onnx package
    with pytest.raises(ModelError, match=r"--precision int8 needs onnxruntime's quantization tools.*pip install onnx"):
        int8("clip-tiny", tmp_path / "models")
    assert entries(tmp_path / "models") == []


def test_quantization_failing_is_one_clear_error(tmp_path, monkeypatch):
    from onnxruntime import quantization

    def broken(*a, **k):
        raise ValueError("unsupported op\nmore lines")
    monkeypatch.setattr(quantization, "quantize_dynamic", broken)
    with pytest.raises(ModelError) as e:
        int8("clip-tiny", tmp_path / "models")
    assert "cannot quantize" in str(e.value) and "\n" not in str(e.value)


def test_int8_is_onnx_only(tmp_path):
    with pytest.raises(ModelError, match="ONNX backend only"):
        load_embedder(str(model_dir("hf", "clip-tiny")), towers="image", precision="int8", cache_dir=tmp_path)
    with pytest.raises(ModelError, match="custom embedder"):
        load_embedder("embed_plugin:make", towers="image", precision="int8", cache_dir=tmp_path)
    with pytest.raises(ModelError, match="unknown precision"):
        load_embedder(str(model_dir("onnx", "clip-tiny")), towers="image", precision="int4", cache_dir=tmp_path)
    # text only: nothing to quantize, the text tower stays float32
    t = load_embedder(str(model_dir("onnx", "clip-tiny")), towers="text", precision="int8", cache_dir=tmp_path)
    assert t.precision == "fp32" and not entries(tmp_path)


def test_seven_bit_weights_without_vnni():
    assert quantize_module.has_vnni({"avx2", "avx512_vnni"}) and quantize_module.has_vnni({"avx_vnni"})
    assert not quantize_module.has_vnni({"avx2", "fma", "avx512f"})


# -- the command -----------------------------------------------------------------------------------
def test_ingest_folder_int8_end_to_end(trove):
    tiny = model_dir("onnx", "clip-tiny")
    r = trove("ingest", "folder", PHOTOS, "--model", tiny, "--precision", "int8", "--no-tags", quiet=False)
    assert "5 embedded" in r.stdout
    assert "int8" in r.stderr and "quantizing the image tower" in r.stderr       # the run says it
    (entry,) = entries(trove.library / "models")
    assert (entry / "model.onnx").stat().st_size > 0
    db = sqlite3.connect(trove.library / "catalog.db")
    rows = db.execute("SELECT l.path, e.model, e.vector FROM embeddings e JOIN locations l ON l.photo_id=e.photo_id")
    got = {path.rsplit("/", 1)[-1]: (model, np.frombuffer(blob, "<f4")) for path, model, blob in rows}
    assert sorted(got) == sorted(META["photos"])
    for i, photo in enumerate(META["photos"]):
        model, vec = got[photo]
        assert model == "clip-tiny"
        assert float(vec @ REF["clip-tiny.image"][i]) > MIN_COSINE, photo
    hits = trove.json_lines("search", "a photo")
    assert sorted(os.path.basename(h["open_path"]) for h in hits) == sorted(META["photos"])
    # a second run reuses the cached model
    st = (entry / "model.onnx").stat()
    trove("ingest", "folder", PHOTOS, "--precision", "int8", "--no-tags")
    assert (entry / "model.onnx").stat().st_mtime_ns == st.st_mtime_ns


def test_ingest_int8_with_mlx_is_a_usage_error(trove):
    r = trove("ingest", "folder", PHOTOS, "--model", model_dir("hf", "clip-tiny"), "--precision", "int8", code=2)
    assert r.stderr.strip().count("\n") == 0 and "ONNX backend only" in r.stderr


def test_ingest_int8_without_quantization_tools_says_so_in_one_line(trove, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime.quantization", None)
    r = trove("ingest", "folder", PHOTOS, "--model", model_dir("onnx", "clip-tiny"), "--precision", "int8",
              "--no-tags", code=2)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("trove: ") and "pip install onnx" in lines[0], r.stderr
    assert "Traceback" not in r.output
