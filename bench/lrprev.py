"""Benchmark `trove recover lrprev` against `cp -r` of the same cache, and a 100,000-image catalog load.

Generates a Previews.lrdata of N previews (default 2,000, ~1 GB: 5 levels up to 2048 px, real
JPEGs from Pillow; a few distinct pyramids are reused under different UUIDs, which changes nothing
for recovery) beside a catalog with keywords, collection sets, collections and smart collections,
left with a hot rollback journal by a writer killed mid-transaction (so every run copies catalog and
journal into the library's scratch folder and rolls it back), in a temporary folder. Prints JSON lines:

    {"bench": "lrprev.recover", "previews": ..., "bytes": ..., "recover_s": ..., "cp_s": ..., "ratio": ...}
    {"bench": "lrcat.load", "images": 100000, "load_s": ...}
    {"bench": "lrcat.load_hot_journal", "images": 100000, "load_s": ...}   (after a crash mid-write)

Targets: ratio <= 1.5 (recover within 1.5x of `cp -r --reflink=never` of the cache), load_s < 5 (also with a hot journal).
How recover and cp are compared: the same cache, to the same file system, both from a warm page
cache (every file read once before), neither fsyncs (a sync before each step, so no step pays for
the writeback of an earlier one), three rounds alternating which goes first, nothing deleted
between the timed steps (on ext4 without a journal, files created within a minute of a mass
delete are slow to allocate); ratio = best recover / best cp, and each round's own ratio is shown.
trove runs as installed: its modules compiled once (bytecode in the bench folder), a warm-up
`--dry-run` first.
    python bench/lrprev.py [--previews N] [--catalog-images N] [--keep DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
import lightroom  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from limits import installed_env  # noqa: E402

SIDES = (256, 512, 1024, 1440, 2048)


def noisy_jpeg(w: int, h: int, seed: int) -> bytes:
    import io

    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([(x // 3 + seed * 40) % 256, (y // 2 + x // 5) % 256, (x + y) // 4 % 256], -1)
    img = np.clip(base + rng.integers(-6, 7, (h, w, 3)), 0, 255).astype("uint8")
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=84)
    return lightroom.adobe_app14(buf.getvalue())


def make_cache(root: str, n: int, distinct: int = 6) -> tuple[str, str, int]:
    lrdata = os.path.join(root, "Bench Previews.lrdata")
    catalog = os.path.join(root, "Bench.lrcat")
    pyramids = []
    for s in range(distinct):
        sizes = lightroom.level_sizes(1.5, SIDES)
        pyramids.append((sizes, [noisy_jpeg(w, h, s) for w, h in sizes]))
    total = 0
    rows = []
    for i in range(n):
        uuid, digest = lightroom.uuid_of(0x10000 + i), lightroom.digest_of(0x20000 + i)
        sizes, jpegs = pyramids[i % distinct]
        data = lightroom.lrprev_bytes(uuid, digest, jpegs, sizes)
        lightroom.write(lightroom.preview_path(lrdata, uuid, digest), data)
        total += len(data)
        rows.append((i + 1, uuid, digest))
    write_bulk_catalog(catalog, [(i, u, d) for i, u, d in rows])
    return lrdata, catalog, total


def write_bulk_catalog(path: str, rows: list[tuple[int, str, str]]) -> None:
    """A catalog with the fixture's schema: one image per (id, uuid, digest), ten folders, keywords."""
    if os.path.exists(path):
        os.remove(path)
    db = sqlite3.connect(path)
    db.executescript(lightroom.CATALOG_SCHEMA)
    db.execute("INSERT INTO Adobe_variablesTable VALUES (1, 'G1', 'Adobe_DBVersion', NULL, '1300025')")
    db.execute("INSERT INTO AgLibraryRootFolder VALUES (1, 'R1', '/Volumes/Photos/', 'Photos', NULL)")
    db.executemany("INSERT INTO AgLibraryFolder VALUES (?,?,NULL,?,1,NULL)",
                   [(10 + f, f"F{f}", f"20{f:02d}/Trip {f}/") for f in range(10)])
    db.executemany("INSERT INTO AgLibraryFile(id_local, id_global, baseName, extension, folder) VALUES (?,?,?,?,?)",
                   [(i, u, f"IMG_{i:06d}", "CR2", 10 + i % 10) for i, u, _ in rows])
    db.executemany("INSERT INTO Adobe_images(id_local, id_global, captureTime, orientation, rating, rootFile) "
                   "VALUES (?,?,?,?,?,?)",
                   [(i, f"I{i}", f"2019-07-{1 + i % 28:02d}T12:00:{i % 60:02d}", ("AB", "BC", "DA")[i % 3], i % 6, i)
                    for i, _, _ in rows])
    db.executemany("INSERT INTO Adobe_imageDevelopSettings(id_local, image, digest) VALUES (?,?,?)",
                   [(i, i, d) for i, _, d in rows])
    # 50 keywords under 5 parents (a hierarchy: Places|place 3 ...), under the root keyword
    db.execute("INSERT INTO AgLibraryKeyword(id_local, id_global, name, parent) VALUES (1000, 'KROOT', NULL, NULL)")
    db.executemany("INSERT INTO AgLibraryKeyword(id_local, id_global, name, parent) VALUES (?,?,?,1000)",
                   [(900 + g, f"G{g}", f"group {g}") for g in range(5)])
    db.executemany("INSERT INTO AgLibraryKeyword(id_local, id_global, name, parent) VALUES (?,?,?,?)",
                   [(k, f"K{k}", f"keyword {k}", 900 + k % 5) for k in range(1, 51)])
    # collections: 20 sets holding 180 regular collections, 10 smart ones; every image in two
    db.executemany("INSERT INTO AgLibraryCollection(id_local, creationId, name, parent) VALUES (?,?,?,NULL)",
                   [(c, "com.adobe.ag.library.group", f"set {c}") for c in range(1, 21)]
                   + [(c, "com.adobe.ag.library.smart_collection", f"smart {c}") for c in range(201, 211)])
    db.executemany("INSERT INTO AgLibraryCollection(id_local, creationId, name, parent) VALUES (?,?,?,?)",
                   [(c, "com.adobe.ag.library.collection", f"collection {c}", 1 + c % 20) for c in range(21, 201)])
    db.executemany("INSERT INTO AgLibraryCollectionImage(collection, image) VALUES (?,?)",
                   [(21 + (i * k) % 180, i) for i, _, _ in rows for k in (1, 7)])
    db.executemany("INSERT INTO AgLibraryKeywordImage(image, tag) VALUES (?,?)",
                   [(i, 1 + (i * 7 + j) % 50) for i, _, _ in rows for j in range(3)])
    db.execute("INSERT INTO AgInternedExifCameraModel VALUES (1, 'x', 'Canon EOS R5')")
    db.execute("INSERT INTO AgInternedExifLens VALUES (1, 'x', 'RF24-70mm F2.8 L IS USM')")
    db.executemany("INSERT INTO AgHarvestedExifMetadata(image, aperture, cameraModelRef, focalLength, gpsLatitude, "
                   "gpsLongitude, hasGPS, isoSpeedRating, lensRef, shutterSpeed) VALUES (?,4,1,50,?,?,1,200,1,8)",
                   [(i, 40 + i % 10 / 10, 5 + i % 7 / 10) for i, _, _ in rows])
    db.executemany("INSERT INTO AgLibraryIPTC(image, caption) VALUES (?,?)", [(i, f"caption {i}") for i, _, _ in rows])
    xmp = lightroom.compressed_xmp("A title")
    db.executemany("INSERT INTO Adobe_AdditionalMetadata(id_global, image, xmp) VALUES (?,?,?)",
                   [(f"X{i}", i, xmp) for i, _, _ in rows])
    db.commit()
    db.close()


