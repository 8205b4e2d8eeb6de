"""Output file names that are safe on Windows, macOS and Linux file systems and cannot leave the
output folder, and the one way collisions are resolved (`recover` and `export` both name through
here): a RAW+JPEG pair whose outputs would share a name is told apart by extension
(`IMG_1_CR2.jpg`, `IMG_1_JPG.jpg`), anything else that collides becomes `name-2.jpg`, and a name
once given (an earlier run's, from the manifest) is never given again."""
from __future__ import annotations

import re

_UNSAFE = re.compile(r'[\x00-\x1f<>:"/\\|?*]')
# names Windows reserves whatever the extension (CON.jpg cannot be created there)
_RESERVED = re.compile(r"(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?", re.IGNORECASE)
MAX_PART = 200   # characters; file systems allow 255 bytes, and `-N` and `.xmp` must still fit


def safe_part(name: str) -> str:
    """A path component that cannot escape the output folder or break a file system: no separators,
    no characters Windows refuses, no trailing dot or space, no reserved device name, no lone
    surrogate (a name that was not UTF-8 becomes U+FFFD where it cannot be kept)."""
    name = _UNSAFE.sub("_", name).strip().rstrip(". ")
    name = name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    if _RESERVED.fullmatch(name):
        name = "_" + name
    return "_" if name in ("", ".", "..") else _clip(name)


def _clip(name: str) -> str:
    """At most MAX_PART characters, the extension kept."""
    if len(name) <= MAX_PART:
        return name
    dot = name.rfind(".")
    ext = name[dot:] if 0 < dot and len(name) - dot <= 16 else ""
    return name[:MAX_PART - len(ext)].rstrip(". ") + ext


def pair_stems(wanted: list[tuple[str, str, str, str]]) -> list[str]:
    """For each (folder, stem, output extension, original extension): the stem to use. Outputs
    that would share a name in one folder only because they are written with one extension (a
    RAW and the JPEG beside it, both recovered as .jpg) are each named after their original's
    extension: `IMG_1_CR2`, `IMG_1_JPG`."""
    groups: dict[tuple[str, str], set[str]] = {}
    for folder, stem, ext, orig in wanted:
        groups.setdefault((folder.lower(), (stem + ext).lower()), set()).add(orig.lower())
    out = []
    for folder, stem, ext, orig in wanted:
        if orig and len(groups[(folder.lower(), (stem + ext).lower())]) > 1:
            stem = f"{stem}_{safe_part(orig.lstrip('.')).upper()}"
        out.append(stem)
    return out


class Names:
    """The names given in one output folder, compared as case-insensitive file systems do."""

    def __init__(self, taken=()):
        self.taken = {t.lower() for t in taken}

    def claim(self, folder: list[str], stem: str, ext: str, companions: tuple[str, ...] = ()) -> str:
        """`folder/stem+ext`, or `stem-2+ext`, `stem-3+ext`, ... : the first name not given yet, with
        each companion (`.xmp`: a sidecar written beside the file as `<name>.xmp`) free too."""
        n = 1
        while True:
            rel = "/".join([*folder, stem + ext if n == 1 else f"{stem}-{n}{ext}"])
            wanted = [rel.lower()] + [(rel + c).lower() for c in companions]
            if not any(w in self.taken for w in wanted):
                self.taken.update(wanted)
                return rel
            n += 1

    def keep(self, rel: str) -> None:
        """A name an earlier run gave: never given to another photo."""
        self.taken.add(rel.lower())


def next_name(rel: str) -> str:
    """`IMG.jpg` -> `IMG-2.jpg` -> `IMG-3.jpg`: the next name to try when a file trove did not write
    holds this one."""
    folder, _, name = rel.rpartition("/")
    dot = name.rfind(".")
    stem, ext = (name[:dot], name[dot:]) if dot > 0 else (name, "")
    m = re.fullmatch(r"(.*)-(\d+)", stem)
    stem = f"{m.group(1)}-{int(m.group(2)) + 1}" if m and int(m.group(2)) >= 2 else f"{stem}-2"
    return (folder + "/" if folder else "") + stem + ext
