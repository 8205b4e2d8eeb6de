"""The lightbox's large view in `trove report` / `search --html` decodes only what nothing else can
show: a rendition already cached (by `trove serve` or an earlier page) is used as it is; a plain
JPEG/PNG/GIF/WebP file on disk is shown itself through its file:// URI (whatever its name: spaces,
#, ?, %, NFD, bytes that are not UTF-8); what a browser cannot show from disk (a Takeout zip's
member, a TIFF even named .jpg) gets a rendition on a page of up to INLINE_MAX photos and its
thumbnail on a bigger one, which says so once. `--self-contained` inlines renditions of all.

Real files (Pillow), a real Takeout zip, ingested by the real CLI with the colour embedder (which
writes the 320-px thumbnails); decodes are counted as in test_thumb_reuse. In Chromium (when
installed) the originals load from their URIs, and the thumbnail stands in for one that has gone."""
from __future__ import annotations

import base64
import os
import shutil
import sqlite3
import sys
import time
import unicodedata
from pathlib import Path

import pytest
from PIL import Image

from photos import write
from test_thumb_reuse import SPEC, Decodes, page_data, quarters, uri_path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
import takeout_fixtures as tf  # noqa: E402

NFD = unicodedata.normalize("NFD", "été <b>.png")
SHOWN = {  # plain files a browser shows: name -> (bytes, size as displayed)
    "plain.jpg": (quarters(1200, 900, seed=1), (1200, 900)),
    "a b #1 ?x=2 100%.jpg": (quarters(640, 480, seed=2), (640, 480)),
    NFD: (quarters(500, 400, seed=3, fmt="PNG"), (500, 400)),
    "back\\slash.webp": (quarters(300, 200, seed=4, fmt="WEBP"), (300, 200)),
    "rotated.jpg": (quarters(900, 600, seed=5, orientation=6), (600, 900)),   # stored landscape, shown portrait
}
NOT_UTF8 = b"caf\xe9 \xff.jpg"   # a Latin-1 name, as old cameras and zips wrote them
TIFF = "really-a-tiff.jpg"       # a TIFF by its bytes, whatever its name says
Y = "Photos from 2019/"
MEMBERS = {"IMG_1.jpg": quarters(1000, 800, seed=7), "IMG_2.png": quarters(900, 700, seed=8, fmt="PNG")}
RENDERED = {TIFF, *MEMBERS}      # what only a rendition shows full size


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """A folder of odd names and a Takeout zip, ingested and embedded (thumbnails made); tests
    work on copies of the library (`fresh`), so renditions one makes are not cached for another."""
    from conftest import Trove

    root = tmp_path_factory.mktemp("large")
    pics = root / "pics"
    files = {name: write(pics / name, data) for name, (data, _size) in SHOWN.items()}
    files[TIFF] = write(pics / TIFF, quarters(700, 500, seed=6, fmt="TIFF"))
    try:
        odd = Path(os.fsdecode(os.fsencode(pics) + b"/" + NOT_UTF8))
        odd.write_bytes(quarters(600, 400, seed=9))
        files["not-utf8"] = odd
    except OSError:   # a file system that only takes UTF-8 names (macOS)
        pass
    zips = tf.takeout(str(root / "export"), [{Y + name: data for name, data in MEMBERS.items()}
                                             | {Y + "IMG_1.jpg.json": tf.sidecar("IMG_1.jpg")}])
    trove = Trove(root / "library")
    trove("ingest", "folder", pics, "--model", SPEC)
    trove("ingest", "takeout", *zips, "--model", SPEC)
    return trove, files


def fresh(mixed, tmp_path):
    from conftest import Trove

    shutil.copytree(mixed[0].library, tmp_path / "library")
    return Trove(tmp_path / "library")


def by_name(page: Path, files: dict[str, Path]) -> dict[str, dict]:
    """The page's photos (with their id) by the key of their file in `files`, else by their name."""
    out = {}
    for pid, p in page_data(page)["photos"].items():
        out[next((key for key, f in files.items() if str(f) in p["paths"]), p["name"])] = {**p, "id": int(pid)}
    return out


def renditions(trove) -> set[Path]:
    return set((trove.library / "thumbs").glob("*/*-1600.jpg"))


def assert_original(p: dict, path: Path) -> None:
    """The large view (and the "open" link) is this very file: the URI names its bytes exactly."""
    uri = p["large"]
    assert uri == p["open"] and uri.isascii() and not set(" #?\\") & set(uri[len("file://"):]), uri
    assert uri_path(uri) == path and os.fsencode(uri_path(uri)) == os.fsencode(path), (uri, path)


def rendition_file(p: dict, page: Path) -> Path:
    folder = page.stem + "_files/"
    assert p.get("large", "").startswith(folder) and p["large"].endswith("-1600.jpg"), p
    return page.parent / p["large"]   # relative to the page (cache names need no unquoting)


