"""The code location loads, and every asset hangs off the landing files."""

from __future__ import annotations

import dagster as dg

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


def test_module_entry_point_is_a_definitions_object(monkeypatch, tmp_path):
    monkeypatch.setenv("HAMLETS_LANDING_DIR", str(tmp_path))
    monkeypatch.setenv("HAMLETS_WAREHOUSE_URL", str(tmp_path / "w.duckdb"))
    import importlib

    import pipelines.definitions as entry

    entry = importlib.reload(entry)
    assert isinstance(entry.defs, dg.Definitions)
