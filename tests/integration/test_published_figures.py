"""The published figures of a small province, snapshotted, so a refactor or a speed-up
that changes any of them shows in review (issue 23's "no behaviour change").

``tests/fixtures/published_figures.json`` holds every ``marts.*_current`` view of the
shared run (the ``published`` fixture: seed 11, 1,500 households, 4 communes, planted
errors) without what differs between two runs of the same files: run ids, timestamps,
the report date and what follows from today's date, and geometries (their areas are
kept). A deliberate change refreshes it:
``HAMLETS_UPDATE_SNAPSHOT=1 pytest tests/integration/test_published_figures.py``, and the
diff of the JSON file is reviewed with the change. Without that variable it is never written.
"""

from __future__ import annotations

import difflib
import json
import math
import os
from pathlib import Path

import pandas as pd

from assets.warehouse import Warehouse

SNAPSHOT = Path(__file__).resolve().parents[1] / "fixtures" / "published_figures.json"
UPDATE_VARIABLE = "HAMLETS_UPDATE_SNAPSHOT"
# Differ between two runs of the same landing files, or with the day the test runs.
RUN_COLUMNS = {"run_id", "published_at", "report_date", "late_milestones", "geometry"}
DATED_VIEWS = {"progress_timeline_current"}  # weeks counted back from today
DECIMALS = 6


def _value(value: object) -> object:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float):
        return round(value, DECIMALS)
    if hasattr(value, "item"):  # numpy scalars
        return _value(value.item())
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_value(v) for v in value]
    return value if isinstance(value, bool | int | str) else str(value)


def published_figures(warehouse: Warehouse) -> dict[str, list[dict[str, object]]]:
    """Every current mart view as sorted rows of plain values."""
    figures = {}
    for view in sorted(warehouse.table_names("marts")):
        if not view.endswith("_current") or view in DATED_VIEWS:
            continue
        frame = warehouse.read_table(f"marts.{view}")
        frame = pd.DataFrame(frame.drop(columns=[c for c in RUN_COLUMNS if c in frame]))
        rows = [
            {column: _value(value) for column, value in row.items()}
            for row in frame.to_dict(orient="records")
        ]
        figures[view] = sorted(rows, key=lambda row: json.dumps(row, sort_keys=True))
    return figures


def test_published_figures_match_the_snapshot(published):
    settings, report = published
    assert report.success, report.errors
    figures = published_figures(Warehouse(settings.warehouse_url))
    text = json.dumps(figures, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    if os.environ.get(UPDATE_VARIABLE):
        SNAPSHOT.write_text(text, encoding="utf-8")
    expected = SNAPSHOT.read_text(encoding="utf-8")
    assert sum(len(rows) for rows in figures.values()) > 0
    diff = "".join(
        difflib.unified_diff(
            expected.splitlines(keepends=True),
            text.splitlines(keepends=True),
            "published_figures.json",
            "this run",
            n=1,
        )
    )
    assert not diff, (
        "the published figures changed; if deliberate, refresh with "
        f"{UPDATE_VARIABLE}=1 and review the diff:\n{diff[:6000]}"
    )
