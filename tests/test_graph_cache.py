"""The text tower's optimized graph kept in the library (`models/<model>/textual-graph-<key>/`): made
by the first text query, reused by the next ones, made again when damaged, skipped (and never
needed) in a library that cannot be written."""
from __future__ import annotations

import os
import subprocess

import numpy as np
import pytest

from embed_fixtures import PHOTOS, model_dir
from phototrove.embed import load_embedder

TINY = model_dir("onnx", "clip-tiny")


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
    (entry,) = [p for p in (tmp_path / "clip-tiny").iterdir() if not p.name.startswith(".")]
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
