"""Static HTML pages: a gallery (search results or the library) with a lightbox and precomputed
"more like this", and a duplicates report. One self-contained file each: thumbnails are inlined as
data: URIs, CSS and JS are inlined, nothing is fetched, so the page works from file:// offline.

Everything that comes from files (names, paths, titles, keywords, albums) is escaped: server-side with
html.escape, and the lightbox script only ever assigns textContent. A Content-Security-Policy that
allows just this page's own script (by hash) backs that up.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import html
import json
import os
import re
from datetime import datetime
from pathlib import Path
from typing import Callable
from urllib.parse import quote_from_bytes

from ..catalog import Catalog, duration_text, location_label, photo_flags
from ..ingest import plain_file
from ..library import write_atomic
from .index import ChromaIndex
from .thumbs import ensure_thumbs

TEMPLATES = Path(__file__).with_name("templates")


# -- what a result shows ------------------------------------------------------------------------------
def hit_summary(rec: dict) -> dict:
    """Display fields of a photo record (catalog.photo_record)."""
    present = [loc for loc in rec["locations"] if loc["state"] == "ok"] or rec["locations"]
    shown = [loc.get("label") or location_label(loc["path"], loc.get("entry")) for loc in present]
    plain = [loc["path"] for loc in present if plain_file(loc["source"], loc.get("entry"))]
    place = f"{rec['lat']:.5f}, {rec['lon']:.5f}" if rec.get("lat") is not None and rec.get("lon") is not None else None
    return {
        "id": rec["id"], "hash": rec["hash"], "date": _date(rec.get("taken_at")), "taken_at": rec.get("taken_at"),
        "where": where_label(rec, present), "shown_path": shown[0] if shown else "",
        "open_path": plain[0] if plain else (shown[0] if shown else ""), "files": plain,   # files: the plain ones
        "paths": shown, "albums": rec["albums"], "keywords": rec["keywords"], "people": rec.get("people", []),
        "camera": rec.get("camera"), "lens": rec.get("lens"), "place": place, "rating": rec.get("rating"),
        "favorite": bool(rec.get("favorite")), "title": rec.get("title"), "description": rec.get("description"),
        "size": rec.get("size"), "width": rec.get("width"), "height": rec.get("height"),
        "flags": photo_flags(rec), "media": rec.get("media"), "duration": rec.get("duration"),
        "stack_size": rec.get("stack_size"), "name": display_name(rec, shown[0] if shown else ""),
        "exposure": exposure_text(rec.get("meta") or {}), "map": map_link(rec.get("lat"), rec.get("lon")),
        "zone": rec.get("utc_offset"), "tags": [t["name"] for t in rec.get("tags", [])],
        **({"match": rec["match"]} if "match" in rec else {}),
    }


def display_name(rec: dict, shown: str) -> str:
    """The name its owner knows the photo by: a Takeout photo's sidecar title (the name it was
    uploaded with), a Lightroom photo's original file name, else the file's own name."""
    title = (rec.get("meta") or {}).get("takeout", {}).get("title")
    if isinstance(title, str) and title.strip() and "/" not in title:
        return title.strip()
    return os.path.basename(shown.replace("\\", "/")) or rec["hash"][:12]


def exposure_text(meta: dict) -> str | None:
    """`1/250 s · f/2.8 · 50 mm · ISO 200`, from the first origin that recorded an exposure."""
    from ..media.exif_write import exposure_fraction

    for values in meta.values():
        if not isinstance(values, dict) or not any(k in values for k in ("shutter", "aperture", "iso")):
            continue
        parts = []
        shutter = values.get("shutter")
        if isinstance(shutter, (int, float)) and shutter > 0:
            f = exposure_fraction(float(shutter))
            parts.append(f"{f.numerator}/{f.denominator} s" if f is not None and f.numerator == 1 and f.denominator > 1
                         else f"{float(shutter):g} s")
        for key, fmt in (("aperture", "f/{:g}"), ("focal_length", "{:g} mm"), ("iso", "ISO {}")):
            v = values.get(key)
            if isinstance(v, (int, float)) and v > 0:
                parts.append(fmt.format(round(v, 1) if key != "iso" else int(v)))
        return " · ".join(parts) or None
    return None


def map_link(lat, lon) -> str | None:
    """An OpenStreetMap link to the place (a link the user may follow; nothing is fetched)."""
    if lat is None or lon is None:
        return None
    return f"https://www.openstreetmap.org/?mlat={lat:.6f}&mlon={lon:.6f}#map=15/{lat:.5f}/{lon:.5f}"


def where_label(rec: dict, present: list[dict]) -> str:
    """Where a photo lives, as its owner would say it: a Lightroom photo's folder in the catalog;
    else its album, else the folder it sits in (the Takeout year folder inside the archive), never a
    cache's shard folder."""
    loc = present[0] if present else None
    if loc is not None and loc["source"] == "lrprev":   # the folder in Lightroom, whatever collections hold it
        original = (rec.get("meta", {}).get("lrcat") or {}).get("original_path")
        if original:
            return os.path.basename(os.path.dirname(original.replace("\\", "/")))
    if rec["albums"]:
        return rec["albums"][0] + (f" +{len(rec['albums']) - 1}" if len(rec["albums"]) > 1 else "")
    if loc is None:
        return ""
    if loc["source"] == "lrprev":
        return "Lightroom"
    inside = loc.get("entry") or loc["path"]
    return os.path.basename(os.path.dirname(inside.replace("\\", "/"))) or os.path.basename(loc["path"])


