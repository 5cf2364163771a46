"""The three merger options for every commune, their units, and a summary per commune.

``plan_options`` is the engine's entry point (Dagster assets and ``hamlets propose`` call
it). DESIGN.md, "The merger problem":

- **minimal**: ``merging.minimal_option`` (only mandatory merges, each into its best
  neighbour);
- **compliant**: max-p-regions at each hamlet's standard: as few hamlets as possible
  left in non-compliant units, then as many units as possible, then the most compact
  grouping, then the fewest households moved (``plans``);
- **consolidated**: the same with a larger target per kind (``consolidated_targets``:
  the profile's ``consolidated_target_households`` when the rules file has it, else the
  8.0× allowance tier ``allowance_high_tier_households``). A cluster whose households
  cannot reach that target is planned at the standard instead, and says so.

Both readings of Art. 10.3: a special-case hamlet still awaiting the province's floor is
kept alone like one at or above its floor (but not called compliant), and the summary
also gives each option's units when such hamlets are judged as ordinary ones
(``without_special_cases``), so the planner sees what is at stake.

Exempt hamlets (Art. 10.3) are compliant alone and stay alone, unless joining them to
a neighbour is what lets that neighbour reach the standard (the merged unit must then
reach it). Hamlets that cannot reach compliance in any connected unit of their kind are
left as they are, with the reason, never forced into a unit still below the standard.

The vectorised part (graph, clusters, trivial clusters, frames) runs on the whole
province or country at once; only clusters needing a search go to ``solve``, per
commune, optionally in worker processes.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from assets.planning.compliance import (
    AWAITING,
    BELOW_STANDARD,
    COMPLIANCE_INPUT_COLUMNS,
    EXEMPT,
    SPECIAL_STATUSES,
    check_compliance_input,
    format_count,
    without_special_cases,
)
from assets.planning.constraints import (
    LOCKED_VI,
    PlannerConstraints,
    constraint_problems,
    with_constraint_notes,
)
from assets.planning.explain import Explainer, Member, UnitFacts, noncompliance_reason
from assets.planning.merging import MINIMAL, minimal_option
from assets.planning.plans import Cluster
from assets.planning.rules import HAMLET_KIND_LABELS_VI, RulesProfile
from assets.planning.solve import FEASIBLE, HEURISTIC, OPTIMAL, solve_communes
from expectations.schemas import TABLES
from geodata.compactness import unit_compactness

COMPLIANT = "compliant"
CONSOLIDATED = "consolidated"
OPTIONS = (MINIMAL, COMPLIANT, CONSOLIDATED)
MANUAL = "manual"  # a planner's hand-edited assignment (``plan_from_assignment``)
DEFAULT_TIME_LIMIT_S = 2.0
NOT_MANDATORY_VI = "dưới tiêu chuẩn nhưng không dưới ngưỡng bắt buộc: không bắt buộc sắp xếp"
MANUAL_BELOW_VI = "phương án điều chỉnh để đơn vị dưới tiêu chuẩn dù cụm liền kề có thể đạt"
# Soft preference for one majority ethnicity: a boundary between hamlets of different
# majority ethnicity counts this much in the compactness tie-break.
CROSS_ETHNICITY_WEIGHT = 0.1

REQUIRED_COLUMNS = COMPLIANCE_INPUT_COLUMNS
# The contracts describe both tables once; the engine's frames follow them.
UNIT_COLUMNS = TABLES["planning.merger_units"].columns
SUMMARY_COLUMNS = TABLES["planning.merger_option_summary"].columns


@dataclass(frozen=True)
class PlanResult:
    """All options' plans.

    - ``assignments``: planning.merger_assignments, options stacked (minimal, compliant,
      consolidated), then commune and hamlet code; ``unit_id`` is the code of the unit's
      largest hamlet, so it is unique within an option;
    - ``units``: one row per option and unit (``UNIT_COLUMNS``): members, households
      against the strictest member standard, target, compliance with its reason in
      Vietnamese, Polsby–Popper (NaN without ``measures``);
    - ``summary``: one row per option and commune (``SUMMARY_COLUMNS``).
      ``optimality_status`` is "optimal" (the unit count is proven optimal),
      "feasible (gap N)" (the exact phase ran out of budget; up to N more units may
      exist) or "heuristic" (not searched exactly, and always for the rule-based minimal
      option); ``units_upper_bound`` is the proven bound (empty for minimal). The
      seconds columns are wall time and vary between runs; everything else is
      deterministic.
    """

    assignments: pd.DataFrame
    units: pd.DataFrame
    summary: pd.DataFrame
    # planning.constraint_problems: communes whose planners' constraints cannot all hold
    # (they are left as they are, each hamlet told why).
    constraint_problems: pd.DataFrame = field(default_factory=lambda: _no_problems())


def _no_problems() -> pd.DataFrame:
    contract = TABLES["planning.constraint_problems"]
    return contract.enforce(pd.DataFrame(columns=list(contract.columns)))


def consolidated_targets(
    rules: RulesProfile, override: Mapping[str, int] | None = None
) -> dict[str, int]:
    """Target households per kind for the consolidated option."""
    if override is not None:
        targets = dict(override)
    else:
        configured = rules.consolidated_target_households
        targets = dict(configured or rules.allowance_high_tier_households)
    missing = [k for k in HAMLET_KIND_LABELS_VI if k not in targets]
    if missing:
        raise ValueError(f"consolidated target lacks hamlet kinds {missing}")
    return {k: int(v) for k, v in targets.items()}


def plan_options(
    compliance: pd.DataFrame,
    adjacency: pd.DataFrame,
    rules: RulesProfile,
    *,
    names: pd.Series | None = None,
    measures: pd.DataFrame | None = None,
    options: Sequence[str] = OPTIONS,
    time_limit_s_per_commune: float = DEFAULT_TIME_LIMIT_S,
    consolidated_target: Mapping[str, int] | None = None,
    workers: int = 1,
    constraints: PlannerConstraints | pd.DataFrame | None = None,
    ethnicity: pd.Series | None = None,
) -> PlanResult:
    """Plan every commune of ``compliance`` under each option asked for.

    ``compliance`` is planning.hamlet_compliance, ``adjacency`` planning.hamlet_adjacency;
    ``names`` maps hamlet_code to a display name for the explanations; ``measures``
    (hamlet_code, area_m2, perimeter_m: ``geodata.compactness.hamlet_measures``) adds
    Polsby–Popper scores. ``time_limit_s_per_commune`` is the exact phase's budget per
    commune and option, in CP-SAT deterministic seconds (0 = heuristic only).
    ``workers`` > 1 solves communes in that many processes (same result).
    ``constraints`` (planning.constraints rows, or ``PlannerConstraints``) hold in every
    option; a commune whose constraints cannot all hold is left as it is and listed in
    ``constraint_problems``. ``ethnicity`` maps hamlet_code to its majority ethnicity,
    for communes that prefer merging hamlets of one ethnicity.
    """
    _validate(compliance, rules, options)
    if compliance.empty:
        return _empty_result()
    planner = PlannerConstraints.of(constraints).for_communes(
        compliance["commune_code"].astype(str)
    )
    problems = constraint_problems(planner, compliance, adjacency)
    adjacency = planner.without_locked(adjacency, communes=problems)
    held = planner.for_communes(set(planner.rows["commune_code"]) - set(problems))
    nodes, edges = _graph(compliance, adjacency, measures)
    nodes["locked"] = nodes["code"].isin(held.locked) | nodes["commune"].isin(problems)
    pairs = _cluster_pairs(nodes, held)
    weights = _preference_weights(nodes, edges, held, ethnicity)
    explainer = Explainer(names, rules)
    assignments: list[pd.DataFrame] = []
    solved: dict[str, _Solved] = {}
    # The reading without special cases awaiting guidance (None when there are none).
    strict: dict[str, _Solved] = {}
    strict_nodes = nodes.assign(
        status=without_special_cases(
            pd.DataFrame(
                {
                    "compliance_status": nodes["status"],
                    "households": nodes["households"],
                    "mandatory_floor_households": compliance.set_index("hamlet_code")[
                        "mandatory_floor_households"
                    ]
                    .reindex(nodes["code"])
                    .to_numpy(),
                }
            )
        )["compliance_status"].to_numpy()
    )
    any_awaiting = bool((nodes["status"] == AWAITING).any())
    for option in OPTIONS:
        if option not in options:
            continue
        t0 = time.perf_counter()
        if option == MINIMAL:
            frame = minimal_option(
                compliance,
                adjacency,
                rules,
                names=names,
                constraints=held,
                ethnicity=ethnicity,
                frozen_communes=problems,
            )
            solved[option] = _minimal_solved(nodes, frame, time.perf_counter() - t0)
            assignments.append(frame)
            if any_awaiting:
                alt = minimal_option(
                    without_special_cases(compliance),
                    adjacency,
                    rules,
                    names=names,
                    constraints=held,
                    ethnicity=ethnicity,
                    frozen_communes=problems,
                )
                strict[option] = _minimal_solved(strict_nodes, alt, 0.0)
            continue
        targets, aim, fallback = _targets(nodes, option, rules, consolidated_target)
        result = _solve(
            nodes, edges, targets, aim, fallback, time_limit_s_per_commune, workers, pairs, weights
        )
        solved[option] = result
        if any_awaiting:
            strict[option] = _solve(
                strict_nodes,
                edges,
                targets,
                aim,
                fallback,
                time_limit_s_per_commune,
                workers,
                pairs,
                weights,
            )
        assignments.append(_assign(nodes, edges, option, result, explainer, rules))
    contract = TABLES["planning.merger_assignments"]
    out = pd.concat(assignments, ignore_index=True)
    rank = out["option_name"].map({o: k for k, o in enumerate(OPTIONS)})
    out = out.assign(_rank=rank).sort_values(["_rank", "commune_code", "hamlet_code"])
    out = out.drop(columns="_rank").reset_index(drop=True)
    out["explanation"] = with_constraint_notes(out, held, problems, explainer.name)
    out = contract.enforce(out)
    units = _units(nodes, edges, out, solved, measures, adjacency, rules)
    summary = _summary(nodes, out, units, solved, rules)
    summary = _with_strict_reading(summary, nodes, strict_nodes, strict)
    listed = pd.DataFrame(
        [(c, p) for c, found in sorted(problems.items()) for p in found],
        columns=["commune_code", "problem"],
    )
    return PlanResult(
        assignments=out,
        units=units,
        summary=summary,
        constraint_problems=TABLES["planning.constraint_problems"].enforce(listed),
    )


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
    parts = pd.Series(_components(len(codes), a[inside], b[inside]))
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
    check_compliance_input(compliance, rules, REQUIRED_COLUMNS, "plan_from_assignment")
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
    nodes, edges = _graph(scope, adjacency, measures)
    given["households"] = given["hamlet_code"].map(
        pd.Series(nodes["households"].to_numpy(), index=nodes["code"])
    )
    lead = given.sort_values(["label", "households", "hamlet_code"], ascending=[True, False, True])
    given["unit_id"] = given["label"].map(
        lead.drop_duplicates("label").set_index("label")["hamlet_code"]
    )
    solved = {option_name: _minimal_solved(nodes, given, 0.0)}
    df = _unit_members(nodes, solved[option_name])
    explainer = Explainer(names, rules)
    reasons = _compliance_reasons(df[df["code"] == df["unit"]].set_index("unit"), rules)
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
    units = _units(nodes, edges, assignments, solved, measures, adjacency, rules)
    summary = _summary(nodes, assignments, units, solved, rules)
    return PlanResult(assignments=assignments, units=units, summary=summary)


def _empty_result() -> PlanResult:
    contract = TABLES["planning.merger_assignments"]
    empty = pd.DataFrame({c: pd.Series(dtype=object) for c in contract.columns})
    return PlanResult(
        assignments=contract.enforce(empty),
        units=pd.DataFrame({c: pd.Series(dtype=object) for c in UNIT_COLUMNS}),
        summary=pd.DataFrame({c: pd.Series(dtype=object) for c in SUMMARY_COLUMNS}),
    )


# --- inputs ----------------------------------------------------------------------------


def _validate(compliance: pd.DataFrame, rules: RulesProfile, options: Sequence[str]) -> None:
    unknown = [o for o in options if o not in OPTIONS]
    if unknown:
        raise ValueError(f"plan_options: unknown options {unknown}; known: {list(OPTIONS)}")
    check_compliance_input(compliance, rules, REQUIRED_COLUMNS, "plan_options")


def _graph(
    compliance: pd.DataFrame, adjacency: pd.DataFrame, measures: pd.DataFrame | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hamlets (sorted, with context for reasons and measures) and undirected pairs."""
    nodes = pd.DataFrame(
        {
            "code": compliance["hamlet_code"].astype(str).to_numpy(),
            "commune": compliance["commune_code"].astype(str).to_numpy(),
            "kind": compliance["hamlet_kind"].astype(str).to_numpy(),
            "households": compliance["households"].astype("int64").to_numpy(),
            "standard": compliance["standard_households"].astype("int64").to_numpy(),
            "floor": compliance["mandatory_floor_households"].astype("int64").to_numpy(),
            "status": compliance["compliance_status"].astype(str).to_numpy(),
            "exemption": compliance["exemption_category"].astype(object).to_numpy(),
        }
    )
    nodes = nodes.sort_values(["commune", "code"], kind="stable").reset_index(drop=True)
    if measures is not None:
        m = measures.assign(hamlet_code=measures["hamlet_code"].astype(str))
        m = m.drop_duplicates("hamlet_code").set_index("hamlet_code")
        nodes["area"] = m["area_m2"].reindex(nodes["code"]).astype(float).to_numpy()
        nodes["perimeter"] = m["perimeter_m"].reindex(nodes["code"]).astype(float).to_numpy()
    index = pd.Index(nodes["code"])
    a = index.get_indexer(adjacency["hamlet_code"].astype(str))
    b = index.get_indexer(adjacency["neighbour_hamlet_code"].astype(str))
    shared = adjacency["shared_boundary_m"].astype(float).to_numpy()
    keep = (a >= 0) & (b >= 0) & (a != b)
    a, b, shared = a[keep], b[keep], shared[keep]
    commune = nodes["commune"].to_numpy()
    keep = commune[a] == commune[b]
    lo, hi = np.minimum(a[keep], b[keep]), np.maximum(a[keep], b[keep])
    edges = (
        pd.DataFrame({"a": lo, "b": hi, "shared_m": shared[keep]})
        .groupby(["a", "b"], as_index=False)["shared_m"]
        .max()
    )
    kind = nodes["kind"].to_numpy()
    edges["same_kind"] = kind[edges["a"].to_numpy()] == kind[edges["b"].to_numpy()]

    n = len(nodes)
    same = edges[edges["same_kind"]]
    nodes["cluster"] = _components(n, same["a"].to_numpy(), same["b"].to_numpy())
    by_cluster = nodes.groupby("cluster")["households"]
    nodes["cluster_hamlets"] = by_cluster.transform("size").astype("int64")
    nodes["cluster_households"] = by_cluster.transform("sum").astype("int64")
    nodes["kind_hamlets"] = nodes.groupby(["commune", "kind"])["code"].transform("size")
    touched = np.zeros(n, dtype=bool)
    touched[edges["a"].to_numpy()] = True
    touched[edges["b"].to_numpy()] = True
    nodes["has_neighbour"] = touched
    other = edges[~edges["same_kind"]]
    other_kinds = pd.concat(
        [
            pd.DataFrame({"v": other["a"], "k": kind[other["b"].to_numpy()]}),
            pd.DataFrame({"v": other["b"], "k": kind[other["a"].to_numpy()]}),
        ]
    ).drop_duplicates()
    labels = (
        other_kinds.assign(k=other_kinds["k"].map(HAMLET_KIND_LABELS_VI))
        .sort_values(["v", "k"])
        .groupby("v")["k"]
        .agg(", ".join)
    )
    nodes["other_kinds"] = labels.reindex(nodes.index).fillna("").to_numpy()
    return nodes, edges


