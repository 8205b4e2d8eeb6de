"""`trove serve` over real HTTP: the server runs as a subprocess on a free port against real libraries
(folders with the colour embedder, whose rankings can be worked out by hand; a Takeout zip, a
Lightroom cache and a folder with the tiny embedder), and every request goes through the socket."""
from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from pathlib import Path
from urllib.parse import quote

import pytest
from PIL import Image

from conftest import Trove
from search_support import XSS, build_library
from serve_support import Server


def names(answer: dict) -> list[str]:
    return [p["name"] for p in answer["photos"]]


def files_state(root: Path, skip=("thumbs", "chroma")) -> dict[str, tuple[int, str]]:
    """Every file of the library but the thumbnail cache: (mtime, sha256). Chroma's embedded engine
    persists its own segment files during reads (its bookkeeping, not trove's), so the index is
    checked by what it holds instead."""
    if root.is_file():
        return {root.name: (root.stat().st_mtime_ns, hashlib.sha256(root.read_bytes()).hexdigest())}
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in skip]
        for f in filenames:
            p = Path(dirpath) / f
            out[str(p.relative_to(root))] = (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
    return out


@pytest.fixture(scope="module")
def colours(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve")
    lib, paths = build_library(root, None)
    trove = Trove(lib.library)
    catalog = files_state(lib.library / "catalog.db")
    with Server(trove) as server:
        server.json("/api/search?q=red")   # Chroma applies its own log to its segments on the first query
        yield {"server": server, "trove": trove, "paths": paths, "before": files_state(lib.library), "root": root,
               "catalog": catalog}


def photo_id(colours, name: str) -> int:
    from phototrove.catalog import Catalog

    with Catalog(colours["trove"].library / "catalog.db", readonly=True) as cat:
        return cat.db.execute("SELECT photo_id FROM locations WHERE path=?", (str(colours["paths"][name]),)).fetchone()[0]


# -- the grid -----------------------------------------------------------------------------------------
def test_the_grid_is_the_library_newest_first_in_pages(colours):
    s = colours["server"]
    first = s.json("/api/grid?limit=3")
    assert first["total"] == 8 and first["next"] == 3 and len(first["photos"]) == 3
    pages, offset = [], 0
    while offset is not None:
        page = s.json(f"/api/grid?limit=3&offset={offset}")
        pages += page["photos"]
        offset = page["next"]
    assert len({p["id"] for p in pages}) == 8
    dated = [p["date"] for p in pages if p["date"]]
    assert dated == sorted(dated, reverse=True) and pages[0]["name"] == "green_garden.jpg"
    assert all(p["date"] is None for p in pages[len(dated):])   # undated last


def test_filters_select_like_the_cli_flags(colours):
    s = colours["server"]
    assert sorted(names(s.json("/api/grid?album=Trip"))) == ["orange_rome.jpg", "red_rome.jpg"]
    assert sorted(names(s.json("/api/grid?favorite=1"))) == ["green_garden.jpg", "red_rome.jpg"]
    assert sorted(names(s.json("/api/grid?camera=Canon&min_rating=4"))) == ["red_rome.jpg"]
    assert names(s.json("/api/grid?from=2020&to=2020")) == ["blue_paris.jpg"]
    assert names(s.json("/api/grid?near=48.85,2.35,10")) == ["blue_paris.jpg"]
    assert names(s.json("/api/search?q=red&album=Trip&limit=1")) == ["red_rome.jpg"]
    assert "nothing in the catalog matches" in s.json("/api/grid?album=nowhere", 400)["error"]
    assert "min_rating" in s.json("/api/grid?min_rating=lots", 400)["error"]
    assert "expected a date" in s.json("/api/grid?from=yesterday", 400)["error"]


def test_random_is_a_sample_of_the_library(colours):
    got = colours["server"].json("/api/grid?random=1")
    assert len(got["photos"]) == 8 and len({p["id"] for p in got["photos"]}) == 8


# -- search, similar ------------------------------------------------------------------------------------
def test_text_search_with_plus_and_minus(colours):
    s = colours["server"]
    red = s.json("/api/search?q=red&limit=3&match=semantic")["photos"]
    assert red[0]["name"] in ("red_rome.jpg", "red_small_copy.jpg") and red[0]["score"] > 0.99
    assert s.json("/api/search?q=magenta&limit=1&match=semantic")["photos"][0]["name"] == XSS
    # red + blue = magenta: the XSS-named magenta photo comes first
    assert s.json("/api/search?q=red&plus=blue&limit=1&match=semantic")["photos"][0]["name"] == XSS
    # by words too: the title "Colosseum <b>at noon</b>" finds its photo, which the colours cannot
    found = s.json("/api/search?q=colosseum&limit=3")["photos"]
    assert found[0]["name"] == "red_rome.jpg" and found[0]["match"]["fields"] == ["title"]
    assert s.json("/api/search?q=colosseum&limit=3&match=semantic")["photos"][0]["name"] != "red_rome.jpg"
    assert s.json("/api/search?q=red&match=sideways", 400)["error"]
    # the app ranks as `trove search` does, --plus and --minus included
    for query, args in (("q=yellow&minus=green", ["yellow", "--minus", "green"]),
                        ("q=red&plus=2:green&minus=blue", ["red", "--plus", "2:green", "--minus", "blue"])):
        cli = [r["id"] for r in colours["trove"].json_lines("search", *args, "--limit", "5")]
        assert [p["id"] for p in s.json(f"/api/search?{query}&limit=5")["photos"]] == cli, query
    assert "nothing to search for" in s.json("/api/search?q=", 400)["error"]
    assert "cancel out" in s.json("/api/search?q=red&minus=red", 400)["error"]


def test_search_by_a_dropped_image(colours):
    s = colours["server"]
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (30, 200, 40)).save(buf, "JPEG")
    origin = {"origin": f"http://127.0.0.1:{s.port}", "content-type": "application/octet-stream"}
    code, _h, body = s.request("POST", "/api/search?limit=2", buf.getvalue(), origin)
    assert code == 200 and json.loads(body)["photos"][0]["name"] == "green_garden.jpg"
    code, _h, body = s.request("POST", "/api/search", b"not an image at all", origin)
    assert code == 400 and "not a photo trove can read" in json.loads(body)["error"]
    code, _h, _b = s.request("POST", "/api/search", buf.getvalue(), {"content-type": "application/octet-stream"})
    assert code == 403   # no Origin: not from trove's own page


def test_similar_can_be_followed_again_and_again(colours):
    s = colours["server"]
    pid = photo_id(colours, "red_rome.jpg")
    seen = [pid]
    for _ in range(3):
        near = s.json(f"/api/similar/{seen[-1]}?limit=4")["photos"]
        assert near and all(n["id"] != seen[-1] for n in near)
        assert [n["score"] for n in near] == sorted((n["score"] for n in near), reverse=True)
        seen.append(near[0]["id"])
    assert s.json(f"/api/similar/{pid}?limit=1")["photos"][0]["name"] in ("red_small_copy.jpg", "orange_rome.jpg")
    assert s.json("/api/similar/999999", 404)["error"]


# -- one photo ------------------------------------------------------------------------------------------
def test_the_full_view_metadata(colours):
    s = colours["server"]
    photo = s.json(f"/api/photo/{photo_id(colours, 'red_rome.jpg')}")
    rows = dict(photo["meta"])
    assert rows["date"] == "2019-07-14 12:00:00 (UTC+02:00)"   # the zone of the place it was taken
    assert rows["camera"] == "Canon EOS 5D" and rows["albums"] == "Trip to Rome" and rows["rating"] == "★★★★★"
    assert rows["title"] == "Colosseum <b>at noon</b>"       # text, escaped by the page, never markup
    assert "red wine" in rows["auto tags"]                     # the model's tags, apart from the keywords
    counts = dict(s.json("/api/info")["tags"])
    assert counts["red wine"] == len(s.json("/api/grid?tag=red+wine")["photos"]) >= 2
    tagged = {p["name"] for p in s.json("/api/grid?tag=red+wine")["photos"]}
    both = {p["name"] for p in s.json("/api/grid?tag=red+wine&album=Trip")["photos"]}
    assert "red_rome.jpg" in both and both == tagged & {"red_rome.jpg", "orange_rome.jpg"}
    assert photo["map"].startswith("https://www.openstreetmap.org/?mlat=41.90")
    assert photo["places"] == [{"where": str(colours["paths"]["red_rome.jpg"]), "source": "folder", "present": True,
                                "original": "red_rome.jpg"}]
    by_hash = s.json(f"/api/photo/{photo['hash']}")
    assert by_hash["id"] == photo["id"]


def test_thumbnails_and_renditions_are_upright_jpegs_cached_by_hash(colours):
    s = colours["server"]
    pid = photo_id(colours, "rotated.jpg")   # stored landscape with EXIF orientation 6
    code, headers, body = s.get(f"/img/{pid}/thumb")
    assert code == 200 and headers["content-type"] == "image/jpeg" and "immutable" in headers["cache-control"]
    thumb = Image.open(io.BytesIO(body))
    assert thumb.height > thumb.width
    code, _h, big = s.get(f"/img/{pid}/view?w=1500")
    view = Image.open(io.BytesIO(big))
    assert code == 200 and view.height > view.width
    digest = s.json(f"/api/photo/{pid}")["hash"]
    cached = colours["trove"].library / "thumbs" / digest[:2] / f"{digest}-1600.jpg"
    assert cached.read_bytes() == big
    assert s.get(f"/img/{pid}/view?w=1500")[2] == big


def test_the_original_downloads_as_its_own_bytes_and_name(colours):
    s = colours["server"]
    path = colours["paths"]["red_rome.jpg"]
    code, headers, body = s.get(f"/original/{photo_id(colours, 'red_rome.jpg')}")
    assert code == 200 and body == path.read_bytes()
    assert headers["content-disposition"].startswith('attachment; filename="red_rome.jpg"')
    code, headers, body = s.get(f"/original/{photo_id(colours, XSS)}")
    # named as `trove export` names it: characters no file system takes are replaced
    assert code == 200 and '<' not in headers["content-disposition"] and "filename*=UTF-8''_img%20src" in \
        headers["content-disposition"]


# -- security -------------------------------------------------------------------------------------------
def test_photos_are_never_reached_by_path(colours):
    s = colours["server"]
    target = str(colours["paths"]["red_rome.jpg"])
    catalog = str(colours["trove"].library / "catalog.db")
    attempts = ["/img/../../../../etc/passwd/thumb", "/img/%2e%2e%2f%2e%2e%2fetc%2fpasswd/thumb",
                f"/img/{quote(target, safe='')}/thumb", f"/original/{quote(target, safe='')}",
                f"/original/{quote(catalog, safe='')}", "/original/..%2f..%2fcatalog.db",
                "/static/../catalog.db", "/static/%2e%2e/%2e%2e/catalog.db", "/static/..%2f..%2fview.py",
                "/static/%2e%2e%2fview.py", f"/api/photo/{quote(target, safe='')}", "/api/photo/1%20OR%201=1",
                "/img/5abc/view", "/original/-1", "/catalog.db", "/thumbs/",
                # only a whole content hash names a photo: a prefix could be guessed
                f"/original/{s.json('/api/grid')['photos'][0]['hash'][:12]}"]
    for path in attempts:
        code, _h, body = s.get(path)
        assert code in (400, 404), (path, code)
        assert b"root:" not in body and b"SQLite format 3" not in body and b"\xff\xd8" not in body[:2], path


def test_every_answer_carries_the_csp_and_refuses_other_hosts_and_origins(colours):
    s = colours["server"]
    for path in ("/", "/api/info", "/api/grid?album=nowhere", "/nothing-here"):
        _code, headers, _b = s.get(path)
        assert "script-src 'self'" in headers["content-security-policy"], path
        assert headers["x-content-type-options"] == "nosniff" and headers["referrer-policy"] == "no-referrer"
    assert s.get("/api/info", headers={"host": "evil.example:80"})[0] == 421   # DNS rebinding
    assert s.get("/api/info", headers={"host": f"localhost:{s.port}"})[0] == 200
    code, _ = s.post_json("/api/export", {"folder": "/tmp/x", "ids": [1]}, origin=False)
    assert code == 403
    code, _h, _b = s.request("POST", "/api/export", b"{}", {"origin": "http://evil.example",
                                                             "content-type": "application/json"})
    assert code == 403


def test_nothing_but_the_thumbnail_cache_is_written(colours):
    s = colours["server"]
    for pid in range(1, 9):
        s.get(f"/img/{pid}/thumb")
        s.get(f"/img/{pid}/view?w=800")
        s.get(f"/api/photo/{pid}")
        s.get(f"/api/similar/{pid}")
    s.json("/api/search?q=red")
    assert files_state(colours["trove"].library) == colours["before"]
    assert files_state(colours["trove"].library / "catalog.db") == colours["catalog"]
    assert (colours["trove"].library / "thumbs").is_dir()
    status = colours["trove"].json_lines("status")[0]
    assert status["embeddings"] == {"test-colour-v1": {"embedded": 8, "indexed": 8}}


# -- a library of three sources ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def three(tmp_path_factory):
    from test_open import build

    root = tmp_path_factory.mktemp("three")
    built = build(root)
    with Server(built["trove"]) as server:
        yield {**built, "server": server, "root": root}


def _member_photo(three, member: str) -> dict:
    from test_open import photo_at

    return photo_at(three, entry=member)


def test_a_zip_member_is_shown_and_downloaded_from_inside_the_archive(three):
    s = three["server"]
    p = _member_photo(three, "IMG_0003(1).jpg")
    with zipfile.ZipFile(three["zip"]) as z:
        member = next(n for n in z.namelist() if n.endswith("IMG_0003(1).jpg"))
        data = z.read(member)
    code, headers, body = s.get(f"/original/{p['id']}")
    assert code == 200 and body == data
    assert 'filename="IMG_0003.jpg"' in headers["content-disposition"]   # the sidecar's title, not the (1)
    assert Image.open(io.BytesIO(s.get(f"/img/{p['id']}/view?w=640")[2])).size == Image.open(io.BytesIO(data)).size
    assert s.json(f"/api/photo/{p['id']}")["name"] == "IMG_0003.jpg"
    assert not os.path.exists(three["trove"].library / "open")   # nothing extracted into the library


def test_a_lightroom_preview_is_shown_and_named_after_its_original(three):
    from test_open import lr_photo

    s = three["server"]
    p = lr_photo(three, 1)
    photo = s.json(f"/api/photo/{p['id']}")
    assert photo["places"][0]["original"].endswith(".jpg") and "lrprev" not in photo["name"]
    code, headers, body = s.get(f"/original/{p['id']}")
    assert code == 200 and body[:2] == b"\xff\xd8" and photo["places"][0]["original"] in headers["content-disposition"]
    view = Image.open(io.BytesIO(s.get(f"/img/{p['id']}/view?w=2048")[2]))
    assert max(view.size) > 320    # a real rendition of the largest level, not the thumbnail


def test_export_from_the_app_writes_the_selection(three, tmp_path):
    s = three["server"]
    p = _member_photo(three, "IMG_0001.jpg")
    code, summary = s.post_json("/api/export", {"folder": str(tmp_path / "out"), "ids": [p["id"]], "layout": "flat"})
    assert code == 200 and summary["written"] == 1 and summary["errors"] == 0
    assert [f for f in os.listdir(tmp_path / "out") if not f.startswith(".")] == ["IMG_0001.jpg"]
    code, summary = s.post_json("/api/export", {"folder": str(tmp_path / "all"), "filters": "", "layout": "flat"})
    assert code == 200 and summary["photos"] == len(three["photos"]) and summary["errors"] == 0
    code, answer = s.post_json("/api/export", {"folder": "relative/folder", "ids": [1]})
    assert code == 400 and "full folder path" in answer["error"]
    code, answer = s.post_json("/api/export", {"folder": str(three["trove"].library / "x"), "ids": [1]})
    assert code == 400 and "library" in answer["error"]


def test_an_ingest_runs_while_the_app_serves_and_the_grid_sees_it(three, tmp_path):
    s = three["server"]
    before = s.json("/api/grid")["total"]
    folder = tmp_path / "new"
    folder.mkdir()
    for i in range(3):
        Image.new("RGB", (40, 30), (10 * i, 90, 200)).save(folder / f"new{i}.jpg")
    three["trove"]("ingest", "folder", folder, "--model", "tiny_embedder:make")   # takes the write lock: free
    assert s.json("/api/grid")["total"] == before + 3
    assert len(s.json("/api/search?q=anything&limit=500")["photos"]) == before + 3


# -- token, and a library not embedded -----------------------------------------------------------------
def test_any_other_host_needs_the_token(tmp_path):
    trove = Trove(tmp_path / "library")
    folder = tmp_path / "pics"
    folder.mkdir()
    Image.new("RGB", (40, 30), "red").save(folder / "a.jpg")
    trove("ingest", "folder", folder, "--no-embed")
    with Server(trove, "--host", "0.0.0.0") as s:
        assert s.token and len(s.token) >= 24
        assert s.get("/")[0] == 403 and s.get("/api/grid")[0] == 403
        assert s.get("/?token=wrong")[0] == 403
        code, headers, _ = s.get(f"/?token={s.token}&view=1")
        assert code == 303 and headers["location"] == "/?view=1"
        cookie = headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
        jar = {"cookie": cookie.split(";")[0]}
        assert s.get("/api/grid", headers=jar)[0] == 200
        assert s.get("/api/grid", headers={"cookie": "trove_token=nope"})[0] == 403


def test_a_library_not_embedded_is_browsed_and_says_why_it_cannot_search(tmp_path):
    trove = Trove(tmp_path / "library")
    folder = tmp_path / "pics"
    folder.mkdir()
    for i in range(2):
        Image.new("RGB", (40, 30), (100 * i, 20, 20)).save(folder / f"p{i}.jpg")
    trove("ingest", "folder", folder, "--no-embed")
    with Server(trove) as s:
        assert "browsing only" in "".join(s.stderr)
        assert s.json("/api/info")["searchable"] is False
        assert s.json("/api/grid")["total"] == 2
        # no model: the words of names, captions, keywords and albums still find photos
        assert names(s.json("/api/search?q=p1")) == ["p1.jpg"]
        assert "nothing is embedded yet" in s.json("/api/similar/1", 400)["error"]


def test_serve_without_a_library_is_one_line(tmp_path):
    r = Trove(tmp_path / "none").run("serve", "--port", "0")
    assert r.returncode == 3 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_the_app_keeps_the_vector_table_warm_and_filtered_searches_find_the_same(colours):
    """The app builds the exact table filtered searches rank over (beside its first requests) and
    answers them from it, as the index's own filter answers them without it."""
    from phototrove.library import Library
    from phototrove.search import catalog_vectors
    from phototrove.search.filters import Filters
    from phototrove.serve.view import LibraryView

    catalog_vectors.forget()
    view = LibraryView(Library(colours["trove"].library))
    view.warming.join(60)
    assert catalog_vectors.fresh_table(view.catalog(), view.model_id) is not None
    cases = [Filters(), Filters(date_from="2019", date_to="2020"), Filters(albums=("Garden & <Friends>",))]
    warm = [view.search("red", filters=f) for f in cases]
    catalog_vectors.forget()   # no table: the index's filter
    assert catalog_vectors.fresh_table(view.catalog(), view.model_id) is None
    cold = [view.search("red", filters=f) for f in cases]
    for a, b in zip(warm, cold):
        assert [p["id"] for p in a["photos"]] == [p["id"] for p in b["photos"]]
        assert max((abs(x["score"] - y["score"]) for x, y in zip(a["photos"], b["photos"])), default=0) < 1e-5
    assert any(len(a["photos"]) for a in warm[1:])
