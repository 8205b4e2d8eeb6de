"""The thumbnail cache: one upright JPEG per photo in <library>/thumbs, keyed by content hash, made once."""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

from ..catalog import Catalog, location_label
from ..media.thumbnail import THUMB_SIDE, decode_side, save_thumbnail, thumb_file  # THUMB_SIDE: also importable from here


# larger renditions (the web app's full view, a gallery's large view): a long side of one of these
RENDITION_SIDES = (640, 1024, 1600, 2048, 2560, 3840)


def thumb_path(library, digest: str, side: int = THUMB_SIDE) -> Path:
    return thumb_file(library.thumbs_dir, digest, side)


def rendition_side(wanted: int) -> int:
    """The cached size that serves a view `wanted` pixels wide: the smallest at least that big."""
    return next((s for s in RENDITION_SIDES if s >= wanted), RENDITION_SIDES[-1])


def ensure_rendition(library, catalog: Catalog, photo_id: int, side: int) -> tuple[Path | None, str | None]:
    """(an upright JPEG of the photo, `side` pixels on its long side at most, made once and kept in
    the thumbnail cache; None and why when no present copy decodes)."""
    paths, problems = ensure_thumbs(library, catalog, [photo_id], side=side, workers=1)
    return paths.get(photo_id), problems.get(photo_id)


def ensure_thumbs(library, catalog: Catalog, photo_ids, *, side: int = THUMB_SIDE, workers: int = 4,
                  show_progress: bool = False, log: Callable[[str], None] = lambda m: None
                  ) -> tuple[dict[int, Path | None], dict[int, str]]:
    """Thumbnail paths for the photos (None where no present copy could be decoded), and for those
    the reason, to show on their placeholder tile. With `side`, renditions that size (long side;
    a photo smaller than that keeps its own size). The embed stage made the THUMB_SIDE ones of a
    photo it embedded, from the decode it made for the model: those are found here, not decoded."""
    from ..ingest import Sources
    from ..progress import progress

    rows = catalog.hashes_by_id(photo_ids)
    out: dict[int, Path | None] = {}
    problems: dict[int, str] = {}
    missing = []
    thumbs_dir = library.thumbs_dir
    for pid in photo_ids:
        digest = rows.get(pid)
        if digest is None:
            out[pid], problems[pid] = None, "not in the catalog"
            continue
        path = thumb_file(thumbs_dir, digest, side)
        if os.path.exists(path):
            out[pid] = path
        else:
            missing.append((pid, path))
    if not missing:
        return out, problems
    where = catalog.present_locations_of([pid for pid, _path in missing])
    todo = [(pid, path, where[pid]) for pid, path in missing]
    kinds = catalog.media_of([pid for pid, _path, _locs in todo])
    dims = catalog.dimensions_of([pid for pid, _path, _locs in todo])
    adapters = Sources(catalog)
    sources = {loc.source_id: adapters.of(loc.source_id) for _pid, _path, locs in todo for loc in locs}

    def make(item):
        pid, path, locs = item
        short = decode_side(*dims.get(pid, (None, None)), side)   # decode no larger than the view needs
        return pid, _make_one(path, locs, sources, kinds.get(pid, "image"), side, short)

    try:
        with ThreadPoolExecutor(max(1, workers)) as pool, \
                progress(total=len(todo), desc="thumbnails" if side == THUMB_SIDE else f"{side}-px views", unit="photo",
                         enabled=show_progress) as bar:
            for pid, (path, problem) in pool.map(make, todo):
                out[pid] = path
                bar.update()
                if problem:
                    problems[pid] = problem
                    log(f"no thumbnail for photo {pid}: {problem}")
    finally:
        adapters.close()
    return out, problems


def _make_one(path: Path, locs, sources, media: str, side: int = THUMB_SIDE, min_side: int | None = None
              ) -> tuple[Path | None, str | None]:
    from ..ingest.pixels import location_image

    problem = "no present copy"
    for loc in locs:
        source = sources.get(loc.source_id)
        if source is None:
            continue
        try:
            image = location_image(source, loc, media, min_side=min_side or side)  # upright: orientation applied
        except Exception as e:  # whatever a decoder makes of odd bytes: this photo gets a placeholder
            problem = f"{location_label(loc.path, loc.entry)}: {e}"
            continue
        return save_thumbnail(image, path, side), None
    return None, problem
