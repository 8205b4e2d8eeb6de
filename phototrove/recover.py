"""`trove recover lrprev`: turn a Lightroom preview cache back into a folder of JPEGs.

Each photo (image or virtual copy) becomes the largest complete level of its preview, losslessly:
the JPEG Lightroom wrote, with EXIF (orientation, date, GPS, camera, lens, exposure, rating), XMP
(keywords, people, caption, title, rating, label) and an Adobe RGB ICC profile inserted in front of
it. Names follow the originals when the catalog is known (`<root>/<folder>/<name>.jpg`), the preview
UUID otherwise. Nothing is ever overwritten; a manifest in the output folder makes runs resumable.
"""
from __future__ import annotations

import errno
import json
import os
import re
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

from .ingest.jpegmeta import JpegError, adobe_rgb_icc, build_exif, build_xmp, metadata_prefix, split_header
from .ingest.lrlibrary import Item, Plan, item_jpeg
from .ingest.lrprev import PreviewError, best_jpeg, jpeg_size

MANIFEST = ".trove-recover.jsonl"
NO_CATALOG_DIR = "_not_in_catalog"
_UNSAFE = re.compile(r'[\x00-\x1f<>:"/\\|?*]')


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


def safe_part(name: str) -> str:
    """A path component that cannot escape the output folder or break a file system."""
    name = _UNSAFE.sub("_", name).strip().rstrip(".")
    return "_" if name in ("", ".", "..") else name[:200]


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


def _shared_uuid(plan: Plan, item: Item) -> bool:
    return sum(1 for it in plan.items if it.uuid == item.uuid) > 1


def read_manifest(out: str) -> dict[str, str]:
    done: dict[str, str] = {}
    try:
        with open(os.path.join(out, MANIFEST), encoding="utf-8") as f:
            for line in f:
                try:
                    rec = json.loads(line)
                    done[rec["key"]] = rec["file"]
                except (ValueError, KeyError, TypeError):
                    continue  # a line cut short by a crash
    except FileNotFoundError:
        pass
    return done


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


class _Body:
    """The untouched part of the preview: bytes in memory, or a byte range of the preview file that
    is copied by the kernel (copy_file_range), as `cp` does."""

    def __init__(self, data: memoryview | None = None, fd: int | None = None, offset: int = 0, length: int = 0):
        self.data, self.fd, self.offset = data, fd, offset
        self.length = len(data) if data is not None else length

    def read(self) -> bytes:
        return bytes(self.data) if self.data is not None else os.pread(self.fd, self.length, self.offset)

    def write_to(self, out_fd: int) -> None:
        if self.data is not None:
            _write_all(out_fd, self.data)
            return
        offset, left = self.offset, self.length
        if hasattr(os, "copy_file_range"):
            try:
                while left > 0:
                    n = os.copy_file_range(self.fd, out_fd, left, offset)
                    if n <= 0:
                        raise OSError("the preview file got shorter while copying")
                    offset += n
                    left -= n
                return
            except OSError as e:
                if left != self.length or e.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL,
                                                          errno.EOPNOTSUPP, errno.EPERM):
                    raise
        while left > 0:   # no in-kernel copy here: plain reads and writes
            chunk = os.pread(self.fd, min(left, 1 << 20), offset)
            if not chunk:
                raise OSError("the preview file got shorter while copying")
            _write_all(out_fd, chunk)
            offset += len(chunk)
            left -= len(chunk)