def test_a_small_page_shows_the_originals_and_renders_only_what_a_browser_cannot_show(mixed, tmp_path, monkeypatch):
    trove, files = fresh(mixed, tmp_path), mixed[1]
    decodes = Decodes(monkeypatch)
    page = tmp_path / "g.html"
    trove("report", "--out", page)
    assert len(decodes.opened) == len(RENDERED), decodes.opened   # one decode each, nothing else
    photos = by_name(page, files)
    assert sorted(photos) == sorted([*files, *MEMBERS])
    for name, path in files.items():
        if name != TIFF:
            assert_original(photos[name], path)
    sizes = {TIFF: (700, 500), "IMG_1.jpg": (1000, 800), "IMG_2.png": (900, 700)}   # smaller than 1600: their own
    for name in RENDERED:
        with Image.open(rendition_file(photos[name], page)) as im:
            assert im.format == "JPEG" and im.size == sizes[name], name
    assert photos["IMG_1.jpg"]["open"] is None and photos[TIFF]["open"] == files[TIFF].as_uri()
    made = renditions(trove)
    assert len(made) == len(RENDERED)
    # again: those renditions are in the cache now, and used without a decode
    decodes.opened.clear()
    trove("report", "--out", page)
    assert decodes.opened == [] and renditions(trove) == made
    assert by_name(page, files) == photos


def test_a_page_over_inline_max_decodes_nothing_and_says_which_show_their_thumbnail(mixed, tmp_path, monkeypatch):
    from phototrove.search import report

    trove, files = fresh(mixed, tmp_path), mixed[1]
    monkeypatch.setattr(report, "INLINE_MAX", 3)
    decodes = Decodes(monkeypatch)
    page = tmp_path / "big.html"
    said = trove("report", "--out", page, quiet=False).stderr
    assert decodes.opened == [] and not renditions(trove)
    photos = by_name(page, files)
    for name, path in files.items():
        if name != TIFF:
            assert_original(photos[name], path)
    for name in RENDERED:   # no large view: the lightbox shows the tile's thumbnail
        assert "large" not in photos[name], photos[name]
    assert said.count("show only their thumbnail in the lightbox") == 1, said
    assert f"{len(RENDERED)} photo(s) show only" in said and "`trove serve` shows them full size" in said, said


def test_self_contained_inlines_a_rendition_of_every_photo(mixed, tmp_path, monkeypatch):
    from phototrove.search import report

    trove, files = fresh(mixed, tmp_path), mixed[1]
    monkeypatch.setattr(report, "INLINE_MAX", 3)   # asked for one file: renditions even on a big page
    decodes = Decodes(monkeypatch)
    page = tmp_path / "one.html"
    trove("report", "--out", page, "--self-contained")
    photos = by_name(page, files)
    assert len(decodes.opened) == len(photos) == len(renditions(trove))
    cached = {f.read_bytes() for f in renditions(trove)}
    for name, p in photos.items():
        assert p["large"].startswith("data:image/jpeg;base64,"), name
        assert base64.b64decode(p["large"].split(",", 1)[1]) in cached, name
    assert "file:" not in "".join(p["large"] for p in photos.values())
    assert not (tmp_path / "one_files").exists()


def test_renditions_trove_serve_cached_are_used_without_decoding(mixed, tmp_path, monkeypatch):
    from starlette.testclient import TestClient

    from phototrove.library import Library
    from phototrove.search import report
    from phototrove.serve.app import make_app
    from phototrove.serve.view import LibraryView

    trove, files = fresh(mixed, tmp_path), mixed[1]
    db = sqlite3.connect(trove.library / "catalog.db")
    ids = {"plain.jpg": db.execute("SELECT photo_id FROM locations WHERE path=?", (str(files["plain.jpg"]),)),
           "IMG_1.jpg": db.execute("SELECT photo_id FROM locations WHERE entry LIKE '%/IMG_1.jpg'")}
    ids = {name: rows.fetchone()[0] for name, rows in ids.items()}
    db.close()
    seen = {}
    app = make_app(LibraryView(Library(trove.library)), host="127.0.0.1", port=8765)
    with TestClient(app, base_url="http://127.0.0.1:8765") as client:
        for name in ("plain.jpg", "IMG_1.jpg"):   # the web app's full view of a plain file and of a zip member
            r = client.get(f"/img/{ids[name]}/view?w=1500")
            assert r.status_code == 200
            seen[name] = r.content
    assert len(renditions(trove)) == 2
    page = tmp_path / "g.html"
    monkeypatch.setattr(report, "INLINE_MAX", 3)
    decodes = Decodes(monkeypatch)
    said = trove("report", "--out", page, quiet=False).stderr
    assert decodes.opened == []
    photos = by_name(page, files)
    for name, view in seen.items():   # the cached rendition, even of a plain JPEG the page could link
        assert rendition_file(photos[name], page).read_bytes() == view, name
    assert "large" not in photos["IMG_2.png"] and "large" not in photos[TIFF]
    assert "2 photo(s) show only their thumbnail" in said, said
    trove("report", "--out", page, "--self-contained")   # inlines the cached ones, renders the rest
    assert len(decodes.opened) == len(photos) - len(seen)
    photos = by_name(page, files)
    for name, view in seen.items():
        assert base64.b64decode(photos[name]["large"].split(",", 1)[1]) == view, name


