"""Solve every cluster of a commune: heuristic first, then the exact phase on a budget.

A commune's exact phase has one budget in CP-SAT *deterministic* seconds, spent on its
clusters in a fixed order (largest first), so the same input always gets the same plans
whatever the machine load; what a cluster leaves unspent passes to the next. Communes
are independent, so they can go to worker processes in any order.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace

from assets.planning.exact import TIEBREAK_EXACT_MAX_HAMLETS, solve_exact
from assets.planning.heuristic import honour_constraints, polish_compactness, solve_heuristic
from assets.planning.plans import Cluster, check_plan, satisfies, score

OPTIMAL = "optimal"
HEURISTIC = "heuristic"
FEASIBLE = "feasible"


@dataclass(frozen=True)
class ClusterOutcome:
    """A solved cluster: each hamlet's unit (the code of its first member) and how sure."""

    codes: tuple[str, ...]
    unit_codes: tuple[str, ...]
    units: int
    units_bound: int
    status: str  # OPTIMAL | FEASIBLE (the exact phase ran out of budget) | HEURISTIC
    tiebreak_proven: bool
    seconds: float
    exact_seconds: float


def solve_commune(clusters: Sequence[Cluster], time_limit: float) -> list[ClusterOutcome]:
    """Plans for a commune's clusters, in the order given."""
    order = sorted(range(len(clusters)), key=lambda k: (-clusters[k].n, clusters[k].codes[0]))
    budget = time_limit
    out: list[ClusterOutcome | None] = [None] * len(clusters)
    for k in order:
        cluster = clusters[k]
        t0 = time.perf_counter()
        heur = solve_heuristic(cluster)
        plan, units, bound = heur.plan, heur.score.units, heur.units_bound
        status = OPTIMAL if heur.proven else HEURISTIC
        if not satisfies(cluster, plan):
            # The planners' pairs cut this plan: start from the nearest plan honouring
            # them; the heuristic's bound stays an upper bound, its proof does not.
            plan = honour_constraints(cluster, plan)
            units, status = score(cluster, plan).units, HEURISTIC
            heur = replace(heur, plan=plan, score=score(cluster, plan), proven=False)
        tiebreak = False
        exact_seconds = 0.0
        wants_exact = not heur.proven or cluster.n <= TIEBREAK_EXACT_MAX_HAMLETS
        if wants_exact and budget > 0:
            res = solve_exact(
                cluster, heur.plan, time_limit=budget, cores=heur.cores, units_bound=bound
            )
            budget -= res.deterministic_time
            exact_seconds = res.seconds
            plan, units, bound = res.plan, res.score.units, res.units_bound
            tiebreak = res.tiebreak_proven
            if res.proven:
                status = OPTIMAL
            elif status != OPTIMAL:
                status = FEASIBLE
        plan = polish_compactness(cluster, plan)
        check_plan(cluster, plan)
        out[k] = ClusterOutcome(
            codes=cluster.codes,
            unit_codes=tuple(cluster.codes[label] for label in plan),
            units=units,
            units_bound=max(bound, units),
            status=status,
            tiebreak_proven=tiebreak,
            seconds=time.perf_counter() - t0,
            exact_seconds=exact_seconds,
        )
    return [o for o in out if o is not None]


def _solve_job(job: tuple[Sequence[Cluster], float]) -> list[ClusterOutcome]:
    clusters, time_limit = job
    return solve_commune(clusters, time_limit)


def solve_communes(
    communes: Sequence[Sequence[Cluster]], time_limit: float, workers: int = 1
) -> list[list[ClusterOutcome]]:
    """``solve_commune`` over many communes, in worker processes when ``workers`` > 1."""
    jobs = [(clusters, time_limit) for clusters in communes]
    if workers <= 1 or len(jobs) < 2:
        return [_solve_job(job) for job in jobs]
    chunk = max(1, len(jobs) // (workers * 8))
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(_solve_job, jobs, chunksize=chunk))