def _date(taken_at: str | None) -> str | None:
    if not taken_at:
        return None
    return taken_at[:16].replace("T", " ")


def _human(n: int | None) -> str:
    if n is None:
        return "?"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


# -- choosing the library gallery's photos ------------------------------------------------------------
def filtered_photo_ids(catalog: Catalog, filters, limit: int) -> list[int]:
    """Present photos, newest first, as a search's filters select them (on the catalog: no index needed)."""
    from .index import SearchError
    from .selection import newest_first

    if not filters.given():
        return catalog.newest_present_images(limit, include_trashed=filters.include_trashed,
                                             covers_only=filters.stacks)
    chosen = newest_first(catalog, filters, gallery=True)[0][:limit]
    if not chosen:
        raise SearchError(filters.nothing_matches())
    return chosen


# -- the gallery --------------------------------------------------------------------------------------
INLINE_MAX = 500     # photos a page inlines its thumbnails for; a bigger page links them as files, loaded lazily
LARGE_SIDE = 1600    # the lightbox's rendition (long side, pixels)
# what every browser shows in an <img>, by the format the read stage found in the bytes (Pillow's
# names, as the catalog records them; MPO: a JPEG with more pictures appended, such as a depth map)
BROWSER_FORMATS = frozenset({"JPEG", "MPO", "PNG", "GIF", "WEBP"})


class PageFiles:
    """Where a page's pictures go: inlined as data: URIs, or files in `<page>_files/` beside it
    (hard links to the thumbnail cache where the disk allows), referred to relatively so the page
    and its folder can be moved or zipped together."""

    def __init__(self, out: Path, inline: bool):
        self.dir, self.inline, self.used = out.with_name(out.stem + "_files"), inline, set()
        self.made: list[Path] = []   # files this page added (removed again if the page is not written)
        self._there: set[str] | None = None   # the folder's files (listed once, not a stat per picture)

    def src(self, path: Path | None, *, inline: bool | None = None) -> str | None:
        from urllib.parse import quote

        if path is None:
            return None
        if self.inline if inline is None else inline:
            return _data_uri(path)
        if self._there is None:
            try:
                self._there = set(os.listdir(self.dir))
            except OSError:   # not there yet
                self._there = set()
        name = path.name
        if name not in self._there:
            dest = self.dir / name
            self.dir.mkdir(parents=True, exist_ok=True)
            try:
                os.link(path, dest)
            except FileExistsError:   # made since the folder was listed
                pass
            except OSError:   # another disk, or no hard links there: a copy
                write_atomic(dest, lambda f: f.write(path.read_bytes()))
                self.made.append(dest)
            else:
                self.made.append(dest)
            self._there.add(name)
        self.used.add(name)
        return quote(self.dir.name) + "/" + quote(name)

    def abandon(self) -> None:
        """The page could not be written (a full disk): take back what was added for it."""
        for f in self.made:
            f.unlink(missing_ok=True)
        try:
            self.dir.rmdir()
        except OSError:   # not there, or an earlier page's pictures are in it
            pass

    def prune(self) -> None:
        """Remove the pictures an earlier page of the same name used and this one does not."""
        if self.dir.is_dir():
            for f in self.dir.iterdir():
                if f.name not in self.used and f.suffix == ".jpg":
                    f.unlink(missing_ok=True)


