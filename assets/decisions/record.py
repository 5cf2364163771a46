"""Planners' decisions: the plan chosen for a commune, by whom, why, written to the
warehouse (``planning.decisions``) together with the assignment it approved
(``planning.decision_assignments``).

The assignment is stored with the decision, so what was approved stays fixed when the
pipeline re-plans later; the approved plan recomputes the units' figures from the
current counts. A planner chooses a published option or hands in an assignment of their
own; either is checked by the rules every engine plan obeys (``plan_from_assignment``).
Decisions are never changed or deleted: a later decision for the commune supersedes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd

from assets.decisions.commune import CommuneMarts, DecisionError
from assets.planning.assembly import PlanResult
from assets.planning.manual import plan_from_assignment
from assets.planning.option_kinds import MANUAL
from assets.planning.rules import RulesProfile
from assets.warehouse import Warehouse
from assets.warehouse.roles import recorded_author
from expectations.schemas import TABLES

DECISIONS = "planning.decisions"
DECISION_ASSIGNMENTS = "planning.decision_assignments"


@dataclass(frozen=True)
class RecordedDecision:
    """What was written, and the plan it approves (units with today's figures)."""

    decision: pd.Series
    plan: PlanResult

    @property
    def decision_id(self) -> str:
        return str(self.decision["decision_id"])


def check_decision(
    commune: CommuneMarts,
    rules: RulesProfile,
    *,
    option_name: str | None = None,
    assignment: pd.DataFrame | None = None,
    accept_below_standard: bool = False,
) -> PlanResult:
    """The plan a decision would approve, or DecisionError saying what is wrong.

    Exactly one of ``option_name`` (a published option) or ``assignment`` (hamlet_code,
    unit_id: any unit labels) is given. A hand-edited plan that leaves a unit below its
    standard needs ``accept_below_standard`` (the engine's own options already leave a
    unit below only where no contiguous unit can reach the standard, and say why).
    """
    if (option_name is None) == (assignment is None):
        raise DecisionError("give either option_name (a published option) or an assignment")
    if rules.name != commune.rules_profile:
        raise DecisionError(
            f"the commune was published under {commune.rules_profile}, not {rules.name}"
        )
    if option_name is not None:
        assignment = commune.option_assignment(option_name)
    plan = plan_from_assignment(
        commune.compliance(),
        commune.adjacency(),
        rules,
        assignment,
        names=commune.names(),
        measures=commune.measures(),
        option_name=option_name or MANUAL,
    )
    below = plan.units[~plan.units["is_compliant"].astype(bool)]
    if option_name is None and len(below) and not accept_below_standard:
        listing = "; ".join(below["unit_id"] + ": " + below["compliance_reason"])
        raise DecisionError(
            f"{len(below)} đơn vị dưới tiêu chuẩn ({listing}); "
            "ghi rõ lý do trong ghi chú và đặt accept_below_standard=True nếu vẫn quyết định"
        )
    return plan


def record_decision(
    warehouse: Warehouse,
    commune: CommuneMarts,
    rules: RulesProfile,
    *,
    decided_by: str | None = None,
    note: str = "",
    option_name: str | None = None,
    assignment: pd.DataFrame | None = None,
    accept_below_standard: bool = False,
    decided_at: datetime | None = None,
) -> RecordedDecision:
    """Check the decision (``check_decision``) and write it with its assignment in one
    transaction. The planner (staff, not a resident) is the database login on PostGIS,
    written by the database; on DuckDB, which has no logins, ``decided_by`` or else the
    operating-system user (``recorded_author``)."""
    author = recorded_author(warehouse, decided_by)
    plan = check_decision(
        commune,
        rules,
        option_name=option_name,
        assignment=assignment,
        accept_below_standard=accept_below_standard,
    )
    when = decided_at or datetime.now(UTC)
    decision_id = f"{commune.commune_code}-{when:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    decision = TABLES[DECISIONS].enforce(
        pd.DataFrame(
            {
                "decision_id": [decision_id],
                "province_code": [commune.province_code],
                "commune_code": [commune.commune_code],
                "option_name": [option_name or MANUAL],
                "decided_by": [author],
                "note": [note],
                "decided_at": [pd.Timestamp(when)],
                "based_on_run_id": [commune.run_id],
                "rules_profile": [rules.name],
            }
        )
    )
    approved = plan.assignments[["commune_code", "hamlet_code", "unit_id"]].assign(
        decision_id=decision_id, province_code=commune.province_code
    )
    with warehouse.transaction() as session:
        # Append-only: a decision is never changed, a later one supersedes it (and a
        # planner's role may insert here but not delete).
        warehouse.write_table(DECISIONS, decision, con=session, append=True)
        warehouse.write_table(DECISION_ASSIGNMENTS, approved, con=session, append=True)
    return RecordedDecision(decision=decision.iloc[0], plan=plan)


def read_decisions(warehouse: Warehouse, province_code: str) -> pd.DataFrame:
    """Every decision of the province, newest first (empty before the first one)."""
    columns = list(TABLES[DECISIONS].columns)
    with warehouse.connect(read_only=warehouse.kind == "duckdb") as con:
        if not con.table_exists(DECISIONS):
            return TABLES[DECISIONS].enforce(pd.DataFrame(columns=columns))
        rows = con.query_df(
            f"SELECT {', '.join(columns)} FROM {DECISIONS} WHERE province_code = ? "
            "ORDER BY decided_at DESC, decision_id DESC",
            [province_code],
        )
    return TABLES[DECISIONS].enforce(rows)


def latest_decisions(decisions: pd.DataFrame) -> pd.DataFrame:
    """The decision in force per commune: its latest (a later one supersedes)."""
    ordered = decisions.sort_values(["decided_at", "decision_id"], ascending=False)
    return ordered.drop_duplicates("commune_code").reset_index(drop=True)


def read_decision_assignments(warehouse: Warehouse, decision_ids: list[str]) -> pd.DataFrame:
    """The assignments the given decisions approved (hamlet_code, unit_id per decision)."""
    columns = list(TABLES[DECISION_ASSIGNMENTS].columns)
    if not decision_ids:
        return TABLES[DECISION_ASSIGNMENTS].enforce(pd.DataFrame(columns=columns))
    marks = ", ".join("?" for _ in decision_ids)
    with warehouse.connect(read_only=warehouse.kind == "duckdb") as con:
        rows = con.query_df(
            f"SELECT {', '.join(columns)} FROM {DECISION_ASSIGNMENTS} "
            f"WHERE decision_id IN ({marks})",
            list(decision_ids),
        )
    return TABLES[DECISION_ASSIGNMENTS].enforce(rows)
