"""Rows the catalog hands out, and how a location is named to people."""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from .sql import FLAGS, py_path


def photo_flags(rec: dict) -> list[str]:
    """What the photo's source says of its state, as words (trashed, archived, locked, partner)."""
    return [f for f in FLAGS if rec.get(f)]


def duration_text(seconds: float | None) -> str | None:
    """0:07, 1:02:03: a video's length as players show it."""
    if seconds is None:
        return None
    total = int(round(seconds))
    h, rest = divmod(total, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


def location_label(path: str, entry: str | None = "") -> str:
    """How a location is shown and reported: the file, or `archive!member` inside an archive."""
    return f"{path}!{entry}" if entry else path


def shown_label(source_kind: str, path: str, entry: str | None, meta: dict | None) -> str:
    """How a location is named to people: a Lightroom preview by the original file the catalog
    names (with its virtual copy's name), not by the cache's `<UUID>-<digest>.lrprev!level_7`;
    anything else as location_label."""
    original = (meta or {}).get("original_path") if source_kind == "lrprev" else None
    if isinstance(original, str) and original:
        copy = (meta or {}).get("copy_name")
        return original.replace("\\", "/") + (f" ({copy})" if isinstance(copy, str) and copy else "")
    return location_label(path, entry)


@dataclass
class Location:
    id: int
    source_id: int
    path: str
    entry: str
    size: int | None
    mtime_ns: int | None
    meta: dict
    photo_id: int | None
    state: str


def location(r: sqlite3.Row) -> Location:
    return Location(r["id"], r["source_id"], py_path(r["path"]), py_path(r["entry"]), r["size"], r["mtime_ns"],
                    json.loads(r["meta"]) if r["meta"] else {}, r["photo_id"], r["state"])


def source_row(r: sqlite3.Row) -> dict:
    return {**{k: r[k] for k in r.keys()}, "root": py_path(r["root"])}


def error_row(r: sqlite3.Row) -> dict:
    return {**{k: r[k] for k in r.keys()}, "path": py_path(r["path"])}
