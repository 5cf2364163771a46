"""Fast plans for one cluster: core packing or region growing, then local search.

Two constructions, both deterministic (fixed seeds, a fixed number of restarts):

- *Core packing* (one target, cores few enough to list): hamlets compliant alone (large
  enough, or exempt) stay alone; the others are packed into disjoint minimal cores
  (``plans.minimal_cores``) by a min-conflict greedy with a few randomised restarts and
  an exchange step (drop one core, add two); the rest attach to adjacent units. When the
  packing reaches the per-component bound ⌊households / target⌋ it is proven optimal.
- *Region growing* (max-p style, any targets): self-sufficient hamlets alone, then
  regions grown from the most constrained hamlet towards the target with the least
  overshoot, failed regions' hamlets attached to neighbours, restarts; then adjacent
  pairs of units are merged and re-split into more units where their cores allow.

Both end with ``polish``: single-hamlet moves between adjacent units that keep every
unit connected and compliant and improve the tie-breaks (shared boundary inside units,
then households moved). The exact phase (``exact``) starts from these plans.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from assets.planning.plans import (
    Cluster,
    Plan,
    Score,
    canonical,
    components_within,
    is_compliant,
    mask_connected,
    mask_members,
    minimal_cores,
    satisfies,
    score,
    singletons,
    small_components,
    trivial_plan,
    unit_target,
    units_of,
    units_upper_bound,
)

RESTARTS = 6
# Connected subsets visited listing cores here; past it, peeling and growing take over
# (the exact phase lists further).
HEURISTIC_CORE_LIMIT = 4_000
HEURISTIC_CORE_SIZE = 5.0  # hamlets per core, estimated, beyond which not to try
PAIR_CORE_LIMIT = 3_000  # subsets visited when re-splitting a pair of units
POLISH_ROUNDS = 20


@dataclass(frozen=True)
class HeuristicResult:
    """A plan, its score, the units bound and whether the bound proves it optimal."""

    plan: Plan
    score: Score
    units_bound: int
    proven: bool
    cores: tuple[int, ...] | None  # the minimal cores, when they were enumerated


def solve_heuristic(
    cluster: Cluster, *, restarts: int = RESTARTS, seed: int = 0
) -> HeuristicResult:
    """Best plan found for the cluster, proven optimal when a bound allows.

    Core packing first where it applies; when it does not prove itself optimal (or
    cannot be used), peeling and region growing compete and the best plan wins.
    """
    trivial = trivial_plan(cluster)
    if trivial is not None:
        s = score(cluster, trivial)
        return HeuristicResult(trivial, s, s.units, True, None)
    candidates: list[Plan] = []
    cores = None
    bound = units_upper_bound(cluster, 0)
    packed = None
    one_target = len(set(cluster.targets)) == 1
    if one_target and core_size_estimate(cluster) <= HEURISTIC_CORE_SIZE:
        packed = _core_packing(cluster, restarts, seed)
    if packed is not None:
        plan, all_cores, bound = packed
        cores = tuple(all_cores)
        candidates.append(plan)
    if packed is None or score(cluster, candidates[0]).uncovered:
        rng = random.Random(seed)
        for k in range(restarts + 1):
            candidates.append(peel_units(cluster, rng if k else None))
        candidates.append(_grow_best(cluster, restarts, seed))
    plan = min(candidates, key=lambda p: score(cluster, p).key)
    if cluster.uniform and len(units_of(plan)) < bound:
        plan = _resplit_pairs(cluster, plan)
    plan = polish(cluster, plan)
    s = score(cluster, plan)
    if not one_target:
        bound = units_upper_bound(cluster, s.uncovered)
    # With hamlets left uncovered, no cheap bound proves that fewer were impossible.
    proven = s.units >= bound and s.uncovered == 0
    return HeuristicResult(plan, s, max(bound, s.units), proven, cores)


# --- core packing ----------------------------------------------------------------------


def _core_packing(cluster: Cluster, restarts: int, seed: int) -> tuple[Plan, list[int], int] | None:
    """Plan from a greedy packing of minimal cores; all cores; the units bound."""
    target = cluster.targets[0]
    big = [i for i in range(cluster.n) if cluster.self_sufficient[i]]
    all_cores: list[int] = []
    chosen: list[int] = [1 << i for i in big]
    bound = len(big)
    for comp in small_components(cluster):
        households = sum(cluster.households[i] for i in comp)
        comp_bound = households // target
        if comp_bound == 0:
            continue
        cores = minimal_cores(cluster, comp, target, HEURISTIC_CORE_LIMIT)
        if cores is None:
            return None
        all_cores.extend(cores)
        chosen.extend(pack_cores(cores, comp_bound, restarts, seed))
        bound += comp_bound
    plan = attach(cluster, [mask_members(m) for m in chosen])
    return plan, all_cores, bound


def core_size_estimate(cluster: Cluster) -> float:
    """About how many hamlets short of the target a core needs: target / mean size."""
    small = [h for h, ok in zip(cluster.households, cluster.self_sufficient, strict=True) if not ok]
    if not small:
        return 1.0
    return max(cluster.targets) * len(small) / max(1, sum(small))


def pack_cores(cores: list[int], bound: int, restarts: int, seed: int) -> list[int]:
    """Disjoint cores, as many as a min-conflict greedy and 1-for-2 exchanges find."""
    if not cores:
        return []
    best = _exchange(cores, _greedy_pack(cores, None))
    rng = random.Random(seed)
    for _ in range(restarts):
        if len(best) >= bound:
            break
        jitter = [rng.random() for _ in cores]
        found = _exchange(cores, _greedy_pack(cores, jitter))
        if len(found) > len(best):
            best = found
    return sorted(best)


def _greedy_pack(cores: list[int], jitter: list[float] | None) -> list[int]:
    """Repeatedly take the core overlapping the fewest others (small ones first)."""
    count: dict[int, int] = {}
    for c in cores:
        for v in mask_members(c):
            count[v] = count.get(v, 0) + 1
    weight = [
        (sum(count[v] for v in mask_members(c)), c.bit_count(), jitter[k] if jitter else 0.0, c)
        for k, c in enumerate(cores)
    ]
    weight.sort()
    used = 0
    out = []
    for *_, c in weight:
        if c & used == 0:
            out.append(c)
            used |= c
    return out


def _exchange(cores: list[int], packing: list[int]) -> list[int]:
    """Swap one chosen core for two disjoint free ones while that is possible."""
    packing = list(packing)
    improved = True
    while improved:
        improved = False
        used = 0
        for c in packing:
            used |= c
        for k, c in enumerate(packing):
            free = used & ~c
            candidates = [d for d in cores if d & free == 0 and d & c]
            for a_i, a in enumerate(candidates):
                for b in candidates[a_i + 1 :]:
                    if a & b == 0:
                        packing[k : k + 1] = [a, b]
                        improved = True
                        break
                if improved:
                    break
            if improved:
                break
    return packing


def attach(cluster: Cluster, units: list[list[int]]) -> Plan:
    """Plan from compliant units, every other hamlet joined to an adjacent unit.

    Rounds of: each unassigned hamlet next to a unit joins the one it shares the longest
    boundary with (then the smaller unit), if the unit stays compliant. Hamlets that can
    join nothing stay alone (they are the uncovered ones); ``_repair`` then tries to
    join such a group to a neighbour unit when the union is compliant.
    """
    n = cluster.n
    h = cluster.households
    label = [-1] * n
    size: dict[int, int] = {}
    members: dict[int, list[int]] = {}
    for members_ in units:
        key = min(members_)
        for v in members_:
            label[v] = key
        members[key] = sorted(members_)
        size[key] = sum(h[v] for v in members_)
    while True:
        moves: list[tuple[int, int]] = []
        for v in range(n):
            if label[v] >= 0:
                continue
            best: tuple[int, int, int] | None = None
            seen: set[int] = set()
            for u in cluster.neighbours[v]:
                key = label[u]
                if key < 0 or key in seen:
                    continue
                seen.add(key)
                group = members[key]
                if not _can_join(cluster, group, size[key], v):
                    continue
                shared = sum(cluster.shared(v, w) for w in cluster.neighbours[v] if label[w] == key)
                cand = (-shared, size[key], key)
                if best is None or cand < best:
                    best = cand
            if best is not None:
                moves.append((v, best[2]))
        if not moves:
            break
        for v, key in moves:
            label[v] = key
            members[key].append(v)
            size[key] += h[v]
    for v in range(n):
        if label[v] < 0:
            label[v] = v
    return _repair(cluster, canonical(label))


def _can_join(cluster: Cluster, group: list[int], households: int, v: int) -> bool:
    target = max(unit_target(cluster, group), cluster.targets[v])
    return households + cluster.households[v] >= target


def _repair(cluster: Cluster, plan: Plan) -> Plan:
    """Join each group of uncovered hamlets to the neighbour unit it makes compliant."""
    units = units_of(plan)
    bad = {k for k, m in units.items() if not is_compliant(cluster, m)}
    if not bad:
        return plan
    label = list(plan)
    bad_nodes = sorted({v for k in bad for v in units[k]})
    for group in components_within(cluster, bad_nodes):  # groups of uncovered hamlets
        current = units_of(tuple(label))
        if is_compliant(cluster, group) and len(group) > 1:
            for v in group:
                label[v] = min(group)
            continue
        options = []
        for key in sorted({label[u] for v in group for u in cluster.neighbours[v]} - set(group)):
            merged = current[key] + group
            if key in current and is_compliant(cluster, merged):
                options.append((sum(cluster.households[v] for v in merged), key))
        if options:
            _, key = min(options)
            for v in group:
                label[v] = key
    return canonical(label)


# --- region growing --------------------------------------------------------------------


def _grow_best(cluster: Cluster, restarts: int, seed: int) -> Plan:
    best = singletons(cluster)
    best_key = score(cluster, best).key
    rng = random.Random(seed)
    for k in range(restarts + 1):
        plan = grow_regions(cluster, rng if k else None)
        key = score(cluster, plan).key
        if key < best_key:
            best, best_key = plan, key
    return best


def grow_regions(cluster: Cluster, rng: random.Random | None) -> Plan:
    """One max-p construction; ``rng`` None is the plain deterministic variant."""
    n = cluster.n
    h, t = cluster.households, cluster.targets
    ss = cluster.self_sufficient
    assigned = [False] * n
    units: list[list[int]] = []
    for i in range(n):
        if ss[i]:
            units.append([i])
            assigned[i] = True
    noise = [rng.random() if rng else 0.0 for _ in range(n)]

    def free_degree(v: int) -> int:
        return sum(1 for u in cluster.neighbours[v] if not assigned[u])

    tried = [False] * n
    while True:
        seeds = [v for v in range(n) if not assigned[v] and not tried[v]]
        if not seeds:
            break
        s = min(seeds, key=lambda v: (free_degree(v) + noise[v], h[v], v))
        region = [s]
        in_region = {s}
        total, target = h[s], t[s]
        while total < target:
            cands = sorted(
                {u for v in region for u in cluster.neighbours[v] if not assigned[u]} - in_region
            )
            if not cands:
                break
            completing = [c for c in cands if total + h[c] >= max(target, t[c])]
            if completing:
                c = min(
                    completing,
                    key=lambda c: (
                        total + h[c] + noise[c] * 0.05 * target,
                        -_shared_with(cluster, c, in_region),
                        c,
                    ),
                )
            else:
                c = min(
                    cands,
                    key=lambda c: (free_degree(c) - noise[c], -h[c], c),
                )
            region.append(c)
            in_region.add(c)
            total += h[c]
            target = max(target, t[c])
        if total >= target:
            units.append(region)
            for v in region:
                assigned[v] = True
        else:
            for v in region:
                tried[v] = True
    return attach(cluster, units)


def _shared_with(cluster: Cluster, v: int, group: set[int]) -> int:
    return sum(cluster.shared(v, u) for u in cluster.neighbours[v] if u in group)


def _resplit_pairs(cluster: Cluster, plan: Plan) -> Plan:
    """Merge two adjacent units and re-split them into three or more where cores allow."""
    target = cluster.targets[0]
    improved = True
    while improved:
        improved = False
        units = units_of(plan)
        label = plan
        pairs = sorted(
            {
                (min(label[i], label[j]), max(label[i], label[j]))
                for (i, j) in cluster.shared_dm
                if label[i] != label[j]
            }
        )
        for a, b in pairs:
            group = units[a] + units[b]
            small = [v for v in group if not cluster.self_sufficient[v]]
            big = [v for v in group if cluster.self_sufficient[v]]
            if sum(cluster.households[v] for v in small) // target + len(big) < 3:
                continue
            pieces: list[list[int]] = [[v] for v in big]
            found = 0
            for comp in components_within(cluster, small):
                households = sum(cluster.households[v] for v in comp)
                if households < target:
                    continue
                cores = minimal_cores(cluster, comp, target, PAIR_CORE_LIMIT)
                if cores is None:
                    found = -1
                    break
                packing = pack_cores(cores, households // target, 2, 0)
                pieces.extend(mask_members(c) for c in packing)
                found += len(packing)
            if found < 0 or found + len(big) < 3:
                continue
            sub = _attach_within(cluster, group, pieces)
            if sub is None:
                continue
            new = list(plan)
            for key, members in sub.items():
                for v in members:
                    new[v] = key
            plan = canonical(new)
            improved = True
            break
    return plan


def _attach_within(
    cluster: Cluster, group: list[int], pieces: list[list[int]]
) -> dict[int, list[int]] | None:
    """Attach the hamlets of ``group`` outside ``pieces`` to adjacent pieces, inside it."""
    allowed = set(group)
    label = {v: min(p) for p in pieces for v in p}
    out = {min(p): list(p) for p in pieces}
    pending = sorted(allowed - set(label))
    while pending:
        moved = False
        for v in list(pending):
            keys = sorted({label[u] for u in cluster.neighbours[v] if u in label})
            if not keys:
                continue
            key = max(
                keys,
                key=lambda k: (
                    sum(cluster.shared(v, u) for u in out[k] if u in cluster.neighbours[v]),
                    -k,
                ),
            )
            label[v] = key
            out[key].append(v)
            pending.remove(v)
            moved = True
        if not moved:
            return None
    return {min(m): sorted(m) for m in out.values()}


# --- polishing the tie-breaks ----------------------------------------------------------


def polish(cluster: Cluster, plan: Plan, rounds: int = POLISH_ROUNDS) -> Plan:
    """Move single hamlets between adjacent units while the tie-breaks improve.

    A move keeps the number of units, every unit connected and every compliant unit
    compliant; it must add shared boundary inside units, or keep it and move fewer
    households. Passes go in index order, so the result is deterministic.
    """
    h = cluster.households
    label = list(plan)
    members: dict[int, set[int]] = {}
    for v, k in enumerate(label):
        members.setdefault(k, set()).add(v)
    size = {k: sum(h[v] for v in m) for k, m in members.items()}
    for _ in range(rounds):
        changed = False
        for v in range(cluster.n):
            a = label[v]
            group_a = members[a]
            if len(group_a) == 1:
                continue
            if not is_compliant(cluster, sorted(group_a)):
                continue
            to: dict[int, int] = {}
            for u in cluster.neighbours[v]:
                to[label[u]] = to.get(label[u], 0) + cluster.shared(v, u)
            here = to.pop(a, 0)
            best = None
            for b, length in sorted(to.items()):
                gain = length - here
                if gain < 0:
                    continue
                group_b = members[b]
                rest_a = sorted(group_a - {v})
                if not is_compliant(cluster, rest_a):
                    continue
                new_b = sorted(group_b | {v})
                if not is_compliant(cluster, new_b) or not is_compliant(cluster, sorted(group_b)):
                    continue
                if not (cluster.allows(new_b) and cluster.allows(rest_a)):
                    continue
                before = _moved(h, size[a], min(group_a)) + _moved(h, size[b], min(group_b))
                after = _moved(h, size[a] - h[v], rest_a[0]) + _moved(h, size[b] + h[v], new_b[0])
                if (gain, before - after) <= (0, 0):
                    continue
                mask = 0
                for w in rest_a:
                    mask |= 1 << w
                if not mask_connected(cluster, mask):
                    continue
                cand = (gain, before - after, -b)
                if best is None or cand > best[0]:
                    best = (cand, b)
            if best is None:
                continue
            b = best[1]
            members[a].discard(v)
            members[b].add(v)
            size[a] -= h[v]
            size[b] += h[v]
            label[v] = b
            changed = True
        if not changed:
            break
    return canonical(label)


def honour_constraints(cluster: Cluster, plan: Plan) -> Plan:
    """The plan made to honour the planners' pairs, as close to it as a greedy allows.

    Units holding an ``apart`` pair are split into connected pieces grown largest first
    (a hamlet joins a piece only if it clashes with none of its members); units holding
    one side of a ``together`` pair join the unit of the other side; then units still
    below their standard join an adjacent unit where that is allowed and makes fewer
    hamlets non-compliant. Falls back to the ``together`` pairs' units and singletons,
    which always honour a consistent set of pairs.
    """
    if not cluster.constrained or satisfies(cluster, plan):
        return plan
    units: list[set[int]] = []
    for members in units_of(plan).values():
        remaining = set(members)
        while remaining:
            piece, frontier = {min(remaining)}, [min(remaining)]
            while frontier:
                v = frontier.pop()
                for u in cluster.neighbours[v]:
                    if u in remaining and u not in piece and not cluster.conflicts(u, piece):
                        piece.add(u)
                        frontier.append(u)
            units.append(piece)
            remaining -= piece
    units = _join_together(cluster, units)
    plan = _labels(cluster, units) if units is not None else _together_units(cluster)
    return _merge_short_units(cluster, plan)


def _labels(cluster: Cluster, units: list[set[int]]) -> Plan:
    label = [0] * cluster.n
    for members in units:
        for v in members:
            label[v] = min(members)
    return canonical(label)


def _join_together(cluster: Cluster, units: list[set[int]]) -> list[set[int]] | None:
    """Units joined along ``together`` pairs; None if a join would break an apart pair."""
    for a, b in sorted(cluster.together):
        ua = next(u for u in units if a in u)
        ub = next(u for u in units if b in u)
        if ua is ub:
            continue
        if any(cluster.conflicts(v, ua) for v in ub):
            return None
        units = [u for u in units if u is not ua and u is not ub] + [ua | ub]
    return units


def _together_units(cluster: Cluster) -> Plan:
    """The ``together`` pairs' connected groups as units, every other hamlet alone."""
    units = _join_together(cluster, [{v} for v in range(cluster.n)])
    if units is None:
        raise ValueError("planners' constraints contradict each other in this cluster")
    return _labels(cluster, units)


