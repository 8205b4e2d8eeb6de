"""Exact search over the catalog's own stored embeddings, in two roles:

- `CatalogVectors` stands in for a Chroma collection where the index cannot be opened: a library on
  a read-only mount or a copy on a DVD (Chroma opens its store for writing even to read it).
- `VectorTable`, kept by a warm process (`keep_warm`: the web app, benchmarks), makes filtered
  queries fast. Chroma's local engine evaluates `where` by scanning every item's metadata (~0.7 s at
  100,000 photos), and a filter that passes few photos defeats an unfiltered over-fetch. The table
  holds the vectors the index holds and their index metadata (item_metadata, what Chroma filters on)
  as numpy columns: a filter is resolved over every photo at once (`Columns.mask`, the semantics of
  filters.matches), and the photos that pass are ranked exactly by one matrix-vector product. Rows
  are ordered by capture time, so a date range is one contiguous slice of the matrix.

Cost: the model's vectors in memory (100,000 photos x 512 floats = 200 MB) plus ~100 bytes of
columns per photo, and a few seconds to build; a table is only used while the catalog is unchanged
since it was built (see `fresh_table`).
"""
from __future__ import annotations

import itertools
import math
import os
import threading
import time

from ..catalog import Catalog
from .filters import haversine_km, matches
from .index import item_metadata

MAX_TABLE_BYTES = 2 << 30   # a library larger than this (about 1M photos at 512 dims) is not kept


# -- metadata as columns ------------------------------------------------------------------------------
class _Column:
    """One metadata key over every row: typed numpy values where the rows agree on a type (bool, int,
    float, str as codes, lists as an inverted index), else the Python values themselves."""

    def __init__(self, values: list):
        import numpy as np

        self.values = values
        types = set(map(type, values))
        gaps = type(None) in types
        types.discard(type(None))
        self.present = np.fromiter((v is not None for v in values), bool, len(values)) if gaps else \
            np.ones(len(values), bool)
        filled = [0 if v is None else v for v in values] if gaps else values
        self.kind = "object"
        try:
            if types <= {bool}:
                self.kind, self.array = "bool", np.array(filled, dtype=bool)
            elif types <= {int}:
                self.kind, self.array = "int", np.array(filled, dtype=np.int64)
                self.exact_float = not len(values) or int(np.abs(self.array).max()) <= 2 ** 53
            elif types <= {int, float} and all(type(v) is float or abs(v) <= 2 ** 53 for v in values if v is not None):
                self.kind, self.array = "float", np.array([math.nan if v is None else float(v) for v in values])
                if np.isnan(self.array[self.present]).any():
                    self.kind = "object"   # NaN compares unlike anything else: leave it to matches
            elif types <= {str}:
                self.codes = {s: i for i, s in enumerate(sorted({v for v in values if v is not None}))}
                self.kind, self.array = "str", np.array([-1 if v is None else self.codes[v] for v in values], np.int64)
            elif types <= {list}:
                index: dict = {}
                for row, v in enumerate(values):
                    for x in v or ():
                        index.setdefault(x, []).append(row)
                self.kind, self.index = "list", index
        except (OverflowError, TypeError):   # ints past 64 bits, unhashable list members: the slow way
            self.kind = "object"

    def _slow(self, key: str, op: str, operand):
        import numpy as np

        return np.fromiter((v is not None and matches({key: {op: operand}}, {key: v}) for v in self.values),
                           bool, len(self.values))

    def _equal_any(self, key: str, operands: list):
        """Rows whose value == one of `operands` (Python's `value in operands`); None: not typed."""
        import numpy as np

        plain = all(type(x) in (bool, int, float, str) for x in operands)
        if not plain:
            return None
        if self.kind == "bool":
            yes, no = True in operands, False in operands
            return np.where(self.array, yes, no)
        if self.kind in ("int", "float"):
            nums = [x for x in operands if type(x) is not str]
            if any(type(x) is float and math.isnan(x) for x in nums) or any(
                    type(x) is int and abs(x) > 2 ** 53 for x in nums):
                return None
            if self.kind == "int":
                targets = [int(x) for x in nums if type(x) is not float or x.is_integer()]
                return np.isin(self.array, np.array(targets, dtype=np.int64)) if targets else \
                    np.zeros(len(self.array), bool)
            return np.isin(self.array, np.array([float(x) for x in nums], dtype=np.float64))
        if self.kind == "str":
            targets = [self.codes[x] for x in operands if type(x) is str and x in self.codes]
            return np.isin(self.array, np.array(targets, dtype=np.int64))
        return None

    def evaluate(self, key: str, op: str, operand):
        """`{key: {op: operand}}` for every row (rows without the key: whatever; the caller decides)."""
        import numpy as np

        n = len(self.values)
        if op == "$contains":
            if self.kind == "list":
                try:
                    rows = self.index.get(operand)
                except TypeError:
                    return self._slow(key, op, operand)
                out = np.zeros(n, bool)
                if rows:
                    out[np.array(rows, dtype=np.int64)] = True
                return out
            if self.kind != "object":
                return np.zeros(n, bool)   # not a list: never contains anything
        elif op in ("$eq", "$ne", "$in") and self.kind not in ("list", "object"):
            operands = list(operand) if op == "$in" and isinstance(operand, (list, tuple)) else [operand]
            if op != "$in" or isinstance(operand, (list, tuple)):
                found = self._equal_any(key, operands)
                if found is not None:
                    return ~found if op == "$ne" else found
        elif op in ("$gt", "$gte", "$lt", "$lte"):
            if self.kind in ("bool", "str", "list"):
                return np.zeros(n, bool)   # matches: a bool, str or list is never above or below anything
            numeric = type(operand) in (bool, int, float) and not (type(operand) is float and math.isnan(operand))
            if self.kind in ("int", "float") and numeric and abs(operand) <= 2 ** 53 and (
                    self.kind == "float" or type(operand) is not float or self.exact_float):
                a = self.array
                return {"$gt": a > operand, "$gte": a >= operand, "$lt": a < operand, "$lte": a <= operand}[op]
        return self._slow(key, op, operand)


