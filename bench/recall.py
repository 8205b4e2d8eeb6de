"""What the vector index finds, against an exact search of the same vectors (the limit: every
vector scored), on embeddings shaped like CLIP's rather than uniform random ones.

Uniform random 512-d vectors are HNSW's worst case and say nothing about photos: every pair is
nearly equidistant. Real image embeddings sit in a narrow cone (unrelated photos at cosine ~0.4-0.5),
in clusters (the same scene or subject at ~0.8-0.9) and in far fewer dimensions than 512. The
vectors here are made that way: a shared direction, ~N/25 clusters of Zipf-distributed sizes in a
96-d subspace, per-photo spread, a little isotropic noise; queries lean towards a cluster as a text
query leans towards its photos. The figures it prints for them (unrelated/same-cluster/query
cosines) say how close that is to a real model's.

For trove's collection settings (phototrove.search.index.HNSW) and, beside them, Chroma's default
ef_search (100, what trove used before), a still larger one and more neighbours, one JSON line each: build seconds, recall@20 (share of the exact top
20 returned), the worst query's recall, mean cosine lost (exact top 20's mean minus the returned
20's: near 0 when the misses are near-ties), query p50/p95 ms.

    python bench/recall.py [--photos 100000] [--queries 100]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DIM, SUBSPACE, K = 512, 96, 20


def emit(**kw) -> None:
    print(json.dumps(kw), flush=True)


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def clip_like(n: int, queries: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    cone = unit(rng.normal(size=DIM))
    basis = np.linalg.qr(rng.normal(size=(DIM, SUBSPACE)))[0]
    sub = lambda rows: unit(rng.normal(size=(rows, SUBSPACE)) @ basis.T)  # noqa: E731
    clusters = max(1, n // 25)
    sizes = rng.zipf(1.6, clusters).clip(1, n // 10 or 1).astype(float)
    label = np.repeat(np.arange(clusters), (sizes / sizes.sum() * n).astype(int) + 1)[:n]
    centers = unit(0.9 * cone + 0.75 * sub(clusters) + 0.05 * unit(rng.normal(size=(clusters, DIM))))
    vectors = unit(centers[label] + 0.7 * sub(n) + 0.08 * unit(rng.normal(size=(n, DIM))))
    asked = unit(0.6 * cone + 0.5 * centers[rng.integers(0, clusters, queries)] + 0.3 * sub(queries))
    same = vectors[label == np.bincount(label).argmax()][:50]   # (of the largest cluster: a singleton says 1.0)
    emit(bench="recall", case="vectors", photos=n, clusters=clusters, largest_cluster=int(sizes.max()),
         unrelated_cos=round(float(np.mean(vectors[:500] @ vectors[-500:].T)), 3),
         same_cluster_cos=round(float(np.mean(same @ same.T)), 3),
         query_best_cos=round(float(np.mean(np.max(asked @ vectors.T, axis=1))), 3),
         real_clip_for_comparison="unrelated photos ~0.4-0.5, same scene ~0.8-0.9, text to its best photo ~0.3")
    return vectors, asked


def measure(vectors: np.ndarray, asked: np.ndarray, hnsw: dict, label: str) -> None:
    import chromadb
    from chromadb.config import Settings

    with tempfile.TemporaryDirectory() as store:
        client = chromadb.PersistentClient(path=store, settings=Settings(anonymized_telemetry=False))
        col = client.create_collection("recall-bench", configuration={"hnsw": hnsw}, embedding_function=None)
        t = time.perf_counter()
        for i in range(0, len(vectors), 1000):
            col.add(ids=[str(j) for j in range(i, min(len(vectors), i + 1000))], embeddings=vectors[i:i + 1000])
        built = time.perf_counter() - t
        col.query(query_embeddings=asked[:1], n_results=K, include=[])   # the index loaded
        recalls, lost, times = [], [], []
        for q in asked:
            t = time.perf_counter()
            got = col.query(query_embeddings=[q], n_results=K, include=[])["ids"][0]
            times.append((time.perf_counter() - t) * 1000)
            scores = vectors @ q
            exact = np.argpartition(-scores, K)[:K]
            got = np.array([int(g) for g in got])
            recalls.append(len(set(got.tolist()) & set(exact.tolist())) / K)
            lost.append(float(scores[exact].mean() - scores[got].mean()))
        client.clear_system_cache()
    times.sort()
    emit(bench="recall", case=label, hnsw=hnsw, photos=len(vectors), build_s=round(built, 1),
         recall_at_20=round(statistics.mean(recalls), 3), worst_recall=min(recalls),
         mean_cos_lost=round(statistics.mean(lost), 4), p50_ms=round(statistics.median(times), 2),
         p95_ms=round(times[int(0.95 * (len(times) - 1))], 2))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=100)
    args = ap.parse_args()
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    from phototrove.search.index import HNSW

    vectors, asked = clip_like(args.photos, args.queries)
    t = time.perf_counter()
    for q in asked:
        np.argpartition(-(vectors @ q), K)[:K]
    emit(bench="recall", case="exact", photos=len(vectors), recall_at_20=1.0,
         p50_ms=round((time.perf_counter() - t) / len(asked) * 1000, 2),
         where="numpy: every vector scored (one thread of BLAS per query here), then the top 20")
    measure(vectors, asked, dict(HNSW), "trove")
    measure(vectors, asked, {**HNSW, "ef_search": 100}, "chroma_default_ef_search_100")
    measure(vectors, asked, {**HNSW, "ef_search": 800}, "ef_search_800")
    measure(vectors, asked, {**HNSW, "max_neighbors": 32}, "max_neighbors_32")


if __name__ == "__main__":
    main()
