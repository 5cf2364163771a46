"""Birth-year bands of the duplicate prediction: whole consecutive years, bounded size."""

from __future__ import annotations

import pandas as pd

from assets.quality.duplicates import birth_year_bands


def test_bands_hold_whole_consecutive_years_of_about_the_size_asked():
    years = pd.Series([1990] * 3 + [1991] * 3 + [1992] * 7 + [1993] + [1994] * 2, dtype="Int64")
    bands = birth_year_bands(years.sample(frac=1.0, random_state=3), 4).sort_index()
    by_year = bands.groupby(years).unique()
    assert (by_year.map(len) == 1).all()  # a year is never split
    assert list(by_year.map(lambda b: int(b[0]))) == [0, 0, 1, 2, 2]  # in year order, 0, 1…
    assert bands.value_counts().sort_index().to_list() == [6, 7, 3]  # 1992 is a band alone


def test_a_record_without_a_birth_year_is_in_no_band():
    years = pd.Series([1990, pd.NA, 1991], dtype="Int64")
    bands = birth_year_bands(years, 10)
    assert bands.isna().to_list() == [False, True, False]
    assert bands.dropna().nunique() == 1
    assert birth_year_bands(pd.Series([], dtype="Int64"), 10).empty