def _components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Connected components by min-label propagation with pointer jumping (vectorised)."""
    label = np.arange(n)
    if len(a) == 0:
        return label
    while True:
        low = np.minimum(label[a], label[b])
        new = label.copy()
        np.minimum.at(new, a, low)
        np.minimum.at(new, b, low)
        new = new[new]
        if np.array_equal(new, label):
            return label
        label = new


def _cluster_pairs(
    nodes: pd.DataFrame, held: PlannerConstraints
) -> dict[int, tuple[list[tuple[str, str]], list[tuple[str, str]]]]:
    """The planners' (apart, together) pairs of each cluster (pairs across clusters can
    never share a unit and need no care)."""
    cluster = pd.Series(nodes["cluster"].to_numpy(), index=nodes["code"])
    out: dict[int, tuple[list[tuple[str, str]], list[tuple[str, str]]]] = {}
    for side, found in enumerate((held.apart, held.together)):
        for a, b in found:
            if a in cluster.index and b in cluster.index and cluster[a] == cluster[b]:
                out.setdefault(int(cluster[a]), ([], []))[side].append((a, b))
    return out


def _preference_weights(
    nodes: pd.DataFrame,
    edges: pd.DataFrame,
    held: PlannerConstraints,
    ethnicity: pd.Series | None,
) -> np.ndarray | None:
    """Per edge, the share of its boundary that counts in the tie-break: edges between
    hamlets of different majority ethnicity count ``CROSS_ETHNICITY_WEIGHT`` in communes
    that prefer merging within one ethnicity (after compliance and units; soft)."""
    communes = held.same_ethnicity_communes
    if ethnicity is None or not communes or edges.empty:
        return None
    group = nodes["code"].map(ethnicity.astype("string")).to_numpy()
    a, b = edges["a"].to_numpy(), edges["b"].to_numpy()
    known = pd.notna(group[a]) & pd.notna(group[b])
    differ = known & (group[a].astype(str) != group[b].astype(str))
    preferring = nodes["commune"].isin(communes).to_numpy()[a]
    return np.where(differ & preferring, CROSS_ETHNICITY_WEIGHT, 1.0)


def _targets(
    nodes: pd.DataFrame,
    option: str,
    rules: RulesProfile,
    override: Mapping[str, int] | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Target per hamlet, the option's own target, and whether the cluster fell back."""
    standard = nodes["standard"].to_numpy()
    if option == COMPLIANT:
        return standard, standard, np.zeros(len(nodes), dtype=bool)
    wanted = nodes["kind"].map(consolidated_targets(rules, override)).to_numpy()
    target = np.maximum(standard, wanted)
    reach = pd.Series(target).groupby(nodes["cluster"].to_numpy()).transform("max").to_numpy()
    fallback = nodes["cluster_households"].to_numpy() < reach
    return np.where(fallback, standard, target), target, fallback


