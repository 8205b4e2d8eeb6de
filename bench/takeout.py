"""Takeout ingest (read + match + de-duplicate, no embedding) vs. sha256sum over the archive files.

Builds, in a temp dir deleted afterwards, a multi-part Takeout export of >= --gb GB: distinct
12-megapixel JPEGs (made unique by a JPEG comment) with sidecars in a year folder, ~30% of the
media files being album copies of year-folder photos, and camera RAW files and videos making up
--raw-video (default 20%) of the media bytes, spread over parts of ~--part-mb MB (photos and their
sidecars may land in different parts). The first part is written the way browser-side zippers and
Google's download zipper write (streamed: data descriptors, no sizes in the local headers) and cut
short at 70% of its length. Then, in one run, on a warm page cache:
  - `sha256sum` over every part, and the same with Python's hashlib (OpenSSL: much faster where
    coreutils has no SHA extensions), and the limit: every member inflated and hashed, one thread
    per core (bench/limits.py; the cut part read front to back as a reader must),
  - `trove ingest takeout PARTS --no-embed` into a fresh library, and the same again (nothing changed),
  - the cut streamed part alone, and the members it salvages written as an intact (seekable) zip
    alone: MB/s of each (salvage must not be slower), and stream-unzip's pass over the cut part.
Prints one JSON object per line.
Usage: python bench/takeout.py [--gb 1.0] [--dup 0.3] [--raw-video 0.2] [--stored]
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
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import media_fixtures as mf  # noqa: E402
import takeout_fixtures as tf  # noqa: E402
from limits import inflate_hash_threads, installed_env, threads  # noqa: E402
from synth import photo_12mp, with_comment  # noqa: E402

RAW_MB, VIDEO_MB = 25, 40   # a 24-MP camera RAW, a minute of phone video


def emit(**kw) -> None:
    print(json.dumps({"bench": "takeout", **kw}), flush=True)


def big_video(seed: int, mb: int) -> bytes:
    """A real MP4 (FFmpeg through PyAV) grown to `mb` MB by a trailing `free` box (valid ISO-BMFF)."""
    head = mf.video(".mp4", seed)
    pad = random.Random(seed).randbytes(mb * 1_000_000)
    return head + (8 + len(pad)).to_bytes(4, "big") + b"free" + pad


def write_part(path: Path, part: list, method: int, streamed: bool) -> None:
    if streamed:
        tf.write_streamed_zip(str(path), [(name, data, method) for name, data in part])
        return
    with zipfile.ZipFile(path, "w", compression=method, compresslevel=1) as zf:
        for name, data in part:
            zf.writestr(name, data)


def build(out: Path, gb: float, dup: float, part_mb: int, stored: bool, raw_video: float) -> tuple[list[str], dict]:
    bases = [photo_12mp(s) for s in range(4)]
    avg = sum(map(len, bases)) / len(bases)
    other_bytes = gb * 1e9 * raw_video
    n_video = max(1, int(other_bytes * 0.4 / (VIDEO_MB * 1e6)))
    n_raw = max(1, int((other_bytes - n_video * VIDEO_MB * 1e6) / (RAW_MB * 1e6)))
    total_files = int((gb * 1e9 - other_bytes) * 1.03 / avg) + 1  # margin: sidecars are small
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
    exts = list(mf.TIFF_RAWS)
    for i in range(n_raw):
        ext = exts[i % len(exts)]
        name = f"DSC_{i:05d}{ext.upper()}"
        entries.append((year + name, mf.tiff_raw(ext, i, sensor_bytes=RAW_MB * 1_000_000)))
        entries.append((year + name + ".json", json.dumps(tf.sidecar(name, taken=1609459200 + i))))
    for i in range(n_video):
        name = f"VID_2021010{i % 9 + 1}_{i:06d}.mp4"
        entries.append((year + name, big_video(i, VIDEO_MB)))
        entries.append((year + name + ".json", json.dumps(tf.sidecar(name, taken=1609459200 + i))))
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
        write_part(p, part, method, streamed=n == 1)
        paths.append(str(p))
    last = Path(paths[0])   # the streamed part (a full-size one), cut short at 70%: a download that stopped
    whole = last.read_bytes()
    last.write_bytes(whole[:int(len(whole) * 0.7)])
    from phototrove.ingest.archives import salvage_zip

    kept = {m.name for m in salvage_zip(str(last))}   # the members before the cut...
    intact = out.parent / "intact" / last.name        # ...as a seekable, whole zip: the fair comparison
    intact.parent.mkdir()
    write_part(intact, [(n, d) for n, d in parts[0] if n in kept], method, streamed=False)
    media_bytes = sum(len(d) for _, d in entries if not _.endswith(".json"))
    return paths, {"media_files": total_files + n_raw + n_video, "distinct_photos": distinct, "raw_files": n_raw,
                   "videos": n_video, "raw_video_share": round((n_raw * RAW_MB + n_video * VIDEO_MB) * 1e6 / media_bytes, 3),
                   "intact": str(intact)}


def stream_unzip_pass(path: str) -> tuple[float, int, str | None]:
    """stream-unzip over the cut part: seconds, members read whole, and how it ended."""
    from stream_unzip import stream_unzip

    def chunks():
        with open(path, "rb") as f:
            while block := f.read(1 << 20):
                yield block
    t, n, ended = time.perf_counter(), 0, None
    try:
        for _name, _size, members in stream_unzip(chunks(), allow_zip64=True):
            for _ in members:
                pass
            n += 1
    except Exception as e:  # what it raises at the cut
        ended = type(e).__name__
    return time.perf_counter() - t, n, ended


ENV: dict = {}   # main() sets it: trove as installed (limits.installed_env)


def run_trove(library: Path, parts: list[str], workers: int | None) -> tuple[float, dict]:
    cmd = [sys.executable, "-m", "phototrove.cli", "--library", str(library), "--quiet",
           "ingest", "takeout", *parts, "--no-embed", "--json"]
    if workers:
        cmd += ["--workers", str(workers)]
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=ENV or None)
    secs = time.perf_counter() - t
    if proc.returncode not in (0, 1):   # 1: some files failed (the cut part says so): expected here
        emit(stage="trove", error=proc.stderr[-2000:], code=proc.returncode)
        sys.exit(1)
    return secs, json.loads(proc.stdout.splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gb", type=float, default=1.0, help="total media bytes (default 1.0 GB)")
    ap.add_argument("--dup", type=float, default=0.3, help="share of media files that are album copies")
    ap.add_argument("--raw-video", type=float, default=0.2, help="share of media bytes that are RAW and video")
    ap.add_argument("--part-mb", type=int, default=300)
    ap.add_argument("--stored", action="store_true", help="media stored uncompressed (default: deflated)")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--keep", help="build in (and keep) this folder, to profile afterwards")
    args = ap.parse_args()
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="trove-bench-takeout-"))
    if args.keep:
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
    try:
        t = time.perf_counter()
        (work / "export").mkdir()
        parts, counts = build(work / "export", args.gb, args.dup, args.part_mb, args.stored, args.raw_video)
        intact = counts.pop("intact")
        archive_bytes = sum(os.path.getsize(p) for p in parts)
        emit(stage="generate", seconds=round(time.perf_counter() - t, 2), parts=len(parts),
             archive_bytes=archive_bytes, compression="stored" if args.stored else "deflated", **counts,
             cut_part_bytes=os.path.getsize(parts[0]), cpus=os.cpu_count(), load_avg=round(os.getloadavg()[0], 2))
        os.sync()   # the generated parts' writeback is not charged to whichever step runs first
        subprocess.run(["cat", *parts, intact], stdout=subprocess.DEVNULL, check=True)  # warm the page cache

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
        limit, members = inflate_hash_threads(parts)
        emit(stage="inflate+hash limit", seconds=round(limit, 2), threads=threads(), members=members,
             mb_per_s=round(archive_bytes / limit / 1e6, 1))

        ENV.update(installed_env(work / "pycache"))
        run_trove(work / "lib-warm-up", [intact], args.workers)   # untimed: trove's modules compiled once
        for label in ("ingest", "rerun"):
            secs, s = run_trove(work / "library", parts, args.workers)
            r = s["report"]
            emit(stage=label, seconds=round(secs, 2), ratio_to_sha256sum=round(secs / base, 2),
                 ratio_to_hashlib=round(secs / strict, 2),
                 ratio_to_limit=round(secs / limit, 2), limit_ratio=1.3 if label == "ingest" else None,
                 copies_not_reread=s.get("read.copies_not_reread", 0),
                 mb_per_s=round(archive_bytes / secs / 1e6, 1), photos=r["photos"], raw=r["raw"], videos=r["videos"],
                 duplicates_collapsed=r["duplicates_collapsed"], bytes_saved=r["bytes_saved"],
                 sidecars_matched=r["sidecars_matched"], media_unmatched=len(r["media_unmatched"]),
                 files_listed=r["files"]["listed"], errors=r["errors"],
                 read=s.get("read.photos", 0) + s.get("read.duplicates", 0), load_avg=round(os.getloadavg()[0], 2))

        # the cut streamed part alone, against the same members as an intact zip alone
        cut_bytes, intact_bytes = os.path.getsize(parts[0]), os.path.getsize(intact)
        secs_cut, s_cut = run_trove(work / "lib-cut", [parts[0]], args.workers)
        secs_whole, s_whole = run_trove(work / "lib-intact", [intact], args.workers)
        read_cut = s_cut.get("read.photos", 0) + s_cut.get("read.duplicates", 0)
        emit(stage="cut-streamed-part", seconds=round(secs_cut, 2), mb_per_s=round(cut_bytes / secs_cut / 1e6, 1),
             members_read=read_cut, errors=s_cut.get("report", {}).get("errors"))
        emit(stage="same-part-intact", seconds=round(secs_whole, 2),
             mb_per_s=round(intact_bytes / secs_whole / 1e6, 1),
             members_read=s_whole.get("read.photos", 0) + s_whole.get("read.duplicates", 0))
        emit(stage="salvage-rate", ratio_cut_to_intact_mb_per_s=round((cut_bytes / secs_cut) / (intact_bytes / secs_whole), 2),
             limit_at_least=1.0)
        try:
            secs_su, n_su, ended = stream_unzip_pass(parts[0])
            emit(stage="stream-unzip-cut-part", seconds=round(secs_su, 2), mb_per_s=round(cut_bytes / secs_su / 1e6, 1),
                 members_read=n_su, ended_with=ended, note="listing and inflating only: no hashing, no sidecars")
            tiny = work / "stored-streamed.zip"   # stored members with descriptors, as Google's zipper writes
            write_part(tiny, [("a.jpg", b"x" * 1000), ("b.jpg", b"y" * 1000)], zipfile.ZIP_STORED, streamed=True)
            _, n_stored, ended_stored = stream_unzip_pass(str(tiny))
            emit(stage="stream-unzip-stored-streamed", members_read=n_stored, of=2, ended_with=ended_stored)
        except ImportError:
            emit(stage="stream-unzip-cut-part", skipped="stream-unzip not installed (pip install stream-unzip)")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
