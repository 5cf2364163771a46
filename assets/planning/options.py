"""The three merger options for every commune, their units, and a summary per commune.

``plan_options`` is the engine's entry point (Dagster assets and ``hamlets propose`` call
it). DESIGN.md, "The merger problem":

- **minimal**: ``minimal.minimal_option`` (only mandatory merges, each into its best
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

The vectorised part (the graph and its clusters: ``graph``; trivial clusters; the
frames: ``assembly``) runs on the whole province or country at once; only clusters
needing a search are solved (``solve``), per commune, optionally in worker processes.
A planner's own assignment becomes a plan in ``manual``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from assets.planning.assembly import (
    PlanResult,
    assignment_rows,
    empty_result,
    solved_from_assignment,
    summary_rows,
    unit_rows,
    with_strict_reading,
)
from assets.planning.compliance import (
    AWAITING,
    COMPLIANCE_INPUT_COLUMNS,
    check_compliance_input,
    without_special_cases,
)
from assets.planning.constraints import (
    PlannerConstraints,
    constraint_problems,
    with_constraint_notes,
)
from assets.planning.explain import Explainer
from assets.planning.graph import hamlet_graph
from assets.planning.minimal import minimal_option
from assets.planning.option_kinds import COMPLIANT, MINIMAL, OPTIONS
from assets.planning.rules import HAMLET_KIND_LABELS_VI, RulesProfile
from assets.planning.solve import ClusterSearch, Solved, cluster_search, solve_communes
from expectations.schemas import TABLES

DEFAULT_TIME_LIMIT_S = 2.0
# Soft preference for one majority ethnicity: a boundary between hamlets of different
# majority ethnicity counts this much in the compactness tie-break.
CROSS_ETHNICITY_WEIGHT = 0.1


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
        return empty_result()
    planner = PlannerConstraints.of(constraints).for_communes(
        compliance["commune_code"].astype(str)
    )
    problems = constraint_problems(planner, compliance, adjacency)
    adjacency = planner.without_locked(adjacency, communes=problems)
    held = planner.for_communes(set(planner.rows["commune_code"]) - set(problems))
    nodes, edges = hamlet_graph(compliance, adjacency, measures)
    nodes["locked"] = nodes["code"].isin(held.locked) | nodes["commune"].isin(problems)
    pairs = _cluster_pairs(nodes, held)
    weights = _preference_weights(nodes, edges, held, ethnicity)
    explainer = Explainer(names, rules)
    assignments: list[pd.DataFrame] = []
    solved: dict[str, Solved] = {}
    # The reading without special cases awaiting guidance (None when there are none).
    strict: dict[str, Solved] = {}
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
    searches: dict[tuple[str, bool], ClusterSearch] = {}
    for option in OPTIONS:
        if option not in options:
            continue
        if option == MINIMAL:
            t0 = time.perf_counter()
            frame = minimal_option(
                compliance,
                adjacency,
                rules,
                names=names,
                constraints=held,
                ethnicity=ethnicity,
                frozen_communes=problems,
            )
            solved[option] = solved_from_assignment(nodes, frame, time.perf_counter() - t0)
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
                strict[option] = solved_from_assignment(strict_nodes, alt, 0.0)
            continue
        targets, aim, fallback = _targets(nodes, option, rules, consolidated_target)
        for reading, graph in ((False, nodes), (True, strict_nodes)):
            if reading and not any_awaiting:
                continue
            searches[(option, reading)] = cluster_search(
                graph, edges, targets, aim, fallback, pairs, weights
            )
    # Every option's communes in one pool: the workers start once and end together.
    outcomes = iter(
        solve_communes(
            [c for search in searches.values() for c in search.clusters],
            time_limit_s_per_commune,
            workers,
        )
    )
    for (option, reading), search in searches.items():
        result = search.solved([next(outcomes) for _ in search.communes])
        if reading:
            strict[option] = result
            continue
        solved[option] = result
        assignments.append(assignment_rows(nodes, edges, option, result, explainer, rules))
    contract = TABLES["planning.merger_assignments"]
    out = pd.concat(assignments, ignore_index=True)
    rank = out["option_name"].map({o: k for k, o in enumerate(OPTIONS)})
    out = out.assign(_rank=rank).sort_values(["_rank", "commune_code", "hamlet_code"])
    out = out.drop(columns="_rank").reset_index(drop=True)
    out["explanation"] = with_constraint_notes(out, held, problems, explainer.name)
    out = contract.enforce(out)
    units = unit_rows(nodes, edges, out, solved, measures, adjacency, rules)
    summary = summary_rows(nodes, out, units, solved, rules)
    summary = with_strict_reading(summary, nodes, strict_nodes, strict)
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


# --- inputs ----------------------------------------------------------------------------


def _validate(compliance: pd.DataFrame, rules: RulesProfile, options: Sequence[str]) -> None:
    unknown = [o for o in options if o not in OPTIONS]
    if unknown:
        raise ValueError(f"plan_options: unknown options {unknown}; known: {list(OPTIONS)}")
    check_compliance_input(compliance, rules, COMPLIANCE_INPUT_COLUMNS, "plan_options")


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