def python_speed() -> float:
    """Seconds for 10 million empty loop turns: how fast (or how shared) this machine is right now."""
    t = time.perf_counter()
    for _ in range(10_000_000):
        pass
    return round(time.perf_counter() - t, 2)


def read_all(folder: str) -> None:
    """Every file under `folder` read once: the page cache is warm for whatever runs next."""
    for d, _dirs, files in os.walk(folder):
        for f in files:
            with open(os.path.join(d, f), "rb") as fh:
                while fh.read(1 << 20):
                    pass


def tree_bytes(folder: str) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _dirs, fs in os.walk(folder) for f in fs)


def bench_recover(root: str, lrdata: str, catalog: str, total: int, previews: int, rounds: int = 3) -> dict:
    library = os.path.join(root, "library")
    env = installed_env(os.path.join(root, "pycache"))
    trove = [sys.executable, "-m", "phototrove.cli", "--library", library, "--quiet"]

    def run(cmd: list[str]) -> float:
        os.sync()   # the writeback of earlier steps is not charged to this one
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env)
        return time.perf_counter() - t

    def recover(out: str) -> float:
        return run(trove + ["recover", "lrprev", lrdata, "--out", out])

    def copy(out: str) -> float:
        return run(["cp", "-r", "--reflink=never", lrdata, out])   # every byte copied, no shared extents

    journal = catalog + "-journal"
    assert os.path.getsize(journal) > 0, "the fixture's catalog has no hot journal"
    subprocess.run(trove + ["recover", "lrprev", lrdata, "--out", os.path.join(root, "dry"), "--dry-run"],
                   check=True, stdout=subprocess.DEVNULL, env=env)   # warm-up: modules compiled, catalog read
    read_all(lrdata)
    cp_runs, recover_runs = [], []
    for k in range(rounds):   # alternating which goes first: the machine may be shared
        if k % 2 == 0:
            cp_runs.append(copy(os.path.join(root, f"copy{k}")))
            recover_runs.append(recover(os.path.join(root, f"out{k}")))
        else:
            recover_runs.append(recover(os.path.join(root, f"out{k}")))
            cp_runs.append(copy(os.path.join(root, f"copy{k}")))
    out0 = os.path.join(root, "out0")
    names = [f for _d, _s, fs in os.walk(out0) for f in fs if f.endswith(".jpg")]
    assert len(names) == previews, (len(names), previews)
    assert not any(n.startswith(lightroom.HALF_WRITTEN) for n in names), "the hot journal was not rolled back"
    assert os.path.getsize(journal) > 0, "the source catalog's journal was touched"
    resume_s = recover(out0)
    written = tree_bytes(out0)
    for k in range(rounds):
        shutil.rmtree(os.path.join(root, f"copy{k}"))
        shutil.rmtree(os.path.join(root, f"out{k}"))
    cp_s, recover_s = min(cp_runs), min(recover_runs)
    return {"bench": "lrprev.recover", "previews": previews, "written": len(names), "bytes": total,
            "bytes_written": written, "recover_s": round(recover_s, 2), "cp_s": round(cp_s, 2),
            "ratio": round(recover_s / cp_s, 2), "target_ratio": 1.5,
            "round_ratios": [round(r / c, 2) for r, c in zip(recover_runs, cp_runs)],
            "runs": {"recover": [round(x, 2) for x in recover_runs], "cp": [round(x, 2) for x in cp_runs]},
            "resume_s": round(resume_s, 2), "fsync": "neither (sync before each step)",
            "catalog": "collections + hot journal", "load_avg": round(os.getloadavg()[0], 2)}


