"""`trove recover lrprev`: turn a Lightroom preview cache back into a folder of JPEGs.

Each photo (image or virtual copy) becomes the largest complete level of its preview, losslessly:
the JPEG Lightroom wrote, with EXIF (orientation, date, GPS, camera, lens, exposure, rating), XMP
(keywords, people, caption, title, rating, label) and an Adobe RGB ICC profile inserted in front of
it. Names follow the originals when the catalog is known (`<root>/<folder>/<name>.jpg`), the preview
UUID otherwise. Nothing is ever overwritten; a manifest in the output folder makes runs resumable.
"""
from __future__ import annotations

import errno
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

from ..ingest.lightroom.pairing import Item, Plan, item_jpeg
from ..ingest.lightroom.previews import Level, PreviewError, best_jpeg
from ..errors import DiskFull, is_disk_full
from ..ingest.files import open_fd
from ..media.exif_write import build_exif
from ..media.icc import adobe_rgb_icc
from ..media.kinds import MediaError
from ..media.jpeg import JpegError, jpeg_size, metadata_prefix, scan_damage, split_header
from ..progress import progress
from .manifest import MANIFEST, ManifestLog, read_manifest
from .mtime import capture_mtime
from .naming import Names, pair_stems, safe_part
from .writer import Body, Writer, refuse_inside
from .xmp import fitting_xmp

NO_CATALOG_DIR = "_not_in_catalog"


@dataclass
class Job:
    item: Item
    rel: str          # output path relative to --out, '/'-separated
    replace: bool = False   # an earlier run's smaller output of this photo, to be replaced in place


