"""Residents' consultation on a drafted plan: results per affected hamlet, and the
province's approval rule.

Residents of every hamlet whose unit merges are consulted on the plan (ND 185/2026
Art. 12, which sets no approval share). A merge passes only where more than
``consultation_approval_share`` of the hamlet's household representatives are in favour:
the province's rule, set with its basis (``consultation_rule_basis``) in its override
file; only the tt04_2012 profile carries a default (TT 04/2012's more than 50%). Under a
profile with no share, results are refused until the province sets its rule.
``households_consulted`` is the hamlet's household representatives on the consultation
list, so the share is of all of them, not only of those who answered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from assets.decisions.commune import load_commune
from assets.decisions.record import latest_decisions, read_decision_assignments, read_decisions
from assets.planning.assembly import PlanResult
from assets.planning.constraints import (
    CONSTRAINTS,
    MUST_NOT_MERGE,
    PlannerConstraints,
    read_constraints,
    set_constraint,
)
from assets.planning.options import DEFAULT_TIME_LIMIT_S, plan_options
from assets.planning.rules import RulesProfile
from assets.planning.wording import count_vi
from assets.progress.records import (
    CONSULTATIONS,
    ProgressRecordError,
    affected_hamlets,
    append_records,
    decision_of,
    read_records,
)
from assets.progress.status import local_day
from assets.raw.headers import to_canonical
from assets.raw.landing import read_landing_file
from assets.staging.dates import parse_dates
from assets.warehouse import Warehouse
from assets.warehouse.roles import recorded_author
from expectations.schemas import TABLES

RESULT_COLUMNS = (
    "hamlet_code",
    "households_consulted",
    "households_in_favour",
    "households_against",
    "consulted_date",
)
NOTEBOOK = "notebook"  # source of results typed in a notebook, rather than a file
CONSULTATION_FILE_STEMS = ("consultations", "lay_y_kien")


def as_days(values: pd.Series) -> pd.Series:
    """Dates as typed in a notebook (date objects) or a file (dd/mm/yyyy, yyyy-mm-dd,
    Excel serials: the staging parser); unreadable ones missing."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return pd.to_datetime(values).dt.normalize()
    text = values.map(lambda v: v.isoformat()[:10] if hasattr(v, "isoformat") else v)
    return parse_dates(text.astype("string"))


def consultation_rows(
    decision: pd.Series,
    assignment: pd.DataFrame,
    results: pd.DataFrame,
    rules: RulesProfile,
    *,
    recorded_by: str,
    source_file: str = NOTEBOOK,
) -> pd.DataFrame:
    """``results`` (``RESULT_COLUMNS``) as planning.consultations rows, the approval
    rule applied; every problem of the input in one ProgressRecordError."""
    required = approval_share(rules)
    missing = [c for c in RESULT_COLUMNS if c not in results.columns]
    if missing:
        raise ProgressRecordError(f"kết quả lấy ý kiến thiếu cột {', '.join(missing)}")
    if not recorded_by or not recorded_by.strip():
        raise ProgressRecordError("recorded_by: the name of who records it is required")
    given = results[list(RESULT_COLUMNS)].copy()
    given["hamlet_code"] = given["hamlet_code"].astype(str).str.strip()
    counts = ["households_consulted", "households_in_favour", "households_against"]
    given[counts] = given[counts].apply(pd.to_numeric, errors="coerce").astype("Int64")
    given["consulted_date"] = as_days(given["consulted_date"])
    affected = affected_hamlets(assignment).set_index("hamlet_code")["unit_id"]
    decided = local_day(pd.Series([decision["decided_at"]])).iloc[0]
    problems = []
    for row in given.itertuples(index=False):
        where = f"thôn/TDP {row.hamlet_code}"
        if row.hamlet_code not in affected.index:
            problems.append(f"{where}: không thuộc đơn vị sáp nhập của quyết định")
        if any(pd.isna(getattr(row, c)) or getattr(row, c) < 0 for c in counts):
            problems.append(f"{where}: số hộ phải là số nguyên không âm")
        elif row.households_in_favour + row.households_against > row.households_consulted:
            problems.append(f"{where}: số hộ tán thành và không tán thành vượt số hộ lấy ý kiến")
        elif row.households_consulted == 0:
            problems.append(f"{where}: không có hộ nào được lấy ý kiến")
        if pd.isna(row.consulted_date):
            problems.append(f"{where}: thiếu hoặc sai ngày lấy ý kiến")
        elif row.consulted_date.normalize() < decided:
            problems.append(f"{where}: ngày lấy ý kiến trước ngày có đề án ({decided:%d/%m/%Y})")
    twice = sorted(given.loc[given["hamlet_code"].duplicated(), "hamlet_code"])
    if twice:
        problems.append(f"thôn/TDP có hai kết quả: {', '.join(twice)}")
    if problems:
        raise ProgressRecordError("kết quả lấy ý kiến không hợp lệ:\n- " + "\n- ".join(problems))
    share = given["households_in_favour"] / given["households_consulted"]
    rows = given.assign(
        decision_id=decision["decision_id"],
        province_code=decision["province_code"],
        commune_code=decision["commune_code"],
        unit_id=given["hamlet_code"].map(affected),
        in_favour_share=share.astype(float).round(4),
        required_share=required,
        is_passed=share.astype(float) > required,
        recorded_by=recorded_by.strip(),
        source_file=source_file,
        recorded_at=pd.Timestamp(datetime.now(UTC)),
    )
    return TABLES[CONSULTATIONS].enforce(rows)


