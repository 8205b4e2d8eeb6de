"""Takeout ingest (read + match + de-duplicate, no embedding) vs. sha256sum over the archive files.

Builds, in a temp dir deleted afterwards, a multi-part Takeout export of >= --gb GB: distinct
12-megapixel JPEGs (made unique by a JPEG comment) with sidecars in a year folder, ~30% of the
media files being album copies of year-folder photos, spread over parts of ~--part-mb MB (photos
and their sidecars may land in different parts). Then, in one run, on a warm page cache:
  - `sha256sum` over every part (the floor: every byte read and hashed once), and the same with
    Python's hashlib (OpenSSL: much faster where coreutils has no SHA extensions),
  - `trove ingest takeout PARTS --no-embed` into a fresh library,
  - the same command again (nothing changed: listing and matching only).
Prints one JSON object per line.   Usage: python bench/takeout.py [--gb 1.0] [--dup 0.3] [--stored]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import takeout_fixtures as tf  # noqa: E402
from synth import photo_12mp, with_comment  # noqa: E402


def emit(**kw) -> None:
    print(json.dumps({"bench": "takeout", **kw}), flush=True)


def build(out: Path, gb: float, dup: float, part_mb: int, stored: bool) -> tuple[list[str], dict]:
    bases = [photo_12mp(s) for s in range(4)]
    avg = sum(map(len, bases)) / len(bases)
    total_files = int(gb * 1e9 * 1.03 / avg) + 1  # margin: sidecars are small, deflate saves ~1%
    distinct = int(total_files * (1 - dup))
    rnd = random.Random(7)
    entries: list[tuple[str, bytes]] = []
    year = "Takeout/Google Photos/Photos from 2021/"
    photos = []
    for i in range(distinct):
        name = f"PXL_20210{i % 9 + 1}01_{i:09d}.jpg"
        data = with_comment(bases[i % len(bases)], f"photo {i}")
        photos.append((name, data))
        entries.append((year + name, data))
        entries.append((year + name + ".supplemental-metadata.json", json.dumps(
            tf.sidecar(name, taken=1609459200 + i * 3600, geo=(48.0 + i / 1e4, 2.0, 35.0)))))
    albums = [f"Album {k}" for k in range(8)]
    for k, title in enumerate(albums):
        entries.append((f"Takeout/Google Photos/{title}/metadata.json", json.dumps(tf.album(title))))
    pairs = rnd.sample([(i, a) for i in range(distinct) for a in range(len(albums))], total_files - distinct)
    for i, a in pairs:  # each album holds a photo at most once, as in a real export
        name, data = photos[i]
        title = albums[a]
        entries.append((f"Takeout/Google Photos/{title}/{name}", data))
        entries.append((f"Takeout/Google Photos/{title}/{name}.json", json.dumps(tf.sidecar(name))))
    rnd.shuffle(entries)  # Google splits parts by size, not by folder: sidecars land anywhere
    parts, current, size = [], [], 0
    for e in entries:
        current.append(e)
        size += len(e[1])
        if size >= part_mb << 20:
            parts.append(current)
            current, size = [], 0
    if current:
        parts.append(current)
    paths = []
    method = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    for n, part in enumerate(parts, 1):
        p = out / f"takeout-20240712T112341Z-{n:03d}.zip"
        with zipfile.ZipFile(p, "w", compression=method, compresslevel=1) as zf:
            for name, data in part:
                zf.writestr(name, data)
        paths.append(str(p))
    return paths, {"media_files": total_files, "distinct_photos": distinct}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gb", type=float, default=1.0, help="total media bytes (default 1.0 GB)")
    ap.add_argument("--dup", type=float, default=0.3, help="share of media files that are album copies")
    ap.add_argument("--part-mb", type=int, default=300)
    ap.add_argument("--stored", action="store_true", help="media stored uncompressed (default: deflated)")
    ap.add_argument("--workers", type=int, default=None)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="trove-bench-takeout-"))
    try:
        t = time.perf_counter()
        (work / "export").mkdir()
        parts, counts = build(work / "export", args.gb, args.dup, args.part_mb, args.stored)
        archive_bytes = sum(os.path.getsize(p) for p in parts)
        emit(stage="generate", seconds=round(time.perf_counter() - t, 2), parts=len(parts),
             archive_bytes=archive_bytes, compression="stored" if args.stored else "deflated", **counts,
             cpus=os.cpu_count(), load_avg=round(os.getloadavg()[0], 2))
        subprocess.run(["cat", *parts], stdout=subprocess.DEVNULL, check=True)  # warm the page cache

        t = time.perf_counter()
        subprocess.run(["sha256sum", *parts], stdout=subprocess.DEVNULL, check=True)
        base = time.perf_counter() - t
        emit(stage="sha256sum", seconds=round(base, 2), mb_per_s=round(archive_bytes / base / 1e6, 1))
        t = time.perf_counter()  # a stricter floor where coreutils lacks SHA extensions: OpenSSL's
        for p in parts:
            h = hashlib.sha256()
            with open(p, "rb") as f:
                while chunk := f.read(8 << 20):
                    h.update(chunk)
        strict = time.perf_counter() - t
        emit(stage="hashlib.sha256", seconds=round(strict, 2), mb_per_s=round(archive_bytes / strict / 1e6, 1))

        trove = [sys.executable, "-m", "phototrove.cli", "--library", str(work / "library"), "--quiet",
                 "ingest", "takeout", *parts, "--no-embed", "--json"]
        if args.workers:
            trove += ["--workers", str(args.workers)]
        for label in ("ingest", "rerun"):
            t = time.perf_counter()
            proc = subprocess.run(trove, capture_output=True, text=True)
            secs = time.perf_counter() - t
            if proc.returncode != 0:
                emit(stage=label, error=proc.stderr[-2000:], code=proc.returncode)
                sys.exit(1)
            s = json.loads(proc.stdout.splitlines()[-1])
            r = s["report"]
            emit(stage=label, seconds=round(secs, 2), ratio_to_sha256sum=round(secs / base, 2),
                 ratio_to_hashlib=round(secs / strict, 2), copies_not_reread=s.get("read.copies_not_reread", 0),
                 mb_per_s=round(archive_bytes / secs / 1e6, 1), photos=r["photos"],
                 duplicates_collapsed=r["duplicates_collapsed"], bytes_saved=r["bytes_saved"],
                 sidecars_matched=r["sidecars_matched"], media_unmatched=len(r["media_unmatched"]),
                 read=s.get("read.photos", 0) + s.get("read.duplicates", 0), load_avg=round(os.getloadavg()[0], 2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