@dataclass
class Result:
    counts: dict[str, int] = field(default_factory=dict)
    failures: list[tuple[str, str]] = field(default_factory=list)   # (preview path, reason)
    jobs: list[Job] = field(default_factory=list)

    def add(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n


def plan_names(plan: Plan, manifest: dict[str, dict]) -> list[Job]:
    """Deterministic, collision-free output names; earlier runs' names (the manifest) are kept.
    Files already in the output folder that trove did not write are dealt with when writing."""
    has_catalog = plan.catalog is not None
    wanted: list[tuple[Item, list[str], str, str]] = []
    uuids: dict[str, int] = {}
    folders: dict[tuple[str, ...], list[str]] = {}   # a catalog has a few folders for many photos
    for item in plan.items:
        uuids[item.uuid] = uuids.get(item.uuid, 0) + 1
    for item in plan.items:
        img = item.image
        if img is None:
            folder = [NO_CATALOG_DIR] if has_catalog else []
            stem = f"{item.uuid}-{item.digest}" if item.digest and uuids[item.uuid] > 1 else item.uuid
            ext = ""
        else:
            parts = tuple(img.folder_parts)
            folder = folders.get(parts)
            if folder is None:
                folder = folders[parts] = [safe_part(p) for p in parts]
            stem = img.base_name or item.uuid
            if img.is_virtual_copy:
                stem += f" ({img.copy_name or 'Virtual Copy'})"
            ext = img.extension
        wanted.append((item, folder, safe_part(stem), ext))
    # RAW+JPEG pairs (same folder and stem, different extensions): name each after its extension
    stems = pair_stems([("/".join(folder), stem, ".jpg", ext) for _item, folder, stem, ext in wanted])
    names = Names(rec["file"] for rec in manifest.values())
    jobs: list[Job] = []
    for (item, folder, _stem, _ext), stem in zip(wanted, stems):
        prior = prior_output(manifest, item)
        if prior is not None:
            jobs.append(Job(item, prior["file"]))
            continue
        jobs.append(Job(item, names.claim(folder, stem, ".jpg")))
    return jobs


def prior_output(manifest: dict[str, dict], item: Item) -> dict | None:
    """What an earlier run wrote for this photo (whichever preview it was made from)."""
    if not manifest:   # a first run
        return None
    return manifest.get(item.identity) or manifest.get(item.key)


def level_pixels(item: Item) -> tuple[int, int] | None:
    """(width, height) of the level chosen for `item`, as stored (from its JPEG header if the
    preview's header was not read)."""
    lv = item.level
    if lv is None:
        return None
    if lv.width and lv.height:
        return lv.width, lv.height
    span = _span(item)
    if span is None:
        return None
    try:
        fd = open_fd(span[0])
        try:
            head = os.pread(fd, min(HEAD_BYTES, span[2]), span[1])
        finally:
            os.close(fd)
    except OSError:
        return None
    size = jpeg_size(head)
    if size:
        lv.width, lv.height = size
    return size


def _pixels(size) -> int:
    return size[0] * size[1] if size else 0


def _upgrade(item: Item, prior: dict, path: str) -> str | None:
    """Whether this run has a larger complete level of the photo than the earlier output at `path`:
    'replace', 'changed' (larger, but the file is no longer what trove wrote: left alone) or None."""
    if prior.get("source") == item.path and prior.get("level") == item.meta().get("lr_level") \
            and not item.thumbnail_only:
        return None   # the same level of the same file: nothing can be better
    if prior.get("width") and prior.get("height"):
        before = (prior["width"], prior["height"])
    else:   # a manifest from before sizes were recorded: the file says
        try:
            with open(path, "rb") as f:
                before = jpeg_size(f.read(HEAD_BYTES))
        except OSError:
            return None
    if _pixels(level_pixels(item)) <= _pixels(before):
        return None
    try:
        if isinstance(prior.get("bytes"), int) and os.path.getsize(path) != prior["bytes"]:
            return "changed"
    except OSError:
        return None
    return "replace"


HEAD_BYTES = 65536   # a preview's header segments (APP14, tables, frame, scan header) fit easily


def _span(item: Item) -> tuple[str, int, int] | None:
    """(file, offset, length) of the chosen level's bytes inside its file, if it is in a file."""
    if item.preview is None or item.level is None:
        return None
    if item.preview.layout == "lrprev":
        return item.preview.path, item.level.offset, item.level.declared
    return item.level.file or item.preview.path, 0, item.level.length


def with_size(meta: dict, level: Level | None, jpeg_head: bytes) -> dict:
    size = (level.width, level.height) if level is not None and level.width else jpeg_size(jpeg_head)
    return {**meta, "width": size[0], "height": size[1]} if size else meta


def preview_segments(meta: dict) -> dict:
    """The segments a Lightroom preview gets (recovered or exported): EXIF, XMP and the Adobe RGB
    profile it was rendered in (none for a Smart Preview developed to sRGB: color_space 'sRGB')."""
    srgb = meta.get("color_space") == "sRGB"
    return {"exif": build_exif(meta), "xmp": fitting_xmp(meta), "icc": None if srgb else adobe_rgb_icc()}


def recover_one(job: Job, writer: Writer) -> tuple[str, int, str | None, str | None]:
    """Write one photo: (its file relative to --out, bytes written, level used, a note when a
    smaller level had to be used)."""
    item = job.item
    meta = item.meta()
    mtime = capture_mtime(meta)
    span = _span(item)
    if span is not None and span[2] > HEAD_BYTES:
        # fast path: the level was found whole by the section walk; one read of it from the page
        # cache, its start, EOI and every byte of its image data checked, the new header built from
        # its first bytes, and the rest copied from the preview by the kernel
        path, offset, length = span
        fd = open_fd(path)
        try:
            level = _read_into(fd, length, offset)
            if level is not None and level[:2] == b"\xff\xd8" and level[-2:] == b"\xff\xd9" \
                    and scan_damage(level) is None:
                first = bytes(level[:HEAD_BYTES])
                del level
                try:
                    segments, rest = split_header(first)
                    head, _ = metadata_prefix(first[:rest] + b"\xff\xd9",
                                              **preview_segments(with_size(meta, item.level, first)))
                except JpegError:   # (header segments beyond HEAD_BYTES: the path below reads it all)
                    head = None
                if head is not None:
                    rel = writer.write(job.rel, head, Body(fd=fd, offset=offset + rest, length=length - rest), mtime,
                                       replace=job.replace)
                    return rel, len(head) + length - rest, meta.get("lr_level"), None
        finally:
            os.close(fd)
    data, level, note = _complete_jpeg(item)
    if level is not None:
        meta["lr_level"] = level.name
    if item.smart is not None:   # developed to sRGB by LibRaw: no Adobe RGB profile, ColorSpace sRGB
        meta["color_space"] = "sRGB"
    head, rest = metadata_prefix(data, **preview_segments(with_size(meta, level or item.level, data)))
    rel = writer.write(job.rel, head, Body(data=rest), mtime, replace=job.replace)
    return rel, len(head) + len(rest), meta.get("lr_level"), note


_BUFFERS = threading.local()   # one read buffer per thread (per worker process): reused, never refaulted


def _read_into(fd: int, length: int, offset: int) -> memoryview | None:
    """The `length` bytes at `offset` of `fd`, read into this thread's reusable buffer (a fresh
    300 KB object per photo costs page faults), or None when the file is shorter now."""
    buf = getattr(_BUFFERS, "buf", None)
    if buf is None or len(buf) < length:
        buf = _BUFFERS.buf = bytearray(max(length, 1 << 20))
    view = memoryview(buf)[:length]
    got = 0
    while got < length:
        n = os.preadv(fd, [view[got:]], offset + got)
        if n <= 0:
            return None
        got += n
    return view


def _complete_jpeg(item: Item) -> tuple[bytes, Level | None, str | None]:
    """The chosen level checked whole and undamaged; a truncated or damaged one falls back to the
    next smaller level, with a note saying so."""
    if item.preview is None or item.preview.layout != "lrprev":
        try:
            return item_jpeg(item), None, None
        except MediaError as e:   # a Smart Preview without the raw extra
            raise OSError(str(e)) from None
    level, data, notes = best_jpeg(item.preview, item.level.index)
    note = None
    if level is not item.level:
        note = f"{'; '.join(notes)}: wrote {level.name} instead"
    return data, level, note


def recover(plan: Plan, out: str, *, dry_run: bool = False, show_progress: bool = True, workers: int = 4,
            log: Callable[[str], None] = lambda m: None) -> Result:
    out = os.path.abspath(out)
    result = Result()
    manifest = read_manifest(out)
    jobs = plan_names(plan, manifest)
    result.jobs = jobs
    todo = []
    for job in jobs:
        prior = prior_output(manifest, job.item)
        if prior is None:
            todo.append(job)
            continue
        path = os.path.join(out, *job.rel.split("/"))
        if not os.path.isfile(path):
            todo.append(job)
            continue
        verdict = _upgrade(job.item, prior, path)
        if verdict == "replace":
            job.replace = True
            todo.append(job)
        elif verdict == "changed":
            result.add("upgrade_skipped_changed")
            log(f"{path}: a larger preview of this photo is there now, but the file was changed since trove "
                "wrote it: left as it is")
        else:
            result.add("already_done")
    if dry_run:
        result.add("would_write", len(todo))
        return result
    os.makedirs(out, exist_ok=True)
    writer = Writer(out)
    try:
        _write_all(todo, out, writer, result, workers, show_progress, log)
    except OSError as e:
        if is_disk_full(e):
            raise DiskFull(e.strerror or str(e), f"the disk holding {out}") from None
        raise
    finally:
        writer.close()
    return result


def _attempt(job: Job, writer: Writer) -> tuple:
    """(rel, bytes, level, note, error) of one job; a full disk is raised (not this photo's problem)."""
    try:
        return (*recover_one(job, writer), None)
    except (OSError, PreviewError, JpegError) as e:
        if is_disk_full(e):
            raise
        return None, 0, None, None, getattr(e, "strerror", None) or str(e)


_FORKED: tuple | None = None   # (jobs, writer) as the forked workers inherit them: nothing is pickled
SLICE = 32                     # jobs per task handed to a worker process


def _run_slice(start: int) -> list[tuple]:
    """In a worker process: the jobs [start, start + SLICE) of the inherited list, written through
    the inherited Writer (its folders already open; the partial-file folder is only ever cleared by
    the parent)."""
    jobs, writer = _FORKED
    done = []
    for i in range(start, min(start + SLICE, len(jobs))):
        try:
            done.append((i, *_attempt(jobs[i], writer)))
        except OSError as e:        # a full disk: say it, and stop this worker
            done.append((i, None, 0, None, None, DiskFull(e.strerror or str(e), "")))
            break
    return done


def _worker_start() -> None:
    """A forked worker: the objects it inherited (the plan, the catalog) are never garbage, so the
    collector is told not to walk them again and again."""
    import gc

    gc.freeze()


def _results(todo: list[Job], out: str, writer: Writer, workers: int):
    """(job, rel, bytes, level, note, error) of every job, in order. Building the new header is
    Python work, so with many jobs on Linux the work is spread over processes (forked: they inherit
    the jobs) rather than threads that would take turns holding the interpreter; files still land
    atomically, and only this process writes the manifest."""
    global _FORKED
    procs = min(workers, os.cpu_count() or 1)
    if procs > 1 and len(todo) >= 4 * SLICE and sys.platform.startswith("linux"):
        _FORKED = (todo, writer)
        try:
            for batch in _forked_slices(len(todo), procs):
                for i, *r in batch:
                    if isinstance(r[-1], DiskFull):
                        raise OSError(errno.ENOSPC, r[-1].args[0] if r[-1].args else "disk full")
                    yield (todo[i], *r)
        finally:
            _FORKED = None
        return
    with ThreadPoolExecutor(workers) as pool:
        for job, r in zip(todo, pool.map(lambda job: _attempt(job, writer), todo)):
            yield (job, *r)


AHEAD = 4   # slices handed out per worker before the first results: none waits for the next


def _forked_slices(count: int, procs: int):
    """_run_slice of each SLICE of the `count` inherited jobs, in order, run by `procs` forked
    worker processes. Slice numbers go out through one pipe, 4 bytes at a time (a read that small
    is atomic: each slice goes to one worker, whichever is free first); each worker sends its
    results back through a pipe of its own, pickled (a few small tuples per slice). Lighter than
    multiprocessing.Pool (no module to import, no helper threads), so the first files land sooner.
    A worker's exception is raised here; a worker that is killed is an OSError (the Pool would wait
    for its results for ever); leaving early (a full disk, an error) stops the workers."""
    import pickle
    import select
    import signal

    slices = -(-count // SLICE)
    tasks_r, tasks_w = os.pipe()
    workers: dict[int, list] = {}   # result pipe -> [pid, bytes of a message not yet whole]
    fed = 0
    done = False

    def feed(n: int) -> None:
        nonlocal fed, tasks_w
        n = min(n, slices - fed)
        if n > 0:   # (at most AHEAD * procs * 4 bytes at once: written whole)
            os.write(tasks_w, b"".join(k.to_bytes(4, "little") for k in range(fed, fed + n)))
            fed += n
        if fed == slices and tasks_w is not None:
            os.close(tasks_w)   # the workers' reads now end when the pipe is empty: they exit
            tasks_w = None

    try:
        for _ in range(procs):
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:   # a worker: slices until there are no more
                code = 1
                try:
                    os.close(r)
                    os.close(tasks_w)
                    for other in workers:
                        os.close(other)
                    _worker_start()
                    _serve(tasks_r, w)
                    code = 0
                finally:
                    os._exit(code)
            os.close(w)
            workers[r] = [pid, b""]
        os.close(tasks_r)
        tasks_r = None
        poll = select.poll()
        for r in workers:
            poll.register(r, select.POLLIN)
        feed(AHEAD * procs)
        ready: dict[int, list | BaseException] = {}
        nxt = 0
        while nxt < slices:
            if nxt in ready:
                batch = ready.pop(nxt)
                nxt += 1
                if isinstance(batch, BaseException):
                    raise batch
                yield batch
                continue
            if not workers:
                raise OSError(errno.EIO, "a writing process ended before it had written its photos")
            for fd, _event in poll.poll():
                data = os.read(fd, 1 << 16)
                if not data:   # that worker is gone
                    poll.unregister(fd)
                    os.close(fd)
                    _reap(workers.pop(fd)[0])
                    continue
                buf = workers[fd][1] + data
                while len(buf) >= 4 and len(buf) >= 4 + int.from_bytes(buf[:4], "little"):
                    size = int.from_bytes(buf[:4], "little")
                    k, batch = pickle.loads(buf[4:4 + size])
                    buf = buf[4 + size:]
                    ready[k] = batch
                    feed(1)
                workers[fd][1] = buf
        done = True
    finally:
        for fd in (tasks_r, tasks_w):
            if fd is not None:
                os.close(fd)
        for fd, (pid, _buf) in workers.items():
            os.close(fd)
            if not done:   # still writing: stopped, as the Pool's terminate() would
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
            _reap(pid)


def _serve(tasks: int, results: int) -> None:
    """In a worker: slice numbers read from `tasks` until it ends, each slice's results (or the
    exception it raised) sent to `results` as a 4-byte length and a pickle."""
    import pickle

    while len(got := os.read(tasks, 4)) == 4:
        k = int.from_bytes(got, "little")
        try:
            data = pickle.dumps((k, _run_slice(k * SLICE)))
        except Exception as e:   # (a bug: the parent raises it, as the Pool would)
            try:
                data = pickle.dumps((k, e))
                pickle.loads(data)   # (an exception that cannot be made again there is said in words)
            except Exception:
                data = pickle.dumps((k, RuntimeError(f"{type(e).__name__}: {e}")))
        view = memoryview(len(data).to_bytes(4, "little") + data)
        while view:
            view = view[os.write(results, view):]


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def _write_all(todo: list[Job], out: str, writer: Writer, result: Result, workers: int, show_progress: bool,
               log) -> None:
    """Write the jobs, recording each file written in the manifest as it lands."""
    with ManifestLog(out, MANIFEST) as mf, \
            progress(total=len(todo), desc="recover", unit="photo", enabled=show_progress) as bar:
        for job, rel, size, level, note, error in _results(todo, out, writer, workers):
            bar.update()
            if error is not None:
                result.failures.append((job.item.path, error))
                log(f"error: {job.item.path}: {error}")
                continue
            if note is not None:
                result.add("fell_back")
                log(f"warning: {job.item.path}: {note}")
            if rel != job.rel:
                result.add("renamed_around_existing")
            width, height = level_pixels(job.item) or (None, None)
            mf.add({"key": job.item.key, "item": job.item.identity, "file": rel, "bytes": size,
                    "source": job.item.path, "level": level, "width": width, "height": height})
            result.add("written")
            if job.replace:
                result.add("upgraded")
            if job.item.thumbnail_only:
                result.add("thumbnails_only")
            if job.item.smart is not None:
                result.add("from_smart_previews")


def recover_lrprev(path: str, out: str, *, catalog: str | None = None, dry_run: bool = False, workers: int = 4,
                   show_progress: bool = True, log: Callable[[str], None] = lambda m: None,
                   keep_out_of: list[tuple[str, str]] = (), scratch: str | None = None) -> tuple[dict, Result]:
    """`trove recover lrprev`: the summary (counts, errors) and the result (jobs, failures).
    `keep_out_of`: other (what, folder) places --out must not be inside (the library, its sources)."""
    from ..errors import TroveError
    from ..ingest.lightroom.pairing import load_plan
    from ..ingest.lightroom.source import checked_catalog, checked_previews_path

    checked_previews_path(path)
    refuse_inside(out, [("the preview cache", cache_root(path)), *keep_out_of])

    plan = load_plan(path, checked_catalog(catalog), scratch=scratch)
    for note in plan.notes:
        log(note)
    for where, message in plan.warnings:
        log(f"warning: {where}: {message}")
    for where, _kind, message in plan.errors:
        log(f"error: {where}: {message}")
    try:
        result = recover(plan, out, dry_run=dry_run, workers=workers, show_progress=show_progress, log=log)
    except OSError as e:
        raise TroveError(f"cannot write into {out}: {e.strerror or e}") from None
    summary = {"source": os.path.abspath(path), "out": os.path.abspath(out),
               "catalog": plan.catalog_path if plan.catalog else None, "photos": len(plan.items),
               **plan.counts, **result.counts, "errors": len(plan.errors) + len(result.failures)}
    return summary, result


def cache_root(path: str) -> str:
    """The preview cache `path` is in: the enclosing `.lrdata` folder, else `path` (or its folder)."""
    path = os.path.abspath(path)
    probe = path
    while True:
        if probe.endswith(".lrdata"):
            return probe
        parent = os.path.dirname(probe)
        if parent == probe:
            return path if os.path.isdir(path) else os.path.dirname(path)
        probe = parent


def describe_recovery(c: dict, dry_run: bool) -> str:
    thumbs = c.get("thumbnails_only", 0)
    return (f"{c['photos']} photos: {c.get('written', 0) - thumbs} written"
            + (f" ({c['upgraded']} replacing a smaller earlier output)" if c.get("upgraded") else "")
            + (f", {thumbs} only as a tiny thumbnail (from root-pixels.db, their previews missing; a later run "
               "with the previews back replaces them)" if thumbs else "")
            + f", {c.get('already_done', 0)} already done"
            + (f", {c['would_write']} would be written" if dry_run else "")
            + f"; {c.get('stale', 0)} outdated previews skipped, {c['errors']} errors"
            + (f"; {c['not_in_catalog']} not in the catalog" if c.get("not_in_catalog") else "")
            + (f"; {c['from_smart_previews']} from Smart Previews (larger than the standard previews; developed "
               "by LibRaw and written as JPEG quality 95, since a DNG cannot be kept losslessly as a JPEG; "
               "Lightroom's edits are not in them)" if c.get("from_smart_previews") else "")
            + (f"; {c['fell_back']} written from a smaller level (the largest was damaged)" if c.get("fell_back") else "")
            + (f"; {c['upgrade_skipped_changed']} larger previews not written over files changed since"
               if c.get("upgrade_skipped_changed") else "")
            + (f"; {c['images_without_preview']} catalog images have no preview"
               if c.get("images_without_preview") else ""))
