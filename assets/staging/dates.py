"""Dates as offices write them, and each file's day/month order read from its evidence.

Forms read (case, diacritics and spacing ignored):

- ``d/m/yyyy``, ``dd-mm-yyyy``, ``dd.mm.yyyy``, padded or not, ``d/m/yy``; a trailing
  time (`` 00:00:00``, ``14:30``, ``12:00:00 AM``) is dropped;
- ISO ``yyyy-mm-dd`` (what the workbook reader gives for a date cell), with or without
  a time; the order is fixed by the form;
- Vietnamese words: ``ngày 05 tháng 3 năm 1990`` and ``ngày 5/3/1990`` (day first by
  the word "ngày");
- Excel serial day numbers (five digits: 1927 to 2173), as before;
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
# Every form, tried in this order (no two can match the same text).
_FORMS: dict[str, str] = {
    # Day and month in either order: decided by evidence.
    "numeric": rf"(?P<first>\d{{1,2}}){_SEP}(?P<second>\d{{1,2}}){_SEP}{_YEAR}{_TIME}",
    # The form fixes the order.
    "iso": rf"{_YEAR4}{_SEP}{_MONTH}{_SEP}{_DAY}{_TIME}",
    "serial": r"(?P<serial>\d{5})",
    "year": rf"(?:nam\s*)?{_YEAR4}",
    "month_year": rf"(?:thang\s*)?{_MONTH}(?:{_SEP}|\s*,?\s*nam\s*){_YEAR4}",
    "words": rf"ngay\s*{_DAY}\s*,?\s*thang\s*{_MONTH}\s*,?\s*nam\s*{_YEAR4}",
    "words_numeric": rf"ngay\s*{_DAY}{_SEP}{_MONTH}{_SEP}{_YEAR}{_TIME}",
}
FORMS = pd.CategoricalDtype(list(_FORMS))
ORDERS = pd.CategoricalDtype([DAY_FIRST, MONTH_FIRST])
# Years a datetime64[ns] holds with room to spare; a birth outside them is no date.
_YEARS = (1700, 2200)


def reference_date(as_of: dt.date | None) -> dt.date:
    """The as-of date, today (UTC) when none is set (as ``QualitySettings``)."""
    return as_of or dt.datetime.now(dt.UTC).date()


def _assemble(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Dates from float parts (NaN when missing); impossible ones (31/02, month 13)
    are NaT. Calendar arithmetic in numpy: no text, no per-value Python."""
    out = np.full(len(year), np.datetime64("NaT"), dtype="datetime64[ns]")
    with np.errstate(invalid="ignore"):
        ok = (year >= _YEARS[0]) & (year <= _YEARS[1]) & (month >= 1) & (month <= 12)
        ok &= day >= 1
    months = ((year[ok] - 1970) * 12 + month[ok] - 1).astype("int64").astype("datetime64[M]")
    first = months.astype("datetime64[D]")
    length = ((months + 1).astype("datetime64[D]") - first).astype("int64")
    fits = day[ok] <= length
    dates = first[fits] + (day[ok][fits] - 1).astype("int64").astype("timedelta64[D]")
    out[np.flatnonzero(ok)[fits]] = dates.astype("datetime64[ns]")
    return out


