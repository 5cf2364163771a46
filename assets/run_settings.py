"""Run-wide settings: one Dagster resource, set once per run, read by every asset and
check that needs them.

The values a run judges by (the as-of date, the rules, the quality thresholds, the
publication limits, where files go) used to be op config repeated on several ops, so two
steps of one run could judge by different dates. Here they are one resource: the CLI and
the runner build it from ``pipelines.settings.Settings``, the launchpad and the weekly
schedule set it as the run's resource config. Stage functions keep taking plain values,
each built here by one method. Secrets (the hash key) and connections (the warehouse) are
resources of their own: a resource's config is shown in the UI.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import PrivateAttr

from assets.exports.location import Exports
from assets.marts.guard import DEFAULT_MAX_SHRINK_SHARE, PublishGuard
from assets.planning.rules import RulesProfile, load_rules
from assets.planning.settings import PlanningSettings
from assets.progress.records import day_in_vietnam
from assets.quality.batches import BATCH_PERSONS
from assets.quality.settings import MAX_QUARANTINE_SHARE, QualitySettings

RUN_SETTINGS = "run_settings"  # the resource's key in the Definitions
DEFAULT_EXPORTS_DIR = "data/exports"


def parse_as_of(text: str) -> dt.date:
    """An as-of date from its ISO text, or an error naming the setting."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"run_settings.as_of: {text!r} is not a date YYYY-MM-DD") from exc


class RunSettings(dg.ConfigurableResource):
    """What every step of one run judges by, set once for the run."""

    # The population extract's day (YYYY-MM-DD): birth dates after it are errors, ages and
    # two-digit birth years are counted at it, the progress report describes it. Empty:
    # the day in Vietnam the run was created, the same for every step of the run.
    as_of: str = ""
    rules_profile: str = ""  # empty: the rules file's default profile
    rules_override: str = ""  # a province's override file; empty: none
    exports_dir: str = DEFAULT_EXPORTS_DIR
    data_docs_dir: str = ""  # empty: restricted/data_docs beside the warehouse
    head_min_age: int = QualitySettings.head_min_age
    max_age_years: int = QualitySettings.max_age_years
    max_household_members: int = QualitySettings.max_household_members
    count_tolerance_share: float = QualitySettings.count_tolerance_share
    count_tolerance_abs: int = QualitySettings.count_tolerance_abs
    point_tolerance_m: float = QualitySettings.point_tolerance_m
    # Person records read at a time (whole communes; a larger commune alone).
    batch_persons: int = BATCH_PERSONS
    # Above this share of quarantined person records, hamlet counts are not published.
    max_quarantine_share: float = MAX_QUARANTINE_SHARE
    # Largest fall of a province's hamlets, households or persons that still publishes.
    max_shrink_share: float = DEFAULT_MAX_SHRINK_SHARE
    # CP-SAT deterministic seconds per commune and option; 0 = heuristic only.
    exact_time_limit_s: float = PlanningSettings.exact_time_limit_s

    _as_of_date: dt.date | None = PrivateAttr(default=None)
    _rules: RulesProfile | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """Resolve the date and read the rules once per run (per process): an empty
        ``as_of`` is the day the run was created, which every step process agrees on."""
        created = None
        if context.instance is not None and context.run_id:
            record = context.instance.get_run_record_by_id(context.run_id)
            created = record.create_timestamp if record is not None else None
        self._as_of_date = self.resolve_as_of(created)
        self._rules = self.load_rules()

    def resolve_as_of(self, created: dt.datetime | None = None) -> dt.date:
        """The as-of date, else the day in Vietnam at ``created`` (default: now)."""
        return parse_as_of(self.as_of) if self.as_of else day_in_vietnam(created)

    @property
    def as_of_date(self) -> dt.date:
        if self._as_of_date is None:  # used outside a run (tests, schedules)
            self._as_of_date = self.resolve_as_of()
        return self._as_of_date

    @property
    def rules(self) -> RulesProfile:
        if self._rules is None:
            self._rules = self.load_rules()
        return self._rules

    def load_rules(self) -> RulesProfile:
        """Read and validate the rules profile (the whole file and the override)."""
        override = Path(self.rules_override) if self.rules_override else None
        return load_rules(self.rules_profile or None, override_path=override)

    def check(self) -> None:
        """Refuse settings no run could use, before any run starts."""
        if self.as_of:
            parse_as_of(self.as_of)
        self.load_rules()
        self.publish_guard()

    def quality(self) -> QualitySettings:
        """The record rules' parameters for this run."""
        return QualitySettings(
            as_of=self.as_of_date,
            head_min_age=self.head_min_age,
            max_age_years=self.max_age_years,
            max_household_members=self.max_household_members,
            count_tolerance_share=self.count_tolerance_share,
            count_tolerance_abs=self.count_tolerance_abs,
            point_tolerance_m=self.point_tolerance_m,
        )

    def planning(self) -> PlanningSettings:
        return PlanningSettings(exact_time_limit_s=self.exact_time_limit_s)

    def publish_guard(self) -> PublishGuard:
        return PublishGuard(max_shrink_share=self.max_shrink_share)

    def exports(self) -> Exports:
        return Exports(Path(self.exports_dir))

    def run_config(self, **changes: Any) -> dict[str, Any]:
        """Run config setting this resource with ``changes``: a resource's run config
        replaces all of its values, so every field is given."""
        values = {name: getattr(self, name) for name in type(self).model_fields}
        return {"resources": {RUN_SETTINGS: {"config": values | changes}}}
