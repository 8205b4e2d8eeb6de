"""Search end to end on a fixture library: the real CLI, real SQLite, real ChromaDB — embedded, and the
same tests again against a `chroma run` server (the `backend` fixture's two parameters).

Expected results are worked out by hand from the fixture (tests/search_support.py): the colour
embedder maps an image to its mean colour and a colour word to that colour, so e.g. "red" ranks the
two red photos first, and each filter selects a set readable off the EXIF and metadata table there.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from search_support import SPEC, TESTS, XSS, Trove, backend, build_library, free_port  # noqa: F401

ALL = {"red_rome.jpg", "orange_rome.jpg", "blue_paris.jpg", "green_garden.jpg", "yellow.jpg",
       "red_small_copy.jpg", XSS, "rotated.jpg"}


@pytest.fixture(scope="module")
def lib(backend, tmp_path_factory):
    return build_library(tmp_path_factory.mktemp("lib"), backend)


def names(trove, *args) -> set[str]:
    return set(trove.names(*args))


# -- ranking ------------------------------------------------------------------------------------------
def test_text_query_ranks_by_meaning(lib):
    trove, _ = lib
    ranked = trove.names("red")
    assert len(ranked) == 8  # every photo, each once: the identical blue copy is one photo
    assert set(ranked[:2]) == {"red_rome.jpg", "red_small_copy.jpg"}
    assert ranked[2] == "orange_rome.jpg"  # the nearest colour after the reds
    rows = trove.json("search", "red")
    assert [r["rank"] for r in rows] == list(range(1, len(rows) + 1))
    assert all(a["score"] >= b["score"] for a, b in zip(rows, rows[1:]))
    assert rows[0]["score"] > 0.99


def test_weighted_minus_changes_the_winner(lib):
    trove, _ = lib
    assert trove.names("magenta")[0] == XSS
    # magenta - blue = the pure +red axis; of all fill colours orange has the largest red share
    # (0.40 of |(.40, .01, -.42)|) and wins, ahead of magenta itself
    assert trove.names("magenta", "--minus", "blue")[0] == "orange_rome.jpg"
    # green + red points between the two: orange (r high, g mid, b low) is nearest (cos 0.73);
    # weighing green twice swings it back to the green photo (cos 0.87)
    assert trove.names("green", "--plus", "red")[0] == "orange_rome.jpg"
    assert trove.names("2:green", "--plus", "red")[0] == "green_garden.jpg"


def test_min_score_and_limit(lib):
    trove, _ = lib
    assert names(trove, "red", "--min-score", "0.9") == {"red_rome.jpg", "red_small_copy.jpg"}
    assert len(trove.json("search", "red", "--limit", "3")) == 3


def test_image_query_and_paths(lib, tmp_path):
    from search_support import write_jpeg

    trove, paths = lib
    probe = tmp_path / "query.png"
    write_jpeg(tmp_path / "q.jpg", (200, 40, 40), {})
    shutil.move(tmp_path / "q.jpg", probe)
    out = trove("search", "--image", probe, "--paths", "--limit", "2").stdout.split()
    assert set(out) == {str(paths["red_rome.jpg"]), str(paths["red_small_copy.jpg"])}


def test_similar_by_path_id_and_hash(lib):
    trove, paths = lib
    by_path = trove.json("similar", paths["red_rome.jpg"])
    assert os.path.basename(by_path[0]["shown_path"]) == "red_small_copy.jpg"
    assert "red_rome.jpg" not in {os.path.basename(r["shown_path"]) for r in by_path}  # never itself
    with trove.catalog() as cat:
        pid, digest = cat.db.execute("SELECT p.id, p.hash FROM photos p JOIN locations l ON l.photo_id=p.id "
                                     "WHERE l.path=?", (str(paths["red_rome.jpg"]),)).fetchone()
    assert trove.json("similar", pid) == by_path
    assert trove.json("similar", digest[:10]) == by_path


# -- filters inside the vector query ------------------------------------------------------------------
@pytest.mark.parametrize("args, expected", [
    (["--from", "2019-07-15"], {"orange_rome.jpg", "blue_paris.jpg", "green_garden.jpg"}),
    (["--from", "2019", "--to", "2019"], {"red_rome.jpg", "orange_rome.jpg"}),
    (["--to", "2020-03-01"], {"red_rome.jpg", "orange_rome.jpg", "blue_paris.jpg"}),
    (["--album", "rome"], {"red_rome.jpg", "orange_rome.jpg"}),
    (["--album", "friends", "--album", "rome"], {"red_rome.jpg", "orange_rome.jpg", "green_garden.jpg"}),
    (["--camera", "iphone"], {"blue_paris.jpg", "green_garden.jpg"}),
    (["--keyword", "vacation"], {"red_rome.jpg", "green_garden.jpg"}),
    (["--min-rating", "4"], {"red_rome.jpg", "blue_paris.jpg"}),
    (["--favorite"], {"red_rome.jpg", "green_garden.jpg"}),
    (["--camera", "canon", "--min-rating", "4"], {"red_rome.jpg"}),
    (["--source", "more"], {"blue_paris.jpg", "rotated.jpg"}),  # blue's identical copy lives in more/
    (["--near", "41.9028,12.4964,5"], {"red_rome.jpg", "orange_rome.jpg"}),  # the two are ~2 km apart
    (["--near", "41.9028,12.4964,1000"], {"red_rome.jpg", "orange_rome.jpg"}),  # Paris is ~1105 km away
    (["--near", "41.9028,12.4964,1200"], {"red_rome.jpg", "orange_rome.jpg", "blue_paris.jpg"}),
])
@pytest.mark.parametrize("engine", ["shortcut", "chroma-where"])
def test_filters(lib, args, expected, engine, monkeypatch):
    from phototrove.search import query

    # the fixture is small enough that the shortcut sees every item; 0 makes Chroma run the `where`
    monkeypatch.setattr(query, "OVERFETCH", 400 if engine == "shortcut" else 0)
    trove, _ = lib
    assert names(trove, "red", *args) == expected


def read_only_store(monkeypatch):
    """Make the index behave as on a read-only disk: Chroma cannot open its store."""
    from phototrove.search.index import ChromaIndex, IndexUnavailable

    def refuse(self, *a, **k):
        raise IndexUnavailable("cannot open the store: attempt to write a readonly database")
    monkeypatch.setattr(ChromaIndex, "collection", refuse)
    monkeypatch.setattr(ChromaIndex, "store_read_only", lambda self: True)


@pytest.mark.parametrize("args", [["--from", "2019-07-15"], ["--album", "rome"], ["--camera", "iphone"],
                                  ["--near", "41.9028,12.4964,1200"], ["--min-rating", "4"], []])
@pytest.mark.parametrize("engine", ["shortcut", "chroma-where"])
def test_the_catalog_vectors_answer_as_the_index_does(lib, args, engine, monkeypatch):
    """A read-only library searches its stored embeddings: same photos, same order, same scores."""
    from phototrove.search import query

    monkeypatch.setattr(query, "OVERFETCH", 400 if engine == "shortcut" else 0)
    trove, paths = lib
    want = trove.json("search", "red", *args, "--limit", "50")
    similar = trove.json("similar", paths["red_rome.jpg"], *args)
    read_only_store(monkeypatch)
    got = trove.json("search", "red", *args, "--limit", "50")
    assert [(r["hash"], r["score"]) for r in got] == [(r["hash"], r["score"]) for r in want]
    assert trove.json("similar", paths["red_rome.jpg"], *args) == similar


@pytest.mark.parametrize("args", [["--album", "garden", "--camera", "canon"], ["--from", "2030"],
                                  ["--near", "0,0,1"]])
@pytest.mark.parametrize("engine", ["shortcut", "chroma-where"])
def test_case_18_a_filter_that_matches_nothing_is_a_usage_error(lib, args, engine, monkeypatch):
    """Issue 10, case 18: exit 2 whatever the filter (before: only names that match nothing)."""
    from phototrove.search import query

    monkeypatch.setattr(query, "OVERFETCH", 400 if engine == "shortcut" else 0)
    trove, _ = lib
    out = trove("search", "red", *args, code=2).output.strip()
    assert out.splitlines() == [f"trove: no photo matches {' '.join(args)}"]
    assert trove("report", *args, code=2).output.strip() == f"trove: no photo matches {' '.join(args)}"


@pytest.mark.parametrize("overfetch", [0, 1, 400])
def test_filters_run_before_ranking_not_after(lib, overfetch, monkeypatch):
    from phototrove.search import query

    # 0: Chroma runs the `where`; 400: the shortcut sees every item; 1: the shortcut looks at the 4
    # best "red" photos, finds no iPhone photo among them and falls back to Chroma's `where`
    monkeypatch.setattr(query, "OVERFETCH", overfetch)
    trove, _ = lib
    # the single best "red" photo taken with an iPhone: a post-filter on the top result would be empty
    top = trove.json("search", "red", "--camera", "iphone", "--limit", "1")
    assert [os.path.basename(r["shown_path"]) for r in top] == ["green_garden.jpg"]  # cos -0.32 vs blue's -0.37
    top = trove.json("search", "red", "--source", "more", "--limit", "1")
    assert [os.path.basename(r["shown_path"]) for r in top] == ["blue_paris.jpg"]  # cyan is further from red


def test_unknown_filter_value_is_one_line(lib):
    trove, _ = lib
    out = trove("search", "red", "--album", "no such album", code=2).output
    assert out.strip().splitlines() == ["trove: --album 'no such album': nothing in the catalog matches"]
    assert "--from 'last week'" in trove("search", "red", "--from", "last week", code=2).output


# -- reports ------------------------------------------------------------------------------------------
def test_gallery_html_escapes_and_inlines_thumbnails(lib, tmp_path):
    trove, paths = lib
    out = tmp_path / "g.html"
    trove("search", "magenta", "--html", out)
    page = out.read_text(encoding="utf-8")
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;.jpg" in page
    assert "<Friends>" not in page  # the album title never appears raw...
    assert "Garden \\u0026 \\u003cFriends\\u003e" in page  # ...only escaped inside the page's JSON
    assert page.count('src="data:image/jpeg;base64,') == 8  # one per result, inlined
    data = json.loads(page.split('id="trove-data">', 1)[1].split("</script>", 1)[0])
    # nothing is fetched from anywhere: the only web addresses are map links to follow
    assert "http://" not in page and page.count("https://") == page.count("https://www.openstreetmap.org/?mlat=")
    assert sorted(p["map"] is not None for p in data["photos"].values()).count(True) == 3
    assert all(len(v) >= 1 for v in data["near"].values())  # "more like this" precomputed for each result
    assert ["albums", "Garden & <Friends>"] in [row for p in data["photos"].values() for row in p["meta"]]
    assert len(list((trove.library / "thumbs").rglob("*-320.jpg"))) == 8
    # the lightbox shows each original itself (plain JPEG files a browser shows): nothing decoded for it
    large = {p["large"] for p in data["photos"].values()}
    assert len(large) == 8 and all(p["large"] == p["open"] and p["large"].startswith("file:///")
                                   for p in data["photos"].values())
    assert not list((trove.library / "thumbs").rglob("*-1600.jpg"))


def test_thumbnail_is_upright(lib):
    from PIL import Image

    from phototrove.library import Library
    from phototrove.search.thumbs import thumb_path

    trove, paths = lib
    trove("search", "cyan", "--html", trove.library / "cyan.html", "--limit", "1")
    with trove.catalog() as cat:
        digest = cat.db.execute("SELECT p.hash FROM photos p JOIN locations l ON l.photo_id=p.id WHERE l.path=?",
                                (str(paths["rotated.jpg"]),)).fetchone()[0]
    with Image.open(thumb_path(Library(trove.library), digest)) as im:
        assert im.size[0] < im.size[1]  # stored 80x40 with EXIF orientation 6: portrait once upright


def test_duplicates_report_groups_true_duplicates(lib, tmp_path):
    trove, paths = lib
    groups = trove.json("report", "duplicates", "--threshold", "0.99", "--out", tmp_path / "d.html")
    kinds = {g["kind"]: g for g in groups}
    near = [{os.path.basename(loc) for p in g["photos"] for loc in p["locations"]} for g in groups
            if g["kind"] == "near-duplicates"]
    assert near == [{"red_rome.jpg", "red_small_copy.jpg"}]
    assert kinds["identical copies"]["photos"][0]["locations"] == [str(paths["blue_paris.jpg"]),
                                                                   str(paths["blue_copy.jpg"])] or \
        set(kinds["identical copies"]["photos"][0]["locations"]) == {str(paths["blue_paris.jpg"]),
                                                                     str(paths["blue_copy.jpg"])}
    red = [g for g in groups if g["kind"] == "near-duplicates"][0]
    assert red["photos"][0]["width"] == 80  # the larger one first: the one to keep
    page = (tmp_path / "d.html").read_text(encoding="utf-8")
    assert "red_small_copy.jpg" in page and "blue_copy.jpg" in page


def test_library_report_with_filter(lib, tmp_path):
    trove, _ = lib
    out = tmp_path / "r.html"
    trove("report", "--album", "rome", "--out", out)
    page = out.read_text(encoding="utf-8")
    assert page.count('class="tile"') == 2
    assert page.index("orange_rome.jpg") < page.index("red_rome.jpg")  # newest first


# -- bad input ----------------------------------------------------------------------------------------
def test_unknown_photo_and_empty_query(lib):
    trove, _ = lib
    out = trove("similar", "999999", code=2).output
    assert out.strip().splitlines() == [
        "trove: photo '999999': no photo with that id, hash prefix or path (see `trove list`)"]
    assert "nothing to search for" in trove("search", code=2).output


def test_model_mismatch_names_models(lib):
    trove, _ = lib
    out = trove("search", "red", "--model", "colour_embedder:make_other", code=3).output.strip()
    assert len(out.splitlines()) == 1
    assert "'test-colour-v1'" in out and "'test-other-v1'" in out and "--model" in out


def test_query_before_anything_is_indexed(backend, tmp_path):
    trove = Trove(tmp_path / "empty", backend)
    out = trove("search", "red", code=3).output.strip()
    assert out.splitlines() == [f"trove: library {tmp_path / 'empty'}: nothing indexed yet "
                                "(run `trove ingest folder PATH --model NAME` first)"]
    (tmp_path / "pics").mkdir()
    from search_support import write_jpeg

    write_jpeg(tmp_path / "pics" / "a.jpg", (10, 10, 10), {})
    trove("ingest", "folder", tmp_path / "pics", "--no-embed")
    assert "nothing is embedded yet" in trove("search", "red", "--semantic", code=3).output
    # without --semantic, a library that is not embedded is searched by its words, and says so
    assert trove.json("search", "a")[0]["match"]["fields"] == ["names"]
    assert "only the words of names" in Trove(tmp_path / "empty", backend, quiet=False)("search", "red").output


# -- the index follows the catalog --------------------------------------------------------------------
def _count(trove) -> int:
    from phototrove.library import Library
    from phototrove.search.index import ChromaIndex

    return ChromaIndex(Library(trove.library), url=trove.chroma_url).collection("test-colour-v1").count()


def test_missing_photos_leave_and_return(backend, tmp_path):
    from search_support import write_jpeg

    pics = tmp_path / "pics"
    for name, colour in (("r.jpg", (220, 20, 20)), ("g.jpg", (20, 220, 20)), ("b.jpg", (20, 20, 220))):
        write_jpeg(pics / name, colour, {})
    trove = Trove(tmp_path / "lib", backend)
    trove("ingest", "folder", pics, "--model", SPEC)
    assert _count(trove) == 3
    moved = tmp_path / "r.jpg"
    shutil.move(pics / "r.jpg", moved)  # our own fixture file, not a user's
    trove("ingest", "folder", pics, "--model", SPEC)
    assert _count(trove) == 2
    assert "r.jpg" not in trove.names("red")
    shutil.move(moved, pics / "r.jpg")
    trove("ingest", "folder", pics, "--model", SPEC)
    assert _count(trove) == 3 and trove.names("red")[0] == "r.jpg"
    with trove.catalog() as cat:
        assert cat.stats()["embeddings"]["test-colour-v1"] == {"embedded": 3, "indexed": 3}


def test_rebuild_and_self_heal(backend, tmp_path):
    from search_support import write_jpeg

    pics = tmp_path / "pics"
    for i in range(5):
        write_jpeg(pics / f"{i}.jpg", (40 * i, 200 - 40 * i, 90), {})
    trove = Trove(tmp_path / "lib", backend)
    trove("ingest", "folder", pics, "--model", SPEC)
    before = trove.json("search", "green")
    from phototrove.library import Library
    from phototrove.search.index import ChromaIndex

    index = ChromaIndex(Library(trove.library), url=trove.chroma_url)
    index.client.delete_collection(index.name("test-colour-v1"))  # the index lost, the catalog intact
    assert "run `trove index sync`" in trove("search", "green", code=3).output
    assert trove("index", "rebuild").stdout.strip() == "rebuilt 5 photo(s) for model test-colour-v1"
    assert trove.json("search", "green") == before
    # a collection that claims another model: refused with the way out
    index.client.delete_collection(index.name("test-colour-v1"))
    index.client.create_collection(index.name("test-colour-v1"), metadata={"trove_model": "something-else"})
    out = trove("search", "green", code=3).output.strip()
    assert len(out.splitlines()) == 1 and "something-else" in out and "trove index rebuild" in out
    trove("index", "rebuild", "--model", "test-colour-v1")
    # an out-of-step index (wiped behind trove's back) is re-sent by the next sync
    index.client.delete_collection(index.name("test-colour-v1"))
    assert trove("index", "sync").stdout.strip() == "sent 5 photo(s)"
    assert trove.json("search", "green") == before


def test_unreachable_server_is_one_line(tmp_path, lib):
    trove, _ = lib
    dead = Trove(trove.library, f"http://127.0.0.1:{free_port()}")
    out = dead("search", "red", code=3).output.strip()
    assert len(out.splitlines()) == 1 and out.startswith("trove: cannot use the Chroma server at http://127.0.0.1:")
    assert "Traceback" not in out


# -- processes: laziness and the real command line ----------------------------------------------------
def _env():
    env = {k: v for k, v in os.environ.items() if not k.startswith("TROVE_")}
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), str(TESTS.parent)])
    return env


@pytest.mark.parametrize("args", [["--help"], ["status"]])
def test_help_and_status_stay_light(tmp_path, args, backend):
    if backend:
        pytest.skip("process start-up does not depend on the Chroma backend")
    code = ("import sys; from phototrove.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "heavy = sorted(m for m in ('chromadb', 'numpy', 'onnxruntime', 'PIL') if m in sys.modules)\n"
            "print('HEAVY', heavy)")
    out = subprocess.run([sys.executable, "-c", code, "--library", str(tmp_path / "l"), *args],
                         capture_output=True, text=True, env=_env(), timeout=60)
    assert "HEAVY []" in out.stdout, out.stdout + out.stderr


def test_cli_process_search(lib):
    trove, _ = lib
    cmd = [sys.executable, "-m", "phototrove.cli", *trove.args("search", "yellow", "--limit", "1")]
    out = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[-1].endswith("yellow.jpg")


@pytest.mark.parametrize("model_id", ["ViT-B-32__openai", "/home/me/My Model..v2/", "a", "日本語", "x" * 300])
def test_collection_names_are_valid_and_distinct(model_id):
    import re

    from phototrove.search.index import collection_name

    name = collection_name(model_id, "0123456789")
    assert re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9._-]{1,61}[a-zA-Z0-9]", name) and ".." not in name
    assert name != collection_name(model_id + "!", "0123456789")
    assert name != collection_name(model_id, "abcdefabcd")


def test_ingest_keeps_its_work_when_the_server_is_down(tmp_path, backend):
    from search_support import write_jpeg

    if backend:
        pytest.skip("this test points at a dead server itself")
    write_jpeg(tmp_path / "pics" / "a.jpg", (200, 10, 10), {})
    dead = Trove(tmp_path / "lib", f"http://127.0.0.1:{free_port()}")
    out = dead("ingest", "folder", tmp_path / "pics", "--model", SPEC, code=3).output.strip()
    assert len(out.splitlines()) == 1 and "cannot use the Chroma server at http://127.0.0.1:" in out
    with dead.catalog() as cat:  # read and embed were committed before the index stage failed
        assert cat.stats()["embeddings"]["test-colour-v1"] == {"embedded": 1, "indexed": 0}
    live = Trove(tmp_path / "lib", None)
    assert "nothing is indexed for model 'test-colour-v1' yet" in live("search", "red", code=3).output
    assert live("index", "sync").stdout.strip() == "sent 1 photo(s)"
    assert live.names("red") == ["a.jpg"]
