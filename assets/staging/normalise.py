"""Value normalisation shared by the staging tables (vectorised, no dagster)."""

from __future__ import annotations

import re

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


def clean_text(values: pd.Series) -> pd.Series:
    """NFC, trimmed, single-spaced text; empty strings become missing."""
    text = values.astype("string").str.normalize("NFC").str.strip()
    text = text.str.replace(r"\s+", " ", regex=True)
    return text.mask(text == "")


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


def parse_dates(values: pd.Series) -> pd.Series:
    """Dates written dd/mm/yyyy, yyyy-mm-dd or as Excel serial numbers; others missing."""
    text = clean_text(values)
    parsed = pd.to_datetime(text, format="%d/%m/%Y", errors="coerce")
    iso = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
    parsed = parsed.fillna(iso)
    serial = pd.to_numeric(text.where(text.str.fullmatch(r"\d{4,5}", na=False)), errors="coerce")
    from_serial = pd.to_datetime("1899-12-30") + pd.to_timedelta(serial, unit="D")
    return parsed.fillna(from_serial).astype("datetime64[ns]")


def parse_int(values: pd.Series) -> pd.Series:
    """Counts such as "1.234" or "1,234" or "150"; anything else missing."""
    text = clean_text(values).str.replace(r"[.,\s](?=\d{3}\b)", "", regex=True)
    numbers = pd.to_numeric(text, errors="coerce")
    whole = numbers.where(np.isclose(numbers, np.round(numbers)))
    return whole.round().astype("Int64")


def parse_float(values: pd.Series) -> pd.Series:
    text = clean_text(values).str.replace(",", ".", regex=False)
    return pd.to_numeric(text, errors="coerce").astype("float64")