def write_gallery(library, catalog: Catalog, index: ChromaIndex, col, model_id: str | None, out, *, title: str,
                  hits: list[tuple[int, float | None]], k: int = 6, show_progress: bool = False,
                  include_trashed: bool = False, self_contained: bool = False, large: int | None = LARGE_SIDE,
                  log: Callable[[str], None] = lambda m: None) -> Path:
    """A gallery of `hits`: tiles (by month when they are not ranked by a score), a lightbox with a
    `large`-pixel rendition, the metadata, and each photo's k nearest neighbours. Up to INLINE_MAX
    photos the thumbnails are inlined; the renditions are files beside the page unless
    `self_contained` (then everything is inlined: one file, larger)."""
    from .query import neighbours as nearest

    out = Path(out)
    ids = [pid for pid, _ in hits]
    near = nearest(catalog, index, col, ids, model_id, k, include_trashed) if col is not None and ids else {}
    own = set(ids)
    extra = list(dict.fromkeys(n for pid in ids for n, _ in near.get(pid, []) if n not in own))
    files = PageFiles(out, self_contained or len(ids) + len(extra) <= INLINE_MAX)
    try:
        page = _gallery_page(library, catalog, out, files, model_id, title=title, hits=hits, ids=ids, extra=extra,
                             near=near, self_contained=self_contained, large=large, show_progress=show_progress,
                             log=log)
    except BaseException:
        files.abandon()
        raise
    files.prune()
    return page


def _gallery_page(library, catalog: Catalog, out: Path, files: PageFiles, model_id: str | None, *, title: str,
                  hits, ids, extra, near, self_contained: bool, large: int | None, show_progress: bool, log) -> Path:
    from .thumbs import ensure_thumbs

    thumbs, problems = ensure_thumbs(library, catalog, ids + extra, log=log, show_progress=show_progress)
    uris = {pid: files.src(p) for pid, p in thumbs.items()}
    recs = catalog.photo_records(ids + extra)
    records = {pid: hit_summary(rec) for pid, rec in recs.items()}
    # the page's own photos get a large view; a neighbour shown only through "more like this" keeps its thumbnail
    bigs = _large_views(library, catalog, files, ids, recs, records, side=large, self_contained=self_contained,
                        show_progress=show_progress, log=log) if large else {}
    scores = dict(hits)
    ranked = any(score is not None for score in scores.values())

    tiles, month = [], None
    for rank, pid in enumerate(ids, 1):
        s = records[pid]
        if not ranked and _month(s["taken_at"]) != month:
            month = _month(s["taken_at"])
            tiles.append(f'<h2 class="month">{_e(month)}</h2>')
        score = scores.get(pid)
        caption = [f'<span class="score">{score:.3f}</span>' if score is not None else "",
                   f'<span class="date">{_e(s["date"] or "")}</span>',
                   f'<span class="name">{_e(s["name"])}</span>'] + \
            [f'<span class="flag">{_e(f)}</span>' for f in s["flags"]] + \
            ([f'<span class="video">▶ {duration_text(s["duration"]) or "video"}</span>'] if s["media"] == "video" else []) + \
            ([f'<span class="stack">{s["stack_size"]} in stack</span>'] if (s["stack_size"] or 0) > 1 else [])
        tiles.append(
            f'<figure class="tile" id="p{pid}" data-id="{pid}">'
            f'<a href="#photo-{pid}" title="{_e(s["name"] + (" — " + s["where"] if s["where"] else ""))}">'
            f'{_img(uris.get(pid), s["name"], problems.get(pid), lazy=not files.inline)}</a>'
            f'<figcaption>{"".join(caption)}</figcaption></figure>')
    data = {
        "photos": {str(pid): {**_lightbox_fields(records[pid], library), "score": scores.get(pid),
                              **({"thumb": uris.get(pid)} if pid not in scores else {}),
                              **({"large": bigs[pid]} if bigs.get(pid) else {})}
                   for pid in ids + extra},
        "near": {str(pid): [[n, round(sc, 4)] for n, sc in near.get(pid, [])] for pid in ids},
        "order": ids,
    }
    subtitle = f"{len(ids)} photo(s)" + (f" · model {model_id}" if model_id else "") + \
        f" · made {datetime.now().strftime('%Y-%m-%d %H:%M')}"
    body = f'<main class="grid">{"".join(tiles)}</main>' if tiles else '<p class="empty">No photos.</p>'
    return _write_page(out, title=title, subtitle=subtitle, body=body, data=data)


