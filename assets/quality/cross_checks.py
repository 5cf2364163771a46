"""Checks that span tables: every record must point at something that exists.

A household in a hamlet the registry does not know, or a person in a household that
was never declared, cannot be counted towards any hamlet; both are quarantined with a
reason so the data unit can fix the record rather than lose it.
"""

from __future__ import annotations

import pandas as pd

from assets.quality.issues import issue_rows


def household_location_issues(households: pd.DataFrame, hamlets: pd.DataFrame) -> pd.DataFrame:
    """Households whose hamlet code is not in the hamlet registry."""
    unknown = ~households["hamlet_code"].isin(hamlets["hamlet_code"])
    bad = households[unknown]
    return issue_rows(
        "staging.households",
        bad["record_id"],
        rule="unknown_hamlet_code",
        field_name="hamlet_code",
        message="hamlet_code is not in the hamlet registry; correct the code "
        "(Mã thôn/TDP không có trong danh sách thôn, TDP)",
        hamlet_code=bad["hamlet_code"],
    )


def person_household_issues(persons: pd.DataFrame, households: pd.DataFrame) -> pd.DataFrame:
    """Persons whose household is not declared in the households file."""
    unknown = persons["household_id"].notna() & ~persons["household_id"].isin(
        households["household_id"]
    )
    bad = persons[unknown]
    return issue_rows(
        "staging.persons",
        bad["record_id"],
        rule="unknown_household",
        field_name="household_id",
        message="household_id is not in the households file; add the household or "
        "correct the code (Mã hộ không có trong danh sách hộ)",
    )


def person_locations(
    persons: pd.DataFrame, households: pd.DataFrame, hamlets: pd.DataFrame
) -> dict[str, pd.Series]:
    """Commune and hamlet of each person record, through its household (for grouping)."""
    place = households[["household_id", "hamlet_code"]].drop_duplicates("household_id")
    place = place.merge(hamlets[["hamlet_code", "commune_code"]], on="hamlet_code", how="left")
    located = persons[["household_id"]].merge(place, on="household_id", how="left")
    located.index = persons.index
    return {
        "commune_code": located["commune_code"].astype("string"),
        "hamlet_code": located["hamlet_code"].astype("string"),
    }
