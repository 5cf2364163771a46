"""The hamlet graph and the one way planning walks it.

A unit must be connected, of one kind and inside one commune, so every planner asks the
same question: which hamlets are joined through shared boundaries? It is answered here,
and only here, in two forms:

- ``components``: edge arrays over the whole province or country at once (vectorised:
  the hamlet clusters, a hand-edited plan's contiguity, chained must-merge pairs, the
  minimal option's cluster totals);
- ``mask_reach`` / ``mask_components``: one cluster's neighbours as bitmasks, for the
  solvers' inner loops, where a cluster has tens of hamlets and speed per call matters.

``hamlet_graph`` builds the frames the optimised options and the manual plan share: one
row per hamlet with its cluster and the context its reasons need, one per edge.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from assets.planning.rules import HAMLET_KIND_LABELS_VI


def components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Each of ``n`` nodes' connected component, named by its lowest node, given edges
    ``a[k]``–``b[k]``. Min-label propagation with pointer jumping (vectorised)."""
    label = np.arange(n)
    if len(a) == 0:
        return label
    while True:
        low = np.minimum(label[a], label[b])
        new = label.copy()
        np.minimum.at(new, a, low)
        np.minimum.at(new, b, low)
        new = new[new]
        if np.array_equal(new, label):
            return label
        label = new


def component_totals(label: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per node, the sum of ``values`` over its component (``label`` from ``components``)."""
    totals = np.zeros(len(label), dtype=np.asarray(values).dtype)
    np.add.at(totals, label, values)
    return totals[label]


def code_components(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Each code named in ``pairs``, mapped to the lowest code its pairs chain it to."""
    pairs = list(pairs)
    codes = sorted({c for pair in pairs for c in pair})
    index = {c: k for k, c in enumerate(codes)}
    a = np.array([index[x] for x, _ in pairs], dtype=np.int64)
    b = np.array([index[y] for _, y in pairs], dtype=np.int64)
    label = components(len(codes), a, b)
    return {c: codes[label[k]] for k, c in enumerate(codes)}


def mask_reach(neighbour_masks: Sequence[int], start: int, within: int) -> int:
    """The nodes of ``within`` reachable from those of ``start`` (bitmasks; node ``v``'s
    neighbours are the bits of ``neighbour_masks[v]``)."""
    seen = frontier = start
    while frontier:
        low = frontier & -frontier
        frontier ^= low
        grow = neighbour_masks[low.bit_length() - 1] & within & ~seen
        seen |= grow
        frontier |= grow
    return seen


def mask_components(neighbour_masks: Sequence[int], mask: int) -> list[int]:
    """Connected components of the nodes in ``mask``, as bitmasks, lowest node first."""
    comps = []
    rest = mask
    while rest:
        comp = mask_reach(neighbour_masks, rest & -rest, rest)
        comps.append(comp)
        rest &= ~comp
    return comps


def hamlet_graph(
    compliance: pd.DataFrame, adjacency: pd.DataFrame, measures: pd.DataFrame | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hamlets (sorted, with context for reasons and measures) and undirected pairs.

    ``nodes``: code, commune, kind, households, standard, floor, status, exemption (and
    area, perimeter with ``measures``), plus the cluster (connected same-kind hamlets of
    one commune, named by its first node), its hamlets and households, the commune's
    hamlets of that kind, whether the hamlet has any neighbour, and the other kinds it
    touches. ``edges``: positions a < b in ``nodes`` of hamlets of one commune, the
    longest shared boundary given (m) and whether both are of one kind.
    """
    nodes = pd.DataFrame(
        {
            "code": compliance["hamlet_code"].astype(str).to_numpy(),
            "commune": compliance["commune_code"].astype(str).to_numpy(),
            "kind": compliance["hamlet_kind"].astype(str).to_numpy(),
            "households": compliance["households"].astype("int64").to_numpy(),
            "standard": compliance["standard_households"].astype("int64").to_numpy(),
            "floor": compliance["mandatory_floor_households"].astype("int64").to_numpy(),
            "status": compliance["compliance_status"].astype(str).to_numpy(),
            "exemption": compliance["exemption_category"].astype(object).to_numpy(),
        }
    )
    nodes = nodes.sort_values(["commune", "code"], kind="stable").reset_index(drop=True)
    if measures is not None:
        m = measures.assign(hamlet_code=measures["hamlet_code"].astype(str))
        m = m.drop_duplicates("hamlet_code").set_index("hamlet_code")
        nodes["area"] = m["area_m2"].reindex(nodes["code"]).astype(float).to_numpy()
        nodes["perimeter"] = m["perimeter_m"].reindex(nodes["code"]).astype(float).to_numpy()
    index = pd.Index(nodes["code"])
    a = index.get_indexer(adjacency["hamlet_code"].astype(str))
    b = index.get_indexer(adjacency["neighbour_hamlet_code"].astype(str))
    shared = adjacency["shared_boundary_m"].astype(float).to_numpy()
    keep = (a >= 0) & (b >= 0) & (a != b)
    a, b, shared = a[keep], b[keep], shared[keep]
    commune = nodes["commune"].to_numpy()
    keep = commune[a] == commune[b]
    lo, hi = np.minimum(a[keep], b[keep]), np.maximum(a[keep], b[keep])
    edges = (
        pd.DataFrame({"a": lo, "b": hi, "shared_m": shared[keep]})
        .groupby(["a", "b"], as_index=False)["shared_m"]
        .max()
    )
    kind = nodes["kind"].to_numpy()
    edges["same_kind"] = kind[edges["a"].to_numpy()] == kind[edges["b"].to_numpy()]

    n = len(nodes)
    same = edges[edges["same_kind"]]
    cluster = components(n, same["a"].to_numpy(), same["b"].to_numpy())
    nodes["cluster"] = cluster
    nodes["cluster_hamlets"] = component_totals(cluster, np.ones(n, dtype=np.int64))
    nodes["cluster_households"] = component_totals(cluster, nodes["households"].to_numpy())
    nodes["kind_hamlets"] = nodes.groupby(["commune", "kind"])["code"].transform("size")
    touched = np.zeros(n, dtype=bool)
    touched[edges["a"].to_numpy()] = True
    touched[edges["b"].to_numpy()] = True
    nodes["has_neighbour"] = touched
    other = edges[~edges["same_kind"]]
    other_kinds = pd.concat(
        [
            pd.DataFrame({"v": other["a"], "k": kind[other["b"].to_numpy()]}),
            pd.DataFrame({"v": other["b"], "k": kind[other["a"].to_numpy()]}),
        ]
    ).drop_duplicates()
    labels = (
        other_kinds.assign(k=other_kinds["k"].map(HAMLET_KIND_LABELS_VI))
        .sort_values(["v", "k"])
        .groupby("v")["k"]
        .agg(", ".join)
    )
    nodes["other_kinds"] = labels.reindex(nodes.index).fillna("").to_numpy()
    return nodes, edges
