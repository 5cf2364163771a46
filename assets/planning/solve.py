"""Solve the clusters of a province: cut the hamlet graph into clusters, leave the
trivial ones as they are, search the rest per commune (``commune_solve``) and give each
hamlet its unit.

``cluster_search`` builds an option's searches without running them, so that
``plan_options`` can hand every option's communes to one pool of workers;
``solve_clusters`` is the two together for one option.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from assets.planning.commune_solve import (
    FEASIBLE,
    HEURISTIC,
    OPTIMAL,
    ClusterOutcome,
    solve_commune,
    solve_communes,
)
from assets.planning.compliance import SPECIAL_STATUSES
from assets.planning.plans import Cluster

__all__ = [
    "FEASIBLE",
    "HEURISTIC",
    "OPTIMAL",
    "ClusterSearch",
    "Solved",
    "cluster_search",
    "solve_clusters",
    "solve_commune",
    "solve_communes",
]


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


@dataclass(frozen=True)
class ClusterSearch:
    """An option's clusters that need a search, per commune (in code order), and the
    plan of the trivial ones (each hamlet alone), which the search results complete."""

    nodes: pd.DataFrame
    target: np.ndarray
    aim: np.ndarray
    fallback: np.ndarray
    communes: list[str]
    clusters: list[list[Cluster]]

    def solved(self, outcomes: Sequence[Sequence[ClusterOutcome]]) -> Solved:
        """Each hamlet's unit, given ``outcomes`` (per commune, as ``solve_communes``)."""
        nodes = self.nodes
        n = len(nodes)
        unit = np.arange(n)
        status = np.full(n, OPTIMAL, dtype=object)
        units = nodes["cluster_hamlets"].to_numpy().copy()
        bound = units.copy()
        position = pd.Series(np.arange(n), index=nodes["code"]).to_dict()
        seconds = dict.fromkeys(nodes["commune"].unique(), 0.0)
        exact_seconds = dict(seconds)
        for name, solved in zip(self.communes, outcomes, strict=True):
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
            target=self.target,
            aim=self.aim,
            fallback=self.fallback,
            cluster_status=status,
            cluster_units=units,
            cluster_bound=bound,
            commune_seconds=pd.Series(seconds),
            commune_exact_seconds=pd.Series(exact_seconds),
        )


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
    search = cluster_search(nodes, edges, target, aim, fallback, pairs, weights)
    return search.solved(solve_communes(search.clusters, time_limit, workers))


def cluster_search(
    nodes: pd.DataFrame,
    edges: pd.DataFrame,
    target: np.ndarray,
    aim: np.ndarray,
    fallback: np.ndarray,
    pairs: Mapping[int, tuple[list[tuple[str, str]], list[tuple[str, str]]]] | None = None,
    weights: np.ndarray | None = None,
) -> ClusterSearch:
    """The clusters of ``nodes`` planned to ``target`` that need a search (not a single
    hamlet, not all compliant alone, not too small to hold a compliant unit, or holding
    planners' together pairs), built per commune: ``solve_clusters`` without the solving,
    so several options' searches can share one pool of workers."""
    pairs = pairs or {}
    h = nodes["households"].to_numpy()
    exempt = np.isin(nodes["status"].to_numpy(), SPECIAL_STATUSES)
    cluster = nodes["cluster"].to_numpy()
    frame = pd.DataFrame({"cluster": cluster, "h": h, "t": target, "ss": exempt | (h >= target)})
    agg = frame.groupby("cluster").agg(
        n=("h", "size"), total=("h", "sum"), tmin=("t", "min"), all_ss=("ss", "all")
    )
    trivial = (agg["n"] == 1) | agg["all_ss"] | (agg["total"] < agg["tmin"])
    trivial &= ~agg.index.isin([c for c, (_, together) in pairs.items() if together])

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
    return ClusterSearch(
        nodes=nodes,
        target=target,
        aim=aim,
        fallback=fallback,
        communes=names,
        clusters=[by_commune[c] for c in names],
    )
