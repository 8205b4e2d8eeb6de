"""Source adapters: each reads one kind of collection where it lies and yields what it finds."""
from __future__ import annotations

from .base import Source

# source kind (as the catalog records it) -> module and class of its adapter, imported on demand
KINDS = {
    "folder": ("folder", "FolderSource"),
    "takeout": ("takeout.source", "TakeoutSource"),
    "lrprev": ("lightroom.source", "LrprevSource"),
    "applephotos": ("applephotos.source", "PhotosSource"),
}
# kinds whose adapter gives other bytes than the file's own even for a location outside any archive:
# a Lightroom preview is read with its orientation (and colour profile) inserted
REWRITTEN = frozenset({"lrprev"})


def plain_file(kind: str, entry: str | None) -> bool:
    """Whether a location of a source of this kind is a file on disk holding the photo's own bytes,
    which any viewer opens as it is: not a zip/tgz member, not a Lightroom preview (a level inside a
    .lrprev, a root-pixels.db thumbnail, a 13.3+ cache's JPEG without extension or orientation)."""
    return not entry and kind not in REWRITTEN


class Sources:
    """The adapters of a catalog's sources, each made once, for reading locations outside an ingest
    (thumbnails, export, open). Use as a context manager: the adapters are closed at the end."""

    def __init__(self, catalog):
        self.catalog = catalog
        self._made: dict[int, Source | None] = {}

    def of(self, source_id: int) -> Source | None:
        """The adapter of the source; None for a kind this trove cannot read."""
        if source_id not in self._made:
            import json

            row = self.catalog.source(source_id)
            try:
                self._made[source_id] = make_source(row["kind"], row["root"], json.loads(row["info"] or "{}"))
            except (ValueError, TypeError):
                self._made[source_id] = None
        return self._made[source_id]

    def close(self) -> None:
        for s in self._made.values():
            if s is not None:
                s.close()
        self._made.clear()

    def __enter__(self) -> "Sources":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def make_source(kind: str, root: str, info: dict | None = None) -> Source:
    """The adapter for a source kind as recorded in the catalog."""
    return source_class(kind)(root, info)


def source_class(kind: str) -> type[Source]:
    """The adapter class for a source kind (imports only that adapter)."""
    import importlib

    if kind not in KINDS:
        raise ValueError(f"unknown source kind {kind!r}")
    module, name = KINDS[kind]
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def source_report(catalog, source_id: int) -> dict | None:
    """The source's own report (what its adapter knows how to tell), or None."""
    row = catalog.source(source_id)
    return None if row is None else source_class(row["kind"]).report(catalog, source_id)
