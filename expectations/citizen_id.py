"""The citizen ID rules (``PPP G YY NNNNNN``), once, as vectorised pandas.

Both the Great Expectations custom expectation (``expectations.gx_custom``) and the
record rules of the quality stage (``assets.quality.person_rules``) call
:func:`citizen_id_findings`, so the suite's unexpected count and the issues listed per
record cannot disagree.

Only 12-digit IDs are checked. A 9-digit number is an old identity card (CMND) with no
such structure: it is accepted here (and flagged as a warning elsewhere). Any other
shape is a format error reported by the contract's pattern, not by these rules. A rule
that needs the sex or the birth date is skipped when that value is missing; the
century and year rules are also skipped when the birth date lies after ``as_of``,
because then the birth date, not the ID, is what is wrong (``birth_date_future``).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from expectations.reference import CITIZEN_ID_PREFIXES

PREFIX_UNKNOWN = "citizen_id_prefix_unknown"
CENTURY_SEX_MISMATCH = "citizen_id_century_sex_mismatch"
YEAR_MISMATCH = "citizen_id_year_mismatch"
RULES: tuple[str, ...] = (PREFIX_UNKNOWN, CENTURY_SEX_MISMATCH, YEAR_MISMATCH)

MALE, FEMALE = "nam", "nu"
_KNOWN_PREFIXES = np.array(sorted(int(p) for p in CITIZEN_ID_PREFIXES), dtype=np.int64)


def as_of_timestamp(as_of: dt.date | str | pd.Timestamp | None) -> pd.Timestamp | None:
    """``as_of`` as a day (no time, no zone); None stays None."""
    if as_of is None or as_of == "":
        return None
    return pd.Timestamp(as_of).tz_localize(None).normalize()


def citizen_id_findings(
    citizen_id: pd.Series,
    sex: pd.Series,
    birth_date: pd.Series,
    *,
    as_of: dt.date | str | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Per record, which citizen-ID rule it breaks: one boolean column per rule in RULES.

    Also returns ``century_wrong`` and ``sex_wrong``: which part of the G digit (century
    or sex) disagrees, for messages. Aligned on ``citizen_id``'s index.
    """
    text = citizen_id.astype("string")
    twelve = text.str.fullmatch(r"\d{12}").fillna(False).to_numpy(dtype=bool)
    number = np.zeros(len(text), dtype=np.int64)
    number[twelve] = text[twelve].astype("int64").to_numpy()
    prefix = number // 10**9
    g = (number // 10**8) % 10
    yy = (number // 10**6) % 100

    births = pd.to_datetime(birth_date, errors="coerce")
    year = births.dt.year.to_numpy(dtype="float64", na_value=np.nan)
    has_year = ~np.isnan(year)
    limit = as_of_timestamp(as_of)
    if limit is not None:
        has_year &= (births <= limit).fillna(False).to_numpy(dtype=bool)
    safe_year = np.where(has_year, year, 0).astype(np.int64)

    sex_text = sex.astype("string")
    male = sex_text.eq(MALE).fillna(False).to_numpy(dtype=bool)
    female = sex_text.eq(FEMALE).fillna(False).to_numpy(dtype=bool)

    prefix_unknown = twelve & ~np.isin(prefix, _KNOWN_PREFIXES)
    century_wrong = twelve & has_year & (safe_year // 100 != 19 + g // 2)
    sex_wrong = twelve & ((male & (g % 2 == 1)) | (female & (g % 2 == 0)))
    year_wrong = twelve & has_year & (safe_year % 100 != yy)
    return pd.DataFrame(
        {
            PREFIX_UNKNOWN: prefix_unknown,
            CENTURY_SEX_MISMATCH: century_wrong | sex_wrong,
            YEAR_MISMATCH: year_wrong,
            "century_wrong": century_wrong,
            "sex_wrong": sex_wrong,
        },
        index=citizen_id.index,
    )


def citizen_id_consistent(
    citizen_id: pd.Series,
    sex: pd.Series,
    birth_date: pd.Series,
    *,
    as_of: dt.date | str | pd.Timestamp | None = None,
) -> pd.Series:
    """True where the ID breaks none of RULES (the GX expectation's row condition)."""
    findings = citizen_id_findings(citizen_id, sex, birth_date, as_of=as_of)
    return ~findings[list(RULES)].any(axis=1)
