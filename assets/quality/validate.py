"""Every record rule of the quality stage on staged tables, as one plain function.

The Dagster asset ``quality/record_issues`` calls :func:`quality_issues`; tests and the
benchmark call it directly on staged frames. Rule groups, in report order:

- the contracts (``record_checks.record_issues``): required, format, allowed values,
  ranges, keys;
- accepted-but-flagged values (``value_flags``): old 9-digit IDs, year-only birth dates;
- one record at a time (``person_rules``): citizen ID structure, birth date in the future;
- households (``households``): heads, relations, sizes, one ID in two places;
- across tables (``cross_checks``): unknown households and hamlet codes, household
  points outside their hamlet, registry figures against the records;
- probable duplicates (``duplicates``, Splink), when their clusters are given.
"""

from __future__ import annotations

import pandas as pd

from assets.quality.cross_checks import (
    hamlet_count_reconciliation,
    household_location_issues,
    household_point_issues,
    person_household_issues,
    person_locations,
    reconciliation_issues,
)
from assets.quality.duplicates import probable_duplicate_issues
from assets.quality.households import household_issues
from assets.quality.person_rules import birth_date_issues, citizen_id_issues
from assets.quality.record_checks import record_issues
from assets.quality.settings import QualitySettings
from assets.quality.value_flags import person_value_warnings
from expectations.schemas import TABLES


def quality_issues(
    persons: pd.DataFrame,
    households: pd.DataFrame,
    hamlets: pd.DataFrame,
    *,
    settings: QualitySettings | None = None,
    duplicates: pd.DataFrame | None = None,
    reconciliation: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """``quality.record_issues`` for one province's staged tables.

    ``reconciliation`` (``quality.hamlet_count_reconciliation``) is computed here when
    not given; ``duplicates`` (``quality.probable_duplicates``) adds a warning per
    record of a cluster when given.
    """
    settings = settings or QualitySettings()
    as_of = settings.reference_date
    locations = person_locations(persons, households, hamlets)
    if reconciliation is None:
        reconciliation = count_reconciliation(hamlets, households, persons, settings)
    frames = [
        record_issues(persons, TABLES["staging.persons"], context_columns=locations),
        person_value_warnings(persons, locations),
        citizen_id_issues(persons, locations, as_of=as_of),
        birth_date_issues(persons, locations, as_of=as_of),
        household_issues(
            persons,
            households,
            locations,
            as_of=as_of,
            head_min_age=settings.head_min_age,
            max_members=settings.max_household_members,
        ),
        person_household_issues(persons, households),
        record_issues(
            households,
            TABLES["staging.households"],
            context_columns={"hamlet_code": households["hamlet_code"]},
        ),
        household_location_issues(households, hamlets),
        household_point_issues(households, hamlets, tolerance_m=settings.point_tolerance_m),
        reconciliation_issues(
            reconciliation,
            tolerance_share=settings.count_tolerance_share,
            tolerance_abs=settings.count_tolerance_abs,
        ),
    ]
    if duplicates is not None:
        frames.append(probable_duplicate_issues(duplicates, persons, locations))
    found = [f for f in frames if len(f)]
    issues = pd.concat(found, ignore_index=True) if found else frames[0].iloc[0:0]
    # Group every issue by commune (police work commune by commune): household rows
    # carry only their hamlet code, whose commune the registry knows.
    commune_of = pd.Series(
        hamlets["commune_code"].astype("string").to_numpy(),
        index=hamlets["hamlet_code"].astype("string").to_numpy(),
    )
    issues["commune_code"] = issues["commune_code"].fillna(issues["hamlet_code"].map(commune_of))
    return TABLES["quality.record_issues"].enforce(issues)


def count_reconciliation(
    hamlets: pd.DataFrame,
    households: pd.DataFrame,
    persons: pd.DataFrame,
    settings: QualitySettings | None = None,
) -> pd.DataFrame:
    """``quality.hamlet_count_reconciliation`` under ``settings``' tolerance."""
    settings = settings or QualitySettings()
    return hamlet_count_reconciliation(
        hamlets,
        households,
        persons,
        tolerance_share=settings.count_tolerance_share,
        tolerance_abs=settings.count_tolerance_abs,
    )
