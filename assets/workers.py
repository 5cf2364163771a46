"""How many worker processes a step may usefully start: the stages that fan out per
commune (exports, the merger options) share one answer."""

from __future__ import annotations

import multiprocessing
import os


def usable_cpus() -> int:
    """CPUs this process may run on: workers beyond them only add their start-up."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def may_start_workers() -> bool:
    """Whether this process may start worker processes (a daemonic one, such as an
    executor's worker, may not)."""
    return not multiprocessing.current_process().daemon
