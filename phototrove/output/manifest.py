"""The resumable manifest of an output folder: one JSON line per file written, so a second run
skips what is there. `recover` and `export` keep one each (MANIFEST, EXPORT_MANIFEST)."""
from __future__ import annotations

import json
import os
import time

MANIFEST = ".trove-recover.jsonl"
EXPORT_MANIFEST = ".trove-export.jsonl"


def read_manifest(out: str, name: str = MANIFEST) -> dict[str, dict]:
    """key -> record ({"file": relative to `out`, "bytes", ...}) of every file an earlier run wrote;
    a later line for the same key (an upgrade) wins. Lines cut short by a crash are skipped, and so
    is any record whose `file` (or `sidecar`) is not a plain relative path inside `out` (the
    manifest is data in the output folder: never trusted to name a place to write). A record is
    found under its photo's `item` identity and under its version `key`."""
    done: dict[str, dict] = {}
    try:
        with open(os.path.join(out, name), encoding="utf-8", errors="surrogateescape") as f:
            for line in f:
                try:
                    rec = json.loads(line)
                    key, rel = rec["key"], rec["file"]
                except (ValueError, KeyError, TypeError):
                    continue
                if isinstance(key, str) and plain_relative(rel) and (rec.get("sidecar") is None
                                                                     or plain_relative(rec["sidecar"])):
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


class ManifestLog:
    """Appends records to a manifest as files land. Lines are flushed every half second: a crash
    loses at most those lines, and their files are then recognised byte for byte on the next run.
    A line an earlier run left cut short (a kill, a full disk) is ended first, so it cannot swallow
    the next record."""

    def __init__(self, out: str, name: str):
        from ..catalog.sql import json_text

        self._json = json_text
        path = os.path.join(out, name)
        try:
            with open(path, "rb") as f:
                cut = f.seek(0, os.SEEK_END) > 0 and (f.seek(-1, os.SEEK_END), f.read(1))[1] != b"\n"
        except FileNotFoundError:
            cut = False
        self.f = open(path, "a", encoding="utf-8", errors="surrogateescape")
        if cut:
            self.f.write("\n")
        self.last_flush = time.monotonic()

    def add(self, record: dict) -> None:
        self.f.write(self._json(record) + "\n")
        if time.monotonic() - self.last_flush > 0.5:
            self.f.flush()
            self.last_flush = time.monotonic()

    def close(self) -> None:
        self.f.close()

    def __enter__(self) -> "ManifestLog":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
