"""Source adapters: each reads one kind of collection where it lies and yields what it finds."""
from __future__ import annotations

from .base import Source

# source kind (as the catalog records it) -> module and class of its adapter, imported on demand
KINDS = {
    "folder": ("folder", "FolderSource"),
    "takeout": ("takeout.source", "TakeoutSource"),
    "lrprev": ("lightroom.source", "LrprevSource"),
}


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
