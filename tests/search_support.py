"""Fixtures for the search tests: a fixture library of real JPEGs (EXIF dates, cameras, GPS, an
EXIF-rotated photo, a near-duplicate, an identical copy, a file named like an XSS payload), ingested
through the real CLI with the colour test embedder into a real ChromaDB, embedded or a `chroma run`
server started here on 127.0.0.1."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from fractions import Fraction
from pathlib import Path

import pytest
from click.testing import CliRunner

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))  # so the plugin spec `colour_embedder:make` imports in-process

SPEC = "colour_embedder:make"
XSS = "<img src=x onerror=alert(1)>.jpg"

# name -> (folder, fill colour, exif) ; albums/keywords/ratings come from a "test" origin afterwards,
# as a Takeout or Lightroom source would provide them
PHOTOS = {
    "red_rome.jpg": ("pics", (220, 30, 30), {"date": "2019:07:14 12:00:00", "make": "Canon", "model": "Canon EOS 5D",
                                              "gps": (41.9028, 12.4964)}),
    "orange_rome.jpg": ("pics", (230, 130, 20), {"date": "2019:07:15 09:30:00", "make": "Canon",
                                                  "model": "Canon EOS 5D", "gps": (41.9200, 12.4900)}),
    "blue_paris.jpg": ("pics", (30, 40, 220), {"date": "2020:03:01 18:00:00", "make": "Apple", "model": "iPhone 12",
                                                "gps": (48.8566, 2.3522)}),
    "green_garden.jpg": ("pics", (30, 200, 40), {"date": "2021:05:20 08:00:00", "make": "Apple", "model": "iPhone 12"}),
    "yellow.jpg": ("pics", (230, 220, 30), {}),
    "red_small_copy.jpg": ("pics", (220, 30, 30), {"small": True}),
    XSS: ("pics", (220, 30, 220), {}),
    "rotated.jpg": ("more", (30, 210, 210), {"orientation": 6}),
}
EXTRA_META = {  # what a richer source (Takeout, Lightroom) would add
    "red_rome.jpg": {"rating": 5, "favorite": True, "keywords": ["vacation"], "title": "Colosseum <b>at noon</b>"},
    "orange_rome.jpg": {"rating": 3},
    "blue_paris.jpg": {"rating": 4, "keywords": ["city"]},
    "green_garden.jpg": {"favorite": True, "keywords": ["vacation", "plants"]},
}
ALBUMS = {"Trip to Rome": ["red_rome.jpg", "orange_rome.jpg"], "Garden & <Friends>": ["green_garden.jpg"]}


def _rational(x: float):
    from PIL.TiffImagePlugin import IFDRational

    f = Fraction(x).limit_denominator(1000000)
    return IFDRational(f.numerator, f.denominator)


def _dms(deg: float):
    deg = abs(deg)
    d = int(deg)
    m = int((deg - d) * 60)
    s = (deg - d - m / 60) * 3600
    return (_rational(d), _rational(m), _rational(round(s, 4)))


def write_jpeg(path: Path, colour, exif_spec: dict) -> None:
    from PIL import Image

    size = (40, 30) if exif_spec.get("small") else (80, 40)
    im = Image.new("RGB", size, colour)
    exif = Image.Exif()
    if "make" in exif_spec:
        exif[0x010F], exif[0x0110] = exif_spec["make"], exif_spec["model"]
    if "orientation" in exif_spec:
        exif[0x0112] = exif_spec["orientation"]
    if "date" in exif_spec:
        exif.get_ifd(0x8769)[0x9003] = exif_spec["date"]
    if "gps" in exif_spec:
        lat, lon = exif_spec["gps"]
        gps = exif.get_ifd(0x8825)
        gps[1], gps[2] = ("N" if lat >= 0 else "S"), _dms(lat)
        gps[3], gps[4] = ("E" if lon >= 0 else "W"), _dms(lon)
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path, "JPEG", quality=90 if not exif_spec.get("small") else 70, exif=exif)


def make_pictures(root: Path) -> dict[str, Path]:
    paths = {}
    for name, (folder, colour, spec) in PHOTOS.items():
        paths[name] = root / folder / name
        write_jpeg(paths[name], colour, spec)
    copy = root / "more" / "blue_copy.jpg"  # the same bytes in a second source: one photo, two locations
    shutil.copyfile(paths["blue_paris.jpg"], copy)
    paths["blue_copy.jpg"] = copy
    return paths


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def chroma_binary() -> str:
    candidate = Path(sys.executable).parent / "chroma"
    return str(candidate) if candidate.exists() else (shutil.which("chroma") or "chroma")


class ChromaServer:
    """A real `chroma run` on 127.0.0.1 with its own data folder."""

    def __init__(self, path: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(path.parent / "chroma-server.log", "wb")
        self.proc = subprocess.Popen([chroma_binary(), "run", "--path", str(path), "--host", "127.0.0.1",
                                      "--port", str(self.port)], stdout=self.log, stderr=subprocess.STDOUT,
                                     env={**os.environ, "ANONYMIZED_TELEMETRY": "False"})
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/api/v2/heartbeat", timeout=2):
                    return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"chroma server did not start; see {self.log.name}")
                time.sleep(0.2)

    def stop(self) -> None:
        stop_process(self.proc)
        self.log.close()


def stop_process(proc: subprocess.Popen) -> None:
    """Terminate a helper process (a Chroma server, a browser), killing it if it lingers."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module", params=["embedded", "server"])
