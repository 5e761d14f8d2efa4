"""ARCHITECTURE.md's rules, checked: imports point one way and only the UI imports Streamlit."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "qmsprint"
MODULES = sorted(p for p in PKG.rglob("*.py") if "__pycache__" not in p.parts)


def imported_modules(path: Path) -> set[str]:
    """Top-level and qmsprint-internal module names imported anywhere in a file."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def layer(path: Path) -> str:
    rel = path.relative_to(PKG)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_only_the_ui_imports_streamlit(path):
    if layer(path) == "ui":
        return
    assert not any(m == "streamlit" or m.startswith("streamlit.") for m in imported_modules(path)), (
        f"{path.relative_to(ROOT)} imports streamlit; only qmsprint/ui and app.py may"
    )


# Lower layers must not reach up: layer -> qmsprint modules it must never import.
FORBIDDEN = {
    "data": {"models", "experiments", "effects", "decide", "pipeline", "bundle", "report", "ui", "cli", "serve"},
    "models": {
        "data",
        "experiments",
        "effects",
        "decide",
        "pipeline",
        "bundle",
        "report",
        "ui",
        "cli",
        "serve",
        "spec",
    },
    "experiments": {"decide", "pipeline", "bundle", "report", "ui", "cli", "serve"},
    "effects": {"decide", "pipeline", "bundle", "report", "ui", "cli", "serve"},
    "decide": {"pipeline", "bundle", "report", "ui", "cli", "serve"},
    "spec": {"data", "models", "experiments", "pipeline", "bundle", "ui", "cli"},
    "errors": {"spec", "data", "models", "experiments", "pipeline", "bundle", "ui", "cli"},
}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_point_one_way(path):
    banned = FORBIDDEN.get(layer(path), set())
    used = {m.split(".")[1] for m in imported_modules(path) if m.startswith("qmsprint.") and m.count(".") >= 1}
    assert not (used & banned), f"{path.relative_to(ROOT)} imports {sorted(used & banned)} against ARCHITECTURE.md"


def test_every_module_in_the_architecture_table_exists():
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    table = text.split("## Modules", 1)[1].split("## Contracts", 1)[0]
    names = [line.split("`")[1] for line in table.splitlines() if line.startswith("| `")]
    assert names
    for name in names:
        target = PKG / name
        assert target.exists(), f"ARCHITECTURE.md lists {name}, which does not exist"
