"""`trove report duplicates`: the groups. Identical copies are the photos present in several places
(one GROUP BY in the catalog); near-duplicates are the photos whose embeddings have a cosine
similarity at or above the threshold, joined transitively, found exactly: every pair, not each
photo's k nearest neighbours.

Comparing every pair of 100,000 photos at 512 dimensions is 5e9 dot products (~90 s of matrix
products on two cores). `similar_pairs` prunes first, with a bound that never misses a pair: in an
orthonormal basis ordered by the vectors' own variance (eigenvectors of XᵀX), x·y = x'·y' + x"·y"
where x' holds the first RANK coordinates and x" the rest, and x"·y" ≤ |x"| |y"|. So one product of
RANK + 1 columns ([x', |x"|] · [y', |y"|]) bounds every pair from above; only pairs whose bound
reaches the threshold are compared in full, and a block where many do is compared whole. Results
are the same as comparing everything (a test checks it against the brute-force answer).

It is still a pass over every pair, ~5e9 bounds at 100,000 photos: ~15-20 s on two idle cores, for
random vectors as for real ones (whose variance sits in fewer directions: a tighter bound, but more
pairs near the threshold to compare in full). The index's k nearest neighbours of every photo, the
way this was done before, took ~400 s there (2.3 ms a query in Chroma's local engine)."""
from __future__ import annotations

from typing import Iterator

from ..catalog import Catalog, location_label

ROWS, COLS = 512, 16384   # a block of the pair search: ROWS x COLS bounds at once (32 MB)
RANK = 63         # coordinates in the pruning product (with |x"|, 64 columns: ~2-4 ns a pair on two cores,
                  # ~1.6x less than 96; on random 512-d vectors ~1e-6 of the pairs pass the bound at 0.95)
SLACK = 1e-3      # float32 rounding room in the bound (never drops a pair at the threshold)
DENSE = 0.01      # a block where more than this share of pairs passes the bound is compared whole


def similar_pairs(vectors, threshold: float, *, rows: int = ROWS, cols: int = COLS, rank: int = RANK,
                  progress=None, in_place: bool = False) -> Iterator[tuple]:
    """(i, j) index arrays, i < j, of every pair of rows whose cosine similarity is >= threshold,
    block by block. `progress(n)` is told how many rows' comparisons each row block finished.
    `in_place`: the rows may be scaled to unit length where they are (no copy of the matrix)."""
    import numpy as np

    x = np.asarray(vectors, dtype=np.float32)
    n = len(x)
    if n < 2:
        return
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0] = 1
    if in_place and x is vectors and x.flags.writeable:
        x /= norms
    else:
        x = x / norms
    bound = _bounds(x, rank) if n > 2 * rows and rank + 1 < x.shape[1] else None
    for lo in range(0, n, rows):
        hi = min(n, lo + rows)
        for jlo in range(lo, n, cols):
            jhi = min(n, jlo + cols)
            if bound is not None:
                prune = bound[lo:hi] @ bound[jlo:jhi].T >= threshold - SLACK
                if jlo == lo:
                    _lower_off(prune)
                count = int(np.count_nonzero(prune))
                if not count:
                    continue
                if count <= DENSE * prune.size:   # few candidates: their exact dot products one by one
                    some = np.flatnonzero(prune.any(axis=1))
                    ii, jj = np.nonzero(prune[some])
                    ii = some[ii]
                    sims = np.einsum("ij,ij->i", x[lo + ii], x[jlo + jj])
                    keep = sims >= threshold
                    if keep.any():
                        yield lo + ii[keep], jlo + jj[keep]
                    continue
            hit = x[lo:hi] @ x[jlo:jhi].T >= threshold
            if jlo == lo:
                _lower_off(hit)
            ii, jj = np.nonzero(hit)
            if len(ii):
                yield lo + ii, jlo + jj
        if progress is not None:
            progress(hi - lo)


