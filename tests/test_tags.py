"""Auto-tags and search that also reads (issue 18), with the colour test embedder, whose text tower
knows colour words and maps every other word to one fixed direction: so "red" really tags the red
photos, and a name like `Baratunde` can only be found by its words.

The quality of the calibration on a real model cannot be checked here (no real weights); these
tests check its mechanics: thresholds, the cap, origins, resume, re-tagging, the FTS index following
edits and missing files, and the order of fused results."""
from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest

from colour_embedder import colour_vector
from conftest import Trove
from search_support import write_jpeg

SPEC = "colour_embedder:make"
XMP = """<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">
<dc:description><rdf:Alt><rdf:li xml:lang="x-default">{caption}</rdf:li></rdf:Alt></dc:description>
</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>"""


def library(tmp_path, *extra, embed=True):
    pics = tmp_path / "pics"
    pics.mkdir()
    for name, colour, spec in (("red.jpg", (220, 20, 20), {"date": "2019:07:14 12:00:00"}),
                               ("green.jpg", (20, 210, 30), {"date": "2020:05:01 10:00:00"}),
                               ("blue.jpg", (20, 30, 220), {}),
                               ("Baratunde_2017.jpg", (120, 120, 130), {"date": "2017:03:03 09:00:00"}),
                               ("studio.jpg", (110, 120, 120), {})):
        write_jpeg(pics / name, colour, spec)
    (pics / "studio.jpg.xmp").write_text(XMP.format(caption="Baratunde at the studio"))
    trove = Trove(tmp_path / "library")
    trove("ingest", "folder", pics, *(["--model", SPEC] if embed else ["--no-embed"]), *extra)
    return trove, pics


def db(trove) -> sqlite3.Connection:
    return sqlite3.connect(trove.library / "catalog.db")


def name(r: dict) -> str:
    """A search result's or a `list` record's file name."""
    return (r.get("shown_path") or r["path"]).rsplit("/", 1)[-1]


def names(rows) -> list[str]:
    return [name(r) for r in rows]


# -- the calibration's mechanics ----------------------------------------------------------------------
@pytest.fixture
def tagger(tmp_path):
    from phototrove.library import Library
    from phototrove.search.tags import Tagger, Vocabulary

    others = [f"thing {i}" for i in range(400)]   # all one direction to the colour tower
    concepts = ["red", "green", "blue", "yellow"] + [f"red {w}" for w in "car bus cup hat bag kite".split()] + others
    t = Tagger(Library(tmp_path / "lib"), Vocabulary(concepts), SPEC)
    t.prepare("test-colour-v1")
    return t


def test_a_clear_concept_is_tagged_a_flat_photo_gets_nothing_and_at_most_top_k(tagger):
    from phototrove.search.tags import TOP_K

    green, grey, red = tagger.tags_of(np.stack([colour_vector((0, 1, 0)), np.array([0, 0, 0, 1], np.float32),
                                                colour_vector((1, 0, 0))]))
    assert green[0][0] == "green" and green[0][1] > 0 and not any(t.startswith(("red", "blue")) for t, _ in green)
    assert grey == []            # close to 400 concepts at once: none stands out
    assert len(red) == TOP_K and all(t.startswith("red") for t, _ in red)   # seven red concepts, capped
    assert [m for _, m in red] == sorted((m for _, m in red), reverse=True)


def test_concepts_close_to_everything_need_a_higher_score(tmp_path):
    from colour_embedder import COLOURS
    from phototrove.library import Library
    from phototrove.search.tags import Tagger, Vocabulary, Z_MIN

    # "photo" is no colour: the colour tower gives it the direction every colour leans towards
    t = Tagger(Library(tmp_path / "lib"), Vocabulary(list(COLOURS) + ["photo"]), SPEC)
    t.prepare("test-colour-v1")
    concepts = t.vocabulary.concepts
    generic = t._threshold[concepts.index("photo")]
    assert generic > Z_MIN + 0.5 and all(generic > t._threshold[concepts.index(c)] for c in COLOURS)
    assert t._threshold[concepts.index("blue")] == pytest.approx(Z_MIN)


def test_the_concepts_text_embeddings_are_cached_per_model_and_vocabulary(tagger, tmp_path):
    from phototrove.search.tags import Tagger, Vocabulary

    cached = list((tmp_path / "lib" / "tags").glob("*.npy"))
    assert len(cached) == 1
    again = Tagger(tagger.library, tagger.vocabulary, "no_such_module:make")   # would fail to load a tower
    again.prepare("test-colour-v1")
    assert np.array_equal(again._matrix, tagger._matrix)
    other = Tagger(tagger.library, Vocabulary(tagger.vocabulary.concepts + ["cyan"]), SPEC)
    other.prepare("test-colour-v1")
    assert len(list((tmp_path / "lib" / "tags").glob("*.npy"))) == 2