def test_a_name_no_uri_expresses_gets_a_rendition_instead(mixed, tmp_path, monkeypatch):
    from phototrove.search import report

    trove, files = fresh(mixed, tmp_path), mixed[1]
    real = report.file_uri
    monkeypatch.setattr(report, "file_uri", lambda path: None if path == str(files["plain.jpg"]) else real(path))
    decodes = Decodes(monkeypatch)
    page = tmp_path / "g.html"
    trove("report", "--out", page)
    photos = by_name(page, files)
    assert len(decodes.opened) == len(RENDERED) + 1
    with Image.open(rendition_file(photos["plain.jpg"], page)) as im:
        assert im.size == (1200, 900)
    assert photos["plain.jpg"]["open"] is None
    assert_original(photos["rotated.jpg"], files["rotated.jpg"])


@pytest.mark.parametrize("name", ["a b.jpg", "#1.jpg", "?q=1&r=2.jpg", "100%.jpg", "%20.jpg", NFD, "日本 語.jpg",
                                  "semi;colon,comma+plus@at'.jpg", "back\\slash.jpg", "new\nline.jpg",
                                  "<script>&amp;<!--.jpg"])
def test_file_uris_round_trip_to_the_same_bytes(name):
    from phototrove.search.report import file_uri

    path = f"/photos/dir with space/{name}"
    uri = file_uri(path)
    assert uri.startswith("file:///photos/") and uri.isascii() and not set(" #?<>\\\n") & set(uri[7:]), uri
    assert str(uri_path(uri)) == path
    if os.name != "nt":
        raw = os.fsdecode(b"/photos/" + NOT_UTF8)   # surrogateescape'd, as os.listdir gives it
        assert os.fsencode(uri_path(file_uri(raw))) == b"/photos/" + NOT_UTF8
        assert file_uri("/photos/\ud800.jpg") is None   # a surrogate no file system name encodes to
    assert file_uri("relative/a.jpg") is None and file_uri("") is None


def test_odd_names_are_escaped_in_the_page(mixed, tmp_path):
    trove = fresh(mixed, tmp_path)
    page = tmp_path / "g.html"
    trove("report", "--out", page)
    text = page.read_text(encoding="utf-8")
    assert "<b>" not in text and "&lt;b&gt;" in text and "\\u003cb\\u003e" in text
    assert "%CC%81" in text   # the NFD name's combining accent, as its bytes on disk


# -- in a real browser --------------------------------------------------------------------------------
def test_the_lightbox_shows_the_originals_and_the_thumbnail_once_one_has_gone(mixed, tmp_path):
    from test_search_browser import BROWSER, DevTools

    if BROWSER is None:
        pytest.skip("no Chromium on this machine")
    trove, files = fresh(mixed, tmp_path), mixed[1]
    page = tmp_path / "out" / "g.html"
    trove("report", "--out", page)
    ids = {name: p["id"] for name, p in by_name(page, files).items()}
    browser = DevTools(tmp_path / "profile")
    moved = files["plain.jpg"].with_name("moved.jpg.bak")
    try:
        for domain in ("Page", "Runtime", "Network"):
            browser.send(f"{domain}.enable")
        browser.send("Page.navigate", url=page.as_uri())
        browser.wait_for("Page.loadEventFired")
        want = {name: size for name, (_data, size) in SHOWN.items()} | \
            {"IMG_1.jpg": (1000, 800), TIFF: (700, 500), **({"not-utf8": (600, 400)} if "not-utf8" in files else {})}
        for name, size in want.items():
            shown = lightbox(browser, ids[name])
            assert (shown["w"], shown["h"]) == size, (name, shown)   # EXIF orientation applied to the original
            assert shown["src"].startswith("file:///" if name in SHOWN or name == "not-utf8" else "g_files/"), shown
        files["plain.jpg"].rename(moved)
        browser.send("Page.reload", ignoreCache=True)
        time.sleep(0.5)
        shown = lightbox(browser, ids["plain.jpg"])
        assert shown["src"].startswith("data:image/jpeg;base64,") and (shown["w"], shown["h"]) == (320, 240), shown
    finally:
        if moved.exists():
            moved.rename(files["plain.jpg"])
        browser.close()
    assert not [e for e in browser.events if e.get("method") == "Runtime.exceptionThrown"]


def lightbox(browser, pid: int) -> dict:
    """Opens the photo's lightbox; what its picture shows once loaded (or fallen back)."""
    browser.eval(f"location.hash = '#photo-{pid}'")
    return browser.eval("""new Promise(done => { const img = document.getElementById('lb-img');
        const t0 = Date.now(); (function wait() {
          if ((img.complete && img.naturalWidth > 0) || Date.now() - t0 > 5000)
            done({src: img.getAttribute('src') || '', w: img.naturalWidth, h: img.naturalHeight});
          else setTimeout(wait, 50); })(); })""")
