"""The text tower's optimized graph kept in the library (`models/<model>/textual-graph-<key>/`): made
by the first text query, reused by the next ones, made again when damaged, skipped (and never
needed) in a library that cannot be written."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from embed_fixtures import PHOTOS, model_dir
from phototrove.embed import load_embedder

TINY = model_dir("onnx", "clip-tiny")
REPO = Path(__file__).resolve().parents[1]


def graph_entries(library):
    folder = library / "models" / "clip-tiny"
    return sorted(p for p in folder.iterdir() if p.name.startswith("textual-graph-")) if folder.exists() else []


def stamp(path):
    st = path.stat()
    return st.st_ino, st.st_mtime_ns, st.st_size


def scores(trove):
    return [(h["hash"], h["score"]) for h in trove.json_lines("search", "a photo", "--semantic")]


@pytest.fixture
def library(trove):
    trove("ingest", "folder", PHOTOS, "--model", TINY, "--no-tags")
    assert graph_entries(trove.library) == []      # ingesting makes no text graph
    return trove


def test_made_by_the_first_query_and_reused(library):
    trove = library
    first = scores(trove)
    assert len(first) == 5
    (entry,) = graph_entries(trove.library)
    files = {p.name for p in entry.iterdir()}
    assert {"model.onnx", "meta.json"} <= files
    before = {name: stamp(entry / name) for name in files}
    assert scores(trove) == first                            # the same scores from the saved graph
    assert graph_entries(trove.library) == [entry]
    assert {name: stamp(entry / name) for name in files} == before   # reused, not written again
    r = trove.run("search", "a photo", "--semantic", "--json")   # a fresh process too
    assert r.returncode == 0, r.stderr
    assert {name: stamp(entry / name) for name in files} == before


def test_the_saved_graph_embeds_as_the_export_does(tmp_path):
    plain = load_embedder(str(TINY), towers="text")
    texts = ["a photo of a cat", "rocket", ""]
    want = plain.encode_texts(texts)
    made = load_embedder(str(TINY), towers="text", cache_dir=tmp_path)      # saves it
    used = load_embedder(str(TINY), towers="text", cache_dir=tmp_path)      # loads it
    (entry,) = [p for p in (tmp_path / "clip-tiny").iterdir() if p.name.startswith("textual-graph-")]
    assert "model.data" in {p.name for p in entry.iterdir()}    # the weights apart, memory-mapped
    np.testing.assert_allclose(made.encode_texts(texts), want, atol=1e-5)
    np.testing.assert_allclose(used.encode_texts(texts), want, atol=1e-5)


@pytest.mark.parametrize("damage", ["weights truncated", "graph garbage", "meta missing"])
def test_a_damaged_graph_is_made_again(library, damage):
    trove = library
    first = scores(trove)
    (entry,) = graph_entries(trove.library)
    if damage == "weights truncated":
        path = entry / "model.data"
        with open(path, "r+b") as f:
            f.truncate(path.stat().st_size // 3)
    elif damage == "graph garbage":   # the same size: only loading it can tell
        path = entry / "model.onnx"
        path.write_bytes(bytes(path.stat().st_size))
    else:
        (entry / "meta.json").unlink()
    assert scores(trove) == first
    (again,) = graph_entries(trove.library)
    assert (again / "meta.json").exists()
    assert load_embedder(str(TINY), towers="text", cache_dir=trove.library / "models").encode_texts(["x"]).shape[0] == 1
    sizes = {p.name: p.stat().st_size for p in again.iterdir()}
    assert scores(trove) == first
    assert {p.name: p.stat().st_size for p in again.iterdir()} == sizes


def test_a_library_that_cannot_be_written_still_searches(library):
    trove = library
    models = trove.library / "models"
    models.write_bytes(b"")          # not a folder: nothing can be made in it (even as root)
    first = scores(trove)
    assert len(first) == 5 and models.is_file()
    r = trove.run("search", "a photo", "--semantic", "--json")
    assert r.returncode == 0 and r.stderr == "", r.stderr


def mount(*args: str) -> bool:
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


def test_a_read_only_library_searches_and_uses_the_graph_it_has(library, tmp_path):
    trove = library
    first = scores(trove)                       # made while writable
    (entry,) = graph_entries(trove.library)
    view = tmp_path / "ro"
    view.mkdir()
    if not (mount("--bind", str(trove.library), str(view)) and mount("-o", "remount,bind,ro", str(view))):
        pytest.skip("cannot make a read-only bind mount here (needs CAP_SYS_ADMIN)")
    try:
        ro = type(trove)(view)
        before = sorted(os.walk(view))
        assert scores(ro) == first
        r = ro.run("search", "a photo", "--semantic", "--json")
        assert r.returncode == 0, r.stderr
        assert sorted(os.walk(view)) == before
        # the graph it has is damaged and cannot be made again: the export itself is used
        subprocess.run(["umount", str(view)], check=True)
        (entry / "meta.json").unlink()
        assert mount("--bind", str(trove.library), str(view)) and mount("-o", "remount,bind,ro", str(view))
        assert scores(ro) == first
        assert not (entry / "meta.json").exists()
    finally:
        subprocess.run(["umount", str(view)])


# -- the text tower on the query's own tokens (embed/short_text.py) -------------------------------------
TEXTS = ["a dog", "a red car on a beach at night", "", "東京の夜景 2019", " ".join(["the red car"] * 40)]


def open_clip_tower(folder, causal=True):
    """A tiny text tower shaped like immich's open_clip exports: input (n, 77), a (77, width)
    positional constant and a (77, 77) causal mask, pooled at the end token; a real CLIP tokenizer."""
    import sys

    sys.path.insert(0, str(REPO / "bench"))
    from vitb32 import TEXT, build_vitb32

    return build_vitb32(folder, towers=("textual",), text={**TEXT, "width": 16, "layers": 2, "heads": 2},
                        causal=causal)


def as_constant_nodes(folder):
    """The tower with its (77, ...) tables as Constant nodes instead of initializers (as some
    exporters write them): the graph's first nodes, before anything that uses them."""
    import onnx
    from onnx import helper

    path = folder / "textual" / "model.onnx"
    model = onnx.load(str(path))
    tables = [t for t in model.graph.initializer if len(t.dims) >= 2 and t.dims[0] == 77]
    assert len(tables) == 2   # the positional table and the causal mask
    for t in tables:
        model.graph.initializer.remove(t)
    body = list(model.graph.node)
    del model.graph.node[:]
    model.graph.node.extend([helper.make_node("Constant", [], [t.name], value=t) for t in tables] + body)
    onnx.save(model, str(path))
    return folder


