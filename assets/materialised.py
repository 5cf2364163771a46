"""Materialisation metadata every warehouse-table asset reports, in Dagster's own keys.

The IO manager adds it to every DataFrame an asset returns; the few assets that write
their tables themselves (and yield ``MaterializeResult``) add it with :func:`row_count`,
so the UI's row-count chart is there for every table, per province.
"""

from __future__ import annotations

ROW_COUNT = "dagster/row_count"


def row_count(rows: int) -> dict[str, int]:
    """``dagster/row_count``: the rows this materialisation wrote for the province (for
    a mart, its publication: earlier publications stay beside it)."""
    return {ROW_COUNT: int(rows)}
