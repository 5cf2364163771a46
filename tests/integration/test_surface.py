"""The Dagster surface is derived from the contracts: descriptions, owners, kinds, column
schemas and row counts of every stage and mart asset, the checks' failing counts, and
the README's data dictionary."""

from __future__ import annotations

import difflib
from pathlib import Path

import dagster as dg
import pytest

from assets.warehouse import Warehouse
from expectations.schemas import POSTGRES_TYPES, TABLES
from pipelines import surface
from pipelines.build import build_defs
from pipelines.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"
STAGE_GROUPS = ("raw", "staging", "quality", "planning", "marts")
URLS = {"duckdb": "duckdb:///{tmp}/w.duckdb", "postgresql": "postgresql+psycopg2://u@localhost/db"}


def _graph(tmp_path, warehouse: str = "duckdb"):
    url = URLS[warehouse].format(tmp=tmp_path)
    return build_defs(Settings(warehouse_url=url, landing_root=tmp_path)).resolve_asset_graph()


def _table_assets(graph) -> dict[str, object]:
    """Asset nodes that are warehouse tables, by table name."""
    return {
        ".".join(key.path): graph.get(key)
        for key in graph.get_all_asset_keys()
        if ".".join(key.path) in TABLES
    }


def test_every_stage_and_mart_asset_is_a_described_table(tmp_path):
    graph = _graph(tmp_path)
    staged = [k for k in graph.get_all_asset_keys() if graph.get(k).group_name in STAGE_GROUPS]
    assert len(staged) >= 30
    assert [k.to_user_string() for k in staged if ".".join(k.path) not in TABLES] == []
    nodes = _table_assets(graph)
    descriptions = [node.description for node in nodes.values()]
    assert len(set(descriptions)) == len(descriptions), "two assets share a description"
    for name, node in nodes.items():
        contract = TABLES[name]
        assert node.description.startswith(contract.description.rstrip("."))
        assert f"Read by {surface.READERS[contract.layer]}" in node.description
        assert f'"Data dictionary" ({name})' in node.description
        if contract.primary_key:
            assert f"One row per {', '.join(contract.primary_key)}." in node.description
        assert node.metadata["dagster/table_name"] == name


def test_owners_come_from_the_group(tmp_path):
    graph = _graph(tmp_path)
    owners = {graph.get(k).group_name: graph.get(k).owners for k in graph.get_all_asset_keys()}
    assert owners["raw"] == owners["staging"] == ["team:data-engineering"]
    assert owners["quality"] == ["team:data-unit"]
    assert owners["planning"] == owners["marts"] == ["team:planning"]
    assert {g: list(o) for g, o in surface.OWNERS.items() if g in owners} == owners


def test_an_asset_of_a_group_without_owners_is_refused():
    with pytest.raises(ValueError, match="group 'elsewhere' has no owners"):
        surface.describe(dg.AssetSpec(["raw", "communes"], group_name="elsewhere"), "duckdb")


@pytest.mark.parametrize(("warehouse", "kind"), [("duckdb", "duckdb"), ("postgresql", "postgres")])
def test_column_schema_and_kind_follow_the_configured_warehouse(tmp_path, warehouse, kind):
    other = ({"duckdb", "postgres"} - {kind}).pop()
    for name, node in _table_assets(_graph(tmp_path, warehouse)).items():
        contract = TABLES[name]
        assert kind in node.kinds and other not in node.kinds, name
        schema = node.metadata["dagster/column_schema"]
        assert [c.name for c in schema.columns] == list(contract.columns)
        types = [c.type for c in schema.columns]
        if warehouse == "postgresql":
            assert types == [POSTGRES_TYPES[f.type] for f in contract.fields]
        assert [c.description for c in schema.columns] == [
            f"{f.label_vi}: {f.description}" for f in contract.fields
        ]
        required = [c.name for c in schema.columns if not c.constraints.nullable]
        assert required == [c for c in contract.columns if c in contract.required]
    persons = _table_assets(_graph(tmp_path, warehouse))["staging.persons"]
    columns = persons.metadata["dagster/column_schema"].columns
    assert [c.type for c in columns if c.name == "citizen_id"] == (
        ["TEXT"] if warehouse == "postgresql" else ["VARCHAR"]
    )


def test_personal_columns_are_tagged_and_only_they(tmp_path):
    nodes = _table_assets(_graph(tmp_path))
    for name, node in nodes.items():
        columns = node.metadata["dagster/column_schema"].columns
        tagged = {c.name for c in columns if c.tags.get(surface.PERSONAL_TAG) == "true"}
        assert tagged == set(TABLES[name].personal_columns), name
    persons = nodes["staging.persons"].metadata["dagster/column_schema"].columns
    assert {c.name for c in persons if c.tags} == {
        "citizen_id",
        "full_name",
        "birth_date",
        "household_id",
    }
    assert all(not c.tags for n in nodes if n.startswith("marts.") for c in _columns(nodes[n]))


