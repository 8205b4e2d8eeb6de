"""The thumbnail cache: one upright JPEG per photo in <library>/thumbs, keyed by content hash, made once."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

from ..catalog import Catalog, location_label

THUMB_SIDE = 320  # long side, pixels: sharp on a 160-200 px grid tile at 2x, small enough to inline


def thumb_path(library, digest: str) -> Path:
    return library.thumbs_dir / digest[:2] / f"{digest}-{THUMB_SIDE}.jpg"


def ensure_thumbs(library, catalog: Catalog, photo_ids, *, workers: int = 4, show_progress: bool = False,
                  log: Callable[[str], None] = lambda m: None) -> tuple[dict[int, Path | None], dict[int, str]]:
    """Thumbnail paths for the photos (None where no present copy could be decoded), and for those
    the reason, to show on their placeholder tile."""
    from ..ingest import Sources
    from ..progress import progress

    rows = catalog.hashes_by_id(photo_ids)
    out: dict[int, Path | None] = {}
    problems: dict[int, str] = {}
    todo = []
    for pid in photo_ids:
        digest = rows.get(pid)
        if digest is None:
            out[pid], problems[pid] = None, "not in the catalog"
            continue
        path = thumb_path(library, digest)
        if path.exists():
            out[pid] = path
        else:
            todo.append((pid, path, catalog.present_locations(pid)))
    kinds = catalog.media_of([pid for pid, _path, _locs in todo])
    if not todo:
        return out, problems
    adapters = Sources(catalog)
    sources = {loc.source_id: adapters.of(loc.source_id) for _pid, _path, locs in todo for loc in locs}

    def make(item):
        pid, path, locs = item
        return pid, _make_one(path, locs, sources, kinds.get(pid, "image"))

    try:
        with ThreadPoolExecutor(max(1, workers)) as pool, \
                progress(total=len(todo), desc="thumbnails", unit="photo", enabled=show_progress) as bar:
            for pid, (path, problem) in pool.map(make, todo):
                out[pid] = path
                bar.update()
                if problem:
                    problems[pid] = problem
                    log(f"no thumbnail for photo {pid}: {problem}")
    finally:
        adapters.close()
    return out, problems


def _make_one(path: Path, locs, sources, media: str) -> tuple[Path | None, str | None]:
    from PIL import Image

    from ..ingest.pixels import location_image
    from ..library import write_atomic

    problem = "no present copy"
    for loc in locs:
        source = sources.get(loc.source_id)
        if source is None:
            continue
        try:
            image = location_image(source, loc, media, min_side=THUMB_SIDE)  # upright: orientation applied
            image.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.Resampling.LANCZOS)
        except Exception as e:  # whatever a decoder makes of odd bytes: this photo gets a placeholder
            problem = f"{location_label(loc.path, loc.entry)}: {e}"
            continue
        return write_atomic(path, lambda f: image.save(f, "JPEG", quality=75, optimize=True)), None
    return None, problem
