"""A planner's own assignment of hamlets to units, checked and made a plan.

The review notebook's map editor, a recorded decision and the approved plan all start
from an assignment (hamlet_code, unit_id) rather than from the engine. It must obey
what every option obeys (``assignment_problems``); its units and summary are then the
engine's own frames (``assembly``), so an edited plan and an option compare as equals.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from assets.planning.assembly import (
    PlanResult,
    compliance_reasons,
    solved_from_assignment,
    summary_rows,
    unit_members,
    unit_rows,
)
from assets.planning.compliance import (
    COMPLIANCE_INPUT_COLUMNS,
    check_compliance_input,
    format_count,
)
from assets.planning.explain import Explainer
from assets.planning.graph import components, hamlet_graph
from assets.planning.option_kinds import MANUAL
from assets.planning.rules import RulesProfile
from expectations.schemas import TABLES


class AssignmentError(ValueError):
    """A hand-edited assignment breaks a rule every plan follows; lists every problem."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("phương án không hợp lệ:\n- " + "\n- ".join(self.problems))


def assignment_problems(
    compliance: pd.DataFrame, adjacency: pd.DataFrame, assignment: pd.DataFrame
) -> list[str]:
    """What keeps ``assignment`` (hamlet_code, unit_id) from being a plan, in Vietnamese.

    The rules every option of the engine obeys: each hamlet of the communes concerned in
    exactly one unit (only whole hamlets move), a unit inside one commune, of one kind
    (thôn or tổ dân phố), and connected through shared boundaries. Compliance with the
    standard is not a problem here: it is reported on the units.
    """
    problems: list[str] = []
    given = assignment.assign(
        hamlet_code=assignment["hamlet_code"].astype(str), unit_id=assignment["unit_id"].astype(str)
    )
    known = compliance.set_index(compliance["hamlet_code"].astype(str))
    unknown = sorted(set(given["hamlet_code"]) - set(known.index))
    if unknown:
        problems.append(f"mã thôn/TDP không có trong dữ liệu: {', '.join(unknown)}")
    twice = sorted(given.loc[given["hamlet_code"].duplicated(), "hamlet_code"].unique())
    if twice:
        problems.append(f"thôn/TDP được xếp vào hơn một đơn vị: {', '.join(twice)}")
    given = given[given["hamlet_code"].isin(known.index)].drop_duplicates("hamlet_code")
    communes = set(known.loc[given["hamlet_code"], "commune_code"].astype(str))
    scope = known[known["commune_code"].astype(str).isin(communes)]
    missing = sorted(set(scope.index) - set(given["hamlet_code"]))
    if missing:
        problems.append(f"thôn/TDP chưa được xếp vào đơn vị nào: {', '.join(missing)}")
    given = given.assign(
        commune=known.loc[given["hamlet_code"], "commune_code"].astype(str).to_numpy(),
        kind=known.loc[given["hamlet_code"], "hamlet_kind"].astype(str).to_numpy(),
    )
    for unit, group in given.groupby("unit_id", sort=True):
        if group["commune"].nunique() > 1:
            communes_of = ", ".join(sorted(group["commune"].unique()))
            problems.append(f"đơn vị {unit}: gồm thôn/TDP của nhiều xã ({communes_of})")
        if group["kind"].nunique() > 1:
            problems.append(f"đơn vị {unit}: ghép thôn với tổ dân phố (phải cùng loại)")
    codes = given["hamlet_code"].to_numpy()
    position = pd.Series(np.arange(len(codes)), index=codes)
    a = position.reindex(adjacency["hamlet_code"].astype(str)).to_numpy()
    b = position.reindex(adjacency["neighbour_hamlet_code"].astype(str)).to_numpy()
    keep = ~(np.isnan(a) | np.isnan(b))
    a, b = a[keep].astype(np.int64), b[keep].astype(np.int64)
    unit = given["unit_id"].to_numpy()
    inside = unit[a] == unit[b]
    parts = pd.Series(components(len(codes), a[inside], b[inside]))
    split = parts.groupby(unit).nunique()
    for unit_id in split.index[split.to_numpy() > 1]:
        pieces = (
            given.assign(part=parts.to_numpy())[unit == unit_id]
            .groupby("part")["hamlet_code"]
            .agg(lambda c: ", ".join(sorted(c)))
        )
        problems.append(
            f"đơn vị {unit_id}: các thôn/TDP không liền kề nhau ({' | '.join(sorted(pieces))})"
        )
    return problems


def plan_from_assignment(
    compliance: pd.DataFrame,
    adjacency: pd.DataFrame,
    rules: RulesProfile,
    assignment: pd.DataFrame,
    *,
    names: pd.Series | None = None,
    measures: pd.DataFrame | None = None,
    option_name: str = MANUAL,
) -> PlanResult:
    """A given assignment (a planner's hand edit, or an approved option) as a plan.

    Checked by ``assignment_problems`` (``AssignmentError`` lists them all), then its
    units are computed exactly as the engine computes its options' units: households
    against the strictest member standard, a lone exempt hamlet compliant, the same
    reasons and Polsby–Popper. Only the communes of the assigned hamlets are planned;
    ``unit_id`` becomes the code of the unit's largest hamlet, as in the engine.
    """
    check_compliance_input(compliance, rules, COMPLIANCE_INPUT_COLUMNS, "plan_from_assignment")
    problems = assignment_problems(compliance, adjacency, assignment)
    if problems:
        raise AssignmentError(problems)
    given = pd.DataFrame(
        {
            "hamlet_code": assignment["hamlet_code"].astype(str).to_numpy(),
            "label": assignment["unit_id"].astype(str).to_numpy(),
        }
    )
    scope = compliance[compliance["hamlet_code"].astype(str).isin(given["hamlet_code"])]
    nodes, edges = hamlet_graph(scope, adjacency, measures)
    given["households"] = given["hamlet_code"].map(
        pd.Series(nodes["households"].to_numpy(), index=nodes["code"])
    )
    lead = given.sort_values(["label", "households", "hamlet_code"], ascending=[True, False, True])
    given["unit_id"] = given["label"].map(
        lead.drop_duplicates("label").set_index("label")["hamlet_code"]
    )
    solved = {option_name: solved_from_assignment(nodes, given, 0.0)}
    df = unit_members(nodes, solved[option_name])
    explainer = Explainer(names, rules)
    reasons = compliance_reasons(df[df["code"] == df["unit"]].set_index("unit"), rules)
    text = {}
    for unit_code, group in df.groupby("unit", sort=False):
        listing = ", ".join(
            f"{explainer.name(c)} ({format_count(pd.Series([h])).iloc[0]} hộ)"
            for c, h in zip(group["code"], group["households"], strict=True)
        )
        verb = "giữ nguyên" if len(group) == 1 else "gộp " + listing
        text[unit_code] = f"Phương án điều chỉnh: {verb}; {reasons[unit_code]}."
    assignments = TABLES["planning.merger_assignments"].enforce(
        pd.DataFrame(
            {
                "option_name": option_name,
                "commune_code": df["commune"].to_numpy(),
                "hamlet_code": df["code"].to_numpy(),
                "unit_id": df["unit"].to_numpy(),
                "is_merged": df["unit_size"].to_numpy() > 1,
                "explanation": df["unit"].map(text).to_numpy(),
                "rules_profile": rules.name,
            }
        )
    )
    units = unit_rows(nodes, edges, assignments, solved, measures, adjacency, rules)
    summary = summary_rows(nodes, assignments, units, solved, rules)
    return PlanResult(assignments=assignments, units=units, summary=summary)