def timed_load(catalog: str, n: int, scratch: str | None = None) -> float:
    """Seconds of load_catalog in a fresh process (imports not counted), its result checked there:
    every image, keywords, collections and keyword paths read, and no name left half written."""
    code = (
        "import json, os, sys, time\n"
        "sys.path.insert(0, sys.argv[4])\n"
        "import lightroom\n"
        "from phototrove.ingest.lightroom.lrcat import load_catalog\n"
        "t = time.perf_counter()\n"
        "cat = load_catalog(sys.argv[1], scratch=sys.argv[3] or None)\n"
        "dt = time.perf_counter() - t\n"
        "last = cat.images[-1]\n"
        "assert len(cat.images) == int(sys.argv[2]) and last.keywords and last.collections and last.keyword_paths\n"
        "assert not last.base_name.startswith(lightroom.HALF_WRITTEN)\n"
        "print(dt)\n")
    fixtures = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures")
    out = subprocess.run([sys.executable, "-c", code, catalog, str(n), scratch or "", fixtures], check=True,
                         capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--previews", type=int, default=2000)
    ap.add_argument("--catalog-images", type=int, default=100_000)
    ap.add_argument("--keep", default=None, help="work in this folder and keep it")
    args = ap.parse_args()
    root = args.keep or tempfile.mkdtemp(prefix="trove-bench-lrprev-")
    os.makedirs(root, exist_ok=True)
    try:
        lrdata, catalog, total = make_cache(root, args.previews)
        # a crash of Lightroom 6 mid-write: the catalog's names are half rewritten, a hot -journal
        # holds the old pages; recover must roll it back (in a private copy) to name the photos
        lightroom.crash_mid_write(catalog, xmp_size=300)
        print(json.dumps(bench_recover(root, lrdata, catalog, total, args.previews)), flush=True)

        big = os.path.join(root, "Big.lrcat")
        n = args.catalog_images
        write_bulk_catalog(big, [(i, lightroom.uuid_of(0x100000 + i), lightroom.digest_of(i)) for i in range(1, n + 1)])
        # each load in a process of its own, as trove loads a catalog (not in this one, whose heap
        # holds the previews it generated and the catalog loaded before)
        load_s = timed_load(big, n)
        print(json.dumps({"bench": "lrcat.load", "images": n, "load_s": round(load_s, 2), "target_s": 5.0,
                          "python_1e7_loop_s": python_speed(), "load_avg": round(os.getloadavg()[0], 2)}),
              flush=True)
        # the same catalog after a crash mid-write (Lightroom 6 and older): a hot -journal, so it is
        # copied into the library's scratch folder and rolled back before it is read
        lightroom.crash_mid_write(big, xmp_size=300)   # every XMP rewritten: its pages go to the journal
        hot_s = timed_load(big, n, scratch=os.path.join(root, "library-tmp"))
        print(json.dumps({"bench": "lrcat.load_hot_journal", "images": n, "load_s": round(hot_s, 2),
                          "target_s": 5.0, "catalog_bytes": os.path.getsize(big),
                          "journal_bytes": os.path.getsize(big + "-journal"),
                          "load_avg": round(os.getloadavg()[0], 2)}), flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
