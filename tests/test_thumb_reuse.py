"""One decode per photo: the embed stage writes each photo's 320-px gallery thumbnail from the decode
it makes for the model, and what shows thumbnails afterwards (`trove report`, `search --html`,
`report duplicates`, the web app's thumbnail route) finds them instead of decoding the photo again.

Decodes are counted by wrapping PIL.Image.open, through which every decoder trove uses opens an image
(JPEG, PNG, RAW previews), in this process: the CLI runs in-process (CliRunner), the app through
Starlette's TestClient."""
from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import sqlite3
import urllib.parse
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from photos import exif_bytes, jpeg, write

SPEC = "colour_embedder:make"


def quarters(w: int, h: int, seed: int, fmt: str = "JPEG", orientation: int | None = None) -> bytes:
    """Four large blocks of different colours (which way up a thumbnail is shows at any scale),
    with a little noise."""
    rng = np.random.default_rng(seed)
    colours = rng.integers(0, 256, (4, 3))
    img = np.empty((h, w, 3), np.int16)
    img[:h // 2, :w // 2], img[:h // 2, w // 2:], img[h // 2:, :w // 2], img[h // 2:, w // 2:] = colours
    img = np.clip(img + rng.integers(-6, 7, img.shape), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    extra = {"quality": 90, "exif": exif_bytes(orientation=orientation)} if fmt == "JPEG" and orientation else {}
    Image.fromarray(img).save(buf, fmt, **extra)
    return buf.getvalue()


def make_folder(root: Path) -> dict[str, Path]:
    """Real files: a photo, an EXIF-rotated one (stored landscape, shown portrait), a PNG, one
    smaller than a thumbnail, a 4000x500 panorama, an identical copy, and a JPEG cut in half."""
    whole = jpeg(900, 600, seed=3)
    files = {
        "photo.jpg": quarters(1200, 900, seed=1),
        "rotated.jpg": quarters(900, 600, seed=2, orientation=6),
        "picture.png": quarters(800, 600, seed=4, fmt="PNG"),
        "tiny.jpg": quarters(100, 80, seed=5),
        "panorama.jpg": quarters(4000, 500, seed=6),
        "copy/photo.jpg": quarters(1200, 900, seed=1),
        "corrupt.jpg": whole[:len(whole) // 2],
    }
    return {name: write(root / name, data) for name, data in files.items()}


def upright(path: Path) -> Image.Image:
    with Image.open(path) as im:
        return ImageOps.exif_transpose(im).convert("RGB")


def thumb_files(library: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((library / "thumbs").glob("*/*-320.jpg"))}


def embedded(library: Path) -> dict[str, str]:
    """File name -> content hash of every embedded photo."""
    db = sqlite3.connect(library / "catalog.db")
    try:
        return {os.path.basename(path): digest for path, digest in db.execute(
            "SELECT l.path, p.hash FROM photos p JOIN locations l ON l.photo_id=p.id "
            "JOIN embeddings e ON e.photo_id=p.id")}
    finally:
        db.close()


def page_data(page: Path) -> dict:
    """The JSON a gallery page's lightbox reads."""
    return json.loads(page.read_text(encoding="utf-8").split('id="trove-data">', 1)[1].split("</script>", 1)[0])


def uri_path(uri: str) -> Path:
    """The file a file:// URI names, byte for byte (a name that is not UTF-8 comes back as os.fsdecode gives it)."""
    parts = urllib.parse.urlsplit(uri)
    assert parts.scheme == "file" and parts.netloc == "" and not parts.query and not parts.fragment, uri
    return Path(os.fsdecode(urllib.parse.unquote_to_bytes(parts.path)))


class Decodes:
    """Counts every image PIL opens in this process."""

    def __init__(self, monkeypatch):
        self.opened: list[str] = []
        real = Image.open

        def counting(fp, *args, **kwargs):
            self.opened.append(str(getattr(fp, "name", fp))[:80])
            return real(fp, *args, **kwargs)
        monkeypatch.setattr(Image, "open", counting)


@pytest.fixture(scope="module")
def ingested(tmp_path_factory):
    from conftest import Trove

    root = tmp_path_factory.mktemp("reuse")
    files = make_folder(root / "pics")
    trove = Trove(root / "library")
    trove("ingest", "folder", root / "pics", "--model", SPEC, code=1)   # 1: the corrupt JPEG
    return trove, files, thumb_files(trove.library)


def test_every_embedded_photo_has_an_upright_320_thumbnail_from_the_embed_stage(ingested):
    trove, files, thumbs = ingested
    photos = embedded(trove.library)
    assert set(photos) == {"photo.jpg", "rotated.jpg", "picture.png", "tiny.jpg", "panorama.jpg"}
    assert sorted(thumbs) == sorted(f"{d}-320.jpg" for d in set(photos.values()))
    expected_size = {"photo.jpg": (320, 240), "rotated.jpg": (213, 320), "picture.png": (320, 240),
                     "tiny.jpg": (100, 80), "panorama.jpg": (320, 40)}
    for name, digest in photos.items():
        thumb = Image.open(io.BytesIO(thumbs[f"{digest}-320.jpg"]))
        assert thumb.format == "JPEG" and thumb.mode == "RGB"
        assert thumb.size == expected_size[name], name
        # the picture itself, upright: close to the original turned by its orientation and shrunk
        want = np.asarray(upright(files[name]).resize(thumb.size, Image.Resampling.LANCZOS), dtype=np.float32)
        assert np.abs(np.asarray(thumb, dtype=np.float32) - want).mean() < 8, name
    assert not list((trove.library / "thumbs").glob("*/*.tmp")) and not list((trove.library / "thumbs").glob("*/.*"))


def test_report_search_and_duplicates_decode_nothing_and_show_those_thumbnails(ingested, monkeypatch, tmp_path):
    trove, files, thumbs = ingested
    decodes = Decodes(monkeypatch)
    gallery, found, dups = tmp_path / "gallery.html", tmp_path / "found.html", tmp_path / "dups.html"
    trove("report", "--out", gallery)
    trove("search", "red", "--html", found)
    trove("report", "duplicates", "--out", dups)
    assert decodes.opened == [], decodes.opened
    assert thumb_files(trove.library) == thumbs          # nothing made again, nothing changed
    for page in (gallery, found, dups):
        inlined = {base64.b64decode(m) for m in re.findall(r'src="data:image/jpeg;base64,([^"]+)"', page.read_text())}
        assert inlined and inlined <= set(thumbs.values()), page.name
    assert len(inlined) == 1   # the duplicates page: the photo and its identical copy, one thumbnail
    # the lightbox's large view of a plain JPEG or PNG is the original file itself: no rendition made
    assert not list((trove.library / "thumbs").glob("*/*-1600.jpg")) and not (tmp_path / "gallery_files").exists()
    photos = page_data(gallery)["photos"].values()
    assert len(photos) == len(thumbs)
    for p in photos:
        assert p["large"] == p["open"] and p["large"].startswith("file:///"), p
        original = uri_path(p["large"])
        assert str(original) in p["paths"] and original in files.values(), p
        assert hashlib.sha256(original.read_bytes()).hexdigest().startswith(dict(p["meta"])["hash"])


def test_a_gallery_of_a_library_ingested_before_makes_the_thumbnails_then(ingested, monkeypatch, tmp_path):
    """The decode counter does count: with the embed stage's thumbnails gone, the report decodes each photo."""
    trove, _files, thumbs = ingested
    import shutil

    shutil.copytree(trove.library, tmp_path / "library")
    for f in (tmp_path / "library" / "thumbs").glob("*/*-320.jpg"):
        f.unlink()
    from conftest import Trove

    decodes = Decodes(monkeypatch)
    Trove(tmp_path / "library")("report", "duplicates", "--out", tmp_path / "dups.html")
    assert len(decodes.opened) == 1                      # the one photo the duplicates page shows
    made = thumb_files(tmp_path / "library")
    assert len(made) == 1 and made.keys() <= thumbs.keys()


def test_the_apps_thumbnail_route_sends_the_embed_stages_thumbnail_without_decoding(ingested, monkeypatch):
    from starlette.testclient import TestClient

    from phototrove.library import Library
    from phototrove.serve.app import make_app
    from phototrove.serve.view import LibraryView

    trove, _files, thumbs = ingested
    photos = embedded(trove.library)
    app = make_app(LibraryView(Library(trove.library)), host="127.0.0.1", port=8765)
    decodes = Decodes(monkeypatch)
    with TestClient(app, base_url="http://127.0.0.1:8765") as client:
        for digest in set(photos.values()):
            r = client.get(f"/img/{digest}/thumb")
            assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
            assert r.content == thumbs[f"{digest}-320.jpg"]
    assert decodes.opened == []


def _ingest_ok(trove, pics: Path) -> str:
    """What the ingest said on stderr; it embedded all three photos and exited 0."""
    r = trove("ingest", "folder", pics, "--model", SPEC, "--json", "--batch-size", "1", quiet=False)
    assert json.loads(r.stdout.splitlines()[0])["embed.photos"] == 3, r.output
    return r.stderr


def _three(root: Path) -> Path:
    for i in range(3):
        write(root / f"{i}.jpg", jpeg(640, 480, seed=10 + i))
    return root


def test_an_unwritable_thumbnail_cache_does_not_fail_the_ingest(tmp_path):
    from conftest import Trove

    trove = Trove(tmp_path / "library")
    (tmp_path / "library").mkdir()
    (tmp_path / "library" / "thumbs").write_bytes(b"")   # no folder can be made there (read-only even for root)
    said = _ingest_ok(trove, _three(tmp_path / "pics"))
    assert said.count("thumbnails not written") == 1, said
    (tmp_path / "library" / "thumbs").unlink()            # a later gallery makes them itself
    trove("report", "--out", tmp_path / "g.html")
    assert len(thumb_files(trove.library)) == 3


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder")
def test_a_read_only_thumbnail_folder_does_not_fail_the_ingest(tmp_path):
    from conftest import Trove

    trove = Trove(tmp_path / "library")
    (tmp_path / "library" / "thumbs").mkdir(parents=True)
    (tmp_path / "library" / "thumbs").chmod(0o555)
    try:
        said = _ingest_ok(trove, _three(tmp_path / "pics"))
    finally:
        (tmp_path / "library" / "thumbs").chmod(0o755)
    assert said.count("thumbnails not written") == 1, said


def test_a_full_disk_for_thumbnails_does_not_fail_the_ingest(tmp_path, monkeypatch):
    import errno

    import phototrove.library
    from conftest import Trove

    real = phototrove.library.write_atomic

    def full(path, write):
        if "thumbs" in Path(path).parts:
            return real(path, lambda f: (_ for _ in ()).throw(OSError(errno.ENOSPC, "No space left on device")))
        return real(path, write)
    monkeypatch.setattr(phototrove.library, "write_atomic", full)
    trove = Trove(tmp_path / "library")
    said = _ingest_ok(trove, _three(tmp_path / "pics"))
    assert said.count("thumbnails not written") == 1 and "full" in said, said
    assert not list((tmp_path / "library" / "thumbs").rglob("*.jpg"))
    assert not list((tmp_path / "library" / "thumbs").rglob("*.tmp"))   # the half-written ones removed


def test_thumbnails_already_there_are_not_written_again(ingested, tmp_path):
    """A second model (or a re-run) embeds again: the thumbnail files stay as they were."""
    trove, files, thumbs = ingested
    before = {p: p.stat().st_mtime_ns for p in (trove.library / "thumbs").glob("*/*-320.jpg")}
    from phototrove.catalog import Catalog
    from phototrove.crawler import Crawler
    from phototrove.ingest.folder import FolderSource

    import colour_embedder

    with Catalog(tmp_path / "other.db") as cat:
        Crawler(cat, embedder=colour_embedder.make_other(), show_progress=False,
                thumbs_dir=trove.library / "thumbs").run(FolderSource(str(files["photo.jpg"].parent)))
    assert {p: p.stat().st_mtime_ns for p in (trove.library / "thumbs").glob("*/*-320.jpg")} == before
