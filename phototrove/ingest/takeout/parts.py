"""The parts of a Takeout export: archives (zip, tgz) and extracted folders, each listed once into
media items and parsed JSON documents. Nothing is extracted; JSON is read in full (it is small),
media only listed."""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field

from ...media.kinds import is_junk
from ..archives import MAX_SMALL_READ, ArchiveError, ArchivePool, Member, archive_kind, iter_tar, list_zip, safe_parts
from ..base import FindError
from ..walk import walk_files

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


@dataclass
class Part:
    path: str
    kind: str               # zip | tar | folder
    items: list = field(default_factory=list)
    docs: list = field(default_factory=list)   # (Item, parsed JSON)
    has_takeout_dir: bool = False


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
    def _add(self, part: Part, member: Member, mtime: int, part_no: int, read_json, errors: list) -> None:
        raw = safe_parts(member.name)
        if raw and raw[0].lower() == "takeout":
            part.has_takeout_dir = True
            raw = raw[1:]
        if not raw or raw[-1].startswith(".") or is_junk(raw[-1]):
            return
        item = Item(part.path, member.name, tuple(raw), member.size, member.crc, mtime,
                    (part_no, len(part.items) + len(part.docs)),
                    (member.crc, member.size, member.method, member.compress_size)
                    if part.kind == "zip" and part.path not in self.pool.salvaged else None)
        if raw[-1].lower().endswith(".json"):
            where = f"{part.path}!{member.name}"
            try:
                part.docs.append((item, json.loads(read_json().decode("utf-8-sig"))))
            except (ValueError, UnicodeDecodeError) as e:
                errors.append(FindError(where, "bad-json", f"malformed JSON: {e}"))
            except (OSError, EOFError) as e:
                errors.append(FindError(where, getattr(e, "kind", "unreadable"), str(e)))
        else:
            part.items.append(item)

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
        names: set = set()
        for m in members:
            if m.name in names:
                errors.append(FindError(f"{path}!{m.name}", "duplicate-entry",
                                        "the same name twice in one archive: only the first is read"))
                continue
            names.add(m.name)
            self._add(part, m, mtime, part_no, lambda m=m: self.pool.read_small(path, m.name), errors)
        return True

    def _tar(self, part: Part, mtime: int, part_no: int, errors: list) -> None:
        path = part.path
        index: dict = {}
        self.pool.tar_index[path] = index
        for m, tf, ti in iter_tar(path):
            if m.name in index:
                errors.append(FindError(f"{path}!{m.name}", "duplicate-entry",
                                        "the same name twice in one archive: only the first is read"))
                continue
            index[m.name] = m.offset

            def read_json(tf=tf, ti=ti):
                if ti.size > MAX_SMALL_READ:
                    raise ArchiveError("too-large", f"{ti.size} bytes: not a sidecar")
                f = tf.extractfile(ti)
                return f.read() if f else b""
            self._add(part, m, mtime, part_no, read_json, errors)

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
                    with open(e.path, "rb") as f:
                        part.docs.append((item, json.loads(f.read().decode("utf-8-sig"))))
                except (ValueError, UnicodeDecodeError) as err:
                    errors.append(FindError(e.path, "bad-json", f"malformed JSON: {err}"))
                except OSError as err:
                    errors.append(FindError(e.path, getattr(err, "kind", "unreadable"), str(err)))
            else:
                part.items.append(item)
