"""Each commune's progress on a day, from what planners recorded, and the deadlines it
has missed.

A commune has **no plan** until a decision is recorded for it (``planning.decisions``:
the plan the commune People's Committee drafts, ND 185/2026 Art. 12); its plan is
**drafted** from its first decision; **consulted** once the residents of every affected
hamlet of the plan in force (its latest decision; hamlets whose unit merges several)
have approved it (a plan without merges affects no hamlet and counts as consulted when
drafted); **approved** once the commune People's Council's approval of the plan in
force is recorded. A failed consultation keeps the commune at "drafted" and is flagged:
it needs a new plan. Every date is the day in Vietnam (Asia/Ho_Chi_Minh).

Everything is computed "as of" a day from the records dated up to it, so the same
records give the weekly counts of the past (the report's timeline).
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from assets.decisions.record import latest_decisions
from assets.progress.deadlines import (
    APPROVED,
    CONSULTED,
    NO_PLAN,
    PLAN_DRAFTED,
    STATUSES,
    ProvinceDeadlines,
)
from assets.progress.records import VIETNAM, ProgressRecords, affected_hamlets
from expectations.schemas import TABLES

TIMEZONE = VIETNAM
STEP_COLUMNS = ("decision_id", "step", "step_date")
TIMELINE_MAX_WEEKS = 26  # how far back the weekly counts go at most
TIMELINE_MIN_WEEKS = 4  # ... and at least, so a first report still shows a trend
# The mart's columns less what publishing stamps on (province, report day, run).
PROGRESS_COLUMNS = tuple(
    c
    for c in TABLES["marts.commune_progress"].columns
    if c not in ("province_code", "report_date", "rules_profile", "run_id", "published_at")
)


def local_day(values: pd.Series) -> pd.Series:
    """Timestamps (UTC) or dates as days in Vietnam (naive, midnight)."""
    stamps = pd.to_datetime(values)
    if getattr(stamps.dt, "tz", None) is not None:
        stamps = stamps.dt.tz_convert(TIMEZONE).dt.tz_localize(None)
    return stamps.dt.normalize()


def commune_progress(
    records: ProgressRecords, as_of: date, deadlines: ProvinceDeadlines
) -> pd.DataFrame:
    """One row per commune (``PROGRESS_COLUMNS``): its status on ``as_of``, the days it
    reached each stage of the plan in force, and the deadlines it has missed."""
    day = pd.Timestamp(as_of)
    decisions = records.decisions.assign(day=local_day(records.decisions["decided_at"]))
    decisions = decisions[decisions["day"] <= day]
    first = decisions.groupby("commune_code")["day"].min().rename("plan_drafted_date")
    in_force = latest_decisions(decisions).set_index("commune_code")

    plan = records.assignments[records.assignments["decision_id"].isin(in_force["decision_id"])]
    affected = affected_hamlets(plan).groupby("decision_id")["hamlet_code"].nunique()
    consulted = records.consultations.assign(day=local_day(records.consultations["consulted_date"]))
    consulted = consulted[consulted["decision_id"].isin(in_force["decision_id"])]
    consulted = consulted[consulted["day"] <= day]
    passed = consulted[consulted["is_passed"].fillna(False).astype(bool)]
    votes = pd.DataFrame(
        {
            "passed": passed.groupby("decision_id")["hamlet_code"].nunique(),
            "failed": consulted[~consulted.index.isin(passed.index)].groupby("decision_id").size(),
            "last": passed.groupby("decision_id")["day"].max(),
        }
    )
    approvals = records.approvals.assign(day=local_day(records.approvals["approved_date"]))
    approvals = approvals[approvals["day"] <= day].sort_values("day")
    resolution = approvals.drop_duplicates("decision_id").set_index("decision_id")
    steps = records.steps if records.steps is not None else pd.DataFrame(columns=STEP_COLUMNS)
    steps = steps.assign(day=local_day(steps["step_date"]))
    steps = steps[steps["day"] <= day]

    table = records.communes[["commune_code", "commune_name"]].drop_duplicates("commune_code")
    table = table.set_index("commune_code").join(first)
    decision = in_force["decision_id"].reindex(table.index)
    needed = decision.map(affected).fillna(0)
    got = decision.map(votes["passed"]).fillna(0)
    table["decision_id"] = decision
    table["has_failed_consultation"] = decision.map(votes["failed"]).fillna(0).gt(0)
    is_consulted = decision.notna() & got.ge(needed)
    drafted_day = decision.map(in_force.reset_index().set_index("decision_id")["day"])
    table["consulted_date"] = (
        decision.map(votes["last"]).where(needed.gt(0), drafted_day).where(is_consulted)
    )
    for step in ("advisory_conference", "party_opinion"):
        held = steps[steps["step"] == step].groupby("decision_id")["day"].min()
        table[f"{step}_date"] = decision.map(held)
    table["approved_date"] = decision.map(resolution["day"])
    table["resolution_number"] = decision.map(resolution["resolution_number"])
    is_approved = table["approved_date"].notna()
    table["progress_status"] = NO_PLAN
    table.loc[decision.notna(), "progress_status"] = PLAN_DRAFTED
    table.loc[is_consulted, "progress_status"] = CONSULTED
    table.loc[is_approved, "progress_status"] = APPROVED
    table["late_milestones"] = late_milestones(table, as_of, deadlines)
    return table.reset_index()[list(PROGRESS_COLUMNS)]


def late_milestones(table: pd.DataFrame, as_of: date, deadlines: ProvinceDeadlines) -> pd.Series:
    """Per commune: labels of the commune milestones past due ("trước ngày X": late
    from X on) whose status it has not reached; the province's own milestones never."""
    rank = table["progress_status"].map({s: k for k, s in enumerate(STATUSES)})
    late = pd.Series("", index=table.index, dtype=object)
    for milestone in deadlines.milestones:
        if milestone.is_province_milestone or not milestone.is_past(as_of):
            continue
        behind = rank < STATUSES.index(milestone.requires)
        text = f"{milestone.label_vi} (hạn {milestone.due_vi})"
        late[behind] = late[behind].where(late[behind].eq(""), late[behind] + "; ") + text
    return late


