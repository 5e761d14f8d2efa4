"""ARCHITECTURE.md's rules, checked: imports point one way, one home per concept, small modules."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "qmsprint"
MODULES = sorted(p for p in PKG.rglob("*.py") if "__pycache__" not in p.parts)
MAX_LINES = 500


def imported_modules(path: Path) -> set[str]:
    """Top-level and qmsprint-internal module names imported anywhere in a file."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            if node.module == "qmsprint":  # from qmsprint import metrics
                names.update(f"qmsprint.{a.name}" for a in node.names)
    return names


def layer(path: Path) -> str:
    rel = path.relative_to(PKG)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def qmsprint_layers(path: Path) -> set[str]:
    return {m.split(".")[1] for m in imported_modules(path) if m.startswith("qmsprint.") and m.count(".") >= 1}


def third_party(path: Path) -> set[str]:
    return {m.split(".")[0] for m in imported_modules(path)}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_only_the_ui_imports_streamlit(path):
    if layer(path) == "ui":
        return
    assert "streamlit" not in third_party(path), f"{path.relative_to(ROOT)} imports streamlit; only qmsprint/ui may"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_only_models_import_pymc(path):
    if layer(path) == "models":
        return
    used = third_party(path) & {"pymc", "pytensor", "nutpie"}
    assert not used, f"{path.relative_to(ROOT)} imports {sorted(used)}; only qmsprint/models may"


UPPER = {"api", "cli", "ui", "serve", "report", "pipeline"}
# layer -> qmsprint layers it must never import (lower layers never reach up)
FORBIDDEN = {
    "words": {"errors", "spec", "metrics", "stats", "data", "models", "experiments", "effects", "results", "decide",
              "health", "design", "diagnosis", "present", "store", *UPPER},
    "errors": {"spec", "metrics", "stats", "data", "models", "experiments", "effects", "results", "decide", "health",
               "design", "diagnosis", "present", "store", *UPPER},
    "stats": {"spec", "metrics", "data", "models", "experiments", "effects", "decide", "health", "design", "diagnosis",
              "present", "store", *UPPER},
    "metrics": {"data", "models", "experiments", "effects", "decide", "health", "design", "diagnosis", "present",
                "store", *UPPER},
    "spec": {"data", "models", "experiments", "effects", "decide", "health", "design", "diagnosis", "present", "store",
             *UPPER},
    "data": {"models", "experiments", "effects", "decide", "health", "design", "diagnosis", "present", "store", *UPPER},
    "models": {"spec", "data", "experiments", "effects", "decide", "health", "design", "diagnosis", "present", "store",
               *UPPER},
    "experiments": {"decide", "health", "design", "diagnosis", "present", "store", *UPPER},
    "effects": {"decide", "health", "design", "diagnosis", "present", "store", *UPPER},
    "decide": {"design", "diagnosis", "present", "store", *UPPER},
    "health": {"design", "diagnosis", "store", *UPPER},
    "design": {"diagnosis", *UPPER},
    "diagnosis": {"design", *UPPER},
    "present": {"store", *UPPER},
    "store": {"present", *UPPER},
    "report": {"api", "cli", "ui", "serve"},
    "api": {"cli", "ui"},
}  # fmt: skip


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_point_one_way(path):
    banned = FORBIDDEN.get(layer(path), set())
    used = qmsprint_layers(path) & banned
    assert not used, f"{path.relative_to(ROOT)} imports {sorted(used)} against ARCHITECTURE.md"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_cli_and_the_ui_work_through_the_api(path):
    if layer(path) not in ("cli", "ui"):
        return
    work = {"data", "experiments", "models", "health", "design", "diagnosis", "store", "pipeline", "report", "effects"}
    used = qmsprint_layers(path) & work
    assert not used, f"{path.relative_to(ROOT)} calls {sorted(used)} directly; go through qmsprint.api"


WRITES = re.compile(
    r"\.to_csv\(|\.to_parquet\(|\.to_netcdf\(|\.write_text\(|\.write_bytes\(|os\.replace\(|os\.rename\("
)


# machine-local caches (not results): the disk cache of compiled models writes its own entries
CACHES = {"models/compile_cache.py"}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_only_the_store_writes_files(path):
    if layer(path) == "store" or str(path.relative_to(PKG)) in CACHES:
        return
    text = path.read_text(encoding="utf-8")
    hits = [ln.strip() for ln in text.splitlines() if WRITES.search(ln) and "to_csv(index=False).encode" not in ln]
    assert not hits, f"{path.relative_to(ROOT)} writes files itself ({hits[:2]}); use qmsprint.store's writers"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_modules_are_small_or_say_why_not(path):
    lines = path.read_text(encoding="utf-8").count("\n")
    if lines <= MAX_LINES:
        return
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    assert "one piece" in doc, (
        f"{path.relative_to(ROOT)} has {lines} lines; split it or say in its docstring why it must be one piece"
    )


def test_every_module_in_the_architecture_table_exists():
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    table = text.split("## Modules", 1)[1].split("## Contracts", 1)[0]
    names = [line.split("`")[1] for line in table.splitlines() if line.startswith("| `")]
    assert names
    for name in names:
        target = PKG / name
        assert target.exists(), f"ARCHITECTURE.md lists {name}, which does not exist"


def test_every_package_is_in_the_architecture_table():
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    table = text.split("## Modules", 1)[1].split("## Contracts", 1)[0]
    listed = {line.split("`")[1].rstrip("/") for line in table.splitlines() if line.startswith("| `")}
    packages = {p.name for p in PKG.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages <= listed, f"packages missing from ARCHITECTURE.md: {sorted(packages - listed)}"
