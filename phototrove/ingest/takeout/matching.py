"""Which JSON sidecar belongs to which media file in a Google Photos Takeout folder.

Google names a sidecar after the photo's upload title, then clips and renumbers it. Rather than
guess from the sidecar's side, we list the names Google could have produced for each media file
and look them up among the folder's sidecars:

- a sidecar stem is its name without `.json` and without a trailing `(n)`; it is indexed both as
  is and with a last dotted segment that is a prefix of `supplemental-metadata` dropped
  (`.supplemental-metadata`, `.supple`, `.s`, or the empty segment left by `COVER..json`);
- a media file's candidate titles: its name, its name with `(n)` moved out (`IMG(1).jpg` ->
  `IMG.jpg` with n=1), without an "edited" suffix (any language, possibly clipped), and its stem
  alone (titles without an extension); each is looked up whole and clipped to 46 UTF-16 units;
- `n` must match exactly; exact case first, then case-insensitively. All names NFC.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from ...media.names import split_ext, unedited, utf16_len

JSON_CLIP = 46  # UTF-16 code units of the sidecar's stem (title, or title + ".supplemental-metadata")
SUPPLEMENTAL = "supplemental-metadata"
_NUMBERED = re.compile(r"(.*)\((\d{1,5})\)", re.S)

T = TypeVar("T")


def nfc(s: str) -> str:
    return unicodedata.normalize("NFC", s)


def clip16(s: str, limit: int = JSON_CLIP) -> str:
    """The longest prefix of `s` within `limit` UTF-16 code units (never half a surrogate pair)."""
    if len(s) <= limit // 2 or utf16_len(s) <= limit:
        return s
    units = 0
    for i, ch in enumerate(s):
        units += 2 if ord(ch) > 0xFFFF else 1
        if units > limit:
            return s[:i]
    return s


def strip_supplemental(stem: str) -> str | None:
    """`X.jpg.supplemental-metadata` / `X.jpg.supple` / `X.` -> `X.jpg` / `X.jpg` / `X`; else None."""
    i = stem.rfind(".")
    if i < 0:
        return None
    if SUPPLEMENTAL.startswith(stem[i + 1:].lower()):
        return stem[:i]
    return None


def sidecar_keys(json_name: str) -> list[tuple[str, int]]:
    """The (title key, n) pairs a sidecar name can stand for, most literal first."""
    name = nfc(json_name)
    if not name.lower().endswith(".json"):
        return []
    stem = name[:-5]
    variants = [(stem, 0)]
    m = _NUMBERED.fullmatch(stem)
    if m and m.group(1):
        variants.append((m.group(1), int(m.group(2))))
    out: list[tuple[str, int]] = []
    for s, n in variants:
        for key in (s, strip_supplemental(s)):
            if key and (key, n) not in out:
                out.append((key, n))
    return out


def title_candidates(media_name: str) -> list[tuple[str, int]]:
    """(title, n) pairs the media file could have been uploaded as, most literal first."""
    name = nfc(media_name)
    stem, ext = split_ext(name)
    out: list[tuple[str, int]] = []

    def add(t: str, n: int) -> None:
        if t and (t, n) not in out:
            out.append((t, n))

    stems = [stem] + unedited(stem)
    for s in stems:
        forms = [(s, 0)]
        m = _NUMBERED.fullmatch(s)
        if m and m.group(1):
            base = m.group(1)
            forms.insert(0, (base, int(m.group(2))))  # `IMG(1).jpg` is usually IMG.jpg's twin
            forms += [(b, forms[0][1]) for b in unedited(base)]  # `IMG-edited(1).jpg`
        for base, n in forms:
            add(base + ext, n)
    for s in stems:  # titles saved without an extension: `20030616.jpg` <-> `20030616.json`
        m = _NUMBERED.fullmatch(s)
        if m and m.group(1):
            add(m.group(1), int(m.group(2)))
        add(s, 0)
    return out


def precedence(json_name: str, key: str) -> tuple:
    """When two sidecars stand for the same title (`x.jpg.json` and
    `x.jpg.supplemental-metadata.json` in one folder, as when two exports are merged), the one
    that sorts first wins: the newer `.supplemental-metadata` form written out in full, then the
    plain `.json`, then clipped forms longest first; then by name. Never the order read in."""
    stem = nfc(json_name)[:-5]
    base = _NUMBERED.fullmatch(stem)
    stem = base.group(1) if base and base.group(1) else stem
    folded, k = stem.casefold(), key.casefold()
    form = 0 if folded == k + "." + SUPPLEMENTAL else 1 if folded == k else 2
    return form, -utf16_len(json_name), json_name


@dataclass
class SidecarIndex(Generic[T]):
    """The sidecars of one folder, looked up by the names a media file could have produced."""
    exact: dict[tuple[str, int], tuple[tuple, T]] = field(default_factory=dict)
    folded: dict[tuple[str, int], tuple[tuple, T]] = field(default_factory=dict)

    def add(self, json_name: str, item: T) -> None:
        for key, n in sidecar_keys(json_name):
            rank = precedence(json_name, key)
            for table, k in ((self.exact, (key, n)), (self.folded, (key.casefold(), n))):
                held = table.get(k)
                if held is None or rank < held[0]:
                    table[k] = (rank, item)

    def find(self, media_name: str) -> T | None:
        cands = title_candidates(media_name)
        for table, fold in ((self.exact, False), (self.folded, True)):
            for title, n in cands:
                for key in (title, clip16(title)):
                    hit = table.get((key.casefold() if fold else key, n))
                    if hit is not None:
                        return hit[1]
        return None

    def rivals(self, json_name: str) -> list[T]:
        """The sidecars that won a title this one also stands for (it lost to them)."""
        out: list[T] = []
        for key, n in sidecar_keys(json_name):
            held = self.exact.get((key, n))
            if held is not None and held[0] != precedence(json_name, key) and held[1] not in out:
                out.append(held[1])
        return out
