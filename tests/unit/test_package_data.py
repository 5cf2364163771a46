"""The project runs from an installed wheel: no module finds a file through its own path.

A path built from ``__file__`` (``Path(__file__).parents[2] / "config"``) points into
the checkout; installed, the file is elsewhere or absent. Data files are package data
read with ``importlib.resources``; the wheel itself is installed and run by
``make wheel-check`` in CI.
"""

from __future__ import annotations

import re
from pathlib import Path

from hamlets_config import data_path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("assets", "expectations", "geodata", "hamlets_config", "pipelines", "synthetic")
MODULE_PATH = re.compile(r"__file__")


def test_no_module_reads_data_through_its_own_path() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if MODULE_PATH.search(line)
    ]
    assert offenders == [], "read data with importlib.resources:\n" + "\n".join(offenders)


def test_every_data_file_the_code_names_is_declared_package_data() -> None:
    """Each file under hamlets_config matches a package-data pattern in pyproject."""
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    declared = re.search(r'^"hamlets_config" = \[(.*)\]$', pyproject, re.M)
    assert declared is not None, "hamlets_config has no package-data entry"
    patterns = re.findall(r'"\*(\.[a-z]+)"', declared.group(1))
    shipped = [p for p in (ROOT / "hamlets_config").iterdir() if p.suffix != ".py" and p.is_file()]
    assert shipped, "hamlets_config ships no data files"
    assert sorted({p.suffix for p in shipped} - set(patterns)) == []
    for name in ("rules_profiles.yaml", "deadlines.yaml", "de_an_xa.docx", "dagster.local.yaml"):
        assert data_path(name).is_file()
