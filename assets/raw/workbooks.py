"""Workbooks as offices type them: ``.xlsx``, ``.xlsm``, ``.xls`` (Excel 97-2003, what
many commune PCs still save) and ``.ods`` (LibreOffice), read with calamine.

A commune's list rarely starts at row 1: the national motto, "UBND XÃ …", "DANH SÁCH
NHÂN KHẨU …" and a date line come first, then a header that may take two rows (a group
title such as "Địa chỉ" over "Thôn" / "Xã", the other headers merged down over both), a
row of column numbers "(1) (2) (3)" and a running-number column "STT". A workbook may
hold one sheet per hamlet beside a summary sheet, and a household code written once and
merged down over the household's members. So the header row is found by matching the
data dictionary, not taken from row 1; what lies above it, a column-number row and
empty rows are skipped and counted; every sheet whose header matches is read, the
others are skipped with the reason; a merged value is filled down within its merge and
nowhere else. A totals row ("Tổng cộng") and what follows it, and a record holding an
Excel error (``#N/A``, ``#REF!``) are records that cannot be read: staging rejects them
with the sheet, the Excel row and the reason.

Cells become text as Excel displays them: integral numbers without ``.0`` (others keep
their digits), dates as ISO ``yyyy-mm-dd`` (``yyyy-mm-dd hh:mm:ss`` when a time is
present), booleans as ``TRUE``/``FALSE``. calamine reads an error cell as an empty
string (python-calamine issue #105), so the error cells of ``.xlsx``/``.xlsm`` are found
in the sheet's XML; ``.xls`` and ``.ods`` error cells cannot be told from empty ones.
calamine gives merged ranges for ``.xlsx``/``.xls`` only: an ``.ods`` merge is not
filled (the covered cells stay empty, as the file holds them).
"""

from __future__ import annotations

import datetime as dt
import io
import math
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pandas as pd
from python_calamine import CalamineError, CalamineWorkbook, PasswordError, SheetTypeEnum

from assets.raw.headers import (
    IGNORED_HEADERS,
    KNOWN_HEADERS,
    LandingFileError,
    check_headers,
    clean_header,
    header_lookup,
    header_share,
)
from assets.raw.safety import read_landing_bytes
from expectations.schemas import FIELDS, fold_text, header_key

WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods")
HEADER_SEARCH_ROWS = 30  # the header lies within a sheet's first rows
MIN_HEADER_SHARE = 0.5  # a header row: at least half its cells known headers…
MIN_KNOWN_HEADERS = 2  # …and at least two of them
ERROR_VALUES = frozenset(
    ("#N/A", "#REF!", "#VALUE!", "#DIV/0!", "#NAME?", "#NUM!", "#NULL!", "#SPILL!", "#CALC!")
)
# A column-number row under the header: "(1) (2) (3)", "1 2 3", "A B 1 2".
_COLUMN_NUMBER = re.compile(r"\(?\s*(\d{1,3}|[A-Za-z])\s*\)?")
# A totals row's label (diacritics folded): "Tổng cộng", "Cộng", "Tổng số", "Tổng".
_TOTALS = re.compile(r"(tong cong|tong so|tong|cong)(\W.*)?")
_MEANING = header_lookup(list(FIELDS.values()))  # header key -> field, across all roles
_SHEET_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PKG_REL_NS = "{http://schemas.openxmlformats.org/package/2006/relationships}"


def cell_text(value: object) -> str:
    """A cell's value as Excel displays it (see the module)."""
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return str(int(value))
        return np.format_float_positional(value, unique=True, trim="-")
    if isinstance(value, dt.datetime):
        if value.time() == dt.time():
            return value.date().isoformat()
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.strftime("%H:%M:%S")
    return str(value)


