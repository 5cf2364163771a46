"""Household rules on person records, once, as vectorised pandas.

The persons suite (custom expectations in ``expectations.gx_custom``) and the record
rules (``assets.quality.households``) both call these, so the suite's counts and the
issues listed per record come from one implementation.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from expectations.citizen_id import as_of_timestamp

# Youngest plausible head of household (chủ hộ), in completed years; configurable.
HEAD_MIN_AGE_YEARS = 15


def heads_per_household(household_id: pd.Series, is_head: pd.Series) -> pd.Series:
    """Per record: how many heads its household has (NA where household_id is missing)."""
    heads = is_head.astype("boolean").fillna(False).astype("int64")
    counts = heads.groupby(household_id.astype("string"), dropna=True).transform("sum")
    return counts.reindex(household_id.index).astype("Int64")


def household_has_one_head(household_id: pd.Series, is_head: pd.Series) -> pd.Series:
    """True where the record's household has exactly one head, or it has no household."""
    counts = heads_per_household(household_id, is_head)
    return counts.eq(1).fillna(True).astype(bool)


def age_in_years(birth_date: pd.Series, as_of: dt.date | str | pd.Timestamp) -> pd.Series:
    """Completed years at ``as_of`` (float, NaN where the birth date is missing)."""
    limit = as_of_timestamp(as_of)
    assert limit is not None
    births = pd.to_datetime(birth_date, errors="coerce")
    year = births.dt.year.to_numpy(dtype="float64", na_value=np.nan)
    month_day = (births.dt.month * 100 + births.dt.day).to_numpy(dtype="float64", na_value=np.nan)
    before_birthday = month_day > limit.month * 100 + limit.day
    age = limit.year - year - before_birthday.astype("float64")
    return pd.Series(age, index=birth_date.index, dtype="float64")


def head_under_age(
    is_head: pd.Series,
    birth_date: pd.Series,
    *,
    as_of: dt.date | str | pd.Timestamp,
    min_age: int = HEAD_MIN_AGE_YEARS,
) -> pd.Series:
    """True for heads younger than ``min_age`` at ``as_of``.

    A birth date after ``as_of`` is not judged: that date is wrong, not the head.
    """
    age = age_in_years(birth_date, as_of)
    head = is_head.astype("boolean").fillna(False).to_numpy(dtype=bool)
    return pd.Series(head & (age.to_numpy() < min_age) & (age.to_numpy() >= 0), index=age.index)
