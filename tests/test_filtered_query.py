"""Filtered queries through a warm process's VectorTable (catalog_vectors) give exactly the
brute-force filtered ranking: every filter resolved over every photo, the passing photos ranked by
cosine, the best `limit` kept. Checked on a few thousand random vectors with filters that select
no photo, one, a few, many and nearly all, through each of the table's ways to answer (an exact
product over the passing rows, the index's over-fetched best filtered by the table, and the exact
fall-back when too few of those pass), and the columns' `where` against filters.matches itself."""
from __future__ import annotations

import random
import time
from dataclasses import replace

import numpy as np
import pytest

from phototrove.catalog import Catalog, now_iso
from phototrove.library import Library
from phototrove.search import catalog_vectors as cv
from phototrove.search import query as query_mod
from phototrove.search.catalog_vectors import CatalogVectors, Columns, VectorTable
from phototrove.search.filters import Filters, build_where, haversine_km, matches
from phototrove.search.index import ChromaIndex, SearchError, item_metadata
from phototrove.search.query import open_collection, query

N, DIM, MODEL = 3000, 48, "test-random-48"
CAMERAS = ("Canon EOS 5D", "iPhone 12", "Pixel 7", None)


def _taken(rng: random.Random, i: int) -> str | None:
    if i == 7:
        return "2030-06-15T12:00:00"   # the one photo of that day
    if i % 37 == 0:
        return None                    # undated
    y, m, d = rng.randint(2015, 2024), rng.randint(1, 12), rng.randint(1, 28)
    text = f"{y:04d}-{m:02d}-{d:02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
    if i % 53 == 0:
        text += rng.choice(["Z", "+05:00", "-08:00"])   # an instant: the index reads it in UTC
    if i % 61 == 0:
        text = f"{y:04d}-01-01T00:30:00+02:00"           # the year before, in UTC
    return text


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    root = tmp_path_factory.mktemp("filtered")
    library = Library(root / "library")
    cat = Catalog(library.catalog_path)
    rng = random.Random(5)
    nprng = np.random.default_rng(5)
    sources = [cat.ensure_source("folder", f"/photos/{name}") for name in ("home", "phone")]
    now = now_iso()
    with cat.db:
        for i in range(N):
            pid = i + 1
            lat = lon = None
            if i % 5 == 0:
                lat, lon = rng.uniform(48.0, 49.5), rng.uniform(1.5, 3.5)
            cat.db.execute(
                "INSERT INTO photos(id, hash, size, media, format, width, height, taken_at, camera, rating, "
                "favorite, lat, lon, trashed, added_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (pid, f"{pid:064x}", 1000 + i, "video" if i % 41 == 0 else "image", "JPEG", 640, 480,
                 _taken(rng, i), CAMERAS[i % 4], None if i % 3 else rng.randint(1, 5), int(i % 11 == 0),
                 lat, lon, int(i % 97 == 0), now))
            state = "missing" if i % 89 == 0 else "ok"   # not present: never found
            cat.db.execute("INSERT INTO locations(source_id, path, size, mtime_ns, photo_id, state) "
                           "VALUES (?,?,?,?,?,?)", (sources[i % 2], f"/photos/{i}.jpg", 1, 0, pid, state))
        for a in range(30):
            cat.db.execute("INSERT INTO albums(id, source_id, key, title) VALUES (?,?,?,?)",
                           (a + 1, sources[0], f"k{a}", f"Album {a:02d}"))
        cat.db.executemany("INSERT INTO location_albums(location_id, album_id) VALUES (?,?)",
                           [(i + 1, (i * 7) % 30 + 1) for i in range(N) if i % 3 == 0])
        cat.db.executemany("INSERT INTO keywords(id, name) VALUES (?,?)", [(1, "beach"), (2, "snow")])
        cat.db.executemany("INSERT INTO photo_keywords(photo_id, keyword_id) VALUES (?,?)",
                           [(i + 1, 1 + (i % 2)) for i in range(N) if i % 13 == 0])
        vecs = nprng.standard_normal((N, DIM)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        cat.put_embeddings(MODEL, [(i + 1, vecs[i]) for i in range(N)])
    ChromaIndex(library).sync(cat, show_progress=False)
    cat.close()
    cat = Catalog(library.catalog_path, readonly=True)
    index = ChromaIndex(library, readonly=True)
    col = open_collection(cat, index, MODEL)
    yield library, cat, index, col
    cv.forget()
    cat.close()


_truth: dict = {}


def brute_force(cat: Catalog, filters: Filters, q, limit: int, min_score=None) -> list[int]:
    """Every present indexed photo, filtered one by one with matches, ranked by cosine."""
    mark = cat.change_mark()
    if _truth.get("mark") != (id(cat), mark):
        _truth.update(mark=(id(cat), mark), rows=cat.vector_matrix(MODEL), metas=item_metadata(cat))
    (ids, _, matrix), metas = _truth["rows"], _truth["metas"]
    where = build_where(cat, filters)
    near = filters.near_point()
    keep = [i for i, pid in enumerate(ids) if (where is None or matches(where, metas[pid])) and (
        not near or (metas[pid].get("lat") is not None
                     and haversine_km(near[0], near[1], metas[pid]["lat"], metas[pid]["lon"]) <= near[2]))]
    if not keep:
        raise SearchError(filters.nothing_matches())
    m = matrix[keep] / np.linalg.norm(matrix[keep], axis=1, keepdims=True)
    s = m.astype(np.float64) @ (q / np.linalg.norm(q)).astype(np.float64)
    order = sorted(range(len(keep)), key=lambda j: (-s[j], ids[keep[j]]))
    _truth["scores"] = {ids[keep[j]]: float(s[j]) for j in order}
    out = [(ids[keep[j]], s[j]) for j in order if min_score is None or s[j] >= min_score]
    return [pid for pid, _ in out[:limit]]


def same_ranking(got: list[int], want: list[int]) -> bool:
    """The same photos in the same order, but for photos whose scores differ by float32 rounding
    only (the order of a product's sums decides between them): scores of the brute force."""
    if got == want:
        return True
    score = _truth["scores"]
    return len(got) == len(want) and set(got) <= set(score) and all(
        abs(score[a] - score[b]) < 1e-5 for a, b in zip(got, want))


FILTERS = {
    "none (the trash left out)": Filters(),
    "everything": Filters(include_trashed=True),
    "nothing (a year without photos)": Filters(date_from="2040", date_to="2040"),
    "one photo (one day)": Filters(date_from="2030-06-15", date_to="2030-06-15"),
    "a few (one month)": Filters(date_from="2019-07", date_to="2019-07"),
    "one year": Filters(date_from="2019", date_to="2019"),
    "most (from 2016)": Filters(date_from="2016"),
    "a camera": Filters(cameras=("Pixel",)),
    "two cameras and a year": Filters(cameras=("Pixel", "iPhone"), date_from="2020", date_to="2020"),
    "an album": Filters(albums=("Album 07",)),
    "albums": Filters(albums=("Album",)),
    "a keyword": Filters(keywords=("snow",)),
    "rating": Filters(min_rating=4),
    "favorite": Filters(favorite=True),
    "the trash only": Filters(trashed=True),
    "videos": Filters(media="video"),
    "photos": Filters(media="photo"),
    "a source": Filters(sources=("phone",)),
    "near": Filters(near="48.8584,2.2945,40"),
    "near and a year": Filters(near="48.8584,2.2945,80", date_from="2018", date_to="2021"),
}


def _queries(cat: Catalog, n: int = 4):
    rng = np.random.default_rng(11)
    qs = [rng.standard_normal(DIM).astype(np.float32) for _ in range(n)]
    qs.append(cat.embedding(1234, MODEL))   # a photo of the library: itself first
    return qs


@pytest.fixture(scope="module")
def perfect(lib):
    return PerfectIndex(lib[1])


class PerfectIndex:
    """A collection answering exactly (an index without approximation), so that the over-fetch
    branch is checked for exactness apart from HNSW's recall."""

    def __init__(self, catalog: Catalog):
        self._exact = CatalogVectors(catalog, MODEL)
        self.metadata = self._exact.metadata
        self.calls = 0

    def query(self, **kw):
        self.calls += 1
        return self._exact.query(**kw)

    def count(self):
        return self._exact.count()


def _check(cat, index, col, filters, limit=20, min_score=None):
    for q in _queries(cat):
        try:
            want = brute_force(cat, filters, q, limit, min_score)
        except SearchError:
            with pytest.raises(SearchError):
                query(cat, index, col, q, filters=filters, limit=limit, min_score=min_score)
            continue
        got = [h.photo_id for h in query(cat, index, col, q, filters=filters, limit=limit, min_score=min_score)]
        assert same_ranking(got, want)


@pytest.mark.parametrize("name", list(FILTERS))
@pytest.mark.parametrize("way", ["auto", "exact", "overfetch"])
def test_table_path_is_the_brute_force_ranking(lib, perfect, monkeypatch, name, way):
    library, cat, index, _ = lib
    table = cv.keep_warm(cat, MODEL)
    assert table is not None and table.n == N - len(range(0, N, 89))
    col = perfect
    if way == "exact":
        monkeypatch.setattr(query_mod, "EXACT_ROWS", 10 ** 9)
    elif way == "overfetch":
        monkeypatch.setattr(query_mod, "EXACT_ROWS", -1)
        monkeypatch.setattr(query_mod, "OVERFETCH_COST", 0)
    _check(cat, index, col, FILTERS[name])
    _check(cat, index, col, replace(FILTERS[name], stacks=False), limit=200)
    _check(cat, index, col, FILTERS[name], limit=50, min_score=0.2)


def test_overfetch_falls_back_to_exact_when_too_few_pass(lib, perfect, monkeypatch):
    """A query whose best photos the filter leaves out: the over-fetched ones pass too rarely."""
    library, cat, index, _ = lib
    table = cv.keep_warm(cat, MODEL)
    monkeypatch.setattr(query_mod, "EXACT_ROWS", -1)
    monkeypatch.setattr(query_mod, "OVERFETCH_COST", 0)
    monkeypatch.setattr(query_mod, "OVERFETCH_FACTOR", 0.1)   # far fewer candidates than needed
    exact = []
    monkeypatch.setattr(table, "best", lambda *a, **kw: exact.append(1) or VectorTable.best(table, *a, **kw))
    col = perfect
    f = Filters(media="video")
    for q in _queries(cat):
        calls = col.calls
        got = [h.photo_id for h in query(cat, index, col, q, filters=f, limit=60)]
        assert same_ranking(got, brute_force(cat, f, q, 60))
        assert col.calls == calls + 1
    assert len(exact) == len(_queries(cat))


@pytest.mark.parametrize("name", ["one year", "a camera", "most (from 2016)", "none (the trash left out)", "near"])
def test_with_the_real_index(lib, name):
    """Through Chroma itself: equal to the brute force wherever HNSW returned the true neighbours
    (at 3,000 items and these k it does), and never a photo the filter leaves out."""
    library, cat, index, col = lib
    cv.keep_warm(cat, MODEL)
    f = FILTERS[name]
    metas = item_metadata(cat)
    where = build_where(cat, f)
    for q in _queries(cat):
        got = query(cat, index, col, q, filters=f, limit=20)
        assert all(where is None or matches(where, metas[h.photo_id]) for h in got)
        assert same_ranking([h.photo_id for h in got], brute_force(cat, f, q, 20))


def test_without_a_table_the_answers_are_the_same(lib):
    """The cold path (Chroma's own `where`) and the warm one agree."""
    library, cat, index, col = lib
    cv.forget()
    for name in ("one photo (one day)", "a few (one month)", "an album", "nothing (a year without photos)"):
        f = FILTERS[name]
        for q in _queries(cat, 2):
            try:
                want = brute_force(cat, f, q, 20)
            except SearchError:
                with pytest.raises(SearchError):
                    query(cat, index, col, q, filters=f, limit=20)
                continue
            assert same_ranking([h.photo_id for h in query(cat, index, col, q, filters=f, limit=20)], want)


def test_read_only_stand_in_is_exact(lib):
    library, cat, index, _ = lib
    col = CatalogVectors(cat, MODEL)
    for name in ("a few (one month)", "a camera", "near", "none (the trash left out)"):
        _check(cat, index, col, FILTERS[name])


def test_a_commit_makes_the_table_stale(lib, tmp_path):
    library, cat, index, col = lib
    cv.forget()
    assert cv.build_table(cat, MODEL) is not None and cv.fresh_table(cat, MODEL) is not None
    writer = Catalog(library.catalog_path)
    try:
        with writer.db:
            writer.db.execute("UPDATE photos SET camera='Pixel 7' WHERE id=2")   # now a Pixel
        assert cv.fresh_table(cat, MODEL) is None
        # the query still answers from the catalog as it is now (the index is refreshed by a sync)
        ChromaIndex(library).sync(writer, show_progress=False)
        q = cat.embedding(2, MODEL)
        got = query(cat, index, col, q, filters=Filters(cameras=("Pixel",)), limit=5)
        assert got[0].photo_id == 2
        # kept warm: rebuilt in the background, then used again
        cv.forget()
        cv.keep_warm(cat, MODEL)
        with writer.db:
            writer.db.execute("UPDATE photos SET rating=5 WHERE id=3")
        assert cv.fresh_table(cat, MODEL) is None
        deadline = time.monotonic() + 60
        while cv.fresh_table(cat, MODEL) is None and time.monotonic() < deadline:
            time.sleep(0.2)
        table = cv.fresh_table(cat, MODEL)
        assert table is not None and table.columns.mask({"rt": {"$gte": 5}})[table.row_of[f"{3:064x}"]]
    finally:
        with writer.db:
            writer.db.execute("UPDATE photos SET camera=?, rating=NULL WHERE id=2", (CAMERAS[1],))
            writer.db.execute("UPDATE photos SET rating=NULL WHERE id=3")
        ChromaIndex(library).sync(writer, show_progress=False)
        writer.close()
        cv.forget()


# -- the columns' where is filters.matches ------------------------------------------------------------
def _random_meta(rng: random.Random) -> dict:
    m: dict = {"pid": rng.randint(1, 10 ** 6)}
    for key, make in (("t", lambda: rng.randint(0, 2 * 10 ** 9)), ("cam", lambda: rng.choice("abc")),
                      ("rt", lambda: rng.randint(0, 5)), ("fav", lambda: rng.random() < .3),
                      ("lat", lambda: rng.uniform(-90, 90)), ("alb", lambda: rng.sample(range(6), rng.randint(1, 3))),
                      ("md", lambda: rng.choice(["image", "raw", "video"])), ("tr", lambda: rng.random() < .1),
                      ("mixed", lambda: rng.choice([1, "1", True, 2.5, [1]]))):
        if rng.random() < .8:
            m[key] = make()
    return m


def _random_where(rng: random.Random, depth: int = 0) -> dict:
    if depth < 2 and rng.random() < .35:
        return {rng.choice(["$and", "$or"]): [_random_where(rng, depth + 1) for _ in range(rng.randint(1, 3))]}
    key = rng.choice(["t", "cam", "rt", "fav", "lat", "alb", "md", "tr", "mixed", "absent"])
    op = rng.choice(["$eq", "$ne", "$in", "$contains", "$gt", "$gte", "$lt", "$lte", "plain"])
    operand = rng.choice([rng.randint(0, 2 * 10 ** 9), rng.randint(0, 5), rng.choice("abc"), True, False,
                          rng.uniform(-90, 90), 1.0, 3])
    if op == "$in":
        return {key: {"$in": [operand, rng.choice(["image", "raw", 1, True, 4, "b"])]}}
    if op in ("$gt", "$gte", "$lt", "$lte") and isinstance(operand, str):
        operand = rng.randint(0, 5)
    return {key: operand} if op == "plain" else {key: {op: operand}}


def test_columns_evaluate_where_as_matches_does():
    rng = random.Random(9)
    metas = [_random_meta(rng) for _ in range(400)]
    cols = Columns(metas)
    for _ in range(600):
        where = _random_where(rng)
        want = [matches(where, m) for m in metas]
        assert cols.mask(where).tolist() == want, where


def test_an_empty_table(tmp_path):
    cat = Catalog(tmp_path / "catalog.db")
    table = VectorTable(cat, MODEL)
    assert table.n == 0 and len(table.select({"t": {"$gte": 0}})) == 0
    cat.close()

