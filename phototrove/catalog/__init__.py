"""The catalog package: the schema, its migrations, and every query trove runs on catalog.db."""
from __future__ import annotations

from .core import Catalog
from .health import CatalogDamaged, CatalogError, explain
from .records import Location, duration_text, location_label, photo_flags
from .schema import MIGRATIONS, SCHEMA_VERSION
from .sql import now_iso

__all__ = ["Catalog", "CatalogDamaged", "CatalogError", "explain", "Location", "duration_text", "location_label", "photo_flags", "MIGRATIONS", "SCHEMA_VERSION", "now_iso"]