def column_letter(index: int) -> str:
    """Excel's letter for a 0-based column (0 -> A, 26 -> AA)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _column_index(letters: str) -> int:
    index = 0
    for letter in letters:
        index = index * 26 + ord(letter) - 64
    return index - 1


@dataclass(frozen=True)
class _Header:
    rows: tuple[int, ...]  # 0-based rows of the sheet that hold the header
    names: list[str]
    known: int
    share: float
    merged_down: bool  # a header cell is merged down over both rows (a two-row header)

    @property
    def rank(self) -> tuple[int, bool, float, int, int]:
        return (self.known, self.merged_down, self.share, -len(self.rows), -self.rows[0])


def _is_known(name: str) -> bool:
    key = header_key(name)
    return key in KNOWN_HEADERS or key in IGNORED_HEADERS


def _combine(upper: list[str], lower: list[str]) -> list[str]:
    """Two header rows as one: the lower cell where it is a known header (or the upper
    one merged down over it), else "upper lower" (a group title over its column)."""
    names = []
    for up, down in zip(upper, lower, strict=True):
        up, down = up.strip(), down.strip()
        if not down or down == up:
            names.append(up)
        elif not up or _is_known(down):
            names.append(down)
        else:
            names.append(f"{up} {down}")
    return names


def _header_of(rows: tuple[int, ...], names: list[str], merged_down: bool) -> _Header:
    filled = [n for n in names if n.strip()]
    known = sum(header_key(n) in KNOWN_HEADERS for n in filled)
    return _Header(rows, names, known, header_share(filled), merged_down)


def _find_header(top: list[list[str]], merges: list[tuple[int, int, int, int]]) -> _Header | None:
    """The best header among the first rows, alone or with the row below."""
    best: _Header | None = None
    for r in range(min(len(top), HEADER_SEARCH_ROWS)):
        candidates = [_header_of((r,), top[r], False)]
        if r + 1 < len(top):
            down = any(r0 <= r < r1 for r0, _c0, r1, _c1 in merges)
            candidates.append(_header_of((r, r + 1), _combine(top[r], top[r + 1]), down))
        for candidate in candidates:
            if best is None or candidate.rank > best.rank:
                best = candidate
    return best


def _is_column_numbers(cells: list[str], width: int) -> bool:
    filled = [c.strip() for c in cells if c.strip()]
    return len(filled) >= max(2, width // 2) and all(_COLUMN_NUMBER.fullmatch(c) for c in filled)


def _is_totals(cells: list[str], width: int) -> bool:
    filled = [c for c in cells if c.strip()]
    return (
        bool(filled)
        and len(filled) <= max(1, width // 2)
        and bool(_TOTALS.fullmatch(fold_text(filled[0])))
    )


def _meaning(name: str) -> str:
    """What a header means: its field across every role, else its own normalised form."""
    key = header_key(name)
    return _MEANING.get(key, key)


@dataclass
class _Sheet:
    name: str
    grid: list[list[str]]
    merges: list[tuple[int, int, int, int]]  # r0, c0, r1, c1 (0-based, inclusive)
    errors: dict[tuple[int, int], str]
    header: _Header | None = None
    report: dict | None = None

    @property
    def meanings(self) -> set[str]:
        assert self.header is not None
        return {_meaning(n) for n in self.header.names if n.strip()}

    @property
    def known_meanings(self) -> set[str]:
        return {m for m in self.meanings if m in FIELDS}


@dataclass(frozen=True)
class WorkbookRecords:
    """A workbook's records over its data sheets: ``values`` has one text column per
    header (by position); per record its sheet, Excel row, and why it cannot be read
    (missing when it can; its values are then missing and ``text`` holds its cells)."""

    headers: list[str]
    values: pd.DataFrame
    sheet: np.ndarray
    sheet_row: np.ndarray
    problem: pd.Series
    text: pd.Series
    sheets: list[dict]
    header_row_number: int
    rows_skipped: int

    @property
    def places(self) -> list[str]:
        return [f"sheet {s!r} row {r}" for s, r in zip(self.sheet, self.sheet_row, strict=True)]


def read_workbook(path: Path) -> WorkbookRecords:
    """Every data sheet of a landing workbook, read as described in the module."""
    data = read_landing_bytes(path)
    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    except PasswordError as exc:
        raise LandingFileError(
            f"{path.name}: is password-protected; save it without a password"
        ) from exc
    except CalamineError as exc:
        raise LandingFileError(f"{path.name}: cannot be read as a workbook: {exc}") from exc
    errors = _xlsx_error_cells(data) if path.suffix.lower() in (".xlsx", ".xlsm") else {}
    sheets: list[_Sheet] = []
    skipped: list[dict] = []
    for meta in book.sheets_metadata:
        if meta.typ != SheetTypeEnum.WorkSheet:
            skipped.append({"sheet": meta.name, "skipped": "not a worksheet (a chart or macros)"})
            continue
        sheet = book.get_sheet_by_name(meta.name)
        grid = [[cell_text(v) for v in row] for row in sheet.to_python(skip_empty_area=False)]
        merges = [(r0, c0, r1, c1) for (r0, c0), (r1, c1) in sheet.merged_cell_ranges or []]
        sheets.append(_Sheet(meta.name, grid, merges, errors.get(meta.name, {})))
    book.close()
    return _records(path.name, sheets, skipped)


def _records(file: str, sheets: list[_Sheet], skipped: list[dict]) -> WorkbookRecords:
    candidates = []
    for sheet in sheets:
        top = [list(row) for row in sheet.grid[: HEADER_SEARCH_ROWS + 1]]
        _fill(top, sheet.merges, down_only_from=None)
        sheet.header = _find_header(top, sheet.merges)
        h = sheet.header
        if h is None:
            sheet.report = {"sheet": sheet.name, "skipped": "the sheet is empty"}
        elif h.share < MIN_HEADER_SHARE or h.known < MIN_KNOWN_HEADERS:
            sheet.report = {
                "sheet": sheet.name,
                "skipped": f"no header row: at best row {h.rows[0] + 1} has {h.known} header(s) "
                "the data dictionary knows",
            }
        else:
            candidates.append(sheet)
    if not candidates:
        why = "; ".join(f"{r['sheet']!r}: {r['skipped']}" for r in _reports(sheets, skipped))
        raise LandingFileError(
            f"{file}: no sheet has a header row the data dictionary recognises ({why})"
        )
    reference = max(candidates, key=lambda s: (len(s.known_meanings), -sheets.index(s)))
    data_sheets = []
    for sheet in candidates:
        if sheet.meanings == reference.meanings:
            data_sheets.append(sheet)
            continue
        shared = sheet.known_meanings & reference.known_meanings
        if len(shared) * 2 >= len(reference.known_meanings):
            differ = sorted(sheet.meanings ^ reference.meanings)
            raise LandingFileError(
                f"{file}: sheet {sheet.name!r} has other columns than sheet "
                f"{reference.name!r} ({', '.join(differ)}): the columns change meaning "
                "part way; give each kind of list its own file"
            )
        sheet.report = {
            "sheet": sheet.name,
            "skipped": f"its header (row {sheet.header.rows[0] + 1}) shares "
            f"{len(shared)} of the {len(reference.known_meanings)} known columns of "
            f"sheet {reference.name!r} (a summary or notes sheet)",
        }
    return _concatenate(file, [_sheet_records(file, s) for s in data_sheets], sheets, skipped)


def _reports(sheets: list[_Sheet], skipped: list[dict]) -> list[dict]:
    return [s.report for s in sheets if s.report is not None] + skipped


def _fill(grid: list[list[str]], merges: list, *, down_only_from: int | None) -> int:
    """Fill merged ranges from their top-left cell, in place; from row ``down_only_from``
    on (the records) only down the range's first column. Returns the cells filled."""
    filled = 0
    for r0, c0, r1, c1 in merges:
        if r0 >= len(grid):
            continue
        records = down_only_from is not None and r0 >= down_only_from
        if down_only_from is not None and not records:
            continue
        value = grid[r0][c0]
        for r in range(r0, min(r1, len(grid) - 1) + 1):
            for c in range(c0, (c0 if records else c1) + 1):
                if (r, c) != (r0, c0) and c < len(grid[r]) and not grid[r][c]:
                    grid[r][c] = value
                    filled += 1
    return filled


