"""Solving communes: each distinct commune once, on a budget that ignores the clock."""

from __future__ import annotations

import math
import random

from ortools.sat.python import cp_model
from test_plans import random_cluster

from assets.planning import commune_solve
from assets.planning.commune_solve import solve_communes
from assets.planning.exact import _parameters
from assets.planning.plans import Cluster


def _copy(cluster: Cluster) -> Cluster:
    """The same cluster built again (another object, equal content)."""
    return Cluster.build(
        cluster.codes,
        cluster.households,
        cluster.targets,
        cluster.exempt,
        [(cluster.codes[i], cluster.codes[j], w / 10) for i, j, w in cluster.edges()],
    )


def test_a_commune_listed_twice_is_solved_once(monkeypatch) -> None:
    rng = random.Random(3)
    one, other = random_cluster(rng, 14), random_cluster(rng, 11)
    solved: list[int] = []
    job = commune_solve._solve_job

    def counted(args):
        solved.append(sum(c.n for c in args[0]))
        return job(args)

    monkeypatch.setattr(commune_solve, "_solve_job", counted)
    first, again, second = solve_communes([[one], [_copy(one)], [other]], time_limit=1.0)
    assert solved == [14, 11]  # the copy is not searched again
    assert [o.unit_codes for o in again] == [o.unit_codes for o in first]
    assert [o.units for o in again] == [o.units for o in first]
    assert again[0].seconds == again[0].exact_seconds == 0.0  # none spent on the copy
    assert set(second[0].codes) == set(other.codes)


def test_clusters_differing_in_one_target_are_both_solved(monkeypatch) -> None:
    rng = random.Random(4)
    one = random_cluster(rng, 10)
    stricter = Cluster.build(
        one.codes,
        one.households,
        [t + 1 for t in one.targets],
        one.exempt,
        [(one.codes[i], one.codes[j], w / 10) for i, j, w in one.edges()],
    )
    solved: list[int] = []
    job = commune_solve._solve_job
    monkeypatch.setattr(commune_solve, "_solve_job", lambda args: solved.append(1) or job(args))
    solve_communes([[one], [stricter]], time_limit=0.5)
    assert solved == [1, 1]


def test_the_exact_phase_has_no_wall_clock_limit() -> None:
    """Only the deterministic budget stops CP-SAT, so a loaded machine (where a wall
    clock runs out before the work is done) gets the plans an idle one gets."""
    solver = cp_model.CpSolver()
    _parameters(solver, 2.0)
    assert solver.parameters.max_deterministic_time == 2.0
    assert math.isinf(solver.parameters.max_time_in_seconds)
    assert solver.parameters.num_workers == 1
