"""Publish a province's marts atomically, keeping every earlier publication.

All marts rows of one publication carry its run id, rules profile and time; they are
written in one transaction together with a row in ``marts.publications``, and the
``<mart>_current`` views show, per province, the rows of its latest publication. A run
that fails before or during publishing leaves the previous publication current.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from assets.marts.build import PublishStamp
from assets.warehouse import Session, Warehouse
from expectations.schemas import TABLES

PUBLICATIONS = "marts.publications"


def current_view_sql(mart: str, publications: str = PUBLICATIONS) -> str:
    """A view of ``mart`` holding only each province's latest publication (both backends)."""
    return (
        f"CREATE OR REPLACE VIEW {mart}_current AS SELECT m.* FROM {mart} m JOIN ("
        f"SELECT province_code, max(published_at) AS published_at FROM {publications} "
        "GROUP BY province_code) latest ON m.province_code = latest.province_code "
        "AND m.published_at = latest.published_at"
    )


def publish_marts(
    warehouse: Warehouse,
    tables: dict[str, pd.DataFrame],
    stamp: PublishStamp,
    publications: str = PUBLICATIONS,
    details: Mapping[str, object] | None = None,
) -> None:
    """Write ``tables`` (mart name -> rows, already stamped) as one publication.

    Marts published at another moment than the main ones (the approved plan, after
    planners decide) keep their own ``publications`` table, so each set's current view
    follows its own latest publication. ``details`` fills the publication row's other
    columns (e.g. ``shrink_override``); those not given stay empty.
    """
    contract = TABLES[publications]
    row = stamp.apply(pd.DataFrame(index=[0])).assign(**dict(details or {}))
    empty = {column: None for column in contract.columns if column not in row}
    publication = contract.enforce(row.assign(**empty))
    with warehouse.transaction() as session:
        for name, df in tables.items():
            _write_version(warehouse, session, f"marts.{name}", df, stamp)
        _write_version(warehouse, session, publications, publication, stamp)
        for name in tables:
            session.execute(current_view_sql(f"marts.{name}", publications))


def _write_version(
    warehouse: Warehouse, session: Session, table: str, df: pd.DataFrame, stamp: PublishStamp
) -> None:
    """Add this publication's rows (replacing them if the same run publishes again)."""
    replace = {"province_code": stamp.province_code, "run_id": stamp.run_id}
    warehouse.write_table(table, df, con=session, replace_where=replace)
