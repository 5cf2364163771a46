"""Thresholds of the quality stage, in one place.

Each is a judgement, not a legal figure, so each is configurable per run: a run takes
them from its ``run_settings`` resource (``assets.run_settings.RunSettings.quality``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from expectations.household_rules import HEAD_MIN_AGE_YEARS

# Above this share of quarantined person records, counts per hamlet are not published.
MAX_QUARANTINE_SHARE = 0.05


@dataclass(frozen=True)
class QualitySettings:
    """What the record rules compare against.

    ``as_of`` is the date of the population extract: birth dates after it are errors and
    ages are counted at it. None means today (UTC); set it to the extract date so that a
    re-run months later judges the same records the same way.
    """

    as_of: dt.date | None = None
    # Youngest plausible head of household, in completed years.
    head_min_age: int = HEAD_MIN_AGE_YEARS
    # A birth date more than this many years before ``as_of`` is an error.
    max_age_years: int = 120
    # More members than this in one household is flagged for checking (a warning).
    max_household_members: int = 20
    # Registry vs records, per hamlet: within when |counted - declared| <= max(abs, share
    # × declared). 7.5% absorbs households whose records still await correction (an
    # unknown hamlet code takes a household out of its hamlet's count); a stale or
    # mistyped registry figure is off by 10% or more.
    count_tolerance_share: float = 0.075
    count_tolerance_abs: int = 1
    # A household point this close to its hamlet (metres) counts as inside: GPS error and
    # boundary clean-up (staging.geometry_adjustments) move borders by a few tens of metres.
    point_tolerance_m: float = 50.0

    @property
    def reference_date(self) -> dt.date:
        return self.as_of or dt.datetime.now(dt.UTC).date()
