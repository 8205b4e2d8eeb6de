"""The resumable manifest of an output folder: one JSON line per file written, so a second run
skips what is there."""
from __future__ import annotations

import json
import os

MANIFEST = ".trove-recover.jsonl"


def read_manifest(out: str) -> dict[str, str]:
    done: dict[str, str] = {}
    try:
        with open(os.path.join(out, MANIFEST), encoding="utf-8") as f:
            for line in f:
                try:
                    rec = json.loads(line)
                    done[rec["key"]] = rec["file"]
                except (ValueError, KeyError, TypeError):
                    continue  # a line cut short by a crash
    except FileNotFoundError:
        pass
    return done
