"""The parts of a Takeout export: archives (zip, tgz) and extracted folders, each listed once into
media items and parsed JSON documents. Nothing is extracted; JSON is read in full (it is small),
media only listed."""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field

from ...media.kinds import is_junk, media_for_name
from ...media.sniff import HEAD_BYTES
from ..archives import MAX_SMALL_READ, ArchiveError, ArchivePool, Member, archive_kind, iter_tar, list_zip, safe_parts
from ..base import FindError
from ..files import open_regular
from ..walk import walk_files

_DUPLICATE = "the same name {} times in one archive: the last copy is read (as unzip and tar do)"
PART_NUMBER = re.compile(r"^(takeout-[^/]*?)-(\d{3})\.(zip|tgz|tar\.gz|tar)$", re.I)


@dataclass
class Item:
    path: str               # the archive (or the file, for an extracted folder)
    entry: str              # member name ('' for a plain file)
    logical: tuple          # safe path components below Takeout/
    size: int
    crc: int | None
    mtime_ns: int
    order: tuple = ()       # (part number, position in the part): the order reads are cheapest in
    raw: tuple | None = None  # zip: (CRC32, size, method, compressed size), free from the directory
    head: bytes | None = None  # a tar member's first bytes, kept while the stream passed it (sniffing)


@dataclass
class Part:
    path: str
    kind: str               # zip | tar | folder
    items: list = field(default_factory=list)
    docs: list = field(default_factory=list)   # (Item, parsed JSON)
    has_takeout_dir: bool = False
    system: int = 0                             # .DS_Store, ._AppleDouble and other dot files: skipped
    unreadable: int = 0                         # JSON that could not be read or parsed (an error each)
    other_json: list = field(default_factory=list)  # Items of JSON that is no sidecar or album (set later)


def parse_json(data: bytes):
    """A JSON document (ValueError if it is not one). Its size is bounded by the caller
    (MAX_SMALL_READ); nesting deeper than the interpreter can follow is malformed too."""
    try:
        return json.loads(data.decode("utf-8-sig"))
    except RecursionError:
        raise ValueError("nested too deeply to be a sidecar") from None


def inputs(paths: list[str]) -> tuple[list[str], list[str], list[FindError]]:
    """What the user gave, sorted out: archives (also those inside given folders), folders to walk
    as extracted exports, and errors for what is neither."""
    archives, folders, errors = [], [], []
    for p in paths:
        if os.path.isdir(p):
            try:
                names = sorted(os.listdir(p))
            except OSError as e:
                errors.append(FindError(p, "unreadable", f"cannot list folder: {e.strerror}"))
                continue
            found = [os.path.join(p, n) for n in names
                     if archive_kind(n) and not n.startswith(".") and os.path.isfile(os.path.join(p, n))]
            archives += found
            if not found or any(os.path.isdir(os.path.join(p, n)) and not n.startswith(".") for n in names):
                folders.append(p)
        elif os.path.isfile(p) and archive_kind(p):
            archives.append(p)
        elif os.path.exists(p):
            errors.append(FindError(p, "not-takeout", "not a Takeout archive (.zip, .tgz) or folder"))
        else:
            errors.append(FindError(p, "missing", "no such file or folder"))
    seen: set = set()
    archives = [a for a in archives if not (a in seen or seen.add(a))]
    return archives, folders, errors


def missing_parts(archives: list[str]) -> list[int]:
    """Part numbers absent between the first and the last given (`...-001.zip`, `-003.zip`: 2)."""
    groups: dict[str, set] = {}
    for a in archives:
        m = PART_NUMBER.match(os.path.basename(a))
        if m:
            groups.setdefault(m.group(1).lower(), set()).add(int(m.group(2)))
    missing: list[int] = []
    for nums in groups.values():
        missing += [n for n in range(1, max(nums)) if n not in nums]
    return sorted(set(missing))


