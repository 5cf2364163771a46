"""One builder for rows of ``quality.record_issues`` raised by hand-written rules."""

from __future__ import annotations

import numpy as np
import pandas as pd

from expectations.schemas import TABLES


def located(locations: dict[str, pd.Series] | None, mask: np.ndarray) -> dict[str, pd.Series]:
    """The ``commune_code``/``hamlet_code`` keywords of :func:`issue_rows` for the records
    ``mask`` selects (none when the caller has no locations)."""
    return {k: v[mask] for k, v in (locations or {}).items()}


def issue_rows(
    table_name: str,
    record_ids: pd.Series,
    *,
    rule: str,
    field_name: str,
    message: str | pd.Series,
    severity: str = "error",
    commune_code: pd.Series | None = None,
    hamlet_code: pd.Series | None = None,
) -> pd.DataFrame:
    """The same issue for each record in ``record_ids`` (errors quarantine, warnings inform).

    ``message`` is one text for all, or one per record (aligned by position). Messages
    never carry personal values (names, IDs, birth dates): see ``record_checks``.
    """
    n = len(record_ids)
    if isinstance(message, pd.Series):
        if len(message) != n:
            raise ValueError(f"{len(message)} messages for {n} records")
        text = message.astype("string").to_numpy()
    else:
        text = [message] * n
    df = pd.DataFrame(
        {
            "table_name": [table_name] * n,
            "record_id": record_ids.to_numpy(),
            "commune_code": pd.NA if commune_code is None else commune_code.to_numpy(),
            "hamlet_code": pd.NA if hamlet_code is None else hamlet_code.to_numpy(),
            "rule": [rule] * n,
            "field_name": [field_name] * n,
            "severity": [severity] * n,
            "message": text,
        }
    )
    return TABLES["quality.record_issues"].enforce(df.astype("string"))
