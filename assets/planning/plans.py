"""The partition model the optimising planners share: a cluster, a plan and its score.

A unit must be connected, of one kind (thôn or tổ dân phố) and inside one commune, so it
always lies inside one *cluster*: a connected component of the graph joining adjacent
hamlets of the same kind in the same commune. Clusters are therefore independent
sub-problems, and everything here works on one of them.

A cluster numbers its hamlets 0..n-1 by households descending, then code, so the first
member of a unit is its largest hamlet, whose code the unit keeps (the same rule as the
minimal option). A *plan* gives each hamlet the number of its unit's first member.

Each hamlet carries a *target* (the households its unit must reach: its standard, or the
consolidated target) and an *exempt* flag (compliant on its own whatever its size, Art.
10.3). A unit is compliant when it is a single exempt hamlet or its households reach the
largest target among its members (the strictest standard, as in the minimal option).
Exempt hamlets may still join a unit when that makes a neighbour compliant; the merged
unit then needs the standard like any other.

Plans are compared lexicographically (``Score.key``, smaller is better):
1. fewest hamlets left in non-compliant units (compliance wherever it is feasible);
2. most units (max-p-regions);
3. most shared boundary inside units: the total perimeter of the units is the sum of
   hamlet perimeters less twice that length, so this is the linear stand-in for
   compactness (Polsby–Popper itself is not linear in the plan);
4. fewest households moved (households of hamlets whose unit takes another code).
A hamlet that cannot be in any compliant unit is left on its own (rule 2), reported,
never forced into a unit that still misses the standard.

Planners' constraints (``constraints``) reach a cluster as pairs of hamlet numbers:
``apart`` pairs never share a unit, ``together`` pairs always do (locked hamlets have
no edges, so they are clusters of their own). ``Cluster.allows`` is the one test of a
unit against them; every move that changes units asks it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import NamedTuple

from assets.planning.graph import mask_components, mask_reach

Plan = tuple[int, ...]

# Enumerating minimal cores stops past this many connected subsets (then the planners
# fall back to region growing and the flow model).
CORE_ENUMERATION_LIMIT = 20_000


class Score(NamedTuple):
    """A plan's measures; ``key`` orders plans (smaller is better)."""

    uncovered: int  # hamlets in non-compliant units
    units: int
    internal_dm: int  # shared boundary inside units, decimetres
    moved: int  # households whose hamlet is not its unit's first member

    @property
    def key(self) -> tuple[int, int, int, int]:
        return (self.uncovered, -self.units, -self.internal_dm, self.moved)


