"""Near-duplicates are found exactly: every pair at or above the threshold, whatever the pruning
(duplicates.similar_pairs) does, and at scale; `trove report duplicates` groups them with the
identical copies from the catalog."""
from __future__ import annotations

import numpy as np
import pytest

from phototrove.catalog import Catalog, now_iso
from phototrove.library import Library
from phototrove.search.duplicates import find_duplicates, similar_groups, similar_pairs
from phototrove.search.index import ChromaIndex


def brute_pairs(x, threshold, *, ulp: bool = False):
    """Every pair at or above the threshold; with `ulp`, also the set of pairs within float32
    rounding of it (which side of the threshold they fall on depends on the order of the sums)."""
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    s = x @ x.T
    ii, jj = np.nonzero(np.triu(s >= threshold, 1))
    pairs = set(zip(ii.tolist(), jj.tolist()))
    if not ulp:
        return pairs
    ii, jj = np.nonzero(np.triu(np.abs(s - threshold) <= 1e-5, 1))
    return pairs, set(zip(ii.tolist(), jj.tolist()))


def brute_groups(x, threshold):
    parent = list(range(len(x)))

    def root(a):
        while parent[a] != a:
            a = parent[a]
        return a
    for a, b in brute_pairs(x, threshold):
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups = {}
    for i in range(len(x)):
        groups.setdefault(root(i), []).append(i)
    return sorted(g for g in groups.values() if len(g) > 1)


