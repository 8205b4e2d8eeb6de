"""SQL fragments every catalog query shares, written once."""
from __future__ import annotations

import json
import os
import re
import time

# A location is "present" while its file (or archive member) was there at the last scan and its
# bytes were read: state 'ok'. A photo is present while any of its locations is.
LOCATION_PRESENT = "state='ok'"


# The order a photo's locations are preferred in as its primary path: the source's rank (a Takeout
# year folder before an album), then the oldest source, then by name, never by the order rows
# happened to be inserted in (which follows archive entry order).
PRIMARY_FIRST = "l.rank, l.source_id, l.path, l.entry, l.id"
PRIMARY_LAST = "l.rank DESC, l.source_id DESC, l.path DESC, l.entry DESC, l.id DESC"

# Flags a source records per location (a Takeout sidecar's trashed / archived / inLockedFolder /
# partner sharing). A photo is trashed or locked only when every present location says so (the
# same bytes kept elsewhere are not in the trash); archived or partner-shared when any does.
FLAGS = {"trashed": "all", "archived": "any", "locked": "all", "partner": "any"}


def _flag(name: str, how: str, photo: str) -> str:
    said = f"coalesce(json_extract(fl.meta, '$.{name}'), 0) = 1"
    at = f"FROM locations fl WHERE fl.photo_id={photo} AND fl.{LOCATION_PRESENT}"
    if how == "any":
        return f"EXISTS (SELECT 1 {at} AND {said})"
    return f"(EXISTS (SELECT 1 {at}) AND NOT EXISTS (SELECT 1 {at} AND NOT ({said})))"


def flag_updates(names=tuple(FLAGS), photo: str = "photos.id") -> str:
    """`trashed=(...), archived=(...), ...`: the photo's flags from its present locations."""
    return ", ".join(f"{name}={_flag(name, FLAGS[name], photo)}" for name in names)


# What the embed stage embeds: photos, RAWs (their previews) and videos (a poster frame), but not
# the video half of a live or motion photo (its still stands for it).
EMBEDDABLE = "(p.media IN ('image', 'raw') OR (p.media = 'video' AND p.live_of IS NULL))"


def present(photo: str = "p.id") -> str:
    """SQL condition: the photo whose id is the expression `photo` has a present location."""
    return f"EXISTS (SELECT 1 FROM locations pl WHERE pl.photo_id={photo} AND pl.{LOCATION_PRESENT})"


def id_list(ids) -> str:
    """A list of ids as one JSON parameter, for `IN (SELECT value FROM json_each(?))`."""
    return json.dumps(list(ids))


IN_LIST = "IN (SELECT value FROM json_each(?))"

# (photo id, name) of the keywords and of the people of the photos in one id_list parameter
NAMES_OF = {
    "keywords": "SELECT pk.photo_id, k.name FROM photo_keywords pk JOIN keywords k ON k.id=pk.keyword_id "
                f"WHERE pk.photo_id {IN_LIST} ORDER BY 1, 2",
    "people": "SELECT pp.photo_id, x.name FROM photo_people pp JOIN people x ON x.id=pp.person_id "
              f"WHERE pp.photo_id {IN_LIST} ORDER BY 1, 2",
}


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


# -- text that is not valid UTF-8 ---------------------------------------------------------------------
# A file name in another encoding (an old camera card, a Windows share, a tar member) reaches Python
# as a str with lone surrogates (surrogateescape). SQLite text must be UTF-8, so such a path is
# stored as its raw bytes (a BLOB) and turned back into the same str when read: lossless, and the
# file can be opened again.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def db_path(path: str):
    """A path or member name as the catalog stores it: text, or raw bytes when it is not UTF-8."""
    try:
        path.encode("utf-8")
        return path
    except UnicodeEncodeError:
        return os.fsencode(path)


def py_path(value):
    """A stored path back as the str it was (bytes from db_path decode with surrogateescape)."""
    return os.fsdecode(bytes(value)) if isinstance(value, (bytes, memoryview)) else value


def readable(text: str) -> str:
    """For names only people read (album titles): undecodable bytes become U+FFFD."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace") if _LONE_SURROGATE.search(text) \
        else text


def json_text(obj, default=None) -> str:
    """JSON as the catalog stores it: non-ASCII kept as is, lone surrogates as \\udcXX escapes
    (valid JSON that json.loads turns back into the same str)."""
    text = json.dumps(obj, sort_keys=True, ensure_ascii=False, default=default)
    return _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