def fed_lengths(embedder):
    """Records the token length of every run of the text tower (a wrapper around the real run)."""
    lengths, real = [], embedder._textual.run

    def run(feeds, quiet=False):
        lengths.append(next(iter(feeds.values())).shape[1])
        return real(feeds, quiet)

    embedder._textual.run = run
    return lengths


@pytest.mark.parametrize("kind", ["open_clip", "open_clip_constant_nodes", "hf_clip"])
def test_a_clip_text_tower_runs_on_the_querys_tokens_and_gives_the_same_vectors(kind, tmp_path):
    folder = {"open_clip": lambda: open_clip_tower(tmp_path / "model"),
              "open_clip_constant_nodes": lambda: as_constant_nodes(open_clip_tower(tmp_path / "model")),
              "hf_clip": lambda: TINY}[kind]()
    padded = load_embedder(str(folder), towers="text", backend="onnx")       # no cache: the graph as exported
    short = load_embedder(str(folder), towers="text", backend="onnx", cache_dir=tmp_path / "models")
    assert short._textual.short_inputs and not padded._textual.short_inputs
    lengths = fed_lengths(short)
    for text in TEXTS:
        a, b = padded.encode_texts([text]), short.encode_texts([text])
        assert np.abs(a - b).max() < 1e-5, text
    tokens = [int(short._tokenizer.encode([t])[1].sum()) for t in TEXTS]   # start, words, end
    assert lengths == tokens and tokens[0] < 8 and tokens[2] == 2
    assert lengths[-1] == 77   # the long one fills the context: nothing to cut
    batch = short.encode_texts(TEXTS)   # a batch runs at its longest text's length
    assert np.abs(batch - padded.encode_texts(TEXTS)).max() < 1e-5 and lengths[-1] == 77
    # decided once: the next process reads it from the entry, and does not probe again
    (meta,) = (tmp_path / "models").glob("*/textual-graph-*/meta.json")
    assert json.loads(meta.read_text())["short_inputs"] is True
    import phototrove.embed.short_text as short_text

    probes = []
    real_agrees = short_text.agrees
    short_text.agrees = lambda *a: probes.append(a) or real_agrees(*a)
    try:
        again = load_embedder(str(folder), towers="text", backend="onnx", cache_dir=tmp_path / "models")
    finally:
        short_text.agrees = real_agrees
    assert again._textual.short_inputs and probes == []


@pytest.mark.parametrize("kind", ["not_causal", "siglip"])
def test_a_tower_that_needs_its_padding_keeps_it(kind, tmp_path):
    """A tower that sees the padding (no causal mask) or pools elsewhere and fixes its length
    inside the graph (SigLIP) is found out by the probes: it runs padded, with the same vectors."""
    folder = open_clip_tower(tmp_path / "model", causal=False) if kind == "not_causal" else \
        model_dir("onnx", "siglip-tiny")
    padded = load_embedder(str(folder), towers="text", backend="onnx")
    cached = load_embedder(str(folder), towers="text", backend="onnx", cache_dir=tmp_path / "models")
    assert not cached._textual.short_inputs
    lengths = fed_lengths(cached)
    assert np.abs(padded.encode_texts(TEXTS) - cached.encode_texts(TEXTS)).max() < 1e-5
    assert set(lengths) == {padded._tokenizer.context_length}
    (meta,) = (tmp_path / "models").glob("*/textual-graph-*/meta.json")
    assert json.loads(meta.read_text())["short_inputs"] is False


def test_a_search_through_the_cli_uses_the_short_tower_and_finds_the_same(library):
    trove = library
    models = trove.library / "models"
    models.write_bytes(b"")          # no cache can be made: the export runs, padded
    padded = scores(trove)
    models.unlink()
    made = scores(trove)             # makes the graph, and decides
    (entry,) = graph_entries(trove.library)
    assert json.loads((entry / "meta.json").read_text())["short_inputs"] is True
    for found in (made, scores(trove)):
        assert [h for h, _ in found] == [h for h, _ in padded]
        assert max(abs(a - b) for (_, a), (_, b) in zip(found, padded)) < 1e-4
