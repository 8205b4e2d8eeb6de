"""`trove export DIR`: the photos chosen (as search or report would choose them) written out as
real files, foldered by a layout (layouts.py), named after their originals (originals.py), with
what trove knows of them written in losslessly (jpeg_edit.py, or an `.xmp` sidecar beside the
formats not edited here) and their capture time as modification time.

A photo is read once: its first file is written from the source, its other folders get hard links
to it (a copy where the file system has none), or symlinks or copies if asked. Everything lands
through the Writer (a temporary name, then linked into place: never a partial file under a real
name, never over a file trove did not write) and is recorded in `DIR/.trove-export.jsonl`, so a
second run adds only what is new."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable

from ..errors import DiskFull, TroveError, is_disk_full
from ..progress import progress
from .export_files import Outcome, Options, write_photo
from .export_plan import PhotoPlan, Plan, plan_export
from .manifest import EXPORT_MANIFEST, ManifestLog, read_manifest
from .writer import Writer, refuse_inside


@dataclass
class Result:
    counts: dict[str, int] = field(default_factory=dict)
    plan: Plan = field(default_factory=Plan)

    def add(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n


def export_photos(catalog, sources, selection, out: str, options: Options, *, show_progress: bool = True,
                  keep_out_of: list[tuple[str, str]] = (), log: Callable[[str], None] = lambda m: None
                  ) -> tuple[dict, Result]:
    """Export the selection (search/selection.Selection) into `out`: (the summary, the result)."""
    refuse_inside(out, list(keep_out_of), "DIR")
    out = os.path.abspath(out)
    manifest = read_manifest(out, EXPORT_MANIFEST)
    records = catalog.export_records(selection.photo_ids)
    plan = plan_export(records, selection.photo_ids, out, manifest, layout=options.layout, metadata=options.metadata)
    result = Result(plan=plan)
    for _pid, label in plan.absent:
        log(f"skipped: photo {label}: no file of it was there at the last scan")
    result.add("files", sum(len(p.jobs) for p in plan.photos))
    result.add("already_there", sum(len(p.jobs) - len(p.todo) for p in plan.photos))
    if options.dry_run:
        result.add("would_write", sum(len(p.todo) for p in plan.photos))
    elif any(p.todo for p in plan.photos):
        todo = [p for p in plan.photos if p.todo]
        catalog.export_details({p.rec["id"]: p.rec for p in todo})
        for p in todo:
            p.with_meta()
        try:
            os.makedirs(out, exist_ok=True)
            _write(plan, out, sources, options, result, show_progress, log)
        except OSError as e:
            if is_disk_full(e):
                raise DiskFull(e.strerror or str(e), f"the disk holding {out}") from None
            raise TroveError(f"cannot write into {out}: {e.strerror or e}") from None
    c = result.counts
    derivatives = sum(1 for p in plan.photos if p.rec["locations"][0].meta.get("derivative"))
    if derivatives:   # Apple Photos: the originals are in iCloud (or elsewhere): smaller copies are what there is
        c["derivatives"] = derivatives
    summary = {"out": out, "layout": options.layout, "selected": selection.what, "photos": len(plan.photos),
               "files": c.get("files", 0), "written": c.get("written", 0), "linked": c.get("linked", 0),
               "symlinked": c.get("symlinked", 0), "copied": c.get("copied", 0),
               "already_there": c.get("already_there", 0), "sidecars": c.get("sidecars", 0),
               "skipped_trashed": selection.trashed, "skipped_absent": selection.absent + len(plan.absent),
               "skipped_vanished": c.get("vanished", 0), "errors": c.get("errors", 0),
               **{k: c[k] for k in ("would_write", "renamed_around_existing", "exif_dates_set", "derivatives")
                  if k in c}}
    return summary, result


def _write(plan: Plan, out: str, sources, options: Options, result: Result, show_progress: bool, log) -> None:
    """Write the photos still missing, `options.workers` at a time (inflating a member and copying
    are done outside the interpreter lock), recording each file in the manifest as it lands; one
    at a time when a source can only be read in order (a tar)."""
    photos = [p for p in plan.photos if p.todo]
    made = {loc.source_id: sources.of(loc.source_id) for p in photos for loc in p.rec["locations"]}
    workers = 1 if any(getattr(s, "sequential", False) for s in made.values()) else \
        max(1, min(options.workers, os.cpu_count() or 1))
    if any(s.kind == "lrprev" for s in made.values() if s is not None):
        from . import recover  # noqa: F401  (imported here, not by two worker threads at once)
    writer = Writer(out)
    try:
        with ManifestLog(out, EXPORT_MANIFEST) as manifest, \
                progress(total=sum(len(p.todo) for p in photos), desc="export", unit="file",
                         enabled=show_progress) as bar:
            for photo, outcome in in_parallel(photos, workers,
                                              lambda p: write_photo(p, out, writer, sources, options)):
                _account(photo, outcome, manifest, result, log)
                bar.update(len(photo.todo))
    finally:
        writer.close()


def in_parallel(items: list, workers: int, work):
    """(item, work(item)) in the items' order, up to `workers` at once; an exception stops it (what
    has not started is cancelled)."""
    if workers <= 1:
        for item in items:
            yield item, work(item)
        return
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor
    from itertools import islice

    with ThreadPoolExecutor(workers) as pool:
        waiting = iter(items)
        running = deque((item, pool.submit(work, item)) for item in islice(waiting, 2 * workers))
        try:
            while running:
                item, future = running.popleft()
                done = future.result()
                following = next(waiting, None)
                if following is not None:
                    running.append((following, pool.submit(work, following)))
                yield item, done
        finally:
            for _item, future in running:
                future.cancel()


def _account(photo: PhotoPlan, outcome: Outcome, manifest: ManifestLog, result: Result, log) -> None:
    for note in outcome.notes:
        log(note)
    for job, rel, size, sidecar, how in outcome.files:
        manifest.add({"key": job.key, "file": rel, "bytes": size, "sidecar": sidecar, "link": how,
                      "hash": photo.rec["hash"], "source": photo.label,
                      **({"derivative": True} if photo.rec["locations"][0].meta.get("derivative") else {})})
        result.add({None: "written", "hard": "linked", "symlink": "symlinked", "copy": "copied"}[how])
        if sidecar is not None and how is None:
            result.add("sidecars")
        if rel != job.rel:
            result.add("renamed_around_existing")
    if outcome.exif_set:
        result.add("exif_dates_set")
    if outcome.problem is not None:
        kind, line = outcome.problem
        result.add("vanished" if kind == "vanished" else "errors")
        log(line)


def describe_export(s: dict, dry_run: bool) -> str:
    others = [f"{s[k]} {what}" for k, what in (("linked", "hard links"), ("symlinked", "symlinks"),
                                                 ("copied", "copies")) if s.get(k)]
    skipped = [f"{s[k]} {what}" for k, what in (("skipped_trashed", "in the trash (--include-trashed exports them)"),
                                                ("skipped_absent", "with no file left at the last scan"),
                                                ("skipped_vanished", "whose file vanished or changed since"))
               if s.get(k)]
    return (f"{s['photos']} photo(s), {s['files']} file(s) into {s['out']} ({s['layout']} layout): "
            + (f"{s.get('would_write', 0)} would be written" if dry_run else f"{s['written']} written")
            + (f" (+ {', '.join(others)} for photos in several folders)" if others else "")
            + (f", {s['sidecars']} with an .xmp sidecar" if s.get("sidecars") else "")
            + f", {s['already_there']} already there"
            + (f"; skipped: {', '.join(skipped)}" if skipped else "")
            + f"; {s['errors']} error(s)"
            + (f"; {s['derivatives']} photo(s) are Apple Photos derivatives (smaller copies: the original is in "
               "iCloud only or not on this disk)" if s.get("derivatives") else "")
            + (f"; {s['renamed_around_existing']} named -2, -3, ... around files trove did not write"
               if s.get("renamed_around_existing") else ""))


def planned_files(plan: Plan, links: str = "hard"):
    """One dict per file of the plan (what `--dry-run` lists): the photo, where it is read from,
    the file and what would happen to it."""
    for photo in plan.photos:
        first = next((j for j in photo.jobs if j.there), None)
        for job in photo.jobs:
            if job.there:
                action = "already there"
            elif first is None:
                action, first = "write", job
            else:
                action = {"hard": "hard link", "symlink": "symlink", "copy": "copy"}[links] + f" of {first.rel}"
            yield {"photo": photo.rec["id"], "from": photo.label, "file": job.rel, "action": action,
                   "sidecar": bool(job.prior.get("sidecar")) if job.prior else photo.sidecar,
                   **({"derivative": True} if photo.rec["locations"][0].meta.get("derivative") else {})}


def export_selection(library, out: str, chosen, *, options: Options, show_progress: bool = True,
                     log: Callable[[str], None] = lambda m: None) -> tuple[dict, list[dict]]:
    """Export a selection (search/selection.Selection, or a function of the catalog making one)
    into `out`, which may lie neither inside the library nor inside any source. Returns the summary
    and, for a dry run, the files planned."""
    from ..ingest import Sources
    places = read_places(library)
    refuse_inside(out, places, "DIR")
    with library.reading("nothing to export yet (run `trove ingest ...` first)") as catalog, Sources(catalog) as sources:
        selection = chosen(catalog) if callable(chosen) else chosen
        summary, result = export_photos(catalog, sources, selection, out, options, show_progress=show_progress,
                                        keep_out_of=places, log=log)
    return summary, list(planned_files(result.plan, options.links)) if options.dry_run else []


def read_places(library) -> list[tuple[str, str]]:
    """(what, folder) of every place trove reads, the library and each source's root: an output
    folder must not be inside one."""
    roots = []
    if library.exists():
        with library.reading() as catalog:
            roots = [(f"source [{s['id']}]", s["root"]) for s in catalog.stats()["sources"]]
    return [("the library", str(library.root))] + roots
