"""Search and catalog speed at scale: N synthetic photos (bench/synth.py fill_catalog: 10 years of
dates, cameras, albums, 1% identical copies and 2% near-duplicates in groups of 2-4) with random unit
embeddings (ViT-B/32's 512 dimensions, no model run), indexed into the library's embedded ChromaDB.
Prints one JSON object per line, each with its limit where issue 19 gives one, and `where` (the
time goes):

  machine             cores and load average (other work on the machine slows every figure)
  setup               making the library (rows straight into catalog.db; symlinks to 1,000 JPEGs)
  cli_status          `trove status --json`: wall time, peak RSS (of the child: os.wait4)
  cli_list            `trove list --json` streamed: time to the first row, rows/s, peak RSS
  bulk_index          `trove index sync` into a fresh collection: vectors/s, peak RSS
  resync_noop         the same once more with nothing to do
  vector_table        what a warm process keeps for filtered queries (catalog_vectors.keep_warm)
  warm_query          in-process query latency p50/p95 (ms), unfiltered and with filters (one year,
                      one month, one album, one camera), with the table; and without it (today's
                      path in a process that does not keep one) for a few
  cold_cli_search     wall time of a fresh `trove search "text"` process with a random-weight
                      ViT-B/32-shaped text tower (bench/vitb32.py), or a line saying it is pending
  cold_cli_search_stub_model   the same process with a trivial text embedder: everything but the model
  report              HTML gallery of 200 results (with "more like this") once thumbnails are cached
  duplicates_find     the groups in-process (near-duplicate pair search, identical copies), vs planted
  report_duplicates   `trove report duplicates --json`, thumbnails cold then cached: wall, peak RSS

With --catalog-only (the default from 200,001 photos: `--photos 1000000`) there is no index and no
embedding: setup, cli_status, cli_list and duplicates_copies (the identical-copies half of `report
duplicates`, in a child process: the near-duplicate half needs embeddings, and the page thumbnails of
real files).

Usage: python bench/search.py [--photos 100000] [--out bench/out/search] [--reuse] [--catalog-only]
Limits: warm p95 < 10 ms unfiltered, < 20 ms filtered; cold CLI search < 0.8 s; report < 5 s;
report duplicates < 60 s at 100,000 photos.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]
from limits import installed_env  # noqa: E402

DIM = 512


def emit(**fields) -> None:
    print(json.dumps(fields, sort_keys=True), flush=True)


def make_library(root: Path, n: int, model_id: str | None, rng) -> dict:
    """The library (synth.fill_catalog). With a model: locations are symlinks to 1,000 real JPEGs
    (thumbnails can be made); catalog-only: paths of files that do not exist (nothing reads them)."""
    from PIL import Image

    from phototrove.catalog import Catalog
    from synth import fill_catalog

    photos = root / "photos"
    photos.mkdir(parents=True)
    if model_id:
        jpegs = root / "jpegs"
        jpegs.mkdir()
        colours = rng.integers(0, 256, size=(1000, 3))
        for i, c in enumerate(colours):
            Image.new("RGB", (640, 480), tuple(int(x) for x in c)).save(jpegs / f"{i}.jpg", quality=85)
        for i in range(n):
            os.symlink(jpegs / f"{i % 1000}.jpg", photos / f"{i:07d}.jpg")
    cat = Catalog(root / "library" / "catalog.db")
    cat.db.execute("PRAGMA synchronous=OFF")   # a benchmark's setup: nothing to lose
    planted = fill_catalog(cat, n, rng=rng, path_of=lambda i: str(photos / f"{i:07d}.jpg"), model_id=model_id,
                           dim=DIM, near=0.02 if model_id else 0.0)   # (a photo's backup copies are paths only: its thumbnail comes from photos/)
    cat.close()
    return planted


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


SPAWNER = r"""
import json, os, subprocess, sys, time
for request in sys.stdin:
    job = json.loads(request)
    err = open(job["err"] or os.devnull, "w")
    t0 = time.perf_counter()
    p = subprocess.Popen(job["args"], stdout=subprocess.PIPE, stderr=err, env=job["env"])
    first, lines, size, cut = None, 0, 0, False
    for line in p.stdout:
        if first is None:
            first = time.perf_counter() - t0
        lines += 1
        size += len(line)
        if job["cap"] and lines % 1000 == 0 and time.perf_counter() - t0 > job["cap"]:
            cut = True
            p.kill()
            break
    wall = time.perf_counter() - t0
    _, status, usage = os.wait4(p.pid, 0)
    err.close()
    print(json.dumps({"wall": wall, "first": first, "lines": lines, "bytes": size, "cut": cut,
                      "code": 0 if cut else os.waitstatus_to_exitcode(status), "maxrss_mb": usage.ru_maxrss / 1024}),
          flush=True)
