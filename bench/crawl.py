"""Read-stage throughput vs. hashing the same bytes: the limit is hashlib.sha256 in one thread per core.

Generates N 12-megapixel JPEGs (a few distinct photos, each file made unique by a JPEG comment so
every file is its own photo), then, in one run on a warm page cache:
  - hashlib.sha256 over all files, one thread per core (the limit: every byte is hashed anyway),
    and coreutils `sha256sum` (single-threaded, often without SHA extensions: shown, not the bar),
  - `trove ingest folder --no-embed` (discover + read: hash, EXIF, dimensions, completeness),
  - the same command again on the unchanged folder (the quick mtime+size check).
Prints one JSON object per line.  Usage: python bench/crawl.py [--count 500] [--keep DIR]
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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from limits import hashlib_threads, installed_env, threads  # noqa: E402
from synth import photo_12mp, with_comment  # noqa: E402


def timed(cmd: list[str], **kw) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=kw.pop("check", True), stdout=subprocess.DEVNULL, **kw)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=500)
    ap.add_argument("--keep", help="generate into (and keep) this folder")
    args = ap.parse_args()
    work = Path(args.keep or tempfile.mkdtemp(prefix="trove-bench-crawl-"))
    photos = work / "photos"
    photos.mkdir(parents=True, exist_ok=True)
    try:
        t = time.perf_counter()
        bases = [photo_12mp(s) for s in range(5)]
        files = []
        for i in range(args.count):
            f = photos / f"IMG_{i:04}.jpg"
            if not f.exists():
                f.write_bytes(with_comment(bases[i % len(bases)], f"bench photo {i}"))
            files.append(str(f))
        total = sum(os.path.getsize(f) for f in files)
        print(json.dumps({"bench": "crawl", "step": "generate", "files": len(files), "bytes": total,
                          "seconds": round(time.perf_counter() - t, 2)}), flush=True)

        os.sync()   # the generated files' writeback is not charged to whichever contender runs first
        library = work / "library"
        shutil.rmtree(library, ignore_errors=True)
        trove = [sys.executable, "-m", "phototrove.cli", "--library", str(library), "--quiet"]
        env = installed_env(work / "pycache")
        warm = work / "warm-up"
        warm.mkdir(exist_ok=True)
        shutil.copy(files[0], warm / "one.jpg")
        timed([sys.executable, "-m", "phototrove.cli", "--library", str(work / "warm-library"), "--quiet", "ingest",
               "folder", str(warm), "--no-embed"], env=env)   # untimed: trove's modules compiled once
        timed(["sha256sum", *files])  # warm the page cache for both contenders
        sha = timed(["sha256sum", *files])
        ingest = timed([*trove, "ingest", "folder", str(photos), "--no-embed"], env=env)
        rescan = timed([*trove, "ingest", "folder", str(photos), "--no-embed"], env=env)
        sha_again = timed(["sha256sum", *files])
        sha = min(sha, sha_again)
        limit = hashlib_threads(files)
        print(json.dumps({"bench": "crawl", "metric": "hashlib_threads", "threads": threads(),
                          "seconds": round(limit, 3), "MB_per_s": round(total / limit / 1e6, 1)}))
        print(json.dumps({"bench": "crawl", "metric": "sha256sum", "seconds": round(sha, 3),
                          "MB_per_s": round(total / sha / 1e6, 1)}))
        print(json.dumps({"bench": "crawl", "metric": "ingest_read_stage", "seconds": round(ingest, 3),
                          "photos_per_s": round(len(files) / ingest, 1), "MB_per_s": round(total / ingest / 1e6, 1),
                          "ratio_to_sha256sum": round(ingest / sha, 3),
                          "ratio_to_limit": round(ingest / limit, 3), "limit_ratio": 1.5}))
        print(json.dumps({"bench": "crawl", "metric": "rescan_unchanged", "seconds": round(rescan, 3),
                          "files": len(files)}))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
