"""Benchmark `trove ingest photos`: loading a 50,000-asset Photos library, and the read stage
against sha256sum over the same files.

Generates (fixtures/applephotos.py, the Sequoia schema) a library of N assets (default 50,000: two
albums, three keywords and a face on every other one, every 10th edited, every 20th in iCloud only;
the files are tiny) and times, in this process:
  - loading its database (`load_library`: every table, NFC, zones), target under 5 s;
  - the whole discovery (`load_plan`: the database and every file listed and stat'ed);
  - the same load with a -wal of unsaved changes beside the database (a private copy is read).
Then a second library of M assets (default 300) whose originals are 12-megapixel JPEGs, on a warm
page cache: `sha256sum` over every file trove reads (originals and edits), and
`trove ingest photos --no-embed` (discover + read: hash, EXIF, dimensions): target within 1.5x.
Each figure is measured 3 times (the machine may be shared); the best is compared, all are printed.

    python bench/photos.py [--assets 50000] [--read-assets 300] [--keep DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "fixtures"))
import applephotos as ap  # noqa: E402
from limits import hashlib_threads  # noqa: E402
from synth import photo_12mp, with_comment  # noqa: E402

RUNS = 3


def emit(**kw) -> None:
    print(json.dumps({"bench": "photos", **kw, "load_avg": round(os.getloadavg()[0], 2)}), flush=True)


def timed(fn) -> tuple[float, object]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def best(fn) -> tuple[list[float], object]:
    runs, out = [], None
    for _ in range(RUNS):
        secs, out = timed(fn)
        runs.append(round(secs, 2))
    return runs, out


def load_bench(root: str, n: int) -> None:
    from phototrove.ingest.applephotos.library import load_library
    from phototrove.ingest.applephotos.plan import load_plan

    secs, lib = timed(lambda: ap.bulk_library(root, n, data=lambda i: f"asset {i}".encode(), icloud_every=20))
    emit(stage="generate", assets=n, seconds=round(secs, 2), db_bytes=os.path.getsize(lib.db))
    runs, loaded = best(lambda: load_library(lib.db))
    last = loaded.assets[-1]
    assert len(loaded.assets) == n and last.keywords and last.albums and loaded.assets[0].people, "incomplete load"
    emit(stage="load_database", assets=n, seconds=min(runs), runs=runs, limit_s=5.0)
    runs, plan = best(lambda: load_plan(lib.root))
    emit(stage="discover", assets=n, items=len(plan.items), seconds=min(runs), runs=runs,
         derivatives=plan.counts.get("derivatives_used", 0), renders=plan.counts.get("renders", 0))
    # Photos open: 1,000 titles changed and not yet checkpointed into the database
    ap.leave_wal(lib.db, "UPDATE ZADDITIONALASSETATTRIBUTES SET ZTITLE = 'changed' WHERE Z_PK % 50 = 0")
    scratch = os.path.join(root, "library-tmp")
    runs, loaded = best(lambda: load_library(lib.db, scratch))
    assert sum(1 for a in loaded.assets if a.title == "changed") == n // 50, "the -wal was not read"
    emit(stage="load_database_with_wal", assets=n, seconds=min(runs), runs=runs, limit_s=5.0,
         wal_bytes=os.path.getsize(lib.db + "-wal"))


def read_bench(root: str, m: int) -> None:
    bases = [photo_12mp(s) for s in range(5)]
    secs, lib = timed(lambda: ap.bulk_library(root, m, data=lambda i: with_comment(bases[i % 5], f"asset {i}"),
                                              name="Read.photoslibrary"))
    files = sorted(os.path.join(d, f) for sub in ("originals", "resources/renders")
                   for d, _ds, fs in os.walk(os.path.join(lib.root, sub)) for f in fs)
    total = sum(os.path.getsize(f) for f in files)
    emit(stage="generate_read", assets=m, files=len(files), bytes=total, seconds=round(secs, 2))
    subprocess.run(["cat", *files], stdout=subprocess.DEVNULL, check=True)   # a warm page cache for both
    trove = [sys.executable, "-m", "phototrove.cli", "--quiet"]
    sha_runs, ingest_runs = [], []
    for k in range(RUNS):
        sha_runs.append(round(timed(lambda: subprocess.run(["sha256sum", *files], stdout=subprocess.DEVNULL,
                                                           check=True))[0], 2))
        library = os.path.join(root, f"library{k}")
        secs, out = timed(lambda: subprocess.run(trove + ["--library", library, "ingest", "photos", lib.root,
                                                          "--no-embed", "--json"], capture_output=True, text=True))
        if out.returncode != 0:
            sys.exit(f"ingest failed ({out.returncode}): {out.stderr.strip()[-2000:]}")
        summary = json.loads(out.stdout.splitlines()[0])
        assert summary["read.photos"] == len(files), summary
        ingest_runs.append(round(secs, 2))
        shutil.rmtree(library)
    sha, ingest = min(sha_runs), min(ingest_runs)
    limit = hashlib_threads(files)
    emit(stage="read", files=len(files), bytes=total, ingest_s=ingest, sha256sum_s=sha,
         ratio_to_sha256sum=round(ingest / sha, 2), hashlib_threads_s=round(limit, 2),
         ratio_to_limit=round(ingest / limit, 2), limit=1.5, runs={"ingest": ingest_runs, "sha256sum": sha_runs},
         mb_per_s=round(total / ingest / 1e6, 1))


def main() -> None:
    ap_ = argparse.ArgumentParser()
    ap_.add_argument("--assets", type=int, default=50_000)
    ap_.add_argument("--read-assets", type=int, default=300)
    ap_.add_argument("--keep", default=None, help="work in this folder and keep it")
    args = ap_.parse_args()
    root = args.keep or tempfile.mkdtemp(prefix="trove-bench-photos-")
    os.makedirs(root, exist_ok=True)
    try:
        load_bench(root, args.assets)
        read_bench(root, args.read_assets)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
