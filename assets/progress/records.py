"""What planners record after drafting a plan: residents' consultation per affected
hamlet (``planning.consultations``) and the commune People's Council's approval
(``planning.council_approvals``).

A drafted plan is a decision in ``planning.decisions`` (ND 185/2026 Art. 12: the commune
People's Committee drafts the plan, residents are consulted on it, then the commune
People's Council decides, Art. 9). Both records name the decision they are about, so a
later decision (a re-plan) starts its own consultation.

Both are append-only: a correction is a new row, and every reader takes the latest row
(``recorded_at``) per hamlet's consultation or per approval, so what was entered first
stays on record and planners need no right to change or delete rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pandas as pd

from assets.decisions.record import (
    DECISIONS,
    latest_decisions,
    read_decision_assignments,
    read_decisions,
)
from assets.warehouse import Warehouse
from assets.warehouse.roles import recorded_author, upgrade_primary_key
from expectations.schemas import TABLES

VIETNAM = "Asia/Ho_Chi_Minh"  # every recorded day is the day in Vietnam


def day_in_vietnam(at: datetime | None = None) -> date:
    """The day in Vietnam at ``at`` (default: now): extracts are dated, deadlines fall
    and newborns are registered on days in Vietnam, not in UTC."""
    return (at or datetime.now(UTC)).astimezone(ZoneInfo(VIETNAM)).date()


CONSULTATIONS = "planning.consultations"
COUNCIL_APPROVALS = "planning.council_approvals"
COMMUNE_STEPS = "planning.commune_steps"
# The commune's steps on its plan besides the plan itself, the residents' consultation
# and the council's resolution (DOMAIN.md "The process"), with their Vietnamese labels.
STEP_LABELS_VI = {
    "advisory_conference": "Tổ tư vấn, hội nghị đại biểu thôn/TDP với MTTQ",
    "party_opinion": "Ý kiến của cấp ủy",
}
# What one record is about; of several rows for it, the latest recorded is in force.
RECORD_KEYS = {
    COMMUNE_STEPS: ("decision_id", "step"),
    CONSULTATIONS: ("decision_id", "hamlet_code"),
    COUNCIL_APPROVALS: ("decision_id",),
}


@dataclass(frozen=True)
class ProgressRecords:
    """What a province's progress is derived from."""

    communes: pd.DataFrame  # commune_code, commune_name
    decisions: pd.DataFrame  # planning.decisions
    assignments: pd.DataFrame  # planning.decision_assignments of those decisions
    consultations: pd.DataFrame  # planning.consultations in force (``read_records``)
    approvals: pd.DataFrame  # planning.council_approvals in force (``read_records``)
    steps: pd.DataFrame | None = None  # planning.commune_steps in force (``read_records``)


class ProgressRecordError(ValueError):
    """A consultation or approval cannot be recorded as given; the message says why."""


def read_records(
    warehouse: Warehouse, table: str, province_code: str, *, history: bool = False
) -> pd.DataFrame:
    """A planning record table's rows in force for the province: the latest per record
    (``RECORD_KEYS``), or every row ever entered with ``history`` (oldest first); empty
    before the first one."""
    contract = TABLES[table]
    with warehouse.connect(read_only=warehouse.kind == "duckdb") as con:
        if not con.table_exists(table):
            return contract.enforce(pd.DataFrame(columns=list(contract.columns)))
        rows = con.query_df(
            f"SELECT {', '.join(contract.columns)} FROM {table} WHERE province_code = ? "
            "ORDER BY recorded_at",
            [province_code],
        )
    rows = contract.enforce(rows)
    return rows if history else latest_records(table, rows)


def latest_records(table: str, rows: pd.DataFrame) -> pd.DataFrame:
    """The latest row (``recorded_at``) per record of ``table``: a correction wins."""
    ordered = rows.sort_values("recorded_at", kind="stable", na_position="first")
    return ordered.drop_duplicates(list(RECORD_KEYS[table]), keep="last").sort_index()


def append_records(warehouse: Warehouse, table: str, rows: pd.DataFrame) -> None:
    """Add ``rows`` to a planning record table in one transaction (never replacing: a
    correction is a later row). A DuckDB table from before corrections were appended
    gets its new key first; on PostGIS ``hamlets roles`` does that, as the owner."""
    with warehouse.transaction() as session:
        if warehouse.kind == "duckdb":
            upgrade_primary_key(warehouse, session, table)
        warehouse.write_table(table, rows, con=session, append=True)