@dataclass(frozen=True, eq=False)
class Cluster:
    """Connected same-kind hamlets of one commune, numbered largest first."""

    codes: tuple[str, ...]
    households: tuple[int, ...]
    targets: tuple[int, ...]
    exempt: tuple[bool, ...]
    neighbours: tuple[tuple[int, ...], ...]
    shared_dm: Mapping[tuple[int, int], int] = field(repr=False)  # (i < j) -> decimetres
    # Area (m²) and perimeter (m) per hamlet, when known: Polsby–Popper polishing.
    areas: tuple[float, ...] | None = field(default=None, repr=False)
    perimeters: tuple[float, ...] | None = field(default=None, repr=False)
    # Planners' constraints: pairs (i < j) that must not / must share a unit.
    apart: frozenset[tuple[int, int]] = frozenset()
    together: frozenset[tuple[int, int]] = frozenset()

    @classmethod
    def build(
        cls,
        codes: Sequence[str],
        households: Sequence[int],
        targets: Sequence[int],
        exempt: Sequence[bool],
        edges: Iterable[tuple[str, str, float]],
        *,
        areas: Sequence[float] | None = None,
        perimeters: Sequence[float] | None = None,
        apart: Iterable[tuple[str, str]] = (),
        together: Iterable[tuple[str, str]] = (),
    ) -> Cluster:
        """Number hamlets largest first; ``edges`` are (code, code, shared metres);
        ``apart`` / ``together`` are planners' pairs (codes; pairs outside the cluster
        are ignored)."""
        order = sorted(range(len(codes)), key=lambda i: (-int(households[i]), str(codes[i])))
        index = {str(codes[i]): k for k, i in enumerate(order)}
        shared: dict[tuple[int, int], int] = {}
        for a, b, metres in edges:
            i, j = index[str(a)], index[str(b)]
            if i == j:
                continue
            key = (min(i, j), max(i, j))
            shared[key] = max(shared.get(key, 0), round(float(metres) * 10))
        nbrs: list[list[int]] = [[] for _ in order]
        for i, j in sorted(shared):
            nbrs[i].append(j)
            nbrs[j].append(i)
        return cls(
            codes=tuple(str(codes[i]) for i in order),
            households=tuple(int(households[i]) for i in order),
            targets=tuple(int(targets[i]) for i in order),
            exempt=tuple(bool(exempt[i]) for i in order),
            neighbours=tuple(tuple(sorted(n)) for n in nbrs),
            shared_dm=shared,
            areas=None if areas is None else tuple(float(areas[i]) for i in order),
            perimeters=None if perimeters is None else tuple(float(perimeters[i]) for i in order),
            apart=_index_pairs(index, apart),
            together=_index_pairs(index, together),
        )

    @property
    def n(self) -> int:
        return len(self.codes)

    @cached_property
    def content(self) -> tuple:
        """Everything a solver reads, as one hashable value: clusters with equal
        ``content`` get equal plans (the same cluster under two options or readings)."""
        return (
            self.codes,
            self.households,
            self.targets,
            self.exempt,
            self.neighbours,
            tuple(sorted(self.shared_dm.items())),
            self.areas,
            self.perimeters,
            tuple(sorted(self.apart)),
            tuple(sorted(self.together)),
        )

    @property
    def constrained(self) -> bool:
        return bool(self.apart or self.together)

    def allows(self, members: Iterable[int]) -> bool:
        """Whether a unit of these members honours the planners' pairs: no ``apart``
        pair inside, and each ``together`` pair wholly inside or wholly outside."""
        if not self.constrained:
            return True
        inside = set(members)
        if any(a in inside and b in inside for a, b in self.apart):
            return False
        return all((a in inside) == (b in inside) for a, b in self.together)

    def conflicts(self, v: int, members: Iterable[int]) -> bool:
        """Whether hamlet ``v`` may not join a unit of these members (an apart pair)."""
        inside = set(members)
        return any((a == v and b in inside) or (b == v and a in inside) for a, b in self.apart)

    @cached_property
    def total(self) -> int:
        return sum(self.households)

    @cached_property
    def uniform(self) -> bool:
        """One target and no exempt hamlet: the case minimal cores solve exactly."""
        return len(set(self.targets)) == 1 and not any(self.exempt)

    @cached_property
    def self_sufficient(self) -> tuple[bool, ...]:
        """Compliant alone: exempt, or reaching its own target."""
        return tuple(
            e or h >= t for e, h, t in zip(self.exempt, self.households, self.targets, strict=True)
        )

    @cached_property
    def neighbour_masks(self) -> tuple[int, ...]:
        return tuple(sum(1 << j for j in nb) for nb in self.neighbours)

    @cached_property
    def households_by_byte(self) -> tuple[tuple[int, ...], ...]:
        """Per 8 hamlets (a byte of a bitmask), the households of each of its 256
        subsets: ``mask_households`` adds one entry per byte, not one per member."""
        out = []
        for start in range(0, self.n, 8):
            h = self.households[start : start + 8]
            table = [0] * 256
            for bits in range(1, 256):
                low = (bits & -bits).bit_length() - 1
                table[bits] = table[bits & (bits - 1)] + (h[low] if low < len(h) else 0)
            out.append(tuple(table))
        return tuple(out)

    def shared(self, i: int, j: int) -> int:
        return self.shared_dm.get((i, j) if i < j else (j, i), 0)

    def edges(self) -> list[tuple[int, int, int]]:
        return [(i, j, w) for (i, j), w in sorted(self.shared_dm.items())]