@dataclass(frozen=True)
class _SheetRecords:
    sheet: _Sheet
    names: list[str]
    rows: list[int]  # 0-based sheet rows of the records
    cells: list[list[str]]
    problems: list[str | None]


def _sheet_records(file: str, sheet: _Sheet) -> _SheetRecords:
    header = sheet.header
    assert header is not None
    grid = sheet.grid
    start = header.rows[-1] + 1
    width = sum(1 for n in header.names if n.strip())
    column_numbers = start < len(grid) and _is_column_numbers(grid[start], width)
    if column_numbers:
        start += 1
    merged = _fill(grid, sheet.merges, down_only_from=start)
    names = [clean_header(n) for n in header.names]
    check_headers(names, f"{file} sheet {sheet.name!r}")
    rows, cells, problems = [], [], []
    empty = 0
    totals_at: int | None = None
    for r in range(start, len(grid)):
        row = grid[r]
        if not any(c.strip() for c in row):
            empty += 1
            continue
        problem = None
        errors = [(c, row[c]) for c in range(len(row)) if row[c].strip() in ERROR_VALUES] + sorted(
            (c, v) for (er, c), v in sheet.errors.items() if er == r
        )
        if totals_at is not None:
            problem = f"below the totals row (row {totals_at + 1}): not a record"
        elif _is_totals(row, width):
            totals_at = r
            problem = "a totals row, not a record"
        elif errors:
            c, v = errors[0]
            problem = f"cell {column_letter(c)}{r + 1} holds the Excel error {v.strip()}"
        rows.append(r)
        cells.append(row)
        problems.append(problem)
    readable = [row for row, problem in zip(cells, problems, strict=True) if problem is None]
    for c, name in enumerate(names):
        if not name and any(row[c].strip() for row in readable):
            raise LandingFileError(
                f"{file}: sheet {sheet.name!r} column {column_letter(c)} has no header but "
                "holds values; name it"
            )
    above = header.rows[0]
    sheet.report = {
        "sheet": sheet.name,
        "records": len(rows),
        "header_row": header.rows[0] + 1,
        "header_rows": len(header.rows),
        "rows_above_header": above,
        "column_number_row": start if column_numbers else None,  # 0-based next = its Excel row
        "empty_rows": empty,
        "merged_cells_filled": merged,
    }
    sheet.report["rows_skipped"] = above + len(header.rows) - 1 + int(column_numbers) + empty
    return _SheetRecords(sheet, names, rows, cells, problems)