def _merge_short_units(cluster: Cluster, plan: Plan) -> Plan:
    """Join non-compliant units to adjacent units while fewer hamlets stay non-compliant."""
    while True:
        units = units_of(plan)
        best = None
        for key, members in sorted(units.items(), key=lambda kv: (len(kv[1]), kv[0])):
            if is_compliant(cluster, members):
                continue
            near = {plan[u] for v in members for u in cluster.neighbours[v]} - {key}
            for other in sorted(near):
                joined = sorted(members + units[other])
                if not cluster.allows(joined):
                    continue
                label = [key if plan[v] == other else plan[v] for v in range(cluster.n)]
                candidate = canonical(label)
                if score(cluster, candidate).uncovered < score(cluster, plan).uncovered:
                    key_ = score(cluster, candidate).key
                    if best is None or key_ < best[0]:
                        best = (key_, candidate)
            if best is not None:
                break
        if best is None:
            return plan
        plan = best[1]


def _moved(h: tuple[int, ...], households: int, first: int) -> int:
    return households - h[first]


def polish_compactness(cluster: Cluster, plan: Plan, rounds: int = POLISH_ROUNDS) -> Plan:
    """Move or swap hamlets between adjacent units while the Polsby–Popper sum rises.

    Needs the cluster's areas and perimeters. A unit's perimeter is its members'
    perimeters less twice their shared boundary, so moves are scored without geometry.
    Units stay connected and as compliant as they were, and their number does not change;
    only the compactness tie-break is traded (first improvement, index order).
    """
    if cluster.areas is None or cluster.perimeters is None:
        return plan
    search = _Compactness(cluster, plan)
    for _ in range(rounds):
        changed = False
        for v in range(cluster.n):
            changed |= search.try_move(v) or search.try_swap(v)
        if not changed:
            break
    return canonical(search.label)


