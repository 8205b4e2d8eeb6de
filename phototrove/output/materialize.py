"""Photos as files any viewer opens: `trove open`, `--paths --materialize` and the gallery's "open"
links.

A photo present as a plain file is that file, returned as it is. One that lives only inside a Takeout
zip or tgz, or in a Lightroom preview cache (a level of a .lrprev, a root-pixels.db thumbnail, a
13.3+ cache's JPEG), is written once into `<library>/open/<hash[:16]>/<its original name>`
(Library.open_dir), and that copy is used from then on. Its bytes are the photo's, what the source
adapter streams (a preview with its orientation inserted), checked against the content hash as they
go out; they are written under a temporary name in the same folder and renamed, so a real name only
ever holds a complete copy. The folder is a cache: delete it at any time.
"""
from __future__ import annotations

import hashlib
import os
import re
import stat
import subprocess
import sys
import unicodedata
from pathlib import Path

from ..catalog import Catalog, location_label
from ..errors import EXIT_FILE_ERRORS, DiskFull, LibraryUnusable, TroveError, UsageError
from ..ingest import Sources, plain_file
from ..library import write_atomic
from ..media.kinds import media_for_name
from ..media.sniff import HEAD_BYTES, sniff
from .naming import safe_part
from .originals import original_name

CHUNK = 1 << 20
_SNIFFED = {"jpeg": ".jpg", "heif": ".heic", "tiff": ".tif", "raw": ""}   # format -> extension
_NUMBERED = re.compile(r"\(\d+\)$")   # Takeout's `IMG(1).jpg`


class Unopenable(TroveError):
    """No present copy of the photo can be read now (its source vanished or changed since ingest):
    a file that failed, exit 1."""

    exit_code = EXIT_FILE_ERRORS


class _SourceProblem(Exception):
    """One location that cannot give the photo's bytes now; the next one is tried."""


# -- one photo ----------------------------------------------------------------------------------------
def materialize(library, catalog: Catalog, photo_id: int, *, sources: Sources | None = None) -> Path:
    """The photo as a real file anyone can open: a present plain file as it is, else its copy in
    `<library>/open/` (written now if there is none). Unopenable when no present copy can be read;
    LibraryUnusable (or DiskFull) when the copy cannot be written."""
    if sources is not None:
        return _materialize(library, catalog, photo_id, sources)
    with Sources(catalog) as own:
        return _materialize(library, catalog, photo_id, own)


def _materialize(library, catalog: Catalog, photo_id: int, sources: Sources) -> Path:
    if not catalog.hashes_by_id([photo_id]):
        raise UsageError(f"photo {photo_id}: not in the catalog (see `trove list`)")
    rec = catalog.photo_record(photo_id)
    kinds = {loc["source_id"]: loc["source"] for loc in rec["locations"]}
    locs = catalog.present_locations(photo_id)
    who = f"photo {photo_id} ({rec['label'] or rec['hash'][:12]})"
    if not locs:
        raise Unopenable(f"{who}: no copy of it is present any more (its sources are gone since they were ingested)")
    problems = []
    for loc in locs:
        if plain_file(kinds.get(loc.source_id, "?"), loc.entry):
            why = plain_problem(loc)
            if why is None:
                return Path(loc.path)
            problems.append(f"{loc.path}: {why}")
    cached = library.opened(rec["hash"], rec["size"])
    if cached is not None:
        return cached
    for loc in locs:
        kind = kinds.get(loc.source_id, "?")
        if plain_file(kind, loc.entry):
            continue
        source = sources.of(loc.source_id)
        if source is None:
            problems.append(f"{location_label(loc.path, loc.entry)}: a kind of source this trove cannot read")
            continue
        try:
            return _write_copy(library, rec, source, loc, kind)
        except _SourceProblem as e:
            problems.append(f"{location_label(loc.path, loc.entry)}: {e}")
    raise Unopenable(f"{who}: no copy of it can be read now (moved, changed or deleted since it was ingested?): "
                     + "; ".join(problems))


def plain_problem(loc) -> str | None:
    """Why a plain file cannot be given as the photo now; None: it can."""
    try:
        st = os.stat(loc.path)
    except OSError as e:
        return e.strerror or str(e)
    if not stat.S_ISREG(st.st_mode):
        return "no longer a regular file"
    if (loc.size is not None and st.st_size != loc.size) or (loc.mtime_ns is not None and st.st_mtime_ns != loc.mtime_ns):
        return "changed since it was ingested"
    return None


def _write_copy(library, rec: dict, source, loc, kind: str) -> Path:
    try:
        stream = source.open(loc)
    except (OSError, EOFError, ValueError) as e:
        raise _SourceProblem(_reason(e)) from None
    with stream:
        head = _read(stream)
        path = library.open_dir / rec["hash"][:16] / open_name(rec, loc, kind, head)
        digest, total = hashlib.sha256(head), len(head)

        def write(out) -> None:
            nonlocal total
            chunk = head
            while chunk:
                out.write(chunk)
                chunk = _read(stream)
                digest.update(chunk)
                total += len(chunk)
            if total != rec["size"] or digest.hexdigest() != rec["hash"]:
                raise _SourceProblem("it holds other bytes than when it was ingested")

        try:
            return write_atomic(path, write)
        except (_SourceProblem, DiskFull):
            raise
        except OSError as e:
            raise LibraryUnusable(f"cannot write into {library.open_dir} ({e.strerror or e}): opening a photo from an "
                                  "archive or a cache needs a writable library") from None


