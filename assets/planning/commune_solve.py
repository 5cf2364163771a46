"""One commune's clusters solved, and many communes in worker processes.

A commune's exact phase has one budget in CP-SAT *deterministic* seconds, spent on its
clusters in a fixed order (largest first), so the same input always gets the same plans
whatever the machine load; what a cluster leaves unspent passes to the next. Communes
are independent, so ``solve_communes`` may hand them to worker processes in any order
and still return what a serial run returns.

This module is what a worker process imports: the solvers and the cluster model only
(no geometry, no warehouse: half a second and 140 MB). A spawned worker also re-imports
the program's main module, which under ``hamlets`` brings the whole CLI (about 2 s of
CPU and 270 MB more), so workers pay only when there is much to search.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace

from assets.planning.exact import TIEBREAK_EXACT_MAX_HAMLETS, solve_exact
from assets.planning.heuristic import honour_constraints, polish_compactness, solve_heuristic
from assets.planning.plans import Cluster, check_plan, satisfies, score
from assets.workers import may_start_workers, usable_cpus

OPTIMAL = "optimal"
HEURISTIC = "heuristic"
FEASIBLE = "feasible"

# Below this many hamlets to search (about 7 s of solving at 2 s budgets, some 25
# communes' options), starting workers costs more than it saves: each imports this
# module and the main module of the program (2 s of CPU and 270 MB under ``hamlets``).
MIN_PARALLEL_HAMLETS = 3_000


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
    """``solve_commune`` over many communes, in their order.

    A commune listed twice with the same clusters (an option's reading without special
    cases where the commune has none awaiting guidance, or an option whose targets fell
    back to the standard) is solved once: the plans are equal by determinism, and the
    copy reports no seconds, as none were spent on it.

    In ``workers`` processes (no more than the CPUs this process may use): this one and
    ``workers`` - 1 spawned helpers (no lock, connection or thread of this process is
    inherited), when the communes hold at least ``MIN_PARALLEL_HAMLETS`` hamlets to
    search; a helper is sent one commune's clusters at a time. The result is a serial
    run's: every commune is solved alone, on a deterministic budget."""
    keys = [tuple(c.content for c in clusters) for clusters in communes]
    first: dict[tuple, int] = {}
    unique = [k for k, key in enumerate(keys) if first.setdefault(key, k) == k]
    outcomes = _solve_all([communes[k] for k in unique], time_limit, workers)
    solved = dict(zip(unique, outcomes, strict=True))
    return [
        solved[k]
        if first[key] == k
        else [replace(o, seconds=0.0, exact_seconds=0.0) for o in solved[first[key]]]
        for k, key in enumerate(keys)
    ]


def _solve_all(
    communes: Sequence[Sequence[Cluster]], time_limit: float, workers: int
) -> list[list[ClusterOutcome]]:
    jobs = [(clusters, time_limit) for clusters in communes]
    workers = min(workers, usable_cpus())
    hamlets = sum(c.n for clusters in communes for c in clusters)
    if workers < 2 or hamlets < MIN_PARALLEL_HAMLETS or len(jobs) < 2 or not may_start_workers():
        return [_solve_job(job) for job in jobs]
    # Largest first (hamlets to search, then position: a fixed order).
    order = sorted(range(len(jobs)), key=lambda k: (-sum(c.n for c in communes[k]), k))
    out: list[list[ClusterOutcome]] = [[] for _ in jobs]
    context = multiprocessing.get_context("spawn")
    # This process solves too, from the smallest commune up, while ``workers`` - 1
    # spawned helpers take them from the largest down: one process fewer to start, and
    # the two ends meet when the communes run out. A commune a helper has not taken yet
    # can be cancelled there and solved here; helpers take them in order, so the first
    # that cannot be cancelled means every larger one is taken too.
    with ProcessPoolExecutor(max_workers=workers - 1, mp_context=context) as pool:
        futures = [pool.submit(_solve_job, jobs[k]) for k in order]
        for k, future in zip(reversed(order), reversed(futures), strict=True):
            if not future.cancel():
                break
            out[k] = _solve_job(jobs[k])
        for k, future in zip(order, futures, strict=True):
            if not future.cancelled():
                out[k] = future.result()
    return out
