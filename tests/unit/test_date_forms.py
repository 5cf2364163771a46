"""Birth dates parsed once per distinct value across the slices of a staging read as
each slice parsed on its own."""

from __future__ import annotations

import datetime as dt
import random

import numpy as np
import pandas as pd
import pytest

from assets.staging.dates import DateForms, parse_date_forms, read_dates

AS_OF = dt.date(2026, 5, 31)


def _dates(rng: random.Random, n: int) -> list[str | None]:
    forms = [
        lambda d: d.strftime("%d/%m/%Y"),
        lambda d: d.strftime("%m/%d/%Y"),
        lambda d: d.strftime("%d-%m-%y"),
        lambda d: d.isoformat(),
        lambda d: f"ngày {d.day} tháng {d.month} năm {d.year}",
        lambda d: str(d.year),
        lambda d: f" {d.day}/{d.month}/{d.year} ",
    ]
    out: list[str | None] = []
    for _ in range(n):
        day = dt.date(1930, 1, 1) + dt.timedelta(days=rng.randint(0, 35_000))
        pick = rng.random()
        out.append(
            None
            if pick < 0.05
            else "không rõ"
            if pick < 0.08
            else "31/02/1990"
            if pick < 0.1
            else rng.choice(forms)(day)
        )
    return out


@pytest.mark.parametrize("limit", [1_000_000, 50, 0])
def test_date_forms_read_every_slice_as_parse_date_forms(limit: int) -> None:
    rng = random.Random(limit)
    forms = DateForms(AS_OF, limit=limit)
    for start in (0, 400, 800):  # slices of one file, with values repeated across them
        values = pd.Series(_dates(rng, 400), dtype="string", index=range(start, start + 400))
        pd.testing.assert_frame_equal(forms(values), parse_date_forms(values, AS_OF))
    empty = pd.Series([], dtype="string")
    pd.testing.assert_frame_equal(forms(empty), parse_date_forms(empty, AS_OF))


def test_dates_read_with_forms_of_another_day_are_refused() -> None:
    frame = pd.DataFrame(
        {
            "birth_date": pd.array(["05/03/1990"], dtype="string"),
            "source_file": ["persons.csv"],
            "source_row_number": np.array([1], dtype="int64"),
        }
    )
    with pytest.raises(ValueError, match="date forms read at"):
        read_dates(
            frame,
            "birth_date",
            table_name="staging.persons",
            as_of=AS_OF,
            forms=DateForms(AS_OF - dt.timedelta(days=1)),
        )
