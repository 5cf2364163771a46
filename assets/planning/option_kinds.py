"""The names of the merger options, one place for every module that tells them apart."""

from __future__ import annotations

MINIMAL = "minimal"  # merge only what falls below the standard
COMPLIANT = "compliant"  # every unit meets the standard, fewest units changed
CONSOLIDATED = "consolidated"  # as few units as the standard and the map allow
OPTIONS = (MINIMAL, COMPLIANT, CONSOLIDATED)
MANUAL = "manual"  # a planner's hand-edited assignment (``manual.plan_from_assignment``)