class Columns:
    """The index metadata of n rows as columns, and `where` clauses evaluated over all rows at once,
    exactly as filters.matches evaluates them one item at a time."""

    def __init__(self, metas: list[dict]):
        self.n = len(metas)
        values: dict[str, list] = {}
        for i, m in enumerate(metas):   # one pass over the items, whatever keys each has
            for k, v in m.items():
                col = values.get(k)
                if col is None:
                    col = values[k] = [None] * self.n
                col[i] = v
        self.columns = {k: _Column(values[k]) for k in sorted(values)}

    def mask(self, where: dict | None):
        import numpy as np

        if where is None:
            return np.ones(self.n, bool)
        (key, cond), = where.items()
        if key == "$and":
            return np.logical_and.reduce([self.mask(w) for w in cond]) if cond else np.ones(self.n, bool)
        if key == "$or":
            return np.logical_or.reduce([self.mask(w) for w in cond]) if cond else np.zeros(self.n, bool)
        if not isinstance(cond, dict):
            cond = {"$eq": cond}
        (op, operand), = cond.items()
        col = self.columns.get(key)
        if col is None:   # no row has the key
            return np.full(self.n, op == "$ne")
        return np.where(col.present, col.evaluate(key, op, operand), op == "$ne")

    def any_true(self, key: str) -> bool:
        col = self.columns.get(key)
        return bool(col is not None and col.kind == "bool" and col.array.any()) or bool(
            col is not None and col.kind == "object" and any(v is True for v in col.values))


# -- the table ----------------------------------------------------------------------------------------
def _when(meta: dict | None, pid: int) -> tuple:
    t = (meta or {}).get("t")
    return (t is None, t if isinstance(t, (int, float)) else 0, pid)