def _index_pairs(index: Mapping[str, int], pairs: Iterable[tuple[str, str]]) -> frozenset:
    out = set()
    for a, b in pairs:
        i, j = index.get(str(a)), index.get(str(b))
        if i is not None and j is not None and i != j:
            out.add((min(i, j), max(i, j)))
    return frozenset(out)


# --- plans -----------------------------------------------------------------------------


def units_of(plan: Plan) -> dict[int, list[int]]:
    """Members of each unit, keyed by the unit's first member, in index order."""
    units: dict[int, list[int]] = {}
    for i, label in enumerate(plan):
        units.setdefault(label, []).append(i)
    return units


def canonical(labels: Sequence[int]) -> Plan:
    """Relabel so that each unit is named by its first (largest) member."""
    first: dict[int, int] = {}
    for i, label in enumerate(labels):
        first.setdefault(label, i)
    return tuple(first[label] for label in labels)


def singletons(cluster: Cluster) -> Plan:
    return tuple(range(cluster.n))


def unit_target(cluster: Cluster, members: Iterable[int]) -> int:
    return max(cluster.targets[i] for i in members)


def is_compliant(cluster: Cluster, members: Sequence[int]) -> bool:
    if len(members) == 1 and cluster.exempt[members[0]]:
        return True
    return sum(cluster.households[i] for i in members) >= unit_target(cluster, members)


def is_connected(cluster: Cluster, members: Iterable[int]) -> bool:
    mask = 0
    for i in members:
        mask |= 1 << i
    return mask_connected(cluster, mask)


def mask_connected(cluster: Cluster, mask: int) -> bool:
    """Whether the hamlets of a bitmask induce a connected subgraph."""
    if mask == 0:
        return True
    return mask_reach(cluster.neighbour_masks, mask & -mask, mask) == mask


def score(cluster: Cluster, plan: Plan) -> Score:
    units = units_of(plan)
    uncovered = sum(len(m) for m in units.values() if not is_compliant(cluster, m))
    internal = sum(w for (i, j), w in cluster.shared_dm.items() if plan[i] == plan[j])
    moved = sum(cluster.households[i] for i in range(cluster.n) if plan[i] != i)
    return Score(uncovered, len(units), internal, moved)


def satisfies(cluster: Cluster, plan: Plan) -> bool:
    """Whether every unit of the plan honours the planners' pairs."""
    return not cluster.constrained or all(cluster.allows(m) for m in units_of(plan).values())


def check_plan(cluster: Cluster, plan: Plan) -> None:
    """Raise unless every unit is connected, named by its first member and honours the
    planners' pairs."""
    if len(plan) != cluster.n:
        raise ValueError(f"plan has {len(plan)} labels for {cluster.n} hamlets")
    for label, members in units_of(plan).items():
        if label != members[0]:
            raise ValueError(f"unit {label} is not named by its first member {members[0]}")
        if not is_connected(cluster, members):
            codes = [cluster.codes[i] for i in members]
            raise ValueError(f"unit {codes} is not connected")
        if not cluster.allows(members):
            codes = [cluster.codes[i] for i in members]
            raise ValueError(f"unit {codes} breaks a planner's constraint")


# --- bounds and trivial clusters -------------------------------------------------------


def components_within(cluster: Cluster, nodes: list[int]) -> list[list[int]]:
    """Connected components of the graph induced on ``nodes`` (each sorted, lowest
    first)."""
    mask = 0
    for v in nodes:
        mask |= 1 << v
    return [mask_members(c) for c in mask_components(cluster.neighbour_masks, mask)]


def small_components(cluster: Cluster) -> list[list[int]]:
    """Components of the hamlets that are not self-sufficient (graph induced on them)."""
    return components_within(
        cluster, [i for i in range(cluster.n) if not cluster.self_sufficient[i]]
    )


