"""Solve the clusters: per commune, heuristic first, then the exact phase on a budget.

A commune's exact phase has one budget in CP-SAT *deterministic* seconds, spent on its
clusters in a fixed order (largest first), so the same input always gets the same plans
whatever the machine load; what a cluster leaves unspent passes to the next. Communes
are independent, so they can go to worker processes in any order.

``solve_clusters`` is the province-wide step: it cuts the hamlet graph into clusters,
leaves the trivial ones as they are, solves the rest and gives each hamlet its unit.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from assets.planning.compliance import SPECIAL_STATUSES
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


# --- the province's clusters ------------------------------------------------------------


@dataclass(frozen=True)
class Solved:
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


def solve_clusters(
    nodes: pd.DataFrame,
    edges: pd.DataFrame,
    target: np.ndarray,
    aim: np.ndarray,
    fallback: np.ndarray,
    time_limit: float,
    workers: int,
    pairs: Mapping[int, tuple[list[tuple[str, str]], list[tuple[str, str]]]] | None = None,
    weights: np.ndarray | None = None,
) -> Solved:
    """Plan every cluster of ``nodes`` (``graph.hamlet_graph``) to ``target``: trivial
    clusters stay as they are, the others are solved per commune (``solve_communes``).
    ``pairs`` are the planners' (apart, together) pairs per cluster, ``weights`` scale
    each edge's shared boundary in the tie-break (soft preferences)."""
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
    return Solved(
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
