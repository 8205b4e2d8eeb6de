"""The read-only path on Chroma's engine returns what chromadb's own client returns, on the same store."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from search_support import SPEC, TESTS, build_library

from phototrove.library import Library
from phototrove.search.chroma_reader import open_reader
from phototrove.search.index import ChromaIndex


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    trove, _ = build_library(tmp_path_factory.mktemp("lib"), None)
    library = Library(trove.library)
    client_index = ChromaIndex(library)  # chromadb's client
    name = next(c.name for c in client_index.client.list_collections())
    return trove, library, client_index.client.get_collection(name), open_reader(str(library.chroma_dir)), name


def test_reader_matches_the_client(store):
    _, _, client_col, reader, name = store
    assert reader is not None
    col = reader.get_collection(name)
    assert (col.id, col.metadata, col.count()) == (client_col.id, client_col.metadata, client_col.count())
    rng = np.random.default_rng(3)
    dim = col.metadata["trove_dim"]
    for where in (None, {"t": {"$gte": 0}}, {"$and": [{"fav": True}, {"t": {"$gte": 0}}]}):
        for _ in range(3):
            q = rng.standard_normal(dim).astype(np.float32)
            q /= np.linalg.norm(q)
            want = client_col.query(query_embeddings=[q], n_results=5, where=where, include=["distances", "metadatas"])
            got = col.query(query_embeddings=[q], n_results=5, where=where, include=["distances", "metadatas"])
            assert got["ids"] == want["ids"]
            np.testing.assert_allclose(got["distances"], want["distances"], rtol=1e-6)
            assert got["metadatas"] == want["metadatas"]
    some = client_col.get(limit=3, include=[])["ids"]
    assert col.get(ids=some, include=["metadatas"])["metadatas"] == client_col.get(ids=some, include=["metadatas"])["metadatas"]
    assert sorted(col.get(where={"fav": True}, include=[])["ids"]) == sorted(
        client_col.get(where={"fav": True}, include=[])["ids"])


def test_no_store_no_reader(tmp_path):
    assert open_reader(str(tmp_path / "chroma")) is None
    assert not (tmp_path / "chroma").exists()  # looking created nothing


def test_cli_search_does_not_import_the_chromadb_client(store):
    """The point of the reader: a cold `trove search` skips the ~1.3 s chromadb import."""
    trove, library, *_ = store
    code = ("import sys; from phototrove.cli import main\n"
            f"try: main(['--library', {str(library.root)!r}, 'search', 'red', '--model', {SPEC!r}])\n"
            "except SystemExit as e: assert e.code == 0, e.code\n"
            "print('client imported' if 'chromadb.api' in sys.modules else 'engine only')")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), str(TESTS.parent)])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "engine only"