class VectorTable:
    """The present photos embedded with one model (only those the index holds, unless not
    `indexed_only`), their unit vectors and their index metadata, rows ordered by capture time."""

    def __init__(self, catalog: Catalog, model_id: str, *, indexed_only: bool = True, keep_metas: bool = True):
        import numpy as np

        t0 = time.perf_counter()
        with catalog.read_snapshot():
            metas = item_metadata(catalog)
            by_time: list = []

            def order(ids: list[int]) -> list[int]:   # rows by capture time (undated last), then photo id
                by_time[:] = sorted(range(len(ids)), key=lambda i: _when(metas.get(ids[i]), ids[i]))
                positions = [0] * len(ids)
                for at, i in enumerate(by_time):
                    positions[i] = at
                return positions

            ids, self.hashes, self.vectors = catalog.vector_matrix(model_id, indexed_only=indexed_only, order=order)
        rows = [metas.get(pid) or {"pid": pid} for pid in ids]
        metas = {}   # (the dicts go: the columns keep what filters read)
        self.model_id = model_id
        self.n = len(ids)
        self.pids = np.array(ids, dtype=np.int64)
        self.dim = self.vectors.shape[1] if self.n else 0
        if self.n:   # cosine, as the index ranks: every row a unit vector
            norms = np.linalg.norm(self.vectors, axis=1, keepdims=True)
            np.divide(self.vectors, np.where(norms > 0, norms, 1), out=self.vectors)
        self.row_of = {h: i for i, h in enumerate(self.hashes)}
        self.columns = Columns(rows)
        self.metas = rows if keep_metas else None
        self.build_seconds = time.perf_counter() - t0

    @property
    def nbytes(self) -> int:
        return int(self.vectors.nbytes + self.pids.nbytes)

    def select(self, where: dict | None, near: tuple[float, float, float] | None = None):
        """Rows (ascending) whose metadata matches `where` and lies within `near` (LAT, LON, KM)."""
        import numpy as np

        rows = np.flatnonzero(self.columns.mask(where))
        if near and len(rows):
            rows = rows[self._near(rows, *near)]
        return rows

    def _near(self, rows, lat: float, lon: float, km: float):
        """Which of `rows` are within km of the point: as query._take decides (haversine_km), computed
        for all of them at once and re-checked one by one where rounding could tip the answer."""
        import numpy as np

        cl, cn = self.columns.columns.get("lat"), self.columns.columns.get("lon")
        if cl is None or cn is None:
            return np.zeros(len(rows), bool)
        if cl.kind != "float" or cn.kind != "float":
            return np.array([cl.values[r] is not None and cn.values[r] is not None
                             and haversine_km(lat, lon, cl.values[r], cn.values[r]) <= km for r in rows], bool)
        has = cl.present[rows] & cn.present[rows]
        la, lo = np.radians(cl.array[rows]), np.radians(cn.array[rows])
        p1 = math.radians(lat)
        a = np.sin((la - p1) / 2) ** 2 + math.cos(p1) * np.cos(la) * np.sin((lo - math.radians(lon)) / 2) ** 2
        with np.errstate(invalid="ignore"):
            d = 2 * 6371.0088 * np.arcsin(np.minimum(1.0, np.sqrt(a)))
        keep = has & (d <= km)
        unsure = np.flatnonzero(has & (np.abs(d - km) <= 1e-6 * max(km, 1.0)))
        for i in unsure:
            keep[i] = haversine_km(lat, lon, cl.values[rows[i]], cn.values[rows[i]]) <= km
        return keep

    def exact_cost(self, rows) -> int:
        """What an exact ranking of `rows` costs, in rows read in order: the span they lie in when
        that is compact (a date range), else about three times their number (gathered rows)."""
        if not len(rows):
            return 0
        return int(min(rows[-1] - rows[0] + 1, 3 * len(rows)))

    def scores(self, vector, rows=None):
        """Cosine similarity of `vector` with every row (or with `rows`, in their order)."""
        import numpy as np

        q = np.asarray(vector, dtype=np.float32).reshape(-1)
        norm = float(np.linalg.norm(q))
        q = q / norm if norm > 0 else q
        # einsum, not BLAS's threaded gemv: one thread streams the rows as fast, and does not wait
        # for a second one that another process is using
        if rows is None:
            return np.einsum("ij,j->i", self.vectors, q)
        if not len(rows):
            return np.zeros(0, np.float32)
        lo, hi = int(rows[0]), int(rows[-1]) + 1
        if hi - lo <= 3 * len(rows):   # compact: one contiguous product, then pick
            return np.einsum("ij,j->i", self.vectors[lo:hi], q)[rows - lo]
        return np.einsum("ij,j->i", self.vectors[rows], q)

    def best(self, vector, rows, k: int, min_score: float | None = None):
        """(rows, scores) of the k best of `rows`, best first (ties by photo id); with min_score,
        only those at or above it. Exact."""
        import numpy as np

        s = self.scores(vector, rows)
        rows = np.arange(self.n) if rows is None else np.asarray(rows)
        k = min(k, len(rows))
        if k <= 0:
            return rows[:0], s[:0]
        if k < len(rows):
            kth = np.partition(s, len(s) - k)[len(s) - k]
            above = np.flatnonzero(s > kth)
            ties = np.flatnonzero(s == kth)
            if len(ties) > k - len(above):   # equal scores at the cut: the lowest photo ids stay
                ties = ties[np.argsort(self.pids[rows[ties]], kind="stable")][:k - len(above)]
            pick = np.concatenate([above, ties])
        else:
            pick = np.arange(len(rows))
        pick = pick[np.lexsort((self.pids[rows[pick]], -s[pick]))]
        out_rows, out_scores = rows[pick], s[pick]
        if min_score is not None:
            keep = int(np.searchsorted(-out_scores, -min_score, side="right"))
            out_rows, out_scores = out_rows[:keep], out_scores[:keep]
        return out_rows, out_scores