# -- tags in the library ------------------------------------------------------------------------------
def test_ingest_tags_apart_from_the_users_keywords(tmp_path):
    from phototrove.catalog import Catalog

    trove, pics = library(tmp_path)
    rows = {name(r): r for r in trove.json_lines("list")}
    assert "red wine" in [t["name"] for t in rows["red.jpg"]["tags"]]
    assert all(t["score"] >= 0 for r in rows.values() for t in r["tags"])
    with Catalog(trove.library / "catalog.db") as cat, cat.db:   # the user's own keyword, the same words
        cat.set_meta(rows["green.jpg"]["id"], "test", {"keywords": ["red wine"]})
        cat.resolve(rows["green.jpg"]["id"])
    rows = {name(r): r for r in trove.json_lines("list")}
    assert rows["green.jpg"]["keywords"] == ["red wine"] and "red wine" not in [t["name"] for t in rows["green.jpg"]["tags"]]
    assert names(trove.json_lines("list", "--keyword", "red wine")) == ["green.jpg"]
    assert names(trove.json_lines("list", "--tag", "red wine")) == ["red.jpg"]
    counts = {r["tag"]: r["photos"] for r in trove.json_lines("tags")}
    assert counts["red wine"] == 1 and all(n >= 1 for n in counts.values())
    assert "red wine" in trove("tags").stdout
    trove("index", "sync")
    assert names(trove.json_lines("search", "anything", "--tag", "red wine", "--semantic")) == ["red.jpg"]
    assert "--tag 'no such tag': nothing in the catalog matches" in trove("list", "--tag", "no such tag", code=2).output


def test_no_tags_and_a_text_tower_that_cannot_load(tmp_path):
    trove, _ = library(tmp_path, "--no-tags")
    with db(trove) as c:
        assert c.execute("SELECT count(*) FROM photo_tags").fetchone()[0] == 0
        assert c.execute("SELECT count(*) FROM photo_tagged").fetchone()[0] == 0


def test_tagging_resumes_where_it_stopped(tmp_path, monkeypatch):
    from phototrove.catalog import Catalog
    from phototrove.library import Library
    from phototrove.search import tags
    from phototrove.search.tags import Tagger, library_vocabulary

    trove, _ = library(tmp_path, "--no-tags")
    lib = Library(trove.library)
    monkeypatch.setattr(tags, "BATCH", 2)
    calls = []

    class Crashing(Catalog):
        def put_tags(self, *a, **k):
            calls.append(1)
            if len(calls) == 2:
                raise KeyboardInterrupt   # Ctrl-C in the second batch
            return super().put_tags(*a, **k)

    with Crashing(lib.catalog_path) as cat, pytest.raises(KeyboardInterrupt):
        Tagger(lib, library_vocabulary(lib), SPEC).run(cat, "test-colour-v1")
    with db(trove) as c:
        assert c.execute("SELECT count(*) FROM photo_tagged").fetchone()[0] == 2   # the first batch is kept
    with Catalog(lib.catalog_path) as cat:
        assert Tagger(lib, library_vocabulary(lib), SPEC).run(cat, "test-colour-v1") == 3   # only the rest
        assert Tagger(lib, library_vocabulary(lib), SPEC).run(cat, "test-colour-v1") == 0


def test_a_new_vocabulary_or_model_tags_again_and_the_vocabulary_is_remembered(tmp_path):
    trove, pics = library(tmp_path)
    with db(trove) as c:
        first = c.execute("SELECT DISTINCT vocabulary FROM photo_tagged").fetchall()
    mine = tmp_path / "mine.txt"
    mine.write_text("# my own\ncrimson red\n\ncrimson red\nverdant green\n")
    out = trove("ingest", "folder", pics, "--vocabulary", mine, "--vocabulary-only", "--json").stdout
    assert json.loads(out.splitlines()[0])["tag.photos"] == 5
    with db(trove) as c:
        assert c.execute("SELECT DISTINCT vocabulary FROM photo_tagged").fetchall() != first
        assert {r[0] for r in c.execute("SELECT DISTINCT t.name FROM photo_tags pt JOIN tags t ON t.id=pt.tag_id")} \
            <= {"crimson red", "verdant green"}
    again = json.loads(trove("ingest", "folder", pics, "--json").stdout.splitlines()[0])
    assert again["tag.photos"] == 0     # remembered: nothing to tag again
    other = json.loads(trove("ingest", "folder", pics, "--model", "colour_embedder:make_other", "--add-model",
                             "--json").stdout.splitlines()[0])
    assert other["tag.photos"] == 5
    assert "--vocabulary-only needs --vocabulary" in trove("ingest", "folder", pics, "--vocabulary-only",
                                                           code=2).output
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n")
    assert "no concepts in it" in trove("ingest", "folder", pics, "--vocabulary", empty, code=2).output