def _columns(node) -> list[dg.TableColumn]:
    return list(node.metadata["dagster/column_schema"].columns)


def _section(text: str) -> str:
    return surface.dictionary_section(text)


def test_readme_data_dictionary_is_the_generated_one():
    written = _section(README.read_text(encoding="utf-8"))
    generated = surface.data_dictionary_markdown().strip("\n")
    diff = "\n".join(
        difflib.unified_diff(
            written.splitlines(), generated.splitlines(), "README.md", "generated", lineterm=""
        )
    )
    assert written == generated, (
        f"the README's data dictionary is stale; run {surface.REFRESH_COMMAND}\n{diff[:3000]}"
    )


def test_data_dictionary_lists_every_column_with_its_header_and_flag():
    text = surface.data_dictionary_markdown()
    for name, contract in TABLES.items():
        assert f"#### `{name}`" in text
        block = text.split(f"#### `{name}`", 1)[1].split("#### ", 1)[0]
        rows = [line for line in block.splitlines() if line.startswith("| `")]
        assert len(rows) == len(contract.columns), name
        for row, field in zip(rows, contract.fields, strict=True):
            cells = [c.strip() for c in row.replace("\\|", "¦").strip("|").split("|")]
            assert len(cells) == 5, row
            assert cells[0].startswith(f"`{field.name}`")
            assert cells[2] == field.label_vi
            assert cells[3] == ("yes" if field.is_personal else "")


def test_refresh_rewrites_a_stale_readme_and_leaves_a_fresh_one(tmp_path, capsys):
    readme = tmp_path / "README.md"
    stale = f"# Title\n\n{surface.DICTIONARY_START}\nold\n{surface.DICTIONARY_END}\n\n## After\n"
    readme.write_text(stale, encoding="utf-8")
    assert surface.main([str(readme)]) == 0
    fresh = readme.read_text(encoding="utf-8")
    assert _section(fresh) == surface.data_dictionary_markdown().strip("\n")
    assert fresh.startswith("# Title\n\n") and fresh.endswith("\n\n## After\n")
    assert surface.main([str(readme)]) == 0
    assert readme.read_text(encoding="utf-8") == fresh
    assert "already up to date" in capsys.readouterr().out
    readme.write_text("# no markers\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no data dictionary markers"):
        surface.main([str(readme)])


@pytest.mark.integration
def test_every_table_materialisation_carries_its_row_count(published, pipeline_instance):
    settings, report = published
    assert report.success, report.failed_steps
    records = pipeline_instance.get_records_for_run(
        run_id=report.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
    ).records
    warehouse = Warehouse(settings.warehouse_url).for_province(report.province_code)
    counted = {}
    for record in records:
        event = record.asset_materialization
        name = ".".join(event.asset_key.path)
        if name not in TABLES:
            continue
        rows, params = warehouse.rows_filter(name)
        if "run_id" in TABLES[name].columns:  # a mart keeps every publication
            rows, params = f"{rows} AND run_id = ?", [*params, report.run_id]
        # The table name is a contract's, never data.
        expected = int(
            warehouse.query(f"SELECT count(*) AS n FROM {name} WHERE {rows}", params)["n"][0]
        )
        assert event.metadata["dagster/row_count"].value == expected, name
        counted[name] = expected
    assert {"raw.persons", "staging.persons", "quality.persons_clean", "marts.hamlets"} <= set(
        counted
    )
    assert counted["staging.persons"] > 1000


@pytest.mark.integration
def test_checks_report_per_province_with_failing_counts(published, pipeline_instance):
    _, report = published
    records = pipeline_instance.get_records_for_run(
        run_id=report.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
    ).records
    evaluations = [r.event_log_entry.dagster_event.event_specific_data for r in records]
    assert len(evaluations) >= 12
    for evaluation in evaluations:
        assert evaluation.partition == report.province_code, evaluation.check_name
        metadata = evaluation.metadata
        if evaluation.check_name.endswith("_suite"):
            assert "unexpected_values" in metadata, evaluation.check_name
        elif evaluation.check_name != "safe_to_publish":
            assert "failing_records" in metadata, evaluation.check_name
            assert metadata["failing_records"].value >= 0
    by_name = {(e.asset_key.to_user_string(), e.check_name): e for e in evaluations}
    # The planted errors of the small province quarantine records: their count is shown.
    quarantine = by_name[("quality/record_issues", "quarantine_share")].metadata
    assert quarantine["failing_records"].value == quarantine["records_with_errors"].value > 0
    assert by_name[("staging/persons", "rows_reconcile")].metadata["failing_records"].value == 0
