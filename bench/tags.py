"""Auto-tags and the words index at scale: 100,000 photos with stored random unit embeddings
(bench/search.py's library, 512-d as ViT-B/32's) and titles and keywords drawn from a word list.
Prints one JSON object per line:

  vocabulary   embedding the built-in vocabulary's prompts once with a random-weight ViT-B/32 text
               tower (bench/vitb32.py): seconds (a one-time cost per model, cached in the library)
  tag          the tag stage over every stored embedding: seconds (target < 30), beside the limit
               measured in the same run: reading the vectors and one matrix product with the
               vocabulary, nothing written
  text_index   building the FTS5 rows of every photo: seconds and photos/s
  text_search  warm words queries (one or two words), p50/p95 ms (target p95 < 20)

Usage: python bench/tags.py [--photos 100000] [--out bench/out/tags] [--reuse]
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

WORDS = ("birthday wedding beach holiday grandma studio concert garden kitchen harbour mountain market "
         "museum picnic school skiing sunset trip summer winter dog cat bike paris rome berlin tokyo lisbon "
         "baratunde susan maria chen ahmed olga").split()


def emit(**fields) -> None:
    print(json.dumps(fields, sort_keys=True), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", type=int, default=100_000)
    ap.add_argument("--out", type=Path, default=HERE / "out" / "tags")
    ap.add_argument("--reuse", action="store_true", help="Keep the library a previous run left in --out.")
    args = ap.parse_args()
    import numpy as np

    from search import make_library
    from vitb32 import build_vitb32

    from phototrove.catalog import Catalog
    from phototrove.embed import load_embedder
    from phototrove.library import Library
    from phototrove.search.tags import Tagger, library_vocabulary

    model_dir = args.out / "vitb32"
    library = Library(args.out / "library")
    if not (args.reuse and library.catalog_path.exists()):
        shutil.rmtree(args.out, ignore_errors=True)
        args.out.mkdir(parents=True)
        build_vitb32(model_dir, towers=("textual",))
        model_id = load_embedder(str(model_dir), towers="text").model_id
        make_library(args.out, args.photos, model_id, np.random.default_rng(5))
        rng = random.Random(5)
        with Catalog(library.catalog_path) as cat, cat.db:
            cat.remember_model(model_id, str(model_dir))
            cat.db.executemany("UPDATE photos SET title=? WHERE id=?",
                               [(" ".join(rng.sample(WORDS, 3)), pid) for pid in range(1, args.photos + 1, 3)])
            cat.db.executemany("INSERT OR IGNORE INTO keywords(name) VALUES (?)", [(w,) for w in WORDS])
            ids = {r[1]: r[0] for r in cat.db.execute("SELECT id, name FROM keywords")}
            cat.db.executemany("INSERT OR IGNORE INTO photo_keywords(photo_id, keyword_id) VALUES (?,?)",
                               [(pid, ids[rng.choice(WORDS)]) for pid in range(1, args.photos + 1, 2)])
    with Catalog(library.catalog_path) as cat:
        model_id = cat.default_model()
        cat.db.execute("DELETE FROM photo_tagged")
        cat.db.execute("DELETE FROM photo_tags")
        cat.db.commit()
        shutil.rmtree(library.root / "tags", ignore_errors=True)
        tagger = Tagger(library, library_vocabulary(library), str(model_dir))
        t0 = time.perf_counter()
        tagger.prepare(model_id)
        emit(metric="vocabulary", concepts=len(tagger.vocabulary.concepts), seconds=round(time.perf_counter() - t0, 1))

        t0 = time.perf_counter()   # the limit: every vector read and scored, nothing decided or written
        vectors = np.stack([v for _, v in cat.photos_to_tag(model_id, tagger.vocabulary.digest, args.photos)])
        for i in range(0, len(vectors), 2048):
            _ = vectors[i:i + 2048] @ tagger._matrix.T
        limit = time.perf_counter() - t0
        t0 = time.perf_counter()
        n = tagger.run(cat, model_id)
        took = time.perf_counter() - t0
        tags = cat.db.execute("SELECT count(*) FROM photo_tags").fetchone()[0]
        emit(metric="tag", photos=n, tags=tags, seconds=round(took, 1), limit_s=round(limit, 1),
             ratio=round(took / limit, 2), target_s=30)

        cat.db.execute("INSERT OR IGNORE INTO text_dirty SELECT id FROM photos")
        cat.db.commit()
        t0 = time.perf_counter()
        done = cat.refresh_all_text()
        took = time.perf_counter() - t0
        emit(metric="text_index", photos=done, seconds=round(took, 1), per_second=round(done / took))

        rng = random.Random(9)
        queries = [" ".join(rng.sample(WORDS, rng.choice((1, 2)))) for _ in range(230)]
        times = []
        for i, q in enumerate(queries):
            t0 = time.perf_counter()
            hits = cat.text_matches(q, 60)
            if i >= 30:
                times.append((time.perf_counter() - t0) * 1000)
            assert hits, q
        times.sort()
        emit(metric="text_search", queries=len(times), results=60, p50_ms=round(statistics.median(times), 2),
             p95_ms=round(times[int(len(times) * 0.95) - 1], 2), target_p95_ms=20)


if __name__ == "__main__":
    main()