def backend(request, tmp_path_factory):
    """None for the embedded PersistentClient, else the URL of a fresh `chroma run` server."""
    if request.param == "embedded":
        yield None
        return
    server = ChromaServer(tmp_path_factory.mktemp("chroma-server") / "data")
    try:
        yield server.url
    finally:
        server.stop()


class Trove:
    """Runs `trove` in-process (click's CliRunner) against one library and Chroma backend."""

    def __init__(self, library: Path, chroma_url: str | None, quiet: bool = True):
        self.library, self.chroma_url, self.quiet = library, chroma_url, quiet
        self.runner = CliRunner(env={"TROVE_MODEL": None, "TROVE_CHROMA_URL": None, "TROVE_LIBRARY": None})

    def args(self, *args) -> list[str]:
        base = ["--library", str(self.library)] + (["-q"] if self.quiet else [])
        if self.chroma_url:
            base += ["--chroma-url", self.chroma_url]
        return base + [str(a) for a in args]

    def __call__(self, *args, code: int = 0):
        from phototrove.cli import main

        result = self.runner.invoke(main, self.args(*args), catch_exceptions=False)
        assert result.exit_code == code, f"trove {' '.join(map(str, args))} -> {result.exit_code}\n{result.output}"
        return result

    def json(self, *args) -> list[dict]:
        import json

        return [json.loads(line) for line in self(*args, "--json").stdout.splitlines() if line.strip()]

    def names(self, *args) -> list[str]:
        """The model's ranking alone (the fixture's names hold colour words, which the words-side of
        a default search would also match: tests of that use `search` without --semantic)."""
        return [os.path.basename(r["shown_path"]) for r in self.json("search", *args, "--semantic", "--limit", "50")]

    def catalog(self):
        from phototrove.catalog import Catalog

        return Catalog(self.library / "catalog.db")


def enrich(trove: Trove, paths: dict[str, Path]) -> None:
    """Add albums, keywords, ratings and favorites the way a source adapter's metadata lands."""
    with trove.catalog() as cat:
        with cat.db:
            pid = {name: cat.db.execute("SELECT photo_id FROM locations WHERE path=?", (str(p),)).fetchone()[0]
                   for name, p in paths.items()}
            for name, meta in EXTRA_META.items():
                cat.set_meta(pid[name], "test", meta)
                cat.resolve(pid[name])
            source_id = cat.db.execute("SELECT source_id FROM locations WHERE photo_id=?",
                                       (pid["red_rome.jpg"],)).fetchone()[0]
            for title, names in ALBUMS.items():
                album = cat.ensure_album(source_id, title.lower(), title, None)
                for name in names:
                    loc = cat.db.execute("SELECT id FROM locations WHERE path=?", (str(paths[name]),)).fetchone()[0]
                    cat.db.execute("INSERT INTO location_albums(location_id, album_id) VALUES (?,?)", (loc, album))


def build_library(root: Path, chroma_url: str | None) -> tuple[Trove, dict[str, Path]]:
    paths = make_pictures(root / "photos")
    trove = Trove(root / "library", chroma_url)
    trove("ingest", "folder", root / "photos" / "pics", root / "photos" / "more", "--model", SPEC)
    enrich(trove, paths)
    trove("index", "sync")  # the new metadata reaches Chroma's items without re-sending vectors
    return trove, paths
