"""Pairing a Lightroom preview cache with its catalog: which preview stands for which photo.

One item per catalog image and virtual copy (the preview whose digest matches the image's current
develop settings; failing that, the newest preview left for that UUID), not one per file: previews
with an outdated digest are skipped on purpose and counted as stale. Without a catalog, previews.db
says which digests are current; without that either, the newest preview of each UUID is used.
"""
from __future__ import annotations

import gc
import marshal
import os
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from operator import attrgetter

from ...media.jpeg import jpeg_end, jpeg_size
from ..files import open_regular
from .lrcat import CatalogImage, CatalogReadError, LrCatalog, find_catalog, load_catalog
from .previews import (CacheEntry, Level, Preview, PreviewError, read_level, read_preview, read_previews_db,
                       read_root_pixels, scan_previews)
from .smart import JPEG_XL, SmartPreview, read_smart, scan_smart_previews, smart_dir_for, smart_jpeg

ROOT_PIXELS = "root-pixels.db"


@dataclass
class Item:
    uuid: str
    digest: str | None
    preview: Preview | None            # None: the tiny JPEG from root-pixels.db
    level: Level | None
    image: CatalogImage | None = None
    cache: CacheEntry | None = None
    current: bool = True               # the preview's digest is the image's current one
    source_path: str = ""              # for root-pixels items: the database
    smart: SmartPreview | None = None  # a Smart Preview (larger than any standard preview) stands for it

    @property
    def path(self) -> str:
        if self.smart is not None:
            return self.smart.path
        if self.preview is None:
            return self.source_path
        return self.level.file or self.preview.path

    @property
    def entry(self) -> str:
        if self.smart is not None:
            return ""
        if self.preview is None:
            return f"{self.uuid}-{self.digest}"
        return self.level.name if self.preview.layout == "lrprev" else ""

    @property
    def key(self) -> str:
        """Stable identity across runs: the photo (image or preview) and its version."""
        base = f"{self.uuid}-{self.digest or ''}"
        return f"{base}#{self.image.image_id}" if self.image else base

    @property
    def identity(self) -> str:
        """The photo itself, whichever preview stands for it now: a catalog image (or virtual copy)
        keeps its identity when a better or newer preview of it turns up."""
        return f"lrcat-image:{self.image.image_id}" if self.image else f"lrprev:{self.uuid}-{self.digest or ''}"

    @property
    def thumbnail_only(self) -> bool:
        """Only root-pixels.db's tiny thumbnail is left of this photo."""
        return self.preview is None and self.smart is None

    @property
    def orientation(self) -> int | None:
        if self.image and self.image.orientation:
            return self.image.orientation
        if self.cache and self.cache.orientation:
            return self.cache.orientation
        return self.smart.orientation if self.smart is not None else None

    def meta(self) -> dict:
        m = self.image.meta() if self.image else {}
        m.update({"lr_uuid": self.uuid, "lr_digest": self.digest})
        if self.orientation:
            m["orientation"] = self.orientation
        if self.smart is not None:
            m["lr_level"] = SMART_LEVEL
        elif self.level is not None:
            m["lr_level"] = self.level.name if self.preview and self.preview.layout == "lrprev" else (
                f"jpeg_{self.level.index}" if self.preview else "root-pixels")
            if self.level.width and self.level.height:
                m["preview_width"], m["preview_height"] = self.level.width, self.level.height
        if self.cache and self.cache.image_id is not None and "lr_image_id" not in m:
            m["lr_image_id"] = self.cache.image_id
        if not self.current:
            m["lr_preview_outdated"] = True
        return m


