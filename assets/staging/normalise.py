"""Value normalisation shared by the staging tables (vectorised, no dagster)."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

import numpy as np
import pandas as pd

from expectations.schemas import header_key

# Local names of hamlets, longest first so "Tổ dân phố" wins over "Tổ".
HAMLET_PREFIXES: tuple[str, ...] = (
    "Tổ dân phố",
    "Khu phố",
    "Khối phố",
    "TDP",
    "Thôn",
    "Xóm",
    "Bản",
    "Làng",
    "Buôn",
    "Plei",
    "Plây",
    "Khóm",
    "Khối",
    "Sóc",
    "Ấp",
    "Tổ",
    "Khu",
)
_PREFIX_RE = re.compile(
    r"^\s*(?P<prefix>" + "|".join(re.escape(p) for p in HAMLET_PREFIXES) + r")\b\.?\s*"
    r"(?:số\s+)?(?P<name>.*)$",
    flags=re.IGNORECASE,
)
_CANONICAL_PREFIX = {header_key(p): p for p in HAMLET_PREFIXES} | {"tdp": "Tổ dân phố"}

HAMLET_KINDS = {
    "thon": "thon",
    "thon, xom, ban": "thon",
    "to dan pho": "to_dan_pho",
    "tdp": "to_dan_pho",
    "to_dan_pho": "to_dan_pho",
}
SEXES = {"nam": "nam", "m": "nam", "male": "nam", "nu": "nu", "f": "nu", "female": "nu"}
UNIT_KINDS = {"xa": "xa", "phuong": "phuong", "dac khu": "dac_khu", "dac_khu": "dac_khu"}


def by_distinct_value(function: Callable[[pd.Series], pd.Series]) -> Callable[..., pd.Series]:
    """Run a normaliser once per distinct value and spread the result back.

    A million person rows hold a few hundred distinct sexes, relations, ethnicities and
    birth dates; string work per distinct value instead of per row is what makes
    staging fast, and the result is the same.
    """

    @functools.wraps(function)
    def wrapper(values: pd.Series) -> pd.Series:
        codes, distinct = pd.factorize(values.astype("string"), use_na_sentinel=True)
        # Missing gets the last slot, so the function decides what missing becomes.
        candidates = pd.Series([*distinct, pd.NA], dtype="string")
        results = function(candidates).reset_index(drop=True)
        taken = results.take(np.where(codes < 0, len(distinct), codes))
        return taken.set_axis(values.index)

    return wrapper


@by_distinct_value
def clean_text(values: pd.Series) -> pd.Series:
    """NFC, trimmed, single-spaced text; empty strings become missing."""
    text = values.astype("string").str.normalize("NFC").str.strip()
    text = text.str.replace(r"\s+", " ", regex=True)
    return text.mask(text == "")


@by_distinct_value
def folded(values: pd.Series) -> pd.Series:
    """Lower-case, diacritic-free form used to match vocabularies."""
    text = clean_text(values)
    return text.map(header_key, na_action="ignore").astype("string")


def map_vocabulary(values: pd.Series, vocabulary: dict[str, str]) -> pd.Series:
    """Map free text onto a fixed vocabulary; unknown values become missing."""
    return folded(values).map(vocabulary).astype("string")


def split_hamlet_name(names: pd.Series) -> pd.DataFrame:
    """Split "Xóm Nà Rẻo" into prefix "Xóm" and name "Nà Rẻo"; unknown prefixes stay whole."""
    text = clean_text(names)
    parts = text.str.extract(_PREFIX_RE)
    has_prefix = parts["prefix"].notna() & parts["name"].fillna("").ne("")
    prefix = parts["prefix"].map(header_key, na_action="ignore").map(_CANONICAL_PREFIX)
    return pd.DataFrame(
        {
            "name_prefix": prefix.where(has_prefix).astype("string"),
            "hamlet_name": parts["name"].where(has_prefix, text).astype("string"),
        },
        index=names.index,
    )


_ROMAN = {"I": 1, "V": 5, "X": 10, "L": 50}


def roman_to_arabic(values: pd.Series) -> pd.Series:
    """Standalone Roman numerals (I to XXXIX, as in "Tổ dân phố III") become Arabic;
    Arabic numbers lose leading zeros ("05" -> "5"); other names are unchanged."""
    text = clean_text(values)
    # Upper case only: "Vi" or "Xi" may be a name, "VI" and "XI" are numbers.
    is_roman = text.str.fullmatch(r"X{0,3}(IX|IV|V?I{0,3})", na=False) & text.ne("")
    numerals = text[is_roman].map(_roman_value).astype("string")
    arabic = text.str.fullmatch(r"\d+", na=False)
    out = text.copy()
    out[is_roman] = numerals
    out[arabic] = text[arabic].str.lstrip("0").replace("", "0")
    return out


def _roman_value(numeral: str) -> str:
    total = 0
    for current, following in zip(numeral, [*numeral[1:], ""], strict=True):
        value = _ROMAN[current]
        total += -value if following and _ROMAN[following] > value else value
    return str(total)


@by_distinct_value
def person_name_case(values: pd.Series) -> pd.Series:
    """Trimmed, single-spaced, each word capitalised ("NGUYỄN  văn an" -> "Nguyễn Văn An")."""
    return clean_text(values).str.title()


def parse_int(values: pd.Series) -> pd.Series:
    """Counts such as "1.234" or "1,234" or "150"; anything else missing."""
    text = clean_text(values).str.replace(r"[.,\s](?=\d{3}\b)", "", regex=True)
    numbers = pd.to_numeric(text, errors="coerce")
    whole = numbers.where(np.isclose(numbers, np.round(numbers)))
    return whole.round().astype("Int64")


def parse_float(values: pd.Series) -> pd.Series:
    text = clean_text(values).str.replace(",", ".", regex=False)
    return pd.to_numeric(text, errors="coerce").astype("float64")
