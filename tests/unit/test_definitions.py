"""The code location loads, and every asset hangs off the landing files."""

from __future__ import annotations

import dagster as dg
import pytest

from pipelines.build import build_defs
from pipelines.jobs import PROVINCE_JOB_NAME
from pipelines.settings import Settings


def _graph(tmp_path):
    defs = build_defs(Settings(warehouse_url=str(tmp_path / "w.duckdb"), landing_root=tmp_path))
    return defs, defs.resolve_asset_graph()


def test_definitions_load_with_job_and_checks(tmp_path):
    defs, graph = _graph(tmp_path)
    assert defs.resolve_job_def(PROVINCE_JOB_NAME) is not None
    assert defs.resolve_sensor_def("landing_folder_sensor").job_name == PROVINCE_JOB_NAME
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    for expected in [
        "raw/persons",
        "staging/hamlets",
        "quality/record_issues",
        "planning/hamlet_compliance",
        "planning/merger_assignments",
        "marts/merged_units",
        "marts/merger_options",
    ]:
        assert expected in keys
    checks = {k.name for k in graph.asset_check_keys}
    assert {"hamlets_suite", "persons_suite"} <= checks
    blocking = {
        spec.key.name
        for checks_def in defs.asset_checks or []
        for spec in checks_def.check_specs
        if spec.blocking
    }
    assert "hamlets_suite" in blocking
    reconciled = {
        spec.asset_key.to_user_string()
        for checks_def in defs.asset_checks or []
        for spec in checks_def.check_specs
        if spec.name == "rows_reconcile" and spec.blocking
    }
    assert reconciled == {
        "staging/communes",
        "staging/hamlets",
        "staging/households",
        "staging/persons",
    }


@pytest.mark.parametrize(
    ("url", "kind"),
    [("duckdb:///{tmp}/w.duckdb", "duckdb"), ("postgresql+psycopg2://u@localhost/db", "postgres")],
)
def test_asset_kinds_name_the_configured_warehouse(tmp_path, url, kind):
    settings = Settings(warehouse_url=url.format(tmp=tmp_path), landing_root=tmp_path)
    graph = build_defs(settings).resolve_asset_graph()
    kinds = [graph.get(key).kinds for key in graph.get_all_asset_keys()]
    stored = [k for k in kinds if k & {"duckdb", "postgres"}]
    assert len(stored) > 20
    assert all(kind in k and len(k & {"duckdb", "postgres"}) == 1 for k in stored)


def test_every_asset_is_reachable_from_the_landing_sources(tmp_path):
    _, graph = _graph(tmp_path)
    sources = {k for k in graph.get_all_asset_keys() if k.path[0] == "landing"}
    assert len(sources) == 5
    reachable = set(sources)
    frontier = list(sources)
    while frontier:
        for child in graph.get(frontier.pop()).child_keys:
            if child not in reachable:
                reachable.add(child)
                frontier.append(child)
    unreachable = set(graph.get_all_asset_keys()) - reachable
    assert not unreachable, sorted(k.to_user_string() for k in unreachable)


def test_module_entry_point_reads_the_environment(monkeypatch, tmp_path):
    """``dagster dev`` loads ``pipelines.definitions``: its resources come from the
    HAMLETS_* variables, not from the defaults."""
    landing_root, warehouse_file = tmp_path / "landing", tmp_path / "w.duckdb"
    monkeypatch.setenv("HAMLETS_LANDING_ROOT", str(landing_root))
    monkeypatch.setenv("HAMLETS_WAREHOUSE_URL", f"duckdb:///{warehouse_file}")
    import importlib

    import pipelines.definitions as entry

    entry = importlib.reload(entry)
    resources = entry.defs.resources
    assert resources["warehouse"].path == warehouse_file
    assert resources["landing"].path == landing_root
    assert defs_job_names(entry.defs) >= {PROVINCE_JOB_NAME}


def defs_job_names(defs: dg.Definitions) -> set[str]:
    return {job.name for job in defs.resolve_all_job_defs()}
