"""The web app at scale: 100,000 photos (bench/search.py's library: real JPEG files, dates over 20
years, random unit embeddings), `trove serve` started as a real process with a random-weight
ViT-B/32-shaped text tower (bench/vitb32.py), timed by real HTTP requests over loopback. Prints one
JSON object per line:

  start            seconds from launch until the server answers (catalog, index, text tower loaded)
  grid_first_page  the first grid request (reads the whole library's filter data once)
  grid_page        warm grid pages at random offsets, p50/p95 (ms), target p95 < 300
  grid_filtered    warm pages with a date filter, p50/p95 (ms), target p95 < 300
  search           warm text searches, a new query each time (the text tower runs every time),
                   p50/p95 (ms), target p95 < 150
  similar, photo   the full view's two requests, p50/p95 (ms)
  baseline         in the same run, in-process: the text tower alone and the Chroma query alone
                   (ms, p50): what a search cannot go below
  gallery_10k      the static counterpart: `trove report --limit 10000` of its own library of
                   10,000 JPEGs just ingested the real way (gallery_ingest: the embed stage made the
                   thumbnails), thumbnails linked as lazy files, 1600-px views beside the page:
                   page and folder sizes, seconds cold/warm (limit_s: 10; of cold_s, the seconds
                   spent finding or making thumbnails and making the views), and the time until
                   the browser's load event (headless Chromium, when installed)

Usage: python bench/serve.py [--photos 100000] [--out bench/out/serve] [--reuse]
"""
from __future__ import annotations

import argparse
import http.client
import json
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

WORDS = ("dog cat beach sunset mountain city night snow forest river car bicycle birthday cake wedding "
         "concert market bridge tower boat train garden flower portrait child grandmother kitchen street "
         "desert lake autumn winter summer spring rain fog museum statue church castle harbour").split()


def emit(**fields) -> None:
    print(json.dumps(fields, sort_keys=True), flush=True)


def pct(times: list[float]) -> dict:
    times = sorted(times)
    return {"p50_ms": round(statistics.median(times), 1), "p95_ms": round(times[max(0, int(len(times) * 0.95) - 1)], 1),
            "requests": len(times)}


class Client:
    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def get(self, path: str) -> tuple[float, dict]:
        t0 = time.perf_counter()
        self.conn.request("GET", path)
        r = self.conn.getresponse()
        body = r.read()
        took = (time.perf_counter() - t0) * 1000
        if r.status != 200:
            raise SystemExit(f"{path}: HTTP {r.status}: {body[:200]!r}")
        return took, json.loads(body)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", type=int, default=100_000)
    ap.add_argument("--out", type=Path, default=HERE / "out" / "serve")
    ap.add_argument("--reuse", action="store_true", help="Keep the library a previous run left in --out.")
    args = ap.parse_args()
    import numpy as np

    from search import make_library
    from vitb32 import build_vitb32

    from phototrove.catalog import Catalog
    from phototrove.embed import load_embedder
    from phototrove.library import Library
    from phototrove.search.index import ChromaIndex
    from phototrove.search.query import open_collection, query

    rng = np.random.default_rng(11)
    model_dir = args.out / "vitb32"
    library = Library(args.out / "library")
    if not (args.reuse and (library.root / "index.json").exists()):
        shutil.rmtree(args.out, ignore_errors=True)
        args.out.mkdir(parents=True)
        build_vitb32(model_dir, towers=("textual",))
        model_id = load_embedder(str(model_dir), towers="text").model_id
        t0 = time.perf_counter()
        make_library(args.out, args.photos, model_id, rng)
        cat = Catalog(library.catalog_path)
        cat.remember_model(model_id, str(model_dir))
        ChromaIndex(library).sync(cat, show_progress=False)
        cat.close()
        emit(metric="setup", photos=args.photos, seconds=round(time.perf_counter() - t0, 1))

    # the limits: the text tower and the vector query alone, in this process
    text = load_embedder(str(model_dir), towers="text")
    cat = Catalog(library.catalog_path, readonly=True)
    index = ChromaIndex(library, readonly=True)
    col = open_collection(cat, index, text.model_id)
    tower, chroma = [], []
    for i in range(40):
        words = " ".join(random.Random(i).sample(WORDS, 3))
        t0 = time.perf_counter()
        v = text.encode_texts([words])[0]
        tower.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        query(cat, index, col, v, limit=120)
        chroma.append((time.perf_counter() - t0) * 1000)
    emit(metric="baseline", text_tower_p50_ms=round(statistics.median(tower[5:]), 1),
         query_120_p50_ms=round(statistics.median(chroma[5:]), 1))
    cat.close()

    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "phototrove.cli", "--library", str(library.root), "serve",
                             "--port", "0"], stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        m = re.search(r":(\d+)/", line)
        if not m:
            raise SystemExit(f"trove serve did not start: {line}{proc.stderr.read()}")
        client = Client(int(m.group(1)))
        emit(metric="start", seconds=round(time.perf_counter() - t0, 2))
        took, first = client.get("/api/grid")
        emit(metric="grid_first_page", ms=round(took, 1), total=first["total"], tiles=len(first["photos"]))
        pages = [client.get(f"/api/grid?offset={random.Random(i).randrange(0, args.photos - 120)}")[0]
                 for i in range(60)]
        emit(metric="grid_page", tiles=120, **pct(pages), target_p95_ms=300)
        client.get("/api/grid?from=2015&to=2016")
        filtered = [client.get(f"/api/grid?from=2015&to=2016&offset={120 * i}")[0] for i in range(40)]
        emit(metric="grid_filtered", filter="2015-2016", tiles=120, **pct(filtered), target_p95_ms=300)
        client.get("/api/search?q=warm+up")
        searches = []
        for i in range(60):
            words = "+".join(random.Random(1000 + i).sample(WORDS, 3)) + f"+{i}"
            searches.append(client.get(f"/api/search?q={words}&limit=120")[0])
        emit(metric="search", results=120, **pct(searches), target_p95_ms=150)
        ids = [random.Random(i).randrange(1, args.photos) for i in range(40)]
        emit(metric="similar", **pct([client.get(f"/api/similar/{i}?limit=18")[0] for i in ids]))
        emit(metric="photo", **pct([client.get(f"/api/photo/{i}")[0] for i in ids]))
    finally:
        proc.terminate()
        proc.wait(30)
    gallery(args.out, reuse=args.reuse)


