"""Every record rule of the quality stage on staged tables, as plain functions.

:func:`quality_issues` runs them all on frames held in memory (tests, the benchmark).
The Dagster asset ``quality/record_issues`` runs the same parts commune by commune
(``assets.quality.batches``), so a large province's persons are never all in memory.
Rule groups:

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
    hamlet_kind_issues,
    household_location_issues,
    household_point_issues,
    person_household_issues,
    person_locations,
    reconciliation_issues,
)
from assets.quality.duplicates import probable_duplicate_issues
from assets.quality.households import citizen_id_duplicate_issues, household_issues
from assets.quality.person_rules import (
    birth_date_issues,
    citizen_id_issues,
    invalid_value_issues,
    invalid_values,
    without_missing_where_invalid,
)
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
    communes: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """``quality.record_issues`` for one province's staged tables, held whole in memory.

    ``reconciliation`` (``quality.hamlet_count_reconciliation``) is computed here when
    not given; ``duplicates`` (``quality.probable_duplicates``) adds a warning per
    record of a cluster when given. The pipeline gets the same issues commune by
    commune (``assets.quality.batches``) from the parts below.
    """
    settings = settings or QualitySettings()
    if reconciliation is None:
        reconciliation = count_reconciliation(hamlets, households, persons, settings)
    frames = [
        person_issues(persons, households, hamlets, settings),
        shared_key_issues(persons, households, hamlets),
        household_table_issues(households, hamlets, settings, reconciliation, communes),
    ]
    if duplicates is not None:
        frames.append(duplicate_cluster_issues(duplicates, persons, households, hamlets))
    return finish_issues(frames, hamlets)


def person_issues(
    persons: pd.DataFrame,
    households: pd.DataFrame,
    hamlets: pd.DataFrame,
    settings: QualitySettings,
) -> pd.DataFrame:
    """Rules on one record, or on the records of one household: ``persons`` may be a
    batch of whole households (with those households) instead of the province."""
    as_of = settings.reference_date
    locations = person_locations(persons, households, hamlets)
    return _concat(
        [
            without_missing_where_invalid(
                record_issues(
                    persons, TABLES["staging.persons"], context_columns=locations, checks="fields"
                ),
                invalid_values(persons),
            ),
            invalid_value_issues(persons, locations),
            person_value_warnings(persons, locations),
            citizen_id_issues(persons, locations, as_of=as_of),
            birth_date_issues(
                persons, locations, as_of=as_of, max_age_years=settings.max_age_years
            ),
            household_issues(
                persons,
                households,
                locations,
                as_of=as_of,
                head_min_age=settings.head_min_age,
                max_members=settings.max_household_members,
                max_age_years=settings.max_age_years,
                shared_ids=False,
            ),
            person_household_issues(persons, households),
        ]
    )


def shared_key_issues(
    persons: pd.DataFrame, households: pd.DataFrame, hamlets: pd.DataFrame
) -> pd.DataFrame:
    """Record keys and citizen IDs shared between records, across the province.

    Only records sharing a ``record_id`` or a ``citizen_id`` with another can break
    these rules, so ``persons`` may be just those records (with every household).
    """
    locations = person_locations(persons, households, hamlets)
    return _concat(
        [
            record_issues(
                persons, TABLES["staging.persons"], context_columns=locations, checks="keys"
            ),
            citizen_id_duplicate_issues(persons, households, locations),
        ]
    )


def duplicate_cluster_issues(
    duplicates: pd.DataFrame,
    persons: pd.DataFrame,
    households: pd.DataFrame,
    hamlets: pd.DataFrame,
) -> pd.DataFrame:
    """A warning per record of a probable duplicate cluster; ``persons`` may be just
    the clusters' records."""
    locations = person_locations(persons, households, hamlets)
    return probable_duplicate_issues(duplicates, persons, locations)


def household_table_issues(
    households: pd.DataFrame,
    hamlets: pd.DataFrame,
    settings: QualitySettings,
    reconciliation: pd.DataFrame,
    communes: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Rules on household records and on the registry's figures and kinds (no person
    records); the kinds are checked against ``communes`` when given."""
    return _concat(
        [
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
            hamlet_kind_issues(hamlets, communes),
        ]
    )


def finish_issues(frames: list[pd.DataFrame], hamlets: pd.DataFrame) -> pd.DataFrame:
    """The parts as one ``quality.record_issues``: each issue grouped by commune, and a
    record whose key recurs across batches reported once per rule and field."""
    issues = _concat(frames)
    # Police work commune by commune: household rows carry only their hamlet code,
    # whose commune the registry knows.
    commune_of = pd.Series(
        hamlets["commune_code"].astype("string").to_numpy(),
        index=hamlets["hamlet_code"].astype("string").to_numpy(),
    )
    issues["commune_code"] = issues["commune_code"].fillna(issues["hamlet_code"].map(commune_of))
    issues = issues.drop_duplicates(["table_name", "record_id", "rule", "field_name"])
    return TABLES["quality.record_issues"].enforce(issues.reset_index(drop=True))


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    found = [f for f in frames if len(f)]
    return pd.concat(found, ignore_index=True) if found else frames[0].iloc[0:0].copy()


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
