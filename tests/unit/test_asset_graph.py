"""A snapshot of the asset graph's specs, so an accidental change shows in review.

``tests/asset_graph.json`` holds, per asset, its group, dependencies, partitions, owners,
kinds and checks, as dagster-open-platform snapshots its definitions. A deliberate change
refreshes it: ``HAMLETS_UPDATE_SNAPSHOT=1 pytest tests/unit/test_asset_graph.py``, and the diff
of the JSON file is reviewed with the change. Without that variable it is never written.
"""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path

import dagster as dg

from pipelines.build import build_defs
from pipelines.settings import Settings

SNAPSHOT = Path(__file__).resolve().parents[1] / "asset_graph.json"
UPDATE_VARIABLE = "HAMLETS_UPDATE_SNAPSHOT"


def _partitions(partitions_def: dg.PartitionsDefinition | None) -> str | None:
    if partitions_def is None:
        return None
    return f"{type(partitions_def).__name__} ({len(partitions_def.get_partition_keys())} keys)"


def asset_graph_specs(graph) -> dict[str, dict]:
    """Each asset's specs, keyed by its asset key, every list sorted."""
    specs = {}
    for key in sorted(graph.get_all_asset_keys()):
        node = graph.get(key)
        checks = [graph.get(check) for check in graph.get_check_keys_for_assets([key])]
        specs[key.to_user_string()] = {
            "group": node.group_name,
            "deps": sorted(parent.to_user_string() for parent in node.parent_keys),
            "partitions": _partitions(node.partitions_def),
            "owners": sorted(node.owners),
            "kinds": sorted(node.kinds),
            "checks": {
                check.key.name: {
                    "blocking": check.blocking,
                    "partitions": _partitions(check.partitions_def),
                    "additional_deps": sorted(
                        parent.to_user_string()
                        for parent in check.parent_entity_keys
                        if parent != key
                    ),
                }
                for check in sorted(checks, key=lambda c: c.key.name)
            },
        }
    return specs


def test_asset_graph_matches_the_snapshot(tmp_path):
    settings = Settings(warehouse_url=f"duckdb:///{tmp_path}/w.duckdb", landing_root=tmp_path)
    current = json.dumps(
        asset_graph_specs(build_defs(settings).resolve_asset_graph()),
        indent=2,
        ensure_ascii=False,
    )
    current += "\n"
    if os.environ.get(UPDATE_VARIABLE) == "1":
        SNAPSHOT.write_text(current, encoding="utf-8")
    recorded = SNAPSHOT.read_text(encoding="utf-8") if SNAPSHOT.exists() else ""
    diff = "".join(
        difflib.unified_diff(
            recorded.splitlines(keepends=True),
            current.splitlines(keepends=True),
            fromfile=f"tests/{SNAPSHOT.name} (recorded)",
            tofile="the asset graph now",
        )
    )
    assert current == recorded, (
        f"the asset graph changed; if that is intended, refresh the snapshot with "
        f"{UPDATE_VARIABLE}=1 and review its diff:\n{diff}"
    )
