"""Which files stand for each asset of a Photos library, and what each is said to be.

Per asset: the original (rank 10); when it is not on this disk (in iCloud only, a referenced file
on a disk that is not plugged in, lost or empty) its largest local derivative instead, marked
`derivative`, under the same item identity, so a later run that finds the original moves the
location to it and the photo is replaced (as a Lightroom preview's is). Beside it: the current edit
(`resources/renders`), the other half of a RAW+JPEG pair and the live photo's video, each a location
of its own. The edit and the RAW share the asset's stack key, a burst's frames the burst's, so
they are shown once (ingest/stacks.py); the edit, or a burst's key frame, is the cover. A trashed
asset's locations rank after others: identical bytes kept by another asset are primary there, and
the trash flag stays per location.

Files in originals/ that no asset names (the database missing, unreadable or behind) are read
without metadata, their live videos and RAW halves still paired by UUID.
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field

from ...media.kinds import media_for_name
from . import layout
from .library import BURST_KEY, Asset, LibraryReadError, PhotosLibrary, load_library

DATABASE = os.path.join("database", "Photos.sqlite")
TRASH_RANK = 50   # added to a trashed asset's ranks


@dataclass
class Item:
    path: str
    size: int
    mtime_ns: int
    meta: dict
    albums: list = field(default_factory=list)
    rank: int = 10
    key: str | None = None


@dataclass
class Plan:
    root: str
    items: list[Item] = field(default_factory=list)
    pairs: list[tuple[str, str]] = field(default_factory=list)     # (live video, its still)
    notes: list[str] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)  # (path, message): worked around, said
    errors: list[tuple[str, str, str]] = field(default_factory=list)   # (path, kind, message)
    counts: dict[str, int] = field(default_factory=dict)
    library: PhotosLibrary | None = None

    def count(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    def report(self) -> dict:
        lib, s = self.library, self.library.schema if self.library else None
        return {"database": os.path.join(self.root, DATABASE), "read": lib is not None,
                "model_version": s.model if s else None, "photos_version": s.photos_version if s else None,
                "asset_table": s.asset if s else None, **self.counts,
                "skipped": sorted(set(lib.skipped)) if lib else [], "damaged": list(lib.damaged) if lib else []}


def _stat(path: str, plan: Plan) -> os.stat_result | None:
    """The file's stat; None when it is not there (or not a regular file: said)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as e:
        plan.errors.append((path, "unreadable", e.strerror or str(e)))
        return None
    if not stat.S_ISREG(st.st_mode):
        plan.errors.append((path, "not-a-file", "not a regular file"))
        return None
    return st


def _media(path: str, video: bool = False) -> str:
    return media_for_name(os.path.basename(path)) or ("video" if video else "image")


def _with_media(meta: dict, path: str, video: bool = False) -> dict:
    media = _media(path, video)
    out = {k: v for k, v in meta.items() if k != "media"}
    if media != "image":
        out["media"] = media
    return out


def load_plan(root: str, scratch: str | None = None) -> Plan:
    plan = Plan(os.path.abspath(root))
    files = layout.scan(plan.root)
    for folder, why in files.problems:
        plan.errors.append((folder, "unreadable", why))
    db = os.path.join(plan.root, DATABASE)
    without = "its files in originals/ are read without albums, dates, keywords, people or edits"
    if not os.path.lexists(db):
        plan.errors.append((db, "no-database", f"the library has no database/Photos.sqlite: {without}"))
    else:
        try:
            plan.library = load_library(db, scratch)
        except LibraryReadError as e:
            plan.errors.append((db, "database", f"{e}: {without}"))
    claimed: set[str] = set()
    if plan.library is not None:
        lib = plan.library
        plan.notes.extend(lib.notes)
        if lib.skipped:
            plan.notes.append("database: skipped " + "; ".join(sorted(set(lib.skipped))))
        plan.count("assets", len(lib.assets))
        for asset in lib.assets:
            _asset(plan, files, asset, claimed)
        if not lib.complete:
            plan.notes.append(f"{lib.schema.asset} could not be read whole: assets past the damage are read from "
                              "their files in originals/, without metadata")
    _unnamed(plan, files, claimed)
    _summarise(plan)
    return plan