# --- solving ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Solved:
    """Per hamlet: its unit's first member (position), the target used, cluster facts."""

    unit: np.ndarray
    target: np.ndarray
    aim: np.ndarray  # the option's own target, before any fallback to the standard
    fallback: np.ndarray
    cluster_status: np.ndarray  # per hamlet, of its cluster
    cluster_units: np.ndarray
    cluster_bound: np.ndarray
    commune_seconds: pd.Series  # by commune
    commune_exact_seconds: pd.Series


def _solve(
    nodes: pd.DataFrame,
    edges: pd.DataFrame,
    target: np.ndarray,
    aim: np.ndarray,
    fallback: np.ndarray,
    time_limit: float,
    workers: int,
    pairs: Mapping[int, tuple[list[tuple[str, str]], list[tuple[str, str]]]] | None = None,
    weights: np.ndarray | None = None,
) -> _Solved:
    """Plan the clusters; ``pairs`` are the planners' (apart, together) pairs per cluster,
    ``weights`` scale each edge's shared boundary in the tie-break (soft preferences)."""
    pairs = pairs or {}
    n = len(nodes)
    h = nodes["households"].to_numpy()
    exempt = np.isin(nodes["status"].to_numpy(), SPECIAL_STATUSES)
    cluster = nodes["cluster"].to_numpy()
    frame = pd.DataFrame({"cluster": cluster, "h": h, "t": target, "ss": exempt | (h >= target)})
    agg = frame.groupby("cluster").agg(
        n=("h", "size"), total=("h", "sum"), tmin=("t", "min"), all_ss=("ss", "all")
    )
    trivial = (agg["n"] == 1) | agg["all_ss"] | (agg["total"] < agg["tmin"])
    trivial &= ~agg.index.isin([c for c, (_, together) in pairs.items() if together])
    unit = np.arange(n)
    status = np.full(n, OPTIMAL, dtype=object)
    units = nodes["cluster_hamlets"].to_numpy().copy()
    bound = units.copy()

    hard = agg.index[~trivial.to_numpy()].to_numpy()
    is_hard = np.isin(cluster, hard)
    positions = np.flatnonzero(is_hard)
    positions = positions[np.lexsort((positions, cluster[positions]))]
    same = edges[edges["same_kind"]]
    same = same[is_hard[same["a"].to_numpy()]]
    edge_cluster = cluster[same["a"].to_numpy()]
    edge_order = np.argsort(edge_cluster, kind="stable")
    edge_cluster = edge_cluster[edge_order]
    ea = same["a"].to_numpy()[edge_order]
    eb = same["b"].to_numpy()[edge_order]
    weighted = edges["shared_m"] if weights is None else edges["shared_m"] * weights
    em = weighted.loc[same.index].to_numpy()[edge_order]
    codes = nodes["code"].to_numpy()
    commune = nodes["commune"].to_numpy()
    area = nodes["area"].to_numpy() if "area" in nodes else None
    perimeter = nodes["perimeter"].to_numpy() if "perimeter" in nodes else None

    by_commune: dict[str, list[Cluster]] = {}
    starts = np.flatnonzero(np.r_[True, cluster[positions][1:] != cluster[positions][:-1]])
    starts = starts[: len(positions)]
    ends = np.r_[starts[1:], len(positions)][: len(starts)]
    e_lo = np.searchsorted(edge_cluster, cluster[positions[starts]], side="left")
    e_hi = np.searchsorted(edge_cluster, cluster[positions[starts]], side="right")
    for s, e, lo, hi in zip(starts, ends, e_lo, e_hi, strict=True):
        members = positions[s:e]
        measured = (
            area is not None
            and perimeter is not None
            and bool(np.isfinite(area[members]).all() and np.isfinite(perimeter[members]).all())
        )
        built = Cluster.build(
            codes[members].tolist(),
            h[members].tolist(),
            target[members].tolist(),
            exempt[members].tolist(),
            zip(codes[ea[lo:hi]], codes[eb[lo:hi]], em[lo:hi].tolist(), strict=True),
            areas=area[members].tolist() if measured else None,
            perimeters=perimeter[members].tolist() if measured else None,
            apart=pairs.get(int(cluster[members[0]]), ((), ()))[0],
            together=pairs.get(int(cluster[members[0]]), ((), ()))[1],
        )
        by_commune.setdefault(str(commune[members[0]]), []).append(built)
    names = sorted(by_commune)
    outcomes = solve_communes([by_commune[c] for c in names], time_limit, workers)

    position = pd.Series(np.arange(n), index=nodes["code"]).to_dict()
    seconds = dict.fromkeys(nodes["commune"].unique(), 0.0)
    exact_seconds = dict(seconds)
    for name, solved in zip(names, outcomes, strict=True):
        for out in solved:
            at = [position[c] for c in out.codes]
            unit[at] = [position[c] for c in out.unit_codes]
            status[at] = out.status
            units[at] = out.units
            bound[at] = out.units_bound
            seconds[name] += out.seconds
            exact_seconds[name] += out.exact_seconds
    return _Solved(
        unit=unit,
        target=target,
        aim=aim,
        fallback=fallback,
        cluster_status=status,
        cluster_units=units,
        cluster_bound=bound,
        commune_seconds=pd.Series(seconds),
        commune_exact_seconds=pd.Series(exact_seconds),
    )


