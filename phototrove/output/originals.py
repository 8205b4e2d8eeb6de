"""What an exported file is named after: the original's name as its source knows it.

- Takeout: the sidecar's title (the name the photo was uploaded with, which Google clips to 47
  characters and numbers `IMG(1).jpg` in the archive), kept with the file's own extension; an
  edited copy keeps its `-edited` suffix.
- Lightroom: the original's name from the catalog, as `recover` names it: `<name>.jpg` (the file
  is a preview), `IMG_1 (Copy name).jpg` for a virtual copy; a preview not in the catalog by its
  UUID.
- Apple Photos: the original's name from the library (`IMG_0001.HEIC`, not `<UUID>.heic`), with the
  extension of the file written: a derivative standing for an original in iCloud is `IMG_0001.jpeg`,
  an edit `IMG_0001_edited.jpeg`, a live photo's video `IMG_0001.mov`.
- Anything else: the file's own name.
"""
from __future__ import annotations

from ..media.names import split_ext, unedited
from .naming import safe_part

JPEG_EXTS = (".jpg", ".jpeg", ".jpe")


def original_name(kind: str, loc, fmt: str | None) -> tuple[str, str, str]:
    """(stem, extension of the file written, extension of the original) for the photo read from
    location `loc` of a source of `kind`; `fmt` (the catalog's format) names an extension-less file."""
    if kind == "lrprev":
        m = loc.meta
        name = m.get("original_name") if isinstance(m.get("original_name"), str) else ""
        stem, ext = split_ext(name) if name else (str(m.get("lr_uuid") or "preview"), "")
        if m.get("lr_master_id") is not None or m.get("copy_name"):
            stem += f" ({m.get('copy_name') or 'Virtual Copy'})"
        return safe_part(stem), ".jpg", ext
    own = (loc.entry or loc.path).replace("\\", "/").rsplit("/", 1)[-1]
    if kind == "applephotos" and isinstance(loc.meta.get("original_name"), str) and loc.meta["original_name"]:
        return _apple_name(loc.meta, own)
    stem, ext = split_ext(own)
    if not ext and fmt:
        ext = "." + ("jpg" if fmt.upper() == "JPEG" else fmt.lower())
    title = loc.meta.get("title") if kind == "takeout" else None
    if isinstance(title, str) and title.strip() and "/" not in title:
        t_stem, t_ext = split_ext(title.strip())
        if t_ext and not _same_kind(t_ext, ext):   # a title without extension, or naming another kind
            t_stem = title.strip() if not _looks_like_ext(t_ext) else t_stem
        edited = unedited(stem)
        if edited and t_stem and not unedited(t_stem):
            t_stem += stem[len(edited[0]):]    # `IMG_1-edited`: the title's stem, the copy's suffix
        stem = t_stem or stem
    ext = "." + safe_part(ext[1:]) if ext else ""
    return safe_part(stem), ext, ext


def _apple_name(meta: dict, own: str) -> tuple[str, str, str]:
    stem, orig = split_ext(meta["original_name"])
    ext = split_ext(own)[1]
    if _same_kind(ext, orig) and not meta.get("edited") and not meta.get("derivative"):
        ext = orig                  # the original itself: named exactly as it was imported
    elif meta.get("edited"):
        stem, orig = stem + "_edited", ext
    elif not meta.get("derivative"):
        orig = ext                  # the live video or the RAW of a pair: its own kind of file
    ext = "." + safe_part(ext[1:]) if ext else ""
    return safe_part(stem), ext, "." + safe_part(orig[1:]) if orig else ext


def _same_kind(a: str, b: str) -> bool:
    a, b = a.lower(), b.lower()
    return a == b or (a in JPEG_EXTS and b in JPEG_EXTS)


def _looks_like_ext(ext: str) -> bool:
    """`.HEIC`, `.mp4`: an extension; `. Summer` in a title `Day. Summer`: not one."""
    return 2 <= len(ext) <= 6 and ext[1:].isalnum()