# -- search that also reads ---------------------------------------------------------------------------
def test_a_name_or_caption_the_model_cannot_know_comes_first(tmp_path):
    trove, _ = library(tmp_path)
    got = {name(r): r for r in trove.json_lines("search", "baratunde", "--limit", "5")}
    assert sorted(got, key=lambda n: got[n]["rank"])[:2] in (["Baratunde_2017.jpg", "studio.jpg"],
                                                            ["studio.jpg", "Baratunde_2017.jpg"])
    assert got["Baratunde_2017.jpg"]["match"]["fields"] == ["names"]
    assert got["studio.jpg"]["match"]["fields"] == ["description"]
    # the whole caption as a phrase puts its photo first
    got = trove.json_lines("search", "Baratunde at the studio", "--limit", "5")
    assert names(got)[0] == "studio.jpg" and got[0]["match"]["text"] == 1
    # one side only
    text_only = trove.json_lines("search", "baratunde", "--text")
    assert sorted(names(text_only)) == ["Baratunde_2017.jpg", "studio.jpg"] and text_only[0]["score"] is None
    semantic = trove.json_lines("search", "baratunde", "--semantic", "--limit", "5")
    assert all(r.get("match") is None for r in semantic) and len(semantic) == 5
    # a colour word finds by both sides: the model's red photo, whose name holds the word too
    both = trove.json_lines("search", "red", "--limit", "2")
    assert names(both)[0] == "red.jpg" and both[0]["match"]["semantic"] == 1 and both[0]["match"]["text"] == 1
    table = trove("search", "baratunde", "--limit", "3").stdout
    assert "match" in table.splitlines()[0] and "name" in table and "caption" in table
    # filters apply to what the words find too
    assert names(trove.json_lines("search", "baratunde", "--text", "--from", "2017", "--to", "2017")) == \
        ["Baratunde_2017.jpg"]


def test_the_words_follow_edits_and_missing_files(tmp_path):
    trove, pics = library(tmp_path)
    (pics / "studio.jpg.xmp").write_text(XMP.format(caption="Nobody in the workshop"))
    (pics / "Baratunde_2017.jpg").unlink()
    trove("ingest", "folder", pics, "--model", SPEC)
    assert names(trove.json_lines("search", "baratunde", "--text")) == []
    assert names(trove.json_lines("list", "--text", "workshop")) == ["studio.jpg"]
    assert names(trove.json_lines("list", "--text", "baratunde")) == []
    with db(trove) as c:
        assert c.execute("SELECT count(*) FROM text_dirty").fetchone()[0] == 0
    trove("sources", "remove", "1", "--yes")
    with db(trove) as c:
        assert c.execute("SELECT count(*) FROM photo_text").fetchone()[0] == 0


def test_a_library_not_embedded_is_listed_and_searched_by_its_words(tmp_path):
    trove, _ = library(tmp_path, embed=False)
    assert names(trove.json_lines("list", "--text", "studio")) == ["studio.jpg"]
    assert names(trove.json_lines("list", "--from", "2019")) == ["green.jpg", "red.jpg"]   # newest first
    assert names(trove.json_lines("list", "--text", "baratunde", "--to", "2018")) == ["Baratunde_2017.jpg"]
    assert len(trove.json_lines("list")) == 5
    r = trove("search", "baratunde", "--json", quiet=False)
    assert sorted(name(json.loads(x)) for x in r.stdout.splitlines()) == ["Baratunde_2017.jpg", "studio.jpg"]
    assert "only the words of names" in r.stderr
    assert "nothing is embedded yet" in trove("search", "red", "--semantic", code=3).output


def test_the_vocabulary_is_embedded_through_the_librarys_text_graph_with_the_same_vectors(tmp_path):
    """With an ONNX model the concepts go through the library's cached text graph, on their own
    tokens (a few, not 77: ~10x less work), and come out as the export run padded gives them."""
    from embed_fixtures import PHOTOS, model_dir
    from phototrove.embed import load_embedder
    from phototrove.library import Library
    from phototrove.search.tags import PROMPTS, library_vocabulary

    tiny = model_dir("onnx", "clip-tiny")
    trove = Trove(tmp_path / "library")
    trove("ingest", "folder", PHOTOS, "--model", tiny)
    (meta,) = (trove.library / "models").glob("*/textual-graph-*/meta.json")
    assert json.loads(meta.read_text())["short_inputs"] is True
    (cached,) = (trove.library / "tags").glob("*.npy")
    matrix = np.load(cached)
    concepts = library_vocabulary(Library(trove.library)).concepts[:40]
    padded = load_embedder(str(tiny), towers="text")     # no model folder: the export, padded to 77
    want = padded.encode_texts([p.format(c) for c in concepts for p in PROMPTS]).reshape(len(concepts), len(PROMPTS), -1)
    want = want.mean(axis=1)
    want /= np.linalg.norm(want, axis=1, keepdims=True)
    assert np.abs(matrix[:40] - want).max() < 1e-5