def affected_hamlets(assignments: pd.DataFrame) -> pd.DataFrame:
    """Hamlets of a plan whose unit merges several (hamlet_code, unit_id, decision_id):
    their residents must be consulted."""
    size = assignments.groupby(["decision_id", "unit_id"])["hamlet_code"].transform("size")
    return assignments.loc[size > 1, ["decision_id", "commune_code", "hamlet_code", "unit_id"]]


def decision_of(warehouse: Warehouse, province_code: str, decision_id: str) -> pd.Series:
    """One decision of the province, or an error naming it."""
    decisions = read_decisions(warehouse, province_code)
    found = decisions[decisions["decision_id"] == decision_id]
    if found.empty:
        raise ProgressRecordError(f"{DECISIONS}: no decision {decision_id!r} in {province_code}")
    return found.iloc[0]


def decision_in_force(warehouse: Warehouse, province_code: str, commune_code: str) -> pd.Series:
    """The commune's latest decision (its plan in force), or an error saying none is."""
    decisions = read_decisions(warehouse, province_code)
    mine = decisions[decisions["commune_code"] == commune_code]
    if mine.empty:
        raise ProgressRecordError(
            f"xã {commune_code} (tỉnh {province_code}): chưa ghi đề án (quyết định) nào; "
            "ghi đề án và kết quả lấy ý kiến trước nghị quyết"
        )
    return latest_decisions(mine).iloc[0]


def record_council_resolution(
    warehouse: Warehouse,
    province_code: str,
    commune_code: str,
    *,
    resolution_number: str,
    resolution_date: date,
    decision_id: str | None = None,
    recorded_by: str | None = None,
    note: str = "",
) -> pd.Series:
    """Record the commune People's Council's resolution on the commune's plan: the one
    in force (its latest decision) unless ``decision_id`` names another of its plans.
    The planners' path (CLI ``hamlets decide resolution``, the review notebook) to
    ``record_council_approval``, with its checks."""
    if decision_id is None:
        decision_id = str(decision_in_force(warehouse, province_code, commune_code)["decision_id"])
    elif decision_of(warehouse, province_code, decision_id)["commune_code"] != commune_code:
        raise ProgressRecordError(
            f"quyết định {decision_id} không phải đề án của xã {commune_code}"
        )
    return record_council_approval(
        warehouse,
        province_code,
        decision_id,
        approved_date=resolution_date,
        recorded_by=recorded_by,
        resolution_number=resolution_number,
        note=note,
    )


def record_council_approval(
    warehouse: Warehouse,
    province_code: str,
    decision_id: str,
    *,
    approved_date: date,
    recorded_by: str | None = None,
    resolution_number: str = "",
    note: str = "",
    require_consultation: bool = True,
    today: date | None = None,
) -> pd.Series:
    """Record that the commune People's Council approved the plan of ``decision_id``
    (again, to correct it: the latest entry is in force).

    A resolution has a number and a day: not before the plan was drafted, nor after
    ``today`` (in Vietnam), so a mistyped year is caught here, not in the report. The
    council decides after residents are consulted (Art. 9, 12): unless
    ``require_consultation`` is off, every affected hamlet must have a passed
    consultation on this plan first, dated no later than the resolution. Who records
    it: ``recorded_author`` (on PostGIS the login, whose provinces row-level security
    checks, as for every planning record).
    """
    author = recorded_author(warehouse, recorded_by)
    decision = decision_of(warehouse, province_code, decision_id)
    number = (resolution_number or "").strip()
    if not number:
        raise ProgressRecordError("nghị quyết của HĐND xã: thiếu số nghị quyết")
    day = pd.Timestamp(approved_date).normalize()
    drafted = _vietnam_day(decision["decided_at"])
    today = today or day_in_vietnam()
    if day < drafted:
        raise ProgressRecordError(
            f"nghị quyết {number} ngày {day:%d/%m/%Y}: trước ngày có đề án ({drafted:%d/%m/%Y})"
        )
    if day > pd.Timestamp(today):
        raise ProgressRecordError(f"nghị quyết {number} ngày {day:%d/%m/%Y}: sau hôm nay")
    if require_consultation:
        pending = consultation_gaps(warehouse, province_code, decision_id)
        if pending:
            raise ProgressRecordError(
                f"quyết định {decision_id}: chưa lấy ý kiến đạt ở {', '.join(pending)}"
            )
        done = read_records(warehouse, CONSULTATIONS, province_code)
        days = pd.to_datetime(done.loc[done["decision_id"] == decision_id, "consulted_date"])
        if len(days.dropna()) and day < days.max().normalize():
            raise ProgressRecordError(
                f"nghị quyết {number} ngày {day:%d/%m/%Y}: trước khi lấy xong ý kiến Nhân dân "
                f"({days.max():%d/%m/%Y})"
            )
    row = TABLES[COUNCIL_APPROVALS].enforce(
        pd.DataFrame(
            {
                "decision_id": [decision_id],
                "province_code": [province_code],
                "commune_code": [decision["commune_code"]],
                "approved_date": [pd.Timestamp(approved_date)],
                "resolution_number": [number],
                "recorded_by": [author],
                "note": [note],
                "recorded_at": [pd.Timestamp(datetime.now(UTC))],
            }
        )
    )
    append_records(warehouse, COUNCIL_APPROVALS, row)
    return row.iloc[0]


