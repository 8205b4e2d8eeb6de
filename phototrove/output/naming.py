"""Output file names that are safe on Windows, macOS and Linux file systems and cannot leave the
output folder."""
from __future__ import annotations

import re

_UNSAFE = re.compile(r'[\x00-\x1f<>:"/\\|?*]')


def safe_part(name: str) -> str:
    """A path component that cannot escape the output folder or break a file system."""
    name = _UNSAFE.sub("_", name).strip().rstrip(".")
    return "_" if name in ("", ".", "..") else name[:200]