def approval_share(rules: RulesProfile) -> float:
    """The share of household representatives above which a merge passes: the
    province's rule. ND 185/2026 sets none, so without the province's choice no result
    can be judged, and saying so beats applying a figure the decree does not give."""
    if rules.consultation_approval_share is None:
        raise ProgressRecordError(
            f"{rules.title_vi} không quy định tỷ lệ tán thành khi lấy ý kiến Nhân dân; "
            "tỉnh cần quy định (consultation_approval_share và consultation_rule_basis "
            f"trong tệp điều chỉnh của tỉnh; quy tắc hiện dùng: {rules.source})"
        )
    return rules.consultation_approval_share


def approval_rule_vi(rules: RulesProfile) -> str:
    """The approval rule in Vietnamese with who set it, for reasons and notebooks."""
    share = approval_share(rules)
    return f"trên {share:.0%} số hộ tán thành, theo {rules.consultation_rule_basis}"


@dataclass(frozen=True)
class ConsultationOutcome:
    """What recording a consultation did: its rows, and the pairs it forbade."""

    rows: pd.DataFrame  # planning.consultations rows written
    forbidden: pd.DataFrame  # planning.constraints rows added (must_not_merge)

    @property
    def failed(self) -> pd.DataFrame:
        return self.rows[~self.rows["is_passed"].astype(bool)]


def record_consultation(
    warehouse: Warehouse,
    province_code: str,
    decision_id: str,
    results: pd.DataFrame,
    rules: RulesProfile,
    *,
    recorded_by: str | None = None,
    source_file: str = NOTEBOOK,
) -> ConsultationOutcome:
    """Check and write the results (a later entry for a hamlet is appended and is the
    one in force; the same result entered again adds nothing); a hamlet whose residents
    reject the merge gets a must-not-merge constraint with each other member of its
    unit, so the next plan of the commune leaves that merge out (``replan_commune``
    shows it at once; the next run publishes it). Who records it: ``recorded_author``."""
    decision = decision_of(warehouse, province_code, decision_id)
    assignment = read_decision_assignments(warehouse, [decision_id])
    author = recorded_author(warehouse, recorded_by)
    rows = consultation_rows(
        decision, assignment, results, rules, recorded_by=author, source_file=source_file
    )
    new = ~same_as_recorded(rows, read_records(warehouse, CONSULTATIONS, province_code))
    if new.any():
        append_records(warehouse, CONSULTATIONS, rows[new])
    forbidden = forbid_failed_merges(warehouse, province_code, rows, assignment)
    return ConsultationOutcome(rows=rows, forbidden=forbidden)


def same_as_recorded(rows: pd.DataFrame, in_force: pd.DataFrame) -> pd.Series:
    """Per row, whether the result in force for its hamlet says the same (counts, day,
    file), so entering or loading it again appends nothing."""
    compared = ["decision_id", "hamlet_code", *RESULT_COLUMNS[1:], "source_file"]
    before = in_force[compared].astype(str).drop_duplicates()
    found = rows[compared].astype(str).merge(before, how="left", indicator=True)
    return pd.Series(found["_merge"].eq("both").to_numpy(), index=rows.index)


def forbid_failed_merges(
    warehouse: Warehouse, province_code: str, rows: pd.DataFrame, assignment: pd.DataFrame
) -> pd.DataFrame:
    """A must-not-merge constraint between each rejecting hamlet and the other members of
    its unit (those not already in force); returns the constraint rows added."""
    failed = rows[~rows["is_passed"].astype(bool)]
    held = PlannerConstraints.of(read_constraints(warehouse, province_code))
    existing = set(held.apart)
    added = []
    for row in failed.itertuples(index=False):
        unit = assignment[assignment["unit_id"] == row.unit_id]
        for other in sorted(set(unit["hamlet_code"]) - {row.hamlet_code}):
            pair = tuple(sorted((row.hamlet_code, other)))
            if pair in existing:
                continue
            existing.add(pair)
            reason = (
                f"lấy ý kiến ngày {row.consulted_date:%d/%m/%Y}: "
                f"{count_vi(int(row.households_in_favour))}/"
                f"{count_vi(int(row.households_consulted))} hộ của {row.hamlet_code} tán thành "
                f"({row.in_favour_share:.0%}), không vượt ngưỡng {row.required_share:.0%} của tỉnh"
            )
            added.append(
                set_constraint(
                    warehouse,
                    province_code,
                    row.commune_code,
                    MUST_NOT_MERGE,
                    set_by=row.recorded_by,
                    reason=reason,
                    hamlet_code=row.hamlet_code,
                    other_hamlet_code=other,
                )
            )
    contract = TABLES[CONSTRAINTS]
    return contract.enforce(pd.DataFrame(added, columns=list(contract.columns)))


