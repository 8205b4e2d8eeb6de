"""The words of each photo, for `trove search TEXT` to find by name, title, caption, keyword,
person or album: an FTS5 table kept in step by refreshing the photos the schema's triggers mark
whenever one of those changes (a new location, an edited caption, a keyword, an album renamed, a
file gone missing)."""
from __future__ import annotations

import json
import os
import re
import sqlite3
import unicodedata

from .sql import IN_LIST, NAMES_OF, id_list, py_path

COLUMNS = ("names", "title", "description", "keywords", "people", "albums")
_WORD = re.compile(r"\w+", re.UNICODE)


def words(text: str) -> list[str]:
    """The searchable words of a text as FTS5's unicode61 tokenizer sees them: lower case, accents
    dropped, split at anything that is not a letter or digit (`Baratunde_2017.jpg` -> baratunde 2017 jpg)."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return [w.lower() for w in _WORD.findall(plain.replace("_", " "))]


def fts_query(text: str) -> str | None:
    """An FTS5 query matching any of the words (ranked by bm25), each quoted so nothing in the
    user's text is read as FTS syntax; None when there are no words."""
    ws = list(dict.fromkeys(words(text)))
    return " OR ".join(f'"{w}"' for w in ws) if ws else None


class TextQueries:
    db: sqlite3.Connection

    def text_pending(self) -> int:
        return self.db.execute("SELECT count(*) FROM text_dirty").fetchone()[0]

    def refresh_text(self, limit: int = 2000) -> int:
        """Rebuild the FTS rows of up to `limit` marked photos (in the caller's transaction); returns
        how many were done (0: all in step)."""
        ids = [r[0] for r in self.db.execute("SELECT photo_id FROM text_dirty ORDER BY photo_id LIMIT ?", (limit,))]
        if not ids:
            return 0
        arg = (id_list(ids),)
        rows = {r[0]: {"names": [], "title": r[1] or "", "description": r[2] or "", "keywords": [], "people": [],
                       "albums": []}
                for r in self.db.execute(f"SELECT id, title, description FROM photos WHERE id {IN_LIST}", arg)}
        for pid, path, entry, meta in self.db.execute(
                f"SELECT photo_id, path, entry, meta FROM locations WHERE photo_id {IN_LIST}", arg):
            names = rows[pid]["names"]
            for name in (py_path(entry) or py_path(path), _original(meta)):
                if name:
                    names.append(os.path.basename(name.replace("\\", "/")))
        for key, sql in (
            *NAMES_OF.items(),
            ("albums", "SELECT DISTINCT l.photo_id, coalesce(a.title, a.key) FROM locations l JOIN location_albums la "
                       f"ON la.location_id=l.id JOIN albums a ON a.id=la.album_id WHERE l.photo_id {IN_LIST}"),
        ):
            for pid, value in self.db.execute(sql, arg):
                rows[pid][key].append(value)
        self.db.execute(f"DELETE FROM photo_text WHERE rowid {IN_LIST}", arg)
        self.db.executemany(
            f"INSERT INTO photo_text(rowid, {', '.join(COLUMNS)}) VALUES (?,?,?,?,?,?,?)",
            [(pid, *(" ".join(dict.fromkeys(_readable(v) for v in r[c])) if isinstance(r[c], list) else r[c]
                     for c in COLUMNS)) for pid, r in rows.items()])
        self.db.execute(f"DELETE FROM text_dirty WHERE photo_id {IN_LIST}", arg)
        return len(ids)

    def refresh_all_text(self) -> int:
        """Bring every marked photo's words in step, in committed batches; returns how many."""
        done = 0
        while True:
            with self.db:
                n = self.refresh_text()
            if not n:
                return done
            done += n

    def text_matches(self, text: str, limit: int | None = None) -> list[tuple[int, float]]:
        """(photo id, bm25 rank: lower is better) of the photos whose words match, best first."""
        q = fts_query(text)
        if q is None:
            return []
        return [(r[0], r[1]) for r in self.db.execute(
            "SELECT rowid, bm25(photo_text, 1.0, 4.0, 3.0, 3.0, 3.0, 2.0) AS rank FROM photo_text "
            "WHERE photo_text MATCH ? ORDER BY rank LIMIT ?", (q, -1 if limit is None else limit))]

    def phrase_matches(self, text: str, photo_ids) -> set[int]:
        """Those of the photos that hold the whole text as a phrase in one field."""
        ws = words(text)
        if len(ws) < 1 or not photo_ids:
            return set()
        phrase = '"' + " ".join(ws) + '"'
        return {r[0] for r in self.db.execute(
            f"SELECT rowid FROM photo_text WHERE photo_text MATCH ? AND rowid {IN_LIST}", (phrase, id_list(photo_ids)))}

    def photo_words(self, photo_ids) -> dict[int, dict[str, str]]:
        """The indexed text of each photo, by column (to say why it matched)."""
        return {r[0]: dict(zip(COLUMNS, r[1:])) for r in self.db.execute(
            f"SELECT rowid, {', '.join(COLUMNS)} FROM photo_text WHERE rowid {IN_LIST}", (id_list(photo_ids),))}


def _original(meta) -> str | None:
    """A Lightroom location's original file (the name its owner knows), from its recorded meta."""
    if not meta:
        return None
    try:
        m = json.loads(meta)
    except ValueError:
        return None
    v = m.get("original_path") if isinstance(m, dict) else None
    return v if isinstance(v, str) else None


def _readable(value: str) -> str:
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