class _Compactness:
    """Units' members, areas and perimeters, updated by moves and swaps."""

    def __init__(self, cluster: Cluster, plan: Plan) -> None:
        assert cluster.areas is not None and cluster.perimeters is not None
        self.cluster = cluster
        self.area, self.perim = cluster.areas, cluster.perimeters
        self.label = list(plan)
        self.members: dict[int, set[int]] = {}
        for v, k in enumerate(self.label):
            self.members.setdefault(k, set()).add(v)
        self.unit_area = {k: sum(self.area[v] for v in m) for k, m in self.members.items()}
        self.unit_perim = {k: sum(self.perim[v] for v in m) for k, m in self.members.items()}
        for (i, j), w in cluster.shared_dm.items():
            if self.label[i] == self.label[j]:
                self.unit_perim[self.label[i]] -= 2 * w / 10
        self.compliant = {k: is_compliant(cluster, sorted(m)) for k, m in self.members.items()}

    @staticmethod
    def pp(a: float, p: float) -> float:
        return 4 * math.pi * a / (p * p) if p > 0 else 0.0

    def shared_with(self, v: int, unit: int, without: int = -1) -> float:
        return sum(
            self.cluster.shared(v, u) / 10
            for u in self.cluster.neighbours[v]
            if self.label[u] == unit and u != without
        )

    def ok(self, unit: int, members: set[int]) -> bool:
        """Still connected, compliant if it was, and within the planners' pairs."""
        if not members or not self.cluster.allows(members):
            return False
        if self.compliant[unit] and not is_compliant(self.cluster, sorted(members)):
            return False
        mask = 0
        for w in members:
            mask |= 1 << w
        return mask_connected(self.cluster, mask)

    def gain(self, changes: dict[int, tuple[float, float]]) -> float:
        return sum(
            self.pp(a, p) - self.pp(self.unit_area[k], self.unit_perim[k])
            for k, (a, p) in changes.items()
        )

    def apply(self, moves: list[tuple[int, int, int]], changes: dict) -> None:
        for v, a, b in moves:
            self.members[a].discard(v)
            self.members[b].add(v)
            self.label[v] = b
        for k, (a, p) in changes.items():
            self.unit_area[k], self.unit_perim[k] = a, p

    def try_move(self, v: int) -> bool:
        a = self.label[v]
        if len(self.members[a]) == 1:
            return False
        targets = sorted({self.label[u] for u in self.cluster.neighbours[v]} - {a})
        here = self.shared_with(v, a)
        best = None
        for b in targets:
            length = self.shared_with(v, b)
            changes = {
                a: (
                    self.unit_area[a] - self.area[v],
                    self.unit_perim[a] - self.perim[v] + 2 * here,
                ),
                b: (
                    self.unit_area[b] + self.area[v],
                    self.unit_perim[b] + self.perim[v] - 2 * length,
                ),
            }
            g = self.gain(changes)
            if g > 1e-9 and (best is None or g > best[0]):
                best = (g, b, changes)
        if best is None:
            return False
        _, b, changes = best
        if not self.ok(a, self.members[a] - {v}) or not self.ok(b, self.members[b] | {v}):
            return False
        self.apply([(v, a, b)], changes)
        return True

    def try_swap(self, v: int) -> bool:
        a = self.label[v]
        if len(self.members[a]) == 1:
            return False
        for u in self.cluster.neighbours[v]:
            b = self.label[u]
            if b == a or len(self.members[b]) == 1:
                continue
            # v goes to b, u goes to a.
            shared_vu = self.cluster.shared(v, u) / 10
            v_in_a, v_in_b = self.shared_with(v, a), self.shared_with(v, b, without=u)
            u_in_b, u_in_a = self.shared_with(u, b), self.shared_with(u, a, without=v)
            perim_a = self.unit_perim[a] - self.perim[v] + 2 * v_in_a
            perim_a += self.perim[u] - 2 * u_in_a
            perim_b = self.unit_perim[b] - self.perim[u] + 2 * u_in_b
            perim_b += self.perim[v] - 2 * v_in_b
            changes = {
                a: (self.unit_area[a] - self.area[v] + self.area[u], perim_a),
                b: (self.unit_area[b] - self.area[u] + self.area[v], perim_b),
            }
            del shared_vu
            if self.gain(changes) <= 1e-9:
                continue
            new_a = (self.members[a] - {v}) | {u}
            new_b = (self.members[b] - {u}) | {v}
            if not self.ok(a, new_a) or not self.ok(b, new_b):
                continue
            self.apply([(v, a, b), (u, b, a)], changes)
            return True
        return False


