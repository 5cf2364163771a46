"""Compliance rows for the planners' tests, built by the pipeline's own function."""

from __future__ import annotations

import pandas as pd

from assets.planning.compliance import hamlet_compliance
from assets.planning.rules import load_rules

ND185 = load_rules("nd185_2026")


def compliance_rows(rows, rules=ND185, commune: str = "04001", province: str = "04"):
    """Compliance from (code, households[, kind[, exemption]]), without geometry."""
    hamlets = pd.DataFrame(
        {
            "hamlet_code": [r[0] for r in rows],
            "commune_code": commune,
            "hamlet_kind": [r[2] if len(r) > 2 else "thon" for r in rows],
            "declared_households": [r[1] for r in rows],
            "exemption_category": [r[3] if len(r) > 3 else None for r in rows],
        }
    )
    sizes = pd.DataFrame(
        {"hamlet_code": [r[0] for r in rows], "households": [r[1] for r in rows], "population": 0}
    )
    return hamlet_compliance(hamlets, sizes, province, rules)