def _minimal_solved(nodes: pd.DataFrame, frame: pd.DataFrame, seconds: float) -> _Solved:
    """The minimal option's facts; its seconds are shared out by hamlets."""
    position = pd.Series(np.arange(len(nodes)), index=nodes["code"])
    unit = np.empty(len(nodes), dtype=np.int64)
    unit[position[frame["hamlet_code"].astype(str)].to_numpy()] = position[
        frame["unit_id"].astype(str)
    ].to_numpy()
    share = nodes.groupby("commune").size() / max(len(nodes), 1) * seconds
    n = len(nodes)
    return _Solved(
        unit=unit,
        target=nodes["standard"].to_numpy(),
        aim=nodes["standard"].to_numpy(),
        fallback=np.zeros(n, dtype=bool),
        cluster_status=np.full(n, HEURISTIC, dtype=object),
        cluster_units=np.zeros(n, dtype=np.int64),
        cluster_bound=np.zeros(n, dtype=np.int64),
        commune_seconds=share,
        commune_exact_seconds=share * 0.0,
    )


# --- frames ----------------------------------------------------------------------------


def _unit_members(nodes: pd.DataFrame, solved: _Solved) -> pd.DataFrame:
    """One row per hamlet with its unit (code) and unit-level aggregates."""
    df = nodes[["code", "commune", "kind", "households", "standard", "status", "exemption"]].copy()
    df["unit"] = nodes["code"].to_numpy()[solved.unit]
    df["target"] = solved.target
    grouped = df.groupby("unit")
    df["unit_households"] = grouped["households"].transform("sum")
    df["unit_size"] = grouped["code"].transform("size")
    df["unit_standard"] = grouped["standard"].transform("max")
    df["unit_target"] = grouped["target"].transform("max")
    single_exempt = df["unit_size"].eq(1) & df["status"].eq(EXEMPT)
    df["compliant"] = single_exempt | (df["unit_households"] >= df["unit_standard"])
    return df


