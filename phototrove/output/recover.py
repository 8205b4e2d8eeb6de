"""`trove recover lrprev`: turn a Lightroom preview cache back into a folder of JPEGs.

Each photo (image or virtual copy) becomes the largest complete level of its preview, losslessly:
the JPEG Lightroom wrote, with EXIF (orientation, date, GPS, camera, lens, exposure, rating), XMP
(keywords, people, caption, title, rating, label) and an Adobe RGB ICC profile inserted in front of
it. Names follow the originals when the catalog is known (`<root>/<folder>/<name>.jpg`), the preview
UUID otherwise. Nothing is ever overwritten; a manifest in the output folder makes runs resumable.
"""
from __future__ import annotations

import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

from ..ingest.lightroom.pairing import Item, Plan, item_jpeg
from ..ingest.lightroom.previews import PreviewError, best_jpeg
from ..catalog.sql import json_text
from ..errors import DiskFull, is_disk_full
from ..ingest.files import open_fd
from ..media.exif_write import build_exif
from ..media.icc import adobe_rgb_icc
from ..media.jpeg import JpegError, jpeg_size, metadata_prefix, split_header
from ..progress import progress
from .manifest import MANIFEST, read_manifest
from .naming import safe_part
from .writer import Body, Writer
from .xmp import build_xmp

NO_CATALOG_DIR = "_not_in_catalog"


@dataclass
class Job:
    item: Item
    rel: str          # output path relative to --out, '/'-separated


