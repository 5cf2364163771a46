"""Sheets laid out as offices expect to receive them: the one formatting helper.

Every workbook the project writes goes through ``safe.write_sheet``, which calls
``format_table`` here, so commune workbooks, progress reports and the đề án's annexes
look alike: bold Vietnamese headers that wrap, columns wide enough to read, the header
row frozen and repeated on every printed page, numbers with thousands separators
(Excel shows them with the reader's separator: ``1.234.567`` in Vietnamese settings),
dates ``dd/mm/yyyy``, and A4 landscape, fitted to the page width.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Hashable
from copy import copy
from datetime import date, datetime, time
from functools import partial

import numpy as np
import pandas as pd
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.styles.cell_style import StyleArray
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

INTEGER_FORMAT = "#,##0"
DECIMAL_FORMAT = "#,##0.00"
DATE_FORMAT = "dd/mm/yyyy"
DATETIME_FORMAT = "dd/mm/yyyy hh:mm"
TOTAL_LABEL = "Tổng cộng"
MAX_WIDTH = 60  # characters: longer text wraps
_HEADER_FILL = PatternFill("solid", start_color="DDEBF7")
_THIN = Side(style="thin", color="999999")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)


def number_format(values: pd.Series) -> str | None:
    """The Excel format of a column: thousands separators, dates day first."""
    if pd.api.types.is_bool_dtype(values):
        return None
    if pd.api.types.is_integer_dtype(values):
        return INTEGER_FORMAT
    if pd.api.types.is_float_dtype(values):
        finite = values.dropna()
        whole = finite.empty or bool((finite == finite.round()).all())
        return INTEGER_FORMAT if whole else DECIMAL_FORMAT
    if pd.api.types.is_datetime64_any_dtype(values):
        times = values.dropna()
        midnight = times.empty or bool((times == times.dt.normalize()).all())
        return DATE_FORMAT if midnight else DATETIME_FORMAT
    present = values.dropna()
    if not present.empty and all(isinstance(v, date) for v in present):
        timed = any(isinstance(v, datetime) for v in present)
        return DATETIME_FORMAT if timed else DATE_FORMAT
    return None


def totals_row(frame: pd.DataFrame, columns: list[str], label: str = TOTAL_LABEL) -> pd.DataFrame:
    """``frame`` with a last row summing ``columns`` and ``label`` in its first column
    (values, not formulas: a reader sees the figure even where formulas are not computed,
    and it can be checked against the warehouse). The row holds only the label and the
    sums, so each column keeps its type (a date column stays dates, not text)."""
    total = {c: frame[c].sum() for c in columns}
    total[frame.columns[0]] = label
    return pd.concat([frame, pd.DataFrame([total])], ignore_index=True)[list(frame.columns)]


def format_table(
    sheet: Worksheet, frame: pd.DataFrame, startrow: int = 0, *, has_totals: bool = False
) -> None:
    """Lay out the table ``frame`` written at ``startrow`` (0-based, header first).

    The first table of a sheet sets the frozen pane, the printed title row and the page;
    a later table on the same sheet (a report's second block) gets headers, widths and
    formats only.
    """
    header = startrow + 1
    last = header + len(frame)
    # Header and total cells likewise: one style worked out per style the cell had.
    headers: dict[tuple[int, ...] | None, StyleArray] = {}
    for index, column in enumerate(frame.columns, start=1):
        cell = sheet.cell(row=header, column=index)
        _style_once(cell, headers, _style_key(cell), _header_style)
        fmt = number_format(frame[column])
        # A body cell's style follows from the style it had and whether it holds text.
        styled: dict[tuple[tuple[int, ...] | None, bool], StyleArray] = {}
        for row in range(header + 1, last + 1):
            body = sheet.cell(row=row, column=index)
            text = fmt is None and isinstance(body.value, str)
            _style_once(body, styled, (_style_key(body), text), partial(_body_style, fmt, text))
        letter = get_column_letter(index)
        longest = max(
            [len(str(column)) // 2 + 2]  # headers wrap onto two lines
            + [len(_shown(v, fmt)) + 2 for v in frame[column].head(2000)]
        )
        current = sheet.column_dimensions[letter].width or 0
        sheet.column_dimensions[letter].width = max(current, min(max(longest, 8), MAX_WIDTH))
    if has_totals and len(frame):
        totals: dict[tuple[int, ...] | None, StyleArray] = {}
        for index in range(1, len(frame.columns) + 1):
            cell = sheet.cell(row=last, column=index)
            _style_once(cell, totals, _style_key(cell), _total_style)
    if startrow == 0:
        sheet.freeze_panes = sheet.cell(row=header + 1, column=1).coordinate
        sheet.print_title_rows = f"{header}:{header}"
        sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
        sheet.page_setup.orientation = sheet.ORIENTATION_LANDSCAPE
        sheet.page_setup.fitToWidth = 1
        sheet.page_setup.fitToHeight = 0
        sheet.sheet_properties.pageSetUpPr.fitToPage = True
        sheet.print_options.gridLines = False


def _style_key(cell) -> tuple[int, ...] | None:
    return None if cell._style is None else tuple(cell._style)


def _style_once(
    cell, styles: dict[Hashable, StyleArray], key: Hashable, apply: Callable[[object], None]
) -> None:
    """Give ``cell`` the style ``apply`` makes of the style it has (``key``), worked out
    once per key and copied to the other cells: each style set through openpyxl hashes
    the whole style, most of the workbooks' time."""
    known = styles.get(key)
    if known is not None:
        cell._style = copy(known)
        return
    apply(cell)
    styles[key] = copy(cell._style)


def _header_style(cell) -> None:
    cell.font = Font(bold=True)
    cell.fill = _HEADER_FILL
    cell.border = _BOX
    cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)


def _body_style(fmt: str | None, text: bool, cell) -> None:
    cell.border = _BOX
    if fmt is not None:
        cell.number_format = fmt
    elif text:
        cell.alignment = Alignment(vertical="top", wrap_text=True)


def _total_style(cell) -> None:
    cell.font = Font(bold=True)


def _shown(value: object, fmt: str | None) -> str:
    if value is None or value is pd.NA or value is pd.NaT or value != value:
        return ""
    if fmt == DATE_FORMAT:
        return "00/00/0000"
    if fmt in (INTEGER_FORMAT, DECIMAL_FORMAT) and isinstance(value, int | float):
        return f"{value:,.2f}" if fmt == DECIMAL_FORMAT else f"{value:,.0f}"
    return str(value)


def vn_number(value: object) -> str:
    """A figure as Vietnamese documents write it (``1.234.567``, ``2,35``), numpy's
    included; a date ``dd/mm/yyyy`` (with ``hh:mm`` when it has a time); a missing value
    empty; text as is."""
    if pd.api.types.is_scalar(value) and pd.isna(value):
        return ""
    if isinstance(value, bool | np.bool_):
        return "Có" if value else "Không"
    if isinstance(value, numbers.Real):
        if float(value).is_integer():
            return f"{int(value):,}".replace(",", ".")
        return f"{float(value):,.2f}".replace(",", " ").replace(".", ",").replace(" ", ".")
    if isinstance(value, datetime) and value.time() != time():
        return f"{value:%d/%m/%Y %H:%M}"
    if isinstance(value, date):
        return f"{value:%d/%m/%Y}"
    return str(value)