def report_weeks(records: ProgressRecords, as_of: date) -> list[date]:
    """Mondays from the week before the first decision (so the chart starts from no
    plan; at most ``TIMELINE_MAX_WEEKS`` back, at least ``TIMELINE_MIN_WEEKS``) to
    ``as_of``, and ``as_of`` itself."""
    days = local_day(records.decisions["decided_at"])
    monday = as_of - timedelta(days=as_of.weekday())
    start = monday - timedelta(weeks=TIMELINE_MIN_WEEKS)
    if len(days.dropna()):
        first = days.min().date()
        start = min(start, first - timedelta(days=first.weekday(), weeks=1))
    start = max(start, monday - timedelta(weeks=TIMELINE_MAX_WEEKS))
    weeks = [start + timedelta(weeks=k) for k in range((monday - start).days // 7 + 1)]
    return weeks if weeks[-1] == as_of else [*weeks, as_of]


def progress_timeline(
    records: ProgressRecords, as_of: date, deadlines: ProvinceDeadlines
) -> pd.DataFrame:
    """Communes per status on each day of ``report_weeks`` (week_date, progress_status,
    communes), every status present even at zero."""
    rows = []
    for week in report_weeks(records, as_of):
        counts = commune_progress(records, week, deadlines)["progress_status"].value_counts()
        rows += [
            {
                "week_date": pd.Timestamp(week),
                "progress_status": s,
                "communes": int(counts.get(s, 0)),
            }
            for s in STATUSES
        ]
    return pd.DataFrame(rows)


def status_counts(progress: pd.DataFrame) -> pd.Series:
    """Communes per status (every status, in order)."""
    return progress["progress_status"].value_counts().reindex(list(STATUSES), fill_value=0)