class PartReader:
    """Lists one part after another through a shared pool of archive handles."""

    def __init__(self, pool: ArchivePool):
        self.pool = pool

    def head(self, item: Item) -> bytes:
        """The first bytes of a listed file, to tell what it is when its name does not."""
        if item.head is not None:
            return item.head
        if not item.entry:
            with open_regular(item.path) as f:
                return f.read(HEAD_BYTES)
        with self.pool.open_member(item.path, item.entry) as f:
            return f.read(HEAD_BYTES)

    def read(self, path: str, part_no: int) -> tuple[Part | None, list[FindError]]:
        errors: list[FindError] = []
        kind = archive_kind(path) or "folder"
        part = Part(path, kind)
        try:
            mtime = os.stat(path).st_mtime_ns
        except OSError as e:
            return None, [FindError(path, "unreadable", f"cannot open: {e.strerror}")]
        try:
            if kind == "zip":
                if not self._zip(part, mtime, part_no, errors):
                    return None, errors
            elif kind == "tar":
                self._tar(part, mtime, part_no, errors)
            else:
                self._folder(part, errors, part_no)
        except ArchiveError as e:
            errors.append(FindError(path, e.kind, str(e)))
            if not part.items and not part.docs:
                return None, errors
        return part, errors

    # -- one member or file -------------------------------------------------------------------------
    def _add(self, part: Part, member: Member, mtime: int, part_no: int, read_json, errors: list,
             replace: int | None = None, read_head=None) -> int | None:
        """List one member; returns its position in part.items or part.docs, so that a later
        member of the same name (a tar's duplicate) can take its place (`replace`)."""
        raw = safe_parts(member.name)
        if raw and raw[0].lower() == "takeout":
            part.has_takeout_dir = True
            raw = raw[1:]
        if not raw:
            return None
        if raw[-1].startswith(".") or is_junk(raw[-1]):
            part.system += replace is None
            return None
        is_json = raw[-1].lower().endswith(".json")
        target = part.docs if is_json else part.items
        order = ((target[replace][0] if is_json else target[replace]).order if replace is not None
                 else (part_no, len(part.items) + len(part.docs)))
        item = Item(part.path, member.name, tuple(raw), member.size, member.crc, mtime, order,
                    (member.crc, member.size, member.method, member.compress_size) if part.kind == "zip" else None)
        entry = item
        if is_json:
            where = f"{part.path}!{member.name}"
            try:
                entry = (item, parse_json(read_json()))
            except ValueError as e:
                errors.append(FindError(where, "bad-json", f"malformed JSON: {e}"))
                part.unreadable += replace is None
                return replace
            except (OSError, EOFError) as e:
                errors.append(FindError(where, getattr(e, "kind", "unreadable"), str(e)))
                part.unreadable += replace is None
                return replace
        elif read_head is not None and media_for_name(raw[-1]) is None:
            try:
                item.head = read_head()   # a stream: what it is must be seen now
            except (OSError, EOFError, ValueError):
                pass                      # sniffed later from the archive, or said unreadable then
        if replace is not None:
            target[replace] = entry
            return replace
        target.append(entry)
        return len(target) - 1

    # -- the three kinds of part --------------------------------------------------------------------
    def _zip(self, part: Part, mtime: int, part_no: int, errors: list) -> bool:
        path = part.path
        members, salvaged = list_zip(path)
        if salvaged is not None and not members:
            errors.append(FindError(path, "corrupt", f"not a readable zip archive ({salvaged})"))
            return False
        if salvaged is not None:
            self.pool.salvaged[path] = {m.name: m for m in members}
            errors.append(FindError(path, "truncated", f"archive damaged or cut short ({salvaged}); read the "
                                                       f"{len(members)} complete members before the damage"))
        last: dict[str, Member] = {}
        copies: dict[str, int] = {}
        for m in members:
            last[m.name] = m
            copies[m.name] = copies.get(m.name, 0) + 1
        for name, m in last.items():   # in the order each name first appears; the last copy is read
            if copies[name] > 1:
                errors.append(FindError(f"{path}!{name}", "duplicate-entry", _DUPLICATE.format(copies[name])))
            self._add(part, m, mtime, part_no, lambda m=m: self.pool.read_small(path, m.name), errors)
        return True

    def _tar(self, part: Part, mtime: int, part_no: int, errors: list) -> None:
        path = part.path
        index: dict = {}
        self.pool.tar_index[path] = index
        placed: dict[str, int | None] = {}
        copies: dict[str, int] = {}
        for m, tf, ti in iter_tar(path):
            copies[m.name] = copies.get(m.name, 0) + 1
            index[m.name] = m.offset

            def read_json(tf=tf, ti=ti, limit=None):
                if limit is None and ti.size > MAX_SMALL_READ:
                    raise ArchiveError("too-large", f"{ti.size} bytes: not a sidecar")
                f = tf.extractfile(ti)
                return (f.read(limit) if limit else f.read()) if f else b""
            placed[m.name] = self._add(part, m, mtime, part_no, read_json, errors, replace=placed.get(m.name),
                                       read_head=lambda read=read_json: read(limit=HEAD_BYTES))
        errors += [FindError(f"{path}!{name}", "duplicate-entry", _DUPLICATE.format(n))
                   for name, n in copies.items() if n > 1]

    def _folder(self, part: Part, errors: list, part_no: int) -> None:
        root = part.path
        base = os.path.basename(root.rstrip(os.sep))
        for found in walk_files(root, descend=lambda d: archive_kind(d.name) is None):
            if isinstance(found, FindError):
                errors.append(found)
                continue
            e, st = found
            if os.path.dirname(e.path) == root.rstrip(os.sep) and archive_kind(e.name):
                continue  # archives beside an extracted folder are parts of their own
            raw = safe_parts(os.path.relpath(e.path, root))
            if raw and raw[0].lower() == "takeout":
                part.has_takeout_dir = True
                raw = raw[1:]
            elif base.lower() == "takeout":
                part.has_takeout_dir = True
            else:  # pointed at the product folder itself ("Google Photos", "Google Fotos", ...)
                raw = safe_parts(base) + raw
            item = Item(e.path, "", tuple(raw), st.st_size, None, st.st_mtime_ns,
                        (part_no, len(part.items) + len(part.docs)))
            if e.name.lower().endswith(".json"):
                try:
                    if st.st_size > MAX_SMALL_READ:
                        raise ArchiveError("too-large", f"{st.st_size} bytes: not a sidecar")
                    with open_regular(e.path) as f:
                        part.docs.append((item, parse_json(f.read())))
                except ValueError as err:
                    errors.append(FindError(e.path, "bad-json", f"malformed JSON: {err}"))
                except OSError as err:
                    errors.append(FindError(e.path, getattr(err, "kind", "unreadable"), str(err)))
            else:
                part.items.append(item)