def _internal_lengths(edges: pd.DataFrame, unit: np.ndarray) -> pd.Series:
    """Boundary shared inside each unit (metres), by the unit's first member."""
    a, b = edges["a"].to_numpy(), edges["b"].to_numpy()
    inside = unit[a] == unit[b]
    return pd.Series(edges["shared_m"].to_numpy()[inside]).groupby(unit[a][inside]).sum()


def _assign(
    nodes: pd.DataFrame,
    edges: pd.DataFrame,
    option: str,
    solved: _Solved,
    explainer: Explainer,
    rules: RulesProfile,
) -> pd.DataFrame:
    """planning.merger_assignments rows for an optimised option, with explanations."""
    df = _unit_members(nodes, solved)
    internal = _internal_lengths(edges, solved.unit).to_dict()
    col = {c: nodes[c].to_numpy() for c in nodes.columns}
    unit_col = {c: df[c].to_numpy() for c in ("unit_households", "unit_standard", "unit_target")}
    compliant = df["compliant"].to_numpy()
    unit = solved.unit
    order = np.lexsort((col["code"], -col["households"], unit))
    starts = np.flatnonzero(np.r_[True, unit[order][1:] != unit[order][:-1]])
    ends = np.r_[starts[1:], len(order)]
    text = np.empty(len(nodes), dtype=object)
    for s, e in zip(starts, ends, strict=True):
        members = order[s:e]
        lead = int(members[0])
        facts = UnitFacts(
            option=option,
            kind=str(col["kind"][lead]),
            members=tuple(
                Member(
                    code=str(col["code"][v]),
                    households=int(col["households"][v]),
                    standard=int(col["standard"][v]),
                    floor=int(col["floor"][v]),
                    status=str(col["status"][v]),
                    exemption=None if pd.isna(col["exemption"][v]) else str(col["exemption"][v]),
                )
                for v in members
            ),
            households=int(unit_col["unit_households"][lead]),
            standard=int(unit_col["unit_standard"][lead]),
            target=int(unit_col["unit_target"][lead]),
            aim=int(solved.aim[members].max()),
            is_compliant=bool(compliant[lead]),
            internal_m=float(internal.get(int(unit[lead]), 0.0)),
            reason=None
            if compliant[lead]
            else _reason(col, int(unit_col["unit_standard"][lead]), lead),
            cluster_hamlets=int(col["cluster_hamlets"][lead]),
            cluster_units=int(solved.cluster_units[lead]),
            cluster_households=int(col["cluster_households"][lead]),
            cluster_status=str(solved.cluster_status[lead]),
            cluster_bound=int(solved.cluster_bound[lead]),
            fallback=bool(solved.fallback[lead]),
        )
        text[members] = explainer.explain(facts)
    return pd.DataFrame(
        {
            "option_name": option,
            "commune_code": col["commune"],
            "hamlet_code": col["code"],
            "unit_id": df["unit"].to_numpy(),
            "is_merged": df["unit_size"].to_numpy() > 1,
            "explanation": text,
            "rules_profile": rules.name,
        }
    )