def _concatenate(
    file: str, parts: list[_SheetRecords], sheets: list[_Sheet], skipped: list[dict]
) -> WorkbookRecords:
    """The data sheets' records under the first sheet's headers, aligned by meaning."""
    first = parts[0]
    headers = [n for n in first.names if n]
    order = [_meaning(n) for n in headers]
    columns: list[list[str | None]] = [[] for _ in headers]
    sheet_names: list[str] = []
    sheet_rows: list[int] = []
    problems: list[str | None] = []
    texts: list[str | None] = []
    for part in parts:
        position = {_meaning(n): c for c, n in enumerate(part.names) if n}
        take = [position[m] for m in order]
        for r, row, problem in zip(part.rows, part.cells, part.problems, strict=True):
            for out, c in zip(columns, take, strict=True):
                out.append(None if problem else (row[c] if c < len(row) else ""))
            sheet_names.append(part.sheet.name)
            sheet_rows.append(r + 1)
            problems.append(problem)
            texts.append(",".join(row).rstrip(",")[:1000] if problem else None)
    values = pd.DataFrame(
        {i: pd.array(col, dtype="string") for i, col in enumerate(columns)},
        index=range(len(sheet_rows)),
    )
    reports = _reports(sheets, skipped)
    order_of = {s.name: i for i, s in enumerate(sheets)}
    reports.sort(key=lambda r: order_of.get(r["sheet"], len(sheets)))
    return WorkbookRecords(
        headers=headers,
        values=values,
        sheet=np.array(sheet_names, dtype=object),
        sheet_row=np.array(sheet_rows, dtype="int64"),
        problem=pd.Series(problems, dtype="string"),
        text=pd.Series(texts, dtype="string"),
        sheets=reports,
        header_row_number=first.sheet.header.rows[0] + 1,
        rows_skipped=sum(p.sheet.report["rows_skipped"] for p in parts),
    )


def _xlsx_error_cells(data: bytes) -> dict[str, dict[tuple[int, int], str]]:
    """The error cells (``t="e"``) of each sheet of an ``.xlsx``/``.xlsm``, by sheet
    name and 0-based (row, column); sheets without one are not parsed."""
    found: dict[str, dict[tuple[int, int], str]] = {}
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for name, part in _sheet_parts(archive).items():
                if not _holds(archive, part, b't="e"'):
                    continue
                cells: dict[tuple[int, int], str] = {}
                with archive.open(part) as stream:
                    for _event, element in ElementTree.iterparse(stream):
                        if element.tag != f"{_SHEET_NS}c":
                            continue
                        if element.get("t") == "e":
                            match = re.fullmatch(r"([A-Z]+)(\d+)", element.get("r", ""))
                            value = element.findtext(f"{_SHEET_NS}v") or "#ERROR"
                            if match:
                                row, col = int(match[2]) - 1, _column_index(match[1])
                                cells[(row, col)] = value
                        element.clear()
                found[name] = cells
    except (zipfile.BadZipFile, KeyError, ElementTree.ParseError):
        return found  # calamine read the workbook; its own structure stands
    return found


def _sheet_parts(archive: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name -> its part in the archive, from the workbook and its relations."""
    book = ElementTree.fromstring(archive.read("xl/workbook.xml"))
    rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    targets = {r.get("Id"): r.get("Target", "") for r in rels.iter(f"{_PKG_REL_NS}Relationship")}
    parts = {}
    for sheet in book.iter(f"{_SHEET_NS}sheet"):
        target = targets.get(sheet.get(f"{_REL_NS}id"), "")
        parts[sheet.get("name", "")] = (
            target.lstrip("/") if target.startswith("/") else f"xl/{target}"
        )
    return parts


def _holds(archive: zipfile.ZipFile, part: str, needle: bytes) -> bool:
    """Whether the part's text holds ``needle``, read a block at a time."""
    tail = b""
    with archive.open(part) as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            if needle in tail + block:
                return True
            tail = block[-len(needle) :]
    return False
