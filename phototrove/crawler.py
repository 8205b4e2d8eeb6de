"""The one driver of work: discover -> read (hash, metadata) -> embed -> tag -> index.

Every stage works in batches and commits each batch as it finishes, and every stage picks its work
from the catalog's state (locations 'new', photos without an embedding, embeddings not indexed), so a
run killed at any moment continues where it stopped, and nothing committed is done twice.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sqlite3
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Sequence, TypeVar

from .catalog import Catalog, Location, explain, location_label
from .errors import DiskFull  # noqa: F401  (re-exported: where callers met it first)
from .ingest import make_source, source_class
from .ingest.base import FindError, Note, Source
from .ingest.pixels import EXTRAS, location_image
from .ingest.stacks import Row as StackRow
from .ingest.stacks import find_stacks
from .media.filename_dates import filename_date
from .media.kinds import MediaError
from .media.probe import probe_media
from .media.thumbnail import THUMB_SIDE, decode_side, save_thumbnail, thumb_file
from .progress import progress

T = TypeVar("T")
R = TypeVar("R")

KEEP_IN_MEMORY = 256 << 20  # items larger than this are hashed as a stream and probed from their head
HEAD_BYTES = 4 << 20
TAIL_BYTES = 1 << 20
VIDEO_TAIL_BYTES = 32 << 20  # a long video's `moov` index, written after its data
STAGES = ("discover", "read", "embed", "tag", "index")
FILE_ORIGINS = ("exif", "xmp")   # what the read stage learns from the bytes themselves
FILENAME_ORIGIN = "filename"


@dataclass
class Summary:
    counts: dict[str, int] = field(default_factory=dict)
    errors: int = 0
    source_id: int | None = None   # None: the source was not kept (nothing found in it)
    problems: list[str] = field(default_factory=list)  # what a source not kept was found to be

    def add(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n


def pipelined(batches: Iterable[Sequence[T]], work: Callable[[T], R], pool: ThreadPoolExecutor,
              ahead: int = 1) -> Iterator[tuple[Sequence[T], list[R]]]:
    """Map `work` over each batch in the pool, `ahead` batches ahead, so handling batch k (writing
    it, or running the model on it) overlaps preparing batches k+1..k+ahead."""
    from collections import deque

    pending: deque[tuple[Sequence[T], list[Future]]] = deque()
    for batch in batches:
        pending.append((batch, [pool.submit(work, item) for item in batch]))
        if len(pending) > ahead:
            done, futures = pending.popleft()
            yield done, [f.result() for f in futures]
    while pending:
        done, futures = pending.popleft()
        yield done, [f.result() for f in futures]


def keyset_batches(fetch: Callable[[int], list], key: Callable[[Any], int]) -> Iterator[list]:
    """Batches from `fetch(after)` until one comes back empty; `key` of a batch's last item is the
    next `after` (keyset paging: rows the previous batch changed are never read twice)."""
    after = 0
    while batch := fetch(after):
        after = key(batch[-1])
        yield batch


@dataclass
class ReadResult:
    loc: Location
    digest: str | None = None
    size: int | None = None
    mtime_ns: int | None = None
    media: str = "image"
    probe: Any = None
    error: tuple[str, str] | None = None   # (kind, message)
    vanished: bool = False
    copy_of: tuple[str, str] | None = None  # (path, entry) proven to hold the same bytes: not read
    seen: tuple[int | None, int | None] | None = None  # (size, mtime_ns) of the bytes read, when known


class Crawler:
    def __init__(self, catalog: Catalog, *, embedder=None, model_spec: str | None = None, index=None,
                 tagger=None, workers: int | None = None,
                 batch_size: int = 32, show_progress: bool = True, log: Callable[[str], None] | None = None,
                 vector_dtype: str = "float32", thumbs_dir: str | os.PathLike | None = None):
        self.catalog = catalog
        self.vector_dtype = vector_dtype
        self.embedder = embedder
        self.model_spec = model_spec  # how the embedder was loaded: recorded before anything is embedded
        self.index = index
        self.tagger = tagger   # search.tags.Tagger: auto-tags from the stored embeddings (None: --no-tags)
        self.workers = workers or min(4, os.cpu_count() or 2)
        self.batch_size = batch_size
        self.show_progress = show_progress
        self.log = log or (lambda msg: None)
        self._sources: dict[int, Source] = {}
        self._said_device = False
        # the library's thumbnail cache: the embed stage writes each photo's gallery thumbnail there
        # from the decode it makes for the model (None: it writes none)
        self.thumbs_dir = thumbs_dir
        self._thumbs_failed: str | None = None   # why a thumbnail could not be written: none tried after
        self._said_thumbs = False

    # -- the whole run ----------------------------------------------------------------------------
    def run(self, source: Source, stages: Sequence[str] = STAGES) -> Summary:
        summary = Summary()
        known = self.catalog.source_info(source.kind, source.root) is not None
        source_id = summary.source_id = self.catalog.ensure_source(source.kind, source.root, source.info)
        self._sources[source_id] = source
        try:
            if "discover" in stages:
                self.discover(source_id, source, summary)
                if not known and not self.catalog.count_locations(source_id) and self.catalog.count_errors(source_id):
                    return self._drop_empty(source_id, summary)
            if "read" in stages:
                self.read(source_id, source, summary)
                with self.catalog.transaction():  # what needed every location hashed first
                    self.catalog.link_live(source_id, source.live_pairs())
                    rows = [StackRow(*r) for r in self.catalog.stack_rows(source_id)]
                    summary.add("read.stacks", self.catalog.set_stacks(source_id, find_stacks(rows)))
                    remembered = source.remember()
                    if remembered:
                        self.catalog.merge_source_info(source_id, remembered)
            if "embed" in stages and self.embedder is not None:
                self.embed(summary)
            if "tag" in stages and self.tagger is not None and self.embedder is not None:
                summary.add("tag.photos", self.tagger.run(self.catalog, self.embedder.model_id,
                                                          show_progress=self.show_progress))
            if "index" in stages and self.index is not None:
                self.index_stage(summary)
            self.catalog.refresh_all_text()   # the words search finds photos by, after what changed
        except sqlite3.Error as e:
            raise explain(e, self.catalog.path) from None
        finally:
            for s in self._sources.values():
                s.close()
        summary.errors = self.catalog.count_errors(source_id)
        return summary

    def _drop_empty(self, source_id: int, summary: Summary) -> Summary:
        """A source added this run in which discovery found nothing but problems (a zip that is no
        Takeout, an unreadable folder) is not kept: its problems were said, and count in the run's
        exit code. (An empty folder is kept: photos may come later.)"""
        rows = self.catalog.errors(source_id)
        summary.errors = len(rows)
        summary.problems = [f"{r['path']}: {r['message']}" for r in rows]
        with self.catalog.transaction():
            self.catalog.remove_source(source_id)
        summary.source_id = None
        return summary

    # -- discover ---------------------------------------------------------------------------------
    def discover(self, source_id: int, source: Source, summary: Summary) -> None:
        gen = self.catalog.begin_scan(source_id)
        before = self.catalog.last_error_id()  # problems found again are re-recorded after this
        batch: list = []

        def flush() -> None:
            with self.catalog.transaction():
                counts = self.catalog.upsert_locations(source_id, gen, batch)
            for k, v in counts.items():
                summary.add(f"discover.{k}", v)
            batch.clear()

        complete = True
        with progress(desc="discover", unit="file", enabled=self.show_progress) as bar:
            for item in source.discover():
                if isinstance(item, Note):
                    self.log(f"{item.path}: {item.message}")
                    continue
                if isinstance(item, FindError):
                    with self.catalog.transaction():
                        self.catalog.add_error("discover", item.kind, item.message, source_id=source_id,
                                               path=item.path)
                    self.log(f"error: {item.path}: {item.message}")
                    complete = complete and item.kind != "fatal"
                    continue
                batch.append(item)
                bar.update()
                if len(batch) >= 500:
                    flush()
            flush()
        for key, n in source.discovery_counts().items():
            summary.add(f"discover.{key}", n)
        if complete and not source.partial:
            summary.add("discover.missing", self.catalog.finish_scan(source_id, gen))
            with self.catalog.transaction():
                self.catalog.clear_discover_errors(source_id, before)

    # -- read: hash + metadata + dimensions -------------------------------------------------------
    def _read_one(self, source: Source, loc: Location, copies: bool = False) -> ReadResult:
        res = ReadResult(loc, size=loc.size, mtime_ns=loc.mtime_ns)
        if copies:
            res.copy_of = source.copy_of(loc)
            if res.copy_of is not None:
                return res
        try:
            with source.open(loc) as f:
                h = hashlib.sha256()
                chunks, total, last = [], 0, b""
                while True:
                    chunk = f.read(8 << 20)
                    if not chunk:
                        break
                    h.update(chunk)
                    total += len(chunk)
                    if total <= KEEP_IN_MEMORY or sum(map(len, chunks)) < HEAD_BYTES:
                        chunks.append(chunk)
                    else:   # a large file's end: is it complete? (a video's index often sits there)
                        last = (last + chunk)[-(VIDEO_TAIL_BYTES if loc.meta.get("media") == "video" else TAIL_BYTES):]
                data = b"".join(chunks)
                if not loc.entry:
                    res.seen = _signature(f)
        except FileNotFoundError:
            res.vanished = True
            res.error = ("vanished", "file disappeared before it could be read")
            return res
        except PermissionError as e:
            res.error = ("unreadable", f"permission denied: {e.strerror or e}")
            return res
        except EOFError as e:  # a member that ends before its declared size: the bytes are short
            res.error = ("truncated", f"cut short: {e}")
            return res
        except (OSError, ValueError) as e:  # archive members and odd files raise their own kinds
            res.error = (getattr(e, "kind", "unreadable"), f"cannot read: {getattr(e, 'strerror', None) or e}")
            return res
        res.digest, res.size = h.hexdigest(), total
        media = loc.meta.get("media", "image")
        res.media = media
        try:
            res.probe = probe_media(media, data if total <= KEEP_IN_MEMORY else data[:HEAD_BYTES], size=total,
                                    tail=None if total <= KEEP_IN_MEMORY else last,
                                    name=os.path.basename(loc.entry or loc.path))
        except MediaError as e:
            res.error = (e.kind, str(e))
        except Exception as e:  # a reader choking on odd content: this file only, never the run
            res.error = ("corrupt", f"unreadable image: {type(e).__name__}: {e}"[:300])
        return res

    def read(self, source_id: int, source: Source, summary: Summary) -> None:
        total = self.catalog.count_pending(source_id)
        if not total:
            return

        def batches() -> Iterator[list[Location]]:
            return keyset_batches(lambda after: self.catalog.pending_locations(source_id, self.batch_size, after),
                                  lambda loc: loc.id)

        workers = 1 if source.sequential else self.workers  # one forward pass over a stream
        # pass 1 links proven copies without reading them; pass 2 reads copies whose original failed
        with ThreadPoolExecutor(workers) as pool, \
                progress(total=total, desc="read", unit="photo", enabled=self.show_progress) as bar:
            for copies in (True, False):
                work = lambda loc, copies=copies: self._read_one(source, loc, copies)  # noqa: E731
                for _batch, results in pipelined(batches(), work, pool):
                    with self.catalog.transaction():
                        done = sum(self._record_read(source_id, source, res, summary) for res in results)
                    bar.update(done)
                if not self.catalog.count_pending(source_id):
                    break

    def _record_read(self, source_id: int, source: Source, res: ReadResult, summary: Summary) -> bool:
        cat, loc = self.catalog, res.loc
        if res.copy_of is not None:
            original = cat.photo_at(source_id, *res.copy_of)
            if original is None:
                return False  # the original is not (yet) read: stays 'new' for the next pass
            summary.add("read.duplicates")
            summary.add("read.copies_not_reread")
            self._link(loc, original, res)
            return True
        if res.error:
            kind, message = res.error
            cat.add_error("read", kind, message, source_id=source_id, location_id=loc.id, path=_where(loc))
            if res.vanished:
                cat.mark_missing(loc.id)
            self.log(f"error: {_where(loc)}: {message}")
            summary.add("read.errors")
            return True
        photo_id = cat.photo_id_by_hash(res.digest)
        p = res.probe
        new = photo_id is None
        if new:
            details = dict(stored=(p.stored_width, p.stored_height), duration=p.duration, codec=p.codec,
                           motion=p.motion, burst=p.burst) if p else {}
            photo_id = cat.add_photo(res.digest, res.size, res.media, p.format if p else loc.meta.get("format"),
                                     p.width if p else None, p.height if p else None, **details)
            summary.add("read.photos")
        else:
            summary.add("read.duplicates")
        file_meta = {}
        if p is not None:   # what the file says of itself (again for known bytes: the reader may know more)
            file_meta = {origin: cat.set_meta(photo_id, origin, values, fresh=new)
                         for origin, values in (("exif", p.exif), ("xmp", p.xmp))}
            if not new:   # (a new photo's row has them already)
                cat.set_dimensions(photo_id, p.width, p.height, p.stored_width, p.stored_height)
                cat.set_media(photo_id, res.media, p.format)   # (a DNG was read as an image before RAWs were)
                cat.set_media_details(photo_id, duration=p.duration, codec=p.codec, motion=p.motion, burst=p.burst)
        self._link(loc, photo_id, res, (source.origin, file_meta) if new else None)
        return True

    def _link(self, loc: Location, photo_id: int, res: ReadResult, fresh: tuple[str, dict] | None = None) -> None:
        """The location now holds this photo: re-resolve its metadata and that of the photo it
        held before (a changed file), whose sources may have changed. fresh: the photo was just
        added, from this location alone: (the source's origin, the file metadata just written)."""
        size, mtime_ns = res.seen or (loc.size, loc.mtime_ns)
        self.catalog.link_location(loc.id, photo_id, size, mtime_ns)
        for pid in {photo_id, loc.photo_id} - {None}:
            if pid == photo_id and fresh is not None:
                apply_fresh_meta(self.catalog, photo_id, loc, *fresh)
            else:
                apply_source_meta(self.catalog, pid)

    # -- embed ------------------------------------------------------------------------------------
    def source_for(self, source_id: int) -> Source:
        if source_id not in self._sources:
            row = self.catalog.source(source_id)
            self._sources[source_id] = make_source(row["kind"], row["root"], json.loads(row["info"] or "{}"))
        return self._sources[source_id]

    def _prepare(self, item: tuple[int, str, list[Location], str | None, tuple]):
        """Decode + preprocess one photo from its first readable location: (id, array | error),
        the error as (kind, message, source id of the copy that failed). Runs in the worker pool:
        JPEGs decode at the smallest DCT scale still >= what both the model input and the gallery
        thumbnail need, and the thumbnail is written from the same decode (one decode per photo)."""
        photo_id, media, locations, digest, (width, height) = item
        # An image decodes at this scale whether its thumbnail is cached or not: its vector does not
        # depend on the cache. A RAW or a video decodes for the model only, as before (a RAW may have
        # no preview larger than that, and LibRaw would develop it, slowly): its thumbnail is cut from
        # what the model got when that is large enough, else a gallery makes it when it needs it.
        min_side = self.embedder.image_size
        if media == "image":
            min_side = max(min_side, decode_side(width, height) or THUMB_SIDE)
        big_enough = min(THUMB_SIDE, max(width or THUMB_SIDE, height or THUMB_SIDE))
        thumb = self._thumb_wanted(digest)
        last: tuple[str, str, int | None] = ("missing", "no readable location", None)
        for loc in locations:
            try:
                image = location_image(self.source_for(loc.source_id), loc, media, min_side=min_side)
                pixels = self.embedder.preprocess(image)
                if thumb is not None and max(image.size) >= big_enough:
                    self._write_thumb(image, thumb)
                return photo_id, pixels, None
            except MediaError as e:
                last = (e.kind, f"{_where(loc)}: {e}", loc.source_id)
            except (OSError, EOFError) as e:
                last = ("unreadable", f"{_where(loc)}: {getattr(e, 'strerror', None) or e}", loc.source_id)
            except Exception as e:  # a decoder or converter choking on odd content: this photo only
                last = ("corrupt", f"{_where(loc)}: cannot decode image: {type(e).__name__}: {e}", loc.source_id)
        return photo_id, None, last

    def _thumb_wanted(self, digest: str | None):
        """Where this photo's gallery thumbnail goes, None when it is there already (or cannot be written)."""
        if self.thumbs_dir is None or digest is None or self._thumbs_failed is not None:
            return None
        path = thumb_file(self.thumbs_dir, digest)
        return None if os.path.exists(path) else path

    def _write_thumb(self, image, path) -> None:
        """The thumbnail, from the image the model was fed (upright). Never fails the embed: a cache
        that cannot be written (a full disk, a read-only folder) stops the others for this run, said
        once; galleries make the missing ones when they need them."""
        try:
            save_thumbnail(image, path)
        except (OSError, DiskFull) as e:
            if self._thumbs_failed is None:
                self._thumbs_failed = "the disk is full" if isinstance(e, DiskFull) else \
                    f"{path.parent}: {getattr(e, 'strerror', None) or e}"
        except Exception:  # an encoder's complaint about this one image: a gallery tries again
            pass

    def embed(self, summary: Summary) -> None:
        import numpy as np

        model = self.embedder.model_id
        if self.model_spec:  # before the first vector: a search after a crash here must load this model
            self.catalog.remember_model(model, self.model_spec)
        with self.catalog.transaction():   # photos that waited for an extra installed since: try again
            for module, kind in EXTRAS.values():
                if importlib.util.find_spec(module) is not None:
                    self.catalog.clear_embed_errors(kind)
        total = self.catalog.count_to_embed(model)
        if not total:
            return
        if not self._said_device:  # once per run: which execution provider really runs the model
            self.log(f"embedding with {model} on {getattr(self.embedder, 'device', 'its own code')}")
            self._said_device = True

        def batches() -> Iterator[list[tuple[int, list[Location]]]]:
            """Photo ids with their present locations, looked up here on the main thread (the
            catalog connection and the source adapters are not shared with the decode threads)."""
            for ids in keyset_batches(lambda after: self.catalog.photos_to_embed(model, self.batch_size, after),
                                      lambda pid: pid):
                kinds, dims = self.catalog.media_of(ids), self.catalog.dimensions_of(ids)
                digests = self.catalog.hashes_by_id(ids) if self.thumbs_dir is not None else {}
                where = self.catalog.present_locations_of(ids)
                batch = [(pid, kinds[pid], where[pid], digests.get(pid), dims.get(pid, (None, None))) for pid in ids]
                for _pid, _media, locations, _digest, _dims in batch:
                    for loc in locations:
                        self.source_for(loc.source_id)
                yield batch

        with ThreadPoolExecutor(self.workers, initializer=_yield_to_the_model) as pool, \
                progress(total=total, desc="embed", unit="photo", enabled=self.show_progress) as bar:
            for batch, prepared in pipelined(batches(), self._prepare, pool, ahead=2):
                good = [(pid, arr) for pid, arr, err in prepared if err is None]
                vectors = self.embedder.encode_pixels(np.stack([a for _, a in good])) if good else []
                with self.catalog.transaction():
                    for pid, _arr, err in prepared:
                        if err is not None:
                            self.catalog.add_error("embed", err[0], err[1], source_id=err[2], photo_id=pid,
                                                   model=model)
                            self.log(f"error: {err[1]}")
                            summary.add("embed.errors")
                    self.catalog.put_embeddings(model, [(pid, vec) for (pid, _), vec in zip(good, vectors)],
                                                dtype=self.vector_dtype)
                summary.add("embed.photos", len(good))
                bar.update(len(batch))
                if self._thumbs_failed is not None and not self._said_thumbs:
                    self.log(f"thumbnails not written ({self._thumbs_failed}): galleries make them when they need them")
                    self._said_thumbs = True

    # -- index ------------------------------------------------------------------------------------
    def index_stage(self, summary: Summary) -> None:
        summary.add("index.photos", self.index.sync(self.catalog, show_progress=self.show_progress))
        with self.catalog.transaction():   # photos no location holds any more (replaced by a better copy)
            self.catalog.drop_orphans()


def apply_source_meta(catalog: Catalog, photo_id: int) -> None:
    """Source metadata of the photo's present locations (primary wins) under each origin, and the
    photo's columns resolved again (in the caller's transaction)."""
    merged: dict[str, dict] = {}
    for kind, meta in catalog.source_metas(photo_id):  # least preferred first
        origin = source_class(kind).origin  # e.g. lrprev sources report what the catalog said: "lrcat"
        merged.setdefault(origin, {}).update({k: v for k, v in meta.items() if v is not None})
    primary = catalog.present_locations(photo_id)[:1]
    merged[FILENAME_ORIGIN] = _filename_meta(primary[0] if primary else None)
    existing = {o for o in catalog.meta(photo_id) if o not in FILE_ORIGINS}
    for origin in existing - set(merged):
        catalog.set_meta(photo_id, origin, {})
    for origin, values in merged.items():
        catalog.set_meta(photo_id, origin, values)
    catalog.resolve(photo_id)


def apply_fresh_meta(catalog: Catalog, photo_id: int, loc: Location, origin: str, file_meta: dict) -> None:
    """apply_source_meta for a photo just added from `loc`, its only location, whose file metadata
    (`file_meta`, as stored) was just written: the same rows and columns, from what is in hand
    instead of read back (the read stage does this once per new photo)."""
    meta = dict(file_meta)
    for o, values in ((origin, loc.meta), (FILENAME_ORIGIN, _filename_meta(loc))):   # (set_meta drops None)
        meta[o] = catalog.set_meta(photo_id, o, values, fresh=o not in meta)   # (replaces, as there)
    catalog.resolve(photo_id, meta, fresh=True)


def _filename_meta(primary: Location | None) -> dict:
    """What the primary location's file name says: a capture date, when it holds one."""
    named = filename_date(os.path.basename(primary.entry or primary.path)) if primary else None
    return {"taken_local": named} if named else {}


def _signature(f) -> tuple[int, int] | None:
    """(size, mtime) of an open plain file: the signature of the bytes hashed, not the one seen at
    discovery, so a file replaced in between and later restored (rsync -a) is seen as changed."""
    try:
        st = os.fstat(f.fileno())
    except (AttributeError, OSError, ValueError):  # an in-memory stream (a preview level): no file
        return None
    return st.st_size, st.st_mtime_ns


def _yield_to_the_model() -> None:
    """Lower this decode thread's CPU priority (Linux: per thread). The model's threads then run
    undisturbed and decoding fills the gaps; a decode backlog stalls the model, which frees the
    CPU for it, so the two balance themselves (measured: ~10-15% faster end-to-end ingest on
    2 cores). TROVE_DECODE_NICE=0 turns this off."""
    if os.environ.get("TROVE_DECODE_NICE") == "0":
        return
    try:
        import threading

        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
    except (AttributeError, OSError):  # not Linux, or not permitted: plain threads are fine too
        pass


def _where(loc: Location) -> str:
    return location_label(loc.path, loc.entry)

