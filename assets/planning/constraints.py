"""Planners' constraints on the merger engine, kept in ``planning.constraints``.

Decisions must weigh history, culture, ethnicity, religion and residents' wishes (ND
185/2026 Art. 8), which the household counts do not show, so planners add them:

- ``locked``: the hamlet stays as it is, alone, in every option;
- ``must_not_merge``: the two hamlets never share a unit (different ethnic or religious
  communities, a river without a crossing; a failed consultation adds one per pair);
- ``must_merge``: the two hamlets (neighbours of one kind) always share a unit;
- ``prefer_same_ethnicity`` (per commune): a soft preference for merging hamlets of the
  same majority ethnicity (a tie-break after compliance and the number of units).

They enter the engine once, as its graph: a locked hamlet loses its edges, the pairs
travel with each cluster (``plans.Cluster.apart`` / ``together``). A commune whose
constraints contradict each other (or name hamlets that cannot merge) is reported with
the reason and left as it is, never planned under a silently relaxed set.

Rows are never changed: a later row for the same constraint (kind, hamlets) supersedes,
and ``is_active = false`` lifts it, so who set what, why and when stays on record.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from assets.planning.graph import code_components
from assets.warehouse import Warehouse
from assets.warehouse.roles import recorded_author
from expectations.schemas import TABLES

CONSTRAINTS = "planning.constraints"
LOCKED = "locked"
MUST_NOT_MERGE = "must_not_merge"
MUST_MERGE = "must_merge"
SAME_ETHNICITY = "prefer_same_ethnicity"
KINDS = (LOCKED, MUST_NOT_MERGE, MUST_MERGE, SAME_ETHNICITY)
PAIR_KINDS = (MUST_NOT_MERGE, MUST_MERGE)
KIND_LABELS_VI = {
    LOCKED: "giữ nguyên",
    MUST_NOT_MERGE: "không ghép",
    MUST_MERGE: "phải ghép",
    SAME_ETHNICITY: "ưu tiên ghép thôn/TDP cùng dân tộc đa số",
}
TIMEZONE = "Asia/Ho_Chi_Minh"  # dates in explanations are days in Vietnam
KEY = ("commune_code", "constraint_kind", "hamlet_code", "other_hamlet_code")
LOCKED_VI = "giữ nguyên theo ràng buộc của người lập kế hoạch"
APART_VI = "chỉ giáp các đơn vị không được ghép theo ràng buộc của người lập kế hoạch"


class ConstraintError(ValueError):
    """A constraint cannot be recorded as given; the message says why."""


def _pair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a <= b else (b, a)


@dataclass(frozen=True)
class PlannerConstraints:
    """The constraints in force (``rows``: planning.constraints, active rows only)."""

    rows: pd.DataFrame = field(
        default_factory=lambda: TABLES[CONSTRAINTS].enforce(
            pd.DataFrame(columns=list(TABLES[CONSTRAINTS].columns))
        )
    )

    @classmethod
    def of(cls, given: PlannerConstraints | pd.DataFrame | None) -> PlannerConstraints:
        """Constraints from planning.constraints rows (the latest row per constraint
        wins; lifted ones drop out), or none."""
        if given is None:
            return cls()
        if isinstance(given, PlannerConstraints):
            return given
        rows = TABLES[CONSTRAINTS].enforce(normalised(given))
        latest = rows.sort_values(["set_at", "constraint_id"]).drop_duplicates(
            list(KEY), keep="last"
        )
        active = latest[latest["is_active"].fillna(True).astype(bool)]
        return cls(active.sort_values(list(KEY)).reset_index(drop=True))

    def _of_kind(self, kind: str) -> pd.DataFrame:
        return self.rows[self.rows["constraint_kind"] == kind]

    @property
    def locked(self) -> frozenset[str]:
        return frozenset(self._of_kind(LOCKED)["hamlet_code"])

    @property
    def apart(self) -> list[tuple[str, str]]:
        return self._pairs(MUST_NOT_MERGE)

    @property
    def together(self) -> list[tuple[str, str]]:
        return self._pairs(MUST_MERGE)

    def _pairs(self, kind: str) -> list[tuple[str, str]]:
        rows = self._of_kind(kind)
        codes = zip(rows["hamlet_code"], rows["other_hamlet_code"], strict=True)
        return [_pair(str(a), str(b)) for a, b in codes]

    @property
    def same_ethnicity_communes(self) -> frozenset[str]:
        return frozenset(self._of_kind(SAME_ETHNICITY)["commune_code"])

    def for_communes(self, communes: Iterable[str]) -> PlannerConstraints:
        return PlannerConstraints(self.rows[self.rows["commune_code"].isin(set(communes))])

    def without_locked(self, adjacency: pd.DataFrame, communes: Iterable[str] = ()) -> pd.DataFrame:
        """Adjacency without the edges of locked hamlets (and of whole ``communes``)."""
        cut = adjacency["hamlet_code"].isin(self.locked) | adjacency["neighbour_hamlet_code"].isin(
            self.locked
        )
        cut |= adjacency["commune_code"].isin(set(communes))
        return adjacency[~cut]


def normalised(rows: pd.DataFrame) -> pd.DataFrame:
    """Pairs stored in code order (a < b), so each pair has one key."""
    out = rows.copy()
    a, b = out["hamlet_code"], out["other_hamlet_code"]
    swap = out["constraint_kind"].isin(PAIR_KINDS) & a.notna() & b.notna()
    swap &= a.astype(str) > b.astype(str)
    out.loc[swap, "hamlet_code"], out.loc[swap, "other_hamlet_code"] = b[swap], a[swap]
    return out


def constraint_problems(
    constraints: PlannerConstraints, compliance: pd.DataFrame, adjacency: pd.DataFrame
) -> dict[str, list[str]]:
    """Per commune, why its constraints cannot all hold (Vietnamese); empty when they can.

    A must-merge pair needs two hamlets of one commune and one kind that share a
    boundary, neither locked; must-merge pairs chained together must not hold a
    must-not-merge pair; every code must be a hamlet of the commune.
    """
    known = compliance.set_index(compliance["hamlet_code"].astype(str))
    touching = set(
        zip(
            adjacency["hamlet_code"].astype(str),
            adjacency["neighbour_hamlet_code"].astype(str),
            strict=True,
        )
    )
    problems: dict[str, list[str]] = {}
    rows = constraints.rows
    for row in rows.itertuples(index=False):
        commune = str(row.commune_code)
        codes = [c for c in (row.hamlet_code, row.other_hamlet_code) if isinstance(c, str) and c]
        unknown = [
            c for c in codes if c not in known.index or known.at[c, "commune_code"] != commune
        ]
        if unknown:
            problems.setdefault(commune, []).append(
                f"ràng buộc {KIND_LABELS_VI[row.constraint_kind]}: {', '.join(unknown)} "
                "không phải thôn/TDP của xã"
            )
            continue
        if row.constraint_kind in PAIR_KINDS and len(codes) != 2:
            problems.setdefault(commune, []).append(
                f"ràng buộc {KIND_LABELS_VI[row.constraint_kind]} cần hai thôn/TDP khác nhau"
            )
            continue
        if row.constraint_kind != MUST_MERGE:
            continue
        a, b = codes
        if known.at[a, "hamlet_kind"] != known.at[b, "hamlet_kind"]:
            problems.setdefault(commune, []).append(
                f"phải ghép {a} với {b} nhưng một bên là thôn, một bên là tổ dân phố"
            )
        elif (a, b) not in touching and (b, a) not in touching:
            problems.setdefault(commune, []).append(
                f"phải ghép {a} với {b} nhưng hai thôn/TDP không liền kề"
            )
        for c in {a, b} & constraints.locked:
            problems.setdefault(commune, []).append(
                f"phải ghép {a} với {b} nhưng {c} bị giữ nguyên"
            )
    chain = code_components(constraints.together)  # each code's must-merge group
    for a, b in constraints.apart:
        if a in chain and chain.get(a) == chain.get(b):
            problems.setdefault(str(known.at[a, "commune_code"]), []).append(
                f"không ghép {a} với {b} nhưng các ràng buộc phải ghép nối liền hai thôn/TDP này"
            )
    return {c: sorted(set(p)) for c, p in problems.items()}


# --- explanations ----------------------------------------------------------------------


def constraint_note(row: Any, other_name: str = "") -> str:
    """One constraint as a sentence: what, who set it, when and why."""
    kind = row.constraint_kind
    what = KIND_LABELS_VI[kind] + (f" với {other_name}" if kind in PAIR_KINDS else "")
    when = pd.Timestamp(row.set_at)
    when = when.tz_convert(TIMEZONE) if when.tzinfo is not None else when
    who = f"{row.set_by}, {when:%d/%m/%Y}: {row.constraint_reason}"
    return f"Ràng buộc: {what} ({who})."


def with_constraint_notes(
    assignments: pd.DataFrame,
    constraints: PlannerConstraints,
    problems: dict[str, list[str]],
    name: Callable[[str], str],
) -> pd.Series:
    """Each hamlet's explanation followed by the constraints that shaped it: its own
    (locked, and pairs it belongs to), the commune's ethnicity preference on merged
    hamlets; in a commune whose constraints cannot all hold, the reason first."""
    notes: dict[str, list[str]] = {}
    for row in constraints.rows.itertuples(index=False):
        a, b = row.hamlet_code, row.other_hamlet_code
        if row.constraint_kind == LOCKED:
            notes.setdefault(a, []).append(constraint_note(row))
        elif row.constraint_kind in PAIR_KINDS:
            notes.setdefault(a, []).append(constraint_note(row, name(b)))
            notes.setdefault(b, []).append(constraint_note(row, name(a)))
    preferring = {
        row.commune_code: constraint_note(row)
        for row in constraints._of_kind(SAME_ETHNICITY).itertuples(index=False)
    }
    out = []
    for row in assignments[["commune_code", "hamlet_code", "is_merged", "explanation"]].itertuples(
        index=False
    ):
        parts = []
        if row.commune_code in problems:
            parts.append(
                "Các ràng buộc của người lập kế hoạch không thể cùng thỏa mãn ("
                + "; ".join(problems[row.commune_code])
                + "): chưa lập phương án cho xã, giữ nguyên hiện trạng."
            )
        parts.append(str(row.explanation))
        parts += notes.get(row.hamlet_code, [])
        if row.is_merged and row.commune_code in preferring:
            parts.append(preferring[row.commune_code])
        out.append(" ".join(parts))
    return pd.Series(out, index=assignments.index, dtype=object)


# --- the warehouse ---------------------------------------------------------------------


def read_constraints(warehouse: Warehouse, province_code: str) -> pd.DataFrame:
    """Every constraint row of the province, lifted ones included (the history)."""
    contract = TABLES[CONSTRAINTS]
    with warehouse.connect(read_only=warehouse.kind == "duckdb") as con:
        if not con.table_exists(CONSTRAINTS):
            return contract.enforce(pd.DataFrame(columns=list(contract.columns)))
        rows = con.query_df(
            f"SELECT {', '.join(contract.columns)} FROM {CONSTRAINTS} WHERE province_code = ? "
            "ORDER BY set_at, constraint_id",
            [province_code],
        )
    return contract.enforce(rows)


def set_constraint(
    warehouse: Warehouse,
    province_code: str,
    commune_code: str,
    kind: str,
    *,
    reason: str,
    set_by: str | None = None,
    hamlet_code: str | None = None,
    other_hamlet_code: str | None = None,
    is_active: bool = True,
    set_at: datetime | None = None,
) -> pd.Series:
    """Record a constraint (or lift one with ``is_active=False``); returns the row.

    Who sets it (``recorded_author``: the database login on PostGIS) and why (required)
    are shown in every explanation it shapes.
    """
    if kind not in KINDS:
        raise ConstraintError(f"constraint_kind {kind!r}: one of {', '.join(KINDS)}")
    if not reason or not reason.strip():
        raise ConstraintError("reason is required: why the constraint is set")
    needs = {LOCKED: 1, MUST_NOT_MERGE: 2, MUST_MERGE: 2, SAME_ETHNICITY: 0}[kind]
    given = [c for c in (hamlet_code, other_hamlet_code) if c]
    if len(given) != needs or (needs == 2 and hamlet_code == other_hamlet_code):
        raise ConstraintError(f"{kind} needs {needs} different hamlet code(s), got {given}")
    author = recorded_author(warehouse, set_by)
    when = set_at or datetime.now(UTC)
    row = TABLES[CONSTRAINTS].enforce(
        normalised(
            pd.DataFrame(
                {
                    "constraint_id": [
                        f"{commune_code}-{when:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
                    ],
                    "province_code": [province_code],
                    "commune_code": [commune_code],
                    "constraint_kind": [kind],
                    "hamlet_code": [hamlet_code],
                    "other_hamlet_code": [other_hamlet_code],
                    "set_by": [author],
                    "constraint_reason": [reason.strip()],
                    "set_at": [pd.Timestamp(when)],
                    "is_active": [is_active],
                }
            )
        )
    )
    # Append-only, like decisions: lifting a constraint is a new row.
    warehouse.write_table(CONSTRAINTS, row, append=True)
    return row.iloc[0]


def majority_ethnicity(warehouse: Warehouse) -> pd.Series:
    """Each hamlet's most frequent ethnicity among its clean records (ties: the first in
    order), counted in the warehouse so no person row leaves it; for the preference."""
    persons, params = warehouse.rows_filter("quality.persons_clean", alias="p")
    with warehouse.connect(read_only=warehouse.kind == "duckdb") as con:
        counts = con.query_df(
            "SELECT h.hamlet_code, p.ethnicity, count(*) AS persons "
            "FROM quality.persons_clean p JOIN staging.households h "
            "ON h.household_id = p.household_id AND h.province_code = p.province_code "
            f"WHERE {persons} AND p.ethnicity IS NOT NULL GROUP BY h.hamlet_code, p.ethnicity",
            params,
        )
    top = counts.sort_values(["hamlet_code", "persons", "ethnicity"], ascending=[True, False, True])
    return top.drop_duplicates("hamlet_code").set_index("hamlet_code")["ethnicity"]