def _read(stream) -> bytes:
    try:
        return stream.read(CHUNK)
    except (OSError, EOFError, ValueError) as e:   # archive members raise their own kinds
        raise _SourceProblem(_reason(e)) from None


def _reason(e: BaseException) -> str:
    return getattr(e, "strerror", None) or str(e) or type(e).__name__


# -- names --------------------------------------------------------------------------------------------
def open_name(rec: dict, loc, kind: str, head: bytes) -> str:
    """The copy's file name, after the original: a Lightroom photo by its original file's stem (a
    virtual copy's name added) with .jpg, as `recover` names it, or its preview UUID without a
    catalog; a Takeout photo by its title (the name it was uploaded under) when the member carries
    that name (clipped, numbered `(1)`), else by the member's own name (an `-edited` copy); always
    with the extension of what the bytes are. Made safe for any file system (naming.safe_part)."""
    if kind == "lrprev":   # named exactly as export and recover name it
        stem, ext, _original_ext = original_name(kind, loc, None)
        return _named(stem, ext)
    member = os.path.basename((loc.entry or loc.path).replace("\\", "/"))
    title = ((rec.get("meta") or {}).get("takeout") or {}).get("title")
    name = title if isinstance(title, str) and _carries(member, title) else member
    ext = _ext(member) or _ext(name) or _sniffed(head)
    return _named(name[:len(name) - len(_ext(name))] if _ext(name) else name, ext)


def _carries(member: str, title: str) -> bool:
    """Whether the member is named as the title: Google clips long names, numbers repeats `(1)` and
    writes characters a file name cannot hold as `_`."""
    m = unicodedata.normalize("NFC", member).casefold()
    stem = _NUMBERED.sub("", m[:len(m) - len(_ext(m))] if _ext(m) else m)
    return bool(stem) and safe_part(unicodedata.normalize("NFC", title).casefold()).startswith(stem)


def _ext(name: str) -> str:
    """The name's extension when it is one of a photo, RAW or video; else ''."""
    return os.path.splitext(name)[1] if media_for_name(name) else ""


def _sniffed(head: bytes) -> str:
    media, fmt = sniff(head[:HEAD_BYTES])
    return "" if media is None else _SNIFFED.get(fmt, "." + fmt)


def _named(stem: str, ext: str) -> str:
    return safe_part(stem)[:200 - len(ext)] + ext


# -- many photos --------------------------------------------------------------------------------------
def materialize_many(library, catalog: Catalog, photo_ids) -> tuple[dict[int, Path], dict[int, str]]:
    """materialize() for each photo (one adapter per source for all): the files, and for the
    photos that could not be had the one-line reason. A library that cannot be written stops it."""
    files: dict[int, Path] = {}
    problems: dict[int, str] = {}
    with Sources(catalog) as sources:
        for pid in dict.fromkeys(photo_ids):
            try:
                files[pid] = _materialize(library, catalog, pid, sources)
            except (Unopenable, UsageError) as e:
                problems[pid] = str(e)
    return files, problems


# -- the system viewer --------------------------------------------------------------------------------
def viewer_program() -> str:
    """What opens a file with the user's default application here."""
    return "open" if sys.platform == "darwin" else "xdg-open"


def open_in_viewer(path: Path, *, wait: float = 2.0) -> None:
    """Hand the file to the system viewer (`xdg-open` on Linux and the BSDs, `open` on macOS,
    os.startfile on Windows). A missing program, or one that gives up at once, is a UsageError
    naming it; a viewer still running after `wait` seconds is left running on its own."""
    if sys.platform == "win32":
        try:
            os.startfile(str(path))   # type: ignore[attr-defined]
        except OSError as e:
            raise UsageError(f"Windows could not open {path} ({e.strerror or e}): open it yourself") from None
        return
    import shutil

    program = viewer_program()
    exe = shutil.which(program)
    if exe is None:
        hint = " (the xdg-utils package)" if program == "xdg-open" else ""
        raise UsageError(f"no `{program}` program here to open it with{hint}: open {path} yourself, or use --print")
    try:
        proc = subprocess.Popen([exe, str(path)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
    except OSError as e:
        raise UsageError(f"`{program}` could not be started ({e.strerror or e}): open {path} yourself") from None
    try:
        code = proc.wait(timeout=wait)
    except subprocess.TimeoutExpired:   # a viewer xdg-open runs in its place, still open: fine
        return
    if code != 0:
        raise UsageError(f"`{program}` could not open {path} (it exited with {code}): no application for this "
                         "kind of file? Open it yourself")
