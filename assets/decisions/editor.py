"""A planner's edit of a plan on the map, as plain logic the notebook's widget calls.

The planner starts from a published option or from a draft saved earlier (any decision
of the commune: its stored assignment, re-planned with today's counts), moves hamlets
between units (a click on the map), undoes, locks units they are done with and saves the
result as a draft decision. A draft of another commune, or one whose hamlets no longer
fit the data (codes changed since it was saved), is refused with the reason.
After every change the panel's figures come from the functions that score the published
options (``plan_from_assignment``, then ``option_scores``), so an edited plan and the
engine's plans compare figure for figure. A move that would break the rules every plan
obeys (a unit not connected, of two kinds) is refused with the reason, leaving the plan
as it was; planners' constraints and failed consultations are shown as conflicts, not
refused: the planner may have reasons, and the decision records them in its note.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import NamedTuple

import pandas as pd

from assets.decisions.commune import CommuneMarts, DecisionError, recording
from assets.decisions.record import (
    RecordedDecision,
    read_decision_assignments,
    read_decisions,
    record_decision,
)
from assets.decisions.review import PUBLISHED_VI, scores_table
from assets.exports.files import OPTION_LABELS_VI
from assets.exports.office import vn_number
from assets.planning.assembly import PlanResult
from assets.planning.constraints import LOCKED, PlannerConstraints
from assets.planning.manual import assignment_problems, plan_from_assignment
from assets.planning.rules import RulesProfile
from assets.planning.scores import option_scores
from assets.progress.records import VIETNAM
from assets.warehouse import Warehouse
from geodata.crs import metric_crs_for

NEW_UNIT = "new"  # target of a move that makes the hamlet a unit of its own
EDITED_VI = "Bản chỉnh sửa"
UNIT_PANEL_COLUMNS = (
    "unit_id",
    "unit_name",
    "member_names",
    "households",
    "population",
    "area_km2",
    "target_households",
    "is_compliant",
    "is_contiguous",
    "is_locked",
)


class EditError(ValueError):
    """A move (or a draft to load) the editor refuses; the message says why (Vietnamese)."""


class Step(NamedTuple):
    """What undo goes back to: the assignment, its locks, and what it started from."""

    assignment: dict[str, str]
    locked_units: set[str]
    started_from: str | None
    start: dict[str, str]


@dataclass
class PlanEditor:
    """One commune's plan being edited: hamlet -> unit, with the history for undo.

    ``constraints``: the commune's planner constraints in force; ``consultation``: the
    plan in force's consultation per hamlet (hamlet_code, consultation: passed, failed,
    pending, not_affected), shown beside the conflicts."""

    commune: CommuneMarts
    rules: RulesProfile
    constraints: PlannerConstraints = field(default_factory=PlannerConstraints)
    consultation: pd.DataFrame | None = None
    on: date = field(default_factory=date.today)
    assignment: dict[str, str] = field(default_factory=dict)
    locked_units: set[str] = field(default_factory=set)
    history: list[Step] = field(default_factory=list)
    started_from: str | None = None  # a published option's name, or a draft's decision_id
    start: dict[str, str] = field(default_factory=dict)  # the assignment started from

    def __post_init__(self) -> None:
        self._compliance = self.commune.compliance()
        self._adjacency = self.commune.adjacency()
        self._measures = self.commune.measures()
        self._names = self.commune.names()
        if self.assignment:
            self._plan = self._build()
            self.start = dict(self.assignment)
        else:
            self.start_from(_first_option(self.commune))

    # --- edits -------------------------------------------------------------------------

    def start_from(self, option_name: str) -> None:
        """Begin again from a published option (undo goes back to the previous state)."""
        chosen = self.commune.option_assignment(option_name)
        self._begin(option_name, dict(zip(chosen["hamlet_code"], chosen["unit_id"], strict=True)))

    def load_draft(self, warehouse: Warehouse, decision_id: str) -> None:
        """Begin again from a saved draft (a decision of this commune): its assignment,
        re-planned with today's counts. Refused, with the plan unchanged, when the draft
        is not in the warehouse, is another commune's, or no longer fits the hamlets
        (``assignment_problems``: codes changed since, a unit no longer connected)."""
        commune = self.commune
        decisions = read_decisions(warehouse, commune.province_code)
        found = decisions[decisions["decision_id"] == decision_id]
        if found.empty:
            raise EditError(
                f"không có bản dự thảo {decision_id} trong kho dữ liệu của tỉnh "
                f"{commune.province_code}"
            )
        owner = str(found["commune_code"].iloc[0])
        if owner != commune.commune_code:
            raise EditError(
                f"bản dự thảo {decision_id} là của xã {owner}, không phải xã {commune.commune_code}"
            )
        given = read_decision_assignments(warehouse, [decision_id])
        if given.empty:
            raise EditError(f"bản dự thảo {decision_id} không có phân công thôn/TDP nào")
        given = given[["hamlet_code", "unit_id"]]
        problems = assignment_problems(self._compliance, self._adjacency, given)
        if problems:
            raise EditError(
                f"bản dự thảo {decision_id} không còn khớp với dữ liệu hiện nay "
                "(hãy bắt đầu từ một phương án đã công bố): " + "; ".join(problems)
            )
        self._begin(decision_id, dict(zip(given["hamlet_code"], given["unit_id"], strict=True)))

    def begin(self, warehouse: Warehouse, choice: str) -> None:
        """Begin from ``choice``: a published option's name, else a saved draft's id."""
        if choice in set(self.commune.assignments["option_name"]):
            self.start_from(choice)
        else:
            self.load_draft(warehouse, choice)

    def start_choices(self, warehouse: Warehouse) -> list[tuple[str, str]]:
        """What the planner may start from, as (label, value): the published options,
        then the commune's saved drafts, newest first."""
        options = [
            (f"Phương án {OPTION_LABELS_VI.get(o, o)}", str(o))
            for o in sorted(self.commune.assignments["option_name"].unique())
        ]
        decisions = read_decisions(warehouse, self.commune.province_code)
        mine = decisions[decisions["commune_code"] == self.commune.commune_code]
        drafts = [
            (
                f"Bản dự thảo {vn_number(when.tz_convert(VIETNAM))} – {who} ({decision_id})",
                str(decision_id),
            )
            for decision_id, when, who in zip(
                mine["decision_id"], mine["decided_at"], mine["decided_by"], strict=True
            )
        ]
        return options + drafts

    def _begin(self, started_from: str, assignment: dict[str, str]) -> None:
        self._remember()
        self.assignment = assignment
        self.locked_units = set()
        self.started_from = started_from
        self._plan = self._build()
        self.start = dict(self.assignment)

    def move(self, hamlet_code: str, unit_id: str) -> None:
        """Put a hamlet into a unit (``NEW_UNIT``: a unit of its own). Refused, with the
        plan unchanged, if either unit is locked or the result breaks the rules of every
        plan (``assignment_problems``: a unit must be connected and of one kind)."""
        if hamlet_code not in self.assignment:
            raise EditError(f"{hamlet_code} không phải thôn/TDP của xã {self.commune.commune_code}")
        current = self.assignment[hamlet_code]
        if unit_id != NEW_UNIT and unit_id not in set(self.assignment.values()):
            raise EditError(f"không có đơn vị {unit_id} trong phương án đang sửa")
        if unit_id == current:
            return
        for unit in (current, unit_id):
            if unit in self.locked_units:
                raise EditError(f"đơn vị {self.unit_name(unit)} đã khóa: mở khóa trước khi sửa")
        edited = dict(self.assignment)
        edited[hamlet_code] = f"{NEW_UNIT}-{hamlet_code}" if unit_id == NEW_UNIT else unit_id
        problems = assignment_problems(self._compliance, self._adjacency, _frame(edited))
        if problems:
            raise EditError(f"không chuyển {self.hamlet_name(hamlet_code)}: " + "; ".join(problems))
        self._remember()
        self.assignment = edited
        self._plan = self._build()

    def neighbouring_units(self, hamlet_code: str) -> list[str]:
        """Units (other than its own) that share a boundary with the hamlet."""
        touching = self._adjacency.loc[
            self._adjacency["hamlet_code"] == hamlet_code, "neighbour_hamlet_code"
        ]
        own = self.assignment[hamlet_code]
        return sorted({self.assignment[c] for c in touching if c in self.assignment} - {own})

    def toggle_lock(self, unit_id: str) -> None:
        """Lock a unit the planner is done with (no hamlet moves in or out), or unlock it."""
        if unit_id not in set(self.assignment.values()):
            raise EditError(f"không có đơn vị {unit_id} trong phương án đang sửa")
        self._remember()
        self.locked_units ^= {unit_id}

    def undo(self) -> bool:
        """Back one step; False when there is nothing to undo."""
        if not self.history:
            return False
        self.assignment, self.locked_units, self.started_from, self.start = self.history.pop()
        self._plan = self._build()
        return True

    def _remember(self) -> None:
        if self.assignment:
            self.history.append(
                Step(dict(self.assignment), set(self.locked_units), self.started_from, self.start)
            )

    def origin(self) -> str:
        """What the edit started from, as the saved note says it."""
        if self.started_from in set(self.commune.assignments["option_name"]):
            return f"phương án {self.started_from}"
        return f"bản dự thảo {self.started_from}"

    def _build(self) -> PlanResult:
        """The edited plan as the engine computes plans; unit labels become the engine's
        (the code of each unit's largest hamlet), locks following their units."""
        plan = plan_from_assignment(
            self._compliance,
            self._adjacency,
            self.rules,
            _frame(self.assignment),
            names=self._names,
            measures=self._measures,
        )
        renamed = dict(
            zip(plan.assignments["hamlet_code"], plan.assignments["unit_id"], strict=True)
        )
        self.locked_units = {
            renamed[h] for h, unit in self.assignment.items() if unit in self.locked_units
        }
        self.assignment = renamed
        return plan

    # --- what the panel shows ------------------------------------------------------------

    @property
    def plan(self) -> PlanResult:
        return self._plan

    def hamlet_name(self, hamlet_code: str) -> str:
        return str(self._names.get(hamlet_code, hamlet_code))

    def unit_name(self, unit_id: str) -> str:
        """A unit is named after its largest hamlet (its code), as in the đề án."""
        return self.hamlet_name(unit_id)

    def units(self) -> pd.DataFrame:
        """Each unit: members, households, population, area, its standard, compliance,
        contiguity and lock (``UNIT_PANEL_COLUMNS``)."""
        units = self.plan.units.copy()
        hamlets = self.commune.hamlets
        area = hamlets.to_crs(metric_crs_for(hamlets)).area / 1e6
        area_of = pd.Series(area.to_numpy(), index=hamlets["hamlet_code"])
        members = self.plan.assignments.groupby("unit_id")["hamlet_code"].agg(list)
        units["unit_name"] = units["unit_id"].map(self.unit_name)
        units["member_names"] = units["unit_id"].map(
            lambda u: ", ".join(self.hamlet_name(h) for h in members[u])
        )
        units["population"] = units["unit_id"].map(
            lambda u: int(
                self._compliance.set_index("hamlet_code").loc[members[u], "population"].sum()
            )
        )
        units["area_km2"] = units["unit_id"].map(
            lambda u: round(float(area_of[members[u]].sum()), 2)
        )
        # Every unit here passed assignment_problems, so each is connected.
        units["is_contiguous"] = True
        units["is_locked"] = units["unit_id"].isin(self.locked_units)
        return units[list(UNIT_PANEL_COLUMNS)].sort_values("unit_id").reset_index(drop=True)

    def scores(self) -> pd.DataFrame:
        """The edited plan's scores (``option_scores``, as the marts score the options)
        beside the published options': one row per plan, ``source`` saying which."""
        plan = self.plan
        edited = option_scores(
            plan.summary,
            plan.units,
            plan.assignments,
            self._compliance,
            self.rules,
            on=self.on,
            hamlets=self.commune.hamlets,
        )
        columns = [*scores_table(edited).columns, "allowance_fund_before_vnd_per_year"]
        mine = edited[[c for c in columns if c in edited.columns]].assign(source=EDITED_VI)
        mine = mine.dropna(axis=1, how="all")  # no household points: no distance
        published = scores_table(self.commune.options).assign(source=PUBLISHED_VI)
        return pd.concat([published, mine], ignore_index=True)

    def totals(self) -> dict[str, float]:
        """The headline figures of the edited plan: units, compliant units, households,
        allowance fund before and saving per year, composite score."""
        row = self.scores().iloc[-1]
        units = self.units()
        return {
            "units": len(units),
            "compliant_units": int(units["is_compliant"].sum()),
            "households": int(units["households"].sum()),
            "allowance_fund_before_vnd_per_year": float(row["allowance_fund_before_vnd_per_year"]),
            "allowance_saving_vnd_per_year": float(row["allowance_saving_vnd_per_year"]),
            "composite_score": float(row["composite_score"]),
        }

    def conflicts(self) -> list[str]:
        """The plan against the commune's constraints and consultation (Vietnamese)."""
        unit = self.assignment
        out = []
        for a, b in self.constraints.apart:
            if a in unit and b in unit and unit[a] == unit[b]:
                out.append(
                    f"Không được ghép {self.hamlet_name(a)} với {self.hamlet_name(b)} "
                    "(ràng buộc không ghép) nhưng phương án ghép hai thôn/TDP này"
                )
        for a, b in self.constraints.together:
            if a in unit and b in unit and unit[a] != unit[b]:
                out.append(
                    f"Phải ghép {self.hamlet_name(a)} với {self.hamlet_name(b)} "
                    "(ràng buộc phải ghép) nhưng phương án để riêng"
                )
        sizes = pd.Series(unit).value_counts()
        for code in sorted(self.constraints.locked & set(unit)):
            if sizes[unit[code]] > 1:
                out.append(
                    f"{self.hamlet_name(code)} được giữ nguyên (ràng buộc {LOCKED}) "
                    "nhưng phương án ghép với thôn/TDP khác"
                )
        if self.consultation is not None:
            failed = self.consultation.loc[
                self.consultation["consultation"] == "failed", "hamlet_code"
            ]
            for code in sorted(set(failed) & set(unit)):
                if sizes[unit[code]] > 1:
                    out.append(
                        f"Nhân dân {self.hamlet_name(code)} không tán thành sáp nhập "
                        "(lấy ý kiến không đạt) nhưng phương án vẫn ghép"
                    )
        return out

    # --- saving --------------------------------------------------------------------------

    def save(
        self,
        warehouse: Warehouse,
        *,
        decided_by: str | None = None,
        note: str = "",
        accept_below_standard: bool = False,
    ) -> RecordedDecision:
        """Record the edited plan as a new draft decision (``record_decision``: checked
        by the engine's rules, author from the login or the OS user). The note says it
        was edited on the map, from which option, and lists any conflict."""
        if not self.history or self.assignment == self.start:
            raise DecisionError(
                f"chưa sửa gì so với {self.origin()}: chọn nó thay vì lưu một bản sửa giống hệt"
            )
        parts = [f"{EDITED_VI} trên bản đồ từ {self.origin()}."]
        parts += [f"Xung đột: {c}." for c in self.conflicts()]
        if note.strip():
            parts.append(note.strip())
        with recording(warehouse, self.commune.province_code):
            return record_decision(
                warehouse,
                self.commune,
                self.rules,
                decided_by=decided_by,
                note=" ".join(parts),
                assignment=_frame(self.assignment),
                accept_below_standard=accept_below_standard,
            )


def _frame(assignment: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame({"hamlet_code": list(assignment), "unit_id": list(assignment.values())})


def _first_option(commune: CommuneMarts) -> str:
    """The compliant option when published, else the first there is."""
    options = list(commune.assignments["option_name"].unique())
    return "compliant" if "compliant" in options else str(options[0])