def _reason(col: Mapping[str, np.ndarray], standard: int, v: int) -> str:
    """Why hamlet ``v``'s unit (of the given standard) cannot comply."""
    if "locked" in col and col["locked"][v]:
        return LOCKED_VI
    return noncompliance_reason(
        kind=str(col["kind"][v]),
        standard=standard,
        cluster_hamlets=int(col["cluster_hamlets"][v]),
        cluster_households=int(col["cluster_households"][v]),
        kind_hamlets_in_commune=int(col["kind_hamlets"][v]),
        has_neighbour=bool(col["has_neighbour"][v]),
        other_kinds=str(col["other_kinds"][v]),
    )


def _units(
    nodes: pd.DataFrame,
    edges: pd.DataFrame,
    assignments: pd.DataFrame,
    solved: Mapping[str, _Solved],
    measures: pd.DataFrame | None,
    adjacency: pd.DataFrame,
    rules: RulesProfile,
) -> pd.DataFrame:
    """One row per option and unit."""
    frames = []
    col = {c: nodes[c].to_numpy() for c in nodes.columns}
    for option, result in solved.items():
        df = _unit_members(nodes, result)
        lead = df.sort_values(["unit", "households", "code"], ascending=[True, False, True])
        members = lead.groupby("unit", sort=True)["code"].agg(",".join)
        first = df[df["code"] == df["unit"]].set_index("unit").sort_index()
        reasons = _compliance_reasons(first, rules)
        position = pd.Series(np.arange(len(nodes)), index=nodes["code"])
        for unit_code in first.index[~first["compliant"].to_numpy()]:
            at = int(position[unit_code])
            if "locked" in col and col["locked"][at]:
                why = LOCKED_VI
            elif (
                option == MINIMAL
                and first.at[unit_code, "unit_size"] == 1
                and first.at[unit_code, "status"] == BELOW_STANDARD
            ):
                why = NOT_MANDATORY_VI
            else:
                standard = int(first.at[unit_code, "unit_standard"])
                why = _reason(col, standard, at)
                reachable = col["cluster_hamlets"][at] > 1 and (
                    col["cluster_households"][at] >= standard
                )
                if option not in OPTIONS and reachable:
                    why = MANUAL_BELOW_VI
            reasons[unit_code] = f"{reasons[unit_code]}: {why}"
        frames.append(
            pd.DataFrame(
                {
                    "option_name": option,
                    "commune_code": first["commune"].to_numpy(),
                    "unit_id": first.index.to_numpy(),
                    "hamlet_kind": first["kind"].to_numpy(),
                    "member_count": first["unit_size"].to_numpy(),
                    "member_hamlet_codes": members.reindex(first.index).to_numpy(),
                    "households": first["unit_households"].to_numpy(),
                    "standard_households": first["unit_standard"].to_numpy(),
                    "target_households": first["unit_target"].to_numpy(),
                    "is_compliant": first["compliant"].to_numpy(),
                    "compliance_reason": reasons.to_numpy(),
                }
            )
        )
    units = pd.concat(frames, ignore_index=True)
    units["polsby_popper"] = np.nan
    if measures is not None:
        members = assignments[["option_name", "unit_id", "hamlet_code"]]
        pp = unit_compactness(
            members, measures[["hamlet_code", "area_m2", "perimeter_m"]], adjacency
        )
        units = units.drop(columns="polsby_popper").merge(
            pp[["option_name", "unit_id", "polsby_popper"]],
            on=["option_name", "unit_id"],
            how="left",
        )
    units["rules_profile"] = rules.name
    rank = units["option_name"].map({o: k for k, o in enumerate(OPTIONS)})
    units = units.assign(_rank=rank).sort_values(["_rank", "commune_code", "unit_id"])
    return units.drop(columns="_rank").reset_index(drop=True)[list(UNIT_COLUMNS)]


