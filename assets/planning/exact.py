"""Exact plans for one cluster with OR-Tools CP-SAT, warm-started from the heuristic.

Three routes, by cluster:

- *Set packing* over minimal cores (one target, no exempt hamlet, cores countable):
  choose the most disjoint cores; hamlets reaching the target are cores of their own.
  Only a plan with more units than the incumbent p is sought, and in such a plan every
  unit holds at most total − p × target households, so only cores inside that window
  are columns. Its linear relaxation is tight: communes of 40+ hamlets are proven in
  milliseconds (INFEASIBLE proves the incumbent optimal).
- *Exempt scenarios* (one target, at most ``SCENARIO_MAX_EXEMPT`` exempt hamlets short
  of it): each such hamlet either stays alone or counts as ordinary; every scenario
  splits into components solved by set packing; the best scenario is optimal.
- *Flow model* (any targets, exempt hamlets, or too many cores): each hamlet has a label
  (the index of its unit's first member; labels never exceed the hamlet's own index, so
  the first member is the largest, which breaks symmetry and makes households moved
  linear), a root flag, and arcs that may carry flow only between hamlets with equal
  labels. Every hamlet sends households × (n+1) + 1 units of flow to its root, so a unit
  is connected (Shirabe's single-commodity contiguity) and its root receives exactly its
  size; the +1 keeps hamlets without households connected, the (n+1) scale lets the
  root compare the flow with the target. A "non-compliant" flag, equal along used arcs,
  excuses a unit from the target; an exempt hamlet may be a unit of its own.
  Phase 1 minimises (n+1) × uncovered hamlets − units (or, for one target with too many
  cores, seeks more units than the incumbent under the same window); phase 2 fixes both
  and maximises shared boundary inside units, then the households kept in place
  (clusters of up to ``TIEBREAK_EXACT_MAX_HAMLETS`` hamlets).

Determinism: one worker, a fixed seed and a *deterministic* time limit
(``max_deterministic_time``, a count of work done), and no wall-clock limit, so the same
input gives the same plan on any machine and under any load. (A wall-clock cap of ten
times the budget stood here until merger22: on a shared machine, with the load at 25
processes per core, a two-second budget takes longer than that cap, and the plan would
have depended on the load.)
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ortools.sat.python import cp_model

from assets.planning.graph import mask_components
from assets.planning.heuristic import attach, core_size_estimate, polish, solve_heuristic
from assets.planning.plans import (
    Cluster,
    Plan,
    Score,
    canonical,
    is_compliant,
    mask_households,
    mask_members,
    minimal_cores,
    score,
    small_components,
    units_of,
)

# Cores listed for the exact phase (subsets visited), and the most a packing may hold.
EXACT_CORE_ENUMERATION_LIMIT = 300_000
PACKING_MAX_COLUMNS = 10_000
EXACT_CORE_SIZE = 12.0  # estimated hamlets per core beyond which not to list them
# Exempt hamlets short of the target tried alone or not: 2^k scenarios.
SCENARIO_MAX_EXEMPT = 4
# Phase 2 (tie-breaks) runs the flow model on clusters up to this size; larger ones keep
# the heuristic's polished tie-breaks.
TIEBREAK_EXACT_MAX_HAMLETS = 12
# The flow model is attempted for the unit count on clusters up to this size.
FLOW_MAX_HAMLETS = 150
SEED = 20260526


@dataclass(frozen=True)
class ExactResult:
    """Plan after the exact phase, whether its unit count is proven, and the bound."""

    plan: Plan
    score: Score
    proven: bool
    units_bound: int
    tiebreak_proven: bool
    deterministic_time: float
    seconds: float


def solve_exact(
    cluster: Cluster,
    start: Plan,
    *,
    time_limit: float,
    cores: tuple[int, ...] | None = None,
    units_bound: int | None = None,
) -> ExactResult:
    """Improve ``start`` to a proven-optimal plan within ``time_limit`` deterministic s.

    ``cores`` are the minimal cores if the heuristic listed them (uniform clusters);
    ``units_bound`` is a cheap bound already known.
    """
    t0 = time.perf_counter()
    best = start
    best_score = score(cluster, start)
    bound = cluster.n if units_bound is None else units_bound
    spent = 0.0
    proven = best_score.uncovered == 0 and best_score.units >= bound
    # Planners' pairs are modelled by the flow model only (set packing ignores them).
    if not proven and cluster.uniform and not cluster.constrained:
        found, ub, proven, spent = _improve_uniform(cluster, best_score.units, cores, time_limit)
        bound = min(bound, ub)
        if found is not None:
            cand = polish(cluster, found)
            if score(cluster, cand).key < best_score.key:
                best, best_score = cand, score(cluster, cand)
    elif not proven and _scenarios_apply(cluster) and not cluster.constrained:
        found, ub, proven, spent = _solve_exempt_scenarios(cluster, time_limit)
        if found is not None:
            cand = polish(cluster, found)
            if score(cluster, cand).key < best_score.key:
                best, best_score = cand, score(cluster, cand)
        bound = best_score.units if proven else min(bound, ub)
    elif not proven and cluster.n <= FLOW_MAX_HAMLETS:
        res = _solve_flow(cluster, best, time_limit, phase=1)
        spent += res.deterministic_time
        if res.plan is not None:
            cand = polish(cluster, res.plan)
            if score(cluster, cand).key < best_score.key:
                best, best_score = cand, score(cluster, cand)
        proven = res.optimal
        if res.bound is not None:
            bound = min(bound, res.bound)
    tiebreak = False
    remaining = time_limit - spent
    if proven and cluster.n <= TIEBREAK_EXACT_MAX_HAMLETS and remaining > 0:
        res = _solve_flow(cluster, best, remaining, phase=2, fixed=best_score)
        spent += res.deterministic_time
        if res.plan is not None and score(cluster, res.plan).key <= best_score.key:
            best, best_score = res.plan, score(cluster, res.plan)
        tiebreak = res.optimal
    if proven:
        bound = best_score.units
    return ExactResult(
        plan=best,
        score=best_score,
        proven=proven,
        units_bound=max(bound, best_score.units),
        tiebreak_proven=tiebreak,
        deterministic_time=spent,
        seconds=time.perf_counter() - t0,
    )


def _scenarios_apply(cluster: Cluster) -> bool:
    """One target, and a few exempt hamlets short of it (each may stay alone or not)."""
    if len(set(cluster.targets)) != 1:
        return False
    target = cluster.targets[0]
    short = [i for i in range(cluster.n) if cluster.exempt[i] and cluster.households[i] < target]
    return 0 < len(short) <= SCENARIO_MAX_EXEMPT and core_size_estimate(cluster) <= EXACT_CORE_SIZE


def _solve_exempt_scenarios(
    cluster: Cluster, time_limit: float
) -> tuple[Plan | None, int, bool, float]:
    """Exact plan by trying each set of short exempt hamlets kept alone.

    Given the set S kept alone, every other hamlet is ordinary, and each component of the
    cluster without S is a one-target problem without exemption: covered entirely when
    its households reach the target (then solved exactly by core packing), left as it is
    otherwise. The best scenario by (uncovered, units) is optimal. Components recur
    across scenarios and are solved once. Returns (plan, bound, proven, det. time).
    """
    target = cluster.targets[0]
    short = [i for i in range(cluster.n) if cluster.exempt[i] and cluster.households[i] < target]
    memo: dict[int, tuple[list[tuple[int, list[int]]], int, int, bool]] = {}
    spent = 0.0
    proven = True
    tried: list[tuple[int, int, int, int]] = []  # (uncovered, -units, bound, alone)
    full = (1 << cluster.n) - 1
    for choice in range(1 << len(short)):
        alone = 0
        for k, v in enumerate(short):
            if choice >> k & 1:
                alone |= 1 << v
        uncovered, units, bound = 0, alone.bit_count(), alone.bit_count()
        for comp in mask_components(cluster.neighbour_masks, full & ~alone):
            if comp not in memo:
                memo[comp], used = _solve_component(cluster, comp, target, time_limit - spent)
                spent += used
            _, comp_units, comp_bound, comp_proven = memo[comp]
            if sum(cluster.households[v] for v in mask_members(comp)) < target:
                uncovered += comp.bit_count()
            proven = proven and comp_proven
            units += comp_units
            bound += comp_bound
        tried.append((uncovered, -units, bound, alone))
    uncovered, minus_units, _, alone = min(tried)
    # Most units any scenario leaving as few hamlets uncovered might still reach.
    bound = max(b for u, _, b, _ in tried if u == uncovered)
    label = list(range(cluster.n))
    for comp in mask_components(cluster.neighbour_masks, full & ~alone):
        for first, members in memo[comp][0]:
            for v in members:
                label[v] = first
    return canonical(label), max(bound, -minus_units), proven, spent


def _solve_component(
    cluster: Cluster, comp: int, target: int, time_limit: float
) -> tuple[tuple[list[tuple[int, list[int]]], int, int, bool], float]:
    """Units of one component treated as ordinary hamlets: ((units, n, bound, proven), time)."""
    members = mask_members(comp)
    households = [cluster.households[v] for v in members]
    if sum(households) < target or len(members) == 1:
        units = [(v, [v]) for v in members]
        return (units, len(members), len(members), True), 0.0
    codes = [cluster.codes[v] for v in members]
    index = {c: v for c, v in zip(codes, members, strict=True)}
    edges = [
        (cluster.codes[i], cluster.codes[j], w / 10)
        for (i, j), w in cluster.shared_dm.items()
        if comp >> i & 1 and comp >> j & 1
    ]
    sub = Cluster.build(codes, households, [target] * len(members), [False] * len(members), edges)
    heur = solve_heuristic(sub)
    plan, found, bound, proven = heur.plan, heur.score.units, heur.units_bound, heur.proven
    used = 0.0
    if not proven and time_limit > 0:
        better, ub, proven, used = _improve_uniform(sub, found, heur.cores, time_limit)
        bound = min(bound, ub)
        if better is not None and score(sub, better).units > found:
            plan, found = better, score(sub, better).units
    if proven:
        bound = found
    units = [
        (index[sub.codes[first]], sorted(index[sub.codes[v]] for v in group))
        for first, group in units_of(plan).items()
    ]
    return (units, found, bound, proven), used


def _improve_uniform(
    cluster: Cluster, units: int, cores: tuple[int, ...] | None, time_limit: float
) -> tuple[Plan | None, int, bool, float]:
    """Look for a plan with more units than ``units``: (plan, bound, proven, det. time).

    Any such plan has every unit within [target, total − units × target], so only cores
    in that window can take part; the packing over them is usually small and tight. When
    there are too many cores, the flow model searches under the same window.
    """
    target = cluster.targets[0]
    cap = cluster.total - units * target
    if cores is None and core_size_estimate(cluster) <= EXACT_CORE_SIZE:
        listed: list[int] = []
        for comp in small_components(cluster):
            if sum(cluster.households[v] for v in comp) < target:
                continue
            found = minimal_cores(cluster, comp, target, EXACT_CORE_ENUMERATION_LIMIT)
            if found is None:
                listed = None  # type: ignore[assignment]
                break
            listed.extend(found)
        cores = None if listed is None else tuple(listed)
    if cores is not None:
        window = [c for c in cores if mask_households(cluster, c) <= cap]
        if len(window) <= PACKING_MAX_COLUMNS:
            return _solve_packing(cluster, window, units + 1, time_limit)
    if cluster.n > FLOW_MAX_HAMLETS:
        return None, cluster.n, False, 0.0
    res = _solve_flow(cluster, None, time_limit, phase=1, at_least=units + 1)
    bound = res.bound if res.bound is not None else cluster.n
    return res.plan, bound, res.optimal, res.deterministic_time


def _parameters(solver: cp_model.CpSolver, time_limit: float) -> None:
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = SEED
    solver.parameters.max_deterministic_time = max(time_limit, 0.01)
    solver.parameters.log_search_progress = False


# --- set packing -----------------------------------------------------------------------


def _solve_packing(
    cluster: Cluster, cores: list[int], at_least: int, time_limit: float
) -> tuple[Plan | None, int, bool, float]:
    """Most disjoint cores, at least ``at_least`` units: (plan, bound, proven, det. time)."""
    big = [i for i in range(cluster.n) if cluster.self_sufficient[i]]
    model = cp_model.CpModel()
    x = [model.new_bool_var(f"c{k}") for k in range(len(cores))]
    by_node: dict[int, list[cp_model.IntVar]] = {}
    for k, c in enumerate(cores):
        for v in mask_members(c):
            by_node.setdefault(v, []).append(x[k])
    for v in sorted(by_node):
        if len(by_node[v]) > 1:
            model.add_at_most_one(by_node[v])
    model.add(sum(x) >= at_least - len(big))
    model.maximize(sum(x))
    solver = cp_model.CpSolver()
    _parameters(solver, time_limit)
    status = solver.solve(model)
    used = solver.deterministic_time
    if status == cp_model.INFEASIBLE:
        return None, at_least - 1, True, used
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None, cluster.n, False, used
    picked = [cores[k] for k in range(len(cores)) if solver.boolean_value(x[k])]
    units = [[b] for b in big] + [mask_members(c) for c in picked]
    ub = len(big) + int(solver.best_objective_bound + 1e-6)
    return attach(cluster, units), ub, status == cp_model.OPTIMAL, used


# --- flow model ------------------------------------------------------------------------


@dataclass(frozen=True)
class _FlowResult:
    plan: Plan | None
    optimal: bool
    bound: int | None  # most units, for phase 1
    deterministic_time: float


def _solve_flow(
    cluster: Cluster,
    hint: Plan | None,
    time_limit: float,
    *,
    phase: int,
    fixed: Score | None = None,
    at_least: int | None = None,
) -> _FlowResult:
    n = cluster.n
    h, t = cluster.households, cluster.targets
    scale = n + 1
    weight = [hh * scale + 1 for hh in h]
    total = sum(weight)
    uniform_target = len(set(t)) == 1
    model = cp_model.CpModel()
    root = [model.new_bool_var(f"r{i}") for i in range(n)]
    label = [model.new_int_var(0, i, f"l{i}") for i in range(n)]
    bad = [model.new_bool_var(f"nc{i}") for i in range(n)]
    absorbed = [model.new_int_var(0, total, f"a{i}") for i in range(n)]
    tau = (
        [model.new_int_var(t[i], max(t), f"t{i}") for i in range(n)] if not uniform_target else None
    )
    alone = {i: model.new_bool_var(f"z{i}") for i in range(n) if cluster.exempt[i]}
    model.add(root[0] == 1)
    for a, b in sorted(cluster.apart):  # planners' pairs: equal labels = one unit
        model.add(label[a] != label[b])
    for a, b in sorted(cluster.together):
        model.add(label[a] == label[b])
    for i in range(n):
        model.add(label[i] == i).only_enforce_if(root[i])
        if i > 0:
            model.add(label[i] <= i - 1).only_enforce_if(~root[i])
        model.add(absorbed[i] == 0).only_enforce_if(~root[i])
    arcs: list[tuple[int, int, cp_model.IntVar, cp_model.IntVar]] = []
    out_flow: list[list[cp_model.IntVar]] = [[] for _ in range(n)]
    in_flow: list[list[cp_model.IntVar]] = [[] for _ in range(n)]
    in_used: list[list[cp_model.IntVar]] = [[] for _ in range(n)]
    for i, j, _ in cluster.edges():
        pair = []
        for a, b in ((i, j), (j, i)):
            used = model.new_bool_var(f"u{a}_{b}")
            flow = model.new_int_var(0, total, f"g{a}_{b}")
            model.add(label[a] == label[b]).only_enforce_if(used)
            model.add(bad[a] == bad[b]).only_enforce_if(used)
            if tau is not None:
                model.add(tau[a] == tau[b]).only_enforce_if(used)
            model.add(flow == 0).only_enforce_if(~used)
            arcs.append((a, b, used, flow))
            out_flow[a].append(flow)
            in_flow[b].append(flow)
            in_used[b].append(used)
            pair.append(used)
        model.add_bool_or([~pair[0], ~pair[1]])
    for i in range(n):
        model.add(sum(out_flow[i]) - sum(in_flow[i]) + absorbed[i] == weight[i])
        need = scale * (tau[i] if tau is not None else t[i])
        enforce = [root[i], ~bad[i]]
        if i in alone:
            z = alone[i]
            model.add_implication(z, root[i])
            for used in in_used[i]:
                model.add_implication(z, ~used)
            enforce.append(~z)
        model.add(absorbed[i] >= need).only_enforce_if(enforce)
    same = {}
    if phase == 2:
        for i, j, _ in cluster.edges():
            y = model.new_bool_var(f"y{i}_{j}")
            model.add(label[i] == label[j]).only_enforce_if(y)
            model.add(label[i] != label[j]).only_enforce_if(~y)
            same[(i, j)] = y
        assert fixed is not None
        model.add(sum(bad) == fixed.uncovered)
        model.add(sum(root) == fixed.units)
        k = cluster.total + 1
        model.maximize(
            k * sum(w * same[(i, j)] for i, j, w in cluster.edges())
            + sum(h[i] * root[i] for i in range(n))
        )
    elif at_least is not None:
        # Any plan with at_least units of one target holds at most this much per unit.
        cap = (cluster.total - (at_least - 1) * t[0]) * scale + n
        for i in range(n):
            model.add(bad[i] == 0)
            model.add(absorbed[i] <= cap)
        model.add(sum(root) >= at_least)
        model.maximize(sum(root))
    else:
        model.minimize(scale * sum(bad) - sum(root))
    if hint is not None:
        _hint_flow(cluster, hint, model, root, label, bad, absorbed, tau, alone, arcs, same)
    solver = cp_model.CpSolver()
    _parameters(solver, time_limit)
    status = solver.solve(model)
    used_time = solver.deterministic_time
    if status == cp_model.INFEASIBLE and at_least is not None:
        return _FlowResult(None, True, at_least - 1, used_time)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return _FlowResult(None, False, None, used_time)
    plan = tuple(int(solver.value(label[i])) for i in range(n))
    bound = None
    if at_least is not None:
        bound = min(n, int(solver.best_objective_bound + 1e-6))
    elif phase == 1:
        uncovered = sum(int(solver.boolean_value(b)) for b in bad)
        bound = min(n, int(scale * uncovered - solver.best_objective_bound + 1e-6))
    return _FlowResult(plan, status == cp_model.OPTIMAL, bound, used_time)


def _hint_flow(
    cluster: Cluster,
    plan: Plan,
    model: cp_model.CpModel,
    root: list,
    label: list,
    bad: list,
    absorbed: list,
    tau: list | None,
    alone: dict,
    arcs: list,
    same: dict,
) -> None:
    """Hint every variable from a plan: BFS trees in each unit carry its flow."""
    n = cluster.n
    scale = n + 1
    weight = [hh * scale + 1 for hh in cluster.households]
    parent: dict[int, int] = {}
    carried = [0] * n
    for key, members in units_of(plan).items():
        inside = set(members)
        order = [key]
        seen = {key}
        for v in order:
            for u in cluster.neighbours[v]:
                if u in inside and u not in seen:
                    seen.add(u)
                    parent[u] = v
                    order.append(u)
        for v in reversed(order):
            carried[v] += weight[v]
            if v in parent:
                carried[parent[v]] += carried[v]
        compliant = is_compliant(cluster, members)
        target = max(cluster.targets[v] for v in members)
        for v in members:
            model.add_hint(label[v], key)
            model.add_hint(root[v], v == key)
            model.add_hint(bad[v], not compliant)
            model.add_hint(absorbed[v], carried[v] if v == key else 0)
            if tau is not None:
                model.add_hint(tau[v], target)
            if v in alone:
                model.add_hint(alone[v], len(members) == 1)
    for a, b, used, flow in arcs:
        on = parent.get(a) == b
        model.add_hint(used, on)
        model.add_hint(flow, carried[a] if on else 0)
    for (i, j), y in same.items():
        model.add_hint(y, plan[i] == plan[j])
