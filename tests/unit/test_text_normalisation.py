"""``clean_text``'s Arrow shortcut for plain ASCII values gives what the definition
gives for every kind of value: NFC, trimmed, single-spaced, empty as missing."""

from __future__ import annotations

import random
import unicodedata

import pandas as pd
import pytest

from assets.staging.normalise import clean_text

PIECES = ["0", "12", "A", "x", ".", ",", "-", "/", " ", "  ", "\t", "\n", "\x1c", "\xa0",
          "\u3000", "\u2003", "Đ", "ê", "e\u0301", "Ư", "~", "!", "", "\x7f", "\x00"]  # fmt: skip


def _by_definition(value: str | None) -> str | None:
    if value is None:
        return None
    text = unicodedata.normalize("NFC", value).strip()
    text = pd.Series([text], dtype="string").str.replace(r"\s+", " ", regex=True).iloc[0]
    return text or None


@pytest.mark.parametrize("seed", range(10))
def test_clean_text_is_its_definition(seed: int) -> None:
    rng = random.Random(seed)
    values = [
        None if rng.random() < 0.05 else "".join(rng.choices(PIECES, k=rng.randint(0, 5)))
        for _ in range(400)
    ]
    got = clean_text(pd.Series(values, dtype="string", index=range(7, 407)))
    expected = pd.Series([_by_definition(v) for v in values], dtype="string", index=got.index)
    pd.testing.assert_series_equal(got, expected)