def _compliance_reasons(first: pd.DataFrame, rules: RulesProfile) -> pd.Series:
    """Each unit's households against its standard, as a short Vietnamese sentence."""
    households = format_count(first["unit_households"])
    standard = format_count(first["unit_standard"])
    meets = first["unit_households"] >= first["unit_standard"]
    text = households + np.where(meets, " hộ ≥ tiêu chuẩn ", " hộ < tiêu chuẩn ") + standard + " hộ"
    alone = first["unit_size"].eq(1)
    exempt = alone & first["status"].eq(EXEMPT)
    awaiting = alone & first["status"].eq(AWAITING)
    label = first["exemption"].map(lambda k: rules.exemption_categories.get(k, k))
    special = "Diện đặc thù (" + label.astype(str) + "): " + text + " của diện này"
    waiting = "Diện đặc thù (" + label.astype(str) + "): " + text + ", chờ hướng dẫn của tỉnh"
    return text.where(~exempt, special).where(~awaiting, waiting).astype(object)


def _with_strict_reading(
    summary: pd.DataFrame,
    nodes: pd.DataFrame,
    strict_nodes: pd.DataFrame,
    strict: Mapping[str, _Solved],
) -> pd.DataFrame:
    """Add the awaiting hamlets per commune and, per option, the units (and those still
    below) when they are judged as ordinary; equal to the plan's own when there are none."""
    awaiting = (nodes["status"] == AWAITING).groupby(nodes["commune"]).sum()
    out = summary.copy()
    out["awaiting_guidance_hamlets"] = out["commune_code"].map(awaiting).fillna(0).astype("int64")
    out["units_after_without_special_cases"] = out["units_after"]
    out["noncompliant_units_after_without_special_cases"] = out["noncompliant_units_after"]
    for option, result in strict.items():
        members = _unit_members(strict_nodes, result)
        per_unit = members.drop_duplicates("unit")
        units = per_unit.groupby("commune").size()
        bad = (~per_unit["compliant"]).groupby(per_unit["commune"]).sum()
        rows = out["option_name"].eq(option)
        communes = out.loc[rows, "commune_code"]
        out.loc[rows, "units_after_without_special_cases"] = communes.map(units).to_numpy()
        out.loc[rows, "noncompliant_units_after_without_special_cases"] = communes.map(
            bad
        ).to_numpy()
    ints = ["units_after_without_special_cases", "noncompliant_units_after_without_special_cases"]
    return out.astype(dict.fromkeys(ints, "int64"))[list(SUMMARY_COLUMNS)]