def record_commune_step(
    warehouse: Warehouse,
    province_code: str,
    commune_code: str,
    step: str,
    *,
    step_date: date,
    document: str = "",
    decision_id: str | None = None,
    recorded_by: str | None = None,
    note: str = "",
    today: date | None = None,
) -> pd.Series:
    """Record a step the commune took on its plan in force (or ``decision_id``): the
    advisory group and hamlet representatives' conference with the Fatherland Front, or
    the party committee's opinion (``STEP_LABELS_VI``). Dated from the plan's day to
    today; entered again, the later row is in force. Who: ``recorded_author``."""
    if step not in STEP_LABELS_VI:
        raise ProgressRecordError(f"bước {step!r}: một trong {', '.join(STEP_LABELS_VI)}")
    author = recorded_author(warehouse, recorded_by)
    if decision_id is None:
        decision = decision_in_force(warehouse, province_code, commune_code)
    else:
        decision = decision_of(warehouse, province_code, decision_id)
        if decision["commune_code"] != commune_code:
            raise ProgressRecordError(
                f"quyết định {decision_id} không phải đề án của xã {commune_code}"
            )
    day = pd.Timestamp(step_date).normalize()
    drafted = _vietnam_day(decision["decided_at"])
    if day < drafted or day > pd.Timestamp(today or day_in_vietnam()):
        raise ProgressRecordError(
            f"{STEP_LABELS_VI[step]} ngày {day:%d/%m/%Y}: ngoài khoảng từ ngày có đề án "
            f"({drafted:%d/%m/%Y}) đến hôm nay"
        )
    row = TABLES[COMMUNE_STEPS].enforce(
        pd.DataFrame(
            {
                "decision_id": [decision["decision_id"]],
                "province_code": [province_code],
                "commune_code": [commune_code],
                "step": [step],
                "step_date": [day],
                "document": [document.strip()],
                "recorded_by": [author],
                "note": [note],
                "recorded_at": [pd.Timestamp(datetime.now(UTC))],
            }
        )
    )
    append_records(warehouse, COMMUNE_STEPS, row)
    return row.iloc[0]


def _vietnam_day(stamp: object) -> pd.Timestamp:
    """A recorded instant (UTC) as the day in Vietnam (naive midnight)."""
    when = pd.Timestamp(stamp)
    if when.tzinfo is not None:
        when = when.tz_convert(VIETNAM).tz_localize(None)
    return when.normalize()


def consultation_gaps(warehouse: Warehouse, province_code: str, decision_id: str) -> list[str]:
    """Affected hamlets of the decision without a passed consultation (codes)."""
    affected = affected_hamlets(read_decision_assignments(warehouse, [decision_id]))
    done = read_records(warehouse, CONSULTATIONS, province_code)
    passed = done.loc[(done["decision_id"] == decision_id) & done["is_passed"].fillna(False)]
    return sorted(set(affected["hamlet_code"]) - set(passed["hamlet_code"]))


def load_progress_records(warehouse: Warehouse, province_code: str) -> ProgressRecords:
    """The province's communes (latest publication) and every record about their plans."""
    with warehouse.connect(read_only=warehouse.kind == "duckdb") as con:
        communes = con.query_df(
            "SELECT commune_code, commune_name FROM marts.commune_summary_current "
            "WHERE province_code = ? ORDER BY commune_code",
            [province_code],
        )
    decisions = read_decisions(warehouse, province_code)
    return ProgressRecords(
        communes=communes,
        decisions=decisions,
        assignments=read_decision_assignments(warehouse, decisions["decision_id"].tolist()),
        consultations=read_records(warehouse, CONSULTATIONS, province_code),
        approvals=read_records(warehouse, COUNCIL_APPROVALS, province_code),
        steps=read_records(warehouse, COMMUNE_STEPS, province_code),
    )