def _write_all(fd: int, data) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class _Writer:
    """Writes outputs without ever replacing a file trove did not write."""

    def __init__(self, out: str):
        self.out = out
        self.dirs: set[str] = set()
        self.lock = threading.Lock()

    def write(self, rel: str, head: bytes, body: _Body, mtime: float | None) -> str:
        path = os.path.join(self.out, *rel.split("/"))
        folder = os.path.dirname(path)
        if folder not in self.dirs:
            os.makedirs(folder, exist_ok=True)
            self.dirs.add(folder)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            with self.lock:
                rel, fd = self._existing(rel, path, head, body)
            if fd is None:
                return rel      # the same bytes were already there (an earlier run cut short)
        try:
            _write_all(fd, head)
            body.write_to(fd)
            if mtime is not None:
                os.utime(fd, (mtime, mtime))
        except BaseException:
            os.close(fd)
            os.unlink(os.path.join(self.out, *rel.split("/")))   # never leave a partial output
            raise
        os.close(fd)
        return rel

    def _existing(self, rel: str, path: str, head: bytes, body: _Body):
        """`path` exists but is not in the manifest: ours from an interrupted run, or someone else's."""
        size = len(head) + body.length
        try:
            with open(path, "rb") as f:
                old = f.read(size + 1)
        except OSError:
            old = b""
        ours = head + body.read()
        if len(old) == size and old == ours:
            return rel, None
        if 2 <= len(old) < size and ours.startswith(old):   # our own output, cut short by a crash
            return rel, os.open(path, os.O_WRONLY | os.O_TRUNC)
        stem, n = rel[:-4], 1
        while True:
            n += 1
            rel = f"{stem}-{n}.jpg"
            try:
                return rel, os.open(os.path.join(self.out, *rel.split("/")), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                continue


def recover_one(job: Job, writer: _Writer) -> tuple[str, int, str | None]:
    """Write one photo: (its file relative to --out, bytes written, level used)."""
    item = job.item
    meta = item.meta()
    mtime = _capture_mtime(meta)
    span = _span(item)
    if span is not None and span[2] > HEAD_BYTES:
        # fast path: the level was found whole by the section walk; check its start and its EOI,
        # build the new header from its first bytes and let the kernel copy the rest
        path, offset, length = span
        fd = os.open(path, os.O_RDONLY)
        try:
            first = os.pread(fd, HEAD_BYTES, offset)
            if first[:2] == b"\xff\xd8" and os.pread(fd, 2, offset + length - 2) == b"\xff\xd9":
                try:
                    segments, rest = split_header(first)
                except JpegError:
                    segments = None
                if segments is not None:
                    head, _ = metadata_prefix(first[:rest] + b"\xff\xd9", **_segments(_with_size(meta, item, first)))
                    rel = writer.write(job.rel, head, _Body(fd=fd, offset=offset + rest, length=length - rest), mtime)
                    return rel, len(head) + length - rest, meta.get("lr_level")
        finally:
            os.close(fd)
    data, level = _complete_jpeg(item)
    if level is not None:
        meta["lr_level"] = level
    head, rest = metadata_prefix(data, **_segments(_with_size(meta, item, data)))
    rel = writer.write(job.rel, head, _Body(data=rest), mtime)
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
    from tqdm import tqdm

    os.makedirs(out, exist_ok=True)
    writer = _Writer(out)

    def work(job: Job):
        try:
            return (job, *recover_one(job, writer), None)
        except (OSError, PreviewError, JpegError) as e:
            return job, None, 0, None, getattr(e, "strerror", None) or str(e)

    last_flush = time.monotonic()
    with open(os.path.join(out, MANIFEST), "a", encoding="utf-8") as mf, \
            ThreadPoolExecutor(workers) as pool, \
            tqdm(total=len(todo), desc="recover", unit="photo", file=sys.stderr, dynamic_ncols=True, leave=False,
                 disable=not (show_progress and sys.stderr.isatty())) as bar:
        for job, rel, size, level, error in pool.map(work, todo):
            bar.update()
            if error is not None:
                result.failures.append((job.item.path, error))
                log(f"error: {job.item.path}: {error}")
                continue
            if rel != job.rel:
                result.add("renamed_around_existing")
            mf.write(json.dumps({"key": job.item.key, "file": rel, "bytes": size, "source": job.item.path,
                                 "level": level}, ensure_ascii=False) + "\n")
            if time.monotonic() - last_flush > 0.5:  # a crash loses at most these lines: the files are
                mf.flush()                           # then recognised byte for byte on the next run
                last_flush = time.monotonic()
            result.add("written")
    return result