def _summary(
    nodes: pd.DataFrame,
    assignments: pd.DataFrame,
    units: pd.DataFrame,
    solved: Mapping[str, _Solved],
    rules: RulesProfile,
) -> pd.DataFrame:
    """One row per option and commune."""
    keys = ["option_name", "commune_code"]
    households = pd.Series(nodes["households"].to_numpy(), index=nodes["code"])
    a = assignments[[*keys, "hamlet_code", "unit_id"]]
    moved = a["hamlet_code"].map(households).where(a["hamlet_code"] != a["unit_id"], 0)
    per = (
        a.assign(moved=moved)
        .groupby(keys, sort=False)
        .agg(hamlets=("hamlet_code", "size"), households_moved=("moved", "sum"))
    )
    u = units.assign(bad=~units["is_compliant"])
    per_units = u.groupby(keys, sort=False).agg(
        units_after=("unit_id", "size"),
        noncompliant_units_after=("bad", "sum"),
        mean_polsby_popper=("polsby_popper", "mean"),
    )
    bad = u[u["bad"]]
    reasons = (
        (bad["unit_id"] + ": " + bad["compliance_reason"].fillna(""))
        .groupby([bad["option_name"], bad["commune_code"]], sort=False)
        .agg("; ".join)
        .rename("noncompliant_reasons")
    )
    df = per.join(per_units).join(reasons).reset_index()
    df["units_before"] = df["hamlets"]
    df["compliant_units_after"] = df["units_after"] - df["noncompliant_units_after"]
    facts = []
    for option, result in solved.items():
        f = pd.DataFrame(
            {
                "option_name": option,
                "commune_code": nodes["commune"].to_numpy(),
                "cluster": nodes["cluster"].to_numpy(),
                "heuristic": result.cluster_status == HEURISTIC,
                "feasible": result.cluster_status == FEASIBLE,
                "units": result.cluster_units,
                "bound": result.cluster_bound,
            }
        ).drop_duplicates("cluster")
        g = f.groupby(keys, sort=False).agg(
            heuristic=("heuristic", "any"),
            feasible=("feasible", "any"),
            units=("units", "sum"),
            bound=("bound", "sum"),
        )
        g["solve_seconds"] = result.commune_seconds.reindex(g.index.get_level_values(1)).to_numpy()
        g["exact_seconds"] = result.commune_exact_seconds.reindex(
            g.index.get_level_values(1)
        ).to_numpy()
        g["minimal"] = option == MINIMAL
        facts.append(g)
    f = pd.concat(facts).reset_index()
    gap = (f["bound"] - f["units"]).astype("int64").astype(str)
    f["optimality_status"] = np.select(
        [f["minimal"] | f["heuristic"], f["feasible"]],
        [HEURISTIC, FEASIBLE + " (gap " + gap + ")"],
        OPTIMAL,
    )
    f["units_upper_bound"] = f["bound"].astype("Int64").where(~f["minimal"], pd.NA)
    df = df.merge(
        f[[*keys, "optimality_status", "units_upper_bound", "solve_seconds", "exact_seconds"]],
        on=keys,
        how="left",
        validate="one_to_one",
    )
    df["solve_seconds"] = df["solve_seconds"].astype(float).round(4)
    df["exact_seconds"] = df["exact_seconds"].astype(float).round(4)
    df["rules_profile"] = rules.name
    rank = df["option_name"].map({o: k for k, o in enumerate(OPTIONS)})
    df = df.assign(_rank=rank).sort_values(["_rank", "commune_code"]).drop(columns="_rank")
    df = df.reset_index(drop=True)[[c for c in SUMMARY_COLUMNS if c in df]]
    ints = ["hamlets", "units_before", "units_after", "compliant_units_after"]
    types = {c: "int64" for c in [*ints, "noncompliant_units_after", "households_moved"]}
    return df.astype(types | {"noncompliant_reasons": "string", "optimality_status": "string"})
