"""`trove export DIR --layout album` on a generated Takeout vs. `cp -r` of the same export extracted.

Builds, in a temp dir deleted afterwards, a multi-part Takeout export of >= --gb GB: distinct
12-megapixel JPEGs (made unique by a JPEG comment, so generating them costs a few encodes) with
sidecars in a year folder, --dup (default 30%) of the media files being album copies of year-folder
photos, in zip parts of ~--part-mb MB (media stored and JSON deflated, as Google's zipper writes them;
--deflated deflates the media too). It is ingested (`--no-embed`) and extracted once with Python's zipfile; then, on a
warm page cache:
  - `cp -r` of the extracted folder (the floor: every byte of the export copied once, album copies
    included),
  - `trove export OUT --layout album` (every photo read from its zip member, EXIF/XMP written in,
    its album copies hard-linked),
  - the same again (nothing new: only the manifest is read and the folder checked).
Prints one JSON object per line, with each ratio and its limit (export within 1.5x of `cp -r`, the
re-run under 5% of it).
Usage: python bench/export.py [--gb 1.0] [--dup 0.3] [--part-mb 300] [--deflated]
"""
from __future__ import annotations

import argparse
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
from limits import installed_env  # noqa: E402
from synth import photo_12mp, with_comment  # noqa: E402

YEAR = "Takeout/Google Photos/Photos from 2021/"


def emit(**kw) -> None:
    print(json.dumps({"bench": "export", **kw}), flush=True)


def build(out: Path, gb: float, dup: float, part_mb: int, stored: bool = True) -> tuple[list[str], dict]:
    bases = [photo_12mp(s) for s in range(4)]
    avg = sum(map(len, bases)) / len(bases)
    total_files = int(gb * 1e9 / avg) + 1
    distinct = int(total_files * (1 - dup))
    rnd = random.Random(7)
    entries: list[tuple[str, bytes | str]] = []
    photos = []
    for i in range(distinct):
        name = f"PXL_20210{i % 9 + 1}01_{i:09d}.jpg"
        data = with_comment(bases[i % len(bases)], f"photo {i}")
        photos.append((name, data))
        entries.append((YEAR + name, data))
        entries.append((YEAR + name + ".supplemental-metadata.json", json.dumps(
            tf.sidecar(name, taken=1609459200 + i * 3600, geo=(48.0 + i / 1e4, 2.0, 35.0), description=f"photo {i}"))))
    albums = [f"Album {k}" for k in range(8)]
    for title in albums:
        entries.append((f"Takeout/Google Photos/{title}/metadata.json", json.dumps(tf.album(title))))
    for i, a in rnd.sample([(i, a) for i in range(distinct) for a in range(len(albums))], total_files - distinct):
        name, data = photos[i]
        entries.append((f"Takeout/Google Photos/{albums[a]}/{name}", data))
        entries.append((f"Takeout/Google Photos/{albums[a]}/{name}.json", json.dumps(tf.sidecar(name))))
    rnd.shuffle(entries)   # Google splits parts by size, not by folder
    paths, part, size = [], [], 0
    media = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED

    def flush() -> None:
        p = out / f"takeout-20240712T112341Z-{len(paths) + 1:03d}.zip"
        with zipfile.ZipFile(p, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
            for name, data in part:
                zf.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED if name.endswith(".json") else media)
        paths.append(str(p))

    for e in entries:
        part.append(e)
        size += len(e[1])
        if size >= part_mb << 20:
            flush()
            part, size = [], 0
    if part:
        flush()
    return paths, {"media_files": total_files, "distinct_photos": distinct, "album_copies": total_files - distinct,
                   "media_bytes": sum(len(d) for n, d in entries if not n.endswith(".json"))}


ENV: dict = {}


def trove(library: Path, *args: str) -> tuple[float, dict]:
    cmd = [sys.executable, "-m", "phototrove.cli", "--library", str(library), "--quiet", *args, "--json"]
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=ENV)
    secs = time.perf_counter() - t
    if proc.returncode != 0:
        emit(stage=" ".join(args[:1]), error=proc.stderr[-2000:], code=proc.returncode)
        sys.exit(1)
    return secs, json.loads(proc.stdout.splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gb", type=float, default=1.0, help="total media bytes (default 1.0 GB)")
    ap.add_argument("--dup", type=float, default=0.3, help="share of media files that are album copies")
    ap.add_argument("--part-mb", type=int, default=300)
    ap.add_argument("--deflated", action="store_true", help="media deflated too (default: stored, as Google does)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="trove-bench-export-"))
    ENV.update(installed_env(work / "pycache"))   # compiled once, as installed
    try:
        t = time.perf_counter()
        (work / "export").mkdir()
        parts, counts = build(work / "export", args.gb, args.dup, args.part_mb, not args.deflated)
        emit(stage="generate", seconds=round(time.perf_counter() - t, 2), parts=len(parts),
             archive_bytes=sum(os.path.getsize(p) for p in parts),
             media="deflated" if args.deflated else "stored", **counts, cpus=os.cpu_count())
        secs, _ = trove(work / "library", "ingest", "takeout", *parts, "--no-embed")
        emit(stage="ingest", seconds=round(secs, 2))
        trove(work / "library", "export", str(work / "warm-up"), "--dry-run")   # (modules compiled once)
        extracted = work / "extracted"
        for p in parts:   # once, with Python's zipfile: the folder `cp -r` copies
            with zipfile.ZipFile(p) as zf:
                zf.extractall(extracted)
        extracted_bytes = sum(f.stat().st_size for f in extracted.rglob("*") if f.is_file())
        subprocess.run(["cat", *parts, *map(str, (f for f in extracted.rglob("*") if f.is_file()))],
                       stdout=subprocess.DEVNULL, check=True)   # a warm page cache for both

        cp_runs, export_runs, summaries = [], [], []
        for k in range(2):   # alternating, best of two: the machine may be shared
            os.sync()        # writeback of earlier writes is not charged to the next step
            t = time.perf_counter()
            subprocess.run(["cp", "-r", "--reflink=never", str(extracted), str(work / f"cp{k}")], check=True)
            cp_runs.append(time.perf_counter() - t)
            os.sync()
            secs, s = trove(work / "library", "export", str(work / f"out{k}"), "--layout", "album")
            export_runs.append(secs)
            summaries.append(s)
        base, secs, s = min(cp_runs), min(export_runs), summaries[0]
        emit(stage="cp -r --reflink=never", seconds=round(base, 2), bytes=extracted_bytes, mb_per_s=round(extracted_bytes / base / 1e6, 1),
             runs=[round(x, 2) for x in cp_runs])
        out = work / "out0"
        inodes = {f.stat().st_ino: f.stat().st_size for f in out.rglob("*") if f.is_file()}
        emit(stage="export", seconds=round(secs, 2), ratio_to_cp=round(secs / base, 2), limit_ratio_to_cp=1.5,
             runs=[round(x, 2) for x in export_runs], files=s["files"], written=s["written"], hard_links=s["linked"],
             errors=s["errors"], bytes_written=sum(inodes.values()),
             mb_per_s_of_cp_bytes=round(extracted_bytes / secs / 1e6, 1), load_avg=round(os.getloadavg()[0], 2))
        os.sync()
        secs, s = trove(work / "library", "export", str(out), "--layout", "album")
        emit(stage="rerun", seconds=round(secs, 3), ratio_to_cp=round(secs / base, 3), limit_ratio_to_cp=0.05,
             already_there=s["already_there"], written=s["written"])
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
