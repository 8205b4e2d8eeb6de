"""What a Photos.sqlite holds, found from the database itself, never assumed from its version.

Photos keeps its library in a Core Data store. Core Data names each many-to-many join table after
the entity numbers of its two sides: the album join is `Z_26ASSETS` (columns `Z_26ALBUMS`,
`Z_34ASSETS`) on macOS 10.15 and `Z_30ASSETS` (`Z_30ALBUMS`, `Z_3ASSETS`) on 15; the keyword join
`Z_1KEYWORDS` has its keyword column numbered 37 on 10.15 and 47 on 15. The numbers change with
every release, so they are resolved from `Z_PRIMARYKEY` (entity name -> number) and checked against
the tables; when the two disagree (a damaged `Z_PRIMARYKEY`, an unknown release), the join table is
found by its shape. Other renames are read from the columns present: `ZGENERICASSET` (10.15) or
`ZASSET` (11 on), faces through `ZASSET`/`ZPERSON` or `ZASSETFORFACE`/`ZPERSONFORFACE` (14 on),
the edited flag `ZHASADJUSTMENTS` or `ZADJUSTMENTSSTATE` (15 on).
"""
from __future__ import annotations

import plistlib
import re
import sqlite3
from dataclasses import dataclass

# Z_METADATA's PLModelVersion: 13xxx = Photos 5 (macOS 10.15) ... 19xxx = Photos 11 (macOS 26)
KNOWN_MODELS = range(13000, 20000)


class SchemaError(Exception):
    """The database's schema cannot be read at all (its first page is damaged), or it holds no
    asset table: not a Photos 5+ library."""


@dataclass(frozen=True)
class Join:
    """A Core Data many-to-many join table: `left` names the owning row (album, asset attributes),
    `right` the row it holds (asset, keyword)."""
    table: str
    left: str
    right: str


