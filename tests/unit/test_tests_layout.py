"""Every test module is in tests/unit or tests/integration, never loose in tests/.

A module left in tests/ carries no ``integration`` marker, so ``pytest -m "not
integration"`` (``make test-unit``) would run it, materialisations and all; this test
names it instead (a branch that adds tests/test_x.py in parallel lands there on merge).
"""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_no_test_module_outside_unit_and_integration() -> None:
    stray = sorted(p.name for p in TESTS.glob("test_*.py"))
    assert stray == [], f"move into tests/unit (fast) or tests/integration: {stray}"


def test_unit_and_integration_module_names_do_not_clash() -> None:
    """Test modules are imported by their file name (no __init__.py), so one name twice
    would shadow the other."""
    unit = {p.name for p in (TESTS / "unit").glob("test_*.py")}
    integration = {p.name for p in (TESTS / "integration").glob("test_*.py")}
    assert unit and integration
    assert sorted(unit & integration) == []
