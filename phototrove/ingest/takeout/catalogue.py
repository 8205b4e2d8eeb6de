"""One catalogue of all parts of an export before any matching, so a photo in part 3 finds its
sidecar in part 1: JSON documents first, then media grouped by folder (a file whose name does not
say what it is is sniffed), then each folder matched, then the order to read everything in and
the zip members that may be copies of one another. Every file listed is accounted for in the
report: media, sidecar, album JSON, other JSON, another product's, not media (with why), system
file or unreadable."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ...media.kinds import media_for_name
from ...media.sniff import sniff
from ..base import FindError, Found
from .folders import PHOTOS_PRODUCT_HINT, classify, pair_live, unmatched_cause
from .matching import SidecarIndex
from .parts import Item, Part
from .sidecar import album_info, json_kind, sidecar_meta


@dataclass
class Folder:
    """One logical folder below Takeout/ (the same folder may be spread over several parts)."""
    key: tuple
    index: SidecarIndex = field(default_factory=SidecarIndex)
    albums: list = field(default_factory=list)    # (name, (title, description)) of each album JSON
    sidecars: dict = field(default_factory=dict)  # logical path of the sidecar -> its metadata
    media: list = field(default_factory=list)     # (Item, "image" | "raw" | "video", format or None)

    @property
    def album(self) -> tuple | None:
        """Its album JSON's (title, description); of two, an unnumbered name before `(1)`, then by
        name (never by entry order)."""
        return min(self.albums, key=lambda a: (a[0].endswith(").json"), a[0], a[1][0] or "", a[1][1] or ""))[1] \
            if self.albums else None


@dataclass
class Catalogue:
    found: list[Found] = field(default_factory=list)     # in reading order
    report: dict = field(default_factory=dict)
    live_pairs: list = field(default_factory=list)       # ((path, entry) video, (path, entry) still)
    twins: dict = field(default_factory=dict)            # zip member -> an earlier look-alike member
    errors: list = field(default_factory=list)           # FindErrors of files that could not be sniffed


Head = Callable[[Item], bytes]   # the first bytes of a listed file (OSError when unreadable)


def catalogue(parts: list[Part], archives: list[str], missing: list[int], head: Head) -> Catalogue:
    folders, products, files = _read_documents(parts)
    gathered = _gather_media(parts, folders, products, head)
    for k, n in gathered.counts.items():
        files[k] += n
    matcher = _Matcher(archives, missing)
    for f in folders.values():
        if f.media:
            matcher.match(f)
    unused = [{"path": "/".join(k), "cause": _unused_cause(f, k, matcher.matched, archives)}
              for f in folders.values() for k in sorted(f.sidecars) if k not in matcher.matched]
    files["listed"] = sum(files.values())
    report = {
        "parts": [p.path for p in parts], "parts_missing": missing,
        **matcher.counts, "sidecars": sum(len(f.sidecars) for f in folders.values()),
        "sidecars_matched": len(matcher.matched),
        "media_unmatched": matcher.unmatched, "sidecars_unused": unused,
        "albums": sorted(matcher.albums.values()), "other_products_skipped": files["other_products"],
        "files": files, "not_media": gathered.not_media, "other_json": gathered.other_json,
    }
    # yield in archive order: location ids follow it, so a forward-only reader reads each part once
    found = sorted(matcher.found, key=lambda x: x[0].order)
    return Catalogue([fnd for _, fnd in found], report, matcher.live_pairs,
                     _look_alikes([item for item, _ in found]), gathered.errors)


def _read_documents(parts: list[Part]) -> tuple[dict[tuple, Folder], set, dict]:
    """Step 1: every album JSON and sidecar of every part, once per logical path; and which
    top-level products hold photo sidecars (the photos product, in whatever language)."""
    folders: dict[tuple, Folder] = {}
    products: set = set()
    files = {"media": 0, "sidecars": 0, "album_json": 0, "other_json": 0, "other_products": 0, "not_media": 0,
             "system": sum(p.system for p in parts), "unreadable": sum(p.unreadable for p in parts)}
    seen: set = set()
    for part in parts:
        for item, doc in part.docs:
            kind = json_kind(doc)
            key = item.logical[:-1]
            if item.logical in seen:   # the same JSON in two parts: one file of the export
                files["sidecars" if kind == "sidecar" else "album_json" if kind == "album" else "other_json"] += 1
                continue
            seen.add(item.logical)
            f = folders.get(key) or folders.setdefault(key, Folder(key))
            if kind == "album":
                f.albums.append((item.logical[-1], album_info(doc)))
                files["album_json"] += 1
            elif kind == "sidecar":
                f.sidecars[item.logical] = sidecar_meta(doc)
                f.index.add(item.logical[-1], item.logical)
                files["sidecars"] += 1
            else:
                part.other_json.append(item)
                files["other_json"] += 1
                continue
            if len(item.logical) >= 3:
                products.add(item.logical[0])
    return folders, products, files


@dataclass
class _Gathered:
    counts: dict = field(default_factory=lambda: {"media": 0, "other_products": 0, "not_media": 0, "unreadable": 0})
    not_media: list = field(default_factory=list)   # {"path", "cause"}
    other_json: list = field(default_factory=list)  # logical paths of product JSON ignored
    errors: list = field(default_factory=list)


def _gather_media(parts: list[Part], folders: dict[tuple, Folder], products: set, head: Head) -> _Gathered:
    """Step 2: media files into their folders, known by name or else by content; files of other
    Takeout products (Drive, Mail, ...) skipped and counted; the rest listed with what they are."""
    out = _Gathered()
    for part in parts:
        out.other_json += ["/".join(item.logical) for item in part.other_json]
        for item in part.items:
            if len(item.logical) >= 3 and item.logical[0] not in products \
                    and not PHOTOS_PRODUCT_HINT.match(item.logical[0]):
                out.counts["other_products"] += 1
                continue
            media = media_for_name(item.logical[-1])
            fmt = item.logical[-1].rsplit(".", 1)[-1].lower() if media == "raw" else None
            if media is None:
                try:
                    media, what = sniff(head(item))
                except (OSError, EOFError) as e:
                    where = f"{item.path}!{item.entry}" if item.entry else item.path
                    out.errors.append(FindError(where, getattr(e, "kind", "unreadable"), f"cannot read: {e}"))
                    out.counts["unreadable"] += 1
                    continue
                if media is None:
                    out.not_media.append({"path": "/".join(item.logical), "cause": f"not a photo or video: {what}"})
                    out.counts["not_media"] += 1
                    continue
                fmt = what
            out.counts["media"] += 1
            key = item.logical[:-1]
            (folders.get(key) or folders.setdefault(key, Folder(key))).media.append((item, media, fmt))
    return out


class _Matcher:
    """Step 3, folder by folder: what it is, each media file's sidecar, live/motion pairs (a video
    without a sidecar inherits its still's), and a Found for every media copy."""

    def __init__(self, archives: list[str], missing: list[int]):
        self.archives, self.missing = archives, missing
        self.found: list[tuple[Item, Found]] = []
        self.unmatched: list[dict] = []
        self.matched: set = set()
        self.albums: dict[str, str] = {}
        self.live_pairs: list = []
        self.counts = {"media_files": 0, "videos": 0, "raw_files": 0, "live_videos": 0, "media_matched": 0}

    def match(self, f: Folder) -> None:
        rank, album, flags = classify(f.key, f.album, list(f.sidecars.values()))
        if album:
            self.albums[album[0]] = album[1] or f.key[-1]
        names: dict[str, tuple[Item, str]] = {}
        for item, media, _fmt in sorted(f.media, key=lambda m: m[0].order):
            names.setdefault(item.logical[-1], (item, media))
        metas = self._sidecars(f, names)
        live = pair_live({name: media for name, (_item, media) in names.items()})
        for video, still in live.items():
            if video not in metas and still in metas:
                metas[video] = dict(metas[still])
        self._count(names, metas, live)
        for item, media, fmt in f.media:
            name = item.logical[-1]
            meta = {**metas.get(name, {}), **flags}
            if media != "image":
                meta["media"] = media
            if fmt:
                meta["format"] = fmt
            if name in live:
                meta["live_photo"] = True
                still = names[live[name]][0]
                self.live_pairs.append(((item.path, item.entry), (still.path, still.entry)))
            self.found.append((item, Found(item.path, item.entry, item.size, item.mtime_ns, meta,
                                           [album] if album else [], rank)))

    def _sidecars(self, f: Folder, names: dict) -> dict[str, dict]:
        """name -> the metadata of its sidecar, for the media names that have one."""
        metas: dict[str, dict] = {}
        for name in names:
            hit = f.index.find(name)
            if hit is not None:
                metas[name] = dict(f.sidecars[hit], sidecar="/".join(hit))
                self.matched.add(hit)
        return metas

    def _count(self, names: dict, metas: dict, live: dict) -> None:
        for name, (item, media) in names.items():
            self.counts["media_files"] += 1
            self.counts["videos"] += media == "video"
            self.counts["raw_files"] += media == "raw"
            self.counts["live_videos"] += name in live
            if name in metas:
                self.counts["media_matched"] += 1
            else:
                self.unmatched.append({"path": "/".join(item.logical), "at": [item.path, item.entry],
                                       "cause": unmatched_cause(name, self.archives, self.missing)})


def _unused_cause(f: Folder, key: tuple, matched: set, archives: list) -> str:
    """Why a sidecar was used by no media file."""
    won = [r for r in f.index.rivals(key[-1]) if r in matched]
    if won:
        return f"a second sidecar for the same photo; {won[0][-1]} was used (fixed precedence)"
    if archives:
        return "its photo is not in the given parts: archive part missing?"
    return "its photo is not in the folder"


def _look_alikes(items: list[Item]) -> dict[tuple[str, str], tuple[str, str]]:
    """Step 4: zip members with equal CRC32, size, method and compressed size may be copies (the
    year folder, each album, each part): member -> the first such member. The source's copy_of()
    proves it by comparing their stored bytes."""
    first: dict[tuple, tuple[str, str]] = {}
    twins: dict[tuple[str, str], tuple[str, str]] = {}
    for item in items:
        if item.raw is not None and item.raw[0] is not None:
            key = (item.path, item.entry)
            orig = first.setdefault(item.raw, key)
            if orig != key:
                twins[key] = orig
    return twins
