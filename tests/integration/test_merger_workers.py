"""The communes' searches in worker processes give the plans a serial run gives."""

from __future__ import annotations

import random

import pandas as pd
from planning_inputs import compliance_rows

from assets.planning import commune_solve
from assets.planning.options import plan_options
from assets.planning.rules import load_rules

ND185 = load_rules("nd185_2026")
TIMING = ["solve_seconds", "exact_seconds"]


def _province(communes: int, side: int = 5) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``communes`` grids of side × side hamlets, random sizes; every other commune
    has a special-case hamlet awaiting the province's guidance (its reading without
    special cases is searched too)."""
    rng = random.Random(22)
    compliance, adjacency = [], []
    for k in range(communes):
        commune = f"040{k + 1:02d}"
        code = [[f"{commune}{r}{c}" for c in range(side)] for r in range(side)]
        rows = [(code[r][c], rng.randint(10, 170)) for r in range(side) for c in range(side)]
        if k % 2:
            rows[0] = (*rows[0], "thon", "divided_terrain")
        compliance.append(compliance_rows(rows, commune=commune))
        pairs = [(code[r][c], code[r][c + 1]) for r in range(side) for c in range(side - 1)]
        pairs += [(code[r][c], code[r + 1][c]) for r in range(side - 1) for c in range(side)]
        length = [float(rng.randint(200, 1000)) for _ in pairs]
        adjacency += [(commune, a, b, m) for (a, b), m in zip(pairs, length, strict=True)]
        adjacency += [(commune, b, a, m) for (a, b), m in zip(pairs, length, strict=True)]
    columns = ["commune_code", "hamlet_code", "neighbour_hamlet_code", "shared_boundary_m"]
    return pd.concat(compliance, ignore_index=True), pd.DataFrame(adjacency, columns=columns)


def test_worker_processes_plan_what_a_serial_run_plans(monkeypatch) -> None:
    compliance, adjacency = _province(8)
    pools: list[tuple[int, str]] = []
    executor = commune_solve.ProcessPoolExecutor

    def counted(*args, **kwargs):
        pools.append((kwargs["max_workers"], kwargs["mp_context"].get_start_method()))
        return executor(*args, **kwargs)

    monkeypatch.setattr(commune_solve, "ProcessPoolExecutor", counted)
    monkeypatch.setattr(commune_solve, "MIN_PARALLEL_HAMLETS", 1)
    serial = plan_options(compliance, adjacency, ND185, workers=1)
    monkeypatch.setattr(commune_solve, "usable_cpus", lambda: 1)
    plan_options(compliance, adjacency, ND185, workers=2)
    assert pools == []  # one worker, or one CPU to run on: no pool
    monkeypatch.setattr(commune_solve, "usable_cpus", lambda: 2)
    parallel = plan_options(compliance, adjacency, ND185, workers=2)
    assert pools == [(1, "spawn")]  # one helper, for every option and reading; and this process
    pd.testing.assert_frame_equal(serial.assignments, parallel.assignments)
    pd.testing.assert_frame_equal(serial.units, parallel.units)
    pd.testing.assert_frame_equal(
        serial.summary.drop(columns=TIMING), parallel.summary.drop(columns=TIMING)
    )
    summary = parallel.summary
    assert summary["awaiting_guidance_hamlets"].gt(0).any()  # strict readings searched too
    assert (summary["units_after"] < summary["units_before"]).all()  # merges were searched
