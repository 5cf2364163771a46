"""How hard the planner works: not law, so not in the rules file."""

from dataclasses import dataclass


@dataclass(frozen=True)
class PlanningSettings:
    # CP-SAT deterministic seconds per commune and option; 0 = heuristic only.
    exact_time_limit_s: float = 2.0
    # Processes for the communes' searches (no more than the usable CPUs; 1 = here).
    workers: int = 2
