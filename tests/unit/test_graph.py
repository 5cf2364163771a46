"""The one traversal planning uses, in both its forms, against networkx."""

from __future__ import annotations

import random

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from planning_inputs import compliance_rows

from assets.planning.graph import (
    code_components,
    component_totals,
    components,
    hamlet_graph,
    mask_components,
    mask_reach,
)


def _lowest(graph: nx.Graph) -> dict[int, int]:
    return {v: min(comp) for comp in nx.connected_components(graph) for v in comp}


@pytest.mark.parametrize("seed", range(6))
def test_components_name_each_node_by_the_lowest_of_its_component(seed: int) -> None:
    graph = nx.gnp_random_graph(60, 0.03, seed=seed)
    edges = list(graph.edges())
    random.Random(seed).shuffle(edges)
    a = np.array([e[0] for e in edges], dtype=np.int64)
    b = np.array([e[1] for e in edges], dtype=np.int64)
    label = components(60, a, b)
    assert label.tolist() == [_lowest(graph)[v] for v in range(60)]
    values = np.arange(60, dtype=np.int64) * 7
    totals = component_totals(label, values)
    want = {min(c): sum(v * 7 for v in c) for c in nx.connected_components(graph)}
    assert totals.tolist() == [want[label[v]] for v in range(60)]


def test_components_without_edges_leave_every_node_alone() -> None:
    empty = np.array([], dtype=np.int64)
    assert components(4, empty, empty).tolist() == [0, 1, 2, 3]


def test_code_components_chain_pairs_to_their_lowest_code() -> None:
    pairs = [("d", "b"), ("b", "c"), ("x", "y"), ("e", "e")]
    assert code_components(pairs) == {
        "b": "b",
        "c": "b",
        "d": "b",
        "e": "e",
        "x": "x",
        "y": "x",
    }
    assert code_components([]) == {}


@pytest.mark.parametrize("seed", range(6))
def test_mask_components_match_the_induced_subgraph(seed: int) -> None:
    graph = nx.gnp_random_graph(30, 0.08, seed=seed)
    masks = [sum(1 << u for u in graph[v]) for v in range(30)]
    chosen = [v for v in range(30) if random.Random(seed * 31 + v).random() < 0.7]
    mask = sum(1 << v for v in chosen)
    got = [[v for v in range(30) if c >> v & 1] for c in mask_components(masks, mask)]
    want = sorted(sorted(c) for c in nx.connected_components(graph.subgraph(chosen)))
    assert got == want  # lowest node first, each sorted
    for comp in want:
        start = 1 << comp[-1]
        assert mask_reach(masks, start, mask) == sum(1 << v for v in comp)


def test_hamlet_graph_clusters_join_only_neighbours_of_one_kind_and_commune() -> None:
    compliance = compliance_rows(
        [("a", 40), ("b", 50), ("c", 60, "to_dan_pho"), ("d", 70), ("e", 80)]
    )
    adjacency = pd.DataFrame(
        {
            "commune_code": "04001",
            "hamlet_code": ["a", "b", "c", "d", "a"],
            "neighbour_hamlet_code": ["b", "c", "d", "e", "zz"],
            "shared_boundary_m": [10.0, 20.0, 30.0, 40.0, 5.0],
        }
    )
    nodes, edges = hamlet_graph(compliance, adjacency, None)
    cluster = dict(zip(nodes["code"], nodes["cluster"], strict=True))
    assert cluster["a"] == cluster["b"] != cluster["d"] == cluster["e"] != cluster["c"]
    totals = dict(zip(nodes["code"], nodes["cluster_households"], strict=True))
    assert totals == {"a": 90, "b": 90, "c": 60, "d": 150, "e": 150}
    assert nodes.set_index("code").at["c", "other_kinds"] == "thôn"
    assert len(edges) == 4  # the unknown neighbour is dropped
