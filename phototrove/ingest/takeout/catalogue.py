"""One catalogue of all parts of an export before any matching, so a photo in part 3 finds its
sidecar in part 1: JSON documents first, then media grouped by folder, then each folder matched,
then the order to read everything in and the zip members that may be copies of one another."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..base import Found
from .folders import PHOTOS_PRODUCT_HINT, classify, media_kind, pair_live, unmatched_cause
from .matching import SidecarIndex
from .parts import Item, Part
from .sidecar import album_info, json_kind, sidecar_meta


@dataclass
class Folder:
    """One logical folder below Takeout/ (the same folder may be spread over several parts)."""
    key: tuple
    index: SidecarIndex = field(default_factory=SidecarIndex)
    album: tuple | None = None                  # (title, description) from its album JSON
    sidecars: dict = field(default_factory=dict)  # logical path of the sidecar -> its metadata
    media: list = field(default_factory=list)     # (Item, "image" | "video")


@dataclass
class Catalogue:
    found: list[Found] = field(default_factory=list)     # in reading order
    report: dict = field(default_factory=dict)
    live_pairs: list = field(default_factory=list)       # ((path, entry) video, (path, entry) still)
    twins: dict = field(default_factory=dict)            # zip member -> an earlier look-alike member


def catalogue(parts: list[Part], archives: list[str], missing: list[int]) -> Catalogue:
    folders, products = _read_documents(parts)
    skipped = _gather_media(parts, folders, products)
    matcher = _Matcher(archives, missing)
    for f in folders.values():
        if f.media:
            matcher.match(f)
    unused = [{"path": "/".join(k), "cause": "its photo is not in the given parts: archive part missing?"
               if archives else "its photo is not in the folder"}
              for f in folders.values() for k in f.sidecars if k not in matcher.matched]
    report = {
        "parts": [p.path for p in parts], "parts_missing": missing,
        **matcher.counts, "sidecars": sum(len(f.sidecars) for f in folders.values()),
        "sidecars_matched": len(matcher.matched),
        "media_unmatched": matcher.unmatched, "sidecars_unused": unused,
        "albums": sorted(matcher.albums.values()), "other_products_skipped": skipped,
    }
    # yield in archive order: location ids follow it, so a forward-only reader reads each part once
    found = sorted(matcher.found, key=lambda x: x[0].order)
    return Catalogue([fnd for _, fnd in found], report, matcher.live_pairs,
                     _look_alikes([item for item, _ in found]))


def _read_documents(parts: list[Part]) -> tuple[dict[tuple, Folder], set]:
    """Step 1: every album JSON and sidecar of every part, once per logical path; and which
    top-level products hold photo sidecars (the photos product, in whatever language)."""
    folders: dict[tuple, Folder] = {}
    products: set = set()
    for part in parts:
        for item, doc in part.docs:
            kind = json_kind(doc)
            key = item.logical[:-1]
            f = folders.get(key) or folders.setdefault(key, Folder(key))
            if kind == "album" and f.album is None:
                f.album = album_info(doc)
            elif kind == "sidecar" and item.logical not in f.sidecars:
                f.sidecars[item.logical] = sidecar_meta(doc)
                f.index.add(item.logical[-1], item.logical)
            else:
                continue
            if len(item.logical) >= 3:
                products.add(item.logical[0])
    return folders, products


def _gather_media(parts: list[Part], folders: dict[tuple, Folder], products: set) -> int:
    """Step 2: media files into their folders; files of other Takeout products (Drive, Mail, ...)
    are skipped and counted."""
    skipped = 0
    for part in parts:
        for item in part.items:
            if len(item.logical) >= 3 and item.logical[0] not in products \
                    and not PHOTOS_PRODUCT_HINT.match(item.logical[0]):
                skipped += 1
                continue
            media = media_kind(item.logical[-1])
            if media is None:
                continue
            key = item.logical[:-1]
            (folders.get(key) or folders.setdefault(key, Folder(key))).media.append((item, media))
    return skipped


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
        self.counts = {"media_files": 0, "videos": 0, "live_videos": 0, "media_matched": 0}

    def match(self, f: Folder) -> None:
        rank, album = classify(f.key, f.album, list(f.sidecars.values()))
        if album:
            self.albums[album[0]] = album[1] or f.key[-1]
        names: dict[str, tuple[Item, str]] = {}
        for item, media in f.media:
            names.setdefault(item.logical[-1], (item, media))
        metas = self._sidecars(f, names)
        live = pair_live({name: media for name, (_item, media) in names.items()})
        for video, still in live.items():
            if video not in metas and still in metas:
                metas[video] = dict(metas[still])
        self._count(names, metas, live)
        for item, media in f.media:
            name = item.logical[-1]
            meta = dict(metas.get(name, {}))
            if media == "video":
                meta["media"] = "video"
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
            self.counts["live_videos"] += name in live
            if name in metas:
                self.counts["media_matched"] += 1
            else:
                self.unmatched.append({"path": "/".join(item.logical), "at": [item.path, item.entry],
                                       "cause": unmatched_cause(name, self.archives, self.missing)})


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