def _large_views(library, catalog: Catalog, files: PageFiles, ids: list[int], recs: dict[int, dict],
                 summaries: dict[int, dict], *, side: int, self_contained: bool, show_progress: bool,
                 log: Callable[[str], None]) -> dict[int, str]:
    """Each page photo's lightbox picture, decoding only what nothing else can show: a rendition of
    that size already in the cache (`trove serve`'s, an earlier page's); else the original itself,
    a file any browser shows (the page falls back to the thumbnail should it have moved); else a
    rendition made now, on a page of up to INLINE_MAX photos. A bigger page would decode thousands
    of archive members and RAWs: those keep their thumbnail, and `trove serve` shows them full size.
    A `self_contained` page must not point outside itself: it inlines renditions of every photo."""
    from .thumbs import ensure_thumbs, thumb_path   # looked up when called (bench/serve.py times them)

    views: dict[int, str] = {}
    todo = []
    for pid in ids:
        cached = thumb_path(library, recs[pid]["hash"], side)
        if os.path.exists(cached):
            views[pid] = files.src(cached, inline=self_contained)
        elif not self_contained and (original := _original_view(summaries[pid], recs[pid])):
            views[pid] = original
        else:
            todo.append(pid)
    if todo and (self_contained or len(ids) <= INLINE_MAX):
        made = ensure_thumbs(library, catalog, todo, side=side, log=log, show_progress=show_progress)[0]
        views.update({pid: files.src(path, inline=self_contained) for pid, path in made.items() if path})
    elif todo:
        log(f"{len(todo)} photo(s) show only their thumbnail in the lightbox: not files a browser shows as they "
            "are (archive members, Lightroom previews, HEIC, RAW, TIFF, video), and a page of over "
            f"{INLINE_MAX} photos decodes none; `trove serve` shows them full size")
    return views


def _original_view(s: dict, rec: dict) -> str | None:
    """The original's file:// URI when a browser can show that file as it is: a plain file (not an
    archive member or a cache's preview) whose bytes are in one of BROWSER_FORMATS (by what the
    read stage found in them: a HEIC named .jpg is not one; browsers turn a JPEG by its EXIF)."""
    if rec.get("media") != "image" or str(rec.get("format") or "").upper() not in BROWSER_FORMATS:
        return None
    original = _plain_original(s)
    return file_uri(original) if original else None


def _month(taken_at: str | None) -> str:
    return _month_name(taken_at[:7]) if taken_at else "No date"


@functools.lru_cache(maxsize=4096)
def _month_name(year_month: str) -> str:
    try:
        return datetime.strptime(year_month, "%Y-%m").strftime("%B %Y")
    except ValueError:
        return "No date"


def metadata_rows(s: dict, *, full_hash: bool = False) -> list[list[str]]:
    """A photo's metadata (hit_summary) as the labelled rows a lightbox or the app's full view shows."""
    rows = [("date", s["taken_at"] and (s["taken_at"].replace("T", " ") + (f" (UTC{s['zone']})" if s["zone"] else ""))),
            ("place", s["place"]), ("camera", s["camera"]), ("lens", s["lens"]), ("exposure", s["exposure"]),
            ("title", s["title"]), ("description", s["description"]),
            ("albums", ", ".join(s["albums"])), ("keywords", ", ".join(s["keywords"])),
            ("auto tags", ", ".join(s["tags"])), ("people", ", ".join(s["people"])),
            ("rating", "★" * s["rating"] if s["rating"] else None), ("favorite", "yes" if s["favorite"] else None),
            ("state", ", ".join(s["flags"])), ("duration", duration_text(s["duration"])),
            ("stack", f"{s['stack_size']} photos (RAW+JPEG, edits or a burst)" if (s["stack_size"] or 0) > 1 else None),
            ("size", f"{s['width']}×{s['height']}, {_human(s['size'])}" if s["width"] else _human(s["size"])),
            ("hash", s["hash"] if full_hash else s["hash"][:16])]
    return [[k, str(v)] for k, v in rows if v]


