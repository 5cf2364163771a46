"""A text column takes text or nothing: a number in an ID column is refused (it would have
lost its leading zeros), whatever else the column holds, and the refusal names the row
without the value."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from expectations.schemas import TABLES, SchemaError

COMMUNES = TABLES["staging.communes"]


def _frame(codes: list[object]) -> pd.DataFrame:
    frame = pd.DataFrame(
        {c: pd.Series([None] * len(codes), dtype=object) for c in COMMUNES.columns}
    )
    frame["commune_code"] = pd.Series(codes, dtype=object)
    return frame


@pytest.mark.parametrize(
    "codes",
    [[4042, "04045"], ["04045", 4042.0], [b"04042"], ["04045", None, 4042], [True]],
)
def test_a_value_that_is_not_text_is_refused_naming_its_position(codes):
    with pytest.raises(SchemaError, match=r"commune_code: cannot cast to string") as error:
        COMMUNES.enforce(_frame(codes))
    position = next(i for i, v in enumerate(codes) if v is not None and not isinstance(v, str))
    assert f"position {position + 1} of the rows written" in str(error.value)
    assert "4042" not in str(error.value)


@pytest.mark.parametrize(
    "codes",
    [
        ["04042", None, np.nan, pd.NA],
        [None, None],
        [],
        [np.str_("04042"), "04045"],
        pd.Categorical(["04042", None, "04045"]),
        pd.Series([np.nan, np.nan], dtype="float64"),
    ],
)
def test_text_and_missing_values_are_kept_as_text(codes):
    frame = _frame(list(codes))
    frame["commune_code"] = pd.Series(codes, index=frame.index)  # its own dtype
    codes = list(codes)
    out = COMMUNES.enforce(frame)
    assert out["commune_code"].dtype == pd.StringDtype()
    texts = [str(v) for v in codes if isinstance(v, str)]
    assert out["commune_code"].dropna().tolist() == texts
