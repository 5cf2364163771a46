"""Household integrity: heads, relations, sizes, and one person in two places.

Rules and severities (errors quarantine the record; warnings leave it counted):

- ``household_no_head`` (warning): the household has no head. It still exists and is
  counted, so it does not quarantine. The issue goes to the members whose relation is
  blank (most likely the head whose relation was lost); if no relation is blank, to every
  member, since any of them may be the head. Members of a household number no
  household has are ``unknown_household`` (``cross_checks``) instead.
- ``household_several_heads`` (error): the first head listed is taken as the head; each
  later head is held back until the data unit confirms which member heads the household
  (a second head is often a second household recorded under one number).
- ``head_too_young`` (error): a head younger than ``head_min_age`` (15) at the extract
  date: usually a child recorded as head, or a wrong birth date.
- ``relation_implausible`` (warning): a child (Con) not younger than the head or the
  head's spouse, a parent (Bố/Mẹ) not older than the head, a grandchild (Cháu) not
  younger than the head. A birth date in the future or more than ``max_age_years``
  back is its own error and is not compared.
- ``household_too_large`` / ``household_without_members`` (warnings, on the household
  record): more members than ``max_household_members``; a household nobody lives in.
- ``person_in_two_households`` (error) / ``duplicate_value`` (error): the same citizen ID
  on records of two households, or twice in one. Both copies are held back: counting
  either could count the person in the wrong hamlet. The message names the other
  record and its household by record key and hamlet code, never by ID or name.

All rules are vectorised; the self-join of records sharing an ID touches only those.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from assets.quality.issues import issue_rows, located
from assets.quality.person_rules import MAX_AGE_YEARS
from assets.staging.normalise import relation_kinds  # one reading of relations, with staging
from expectations.citizen_id import as_of_timestamp
from expectations.household_rules import HEAD_MIN_AGE_YEARS, head_under_age, heads_per_household
from expectations.reference import CHILD, GRANDCHILD, PARENT, SPOUSE

PERSONS = "staging.persons"
HOUSEHOLDS = "staging.households"
NO_HEAD = "household_no_head"
SEVERAL_HEADS = "household_several_heads"
HEAD_TOO_YOUNG = "head_too_young"
RELATION_IMPLAUSIBLE = "relation_implausible"
TOO_LARGE = "household_too_large"
WITHOUT_MEMBERS = "household_without_members"
IN_TWO_HOUSEHOLDS = "person_in_two_households"
DUPLICATE_VALUE = "duplicate_value"  # the contract rule's name, for one household


def _head_issues(
    persons: pd.DataFrame,
    households: pd.DataFrame,
    locations: dict[str, pd.Series] | None,
    *,
    as_of: dt.date | str,
    head_min_age: int,
) -> list[pd.DataFrame]:
    household = persons["household_id"].astype("string")
    # A household number no household has is unknown_household: "no head" would send
    # the officer looking for a head of a household that does not exist.
    has_household = household.isin(households["household_id"].astype("string")).to_numpy(dtype=bool)
    head = persons["is_household_head"].astype("boolean").fillna(False)
    heads = heads_per_household(persons["household_id"], persons["is_household_head"])
    heads = heads.fillna(-1).to_numpy(dtype=np.int64)
    blank = persons["relation_to_head"].astype("string").str.strip().fillna("").eq("")
    blank_in_household = blank.groupby(household, dropna=False).transform("any")

    no_head = has_household & (heads == 0)
    targets = no_head & (blank.to_numpy(dtype=bool) | ~blank_in_household.to_numpy(dtype=bool))
    message = pd.Series(
        np.where(
            blank.to_numpy(dtype=bool)[targets],
            "the household has no head (chủ hộ) and this member's relation is blank; if "
            "this member is the head record 'Chủ hộ' (Hộ không có chủ hộ)",
            "the household has no head (chủ hộ); record which member is the head "
            "(Hộ không có chủ hộ)",
        ),
        dtype="string",
    )
    frames = [
        issue_rows(
            PERSONS,
            persons.loc[targets, "record_id"],
            rule=NO_HEAD,
            field_name="relation_to_head",
            severity="warning",
            message=message,
            **located(locations, targets),
        )
    ]

    # Several heads: the first listed stays head, the later ones are the issue.
    rank = head.astype("int64").groupby(household, dropna=False).cumsum().to_numpy()
    extra = has_household & head.to_numpy(dtype=bool) & (rank >= 2)
    first_head = (
        persons.loc[head.to_numpy(dtype=bool)]
        .groupby(household[head.to_numpy(dtype=bool)], sort=False)["record_id"]
        .first()
    )
    others = household[extra].map(first_head).astype("string")
    message = (
        "the household has "
        + pd.Series(heads[extra], dtype="string")
        + " heads; the first listed ("
        + others.reset_index(drop=True)
        + ") is kept as head: correct this member's relation (Hộ có nhiều chủ hộ)"
    )
    frames.append(
        issue_rows(
            PERSONS,
            persons.loc[extra, "record_id"],
            rule=SEVERAL_HEADS,
            field_name="relation_to_head",
            message=message,
            **located(locations, extra),
        )
    )

    young = head_under_age(
        persons["is_household_head"], persons["birth_date"], as_of=as_of, min_age=head_min_age
    ).to_numpy(dtype=bool)
    frames.append(
        issue_rows(
            PERSONS,
            persons.loc[young, "record_id"],
            rule=HEAD_TOO_YOUNG,
            field_name="relation_to_head",
            message=f"the head of household is younger than {head_min_age}; record the "
            "right head or correct the birth date (Chủ hộ chưa đủ "
            f"{head_min_age} tuổi)",
            **located(locations, young),
        )
    )
    return frames


def _relation_issues(
    persons: pd.DataFrame,
    locations: dict[str, pd.Series] | None,
    *,
    as_of: dt.date | str,
    max_age_years: int,
) -> pd.DataFrame:
    household = persons["household_id"].astype("string")
    births = pd.to_datetime(persons["birth_date"], errors="coerce")
    # Future or implausibly old dates are errors of their own (birth_date_future,
    # birth_date_too_old): the date is wrong, not the relation, so they are not judged.
    limit = as_of_timestamp(as_of)
    oldest = limit - pd.DateOffset(years=max_age_years)
    births = births.where((births <= limit) & (births >= oldest))
    kind = relation_kinds(persons["relation_to_head"])
    head = persons["is_household_head"].astype("boolean").fillna(False)
    # The reference head: the first listed, as for household_several_heads.
    head_birth = (
        births[head.to_numpy(dtype=bool)]
        .groupby(household[head.to_numpy(dtype=bool)], sort=False)
        .first()
    )
    spouse = kind.eq(SPOUSE).fillna(False).to_numpy(dtype=bool)
    youngest_spouse = births[spouse].groupby(household[spouse], sort=False).max()
    their_head = household.map(head_birth)
    their_spouse = household.map(youngest_spouse)
    not_head = ~head.to_numpy(dtype=bool)
    child = (
        kind.eq(CHILD).fillna(False).to_numpy(dtype=bool)
        & not_head
        & ((births <= their_head) | (births <= their_spouse)).fillna(False).to_numpy(dtype=bool)
    )
    parent = (
        kind.eq(PARENT).fillna(False).to_numpy(dtype=bool)
        & not_head
        & (births >= their_head).fillna(False).to_numpy(dtype=bool)
    )
    grandchild = (
        kind.eq(GRANDCHILD).fillna(False).to_numpy(dtype=bool)
        & not_head
        & (births <= their_head).fillna(False).to_numpy(dtype=bool)
    )
    mask = child | parent | grandchild
    what = np.where(
        child[mask],
        "a child (Con) is not younger than the head or the head's spouse",
        np.where(
            parent[mask],
            "a parent (Bố/Mẹ) is not older than the head",
            "a grandchild (Cháu) is not younger than the head",
        ),
    )
    message = pd.Series(what, dtype="string") + (
        "; check the relation to the head or the birth dates "
        "(Quan hệ với chủ hộ không hợp lý so với tuổi)"
    )
    return issue_rows(
        PERSONS,
        persons.loc[mask, "record_id"],
        rule=RELATION_IMPLAUSIBLE,
        field_name="relation_to_head",
        severity="warning",
        message=message,
        **located(locations, mask),
    )


def _size_issues(
    persons: pd.DataFrame, households: pd.DataFrame, *, max_members: int
) -> list[pd.DataFrame]:
    members = persons["household_id"].astype("string").value_counts()
    size = households["household_id"].astype("string").map(members).fillna(0).astype("int64")
    large = (size > max_members).to_numpy(dtype=bool)
    empty = (size == 0).to_numpy(dtype=bool)
    return [
        issue_rows(
            HOUSEHOLDS,
            households.loc[large, "record_id"],
            rule=TOO_LARGE,
            field_name="household_id",
            severity="warning",
            message="the household lists "
            + size[large].astype("string").reset_index(drop=True)
            + f" members, more than {max_members}; check for members who moved out or were "
            "entered twice (Hộ có số nhân khẩu bất thường)",
            hamlet_code=households.loc[large, "hamlet_code"],
        ),
        issue_rows(
            HOUSEHOLDS,
            households.loc[empty, "record_id"],
            rule=WITHOUT_MEMBERS,
            field_name="household_id",
            severity="warning",
            message="no person record belongs to this household; add its members or strike "
            "the household off (Hộ không có nhân khẩu)",
            hamlet_code=households.loc[empty, "hamlet_code"],
        ),
    ]


def citizen_id_duplicate_issues(
    persons: pd.DataFrame,
    households: pd.DataFrame,
    locations: dict[str, pd.Series] | None = None,
) -> pd.DataFrame:
    """Records sharing a citizen ID: ``person_in_two_households`` or ``duplicate_value``.

    Each record's message names one other record with the same ID (preferring one in
    another household) by record key, and that record's household by its household
    record key and hamlet code.
    """
    ids = persons["citizen_id"].astype("string")
    shared = (ids.notna() & ids.duplicated(keep=False)).to_numpy(dtype=bool)
    rows = pd.DataFrame(
        {
            "position": np.flatnonzero(shared),
            "citizen_id": ids[shared].to_numpy(),
            "record_id": persons.loc[shared, "record_id"].astype("string").to_numpy(),
            "household_id": persons.loc[shared, "household_id"].astype("string").to_numpy(),
        }
    )
    place = households.drop_duplicates("household_id").set_index("household_id")
    rows["household_record"] = rows["household_id"].map(place["record_id"]).astype("string")
    rows["hamlet"] = rows["household_id"].map(place["hamlet_code"]).astype("string")
    pairs = rows.merge(rows, on="citizen_id", suffixes=("", "_other"))
    pairs = pairs[pairs["position"] != pairs["position_other"]]
    pairs["same_household"] = pairs["household_id"].eq(pairs["household_id_other"]).fillna(False)
    # Per record: another household's record first, then by file order.
    pairs = pairs.sort_values(["position", "same_household", "position_other"], kind="stable")
    other = pairs.drop_duplicates("position").set_index("position")
    households_per_id = rows.groupby("citizen_id")["household_id"].nunique(dropna=False)
    several = rows["citizen_id"].map(households_per_id).gt(1).to_numpy(dtype=bool)
    rows = rows.join(
        other[["record_id_other", "household_record_other", "hamlet_other"]], on="position"
    )
    where = (
        " (household "
        + rows["household_record_other"].fillna("not in the households file")
        + ", hamlet "
        + rows["hamlet_other"].fillna("unknown")
        + ")"
    )
    message = pd.Series(
        np.where(
            several,
            "citizen_id is also recorded in another household, on "
            + rows["record_id_other"]
            + where
            + "; keep the person in the household they live in and strike off the other "
            "(Một người có tên trong hai hộ)",
            "citizen_id is entered twice in this household (also on "
            + rows["record_id_other"]
            + "); remove the double entry (Số ĐDCN bị trùng trong hộ)",
        ),
        dtype="string",
    )
    frames = []
    for rule, mask in ((IN_TWO_HOUSEHOLDS, several), (DUPLICATE_VALUE, ~several)):
        positions = rows["position"].to_numpy()[mask]
        selected = np.zeros(len(persons), dtype=bool)
        selected[positions] = True
        # positions are ascending, so selected rows and messages line up.
        frames.append(
            issue_rows(
                PERSONS,
                persons.loc[selected, "record_id"],
                rule=rule,
                field_name="citizen_id",
                message=message[mask].reset_index(drop=True),
                **located(locations, selected),
            )
        )
    return pd.concat(frames, ignore_index=True)


def household_issues(
    persons: pd.DataFrame,
    households: pd.DataFrame,
    locations: dict[str, pd.Series] | None = None,
    *,
    as_of: dt.date | str,
    head_min_age: int = HEAD_MIN_AGE_YEARS,
    max_members: int = 20,
    max_age_years: int = MAX_AGE_YEARS,
    shared_ids: bool = True,
) -> pd.DataFrame:
    """Every household integrity issue (see the module docstring), persons and households.

    ``shared_ids=False`` leaves out citizen IDs shared between records: for a batch of
    the province's households, where a shared ID may sit in another batch; those are
    judged once, on the records sharing an ID (``citizen_id_duplicate_issues``).
    """
    frames = [
        *_head_issues(persons, households, locations, as_of=as_of, head_min_age=head_min_age),
        _relation_issues(persons, locations, as_of=as_of, max_age_years=max_age_years),
        *_size_issues(persons, households, max_members=max_members),
    ]
    if shared_ids:
        frames.append(citizen_id_duplicate_issues(persons, households, locations))
    return pd.concat(frames, ignore_index=True)