@dataclass
class Plan:
    root: str
    items: list[Item] = field(default_factory=list)
    errors: list[tuple[str, str, str]] = field(default_factory=list)   # (path, kind, message)
    notes: list[str] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)      # (path, message): used, but said
    catalog: LrCatalog | None = None
    catalog_path: str | None = None
    counts: dict[str, int] = field(default_factory=dict)

    def count(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n


def load_plan(root: str, catalog_path: str | None = None, *, auto_catalog: bool = True,
              scratch: str | None = None, parallel: bool | None = None) -> Plan:
    """Read the cache under `root` and its catalog (given, or found beside the .lrdata); `scratch`:
    the library's folder for a private copy of the catalog (see load_catalog). The previews'
    headers are read while the catalog loads (see PreviewReads; `parallel`: False never forks)."""
    plan = Plan(os.path.abspath(root))
    if catalog_path is None and auto_catalog:
        catalog_path = find_catalog(root)
        if catalog_path:
            plan.notes.append(f"catalog: {catalog_path} (found beside the previews)")
    files, problems = scan_previews(plan.root)
    reads = PreviewReads(files, parallel)
    try:
        if catalog_path:
            plan.catalog_path = os.path.abspath(catalog_path)
            try:
                plan.catalog = load_catalog(plan.catalog_path, scratch=scratch)
            except CatalogReadError as e:
                plan.errors.append((plan.catalog_path, "catalog", f"{e}; continuing without it"))
            else:
                plan.notes.extend(plan.catalog.notes)
                plan.errors.extend((plan.catalog_path, kind, f"{what}: {message}")
                                   for what, kind, message in plan.catalog.errors)
                if plan.catalog.skipped:
                    plan.notes.append("catalog: skipped " + "; ".join(sorted(set(plan.catalog.skipped))))
        for path, message in problems:
            plan.errors.append((path, "unreadable", f"cannot list folder: {message}"))
        build(plan, reads.results())
    finally:
        reads.close()
    return plan


def build(plan: Plan, results: list) -> None:
    """The plan's items from (path, Preview or PreviewError) of every preview file, in order."""
    root = plan.root
    previews: dict[tuple[str, str], Preview] = {}
    by_uuid: dict[str, list[Preview]] = {}
    for path, p in results:
        if isinstance(p, PreviewError):
            plan.errors.append((path, p.kind, str(p)))
            p = None
        if p is not None and p.largest() is None:
            plan.errors.append((path, "truncated", "no level of the preview is complete"))
            p = None
        if p is not None and not p.uuid:
            plan.errors.append((path, "not-a-preview", "preview without a UUID (odd file name and header)"))
            p = None
        if p is None:  # an image whose only preview is broken may still get root-pixels.db's thumbnail
            continue
        if p.partial():
            plan.count("truncated_fallback")
        if p.warnings:
            plan.warnings.append((path, "; ".join(p.warnings)
                                  + (f": using {p.largest().name}, the largest whole level" if p.partial() else "")))
        key = (p.uuid, p.digest or "")
        old = previews.get(key)
        if old is not None:  # Lightroom 13.3+: the sizes of one pyramid are separate files
            old.levels.extend(p.levels)
            old.mtime_ns = max(old.mtime_ns, p.mtime_ns)
            continue
        previews[key] = p
        by_uuid.setdefault(p.uuid, []).append(p)
    for lst in by_uuid.values():
        lst.sort(key=lambda p: -p.mtime_ns)

    db_entries: list[CacheEntry] = []
    pdb = os.path.join(root, "previews.db") if os.path.isdir(root) else None
    if pdb and os.path.isfile(pdb):
        db_entries, _stamps, warnings = read_previews_db(pdb)
        plan.notes.extend(warnings)
        missing = [e for e in db_entries if (e.uuid, e.digest) not in previews]
        if missing:
            plan.count("db_rows_without_file", len(missing))
            plan.notes.append(f"previews.db lists {len(missing)} preview(s) whose file is missing or unusable "
                              f"(e.g. {missing[0].uuid}-{missing[0].digest})")
    rpx = os.path.join(root, ROOT_PIXELS) if os.path.isdir(root) else None
    rpx = rpx if rpx and os.path.isfile(rpx) else None
    cache_by_key = {(e.uuid, e.digest): e for e in db_entries}
    claimed: set[int] = set()

    def take(p: Preview, **kw) -> Item:
        claimed.add(id(p))
        return Item(p.uuid, p.digest, p, p.largest(), cache=cache_by_key.get((p.uuid, p.digest)), **kw)

    db_digests = {e.uuid: e.digest for e in db_entries}

    def tiny(uuid: str, digest: str | None, **kw) -> Item | None:
        digest = digest or db_digests.get(uuid)   # an image whose develop settings were unreadable
        if rpx is None or not digest:
            return None
        data = read_root_pixels(rpx, uuid, digest)
        if data is None:
            return None
        size = jpeg_size(data) or (None, None)
        plan.count("root_pixels")
        return Item(uuid, digest, None, Level("root-pixels", 0, 0, len(data), len(data), *size),
                    source_path=rpx, cache=cache_by_key.get((uuid, digest)), **kw)

    cat = plan.catalog
    without: list[CatalogImage] = []   # catalog images with no standard preview at all
    if cat is not None:
        pending: list[CatalogImage] = []
        for img in cat.images:
            p = previews.get((img.uuid, img.digest or ""))
            if p is not None:
                plan.items.append(take(p, image=img))
            else:
                pending.append(img)
        for img in pending:  # no preview of the current version: the newest one left, if any
            left = [p for p in by_uuid.get(img.uuid, []) if id(p) not in claimed]
            if left:
                plan.items.append(take(left[0], image=img, current=False))
                plan.count("outdated_preview_used")
                continue
            item = tiny(img.uuid, img.digest, image=img)
            if item is not None:
                plan.items.append(item)
            else:
                plan.count("images_without_preview")
                without.append(img)
    # previews.db rows (without a catalog, or for previews the catalog does not know)
    known = cat.by_uuid if cat is not None else {}
    for e in sorted(db_entries, key=lambda e: (e.image_id or 0, e.uuid, e.digest)):
        if e.uuid in known:
            continue
        p = previews.get((e.uuid, e.digest))
        item = take(p) if p is not None and id(p) not in claimed else (tiny(e.uuid, e.digest) if p is None else None)
        if item is not None:
            plan.items.append(item)
            if cat is not None:
                plan.count("not_in_catalog")
    planned = {it.uuid for it in plan.items}
    for uuid, lst in sorted(by_uuid.items()):
        free = [p for p in lst if id(p) not in claimed]
        if not free:
            continue
        if uuid in known or uuid in planned:
            plan.count("stale", len(free))
            continue
        plan.items.append(take(free[0]))
        if cat is not None:
            plan.count("not_in_catalog")
        plan.count("stale", len(free) - 1)
    use_smart_previews(plan, without)


PROBE = 64           # files read one after another to learn whether the cache is on a slow disk
SLOW_READ_S = 0.001  # per file: above this the reads wait for the disk (in the page cache: ~0.03 ms)


def _probe(read, paths: list[str]) -> tuple[list, bool]:
    """`read` of the first PROBE paths, and whether they were slow (the rest then wants threads)."""
    t = time.perf_counter()
    results = [read(p) for p in paths[:PROBE]]
    return results, len(paths) > PROBE and time.perf_counter() - t > SLOW_READ_S * PROBE


def read_all(read, paths: list[str]) -> list:
    """`read` of every path, in order. A few small reads per file: from the page cache one thread
    is fastest (more only take turns holding the interpreter), while a cold or network disk is
    waited on, so when the first files are slow the rest are read by a few threads at once."""
    results, slow = _probe(read, paths)
    if slow:
        with ThreadPoolExecutor(4) as pool:
            results += pool.map(read, paths[PROBE:])
    else:
        results += map(read, paths[PROBE:])
    return results


def _read(path: str) -> tuple[str, Preview | PreviewError]:
    try:
        return path, read_preview(path, header=False)
    except PreviewError as e:
        return path, e


PARALLEL_MIN = 512   # previews: below this a second process costs more (its fork) than it saves
CHUNK = 32           # previews taken at a time when two processes share the reading


def _can_fork() -> bool:
    """A fork is cheap and safe here: Linux, a second core, and no other thread (one might hold a
    lock the child would need)."""
    if not sys.platform.startswith("linux") or threading.active_count() != 1:
        return False
    try:
        return len(os.sched_getaffinity(0)) > 1
    except (AttributeError, OSError):
        return (os.cpu_count() or 1) > 1


_FIELDS = [f.name for f in fields(Preview)]      # every one an __init__ argument, in order
_PREVIEW_VALUES = attrgetter(*_FIELDS)
_LEVEL_VALUES = attrgetter(*(f.name for f in fields(Level)))
_LEVELS_AT = _FIELDS.index("levels")


def _pack(result: tuple[str, Preview | PreviewError]):
    """A read's result as plain data for marshal: a Preview as its fields' values (its levels' as
    tuples; the path is the receiver's own), an error as (kind, message)."""
    p = result[1]
    if isinstance(p, PreviewError):
        return p.kind, str(p)
    values = list(_PREVIEW_VALUES(p))
    values[0] = None
    values[_LEVELS_AT] = [_LEVEL_VALUES(lv) for lv in p.levels]
    return values


def _unpack(path: str, data: list | tuple) -> tuple[str, Preview | PreviewError]:
    if isinstance(data, tuple):
        return path, PreviewError(*data)
    data[0] = path
    data[_LEVELS_AT] = [Level(*lv) for lv in data[_LEVELS_AT]]
    return path, Preview(*data)


class PreviewReads:
    """`read_preview(path, header=False)` of every path (a Preview or the PreviewError), in order,
    as `results()` returns them, begun when made so that the caller can load the catalog meanwhile.
    From a warm cache on Linux with a second core, a forked process reads chunks from the end of the
    list while this one, once asked for the results, reads from the front: each process takes a
    chunk only when the other has not started it, so they meet in the middle (a chunk both start at
    once is read twice, harmlessly). The child's previews come back as plain data (marshal: no
    objects pickled). Whatever goes wrong with the child, this process reads what it did not
    deliver: the results are the same either way. A cold or network disk: threads, as read_all.
    `parallel`: None forks when it pays (enough files, no other thread), True whenever it can, False
    never."""

    def __init__(self, paths: list[str], parallel: bool | None = None):
        self.paths = paths
        self.pid: int | None = None
        self.head: list = []
        self.slow = False
        self.probed = False
        self.delivered = 0          # results the child read (for tests)
        if parallel is False or len(paths) <= PROBE or not hasattr(os, "fork") or (
                parallel is None and (len(paths) < PARALLEL_MIN or not _can_fork())):
            return
        (self.head, self.slow), self.probed = _probe(_read, paths), True
        if not self.slow:
            self._fork()

    def _chunk(self, c: int) -> list[str]:
        start = PROBE + c * CHUNK
        return self.paths[start:start + CHUNK]

    def _fork(self) -> None:
        import mmap

        n = self.chunks = -(-(len(self.paths) - PROBE) // CHUNK)
        if n < 2:
            return
        # started[c]: this process took chunk c; started[n + c]: the child did (bytes: never torn)
        self.started = started = mmap.mmap(-1, 2 * n)
        r, w = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            os.close(r)
            os.close(w)
            return
        if pid == 0:   # the child: from the end until a chunk the parent has started
            code = 1
            try:
                os.close(r)
                gc.disable()
                done = {}
                for c in range(n - 1, -1, -1):
                    if started[c]:
                        break
                    started[n + c] = 1
                    done[c] = marshal.dumps([_pack(x) for x in map(_read, self._chunk(c))])
                view = memoryview(marshal.dumps(done))
                while view:
                    view = view[os.write(w, view):]
                code = 0
            finally:
                os._exit(code)
        os.close(w)
        self.pid, self.rfd = pid, r

    def results(self) -> list[tuple[str, Preview | PreviewError]]:
        if not self.probed:
            return read_all(_read, self.paths)
        if self.pid is None:
            rest = self.paths[len(self.head):]
            if self.slow:
                with ThreadPoolExecutor(4) as pool:
                    return self.head + list(pool.map(_read, rest))
            return self.head + list(map(_read, rest))
        out, n, started = list(self.head), self.chunks, self.started
        c = 0
        while c < n and not started[n + c]:
            started[c] = 1
            out += map(_read, self._chunk(c))
            c += 1
        theirs = self._collect()
        for k in range(c, n):
            paths, got = self._chunk(k), theirs.get(k)
            try:
                got = marshal.loads(got)
            except (EOFError, ValueError, TypeError):
                got = None
            if not isinstance(got, list) or len(got) != len(paths):
                out += map(_read, paths)
            else:
                out += map(_unpack, paths, got)
                self.delivered += len(got)
        return out

    def _collect(self) -> dict:
        """The child's chunks ({} if it failed), and the child reaped."""
        parts = []
        try:
            while chunk := os.read(self.rfd, 1 << 20):
                parts.append(chunk)
        except OSError:
            parts = []
        ok = self._reap() == 0
        try:
            return marshal.loads(b"".join(parts)) if ok else {}
        except (EOFError, ValueError, TypeError):
            return {}

    def _reap(self, kill: bool = False) -> int | None:
        pid, self.pid = self.pid, None
        if pid is None:
            return None
        os.close(self.rfd)
        self.started.close()
        if kill:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        while True:
            try:
                return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
            except InterruptedError:
                continue
            except ChildProcessError:
                return None

    def close(self) -> None:
        """The child stopped and reaped, if results() was not asked for (an error on the way)."""
        self._reap(kill=True)


SMART_LEVEL = "smart-preview"
SMART_LONG_SIDE = 2560   # Lightroom makes Smart Previews at most this long: a larger standard level wins


def _pixels(item: Item) -> int:
    lv = item.level
    return (lv.width or 0) * (lv.height or 0) if lv is not None else 0


def use_smart_previews(plan: Plan, without: list[CatalogImage]) -> None:
    """Let the Smart Preview (`<Catalog> Smart Previews.lrdata`) stand for each photo whose standard
    previews are smaller, or that has none: the larger complete picture wins. Not for a virtual copy
    that has a preview of its own: a Smart Preview holds the original without develop settings, so
    it would lose what makes the copy a copy."""
    smart_dir = smart_dir_for(plan.root)
    if smart_dir is None:
        return
    found, problems = scan_smart_previews(smart_dir)
    for path, message in problems:
        plan.errors.append((path, "unreadable", message))
    if not found:
        return
    try:
        import rawpy  # noqa: F401  (only to know whether the Smart Previews can be developed)
    except ImportError:
        plan.notes.append(f"{len(found)} Smart Previews in {smart_dir} not used: developing them needs LibRaw "
                          "(pip install 'phototrove[raw]')")
        return
    plan.notes.append(f"Smart Previews: {smart_dir} ({len(found)})")
    by_uuid: dict[str, list[Item]] = {}
    for it in plan.items:
        by_uuid.setdefault(it.uuid, []).append(it)
    lacking = {img.uuid for img in without}

    def wanted(uuid: str) -> bool:
        items = by_uuid.get(uuid)
        return not items or uuid in lacking or any(
            max(it.level.width or 0, it.level.height or 0) < SMART_LONG_SIDE for it in items if it.level)

    def read(uuid: str):
        try:
            return uuid, read_smart(found[uuid])
        except PreviewError as e:
            return uuid, e

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(read, [u for u in sorted(found) if wanted(u)], chunksize=64))
    jxl = [sp for _, sp in results if isinstance(sp, SmartPreview) and sp.compression == JPEG_XL]
    if jxl:
        plan.notes.append(f"{len(jxl)} Smart Previews are JPEG XL (Lightroom Classic 13+), which this LibRaw cannot "
                          f"develop: the standard previews are used for them (e.g. {jxl[0].path})")
    known = plan.catalog.by_uuid if plan.catalog is not None else {}
    for uuid, sp in results:
        if isinstance(sp, PreviewError):
            plan.errors.append((found[uuid], sp.kind, str(sp)))
            continue
        if not sp.complete:
            plan.warnings.append((sp.path, "; ".join(sp.warnings) or "Smart Preview cut short: not used"))
            continue
        if sp.compression == JPEG_XL:   # Lightroom Classic 13+: LibRaw as packaged cannot develop these
            plan.count("smart_previews_jpeg_xl")
            continue
        level = Level(SMART_LEVEL, 0, 0, sp.size, sp.size, sp.stored_width, sp.stored_height, file=sp.path)
        size = sp.stored_width * sp.stored_height
        used = False
        for it in by_uuid.get(uuid, []):
            if it.image is not None and it.image.is_virtual_copy and not it.thumbnail_only:
                continue
            if size > _pixels(it):
                it.smart, it.level, it.preview = sp, level, None
                used = True
        for img in (i for i in without if i.uuid == uuid):
            plan.items.append(Item(uuid, img.digest, None, level, image=img, smart=sp))
            plan.count("images_without_preview", -1)
            used = True
        if not by_uuid.get(uuid) and uuid not in known:
            plan.items.append(Item(uuid, None, None, level, smart=sp))
            if plan.catalog is not None:
                plan.count("not_in_catalog")
            used = True
        if used:
            plan.count("smart_previews")


def item_jpeg(item: Item) -> bytes:
    """The chosen level's JPEG bytes, exactly as Lightroom wrote them (OSError if unusable); a Smart
    Preview developed by LibRaw and encoded as a high-quality JPEG, as stored (not turned)."""
    if item.smart is not None:
        return smart_jpeg(item.smart.path, upright=False)[0]
    if item.preview is None:
        data = read_root_pixels(item.source_path, item.uuid, item.digest)
        if data is None:
            raise OSError("preview no longer in root-pixels.db")
        return data
    return level_jpeg(item.path, item.level if item.preview.layout == "lrprev" else None)


def level_jpeg(path: str, level: Level | None) -> bytes:
    if level is not None:
        return read_level(path, level)
    with open_regular(path) as f:
        data = f.read()
    end = jpeg_end(data)
    if end is None:
        raise OSError("preview JPEG is truncated")
    return data[:end]
