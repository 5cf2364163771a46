"""Codes that a spreadsheet damaged, read back exactly or quarantined with the reason.

Excel turns a citizen ID, a household code or a hamlet/commune code into a number: its
leading zeros go (``40838880810`` for ``040838880810``), a float keeps ``.0``, a wide
number shows in scientific notation (``4.08388E+10``: the digits are gone), and codes
typed by hand carry spaces, no-break or zero-width spaces, or groups
(``004 083 880 810``). Every code column is read here, vectorised:

- what can be read exactly is: spaces and invisible characters dropped, group
  separators removed, a ``.0`` dropped, scientific notation expanded when it shows every
  digit; leading zeros restored only where the code's structure makes the padded form
  certain (a citizen ID's province prefix and century digit, a commune code in the
  communes file, a hamlet code whose prefix is its commune's code or that the registry
  lists);
- what cannot is quarantined with a reason saying what happened and what to do:
  scientific notation that lost digits, one ``.``/``,`` before three digits (a decimal
  mark or a thousands separator: which, no one can tell), a number with decimals;
- anything else is left as written for the quality stage's rules (a 9-digit old ID card
  number stays as it is; an 11-digit ID that pads to no province is a format error).

The stage functions count each recovery and quarantine per file and field
(``staging.value_readings``). Readings and reasons never quote a value: codes are
personal.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from assets.staging.readings import combine_readings, value_readings
from expectations.reference import CITIZEN_ID_PREFIXES
from expectations.schemas import FIELDS

# Zero-width space/joiners, word joiner, byte-order mark, soft hyphen: never part of a code.
INVISIBLE = "[\u200b\u200c\u200d\u2060\ufeff\u00ad]"
_SCIENTIFIC = r"(?P<whole>\d+)(?:[.,](?P<fraction>\d*))?[eE]\+(?P<exponent>\d{1,2})"
# Letters and digits, hyphen-joined: a code as typed, with nothing to read (the fast path).
_PLAIN = r"[0-9A-Za-z]+(?:-[0-9A-Za-z]+)*"
_PLAIN_ID = r"[0-9A-Za-z]+"
# Digits with marks (and, before this test, spaces): spaces inside carry no meaning.
_NUMBER_LIKE = r"\d[\d.,\-/]*"
_AMBIGUOUS = r"\d{1,3}[.,]\d{3}"
_ZERO_DECIMALS = r"(?P<integer>\d+)[.,]0+"
_DECIMALS = r"\d+[.,]\d+"
_THOUSANDS = r"\d{1,3}(?P<sep>[.,])\d{3}(?:(?P=sep)\d{3})+"
# A citizen ID typed in groups of any size: 004-083-880-810, 0040.8388.0810.
_ID_GROUPS = r"\d+(?:-\d+)+|\d+(?:\.\d+){2,}"
# Digit 4 of a citizen ID for births 1900-2099 (0/1: 1900s male/female, 2/3: 2000s).
_CENTURY_DIGITS = ("0", "1", "2", "3")

INVISIBLE_REMOVED = "invisible characters removed (zero-width space, BOM)"
SPACES_REMOVED = "spaces removed (typed in groups, or no-break spaces)"
GROUPS_REMOVED = "group separators removed"
EXPONENT_EXPANDED = "scientific notation with every digit shown, written out"
DECIMAL_ZERO_DROPPED = "trailing .0 dropped (saved as a number)"
ZEROS_RESTORED = "leading zeros restored (saved as a number)"


def scientific_reason(field_name: str) -> str:
    label = FIELDS[field_name].label_vi
    return (
        f"{field_name} shown in scientific notation: digits lost, re-export the column as "
        f"text ({label} hiển thị dạng số mũ, đã mất chữ số: xuất lại cột dưới dạng văn bản)"
    )


def ambiguous_reason(field_name: str) -> str:
    label = FIELDS[field_name].label_vi
    return (
        f"{field_name} has one '.' or ',' before three digits: a decimal mark or a "
        "thousands separator cannot be told apart, re-export the column as text "
        f"({label} có một dấu chấm/phẩy trước ba chữ số, không rõ là dấu thập phân hay "
        "dấu phân cách hàng nghìn: xuất lại cột dưới dạng văn bản)"
    )


def decimals_reason(field_name: str) -> str:
    label = FIELDS[field_name].label_vi
    return (
        f"{field_name} is a number with decimals, which no code has: correct it at the "
        f"source ({label} là số có phần thập phân: sửa lại tại nguồn)"
    )


@dataclass(frozen=True)
class CodeReading:
    """A code column as read: the codes to stage (missing where quarantined), what was
    done to each recovered code, and why each quarantined one cannot be read."""

    field_name: str
    codes: pd.Series
    recovered: pd.Series  # "; "-joined steps where the code was recovered, else missing
    problem: pd.Series  # the quarantine reason where the code cannot be read, else missing

    @property
    def quarantined(self) -> np.ndarray:
        return self.problem.notna().to_numpy(dtype=bool)

    def restored(self, mask: pd.Series, padded: pd.Series) -> CodeReading:
        """The codes of ``mask`` replaced by ``padded``, their leading zeros counted."""
        hit = mask.fillna(False).to_numpy(dtype=bool)
        return replace(
            self,
            codes=self.codes.where(~hit, padded),
            recovered=_with_step(self.recovered, hit, ZEROS_RESTORED),
        )

    def readings(self, table_name: str, rows: pd.DataFrame) -> pd.DataFrame:
        """``staging.value_readings`` rows: per file, recovered and quarantined counts by
        what happened (``rows`` aligned with the codes, with lineage)."""
        frames = []
        for outcome, labels in (("recovered", self.recovered), ("quarantined", self.problem)):
            for label in labels.dropna().unique():
                frames.append(
                    value_readings(
                        table_name,
                        rows,
                        labels.eq(label).fillna(False).to_numpy(dtype=bool),
                        field_name=self.field_name,
                        reading=str(label),
                        outcome=outcome,
                    )
                )
        return combine_readings(frames)


def _with_step(recovered: pd.Series, mask: np.ndarray, step: str) -> pd.Series:
    """``step`` appended to the recovery notes of the ``mask`` rows."""
    joined = (recovered + "; " + step).fillna(step)
    return recovered.where(~np.asarray(mask, dtype=bool), joined)


def read_code(values: pd.Series, field_name: str, *, id_groups: bool = False) -> CodeReading:
    """Read a code column exactly where its form shows what happened to it (see the
    module docstring); no leading zero is restored here. ``id_groups`` also reads
    groups of any size joined by ``-`` or ``.`` (a 12-digit ID typed in groups)."""
    text = values.astype("string")
    plain = text.str.fullmatch(_PLAIN_ID if id_groups else _PLAIN, na=False).to_numpy(dtype=bool)
    none = pd.Series(pd.NA, index=values.index, dtype="string")
    if plain.all():
        return CodeReading(field_name, text.copy(), none, none.copy())
    messy = _read_written(text[~plain], field_name, id_groups=id_groups)
    codes, recovered, problem = text.copy(), none.copy(), none.copy()
    for whole, part in (
        (codes, messy.codes),
        (recovered, messy.recovered),
        (problem, messy.problem),
    ):
        whole[~plain] = part.to_numpy()
    return CodeReading(field_name, codes, recovered, problem)


def _read_written(values: pd.Series, field_name: str, *, id_groups: bool) -> CodeReading:
    text = values.astype("string").str.normalize("NFC")
    invisible = text.str.contains(INVISIBLE, regex=True, na=False).to_numpy(dtype=bool)
    text = text.str.replace(INVISIBLE, "", regex=True).str.strip(" \t")
    squeezed = text.str.replace(r"\s+", "", regex=True)
    number_like = squeezed.str.fullmatch(_NUMBER_LIKE, na=False) | squeezed.str.fullmatch(
        _SCIENTIFIC, na=False
    )
    spaced = text.str.strip().str.replace(r"\s+", " ", regex=True)
    code = squeezed.where(number_like, spaced)
    code = code.mask(code.eq(""))
    spaces = code.ne(text).fillna(False).to_numpy(dtype=bool) & code.notna().to_numpy()

    problem = pd.Series(pd.NA, index=values.index, dtype="string")
    scientific = code.str.fullmatch(_SCIENTIFIC, na=False)
    exact = pd.Series(False, index=values.index)
    if scientific.any():
        parts = code[scientific].str.extract(_SCIENTIFIC)
        fraction = parts["fraction"].fillna("")
        exponent = parts["exponent"].astype(int)
        written = pd.Series(pd.NA, index=parts.index, dtype="string")
        for e in exponent.unique():  # a loop over the few exponents, never over rows
            at = exponent.eq(e)
            shown = fraction[at].str.len().ge(e) & fraction[at].str.slice(e).str.fullmatch("0*")
            digits = parts.loc[at, "whole"] + fraction[at].str.slice(0, e)
            written[at] = digits.where(shown)
        exact[written.index] = written.notna()
        code = code.where(~exact, written.reindex(code.index))
        problem = problem.mask(scientific & ~exact, scientific_reason(field_name))
    ambiguous = code.str.fullmatch(_AMBIGUOUS, na=False)
    problem = problem.mask(ambiguous, ambiguous_reason(field_name))
    zero_decimals = code.str.fullmatch(_ZERO_DECIMALS, na=False) & ~ambiguous
    code = code.where(~zero_decimals, code.str.extract(_ZERO_DECIMALS)["integer"])
    group_pattern = f"{_THOUSANDS}|{_ID_GROUPS}" if id_groups else _THOUSANDS
    groups = code.str.fullmatch(group_pattern, na=False)
    code = code.where(~groups, code.str.replace(r"[.,\-]", "", regex=True))
    decimals = code.str.fullmatch(_DECIMALS, na=False) & ~ambiguous & ~zero_decimals
    problem = problem.mask(decimals, decimals_reason(field_name))

    recovered = pd.Series(pd.NA, index=values.index, dtype="string")
    for mask, step in (
        (invisible, INVISIBLE_REMOVED),
        (spaces, SPACES_REMOVED),
        (groups.to_numpy(dtype=bool), GROUPS_REMOVED),
        (exact.to_numpy(dtype=bool), EXPONENT_EXPANDED),
        (zero_decimals.to_numpy(dtype=bool), DECIMAL_ZERO_DROPPED),
    ):
        recovered = _with_step(recovered, mask, step)
    quarantined = problem.notna()
    return CodeReading(
        field_name,
        code.mask(quarantined).astype("string"),
        recovered.mask(quarantined),
        problem,
    )


def citizen_ids(values: pd.Series) -> CodeReading:
    """Citizen IDs: a 10- or 11-digit number whose zero-padded 12 digits start with a
    province code (``0`` + a pre-2025 code) and a century digit for 1900-2099 lost its
    zeros to a spreadsheet (an ID's first digit is always 0, so no typo but a lost first
    zero gives such a number). A 9-digit old ID card number is left as it is."""
    read = read_code(values, "citizen_id", id_groups=True)
    lost = read.codes.str.fullmatch(r"[1-9]\d{9,10}", na=False)
    padded = read.codes[lost].str.zfill(12)
    province = padded.str.slice(0, 3).isin(CITIZEN_ID_PREFIXES)
    century = padded.str.slice(3, 4).isin(_CENTURY_DIGITS)
    restore = pd.Series(False, index=lost.index)
    restore[lost] = (province & century).to_numpy()
    return read.restored(restore, padded.reindex(lost.index))


def household_ids(values: pd.Series) -> CodeReading:
    """Household codes (``<hamlet code>-NNNN`` in the synthetic province; books numbered
    otherwise elsewhere): read exactly, with no leading zero guessed, since their length
    is not fixed."""
    return read_code(values, "household_id")


def commune_codes(values: pd.Series, known: Iterable[str] | None = None) -> CodeReading:
    """Commune codes are 5 digits: a shorter number is padded, and where the communes
    file is given (``known``) only to a code it lists."""
    read = read_code(values, "commune_code")
    padded = read.codes.str.zfill(5)
    lost = read.codes.str.fullmatch(r"[1-9]\d{0,3}", na=False)
    if known is not None:
        listed = pd.Index(pd.Series(list(known), dtype="string").dropna())
        lost &= padded.isin(listed) & ~read.codes.isin(listed)
    return read.restored(lost, padded)


def province_codes(values: pd.Series) -> CodeReading:
    """Province codes are 2 digits: a one-digit number (a numeric .dbf field, a
    spreadsheet) is padded."""
    read = read_code(values, "province_code")
    lost = read.codes.str.fullmatch(r"[1-9]", na=False)
    return read.restored(lost, read.codes.str.zfill(2))


def hamlet_codes(
    values: pd.Series,
    *,
    communes: pd.Series | None = None,
    known: Iterable[str] | None = None,
) -> CodeReading:
    """Hamlet codes: a number padded with as many zeros as its commune's code starts
    with, when that makes it start with the commune's code (``communes``, aligned), or
    padded to the one code of ``known`` (the registry's) it then equals."""
    read = read_code(values, "hamlet_code")
    code = read.codes
    lost = code.str.fullmatch(r"[1-9]\d*", na=False)
    if communes is not None:
        commune = communes.astype("string").set_axis(code.index)
        zeros = (commune.str.len() - commune.str.lstrip("0").str.len()).fillna(0).astype(int)
        padded = zeros.map({k: "0" * k for k in range(6)}).astype("string") + code
        fits = (
            commune.str.fullmatch(r"\d{5}", na=False)
            & padded.str.slice(0, 5).eq(commune).fillna(False)
            & padded.str.len().gt(5).fillna(False)
        )
        return read.restored(lost & zeros.gt(0) & fits, padded)
    if known is not None:
        listed = pd.Index(pd.Series(list(known), dtype="string").dropna())
        padded = pd.Series(pd.NA, index=code.index, dtype="string")
        matches = pd.Series(0, index=code.index)
        for k in range(1, 6):  # a loop over zero counts, never over rows
            candidate = "0" * k + code
            hit = lost & candidate.isin(listed)
            padded = padded.where(~hit, candidate)
            matches += hit.astype(int)
        return read.restored(lost & matches.eq(1) & ~code.isin(listed), padded)
    return read