def _original(plan: Plan, asset: Asset) -> tuple[str | None, os.stat_result | None]:
    """(where the original should be, its stat if it is there)."""
    candidates = []
    if asset.referenced_path:
        candidates.append(asset.referenced_path)
    if asset.filename and not (asset.directory or "").startswith("/"):
        parts = [asset.directory] if asset.directory else [asset.uuid[0]]
        candidates += [os.path.join(plan.root, sub, *parts, asset.filename) for sub in layout.ORIGINAL_FOLDERS]
    for path in candidates:
        st = _stat(path, plan)
        if st is not None:
            return path, st
    return (candidates[0] if candidates else None), None


def _add(plan: Plan, path: str, st: os.stat_result, meta: dict, asset: Asset | None, key: str | None,
         rank: int = 10) -> Item:
    item = Item(path, st.st_size, st.st_mtime_ns, meta, list(asset.albums) if asset else [],
                rank + (TRASH_RANK if asset is not None and asset.trashed else 0), key)
    plan.items.append(item)
    return item


def _asset(plan: Plan, files: layout.Files, asset: Asset, claimed: set[str]) -> None:
    uuid, key = asset.uuid, f"applephotos:{asset.uuid}"
    base = asset.meta()
    mine = files.originals.get(uuid, {})
    renders = files.renders.get(uuid, {})
    render = renders.get(layout.VIDEO_RENDER if asset.video else layout.PHOTO_RENDER) \
        if asset.edited is not False else None
    if asset.edited and render is None:
        plan.count("edits_without_render")
    alternate = mine.get(layout.ALTERNATE)
    stacks = ([f"burst:{asset.burst}"] if asset.burst else []) + ([f"asset:{uuid}"] if render or alternate else [])
    still = dict(base, **({"stack": stacks} if stacks else {}))
    if asset.burst and not render and (asset.burst_pick or 0) & BURST_KEY:
        still["stack_cover"] = True

    path, st = _original(plan, asset)
    if path:
        claimed.add(path)
    if st is not None and st.st_size > 0:
        main = _add(plan, path, st, _with_media(still, path, asset.video), asset, key)
        plan.count("originals")
    else:
        main = _derivative(plan, files, asset, key, still, path, st)
    if main is not None and asset.trashed:
        plan.count("trashed")
    if main is not None and asset.hidden:
        plan.count("hidden")

    for suffix, role, count in ((layout.LIVE, "live", "live_videos"), (layout.ALTERNATE, "alternate", "raw_pairs")):
        extra = mine.get(suffix)
        if extra is None:
            continue
        claimed.add(extra)
        xst = _stat(extra, plan)
        if xst is None:
            continue
        if not xst.st_size:
            plan.warnings.append((extra, "empty (0 bytes): left out"))
            continue
        meta = _with_media(dict(base, live_video=True) if role == "live" else still, extra)
        _add(plan, extra, xst, meta, asset, f"{key}#{role}")
        plan.count(count)
        if role == "live" and main is not None:
            plan.pairs.append((extra, main.path))

    if render is not None:
        rst = _stat(render, plan)
        if rst is not None and rst.st_size:
            edit = _add(plan, render, rst, _with_media(dict(still, edited=True, stack_cover=True), render, asset.video),
                        asset, f"{key}#render")
            plan.count("renders")
            live_render = renders.get(layout.LIVE_RENDER)
            lst = _stat(live_render, plan) if live_render and not asset.video else None
            if lst is not None and lst.st_size:
                _add(plan, live_render, lst, _with_media(dict(base, live_video=True, edited=True), live_render),
                     asset, f"{key}#render-live")
                plan.pairs.append((live_render, edit.path))
                plan.count("live_videos")