def planted(n, dim, rng, *, mean=0.0, sizes=(2, 3, 4, 12, 25), noise=(0.05, 0.35)):
    """Random unit vectors (around a common direction when `mean` > 0, as CLIP's are), with groups
    of noisy copies of some of them, and some exact copies."""
    x = rng.standard_normal((n, dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    if mean:
        common = rng.standard_normal(dim).astype(np.float32)
        x = x + mean * common / np.linalg.norm(common)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
    at = 0
    for size in sizes * 8:
        base = x[at]
        for j in range(1, size):
            sigma = rng.uniform(*noise)
            v = base + sigma * rng.standard_normal(dim).astype(np.float32) / np.sqrt(dim)
            x[at + j] = v / np.linalg.norm(v)
        at += size
    x[at + 1] = x[at]          # identical vectors
    x[at + 3] = x[at + 2]
    return x


@pytest.mark.parametrize("mean,block,rank", [(0.0, 256, 32), (0.0, 300, 8), (2.5, 256, 32), (2.5, 200, 64),
                                             (0.0, 100000, 64)])
@pytest.mark.parametrize("threshold", [0.95, 0.9, 0.99])
def test_pairs_are_the_brute_force_pairs(mean, block, rank, threshold):
    """Both ways a block is compared (its few candidates one by one, or all of it when many pass
    the bound), at thresholds that cut through the planted groups, on isotropic and clustered data."""
    rng = np.random.default_rng(int(mean * 10 + block + rank))
    x = planted(3000, 96, rng, mean=mean)
    got = set()
    for ii, jj in similar_pairs(x, threshold, rows=block, cols=3 * block + 17, rank=rank):
        assert (ii < jj).all()
        got |= set(zip(ii.tolist(), jj.tolist()))
    want, either = brute_pairs(x, threshold, ulp=True)
    assert got - either == want - either and len(either) < len(want) / 10


def test_pairs_right_at_the_threshold():
    """A pair just above is found, one just below is not, through the pruned path."""
    rng = np.random.default_rng(2)
    dim = 64
    x = rng.standard_normal((2000, dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    u = x[0]
    w = rng.standard_normal(dim).astype(np.float32)
    w -= (w @ u) * u
    w /= np.linalg.norm(w)
    for k, cos in ((1, 0.95 + 2e-4), (2, 0.95 - 2e-4)):
        x[k] = cos * u + np.sqrt(1 - cos * cos) * w
    x[3] = x[4] = 0                 # empty vectors compare as nothing, and do not break anything
    pairs = {p for ii, jj in similar_pairs(x, 0.95, rows=300, cols=700, rank=16) for p in zip(ii.tolist(), jj.tolist())}
    assert (0, 1) in pairs and (0, 2) not in pairs
    assert pairs == brute_pairs(np.where(np.linalg.norm(x, axis=1, keepdims=True) > 0, x, 1e-9), 0.95) - \
        {(3, 4)}


def test_groups_are_transitive_and_larger_than_any_k():
    rng = np.random.default_rng(4)
    x = planted(2500, 48, rng, sizes=(30, 2), noise=(0.05, 0.2))
    ids = list(range(100, 100 + len(x)))
    groups = similar_groups(ids, x, 0.95)
    assert groups == [[ids[i] for i in g] for g in brute_groups(x, 0.95)]
    assert max(len(g) for g in groups) >= 30


def test_small_inputs():
    assert similar_groups([], np.zeros((0, 8), np.float32), 0.9) == []
    assert similar_groups([5], np.ones((1, 8), np.float32), 0.9) == []
    assert similar_groups([5, 6], np.ones((2, 8), np.float32), 0.9) == [[5, 6]]


def test_at_scale_the_planted_groups_and_nothing_else():
    """40,000 photos at 512 dimensions (random photos are never within 0.95 of each other there):
    exactly the planted groups, through the pruned blocks."""
    rng = np.random.default_rng(8)
    n, dim = 40000, 512
    x = rng.standard_normal((n, dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    want, at = [], 0
    while at < n * 0.03:
        size = int(rng.integers(2, 5))
        for j in range(1, size):
            v = x[at] + rng.uniform(0.1, 0.3) * rng.standard_normal(dim).astype(np.float32) / np.sqrt(dim)
            x[at + j] = v / np.linalg.norm(v)
        want.append(list(range(at, at + size)))
        at += size + int(rng.integers(0, 30))
    perm = rng.permutation(n)          # spread over the blocks
    inverse = np.argsort(perm)
    groups = similar_groups(list(range(n)), x[perm], 0.95)
    assert sorted(sorted(int(perm[i]) for i in g) for g in groups) == want
    assert sorted(sorted(int(inverse[i]) for i in g) for g in want) == groups


# -- through the catalog --------------------------------------------------------------------------
def test_find_duplicates_groups_copies_and_near_duplicates(tmp_path):
    library = Library(tmp_path / "library")
    cat = Catalog(library.catalog_path)
    src = cat.ensure_source("folder", "/photos")
    rng = np.random.default_rng(6)
    n, dim = 600, 32
    x = rng.standard_normal((n, dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    for j in (1, 2):                               # photos 1, 2, 3 look alike
        x[j] = x[0] + 0.05 * rng.standard_normal(dim).astype(np.float32) / np.sqrt(dim)
    x[11] = x[10]                                  # 11 is 10 re-encoded; 11 is in the trash
    with cat.db:
        for i in range(n):
            cat.db.execute("INSERT INTO photos(id, hash, size, media, width, height, trashed, added_at) "
                           "VALUES (?,?,?,?,?,?,?,?)", (i + 1, f"{i + 1:064x}", 1000 + i, "image", 64, 48,
                                                        int(i == 11), now_iso()))
            copies = 3 if i in (20, 2) else 1      # 21 in three places; 3 too (and like 1 and 2)
            for c in range(copies):
                cat.db.execute("INSERT INTO locations(source_id, path, size, mtime_ns, photo_id, state) "
                               "VALUES (?,?,?,?,?,'ok')", (src, f"/photos/{i}-{c}.jpg", 1, 0, i + 1))
        cat.put_embeddings("m", [(i + 1, x[i]) for i in range(n)])
    ChromaIndex(library).sync(cat, show_progress=False)
    groups = find_duplicates(cat, None, None, "m", 0.95)
    kinds = sorted((g["kind"], sorted(p["id"] for p in g["photos"])) for g in groups)
    assert kinds == [("identical copies", [21]), ("near-duplicates", [1, 2, 3])]
    near = next(g for g in groups if g["kind"] == "near-duplicates")
    assert [len(p["locations"]) for p in near["photos"]] == [3, 1, 1]   # the one in three places first
    assert near["photos"][0]["locations"] == [f"/photos/2-{c}.jpg" for c in range(3)]
    assert near["bytes"] == 1002 * 3 + 1000 + 1001 and near["reclaimable"] == near["bytes"] - 1002
    with_trash = find_duplicates(cat, None, None, "m", 0.95, include_trashed=True)
    assert ("near-duplicates", [11, 12]) in [(g["kind"], sorted(p["id"] for p in g["photos"])) for g in with_trash]
    cat.close()