def _dated(
    year: np.ndarray, month: np.ndarray, day: np.ndarray, two_digit: np.ndarray, as_of: dt.date
) -> np.ndarray:
    """A two-digit year in the latest century that puts the date on or before ``as_of``."""
    full = np.where(two_digit, year + as_of.year // 100 * 100, year)
    date = _assemble(full, month, day)
    too_late = two_digit & ~(date <= np.datetime64(as_of, "ns"))
    return np.where(too_late, _assemble(full - 100, month, day), date)


def _parse(values: pd.Series, as_of: dt.date) -> pd.DataFrame:
    """Per distinct value: its form, its date read day-first and read month-first (the
    same when the form fixes the order), whether its year had two digits, the order it
    proves (readable only one way) and whether it is ambiguous (two different dates)."""
    text = clean_text(values).str.lower()
    has_letters = text.str.contains(r"[^\d\s/.:,\-]", regex=True).fillna(False)
    folded = text.where(~has_letters, text[has_letters].map(strip_diacritics))
    n = len(text)
    parts = {c: np.full(n, np.nan) for c in ("day", "month", "year", "first", "second")}
    parts["serial"] = np.full(n, np.nan)
    form = np.full(n, -1, dtype="int8")
    year_digits = np.zeros(n, dtype="int8")
    todo = folded.notna().to_numpy()
    for code, pattern in enumerate(_FORMS.values()):
        if not todo.any():
            break
        found = folded[todo].str.extract(f"^{pattern}$")
        hit = found.notna().any(axis=1).to_numpy()
        where = np.flatnonzero(todo)[hit]
        form[where] = code
        for column in found.columns:
            parts[column][where] = pd.to_numeric(found[column][hit]).to_numpy(dtype="float64")
        if "year" in found:
            year_digits[where] = found["year"][hit].str.len().to_numpy(dtype="int8")
        todo[where] = False
    names = np.array(list(_FORMS))
    kind = np.where(form >= 0, names[np.maximum(form, 0)], "")
    two_digit = year_digits == 2
    year = parts["year"].copy()
    year[(kind == "year") & ~((year >= YEAR_ONLY_RANGE[0]) & (year <= YEAR_ONLY_RANGE[1]))] = np.nan
    partial = np.isin(kind, ["year", "month_year"])
    day = np.where(partial, 1.0, parts["day"])
    month = np.where(kind == "year", 1.0, parts["month"])
    fixed = _dated(year, month, day, two_digit, as_of)
    serial = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    is_serial = kind == "serial"
    serial[is_serial] = (
        np.datetime64(EXCEL_EPOCH, "D") + parts["serial"][is_serial].astype("int64")
    ).astype("datetime64[ns]")
    numeric = kind == "numeric"
    day_first = np.where(
        numeric, _dated(year, parts["second"], parts["first"], two_digit, as_of), fixed
    )
    month_first = np.where(
        numeric, _dated(year, parts["first"], parts["second"], two_digit, as_of), fixed
    )
    day_first = np.where(is_serial, serial, day_first)
    month_first = np.where(is_serial, serial, month_first)
    dmy, mdy = ~np.isnat(day_first), ~np.isnat(month_first)
    evidence = np.select([numeric & dmy & ~mdy, numeric & mdy & ~dmy], [0, 1], default=-1)
    return pd.DataFrame(
        {
            "form": pd.Categorical.from_codes(form, dtype=FORMS),
            "day_first": day_first,
            "month_first": month_first,
            "two_digit_year": two_digit,
            "evidence": pd.Categorical.from_codes(evidence, dtype=ORDERS),
            "ambiguous": numeric & dmy & mdy & (day_first != month_first),
            "written": text.notna().to_numpy(),
        },
        index=values.index,
    )


def parse_date_forms(values: pd.Series, as_of: dt.date | None = None) -> pd.DataFrame:
    """``_parse`` once per distinct value (a province's million birth dates hold a few
    tens of thousands), spread back to every row."""
    return by_distinct_value(functools.partial(_parse, as_of=reference_date(as_of)))(values)


class DateForms:
    """``parse_date_forms`` that remembers each distinct value it has read, for the
    slices of one staging: a province's birth dates repeat the same few tens of
    thousands of values in every slice and in both passes (the order evidence, then
    the staging), so each is parsed once. At most ``limit`` values are remembered
    (a file of all-distinct values then costs what it costs without)."""

    def __init__(self, as_of: dt.date | None = None, limit: int = 1_000_000) -> None:
        self.as_of = reference_date(as_of)
        self.limit = limit
        self._parse = functools.partial(_parse, as_of=self.as_of)
        missing = self._parse(pd.Series([pd.NA], dtype="string")).reset_index(drop=True)
        self._values = pd.Index([], dtype="string")
        self._forms = missing.iloc[:0]
        self._missing = missing

    def __call__(self, values: pd.Series) -> pd.DataFrame:
        """The same frame as ``parse_date_forms(values, as_of)``."""
        codes, distinct = pd.factorize(values.astype("string"), use_na_sentinel=True)
        distinct = pd.Index(distinct, dtype="string")
        at = self._values.get_indexer(distinct)
        new = at < 0
        forms = self._forms
        if new.any():
            parsed = self._parse(pd.Series(distinct[new], dtype="string"))
            at[new] = len(forms) + np.arange(int(new.sum()))
            forms = pd.concat([forms, parsed.reset_index(drop=True)], ignore_index=True)
            if len(forms) <= self.limit:
                self._values, self._forms = self._values.append(distinct[new]), forms
        table = pd.concat([forms, self._missing], ignore_index=True)
        rows = np.full(len(codes), len(forms), dtype="int64")  # missing: the last row
        present = codes >= 0
        rows[present] = at[codes[present]]
        return table.take(rows).set_axis(values.index)


def parse_dates(values: pd.Series, as_of: dt.date | None = None) -> pd.Series:
    """Each value read alone (no file to show an order): day-first, the legal form; a
    value readable only month-first is not swapped but missing, as is anything else
    that is not a date. Partial dates at the start of what they give."""
    return parse_date_forms(values, as_of)["day_first"]


def order_evidence(
    frame: pd.DataFrame,
    column: str,
    as_of: dt.date | None = None,
    forms: DateForms | None = None,
) -> pd.DataFrame:
    """The rows of ``frame`` (with lineage) whose ``column`` proves an order (read by
    ``forms`` when given, which must be of the same ``as_of``)."""
    parse = forms or functools.partial(parse_date_forms, as_of=as_of)
    evidence = parse(frame[column])["evidence"]
    proven = evidence.notna().to_numpy()
    return pd.DataFrame(
        {
            "source_file": frame["source_file"].to_numpy()[proven],
            "source_row_number": frame["source_row_number"].to_numpy(dtype="int64")[proven],
            "evidence": evidence[proven].astype("string").to_numpy(),
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

    @property
    def table(self) -> pd.DataFrame:
        """The segments' orders and proofs, and last one unproven segment standing for
        every file without any proof."""
        none = _segment(0, UNPROVEN, "none", 0, 0, 0)
        return pd.concat(
            [self.segments.drop(columns="source_file"), pd.DataFrame([none])], ignore_index=True
        )

    def segment_of(self, frame: pd.DataFrame) -> np.ndarray:
        """Each row's segment, as a position in ``table``."""
        found = np.full(len(frame), len(self.segments), dtype="int64")
        files = frame["source_file"].to_numpy()
        row_numbers = frame["source_row_number"].to_numpy(dtype="int64")
        for source_file, group in self.segments.groupby("source_file", sort=False):
            here = np.flatnonzero(files == source_file)
            starts = group["start_row"].to_numpy(dtype="int64")
            position = np.searchsorted(starts, row_numbers[here], side="right") - 1
            found[here] = group.index.to_numpy()[np.maximum(position, 0)]
        return found


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
    forms: DateForms | None = None,
) -> DatesRead:
    """Read ``frame[column]`` (with lineage) in the order of each row's file or block.

    ``orders`` come from the whole files (``DateOrders.of``); by default from
    ``frame`` itself, which must then hold whole files. ``forms`` (of the same
    ``as_of``) reads values already met in an earlier slice without parsing them again.
    """
    as_of = reference_date(as_of)
    if forms is not None and forms.as_of != as_of:
        raise ValueError(f"date forms read at {forms.as_of}, dates to read at {as_of}")
    if orders is None:
        orders = DateOrders.of(frame, column, as_of)
    parsed = forms(frame[column]) if forms is not None else parse_date_forms(frame[column], as_of)
    table = orders.table
    segment = orders.segment_of(frame)
    order = table["order"].to_numpy()[segment]
    proves = parsed["evidence"].cat.codes.to_numpy()
    proves_day, proves_month = proves == 0, proves == 1
    ambiguous = parsed["ambiguous"].to_numpy(dtype=bool)
    in_day, in_month, unproven = (order == o for o in (DAY_FIRST, MONTH_FIRST, UNPROVEN))
    contradicts = (in_day & proves_month) | (in_month & proves_day)
    read_month_first = (in_month & ambiguous) | proves_month & ~contradicts
    day_first, month_first = parsed["day_first"].to_numpy(), parsed["month_first"].to_numpy()
    dates = np.where(read_month_first, month_first, day_first)
    dates[contradicts] = np.datetime64("NaT")
    read = ~np.isnat(dates)
    order_unproven = unproven & (ambiguous | proves_month)
    form = np.asarray(FORMS.categories)[parsed["form"].cat.codes.to_numpy()]
    form[parsed["form"].isna().to_numpy()] = ""
    unrecognised = parsed["written"].to_numpy(dtype=bool) & (form == "")
    impossible = (form != "") & np.isnat(day_first) & np.isnat(month_first)

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
            parsed["two_digit_year"].to_numpy(dtype=bool) & read,
            f"two-digit year put in the century that makes the date on or before {as_of}",
            "recovered",
        ),
        count(
            (form == "serial") & read,
            "Excel serial day number read as a date",
            "recovered",
        ),
        count(
            (form == "year") & read,
            "only the year given: stored as 1 January, flagged as partial",
            "warned",
        ),
        count(
            (form == "month_year") & read,
            "only month and year given: stored as the 1st, flagged as partial",
            "warned",
        ),
    ]
    described = (read_month_first & in_month) | contradicts | order_unproven
    for number in np.unique(segment[described]):
        here = segment == number
        info = table.iloc[number]
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
                here & proves_month,
                f"{why}: readable only month-first, read so, to be checked",
                "warned",
            )
        )
    return DatesRead(
        dates=pd.Series(dates, index=frame.index, dtype="datetime64[ns]"),
        partial=pd.Series(np.isin(form, ["year", "month_year"]) & read, index=frame.index),
        order_unproven=pd.Series(order_unproven, index=frame.index, dtype=bool),
        readings=combine_readings(readings),
    )
