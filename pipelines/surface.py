"""What the Dagster UI says about each asset, derived from the data contracts.

Every asset that is a warehouse table (``["marts", "hamlets"]`` is ``marts.hamlets``)
takes from its contract in ``expectations.schemas``: a description saying what a row is,
how it is built and who reads it; ``dagster/column_schema`` (the configured backend's
column types, each column's description and Vietnamese header, personal columns tagged,
never a value); ``dagster/table_name``; and the configured warehouse as its kind. Every
asset takes its group's owners. The stage modules (``assets/*/defs.py``) declare only
their wiring, so a column or a description changes in the contract and nowhere else.

The README's data dictionary is generated here from the same contracts:
``python -m pipelines.surface README.md`` rewrites it, and a test fails while it is stale.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import dagster as dg

from expectations.schemas import (
    DUCKDB_TYPES,
    LAYERS,
    POSTGRES_TYPES,
    RESTRICTED_LAYERS,
    TABLES,
    Field,
    Table,
)

# Who answers for each group's assets (the UI's owner filter and alerts), in one place.
OWNERS: dict[str, tuple[str, ...]] = {
    "landing": ("team:data-engineering",),
    "raw": ("team:data-engineering",),
    "staging": ("team:data-engineering",),
    "quality": ("team:data-unit",),
    "national": ("team:data-unit",),
    "planning": ("team:planning",),
    "marts": ("team:planning",),
    "progress": ("team:planning",),
    "exports": ("team:planning",),
}
# Who reads each layer's tables (README, "Who uses it"; the warehouse roles).
READERS: dict[str, str] = {
    "raw": "data engineers, tracing a value back to its file and row",
    "staging": "the quality and planning stages; data engineers and the police/data unit "
    "(role hamlets_data_unit)",
    "quality": "the police/data unit (role hamlets_data_unit), who correct the records; "
    "planning counts only the clean ones",
    "planning": "the merger engine and the marts; planners through the marts, the review "
    "notebook and `hamlets decide`",
    "marts": "planners (provincial Department of Home Affairs, commune People's Committees; "
    "role hamlets_planner) and the exports",
    "meta": "the pipeline on start, which applies pending migrations "
    "(assets/warehouse/migrations.py); engineers checking a warehouse's version",
}
# Per warehouse backend (``Warehouse.kind``): Dagster's kind (its icon) and column types.
WAREHOUSES: dict[str, tuple[str, dict[str, str]]] = {
    "duckdb": ("duckdb", DUCKDB_TYPES),
    "postgresql": ("postgres", POSTGRES_TYPES),
}
WAREHOUSE_KINDS = frozenset(kind for kind, _ in WAREHOUSES.values())
PERSONAL_TAG = "personal"
DICTIONARY_START = "<!-- data-dictionary:start -->"
DICTIONARY_END = "<!-- data-dictionary:end -->"
DICTIONARY_HEADER = (
    "| column | type (DuckDB / PostgreSQL) | Vietnamese header | personal | description |"
)
REFRESH_COMMAND = ".venv/bin/python -m pipelines.surface README.md"


def contract_of(key: dg.AssetKey) -> Table | None:
    """The contract of the warehouse table an asset is, or None (files, landing)."""
    return TABLES.get(".".join(key.path))


def _rules(f: Field) -> list[str]:
    """The value rules a field's contract states, in words."""
    rules = []
    if f.allowed_values:
        rules.append("one of " + ", ".join(f.allowed_values))
    if f.pattern:
        rules.append(f"matches {f.pattern}")
    if f.min_value is not None:
        rules.append(f"at least {f.min_value:g}")
    if f.max_value is not None:
        rules.append(f"at most {f.max_value:g}")
    return rules


def column_schema(table: Table, warehouse: str) -> dg.TableSchema:
    """The table's columns as the warehouse stores them; personal ones tagged."""
    _, types = WAREHOUSES[warehouse]
    key = table.primary_key
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                f.name,
                types[f.type],
                description=f"{f.label_vi}: {f.description}",
                constraints=dg.TableColumnConstraints(
                    nullable=f.name not in table.required, other=_rules(f)
                ),
                tags={PERSONAL_TAG: "true"} if f.is_personal else {},
            )
            for f in table.fields
        ],
        constraints=dg.TableConstraints(other=[f"primary key ({', '.join(key)})"] if key else []),
    )


def _row(table: Table) -> str:
    return f" One row per {', '.join(table.primary_key)}." if table.primary_key else ""


def asset_description(table: Table, how: str | None = None) -> str:
    """What a row is, how the asset builds it (its own text), who reads it, and where
    its columns are described."""
    personal = table.personal_columns
    privacy = (
        f" Personal columns (restricted, never published): {', '.join(personal)}."
        if personal
        else ""
    )
    parts = [
        f"{table.description.rstrip('.')}.{_row(table)}",
        *([how.strip()] if how and how.strip() else []),
        f"Read by {READERS[table.layer]}.",
        f"{len(table.columns)} columns, described in the column schema and in the README's "
        f'"Data dictionary" ({table.qualified_name}).{privacy}',
    ]
    return "\n\n".join(parts)


