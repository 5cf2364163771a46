"""Imports flow one way between the top-level packages (README, "Layout").

``pipelines`` → ``assets``, ``synthetic`` → ``geodata`` → ``expectations`` →
``hamlets_config``: nothing imports back up, so no package cycle forms. ``synthetic``
(the province generator) sits beside ``assets``: only the entry points and the tests use
it, and ``geodata`` holds geometry, not the generator.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Each package and the packages it may import (its own modules aside).
ALLOWED = {
    "pipelines": {"assets", "synthetic", "geodata", "expectations", "hamlets_config"},
    "assets": {"geodata", "expectations", "hamlets_config"},
    "synthetic": {"geodata", "expectations", "hamlets_config"},
    "geodata": {"expectations", "hamlets_config"},
    "expectations": {"hamlets_config"},
    "hamlets_config": set(),
}


def _imported_packages(path: Path) -> set[str]:
    """Top-level names a module imports, at top level or inside a function."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_every_package_imports_only_the_packages_below_it() -> None:
    wrong = []
    for package, allowed in ALLOWED.items():
        modules = sorted((ROOT / package).rglob("*.py"))
        assert modules, f"{package}/ has no modules"
        for path in modules:
            upward = (_imported_packages(path) & ALLOWED.keys()) - allowed - {package}
            wrong += [f"{path.relative_to(ROOT)} imports {name}" for name in sorted(upward)]
    assert wrong == []


def test_geodata_holds_no_synthetic_data_generator() -> None:
    assert sorted(p.name for p in (ROOT / "geodata").glob("synthetic*")) == []