def _lightbox_fields(s: dict, library) -> dict:
    return {"name": s["name"], "folder": s["where"], "date": s["date"], "map": s["map"],
            "meta": metadata_rows(s), "paths": s["paths"], **_open_link(s, library)}


def _open_link(s: dict, library) -> dict:
    """The lightbox's "open" link: a plain file itself; for a photo inside an archive or a cache, its
    copy in <library>/open/ when one was written (`trove open`, `--materialize`); else none."""
    original = _plain_original(s)
    if original is not None:
        uri = file_uri(original)
        return {"open": uri, "open_copy": False} if uri else {"open": None}
    copy = None if s["files"] else library.opened(s["hash"], s["size"])
    uri = file_uri(os.path.abspath(copy)) if copy else None
    return {"open": uri, "open_copy": True} if uri else {"open": None}


def _plain_original(s: dict) -> str | None:
    """The photo's own file on disk (hit_summary's open_path when it is one of its plain files)."""
    return s["open_path"] if s["open_path"] in s["files"] and os.path.isabs(s["open_path"]) else None


def file_uri(path: str) -> str | None:
    """A file:// URI naming exactly this absolute path, or None when none can (a relative path, a
    Windows name with an unpaired surrogate). On POSIX every byte of the name is kept, percent-encoded
    (spaces, #, ?, %, a backslash, names that are not UTF-8: os.fsencode gives the surrogateescape'd
    bytes back), whatever this Python's Path.as_uri makes of them."""
    if not path or not os.path.isabs(path):
        return None
    try:
        if os.name == "nt":
            return Path(path).as_uri()
        return "file://" + quote_from_bytes(os.fsencode(path), safe="/")
    except (ValueError, UnicodeError):
        return None


# -- duplicates ---------------------------------------------------------------------------------------
def write_duplicates(library, catalog: Catalog, out, groups: list[dict], *, threshold: float,
                     show_progress: bool = False, log: Callable[[str], None] = lambda m: None) -> Path:
    ids = [p["id"] for g in groups for p in g["photos"]]
    thumbs, problems = ensure_thumbs(library, catalog, ids, log=log, show_progress=show_progress)
    uris = {pid: _data_uri(p) for pid, p in thumbs.items()}
    sections = []
    for n, g in enumerate(groups, 1):
        members = []
        for p in g["photos"]:
            locs = "".join(f"<li>{_e(loc)}</li>" for loc in p["locations"])
            dims = f'{p["width"]}×{p["height"]}, ' if p["width"] else ""
            members.append(
                f'<figure class="tile dup" id="p{p["id"]}">{_img(uris.get(p["id"]), p["hash"][:12], problems.get(p["id"]))}'
                f'<figcaption><span class="size">{dims}{_human(p["size"])}</span> '
                f'<span class="date">{_e(_date(p["taken_at"]) or "")}</span><ul class="locs">{locs}</ul>'
                f'</figcaption></figure>')
        copies = sum(len(p["locations"]) for p in g["photos"])
        sections.append(
            f'<section class="group"><h2>{n}. {_e(g["kind"])}: {len(g["photos"])} photo(s) in {copies} place(s), '
            f'{_human(g["bytes"])}, {_human(g["reclaimable"])} reclaimable</h2>'
            f'<div class="grid">{"".join(members)}</div></section>')
    subtitle = (f"{len(groups)} group(s) · near-duplicates at cosine similarity ≥ {threshold:g} · "
                f"made {datetime.now().strftime('%Y-%m-%d %H:%M')}")
    body = "".join(sections) or '<p class="empty">No duplicates found.</p>'
    return _write_page(out, title="phototrove: duplicates", subtitle=subtitle, body=body, data={"photos": {}, "near": {}})