"""
_spawner = None


def child(args: list[str], env: dict, *, out_file=None, cap: float | None = None) -> dict:
    """Run `args`, its stdout read as it comes: wall time, time to the first line, lines, and the
    child's own peak RSS (os.wait4's rusage). The children are started by a small process of their
    own: Linux counts the memory a process had before exec() in its peak, and this one has grown.
    `cap`: stop reading (and kill it) after that many seconds."""
    global _spawner
    if _spawner is None:
        _spawner = subprocess.Popen([sys.executable, "-c", SPAWNER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    text=True)
    _spawner.stdin.write(json.dumps({"args": args, "env": env, "err": str(out_file) if out_file else None,
                                     "cap": cap}) + "\n")
    _spawner.stdin.flush()
    r = json.loads(_spawner.stdout.readline())
    if r["code"] != 0:
        raise RuntimeError(f"{' '.join(args[3:])} failed ({r['code']})" + (
            f": {Path(out_file).read_text()[-500:]}" if out_file else ""))
    return r


def trove(library: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "phototrove.cli", "--library", str(library), "-q", *args]


COLD_QUERIES = ("a red car on a beach", "poodle in the snow", "birthday cake with candles", "sunset over the harbour",
                "grandmother in her kitchen", "a train crossing a bridge", "fog in the forest")


def cli_wall(library: Path, text: str, env: dict) -> float:
    t0 = time.perf_counter()
    out = subprocess.run(trove(library, "search", text, "--limit", "20"), capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    rows = [line for line in out.stdout.splitlines() if line.strip()[:1].isdigit()]   # (under a header line)
    if out.returncode != 0 or len(rows) != 20:
        raise RuntimeError(f"trove search failed ({out.returncode}): {out.stderr.strip()[:300]}")
    return wall


def percentiles(times: list[float]) -> dict:
    times = sorted(times)
    return {"p50_ms": round(statistics.median(times), 2), "p95_ms": round(times[int(len(times) * 0.95) - 1], 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", type=int, default=100_000)
    ap.add_argument("--out", type=Path, default=HERE / "out" / "search")
    ap.add_argument("--reuse", action="store_true",
                    help="Keep the library a previous run left in --out (skips setup and the bulk index).")
    ap.add_argument("--catalog-only", action=argparse.BooleanOptionalAction, default=None,
                    help="No index, no embeddings: status, list and identical copies (default above 200,000 photos).")
    ap.add_argument("--queries", type=int, default=200, help="Timed queries per warm_query line.")
    ap.add_argument("--list-seconds", type=float, default=None,
                    help="Stop `trove list` after this long (default: 150 s catalog-only, else all of it).")
    args = ap.parse_args()
    catalog_only = args.photos > 200_000 if args.catalog_only is None else args.catalog_only
    if args.list_seconds is None and catalog_only:
        args.list_seconds = 150.0
    child([sys.executable, "-c", "pass"], dict(os.environ))   # (the spawner starts while this process is small)
    import numpy as np

    emit(metric="machine", cores=os.cpu_count(), loadavg=[round(x, 2) for x in os.getloadavg()],
         photos=args.photos, catalog_only=catalog_only)
    rng = np.random.default_rng(7)
    marker = args.out / "library" / ("catalog.db" if catalog_only else "index.json")
    reuse = args.reuse and marker.exists()
    if not reuse:
        shutil.rmtree(args.out, ignore_errors=True)
        args.out.mkdir(parents=True)

    # trove as installed: its modules compiled once (a shell that says not to write bytecode would
    # make every cold command compile them again)
    env = installed_env(args.out / "pycache", {k: v for k, v in os.environ.items() if not k.startswith("TROVE_")})
    env["PYTHONPATH"] = os.pathsep.join([str(HERE.parent), str(HERE)])
    library_dir = args.out / "library"

    # the model: a random-weight ViT-B/32-shaped export when bench/vitb32.py exists (issue 3)
    model_dir = spec = model_id = None
    if not catalog_only:
        try:
            from vitb32 import build_vitb32
        except ImportError:
            build_vitb32 = None
        if build_vitb32 is not None:
            from phototrove.embed import load_embedder

            model_dir = args.out / "vitb32"
            if not reuse:
                build_vitb32(model_dir, towers=("visual", "textual"))
            spec = str(model_dir)
            model_id = load_embedder(spec, towers="text").model_id
        else:
            model_id = "bench-random-512"

    planted_file = args.out / "planted.json"
    if not reuse:
        t0 = time.perf_counter()
        planted = make_library(args.out, args.photos, model_id, rng)
        planted_file.write_text(json.dumps(planted))
        emit(metric="setup", photos=args.photos, seconds=round(time.perf_counter() - t0, 1), **planted,
             where="executemany of photos, locations, album links (and embeddings) in 20,000-row transactions")
    planted = json.loads(planted_file.read_text())

    # -- the catalog: status and list (any size) ----------------------------------------------------
    for run in ("first", "again"):
        r = child(trove(library_dir, "status", "--json"), env, out_file=args.out / "status.err")
        emit(metric="cli_status", run=run, photos=args.photos, seconds=round(r["wall"], 2),
             maxrss_mb=round(r["maxrss_mb"]),
             where="SQLite's quick_check reads every page of catalog.db (status says a damaged catalog), "
                   "then one count per stage and source; ~0.35 s of it is starting Python and importing trove")
    r = child(trove(library_dir, "list", "--json"), env, out_file=args.out / "list.err", cap=args.list_seconds)
    rate = r["lines"] / r["wall"]
    emit(metric="cli_list", photos=args.photos, rows=r["lines"], first_row_s=round(r["first"], 3),
         seconds=round(r["wall"], 1), rows_per_s=round(rate), mb=round(r["bytes"] / 2**20),
         maxrss_mb=round(r["maxrss_mb"]), complete=not r["cut"],
         **({"stopped_after_s": args.list_seconds, "all_rows_would_take_s": round(args.photos / rate)} if r["cut"] else {}),
         where="the records of 500 rows at a time (photo_records: ~10 set-based queries for locations, albums, "
               "keywords, people, tags, meta, stack, embeddings) and each row's JSON; rows stream as they are built")
    if catalog_only:
        copies_groups(library_dir, env, planted)
        return

    # -- the index ----------------------------------------------------------------------------------
    from phototrove.catalog import Catalog
    from phototrove.library import Library
    from phototrove.search import catalog_vectors
    from phototrove.search import query as query_module
    from phototrove.search.filters import Filters, build_where
    from phototrove.search.index import ChromaIndex
    from phototrove.search.query import open_collection, query
    from phototrove.search.report import write_gallery

    library = Library(library_dir)
    cat = Catalog(library.catalog_path)
    if spec:
        cat.remember_model(model_id, spec)
    if not reuse:
        r = child(trove(library_dir, "index", "sync"), env, out_file=args.out / "index.err")
        emit(metric="bulk_index", photos=args.photos, seconds=round(r["wall"], 1),
             per_second=round(args.photos / r["wall"]), maxrss_mb=round(r["maxrss_mb"]),
             where="Chroma's upsert of 1,000 vectors with their metadata at a time: its log and HNSW insert "
                   "(single-threaded in the local engine), then the catalog's indexed flags; see bench notes")
    r = child(trove(library_dir, "index", "sync"), env, out_file=args.out / "index.err")
    emit(metric="resync_noop", photos=args.photos, seconds=round(r["wall"], 2), maxrss_mb=round(r["maxrss_mb"]),
         where="counts, then item_metadata of every photo hashed against what the collection last received")

    # -- warm queries -------------------------------------------------------------------------------
    index = ChromaIndex(library, readonly=True)   # as `trove search` and `trove serve` open it
    col = open_collection(cat, index, model_id)
    before = rss_mb()
    table = catalog_vectors.keep_warm(cat, model_id)
    emit(metric="vector_table", photos=table.n, seconds=round(table.build_seconds, 2),
         vectors_mb=round(table.nbytes / 2**20), rss_growth_mb=round(rss_mb() - before),
         where="the catalog's stored vectors read in blobs of 4,096 (about half), item_metadata of every photo "
               "and its columns (the rest); built once per process, again after the catalog changes")
    album = cat.db.execute("SELECT a.title, count(*) FROM albums a JOIN location_albums la ON la.album_id=a.id "
                           "GROUP BY a.id ORDER BY abs(count(*) - ?) LIMIT 1", (args.photos // 200,)).fetchone()
    cases = [("none", Filters(), 10),
             ("one year (2019 of 2015-2024)", Filters(date_from="2019", date_to="2019"), 20),
             ("one month (2019-07)", Filters(date_from="2019-07", date_to="2019-07"), 20),
             (f"album ({album[1]} photos)", Filters(albums=(album[0],)), 20),
             ("camera (Canon EOS 80D, ~12%)", Filters(cameras=("Canon EOS 80D",)), 20),
             ("year and camera", Filters(date_from="2019", date_to="2019", cameras=("iPhone 13",)), 20)]
    for label, filters, limit_ms in cases:
        times, fewest = [], 20
        for i in range(args.queries + 30):
            q = rng.standard_normal(DIM).astype(np.float32)
            q /= np.linalg.norm(q)
            t0 = time.perf_counter()
            hits = query(cat, index, col, q, filters=filters, limit=20)
            if i >= 30:  # the first queries warm the HNSW segment and SQLite pages
                times.append((time.perf_counter() - t0) * 1000)
            fewest = min(fewest, len(hits))
        where = build_where(cat, filters)
        passing = table.select(where) if where is not None else None
        k = -(-query_module.OVERFETCH_FACTOR * 20 * table.n // max(1, len(passing))) + 20 if where is not None else 0
        way = "none" if where is None else ("exact" if table.exact_cost(passing) <= query_module.EXACT_ROWS
                                            + query_module.OVERFETCH_COST * min(table.n, k) else "overfetch")
        same = 0   # the answer against the brute-force filtered ranking (every passing photo scored)
        for _ in range(10):
            q = rng.standard_normal(DIM).astype(np.float32)
            q /= np.linalg.norm(q)
            rows, _scores = table.best(q, passing, 20)
            same += [h.photo_id for h in query(cat, index, col, q, filters=filters, limit=20)] == \
                [int(table.pids[r]) for r in rows]
        emit(metric="warm_query", filter=label, table=True, queries=len(times), results=fewest, **percentiles(times),
             limit_p95_ms=limit_ms, photos_passing=table.n if passing is None else len(passing), way=way,
             same_as_brute_force=f"{same}/10", where=WHERE_WARM[way])
    catalog_vectors.forget()
    for label, filters, limit_ms in cases[:3]:
        n = 60 if label == "none" else 20
        times = []
        for i in range(n + 5):
            q = rng.standard_normal(DIM).astype(np.float32)
            q /= np.linalg.norm(q)
            t0 = time.perf_counter()
            query(cat, index, col, q, filters=filters, limit=20)
            if i >= 5:
                times.append((time.perf_counter() - t0) * 1000)
        emit(metric="warm_query", filter=label, table=False, queries=len(times), results=20, **percentiles(times),
             where="no table kept: the unfiltered over-fetch (400 with metadata) then Chroma's `where`, which "
                   "scans every item's metadata" if label != "none" else
             "no table kept: as with one, but whether any photo is in the trash is asked of the catalog once "
             "per connection and change (filters.any_trashed)")

    # -- cold CLI search ----------------------------------------------------------------------------
    if spec is not None:
        walls = [cli_wall(library.root, text, env) for text in COLD_QUERIES]   # a new query each time
        emit(metric="cold_cli_search", model="random-weight ViT-B/32 text tower (ONNX)", first_s=round(walls[0], 2),
             median_s=round(statistics.median(walls[1:]), 2), runs=len(walls) - 1, limit_s=0.8,
             where="first_s: the first query of the library (its text graph optimized and kept in models/); "
                   "median_s: the later ones (interpreter and imports ~0.3 s, tokenizer, the text tower on "
                   "the query's tokens, the index query, printing)")
    else:
        emit(metric="cold_cli_search", pending="bench/vitb32.py (issue 3) is not in this branch yet")
    # everything but the model: the same process with a trivial text embedder under the same model id
    saved = (library.root / "index.json").read_text()
    state = json.loads(saved)
    state.setdefault("specs", {})[model_id] = "stub_text_tower:make"
    (library.root / "index.json").write_text(json.dumps(state))
    (args.out / "stub_text_tower.py").write_text(STUB.format(model_id=model_id, dim=DIM))
    stub_env = dict(env, PYTHONPATH=env["PYTHONPATH"] + os.pathsep + str(args.out))
    models = cat.db.execute("SELECT spec FROM models WHERE id=?", (model_id,)).fetchone()
    if models:   # the catalog's record of how the model loads wins over index.json's: point it at the stub
        with cat.db:
            cat.db.execute("UPDATE models SET spec=? WHERE id=?", ("stub_text_tower:make", model_id))
    try:
        walls = [cli_wall(library.root, "a red car on a beach", stub_env) for _ in range(3)]
    finally:
        (library.root / "index.json").write_text(saved)
        if models:
            with cat.db:
                cat.db.execute("UPDATE models SET spec=? WHERE id=?", (models[0], model_id))
    emit(metric="cold_cli_search_stub_model", first_s=round(walls[0], 2), median_s=round(statistics.median(walls), 2))

    # -- the gallery ----------------------------------------------------------------------------------
    q = rng.standard_normal(DIM).astype(np.float32)
    q /= np.linalg.norm(q)
    hits = query(cat, index, col, q, limit=200)
    out = args.out / "report.html"
    t0 = time.perf_counter()
    write_gallery(library, cat, index, col, model_id, out, title="bench", hits=[(h.photo_id, h.score) for h in hits])
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    write_gallery(library, cat, index, col, model_id, out, title="bench", hits=[(h.photo_id, h.score) for h in hits])
    warm = time.perf_counter() - t0
    emit(metric="report", results=len(hits), neighbours_each=6, warm_thumbs_s=round(warm, 2),
         cold_thumbs_s=round(cold, 2), html_mb=round(out.stat().st_size / 1e6, 1), limit_s=5)

    # -- duplicates -----------------------------------------------------------------------------------
    from phototrove.search.duplicates import find_duplicates

    t0 = time.perf_counter()
    groups = find_duplicates(cat, index, col, model_id, 0.95)
    took = time.perf_counter() - t0
    kinds = {k: sum(1 for g in groups if g["kind"] == k) for k in ("near-duplicates", "identical copies")}
    emit(metric="duplicates_find", photos=args.photos, seconds=round(took, 1), groups=kinds,
         planted={"near-duplicates": planted["near_groups"], "identical copies": planted["copied_photos"]},
         photos_in_groups=sum(len(g["photos"]) for g in groups),
         where="the exact pair search (duplicates.similar_pairs: a 64-column bound product over every pair, "
               "then the few candidates in full) is nearly all of it; the copies are one GROUP BY")
    cat.close()
    for run in ("cold thumbnails", "cached thumbnails"):
        r = child(trove(library_dir, "report", "duplicates", "--json", "--out", str(args.out / "duplicates.html")),
                  env, out_file=args.out / "duplicates.err")
        emit(metric="report_duplicates", run=run, photos=args.photos, groups=r["lines"], seconds=round(r["wall"], 1),
             maxrss_mb=round(r["maxrss_mb"]), html_mb=round((args.out / "duplicates.html").stat().st_size / 1e6, 1),
             limit_s=60,
             where="the pair search (see duplicates_find) plus, cold, a thumbnail of every photo in a group "
                   "(decode, resize, encode: 4 threads); cached, the page inlines them")


WHERE_WARM = {
    "none": "Chroma's HNSW query for 20 ids and distances (no metadata read), then a photo_record per hit",
    "exact": "the table's columns resolve the filter for every photo (~0.2 ms), the passing rows (one "
             "contiguous slice for a date range) are ranked by one matrix-vector product, then a photo_record per hit",
    "overfetch": "many pass: Chroma's unfiltered best (about twice as many as should pass), filtered by the "
                 "table's mask; exact ranking over the passing rows if too few pass; then a photo_record per hit",
}


def copies_groups(library_dir: Path, env: dict, planted: dict) -> None:
    """`report duplicates` by exact hash only (a catalog without embeddings): the GROUP BY and the
    groups' records, in a child process (its own peak RSS)."""
    code = ("import json, sys, time\n"
            "from phototrove.catalog import Catalog\n"
            "from phototrove.search.duplicates import group\n"
            f"cat = Catalog({str(library_dir / 'catalog.db')!r}, readonly=True)\n"
            "t0 = time.perf_counter(); ids = cat.photos_with_copies(False); t1 = time.perf_counter()\n"
            "rows = cat.duplicate_rows(ids); groups = [group(rows, 'identical copies', [p]) for p in ids]\n"
            f"open({str(library_dir.parent / 'copies.json')!r}, 'w').write(json.dumps("
            "{'groups': len(groups), 'group_by_s': t1 - t0, 'records_s': time.perf_counter() - t1}))\n")
    r = child([sys.executable, "-c", code], env)
    got = json.loads((library_dir.parent / "copies.json").read_text())
    emit(metric="duplicates_copies", photos_with_copies=got["groups"], planted=planted["copied_photos"],
         seconds=round(r["wall"], 2), group_by_s=round(got["group_by_s"], 2), records_s=round(got["records_s"], 2),
         maxrss_mb=round(r["maxrss_mb"]),
         where="one GROUP BY over the present locations (photos_with_copies), then each group's photo and "
               "locations in two queries (duplicate_rows); the near-duplicate half needs embeddings")


STUB = '''"""A trivial text tower for timing everything in `trove search` except the model."""
import numpy as np
from phototrove.embed.base import Embedder


class Stub(Embedder):
    model_id = {model_id!r}
    dim = {dim}
    image_size = 224

    def preprocess(self, image):
        raise NotImplementedError

    def encode_pixels(self, batch):
        raise NotImplementedError

    def encode_texts(self, texts):
        v = np.ones((len(texts), self.dim), dtype=np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)


def make():
    return Stub()
'''

if __name__ == "__main__":
    main()
