"""What a stage could reach on this machine, measured in the same run as the stage itself.

The benches compare trove against these, not against a slow tool: coreutils `sha256sum` has no SHA
extensions on many CPUs and is ~5x slower than OpenSSL, so "within 1.5x of sha256sum" says little.
  - files:         hashlib.sha256 over every byte, one thread per core (hashlib drops the GIL);
  - deflated zips: every member inflated and hashed (zlib and hashlib drop the GIL too), members of
                   one archive spread over the threads through their own file handles;
  - copies:        `cp -r --reflink=never` (a real copy of every byte, not a shared extent).
Each returns the best wall time of `rounds` runs, the page cache warmed by the first.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor

CHUNK = 1 << 20


def threads() -> int:
    return os.cpu_count() or 1


def best_of(fn, rounds: int = 2) -> float:
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def _hash_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb", buffering=0) as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def hashlib_threads(files, rounds: int = 2) -> float:
    """Seconds to sha256 every file, as many threads as cores."""
    files = list(files)
    with ThreadPoolExecutor(threads()) as pool:
        return best_of(lambda: list(pool.map(_hash_file, files)), rounds)


def _zip_jobs(paths) -> list[tuple[str, str]]:
    """(archive, member) for every file member of every archive zipfile can open."""
    jobs = []
    for p in paths:
        try:
            with zipfile.ZipFile(p) as zf:
                jobs += [(str(p), i.filename) for i in zf.infolist() if not i.is_dir()]
        except zipfile.BadZipFile:
            pass  # a cut part has no central directory: see inflate_hash_threads
    return jobs


def inflate_hash_threads(paths, rounds: int = 2) -> tuple[float, int]:
    """(seconds, members) to inflate and sha256 every member of every archive in `paths`, as many
    threads as cores. An archive without a central directory (cut short) is read once front to
    back with stream-unzip in one of the threads, as a reader must."""
    paths = [str(p) for p in paths]
    jobs = _zip_jobs(paths)
    whole = {a for a, _ in jobs}
    cut = [p for p in paths if p not in whole]
    local = threading.local()   # each thread its own ZipFile handles: a shared one serialises reads
    opened: list[zipfile.ZipFile] = []

    def member(job) -> int:
        archive, name = job
        mine = local.__dict__.setdefault("handles", {})
        zf = mine.get(archive)
        if zf is None:
            zf = mine[archive] = zipfile.ZipFile(archive)
            opened.append(zf)
        h = hashlib.sha256()
        with zf.open(name) as f:
            while chunk := f.read(CHUNK):
                h.update(chunk)
        return 1

    def streamed(path) -> int:
        from stream_unzip import stream_unzip

        def chunks():
            with open(path, "rb") as f:
                while chunk := f.read(CHUNK):
                    yield chunk
        n = 0
        try:
            for _name, _size, data in stream_unzip(chunks(), allow_zip64=True):
                h = hashlib.sha256()
                for chunk in data:
                    h.update(chunk)
                n += 1
        except Exception:  # the cut: everything before it was inflated and hashed
            pass
        return n

    counted = [0]

    def once():
        with ThreadPoolExecutor(threads()) as pool:
            futures = [pool.submit(streamed, p) for p in cut] + [pool.submit(member, j) for j in jobs]
            counted[0] = sum(f.result() for f in futures)
    try:
        secs = best_of(once, rounds)
    finally:
        for zf in opened:
            zf.close()
    return secs, counted[0]


def cp_copy(src: str, dst: str) -> float:
    """Seconds for `cp -r --reflink=never src dst` (dst must not exist)."""
    t = time.perf_counter()
    subprocess.run(["cp", "-r", "--reflink=never", src, dst], check=True)
    return time.perf_counter() - t


def installed_env(pycache, base: dict | None = None) -> dict:
    """The environment to time `trove` in as a user runs it: its modules compiled once into `pycache`
    and reused, whatever this shell says (PYTHONDONTWRITEBYTECODE would charge the compiling of
    trove, Pillow, onnxruntime and chromadb, ~0.1-2 s, to every timed run). Time a warm-up first."""
    env = {k: v for k, v in (os.environ if base is None else base).items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env