# -- tables kept by a warm process --------------------------------------------------------------------
_lock = threading.Lock()
_tables: dict[tuple[str, str], "_Kept"] = {}
_warm: set[tuple[str, str]] = set()    # (catalog file, model) whose table is rebuilt when stale
_serial = itertools.count(1)


class _Kept:
    """A kept table, the catalog files' marks when it was read, and a serial for `_seen`."""

    def __init__(self, table: VectorTable, marks: tuple):
        self.table, self.marks, self.serial = table, marks, next(_serial)


def _key(catalog: Catalog, model_id: str) -> tuple[str, str]:
    path = catalog.__dict__.get("_trove_real_path")
    if path is None:
        path = catalog.__dict__["_trove_real_path"] = os.path.realpath(catalog.path)
    return path, model_id


def _file_marks(path) -> tuple:
    """Changes whenever a writer commits (the WAL grows or restarts, a checkpoint writes the file)."""
    marks = []
    for p in (str(path), f"{path}-wal"):
        try:
            st = os.stat(p)
            marks += [st.st_size, st.st_mtime_ns]
        except OSError:
            marks += [None, None]
    return tuple(marks)


def _seen(catalog: Catalog) -> dict:
    """Per connection: the change mark at which it last found each kept table current."""
    return catalog.__dict__.setdefault("_trove_tables_seen", {})


def build_table(catalog: Catalog, model_id: str) -> VectorTable | None:
    """Build the model's table from `catalog` now and keep it (None: too large to keep; see
    MAX_TABLE_BYTES). Kept only if nothing was committed while it was read."""
    if catalog.count_indexed(model_id) * (catalog.embedding_dim(model_id) or 0) * 4 > MAX_TABLE_BYTES:
        return None
    before, files = catalog.change_mark(), _file_marks(catalog.path)
    try:
        table = VectorTable(catalog, model_id, keep_metas=False)
    except RuntimeError:   # the catalog changed between two of its reads
        return None
    if catalog.change_mark() != before:
        return None   # a writer committed meanwhile: what was read may not be one state of the catalog
    kept = _Kept(table, files)
    with _lock:
        _tables[_key(catalog, model_id)] = kept
    _seen(catalog)[kept.serial] = before
    return table


def keep_warm(catalog: Catalog, model_id: str) -> VectorTable | None:
    """Build the model's table now, and rebuild it (in a background thread, at most every few
    seconds) whenever a query finds the catalog changed: for processes that answer many queries."""
    table = fresh_table(catalog, model_id) or build_table(catalog, model_id)
    with _lock:
        _warm.add(_key(catalog, model_id))
    return table


def forget(catalog: Catalog | None = None) -> None:
    """Drop the kept tables (of one catalog file, or all) and stop keeping them warm."""
    with _lock:
        for key in [k for k in _tables if catalog is None or k[0] == os.path.realpath(catalog.path)]:
            del _tables[key]
        _warm.difference_update({k for k in _warm if catalog is None or k[0] == os.path.realpath(catalog.path)})