def describe(spec: dg.AssetSpec, warehouse: str) -> dg.AssetSpec:
    """One asset's spec with its owners and, for a warehouse table, its description,
    column schema and the configured warehouse as kind (instead of any other)."""
    owners = OWNERS.get(spec.group_name or "")
    if owners is None:
        raise ValueError(
            f"asset {spec.key.to_user_string()}: group {spec.group_name!r} has no owners in "
            "pipelines.surface.OWNERS"
        )
    table = contract_of(spec.key)
    if table is None:
        return spec.replace_attributes(owners=list(owners))
    kind, _ = WAREHOUSES[warehouse]
    return spec.replace_attributes(
        description=asset_description(table, spec.description),
        owners=list(owners),
        kinds=(set(spec.kinds) - WAREHOUSE_KINDS) | {kind},
        tags={k: v for k, v in spec.tags.items() if not k.startswith("dagster/kind/")},
        metadata={
            **spec.metadata,
            "dagster/table_name": table.qualified_name,
            "dagster/column_schema": column_schema(table, warehouse),
        },
    )


def with_surface(assets: Sequence, warehouse: str) -> list:
    """The assets as the UI shows them for a warehouse of kind ``warehouse``."""
    if warehouse not in WAREHOUSES:
        raise ValueError(f"unknown warehouse kind {warehouse!r}; known: {sorted(WAREHOUSES)}")
    return list(dg.map_asset_specs(lambda spec: describe(spec, warehouse), assets))


def _cell(text: str) -> str:
    """Text as one Markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def _dictionary_row(table: Table, f: Field) -> str:
    name = f"`{f.name}`" + (" (key)" if f.name in table.primary_key else "")
    types = f"{DUCKDB_TYPES[f.type]} / {POSTGRES_TYPES[f.type]}"
    rules = _rules(f)
    about = f.description.rstrip(".") + "." + (f" Rule: {'; '.join(rules)}." if rules else "")
    personal = "yes" if f.is_personal else ""
    return f"| {name} | {_cell(types)} | {_cell(f.label_vi)} | {personal} | {_cell(about)} |"


def data_dictionary_markdown() -> str:
    """The README's data dictionary: every table of every layer, with each column's
    warehouse types, Vietnamese header, personal flag and description."""
    lines: list[str] = []
    for layer in LAYERS:
        tables = [t for t in TABLES.values() if t.layer == layer]
        restricted = (
            "Restricted layer: personal data may be here and stays here."
            if layer in RESTRICTED_LAYERS
            else "No personal data (the contracts refuse a personal column here)."
        )
        columns = sum(len(t.columns) for t in tables)
        lines += [
            f"### {layer}",
            "",
            f"Read by {READERS[layer]}. {restricted}",
            "",
            f"<details><summary>{len(tables)} tables, {columns} columns</summary>",
            "",
        ]
        for t in tables:
            lines += [
                f"#### `{t.qualified_name}`",
                "",
                f"{_cell(t.description).rstrip('.')}.{_row(t)}",
                "",
                DICTIONARY_HEADER,
                "|---|---|---|---|---|",
                *(_dictionary_row(t, f) for f in t.fields),
                "",
            ]
        lines += ["</details>", ""]
    return "\n".join(lines)


def dictionary_section(readme: str) -> str:
    """The generated part of a README: the text between the two markers."""
    try:
        start = readme.index(DICTIONARY_START) + len(DICTIONARY_START)
        end = readme.index(DICTIONARY_END, start)
    except ValueError:
        raise ValueError(
            f"the README has no data dictionary markers ({DICTIONARY_START} … "
            f"{DICTIONARY_END}); add them where the section belongs"
        ) from None
    return readme[start:end].strip("\n")


def with_dictionary(readme: str) -> str:
    """The README with its data dictionary section regenerated."""
    dictionary_section(readme)  # both markers are there
    start = readme.index(DICTIONARY_START) + len(DICTIONARY_START)
    end = readme.index(DICTIONARY_END, start)
    return f"{readme[:start]}\n{data_dictionary_markdown().strip()}\n{readme[end:]}"


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m pipelines.surface README.md``: rewrite the README's data dictionary."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print(f"usage: {REFRESH_COMMAND}", file=sys.stderr)
        return 2
    path = Path(args[0])
    text = path.read_text(encoding="utf-8")
    fresh = with_dictionary(text)
    if fresh != text:
        path.write_text(fresh, encoding="utf-8")
        print(f"{path}: data dictionary rewritten from the contracts")
    else:
        print(f"{path}: data dictionary already up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