def gallery(out: Path, photos: int = 10_000, reuse: bool = False) -> None:
    """`trove report --limit 10000` of a library just ingested the real way: 10,000 distinct 640x480
    JPEGs (200 pictures with EXIF dates, each file made unique by a comment) through `trove ingest
    folder` with the committed tiny CLIP (ONNX, 224-px input: the embed stage decodes like a real
    model's, and makes the 320-px thumbnails from the same decode). Cold: the gallery right after
    the ingest (thumbnails there, 1600-px views made); warm: everything cached."""
    import io

    from PIL import Image
    from synth import photo, with_comment

    from phototrove.library import Library
    from phototrove.search.filters import Filters
    from phototrove.search.report import library_gallery

    work = out.resolve() / "gallery10k"
    library = Library(work / "library")
    if not (reuse and (library.root / "index.json").exists()):
        shutil.rmtree(work, ignore_errors=True)
        folder = work / "photos"
        folder.mkdir(parents=True)
        bases = []
        for seed in range(200):
            im = Image.open(io.BytesIO(photo(seed, 640, 480, quality=85)))
            exif = Image.Exif()
            exif[0x0132] = f"{2005 + seed % 20}:{1 + seed % 12:02d}:{1 + seed % 28:02d} 12:00:00"
            buf = io.BytesIO()
            im.save(buf, "JPEG", quality=85, exif=exif.tobytes())
            bases.append(buf.getvalue())
        for i in range(photos):
            (folder / f"IMG_{i:05d}.jpg").write_bytes(with_comment(bases[i % len(bases)], f"bench photo {i}"))
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "phototrove.cli", "--library", str(library.root), "-q", "ingest",
                        "folder", str(folder), "--model", str(HERE.parent / "fixtures/models/onnx/clip-tiny")],
                       check=True)
        emit(metric="gallery_ingest", photos=photos, seconds=round(time.perf_counter() - t0, 1),
             thumbs=sum(1 for _ in library.thumbs_dir.glob("*/*-320.jpg")))
    page = work / "report-10k.html"
    made = _time_renditions()
    times, spent = [], []
    for _ in range(2):   # cold: right after the ingest (its thumbnails reused, the views made); warm: all cached
        made.clear()
        with library.reading() as cat:
            t0 = time.perf_counter()
            library_gallery(library, cat, filters=Filters(), limit=photos, model=None, out=page)
            times.append(time.perf_counter() - t0)
        spent.append(dict(made))
    folder = page.with_name(page.stem + "_files")
    files_mb = sum(f.stat().st_size for f in folder.iterdir()) / 1e6
    # of cold_s: finding or making the 320-px thumbnails (none to make after an ingest) and the 1600-px views
    emit(metric="gallery_10k", photos=photos, cold_s=round(times[0], 1), warm_s=round(times[1], 1), limit_s=10,
         cold_thumbs_s=round(spent[0].get("thumbs", 0), 1), cold_views_s=round(spent[0].get("views", 0), 1),
         html_mb=round(page.stat().st_size / 1e6, 1), files_mb=round(files_mb, 1), load_event_s=_load_time(page))


def _time_renditions() -> dict:
    """Seconds the gallery spends in ensure_thumbs, per kind (thumbs: 320 px, views: larger), in this process."""
    import phototrove.search.thumbs as thumbs

    spent: dict[str, float] = {}
    real = thumbs.ensure_thumbs

    def timed(*args, side: int = thumbs.THUMB_SIDE, **kwargs):
        t0 = time.perf_counter()
        try:
            return real(*args, side=side, **kwargs)
        finally:
            key = "thumbs" if side == thumbs.THUMB_SIDE else "views"
            spent[key] = spent.get(key, 0.0) + time.perf_counter() - t0
    thumbs.ensure_thumbs = timed
    return spent


def _load_time(page: Path) -> float | None:
    """Seconds from navigation to the load event in headless Chromium (None without one)."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        return None
    sys.path.insert(0, str(HERE.parent / "tests"))
    import tempfile

    from test_search_browser import DevTools

    with tempfile.TemporaryDirectory() as profile:
        tools = DevTools(Path(profile))
        try:
            tools.send("Page.enable")
            t0 = time.perf_counter()
            tools.send("Page.navigate", url=page.as_uri())
            tools.wait_for("Page.loadEventFired", timeout=120)
            return round(time.perf_counter() - t0, 2)
        finally:
            tools.close()


if __name__ == "__main__":
    main()
