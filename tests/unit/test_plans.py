"""The partition model, the heuristic and the exact phase against brute force."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from assets.planning.exact import TIEBREAK_EXACT_MAX_HAMLETS, solve_exact
from assets.planning.heuristic import polish, solve_heuristic
from assets.planning.plans import (
    Cluster,
    Plan,
    canonical,
    check_plan,
    is_connected,
    mask_connected,
    mask_households,
    mask_members,
    minimal_cores,
    score,
    small_components,
    units_of,
    units_upper_bound,
)
from assets.planning.solve import OPTIMAL, solve_commune


def _partitions(n: int) -> Iterator[tuple[int, ...]]:
    """Every set partition of range(n), as restricted growth strings."""
    labels = [0] * n

    def rec(i: int, blocks: int) -> Iterator[tuple[int, ...]]:
        if i == n:
            yield tuple(labels)
            return
        for k in range(blocks + 1):
            labels[i] = k
            yield from rec(i + 1, blocks + (k == blocks))

    yield from rec(0, 0)


def brute_force(cluster: Cluster) -> tuple[tuple[int, int, int, int], Plan]:
    """The best plan by enumerating all connected partitions."""
    best = None
    for labels in _partitions(cluster.n):
        plan = canonical(labels)
        if not all(is_connected(cluster, m) for m in units_of(plan).values()):
            continue
        key = score(cluster, plan).key
        if best is None or key < best[0]:
            best = (key, plan)
    assert best is not None
    return best


def random_cluster(rng: random.Random, n: int, *, exempt: float = 0.0, mixed: bool = False):
    """A connected random graph (a tree plus chords) with hamlets around the standard."""
    codes = [f"h{i:02d}" for i in range(n)]
    edges = {(rng.randrange(i), i) for i in range(1, n)}
    for _ in range(rng.randrange(n)):
        i, j = rng.sample(range(n), 2)
        edges.add((min(i, j), max(i, j)))
    households = [rng.randint(0, 200) for _ in range(n)]
    targets = [150 if not mixed or rng.random() < 0.6 else 100 for _ in range(n)]
    flags = [rng.random() < exempt for _ in range(n)]
    lengths = [(codes[i], codes[j], rng.randint(1, 50) * 10.0) for i, j in sorted(edges)]
    return Cluster.build(codes, households, targets, flags, lengths)


CASES = [(seed, kind) for seed in range(36) for kind in ("uniform", "exempt", "mixed")]


@pytest.mark.parametrize(("seed", "kind"), CASES)
def test_engine_matches_brute_force(seed: int, kind: str) -> None:
    rng = random.Random(seed * 7 + len(kind))
    n = rng.randint(2, 9)
    cluster = random_cluster(rng, n, exempt=0.3 if kind == "exempt" else 0.0, mixed=kind == "mixed")
    best_key, _ = brute_force(cluster)
    [outcome] = solve_commune([cluster], time_limit=5.0)
    plan = canonical([cluster.codes.index(c) for c in outcome.unit_codes])
    check_plan(cluster, plan)
    key = score(cluster, plan).key
    assert outcome.status == OPTIMAL
    assert key[:2] == best_key[:2]  # uncovered hamlets, then units: always exact
    if outcome.tiebreak_proven or n <= TIEBREAK_EXACT_MAX_HAMLETS:
        assert key == best_key  # compactness and households moved too
    heuristic = solve_heuristic(cluster)
    if heuristic.proven:
        assert heuristic.score.key[:2] == best_key[:2]


def test_minimal_cores_are_exactly_the_minimal_connected_subsets() -> None:
    rng = random.Random(3)
    for _ in range(20):
        cluster = random_cluster(rng, rng.randint(3, 10))
        target = 150
        for comp in small_components(cluster):
            expected = set()
            for mask in range(1, 1 << cluster.n):
                members = mask_members(mask)
                if any(m not in comp for m in members) or not mask_connected(cluster, mask):
                    continue
                total = sum(cluster.households[m] for m in members)
                if total < target:
                    continue
                removable = any(
                    total - cluster.households[m] >= target
                    and mask_connected(cluster, mask ^ 1 << m)
                    for m in members
                )
                if not removable:
                    expected.add(mask)
            assert set(minimal_cores(cluster, comp, target)) == expected


def test_households_of_a_bitmask_are_its_members_households() -> None:
    rng = random.Random(8)
    for n in (1, 7, 8, 9, 17, 30):
        cluster = random_cluster(rng, n)
        for mask in [0, (1 << n) - 1] + [rng.randrange(1 << n) for _ in range(200)]:
            expected = sum(cluster.households[v] for v in mask_members(mask))
            assert mask_households(cluster, mask) == expected


def test_cluster_numbers_hamlets_largest_first_and_keeps_edges() -> None:
    cluster = Cluster.build(
        ["b", "a", "c"], [50, 50, 200], [150] * 3, [False] * 3, [("a", "b", 12.34), ("b", "c", 5)]
    )
    assert cluster.codes == ("c", "a", "b")  # households descending, then code
    assert cluster.neighbours == ((2,), (2,), (0, 1))
    assert cluster.shared(1, 2) == 123 and cluster.shared(2, 0) == 50  # decimetres


def test_check_plan_rejects_a_disconnected_unit() -> None:
    cluster = Cluster.build(["a", "b", "c"], [1, 2, 3], [5] * 3, [False] * 3, [("a", "b", 1)])
    with pytest.raises(ValueError, match="not connected"):
        check_plan(cluster, (0, 1, 0))  # c (index 0) with a (index 2): no edge


def test_one_region_cluster_terminates_as_one_unit() -> None:
    """Total between the standard and twice it: only one unit is possible (peers hang)."""
    codes = [f"h{i}" for i in range(6)]
    edges = [(codes[i], codes[i + 1], 100.0) for i in range(5)]
    cluster = Cluster.build(codes, [30, 20, 40, 10, 35, 25], [150] * 6, [False] * 6, edges)
    [outcome] = solve_commune([cluster], time_limit=2.0)
    assert set(outcome.unit_codes) == {"h2"} and outcome.units == 1
    assert outcome.status == OPTIMAL


def test_cluster_below_the_standard_is_left_as_it_is() -> None:
    codes = ["a", "b", "c"]
    cluster = Cluster.build(
        codes, [30, 20, 40], [150] * 3, [False] * 3, [("a", "b", 1), ("b", "c", 1)]
    )
    [outcome] = solve_commune([cluster], time_limit=2.0)
    assert outcome.unit_codes == outcome.codes  # singletons, not one unit still too small
    assert outcome.units == 3 and outcome.status == OPTIMAL


def test_exempt_hamlet_joins_only_when_it_makes_a_neighbour_compliant() -> None:
    edges = [("ex", "a", 100.0)]
    enough = Cluster.build(["ex", "a"], [100, 60], [150, 150], [True, False], edges)
    [outcome] = solve_commune([enough], time_limit=2.0)
    assert set(outcome.unit_codes) == {"ex"}  # 160 ≥ 150: merged, no one left short
    short = Cluster.build(["ex", "a"], [40, 60], [150, 150], [True, False], edges)
    [outcome] = solve_commune([short], time_limit=2.0)
    assert outcome.unit_codes == outcome.codes  # 100 < 150: the exempt hamlet stays alone


def test_exact_phase_is_deterministic_and_beats_or_equals_the_heuristic() -> None:
    rng = random.Random(11)
    clusters = [random_cluster(rng, 40) for _ in range(3)]
    first = solve_commune(clusters, time_limit=2.0)
    second = solve_commune(clusters, time_limit=2.0)
    assert [o.unit_codes for o in first] == [o.unit_codes for o in second]
    for cluster, outcome in zip(clusters, first, strict=True):
        assert outcome.units >= solve_heuristic(cluster).score.units
        assert outcome.units <= units_upper_bound(cluster, 0)
        assert outcome.status == OPTIMAL  # 40 hamlets: proven within the budget


def test_polish_never_breaks_compliance_or_contiguity() -> None:
    rng = random.Random(5)
    for _ in range(30):
        cluster = random_cluster(rng, rng.randint(4, 14))
        plan = solve_heuristic(cluster).plan
        before = score(cluster, plan)
        polished = polish(cluster, plan)
        check_plan(cluster, polished)
        after = score(cluster, polished)
        assert after.key <= before.key and after[:2] == before[:2]


def test_exact_without_budget_keeps_the_start() -> None:
    rng = random.Random(2)
    cluster = random_cluster(rng, 12)
    start = solve_heuristic(cluster).plan
    res = solve_exact(cluster, start, time_limit=0.0)
    check_plan(cluster, res.plan)
    assert res.score.key <= score(cluster, start).key