@dataclass
class Result:
    counts: dict[str, int] = field(default_factory=dict)
    failures: list[tuple[str, str]] = field(default_factory=list)   # (preview path, reason)
    jobs: list[Job] = field(default_factory=list)

    def add(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n


def _folder(img) -> list[str]:
    root = img.root_name or os.path.basename(img.root.rstrip("/\\")) or "root"
    return [safe_part(root)] + [safe_part(p) for p in re.split(r"[/\\]", img.folder) if p]


def plan_names(plan: Plan, manifest: dict[str, str]) -> list[Job]:
    """Deterministic, collision-free output names; earlier runs' names (the manifest) are kept.
    Files already in the output folder that trove did not write are dealt with when writing."""
    has_catalog = plan.catalog is not None
    wanted: list[tuple[Item, list[str], str, str]] = []
    uuids: dict[str, int] = {}
    for item in plan.items:
        uuids[item.uuid] = uuids.get(item.uuid, 0) + 1
    for item in plan.items:
        img = item.image
        if img is None:
            folder = [NO_CATALOG_DIR] if has_catalog else []
            stem = f"{item.uuid}-{item.digest}" if item.digest and uuids[item.uuid] > 1 else item.uuid
            ext = ""
        else:
            folder = _folder(img)
            stem = img.base_name or item.uuid
            if img.is_virtual_copy:
                stem += f" ({img.copy_name or 'Virtual Copy'})"
            ext = img.extension
        wanted.append((item, folder, safe_part(stem), ext))
    # RAW+JPEG pairs (same folder and stem, different extensions): name each after its extension
    groups: dict[tuple[str, str], set[str]] = {}
    for _item, folder, stem, ext in wanted:
        groups.setdefault(("/".join(folder).lower(), stem.lower()), set()).add(ext.lower())
    taken = {rel.lower() for rel in manifest.values()}
    jobs: list[Job] = []
    for item, folder, stem, ext in wanted:
        prior = manifest.get(item.key)
        if prior is not None:
            jobs.append(Job(item, prior))
            continue
        if len(groups[("/".join(folder).lower(), stem.lower())]) > 1 and ext:
            stem = f"{stem}_{safe_part(ext).upper()}"
        rel = "/".join(folder + [stem + ".jpg"])
        n = 1
        while rel.lower() in taken:
            n += 1
            rel = "/".join(folder + [f"{stem}-{n}.jpg"])
        taken.add(rel.lower())
        jobs.append(Job(item, rel))
    return jobs


def _capture_mtime(meta: dict) -> float | None:
    local = meta.get("taken_local")
    if not local:
        return None
    try:
        y, mo, d, h, mi, sec = (int(local[a:b]) for a, b in ((0, 4), (5, 7), (8, 10), (11, 13), (14, 16), (17, 19)))
        return time.mktime((y, mo, d, h, mi, sec, 0, 0, -1))
    except (ValueError, OverflowError):
        return None


HEAD_BYTES = 65536   # a preview's header segments (APP14, tables, frame, scan header) fit easily


def _span(item: Item) -> tuple[str, int, int] | None:
    """(file, offset, length) of the chosen level's bytes inside its file, if it is in a file."""
    if item.preview is None or item.level is None:
        return None
    if item.preview.layout == "lrprev":
        return item.preview.path, item.level.offset, item.level.declared
    return item.level.file or item.preview.path, 0, item.level.length


def _with_size(meta: dict, item: Item, jpeg_head: bytes) -> dict:
    size = (item.level.width, item.level.height) if item.level is not None and item.level.width else jpeg_size(jpeg_head)
    return {**meta, "width": size[0], "height": size[1]} if size else meta


def _segments(meta: dict) -> dict:
    try:
        xmp = build_xmp(meta)
    except JpegError:
        xmp = build_xmp({k: v for k, v in meta.items() if k not in ("keywords", "people", "description")})
    return {"exif": build_exif(meta), "xmp": xmp, "icc": adobe_rgb_icc()}


def recover_one(job: Job, writer: Writer) -> tuple[str, int, str | None]:
    """Write one photo: (its file relative to --out, bytes written, level used)."""
    item = job.item
    meta = item.meta()
    mtime = _capture_mtime(meta)
    span = _span(item)
    if span is not None and span[2] > HEAD_BYTES:
        # fast path: the level was found whole by the section walk; check its start and its EOI,
        # build the new header from its first bytes and let the kernel copy the rest
        path, offset, length = span
        fd = open_fd(path)
        try:
            first = os.pread(fd, HEAD_BYTES, offset)
            if first[:2] == b"\xff\xd8" and os.pread(fd, 2, offset + length - 2) == b"\xff\xd9":
                try:
                    segments, rest = split_header(first)
                except JpegError:
                    segments = None
                if segments is not None:
                    head, _ = metadata_prefix(first[:rest] + b"\xff\xd9", **_segments(_with_size(meta, item, first)))
                    rel = writer.write(job.rel, head, Body(fd=fd, offset=offset + rest, length=length - rest), mtime)
                    return rel, len(head) + length - rest, meta.get("lr_level")
        finally:
            os.close(fd)
    data, level = _complete_jpeg(item)
    if level is not None:
        meta["lr_level"] = level
    head, rest = metadata_prefix(data, **_segments(_with_size(meta, item, data)))
    rel = writer.write(job.rel, head, Body(data=rest), mtime)
    return rel, len(head) + len(rest), meta.get("lr_level")


def _complete_jpeg(item: Item) -> tuple[bytes, str | None]:
    """The chosen level checked whole (media.jpeg_end); a damaged one falls back to the next smaller."""
    if item.preview is None or item.preview.layout != "lrprev":
        return item_jpeg(item), None
    level, data, _notes = best_jpeg(item.preview, item.level.index)
    return data, level.name


def recover(plan: Plan, out: str, *, dry_run: bool = False, show_progress: bool = True, workers: int = 4,
            log: Callable[[str], None] = lambda m: None) -> Result:
    out = os.path.abspath(out)
    result = Result()
    manifest = read_manifest(out)
    jobs = plan_names(plan, manifest)
    result.jobs = jobs
    todo = []
    for job in jobs:
        if job.item.key in manifest and os.path.isfile(os.path.join(out, *job.rel.split("/"))):
            result.add("already_done")
        else:
            todo.append(job)
    if dry_run:
        result.add("would_write", len(todo))
        return result
    os.makedirs(out, exist_ok=True)
    writer = Writer(out)

    def work(job: Job):
        try:
            return (job, *recover_one(job, writer), None)
        except (OSError, PreviewError, JpegError) as e:
            if is_disk_full(e):  # not this photo's problem: stop the run
                raise
            return job, None, 0, None, getattr(e, "strerror", None) or str(e)

    try:
        _write_all(todo, work, out, result, workers, show_progress, log)
    except OSError as e:
        if is_disk_full(e):
            raise DiskFull(e.strerror or str(e), f"the disk holding {out}") from None
        raise
    finally:
        writer.close()
    return result


def _write_all(todo: list[Job], work, out: str, result: Result, workers: int, show_progress: bool, log) -> None:
    """Run the jobs in a pool, recording each file written in the manifest as it lands."""
    last_flush = time.monotonic()
    with open(os.path.join(out, MANIFEST), "a", encoding="utf-8") as mf, \
            ThreadPoolExecutor(workers) as pool, \
            progress(total=len(todo), desc="recover", unit="photo", enabled=show_progress) as bar:
        for job, rel, size, level, error in pool.map(work, todo):
            bar.update()
            if error is not None:
                result.failures.append((job.item.path, error))
                log(f"error: {job.item.path}: {error}")
                continue
            if rel != job.rel:
                result.add("renamed_around_existing")
            mf.write(json_text({"key": job.item.key, "file": rel, "bytes": size, "source": job.item.path,
                                "level": level}) + "\n")
            if time.monotonic() - last_flush > 0.5:  # a crash loses at most these lines: the files are
                mf.flush()                           # then recognised byte for byte on the next run
                last_flush = time.monotonic()
            result.add("written")


def recover_lrprev(path: str, out: str, *, catalog: str | None = None, dry_run: bool = False, workers: int = 4,
                   show_progress: bool = True, log: Callable[[str], None] = lambda m: None) -> tuple[dict, Result]:
    """`trove recover lrprev`: the summary (counts, errors) and the result (jobs, failures)."""
    from ..errors import TroveError
    from ..ingest.lightroom.pairing import load_plan
    from ..ingest.lightroom.source import checked_catalog

    plan = load_plan(path, checked_catalog(catalog))
    for note in plan.notes:
        log(note)
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


def describe_recovery(c: dict, dry_run: bool) -> str:
    return (f"{c['photos']} photos: {c.get('written', 0)} written, {c.get('already_done', 0)} already done"
            + (f", {c['would_write']} would be written" if dry_run else "")
            + f"; {c.get('stale', 0)} outdated previews skipped, {c['errors']} errors"
            + (f"; {c['not_in_catalog']} not in the catalog" if c.get("not_in_catalog") else "")
            + (f"; {c['root_pixels']} only as a tiny thumbnail" if c.get("root_pixels") else "")
            + (f"; {c['images_without_preview']} catalog images have no preview"
               if c.get("images_without_preview") else ""))
