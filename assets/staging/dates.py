"""Dates as offices write them, and each file's day/month order read from its evidence.

Forms read (case, diacritics and spacing ignored):

- ``d/m/yyyy``, ``dd-mm-yyyy``, ``dd.mm.yyyy``, padded or not, ``d/m/yy``; a trailing
  time (`` 00:00:00``, ``14:30``, ``12:00:00 AM``) is dropped;
- ISO ``yyyy-mm-dd`` (what the workbook reader gives for a date cell), with or without
  a time; the order is fixed by the form;
- Vietnamese words: ``ngày 05 tháng 3 năm 1990`` and ``ngày 5/3/1990`` (day first by
  the word "ngày");
- Excel serial day numbers (five digits: 1973 to 2173);
- partial dates, stored at the start of what is known and flagged as partial: a bare
  year (``1990``, ``năm 1990``; 1880 to 2100) as 1 January, month and year
  (``tháng 3 năm 1990``, ``3/1990``) as the 1st of the month.

A two-digit year goes to the latest century that puts the date on or before the
as-of date (the extract date): no birth is read into the future.

``05/03/1990`` is 5 March in Vietnam and 3 May on a PC with US settings. A value whose
first number cannot be a month (``25/03/1990``) proves its file writes day-first, one
whose second number cannot be (``03/25/1990``) proves month-first. The order is decided
per file from these proofs; a file pasted together from several sources (one commune's
block month-first among day-first ones) is cut into blocks, each a run of at least
``MIN_BLOCK_PROOFS`` proofs of one order, and each block's order is applied to its
ambiguous values. Persons carry no commune or hamlet code, so blocks are runs of rows.

No day and month are swapped silently (``staging.value_readings`` counts each kind):

- values read month-first in a proven month-first block or file: ``recovered``;
- a value that can only be read in the order opposite to its block's (a slip among
  proven dates) is not swapped: it stays missing (``quarantined``), so the record gets
  the one rule for unreadable birth dates (``required_missing``);
- ambiguous values where no order is proven (a file with no proof, or the rows between
  two blocks of different order) are read day-first, the legal form, and flagged
  (``warned``; the quality stage raises ``birth_date_order_unproven`` on the record);
- values that are no date at all stay missing (``quarantined``).
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from assets.staging.normalise import by_distinct_value, clean_text
from assets.staging.readings import combine_readings, value_readings
from expectations.schemas import strip_diacritics

DAY_FIRST = "day-first"
MONTH_FIRST = "month-first"
UNPROVEN = "unproven"
# Fewer proofs in a row than this among proofs of the other order are slips, not a
# block: a block pasted from another source holds a household or more.
MIN_BLOCK_PROOFS = 3
YEAR_ONLY_RANGE = (1880, 2100)
EXCEL_EPOCH = pd.Timestamp("1899-12-30")

_TIME = r"(?:(?:\s+|t)\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:\s*[ap]\.?m\.?)?)?"
_SEP = r"\s*[/.-]\s*"
_DAY, _MONTH = r"(?P<day>\d{1,2})", r"(?P<month>\d{1,2})"
_YEAR4, _YEAR = r"(?P<year>\d{4})", r"(?P<year>\d{4}|\d{2})"
# Forms whose order the form itself fixes, tried in this order.
_FIXED_FORMS: dict[str, str] = {
    "iso": rf"{_YEAR4}{_SEP}{_MONTH}{_SEP}{_DAY}{_TIME}",
    "words": rf"ngay\s*{_DAY}\s*,?\s*thang\s*{_MONTH}\s*,?\s*nam\s*{_YEAR4}",
    "words_numeric": rf"ngay\s*{_DAY}{_SEP}{_MONTH}{_SEP}{_YEAR}{_TIME}",
    "month_year": rf"(?:thang\s*)?{_MONTH}(?:{_SEP}|\s*,?\s*nam\s*){_YEAR4}",
    "year": rf"(?:nam\s*)?{_YEAR4}",
}
# Day and month in either order: decided by evidence.
_NUMERIC = rf"(?P<first>\d{{1,2}}){_SEP}(?P<second>\d{{1,2}}){_SEP}{_YEAR}{_TIME}"
_SERIAL = r"(?P<serial>\d{5})"


def reference_date(as_of: dt.date | None) -> dt.date:
    """The as-of date, today (UTC) when none is set (as ``QualitySettings``)."""
    return as_of or dt.datetime.now(dt.UTC).date()


def _assemble(year: pd.Series, month: pd.Series, day: pd.Series) -> pd.Series:
    """Dates from parts; impossible ones (31/02, month 13) and missing parts are NaT."""
    text = (
        year.astype("Int64").astype("string").str.zfill(4)
        + "-"
        + month.astype("Int64").astype("string").str.zfill(2)
        + "-"
        + day.astype("Int64").astype("string").str.zfill(2)
    )
    return pd.to_datetime(text, format="%Y-%m-%d", errors="coerce").astype("datetime64[ns]")


def _dated(
    year: pd.Series, month: pd.Series, day: pd.Series, two_digit: pd.Series, as_of: dt.date
) -> pd.Series:
    """A two-digit year in the latest century that puts the date on or before ``as_of``."""
    century = as_of.year // 100 * 100
    full = year.where(~two_digit, year + century)
    date = _assemble(full, month, day)
    too_late = two_digit & ~(date <= pd.Timestamp(as_of)).fillna(False)
    return date.where(~too_late, _assemble(full - 100, month, day))


def _parse(values: pd.Series, as_of: dt.date) -> pd.DataFrame:
    """Per value: its form, its date read day-first and read month-first (the same
    when the form fixes the order), and whether its year had two digits."""
    text = clean_text(values)
    folded = text.map(strip_diacritics, na_action="ignore").astype("string").str.lower()
    columns = ("day", "month", "year", "first", "second", "serial", "year_digits")
    parts = pd.DataFrame(
        {c: pd.array([pd.NA] * len(text), dtype="Int64") for c in columns}, index=text.index
    )
    parts.insert(0, "form", pd.array([pd.NA] * len(text), dtype="string"))
    forms = {**_FIXED_FORMS, "numeric": _NUMERIC, "serial": _SERIAL}
    for form, pattern in forms.items():
        todo = parts["form"].isna() & folded.notna()
        found = folded[todo].str.extract(f"^{pattern}$")
        hit = found.notna().any(axis=1)
        if not hit.any():
            continue
        found = found[hit]
        parts.loc[found.index, "form"] = form
        for column in found.columns:
            parts.loc[found.index, column] = pd.to_numeric(found[column]).astype("Int64")
        if "year" in found:
            parts.loc[found.index, "year_digits"] = found["year"].str.len().astype("Int64")
    form = parts["form"]
    year = parts["year"]
    two_digit = parts["year_digits"].eq(2).fillna(False).astype(bool)
    one = pd.Series(1, index=parts.index, dtype="Int64")
    fixed_day = parts["day"].mask(form.isin(["year", "month_year"]), one)
    fixed_month = parts["month"].mask(form.eq("year"), one)
    year = year.mask(form.eq("year") & ~year.between(*YEAR_ONLY_RANGE).fillna(False))
    fixed = _dated(year, fixed_month, fixed_day, two_digit, as_of)
    numeric = form.eq("numeric").fillna(False).to_numpy()
    day_first = _dated(year, parts["second"], parts["first"], two_digit, as_of)
    month_first = _dated(year, parts["first"], parts["second"], two_digit, as_of)
    serial = pd.Series(pd.NaT, index=parts.index, dtype="datetime64[ns]")
    days = parts["serial"].dropna().astype("int64")
    serial[days.index] = EXCEL_EPOCH + pd.to_timedelta(days, unit="D")
    is_serial = form.eq("serial").fillna(False).to_numpy()
    out = pd.DataFrame(
        {
            "form": form,
            "day_first": fixed.where(~numeric, day_first).where(~is_serial, serial),
            "month_first": fixed.where(~numeric, month_first).where(~is_serial, serial),
            "two_digit_year": two_digit,
        },
        index=parts.index,
    )
    return out.astype({"day_first": "datetime64[ns]", "month_first": "datetime64[ns]"})


def parse_date_forms(values: pd.Series, as_of: dt.date | None = None) -> pd.DataFrame:
    """``_parse`` once per distinct value, plus the order evidence each value carries:
    ``evidence`` is day-first or month-first for a value readable only one way,
    ``ambiguous`` True for one readable both ways as two different dates."""
    parsed = by_distinct_value(functools.partial(_parse, as_of=reference_date(as_of)))(values)
    numeric = parsed["form"].eq("numeric").fillna(False)
    dmy, mdy = parsed["day_first"].notna(), parsed["month_first"].notna()
    parsed["evidence"] = pd.Series(
        np.select(
            [numeric & dmy & ~mdy, numeric & mdy & ~dmy], [DAY_FIRST, MONTH_FIRST], default=None
        ),
        index=parsed.index,
        dtype="string",
    )
    parsed["ambiguous"] = numeric & dmy & mdy & parsed["day_first"].ne(parsed["month_first"])
    return parsed


def parse_dates(values: pd.Series, as_of: dt.date | None = None) -> pd.Series:
    """Each value read alone (no file to show an order): day-first, the legal form; a
    value readable only month-first is not swapped but missing, as is anything else
    that is not a date. Partial dates at the start of what they give."""
    return parse_date_forms(values, as_of)["day_first"]


def order_evidence(frame: pd.DataFrame, column: str, as_of: dt.date | None = None) -> pd.DataFrame:
    """The rows of ``frame`` (with lineage) whose ``column`` proves an order."""
    evidence = parse_date_forms(frame[column], as_of)["evidence"]
    proven = evidence.notna().to_numpy()
    return pd.DataFrame(
        {
            "source_file": frame["source_file"].to_numpy()[proven],
            "source_row_number": frame["source_row_number"].to_numpy(dtype="int64")[proven],
            "evidence": evidence.to_numpy()[proven],
        }
    )


@dataclass(frozen=True)
class DateOrders:
    """Each file's segments of rows, in row order, with the day/month order of each.

    ``segments``: source_file, start_row (a segment runs to the next one's start),
    order (day-first, month-first or unproven), kind (file, block, none, mixed, gap),
    proofs (of the segment's order) and first_row/last_row (of those proofs; for a gap,
    the proofs around it).
    """

    segments: pd.DataFrame

    @classmethod
    def from_evidence(cls, evidence: pd.DataFrame) -> DateOrders:
        rows = []
        ordered = evidence.sort_values(["source_file", "source_row_number"], kind="stable")
        for source_file, group in ordered.groupby("source_file", sort=True):
            for segment in _file_segments(
                group["source_row_number"].to_numpy(dtype="int64"),
                group["evidence"].eq(MONTH_FIRST).to_numpy(dtype=bool),
            ):
                rows.append({"source_file": source_file, **segment})
        columns = ["source_file", "start_row", "order", "kind", "proofs", "first_row", "last_row"]
        return cls(pd.DataFrame(rows, columns=columns))

    @classmethod
    def of(cls, frame: pd.DataFrame, column: str, as_of: dt.date | None = None) -> DateOrders:
        """The orders of the files in ``frame`` (whole files), from their own values."""
        return cls.from_evidence(order_evidence(frame, column, as_of))

    def segment_of(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Each row's segment (a file without any proof is one unproven segment)."""
        known = self.segments
        found = np.full(len(frame), -1, dtype="int64")
        files = frame["source_file"].to_numpy()
        row_numbers = frame["source_row_number"].to_numpy(dtype="int64")
        for source_file, group in known.groupby("source_file", sort=False):
            here = np.flatnonzero(files == source_file)
            starts = group["start_row"].to_numpy(dtype="int64")
            position = np.searchsorted(starts, row_numbers[here], side="right") - 1
            found[here] = group.index.to_numpy()[np.maximum(position, 0)]
        none = pd.DataFrame(
            [{"order": UNPROVEN, "kind": "none", "proofs": 0, "first_row": 0, "last_row": 0}]
        )
        table = pd.concat([known.drop(columns=["source_file", "start_row"]), none])
        table = table.reset_index(drop=True)
        picked = table.take(np.where(found < 0, len(table) - 1, found))
        return picked.assign(segment=np.where(found < 0, -1, found)).set_axis(frame.index)


def _file_segments(rows: np.ndarray, month_first: np.ndarray) -> list[dict[str, object]]:
    """Segments of one file from its proofs (row numbers ascending, True where a proof
    shows month-first); see the module docstring."""
    if not len(rows):
        return [_segment(0, UNPROVEN, "none", 0, 0, 0)]
    change = np.flatnonzero(np.diff(month_first.astype(np.int8))) + 1
    starts, ends = np.r_[0, change], np.r_[change, len(rows)]
    if len(starts) == 1:
        return [_segment(0, _order(month_first[0]), "file", len(rows), rows[0], rows[-1])]
    long = (ends - starts) >= MIN_BLOCK_PROOFS
    if not long.any():
        return [_segment(0, UNPROVEN, "mixed", 0, rows[0], rows[-1])]
    # Blocks open at each long run whose order differs from the block before.
    opens: list[int] = []
    for start in starts[long]:
        if not opens or month_first[start] != month_first[opens[-1]]:
            opens.append(int(start))
    segments = []
    for k, first in enumerate(opens):
        low = 0 if k == 0 else first
        high = opens[k + 1] if k + 1 < len(opens) else len(rows)
        own = np.flatnonzero(month_first[low:high] == month_first[first]) + low
        kind = "file" if len(opens) == 1 else "block"
        start = 0 if k == 0 else rows[first]
        order = _order(month_first[first])
        segments.append(_segment(start, order, kind, len(own), rows[own[0]], rows[own[-1]]))
        if k + 1 < len(opens):
            # Between the last proof of this block and the first of the next (no proof
            # lies between: it would extend one run or the other).
            segments.append(
                _segment(rows[own[-1]] + 1, UNPROVEN, "gap", 0, rows[own[-1]], rows[high])
            )
    return segments


def _order(month_first: bool) -> str:
    return MONTH_FIRST if month_first else DAY_FIRST


def _segment(
    start: int, order: str, kind: str, proofs: int, first_row: int, last_row: int
) -> dict[str, object]:
    return {
        "start_row": int(start),
        "order": order,
        "kind": kind,
        "proofs": int(proofs),
        "first_row": int(first_row),
        "last_row": int(last_row),
    }


@dataclass(frozen=True)
class DatesRead:
    """A date column read: the dates, which are partial, which were read in an order
    not proven (to be checked), and how values were read (``staging.value_readings``)."""

    dates: pd.Series
    partial: pd.Series
    order_unproven: pd.Series
    readings: pd.DataFrame


def read_dates(
    frame: pd.DataFrame,
    column: str,
    *,
    table_name: str,
    as_of: dt.date | None = None,
    orders: DateOrders | None = None,
) -> DatesRead:
    """Read ``frame[column]`` (with lineage) in the order of each row's file or block.

    ``orders`` come from the whole files (``DateOrders.of``); by default from
    ``frame`` itself, which must then hold whole files.
    """
    as_of = reference_date(as_of)
    if orders is None:
        orders = DateOrders.of(frame, column, as_of)
    parsed = parse_date_forms(frame[column], as_of)
    segment = orders.segment_of(frame)
    order = segment["order"].to_numpy()
    evidence = parsed["evidence"].fillna("").to_numpy()
    ambiguous = parsed["ambiguous"].to_numpy(dtype=bool)
    in_day, in_month, unproven = (order == o for o in (DAY_FIRST, MONTH_FIRST, UNPROVEN))
    contradicts = (in_day & (evidence == MONTH_FIRST)) | (in_month & (evidence == DAY_FIRST))
    read_month_first = (in_month & ambiguous) | (evidence == MONTH_FIRST) & ~contradicts
    dates = parsed["day_first"].where(~read_month_first, parsed["month_first"])
    dates = dates.where(~contradicts)
    order_unproven = unproven & (ambiguous | (evidence == MONTH_FIRST))
    form = parsed["form"]
    present = clean_text(frame[column]).notna().to_numpy()
    unrecognised = present & form.isna().to_numpy()
    impossible = form.notna().to_numpy() & parsed["day_first"].isna().to_numpy()
    impossible &= parsed["month_first"].isna().to_numpy()

    def count(mask: np.ndarray, reading: str, outcome: str) -> pd.DataFrame:
        return value_readings(
            table_name, frame, mask, field_name=column, reading=reading, outcome=outcome
        )

    readings = [
        count(unrecognised, "not a date in any known form: left missing", "quarantined"),
        count(
            impossible,
            "not a calendar date (such as 31/02 or month 13): left missing",
            "quarantined",
        ),
        count(
            parsed["two_digit_year"].to_numpy(dtype=bool) & dates.notna().to_numpy(),
            f"two-digit year put in the century that makes the date on or before {as_of}",
            "recovered",
        ),
        count(
            form.eq("serial").fillna(False).to_numpy() & dates.notna().to_numpy(),
            "Excel serial day number read as a date",
            "recovered",
        ),
        count(
            form.eq("year").fillna(False).to_numpy() & dates.notna().to_numpy(),
            "only the year given: stored as 1 January, flagged as partial",
            "warned",
        ),
        count(
            form.eq("month_year").fillna(False).to_numpy() & dates.notna().to_numpy(),
            "only month and year given: stored as the 1st, flagged as partial",
            "warned",
        ),
    ]
    segment_ids = segment["segment"].to_numpy()
    described = (read_month_first & in_month) | contradicts | order_unproven
    for number in np.unique(segment_ids[described]):
        here = segment_ids == number
        info = segment[here].iloc[0]
        rows = f"rows {info['first_row']}–{info['last_row']}"
        if info["order"] == MONTH_FIRST:
            readings.append(
                count(
                    here & read_month_first,
                    f"month-first order (US settings) shown by {info['proofs']} dates with "
                    f"day > 12 in {rows}",
                    "recovered",
                )
            )
        if info["order"] != UNPROVEN:
            readings.append(
                count(
                    here & contradicts,
                    f"day and month in the opposite order to the {info['order']} dates of "
                    f"{rows}: not swapped, left missing",
                    "quarantined",
                )
            )
            continue
        why = {
            "none": "no date of the file shows the day/month order (none with day > 12)",
            "mixed": "dates with day > 12 show both orders and no block of rows",
            "gap": f"between the dates of two blocks in different orders ({rows})",
        }[info["kind"]]
        readings.append(count(here & ambiguous, f"{why}: read day-first, to be checked", "warned"))
        readings.append(
            count(
                here & (evidence == MONTH_FIRST),
                f"{why}: readable only month-first, read so, to be checked",
                "warned",
            )
        )
    return DatesRead(
        dates=dates.astype("datetime64[ns]"),
        partial=(form.isin(["year", "month_year"]).fillna(False) & dates.notna()).astype(bool),
        order_unproven=pd.Series(order_unproven, index=frame.index, dtype=bool),
        readings=combine_readings(readings),
    )
