"""The vector index searches wide enough to find what an exact search finds (bench/recall.py): a
collection is made with HNSW's ef_search, one made before gets it at the next sync, and the
searching process (the Rust reader a cold `trove search` uses) finds more of the exact top 20."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
from recall import clip_like  # noqa: E402
from synth import fill_catalog  # noqa: E402

import phototrove.search.index as index_module  # noqa: E402
from phototrove.library import Library  # noqa: E402
from phototrove.search.index import ChromaIndex  # noqa: E402

MODEL, N = "clip-shaped", 20_000

SEARCH = """
import json, sys
import numpy as np
from phototrove.library import Library
from phototrove.search.index import ChromaIndex
index = ChromaIndex(Library(sys.argv[1]), readonly=True)
col = index.collection(sys.argv[2])
queries = np.load(sys.argv[3])
got = [col.query(query_embeddings=[q], n_results=20, include=[])["ids"][0] for q in queries]
print(json.dumps({"ids": got, "reader": type(col).__name__}))
"""


def recall_in_a_new_process(root: Path, queries_file: Path, exact: list[set]) -> tuple[float, str]:
    out = subprocess.run([sys.executable, "-c", SEARCH, str(root), MODEL, str(queries_file)], capture_output=True,
                         text=True, check=True, cwd=REPO)
    answer = json.loads(out.stdout)
    return float(np.mean([len(set(g) & e) / 20 for g, e in zip(answer["ids"], exact)])), answer["reader"]


def test_an_index_made_with_fewer_candidates_is_widened_and_then_finds_more(tmp_path, monkeypatch):
    library = Library(tmp_path / "library")
    vectors, queries = clip_like(N, 40)
    with library.writing() as cat:
        fill_catalog(cat, N, rng=np.random.default_rng(3), path_of=lambda i: f"/synthetic/{i}.jpg", model_id=MODEL,
                     copies=0, near=0)
        ids = [r[0] for r in cat.db.execute("SELECT photo_id FROM embeddings ORDER BY photo_id")]
        with cat.transaction():
            cat.db.executemany("UPDATE embeddings SET vector=?, dtype='float32' WHERE photo_id=?",
                               [(v.astype("<f4").tobytes(), pid) for v, pid in zip(vectors, ids)])
        by_id = cat.hashes_by_id(ids)
        hashes = np.array([by_id[pid] for pid in ids])
    exact = [set(hashes[np.argpartition(-(vectors @ q), 20)[:20]].tolist()) for q in queries]
    np.save(tmp_path / "queries.npy", queries)

    # an index made as trove made them before: Chroma's default of 100 candidates
    monkeypatch.setattr(index_module, "HNSW", {"space": "cosine", "ef_search": 100})
    with library.writing() as cat:
        assert ChromaIndex(library).sync(cat, show_progress=False) == N
    before, reader = recall_in_a_new_process(library.root, tmp_path / "queries.npy", exact)
    assert reader == "CollectionReader"   # the Rust engine's reader, as `trove search` uses it

    monkeypatch.undo()
    with library.writing() as cat:
        index = ChromaIndex(library)
        assert index.sync(cat, show_progress=False) == 0   # nothing sent again: only the setting changes
        assert index.collection(MODEL).configuration["hnsw"]["ef_search"] == index_module.HNSW["ef_search"]
    after, _ = recall_in_a_new_process(library.root, tmp_path / "queries.npy", exact)
    assert after >= 0.85 and after >= before + 0.1, (before, after)
