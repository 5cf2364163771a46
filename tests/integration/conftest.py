"""Every test under tests/integration is marked ``integration``.

They materialise the graph, or need PostGIS, a browser, LibreOffice, Spark or the CLI
in a subprocess: ``pytest -m "not integration"`` (``make test-unit``) leaves them out.
"""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the items collected from this folder (the hook sees the whole session's)."""
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.integration)
