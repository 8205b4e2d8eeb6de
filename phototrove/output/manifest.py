"""The resumable manifest of an output folder: one JSON line per file written, so a second run
skips what is there."""
from __future__ import annotations

import json
import os

MANIFEST = ".trove-recover.jsonl"


def read_manifest(out: str) -> dict[str, dict]:
    """key -> record ({"file": relative to `out`, "bytes", "level", "width", "height", "source"}) of
    every file an earlier run wrote; a later line for the same key (an upgrade) wins. Lines cut short
    by a crash are skipped, and so is any `file` that is not a plain relative path inside `out` (the
    manifest is data in the output folder: never trusted to name a place to write). A record is
    found under its photo's `item` identity and under its version `key`."""
    done: dict[str, dict] = {}
    try:
        with open(os.path.join(out, MANIFEST), encoding="utf-8") as f:
            for line in f:
                try:
                    rec = json.loads(line)
                    key, rel = rec["key"], rec["file"]
                except (ValueError, KeyError, TypeError):
                    continue
                if isinstance(key, str) and plain_relative(rel):
                    done[key] = rec
                    if isinstance(rec.get("item"), str):
                        done[rec["item"]] = rec
    except FileNotFoundError:
        pass
    return done


def plain_relative(rel) -> bool:
    """'a/b.jpg': yes. '../x.jpg', '/etc/x', 'a//b', 'C:x', 'a\\b', '.trove-partial/x': no."""
    if not isinstance(rel, str) or not rel or "\\" in rel or "\x00" in rel:
        return False
    parts = rel.split("/")
    return all(p not in ("", ".", "..") and ":" not in p for p in parts) and parts[0] != ".trove-partial"