def _derivative(plan: Plan, files: layout.Files, asset: Asset, key: str, still: dict, path: str | None,
                st: os.stat_result | None) -> Item | None:
    """The largest local derivative standing for an original that is not on this disk; else the
    reason nothing can be read, as an error."""
    best = None
    for candidate in files.derivatives.get(asset.uuid, []):
        dst = _stat(candidate, plan)
        if dst is not None and dst.st_size and (best is None or dst.st_size > best[1].st_size):
            best = (candidate, dst)
    where = path or os.path.join(plan.root, layout.ORIGINALS, asset.uuid[0], asset.filename or asset.uuid)
    if st is not None:
        why, kind = "the original is empty (0 bytes)", "empty"
    elif asset.referenced:
        why, kind = "the original is referenced outside the library and not on this disk", "missing"
    elif asset.local:
        why, kind = "the original is missing from the library", "missing"
    else:
        why, kind = "the original is in iCloud only", "icloud-only"
    if best is None:
        plan.errors.append((where, kind, f"{why}, and no local derivative of it is there: nothing to read"))
        plan.count("missing")
        return None
    dpath, dst = best
    meta = _with_media(dict(still, derivative=True, derivative_of=asset.original_name or asset.filename), dpath)
    if kind == "icloud-only":
        meta["original_in_icloud"] = True
        plan.count("icloud_only")
    elif asset.referenced and st is None:
        meta["original_elsewhere"] = where
        plan.count("referenced_elsewhere")
    else:
        plan.warnings.append((where, f"{why}: its largest local derivative is read instead ({os.path.basename(dpath)})"))
        plan.count("originals_lost")
    plan.count("derivatives_used")
    return _add(plan, dpath, dst, meta, asset, key, rank=40)


def _unnamed(plan: Plan, files: layout.Files, claimed: set[str]) -> None:
    """Files in originals/ no asset claimed: read as they are (a live video still linked to the
    picture of the same UUID, a RAW+JPEG pair stacked)."""
    read = 0
    for uuid, by_suffix in sorted(files.originals.items()):
        left = {s: p for s, p in by_suffix.items() if p not in claimed}
        if not left:
            continue
        group = [f"asset:{uuid}"] if "" in left and layout.ALTERNATE in left else []
        added: dict[str, Item] = {}
        for suffix, path in sorted(left.items()):
            st = _stat(path, plan)
            if st is None or not st.st_size:
                if st is not None:
                    plan.errors.append((path, "empty", "empty file (0 bytes)"))
                continue
            meta = {"apple_uuid": uuid, "not_in_database": True}
            if group and suffix in ("", layout.ALTERNATE):
                meta["stack"] = group
            if suffix == layout.LIVE:
                meta["live_video"] = True
            added[suffix] = _add(plan, path, st, _with_media(meta, path), None,
                                 f"applephotos:{uuid}" + (f"#{suffix}" if suffix else ""))
        read += len(added)
        if "" in added and layout.LIVE in added:
            plan.pairs.append((added[layout.LIVE].path, added[""].path))
    for path in files.other:
        if path in claimed or media_for_name(os.path.basename(path)) is None:
            continue
        st = _stat(path, plan)
        if st is not None and st.st_size:
            _add(plan, path, st, _with_media({"not_in_database": True}, path), None, None)
            read += 1
    if read:
        plan.count("not_in_database", read)
        if plan.library is not None and plan.library.complete:
            plan.notes.append(f"{read} file(s) in originals/ that the database does not name: read without metadata")


def _summarise(plan: Plan) -> None:
    c = plan.counts
    if c.get("icloud_only"):
        plan.notes.append(f"{c['icloud_only']} photo(s) have their original in iCloud only: the largest local "
                          "derivative of each is read instead (marked derivative; nothing is downloaded, and a "
                          "later run with the originals on disk replaces them)")
    if c.get("referenced_elsewhere"):
        plan.notes.append(f"{c['referenced_elsewhere']} referenced original(s) are outside the library and not on "
                          "this disk (a drive not plugged in?): their local derivatives are read instead")
    if c.get("edits_without_render"):
        plan.notes.append(f"{c['edits_without_render']} edited photo(s) have no render on disk: only their "
                          "originals are read")