def units_upper_bound(cluster: Cluster, uncovered: int) -> int:
    """Most units a plan leaving ``uncovered`` hamlets non-compliant can have.

    A compliant unit is either a self-sufficient hamlet with or without company (at most
    one unit per such hamlet) or made only of hamlets short of their target, all in one
    component of the graph induced on them, holding at least that component's smallest
    target. Each uncovered hamlet adds at most one unit.
    """
    bound = sum(cluster.self_sufficient)
    for comp in small_components(cluster):
        need = min(cluster.targets[i] for i in comp)
        bound += sum(cluster.households[i] for i in comp) // need
    return min(cluster.n, bound + uncovered)


def trivial_plan(cluster: Cluster) -> Plan | None:
    """Singletons when they are provably best, else None.

    That is when every hamlet is compliant alone, or when no group of two or more can be
    compliant (the whole cluster misses the smallest target), or for a lone hamlet.
    """
    if cluster.together:
        return None  # planners' pairs must merge whatever the sizes
    if cluster.n == 1 or all(cluster.self_sufficient) or cluster.total < min(cluster.targets):
        return singletons(cluster)
    return None


# --- minimal cores ---------------------------------------------------------------------


def minimal_cores(
    cluster: Cluster, nodes: Sequence[int], target: int, limit: int = CORE_ENUMERATION_LIMIT
) -> list[int] | None:
    """Bitmasks of the minimal connected subsets of ``nodes`` reaching ``target``.

    Minimal: no member can leave with the rest still connected and reaching the target.
    With one target and no exemption, a plan with the most compliant units is a packing
    of disjoint minimal cores (each unit shrinks to one) with the other hamlets attached
    to an adjacent unit, so max-p reduces to set packing over these. ``nodes`` should
    hold only hamlets below the target. Connected subsets are listed once each by the
    ESU scheme (Wernicke 2006) and not extended past the target; returns None when more
    than ``limit`` subsets would be visited (targets far above hamlet sizes).
    """
    h = cluster.households
    nbm = cluster.neighbour_masks
    allowed = 0
    for v in nodes:
        allowed |= 1 << v
    cores: list[int] = []
    visited = 0
    for v in sorted(nodes):
        above = allowed & ~((1 << (v + 1)) - 1)
        # (subset, households, extension, closed neighbourhood of subset)
        stack = [(1 << v, h[v], nbm[v] & above, (nbm[v] | (1 << v)) & allowed)]
        while stack:
            sub, total, ext, closed = stack.pop()
            visited += 1
            if visited > limit:
                return None
            if total >= target:
                if _is_minimal(cluster, sub, total, target):
                    cores.append(sub)
                continue
            while ext:
                low = ext & -ext
                ext ^= low
                w = low.bit_length() - 1
                new_ext = ext | (nbm[w] & above & ~closed)
                stack.append(
                    (sub | low, total + h[w], new_ext, closed | ((nbm[w] | low) & allowed))
                )
    return cores


def _is_minimal(cluster: Cluster, sub: int, total: int, target: int) -> bool:
    """Whether no member of the connected subset ``sub`` can leave with the rest still
    connected and reaching ``target``. A member with one neighbour inside (a leaf) can
    always leave connected, so only the others need a search."""
    slack = total - target
    households = cluster.households
    neighbours = cluster.neighbour_masks
    rest = sub
    while rest:
        low = rest & -rest
        rest ^= low
        u = low.bit_length() - 1
        if households[u] > slack:
            continue
        inside = neighbours[u] & sub
        if inside & (inside - 1) == 0:
            return False
        others = sub ^ low
        if mask_reach(neighbours, inside & -inside, others) == others:
            return False
    return True


def mask_households(cluster: Cluster, mask: int) -> int:
    """Households of the hamlets of a bitmask."""
    total = 0
    for table in cluster.households_by_byte:
        if not mask:
            break
        total += table[mask & 255]
        mask >>= 8
    return total


def mask_members(mask: int) -> list[int]:
    out = []
    while mask:
        low = mask & -mask
        out.append(low.bit_length() - 1)
        mask ^= low
    return out