# -- page assembly ------------------------------------------------------------------------------------
def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _img(uri: str | None, alt: str, problem: str | None = None, lazy: bool = False) -> str:
    if uri is None:
        why = f'<br><small class="why">{_e(problem)}</small>' if problem else ""
        return f'<div class="nothumb" title="{_e(problem or "")}">{_e(alt)}<br>(no preview){why}</div>'
    return f'<img src="{uri}" alt="{_e(alt)}"' + (' loading="lazy" decoding="async">' if lazy else ">")


def _data_uri(path: Path | None) -> str | None:
    if path is None:
        return None
    return "data:image/jpeg;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _write_page(out, *, title: str, subtitle: str, body: str, data: dict) -> Path:
    css = (TEMPLATES / "report.css").read_text(encoding="utf-8")
    js = (TEMPLATES / "report.js").read_text(encoding="utf-8")
    page = (TEMPLATES / "page.html").read_text(encoding="utf-8")
    # JSON inside <script>: ensure_ascii plus escaped <, >, & cannot close the element or start markup
    blob = json.dumps(data, ensure_ascii=True, separators=(",", ":")).replace("<", "\\u003c") \
        .replace(">", "\\u003e").replace("&", "\\u0026")
    script_hash = base64.b64encode(hashlib.sha256(js.encode("utf-8")).digest()).decode("ascii")
    values = {"TITLE": _e(title), "SUBTITLE": _e(subtitle), "CSS": css, "SCRIPT_HASH": script_hash,
              "BODY": body, "DATA": blob, "JS": js}
    page = re.sub(r"\{\{([A-Z_]+)\}\}", lambda m: values[m.group(1)], page)  # one pass: values are never re-scanned
    data = page.encode("utf-8", errors="backslashreplace")  # names that are not UTF-8 stay readable
    return write_atomic(out, lambda f: f.write(data))


# -- the commands -------------------------------------------------------------------------------------
def results_gallery(library, results, out, *, show_progress: bool = False, self_contained: bool = False,
                    log: Callable[[str], None] = lambda m: None) -> Path:
    """A gallery of a search's or similar's results (query.Results)."""
    return write_gallery(library, results.catalog, results.index, results.col, results.model_id, out,
                         title=results.title, hits=[(h.photo_id, h.score) for h in results.hits],
                         show_progress=show_progress, include_trashed=results.include_trashed,
                         self_contained=self_contained, log=log)


def library_gallery(library, catalog: Catalog, *, filters, limit: int, model: str | None, out=None,
                    chroma_url: str | None = None, show_progress: bool = False, self_contained: bool = False,
                    log: Callable[[str], None] = lambda m: None) -> Path:
    """`trove report`: the library (or what the filters select), newest first."""
    from .query import open_collection, pick_model

    index = ChromaIndex(library, url=chroma_url, readonly=True)
    col = model_id = None
    if catalog.embedding_models():
        model_id, _spec = pick_model(catalog, index, model)
        col = open_collection(catalog, index, model_id)
    ids = filtered_photo_ids(catalog, filters, limit)
    return write_gallery(library, catalog, index, col, model_id, out or library.root / "reports" / "gallery.html",
                         title="phototrove", hits=[(pid, None) for pid in ids], show_progress=show_progress,
                         include_trashed=filters.include_trashed or filters.trashed, self_contained=self_contained,
                         log=log)


def duplicates_report(library, catalog: Catalog, *, threshold: float, model: str | None, out=None,
                      chroma_url: str | None = None, show_progress: bool = False, include_trashed: bool = False,
                      log: Callable[[str], None] = lambda m: None) -> tuple[list[dict], Path]:
    """`trove report duplicates`: the groups, and the page showing them."""
    from .duplicates import find_duplicates   # every pair compared exactly
    from .query import open_collection, pick_model

    index = ChromaIndex(library, url=chroma_url, readonly=True)
    model_id, _spec = pick_model(catalog, index, model)
    col = open_collection(catalog, index, model_id)
    groups = find_duplicates(catalog, index, col, model_id, threshold, show_progress=show_progress,
                             include_trashed=include_trashed)
    path = write_duplicates(library, catalog, out or library.root / "reports" / "duplicates.html",
                            groups, threshold=threshold, show_progress=show_progress, log=log)
    return groups, path