def _lower_off(block) -> None:
    """A block whose rows and columns start at the same item: only pairs i < j count."""
    import numpy as np

    size = min(block.shape)
    block[:size, :size] &= np.triu(np.ones((size, size), bool), 1)


def _bounds(x, rank: int):
    """[x', |x"|] for every row (see the module's doc): x' the first `rank` coordinates in the basis
    of XᵀX's eigenvectors (largest first), |x"| the length of the rest, computed directly."""
    import numpy as np

    # any orthonormal basis gives a true bound (|x"| is measured in it): the variance's directions,
    # from a sample of the rows, only make it a tight one
    sample = x[::max(1, len(x) // 32768)]
    _, vecs = np.linalg.eigh((sample.T @ sample).astype(np.float64))
    basis, _ = np.linalg.qr(vecs[:, ::-1][:, :rank])   # orthonormal to float64 rounding
    basis = np.ascontiguousarray(basis.astype(np.float32))
    out = np.empty((len(x), rank + 1), np.float32)
    for i in range(0, len(x), 16384):
        part = x[i:i + 16384]
        head = part @ basis
        rest = part - head @ basis.T
        out[i:i + len(part), :rank] = head
        out[i:i + len(part), rank] = np.linalg.norm(rest, axis=1) * (1 + 1e-5) + 1e-6
    return out


def similar_groups(ids: list[int], vectors, threshold: float, progress=None, in_place: bool = False
                   ) -> list[list[int]]:
    """Groups (each in ascending id order, the groups by their first id) of the ids whose vectors
    are joined, transitively, by pairs at or above the threshold."""
    parent = list(range(len(ids)))

    def root(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for ii, jj in similar_pairs(vectors, threshold, progress=progress, in_place=in_place):
        for a, b in zip(ii.tolist(), jj.tolist()):
            ra, rb = root(a), root(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, list[int]] = {}
    for i in range(len(ids)):
        groups.setdefault(root(i), []).append(ids[i])
    return sorted((sorted(g) for g in groups.values() if len(g) > 1), key=lambda g: g[0])


def find_duplicates(catalog: Catalog, index, col, model_id: str, threshold: float, k: int = 10,
                    show_progress: bool = False, include_trashed: bool = False) -> list[dict]:
    """Groups of near-duplicates and of identical copies (a photo present in several places that is
    not in a near-duplicate group), largest first; trashed photos only when asked for. The same
    arguments as report.find_duplicates, which this replaces (`index`, `col` and `k` are not used:
    every pair is compared, from the catalog's stored vectors of the photos the index holds)."""
    from ..progress import progress

    ids, _hashes, vectors = catalog.vector_matrix(model_id, include_trashed=include_trashed)
    with progress(total=len(ids), desc="near-duplicates", unit="photo", enabled=show_progress) as bar:
        near = similar_groups(ids, vectors, threshold, progress=bar.update, in_place=True)
    grouped = {p for g in near for p in g}
    copies = [pid for pid in catalog.photos_with_copies(include_trashed) if pid not in grouped]
    rows = catalog.duplicate_rows([p for g in near for p in g] + copies)
    out = [group(rows, "near-duplicates", g) for g in near] + [group(rows, "identical copies", [p]) for p in copies]
    out.sort(key=lambda g: -g["bytes"])
    return out


def group(rows: dict[int, dict], kind: str, members: list[int]) -> dict:
    """One group as the report and `--json` show it: its photos largest first, with every place."""
    photos = []
    for pid in members:
        r = rows[pid]
        photos.append({"id": pid, "hash": r["hash"], "size": r["size"], "width": r["width"],
                       "height": r["height"], "taken_at": r["taken_at"],
                       "locations": [location_label(path, entry) for path, entry in r["locations"]]})
    photos.sort(key=lambda p: (-(p["width"] or 0) * (p["height"] or 0), -p["size"], p["id"]))
    return {"kind": kind, "photos": photos,
            "bytes": sum(p["size"] * len(p["locations"]) for p in photos),
            "reclaimable": sum(p["size"] * len(p["locations"]) for p in photos) - photos[0]["size"]}
