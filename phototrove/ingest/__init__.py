"""Source adapters: each reads one kind of collection where it lies and yields what it finds."""
from __future__ import annotations

from .base import Source


def make_source(kind: str, root: str, info: dict | None = None) -> Source:
    """The adapter for a source kind as recorded in the catalog (imports only that adapter)."""
    if kind == "folder":
        from .folder import FolderSource as cls
    elif kind == "takeout":
        from .takeout import TakeoutSource as cls
    else:
        raise ValueError(f"unknown source kind {kind!r}")
    return cls(root, info)
