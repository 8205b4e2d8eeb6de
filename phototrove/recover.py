"""`trove recover lrprev`: turn a Lightroom preview cache back into a folder of JPEGs.

Each photo (image or virtual copy) becomes the largest complete level of its preview, losslessly:
the JPEG Lightroom wrote, with EXIF (orientation, date, GPS, camera, lens, exposure, rating), XMP
(keywords, people, caption, title, rating, label) and an Adobe RGB ICC profile inserted in front of
it. Names follow the originals when the catalog is known (`<root>/<folder>/<name>.jpg`), the preview
UUID otherwise. Nothing is ever overwritten; a manifest in the output folder makes runs resumable.
"""
from __future__ import annotations

import json
import os
import re
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

from .ingest.jpegmeta import JpegError, adobe_rgb_icc, build_exif, build_xmp, with_metadata
from .ingest.lrlibrary import Item, Plan, item_jpeg
from .ingest.lrprev import PreviewError

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


def plan_names(plan: Plan, manifest: dict[str, str], out: str) -> list[Job]:
    """Deterministic, collision-free output names (earlier runs' names are kept)."""
    has_catalog = plan.catalog is not None
    wanted: list[tuple[Item, list[str], str, str]] = []
    for item in plan.items:
        img = item.image
        if img is None:
            folder = [NO_CATALOG_DIR] if has_catalog else []
            stem = item.uuid if not item.digest or not _shared_uuid(plan, item) else f"{item.uuid}-{item.digest}"
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
        n, rel = 1, "/".join(folder + [stem + ".jpg"])
        while rel.lower() in taken or os.path.lexists(os.path.join(out, *rel.split("/"))):
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


def recovered_bytes(item: Item) -> bytes:
    """The preview level with every known piece of metadata inserted (scan data untouched)."""
    data = item_jpeg(item)
    meta = item.meta()
    if item.level is not None and item.level.width:
        meta["width"], meta["height"] = item.level.width, item.level.height
    try:
        xmp = build_xmp(meta)
    except JpegError:
        xmp = build_xmp({k: v for k, v in meta.items() if k not in ("keywords", "people", "description")})
    return with_metadata(data, exif=build_exif(meta), xmp=xmp, icc=adobe_rgb_icc())


def _write_new(path: str, data: bytes, mtime: float | None) -> None:
    """Write `path` without ever replacing an existing file (temp file + hard link)."""
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".{os.path.basename(path)}.trove-part")
    with open(tmp, "wb") as f:
        f.write(data)
    if mtime is not None:
        os.utime(tmp, (mtime, mtime))
    try:
        os.link(tmp, path)          # fails if `path` exists: no overwrite, even in a race
        os.unlink(tmp)
    except FileExistsError:
        os.unlink(tmp)
        raise
    except OSError:                 # file systems without hard links
        if os.path.lexists(path):
            os.unlink(tmp)
            raise FileExistsError(path) from None
        os.replace(tmp, path)


def _capture_mtime(item: Item) -> float | None:
    local = item.meta().get("taken_local")
    if not local:
        return None
    try:
        return time.mktime(time.strptime(local[:19], "%Y-%m-%dT%H:%M:%S"))
    except (ValueError, OverflowError):
        return None


def recover(plan: Plan, out: str, *, dry_run: bool = False, show_progress: bool = True, workers: int = 4,
            log: Callable[[str], None] = lambda m: None) -> Result:
    out = os.path.abspath(out)
    result = Result()
    manifest = read_manifest(out)
    jobs = plan_names(plan, manifest, out)
    result.jobs = jobs
    todo = []
    for job in jobs:
        target = os.path.join(out, *job.rel.split("/"))
        if job.item.key in manifest and os.path.isfile(target):
            result.add("already_done")
        else:
            todo.append((job, target))
    if dry_run:
        result.add("would_write", len(todo))
        return result
    from tqdm import tqdm

    os.makedirs(out, exist_ok=True)

    def work(pair):
        job, target = pair
        try:
            return job, target, recovered_bytes(job.item), None
        except (OSError, PreviewError, JpegError) as e:
            return job, target, None, str(e)

    with open(os.path.join(out, MANIFEST), "a", encoding="utf-8") as mf, \
            ThreadPoolExecutor(workers) as pool, \
            tqdm(total=len(todo), desc="recover", unit="photo", file=sys.stderr, dynamic_ncols=True, leave=False,
                 disable=not (show_progress and sys.stderr.isatty())) as bar:
        for job, target, data, error in pool.map(work, todo):
            bar.update()
            if error is None:
                try:
                    _write_new(target, data, _capture_mtime(job.item))
                except FileExistsError:
                    error = f"{job.rel} appeared meanwhile; not overwritten"
                except OSError as e:
                    error = f"cannot write {job.rel}: {e.strerror or e}"
            if error is not None:
                result.failures.append((job.item.path, error))
                log(f"error: {job.item.path}: {error}")
                continue
            mf.write(json.dumps({"key": job.item.key, "file": job.rel, "bytes": len(data),
                                 "source": job.item.path, "level": job.item.meta().get("lr_level")},
                                ensure_ascii=False) + "\n")
            mf.flush()
            result.add("written")
    return result
