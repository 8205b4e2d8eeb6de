"""What file names say: stem and extension, and the suffixes Google Photos gives edited copies."""
from __future__ import annotations

CLIPPED_AT = 46   # Takeout clips names at 46 UTF-16 units: a suffix cut there is still a suffix

# Suffixes Google appends to edited copies (which have no sidecar of their own), lowercase.
EDITED_SUFFIXES = (
    "edited", "effects", "smile", "mix", "bearbeitet", "modifié", "modificato", "bewerkt",
    "edytowane", "編集済み", "ha editado", "editat", "editado", "编辑",
)


def utf16_len(s: str) -> int:
    return len(s.encode("utf-16-le", "surrogatepass")) // 2  # (lone surrogates: names not UTF-8)


def split_ext(name: str) -> tuple[str, str]:
    """('IMG_1', '.jpg'); a leading-dot name or no dot -> no extension."""
    i = name.rfind(".")
    if i <= 0:
        return name, ""
    return name[:i], name[i:]


def unedited(stem: str) -> list[str]:
    """The stem without an edited-copy suffix: `IMG-edited` -> `IMG`, also when the suffix itself
    was clipped away at the length limit (`..._001-ha edi` -> `..._001`)."""
    out = []
    low = stem.lower()
    i = low.rfind("-")
    while i > 0:
        tail = low[i + 1:]
        for suffix in EDITED_SUFFIXES:
            if tail == suffix or (len(tail) >= 2 and suffix.startswith(tail) and utf16_len(stem) >= CLIPPED_AT):
                out.append(stem[:i])
                break
        i = low.rfind("-", 0, i)
        if out:
            break
    return out
