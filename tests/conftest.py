"""Shared fixtures: a small synthetic province and a full run of the graph on it."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from geodata.synthetic import synthesise_province
from pipelines.runner import RunReport, run_province
from pipelines.settings import Settings

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"


@pytest.fixture(scope="session")
def small_landing(tmp_path_factory) -> Path:
    """A deterministic small province with a few planted record errors."""
    out = tmp_path_factory.mktemp("landing")
    synthesise_province(out, seed=11, households=1500, n_communes=4, error_rate=0.01)
    return out


@pytest.fixture(scope="session")
def published(tmp_path_factory, small_landing) -> tuple[Settings, RunReport]:
    """The whole graph materialised once into a fresh warehouse."""
    warehouse = tmp_path_factory.mktemp("warehouse") / "w.duckdb"
    settings = Settings(warehouse_url=f"duckdb:///{warehouse}", landing_dir=small_landing)
    report = run_province(settings, instance=dg.DagsterInstance.ephemeral())
    return settings, report