class Schema:
    def __init__(self, db: sqlite3.Connection, notes: list[str], skipped: list[str]):
        self.db, self.notes, self.skipped = db, notes, skipped
        try:
            names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        except sqlite3.DatabaseError as e:
            raise SchemaError(f"its schema cannot be read ({e})") from None
        self.tables = {n.upper(): n for n in names}
        self._columns: dict[str, set[str]] = {}
        self.asset = next((self.tables[t] for t in ("ZASSET", "ZGENERICASSET") if t in self.tables), None)
        if self.asset is None:
            raise SchemaError("no ZASSET or ZGENERICASSET table: not a library of Photos 5 or later")
        self.entities = self._entities()
        self.model = self._model_version()
        self.album_join = self._join("Album", "ALBUMS", "Asset", "ASSETS", "album membership")
        self.keyword_join = self._join("AdditionalAssetAttributes", "ASSETATTRIBUTES", "Keyword", "KEYWORDS",
                                       "keywords")
        faces = self.columns("ZDETECTEDFACE")
        self.faces = next(((a, p) for a, p in (("ZASSETFORFACE", "ZPERSONFORFACE"), ("ZASSET", "ZPERSON"))
                           if a in faces and p in faces), None)
        cols = self.columns(self.asset)
        self.edited = next((c for c in ("ZADJUSTMENTSSTATE", "ZHASADJUSTMENTS") if c in cols), None)

    # -- what is there ------------------------------------------------------------------------------
    def has(self, table: str) -> bool:
        return table.upper() in self.tables

    def columns(self, table: str) -> set[str]:
        """The table's column names, upper case; empty when there is no such table."""
        key = table.upper()
        if key not in self._columns:
            real = self.tables.get(key)
            try:
                self._columns[key] = {r[1].upper() for r in self.db.execute(f'PRAGMA table_info("{real}")')} \
                    if real else set()
            except sqlite3.DatabaseError:
                self._columns[key] = set()
        return self._columns[key]

    def col(self, table: str, column: str, alias: str = "") -> str:
        """`alias.column` when the table has it, else NULL (said once in `skipped`)."""
        if column in self.columns(table):
            return f"{alias}.{column}" if alias else column
        if self.has(table):
            what = f"{self.tables[table.upper()]}.{column} (column missing)"
            if what not in self.skipped:
                self.skipped.append(what)
        return "NULL"

    def need(self, table: str, *columns: str) -> bool:
        """Whether the table is there with these columns (what is missing goes to `skipped`)."""
        if not self.has(table):
            self.skipped.append(f"{table} (table missing)")
            return False
        missing = [c for c in columns if c not in self.columns(table)]
        if missing:
            self.skipped.append(f"{self.tables[table.upper()]} (no {', '.join(missing)})")
            return False
        return True

    @property
    def photos_version(self) -> int | None:
        """Photos 5 .. 11 from the model version, when it is one trove knows."""
        return self.model // 1000 - 8 if self.model in KNOWN_MODELS else None

    # -- Core Data's bookkeeping ----------------------------------------------------------------------
    def _entities(self) -> dict[str, int]:
        if not self.has("Z_PRIMARYKEY"):
            self.notes.append("no Z_PRIMARYKEY table: join tables found by their shape")
            return {}
        try:
            return {name: ent for ent, name in self.db.execute("SELECT Z_ENT, Z_NAME FROM Z_PRIMARYKEY")
                    if isinstance(ent, int) and isinstance(name, str)}
        except sqlite3.DatabaseError as e:
            self.notes.append(f"Z_PRIMARYKEY unreadable ({e}): join tables found by their shape")
            return {}

    def _model_version(self) -> int | None:
        model = None
        try:
            row = self.db.execute("SELECT Z_PLIST FROM Z_METADATA ORDER BY Z_VERSION DESC LIMIT 1").fetchone() \
                if self.has("Z_METADATA") else None
            if row and isinstance(row[0], bytes):
                value = plistlib.loads(row[0]).get("PLModelVersion")
                model = int(value) if isinstance(value, (int, str)) and str(value).isdigit() else None
        except (sqlite3.DatabaseError, plistlib.InvalidFileException, ValueError, AttributeError, TypeError):
            model = None
        if model is None:
            self.notes.append("the library's model version (Z_METADATA) is unreadable: reading what the tables hold")
        elif model not in KNOWN_MODELS:
            self.notes.append(f"model version {model} is not one trove was tested with (Photos 5 to 11, "
                              f"{KNOWN_MODELS.start}..{KNOWN_MODELS.stop - 1}): reading what the tables hold")
        return model

    def _join(self, left_name: str, left_rel: str, right_name: str, right_rel: str, what: str) -> Join | None:
        """Z_<left><RIGHT_REL>(Z_<left><LEFT_REL>, Z_<right><RIGHT_REL>), with the entity numbers
        of Z_PRIMARYKEY; else the one table of that shape in the schema."""
        lnum, rnum = self.entities.get(left_name), self.entities.get(right_name)
        if lnum is not None and rnum is not None:
            table, left, right = f"Z_{lnum}{right_rel}", f"Z_{lnum}{left_rel}", f"Z_{rnum}{right_rel}"
            if {left, right} <= self.columns(table):
                return Join(self.tables[table.upper()], left, right)
        shaped = []
        for upper, real in sorted(self.tables.items()):
            m = re.fullmatch(rf"Z_(\d+){right_rel}", upper)
            if not m:
                continue
            cols = self.columns(real)
            rights = sorted(c for c in cols if re.fullmatch(rf"Z_\d+{right_rel}", c))
            if f"Z_{m.group(1)}{left_rel}" in cols and rights:
                preferred = next((c for c in rights if rnum is not None and c == f"Z_{rnum}{right_rel}"), rights[0])
                shaped.append(Join(real, f"Z_{m.group(1)}{left_rel}", preferred))
        if not shaped:
            self.skipped.append(f"{what} (no join table Z_<n>{right_rel} found)")
            return None
        if lnum is not None and rnum is not None:
            self.notes.append(f"Z_PRIMARYKEY's entity numbers do not match the tables: {what} read from "
                              f"{shaped[0].table} (found by its shape)")
        if len(shaped) > 1:
            self.notes.append(f"several tables look like the {what} join: {', '.join(j.table for j in shaped)}; "
                              f"reading {shaped[0].table}")
        return shaped[0]