# --- peeling ---------------------------------------------------------------------------


def peel_units(cluster: Cluster, rng: random.Random | None) -> Plan:
    """Cut units off the edge of the cluster, each just reaching the target.

    The remainder stays connected (only hamlets whose removal keeps it connected are
    taken), so no hamlet is stranded; the last remainder is the final unit. Suited to
    targets many hamlets large, where region growing leaves costly enclaves. Candidates
    are ranked first and checked for connectivity lazily, best first.
    """
    n = cluster.n
    h = cluster.households
    target = max(cluster.targets)
    noise = [rng.random() if rng else 0.0 for _ in range(n)]
    remainder = (1 << n) - 1
    rest_total = cluster.total
    units: list[list[int]] = []
    nbm = cluster.neighbour_masks
    while rest_total >= 2 * target:
        depth = _eccentric_order(cluster, remainder)
        ranked = sorted(depth, key=lambda v: (-depth[v] - noise[v], h[v], v))
        s = next((v for v in ranked if mask_connected(cluster, remainder & ~(1 << v))), None)
        if s is None:
            break
        sub, total = 1 << s, h[s]
        frontier = nbm[s] & remainder & ~sub
        ok = True
        while total < target:
            cands = mask_members(frontier)
            if not cands:
                ok = False
                break
            gap = target - total
            ranked = sorted(
                cands,
                key=lambda c: (
                    (0, total + h[c], -depth[c])
                    if h[c] >= gap
                    else (1, -depth[c] - noise[c], abs(gap - h[c]))
                ),
            )
            c = next(
                (c for c in ranked if mask_connected(cluster, remainder & ~sub & ~(1 << c))), None
            )
            if c is None:
                ok = False
                break
            sub |= 1 << c
            total += h[c]
            frontier = (frontier | nbm[c]) & remainder & ~sub
        if not ok or rest_total - total < target:
            break
        units.append(mask_members(sub))
        remainder &= ~sub
        rest_total -= total
    units.append(mask_members(remainder))
    return attach(cluster, units)


def _eccentric_order(cluster: Cluster, mask: int) -> dict[int, int]:
    """How far out each hamlet of ``mask`` lies: distance to the far end of a diameter."""
    members = mask_members(mask)
    depth = _bfs(cluster, mask, members[0])
    far = max(members, key=lambda v: (depth.get(v, 0), -v))
    depth = _bfs(cluster, mask, far)
    top = max(depth.values())
    return {v: top - d for v, d in depth.items()}


def _bfs(cluster: Cluster, mask: int, start: int) -> dict[int, int]:
    depth = {start: 0}
    queue = [start]
    for v in queue:
        for u in cluster.neighbours[v]:
            if mask >> u & 1 and u not in depth:
                depth[u] = depth[v] + 1
                queue.append(u)
    return depth