def fresh_table(catalog: Catalog, model_id: str) -> VectorTable | None:
    """The kept table of this catalog and model, if nothing was committed to the catalog since it
    was built; else None (and, for a catalog kept warm, a rebuild starts in the background).

    Within one connection the check is exact (SQLite's data_version and the connection's own
    total_changes); a connection meeting a table for the first time compares the catalog file's
    and its WAL's size and modification time with those taken when the table was read."""
    key = _key(catalog, model_id)
    with _lock:
        kept = _tables.get(key)
    if kept is None:
        if key in _warm:
            _rebuild_later(catalog, model_id)
        return None
    seen, mark = _seen(catalog), catalog.change_mark()
    at = seen.get(kept.serial)
    if at == mark or (at is None and _file_marks(catalog.path) == kept.marks):
        seen[kept.serial] = mark
        return kept.table
    with _lock:
        if _tables.get(key) is kept:
            del _tables[key]
    if key in _warm:
        _rebuild_later(catalog, model_id)
    return None


def _rebuild_later(catalog: Catalog, model_id: str) -> None:
    key = _key(catalog, model_id)
    with _lock:
        state = _rebuilds.setdefault(key, {"running": False, "last": 0.0, "took": 0.0})
        wait = max(5.0, 3 * state["took"])
        if state["running"] or time.monotonic() - state["last"] < wait:
            return
        state["running"], state["last"] = True, time.monotonic()
    path = catalog.path

    def run() -> None:
        t0 = time.monotonic()
        try:
            with _lock:
                current = _tables.get(key)
            if current is not None and current.marks == _file_marks(path):
                return   # another thread built it meanwhile
            own = Catalog(path, readonly=True)
            try:
                build_table(own, model_id)
            finally:
                own.close()
        except Exception:   # the library went away, or is being rebuilt: the next query tries again
            pass
        finally:
            with _lock:
                state["running"], state["took"] = False, time.monotonic() - t0

    threading.Thread(target=run, name="trove-vector-table", daemon=True).start()


_rebuilds: dict[tuple[str, str], dict] = {}


def table_for(catalog: Catalog, col) -> VectorTable | None:
    """The exact table a query may use for this collection: the stand-in's own, or a kept one."""
    if isinstance(col, CatalogVectors):
        return col.table
    model_id = (getattr(col, "metadata", None) or {}).get("trove_model")
    if not model_id or not (_tables or _warm):
        return None
    return fresh_table(catalog, model_id)


# -- the stand-in for a collection --------------------------------------------------------------------
class CatalogVectors:
    """The collection calls searching and reports make (query, get, count, metadata), answered
    exactly over every present photo embedded with the model."""

    def __init__(self, catalog: Catalog, model_id: str):
        self.table = VectorTable(catalog, model_id, indexed_only=False)
        self.ids = self.table.hashes
        self.metas = self.table.metas
        self.metadata = {"trove_model": model_id, "trove_dim": self.table.dim}

    def count(self) -> int:
        return self.table.n

    def query(self, *, query_embeddings, n_results: int = 10, where: dict | None = None,
              include=("metadatas", "distances")) -> dict:
        import numpy as np

        t = self.table
        q = np.asarray(query_embeddings, dtype=np.float32).reshape(-1, t.dim or 1)
        keep = t.select(where)
        out = {"ids": [], "distances": [], "metadatas": [], "embeddings": None}
        for vector in q:
            rows, scores = t.best(vector, keep, n_results)
            out["ids"].append([t.hashes[i] for i in rows])
            out["distances"].append([float(1.0 - s) for s in scores])
            out["metadatas"].append([t.metas[i] for i in rows])
        return out

    def get(self, *, ids=None, where: dict | None = None, include=("metadatas",), limit: int | None = None,
            offset: int | None = None) -> dict:
        t = self.table
        chosen = sorted(t.select(where).tolist(), key=lambda i: t.pids[i])   # by photo id, as before
        if ids is not None:
            wanted = set(ids)
            chosen = [i for i in chosen if t.hashes[i] in wanted]
        chosen = chosen[offset or 0:][:limit]
        return {"ids": [t.hashes[i] for i in chosen], "metadatas": [t.metas[i] for i in chosen],
                "embeddings": None}