def replan_commune(
    warehouse: Warehouse,
    province_code: str,
    commune_code: str,
    rules: RulesProfile,
    *,
    time_limit_s: float = DEFAULT_TIME_LIMIT_S,
) -> PlanResult:
    """The commune's options re-planned now with every constraint in force (failed
    consultations included), from its published marts as the review notebook does."""
    commune = load_commune(warehouse, province_code, commune_code)
    return plan_options(
        commune.compliance(),
        commune.adjacency(),
        rules,
        names=commune.names(),
        measures=commune.measures(),
        time_limit_s_per_commune=time_limit_s,
        constraints=read_constraints(warehouse, province_code),
    )


def consultation_status(warehouse: Warehouse, province_code: str, decision_id: str) -> pd.DataFrame:
    """Each hamlet of a decision with its consultation state (for the review map):
    ``not_affected`` (its unit merges nothing), ``pending``, ``passed`` or ``failed``."""
    assignment = read_decision_assignments(warehouse, [decision_id])
    done = read_records(warehouse, CONSULTATIONS, province_code)
    done = done[done["decision_id"] == decision_id].set_index("hamlet_code")
    affected = set(affected_hamlets(assignment)["hamlet_code"])
    state = assignment[["commune_code", "hamlet_code", "unit_id"]].copy()
    passed = state["hamlet_code"].map(done["is_passed"].astype(bool))
    state["consultation"] = np.select(
        [~state["hamlet_code"].isin(affected), passed.isna(), passed.fillna(False).astype(bool)],
        ["not_affected", "pending", "passed"],
        "failed",
    )
    extra = ["households_consulted", "households_in_favour", "in_favour_share", "consulted_date"]
    return state.join(done[extra], on="hamlet_code")


# --- a file in the landing folder -------------------------------------------------------


def load_consultation_file(
    warehouse: Warehouse, landing_dir: Path, province_code: str, rules: RulesProfile
) -> ConsultationOutcome | None:
    """Results from ``consultations`` / ``lay_y_kien`` (.csv or .xlsx) in the province's
    landing folder, when there is one: one row per affected hamlet with commune_code,
    hamlet_code, households_consulted, households_in_favour, households_against,
    consulted_date (Vietnamese headers accepted) and optionally decision_id; without it,
    the commune's latest decision recorded by the consultation day. Re-loading the same
    file changes nothing."""
    found = [
        f
        for f in sorted(Path(landing_dir).glob("*"))
        if f.stem.lower() in CONSULTATION_FILE_STEMS and f.suffix.lower() in (".csv", ".xlsx")
    ]
    if not found:
        return None
    if len(found) > 1:
        raise ProgressRecordError(f"{landing_dir}: several consultation files {found}; keep one")
    return record_consultation_file(warehouse, found[0], province_code, rules)


def record_consultation_file(
    warehouse: Warehouse,
    path: Path,
    province_code: str,
    rules: RulesProfile,
    *,
    recorded_by: str | None = None,
) -> ConsultationOutcome:
    """Record the results a consultation file holds (``load_consultation_file`` finds it
    in the landing folder; ``hamlets decide consult`` is given it)."""
    path = Path(path)
    raw, _ = read_landing_file(path)
    wanted = ("decision_id", "commune_code", *RESULT_COLUMNS)
    given = to_canonical(
        raw, source_file=path.name, wanted=wanted, required=("commune_code", *RESULT_COLUMNS)
    )
    given = given.replace("", pd.NA)
    given["consulted_date"] = as_days(given["consulted_date"])
    decisions = read_decisions(warehouse, province_code)
    decided_day = local_day(decisions["decided_at"])
    unnamed = given["decision_id"].isna()
    given.loc[unnamed, "decision_id"] = [
        _decision_by(decisions, decided_day, str(c), day)
        for c, day in zip(
            given.loc[unnamed, "commune_code"], given.loc[unnamed, "consulted_date"], strict=True
        )
    ]
    missing = given[given["decision_id"].isna()]
    if len(missing):
        raise ProgressRecordError(
            f"{path.name}: no decision recorded for communes "
            f"{', '.join(sorted(missing['commune_code'].astype(str).unique()))} "
            "by the consultation day; record the plan (decision) first"
        )
    outcomes = [
        record_consultation(
            warehouse,
            province_code,
            str(decision_id),
            part,
            rules,
            recorded_by=recorded_by,
            source_file=path.name,
        )
        for decision_id, part in given.groupby("decision_id", sort=True)
    ]
    return ConsultationOutcome(
        rows=pd.concat([o.rows for o in outcomes], ignore_index=True),
        forbidden=pd.concat([o.forbidden for o in outcomes], ignore_index=True),
    )


def _decision_by(
    decisions: pd.DataFrame, decided_day: pd.Series, commune: str, day: pd.Timestamp
) -> str | None:
    mine = decisions[(decisions["commune_code"] == commune) & (decided_day <= day)]
    return None if mine.empty else str(latest_decisions(mine)["decision_id"].iloc[0])
