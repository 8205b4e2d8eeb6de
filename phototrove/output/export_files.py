"""Writing one photo of an export: its first file from the first of its places that still holds
it as the catalog knows it, with what trove knows written in (jpeg_edit.py, an `.xmp` sidecar, a
Lightroom preview's segments as `recover` writes them), then its other folders as links to it.
Runs on worker threads: everything it has to say comes back in an Outcome, for the one thread that
writes the manifest and the messages."""
from __future__ import annotations

import errno
import os
from dataclasses import dataclass, field

from ..errors import is_disk_full
from ..media.jpeg import JpegError, jpeg_size, metadata_prefix
from .export_plan import SIDECAR, Job, PhotoPlan
from .jpeg_edit import edit_header, read_header
from .mtime import capture_mtime
from .source_bytes import SourceProblem, open_content
from .writer import Writer
from .xmp import fitting_xmp

# errors of the output folder itself: no point trying the next photo
_FATAL = (errno.EROFS, errno.EACCES)


@dataclass
class Options:
    layout: str = "album"
    links: str = "hard"       # how a photo's further copies are made: hard (else copy), symlink, copy
    metadata: bool = True     # False: the bytes as they are (the mtime still set)
    dry_run: bool = False
    workers: int = 4          # photos written at once


@dataclass
class Outcome:
    files: list[tuple[Job, str, int, str | None, str | None]] = field(default_factory=list)
    # (job, the name it got, its size, its sidecar's name, how it was linked: None when written)
    problem: tuple[str, str] | None = None   # ("vanished" | "error", the line to say)
    notes: list[str] = field(default_factory=list)
    exif_set: bool = False                   # a camera date trove knows better was patched in


def write_photo(photo: PhotoPlan, out: str, writer: Writer, sources, options: Options) -> Outcome:
    """The photo's files still missing: the first from the source (unless an earlier run's file of
    it is still whole: then every one links to that), the others as links to it. A full disk, or an
    output folder that cannot be written, is raised; anything else is the photo's Outcome."""
    outcome = Outcome()
    todo = photo.todo
    source = next((j for j in photo.jobs if j.there and _whole(out, j)), None)
    try:
        if source is None:
            first = todo.pop(0)
            rel, size, sidecar = _from_source(photo, first, writer, sources, options, outcome)
            outcome.files.append((first, rel, size, sidecar, None))
            source_rel, source_sidecar = rel, sidecar is not None
        else:
            source_rel, source_sidecar = source.rel, source.prior.get("sidecar") is not None
        for job in todo:
            rel, how = writer.link(source_rel, job.rel, options.links, (SIDECAR,) if source_sidecar else ())
            size = os.path.getsize(os.path.join(out, *rel.split("/")))
            outcome.files.append((job, rel, size, rel + SIDECAR if source_sidecar else None, how))
    except SourceProblem as e:
        outcome.problem = (e.kind, f"{'skipped' if e.kind == 'vanished' else 'error'}: {photo.label}: {e.reason}")
    except OSError as e:
        if is_disk_full(e) or e.errno in _FATAL:
            raise
        outcome.problem = ("error", f"error: {photo.label}: {e.strerror or e}")
    return outcome


def _whole(out: str, job: Job) -> bool:
    """Whether an earlier run's file is still the one it wrote (its size says so)."""
    try:
        return os.path.getsize(os.path.join(out, *job.rel.split("/"))) == job.prior.get("bytes")
    except OSError:
        return False


def _from_source(photo: PhotoPlan, job: Job, writer: Writer, sources, options: Options,
                 outcome: Outcome) -> tuple[str, int, str | None]:
    """Write the photo's first file from the first of its locations that reads as the catalog knows
    it: (the name it got, its size, its sidecar's name or None)."""
    problems: list[SourceProblem] = []
    for loc, (kind, _root) in zip(photo.rec["locations"], photo.rec["sources"]):
        try:
            content = open_content(sources, loc, kind)
        except SourceProblem as e:
            problems.append(e)
            continue
        try:
            head, body, sidecar = _with_metadata(photo, kind, content, options, outcome)
            companions = {SIDECAR: sidecar} if sidecar is not None else None
            mtime = capture_mtime(photo.meta)
            rel = writer.write(job.rel, head, body, mtime, companions=companions)
        except SourceProblem as e:
            problems.append(e)
            continue
        finally:
            content.close()
        size = os.path.getsize(os.path.join(writer.out, *rel.split("/")))
        return rel, size, rel + SIDECAR if sidecar is not None else None
    vanished = all(p.kind == "vanished" for p in problems)
    where = "" if len(problems) == 1 else f" (and at its {len(problems) - 1} other place(s))"
    raise SourceProblem("vanished" if vanished else "error", problems[0].reason + where)


def _with_metadata(photo: PhotoPlan, kind: str, content, options: Options, outcome: Outcome):
    """(new leading bytes, the untouched rest, an .xmp sidecar or None) of the photo's file."""
    if not options.metadata:
        return b"", content.body(0, b""), None
    meta = photo.meta
    if kind == "lrprev":   # a preview, like `trove recover`: its level with EXIF, XMP and its profile
        from .recover import preview_segments

        data = content.data
        size = jpeg_size(data)
        try:
            head, rest = metadata_prefix(data, **preview_segments({**meta, "width": size[0], "height": size[1]}
                                                                  if size else meta))
        except JpegError as e:
            raise SourceProblem("error", f"the preview cannot be written: {e}") from None
        return head, content.body(len(data) - len(rest), b""), None
    buf = bytearray(content.first())
    if photo.jpeg and buf[:3] == b"\xff\xd8\xff":
        try:
            end = read_header(buf, content.more, content.data is not None)
            edited = edit_header(buf, end, meta)
        except JpegError as e:
            outcome.notes.append(f"note: {photo.label}: {e}: copied as it is, what trove knows beside it as .xmp")
            return b"", content.body(0, buf), fitting_xmp(meta, gps=True)
        outcome.exif_set = any(n.startswith("EXIF") for n in edited.notes)
        return edited.head, content.body(edited.rest, buf), edited.sidecar
    return b"", content.body(0, buf), fitting_xmp(meta, gps=True)
