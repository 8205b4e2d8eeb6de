"""The shape of the package: imports point down the flow only, and SQL lives in the catalog.

Layers, top to bottom (a module may import from its own unit or from a lower layer):
__main__ -> cli -> describe -> pipeline/serve -> crawler/search/output -> embed/ingest -> media -> library ->
catalog/progress -> errors. Inside ingest, one source family (takeout/, lightroom/, ...) never
imports another; they share base, walk, archives and readonly_db.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "phototrove"
LAYERS = [
    {"errors"},
    {"catalog", "progress"},
    {"library"},
    {"media"},
    {"embed", "ingest"},
    {"crawler", "search", "output"},
    {"pipeline", "serve"},
    {"describe"},
    {"cli", "__init__"},
    {"__main__"},
]
LAYER = {unit: n for n, units in enumerate(LAYERS) for unit in units}


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py"))


def dotted(path: Path) -> list[str]:
    parts = ["phototrove", *path.relative_to(PACKAGE).with_suffix("").parts]
    return parts[:-1] if parts[-1] == "__init__" else parts


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of every phototrove import in the file, lazy ones included."""
    here = dotted(path)
    package = here if path.name == "__init__.py" else here[:-1]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "phototrove"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            if name.split(".")[0] != "phototrove":
                continue
            if node.module is None or name.count(".") < 1:  # `from . import x`: x is the module
                out += [(node.lineno, f"{name}.{a.name}") for a in node.names]
            else:
                out.append((node.lineno, name))
    return out


def unit(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def layout_problems() -> list[str]:
    problems = []
    for path in modules():
        rel = path.relative_to(PACKAGE)
        own = dotted(path)
        own_unit = rel.parts[0].removesuffix(".py")
        if own_unit not in LAYER:
            problems.append(f"{rel}: not placed in a layer (add it to LAYERS in {Path(__file__).name})")
            continue
        for line, target in imports(path):
            t_unit = unit(target)
            if t_unit not in LAYER:
                problems.append(f"{rel}:{line}: imports {target}, which is in no layer")
            elif t_unit != own_unit and LAYER[t_unit] >= LAYER[own_unit]:
                direction = "sideways" if LAYER[t_unit] == LAYER[own_unit] else "up"
                problems.append(f"{rel}:{line}: imports {target} ({direction}: {own_unit} -> {t_unit})")
            elif own_unit == t_unit == "ingest":
                tp = target.split(".")
                family = own[2] if len(own) > 3 else None   # phototrove.ingest.<family>.<module>
                other = tp[2] if len(tp) > 3 else None
                if other is not None and other != family:
                    problems.append(f"{rel}:{line}: imports {target} (one source family into another)")
    return problems


def test_imports_point_down_the_flow():
    assert layout_problems() == []


def test_the_import_check_can_fail(tmp_path, monkeypatch):
    """The check itself sees an upward, a sideways and a cross-family import."""
    fake = tmp_path / "phototrove"
    for rel, text in {
        "catalog/__init__.py": "from ..search import index\n",          # up
        "crawler.py": "def f():\n    from .search.query import run_search\n",  # sideways, lazy
        "ingest/takeout/source.py": "from ..lightroom.pairing import Plan\n",   # family -> family
        "ingest/base.py": "from ..media.kinds import is_junk\n",          # fine
    }.items():
        (fake / rel).parent.mkdir(parents=True, exist_ok=True)
        (fake / rel).write_text(text)
    monkeypatch.setattr(__import__(__name__), "PACKAGE", fake)
    found = layout_problems()
    assert len(found) == 3, found
    assert any("up: catalog -> search" in p for p in found)
    assert any("sideways: crawler -> search" in p for p in found)
    assert any("one source family into another" in p for p in found)


SQL = re.compile(r"""["'](?:SELECT|INSERT|UPDATE|DELETE|CREATE|ALTER|DROP|REPLACE)\s""")
# Other programs' databases, read only: Lightroom's catalog and caches (and later Apple Photos)
FOREIGN_DATABASES = ("ingest/lightroom/", "ingest/applephotos/", "ingest/readonly_db.py")


@pytest.mark.parametrize("path", [p for p in modules() if "catalog" not in p.relative_to(PACKAGE).parts],
                         ids=lambda p: str(p.relative_to(PACKAGE)))
def test_sql_on_the_catalog_lives_in_the_catalog_package(path):
    rel = str(path.relative_to(PACKAGE))
    if rel.startswith(FOREIGN_DATABASES):
        return
    text = path.read_text(encoding="utf-8")
    assert not SQL.search(text), f"{rel} speaks SQL; move the query into phototrove/catalog/"
    assert ".db.execute" not in text and ".db:" not in text, f"{rel} uses the catalog's connection directly"
