"""Tables as planners read them in a notebook: the same Vietnamese headers and figures
as the workbooks they receive.

Every table a notebook shows goes through ``planner_table``: columns renamed by the one
data dictionary (``files.with_vietnamese_headers``), every figure written by the one
formatter (``office.vn_number``: ``1.234.567``, ``12,50``, ``dd/mm/yyyy``, never
``5.92e+08``), every text escaped (names and explanations come from offices and
residents) and long text wrapped, shown whole rather than cut at pandas' 50 characters.
"""

from __future__ import annotations

import html

import pandas as pd
from pandas.io.formats.style import Styler

from assets.exports.files import with_vietnamese_headers
from assets.exports.office import vn_number
from assets.progress.records import VIETNAM

WRAP_FROM = 40  # characters: longer text wraps inside a column of readable width
_WRAPPED = '<div style="max-width:40em;min-width:16em;white-space:pre-wrap;text-align:left">'
_CELLS = [
    {"selector": "th", "props": "text-align:center; vertical-align:bottom;"},
    {"selector": "td", "props": "text-align:right; vertical-align:top;"},
]


def planner_table(frame: pd.DataFrame) -> Styler:
    """``frame`` for display: Vietnamese headers, Vietnamese figures, escaped and
    wrapped text. A meaningful index (a named one, such as a commune code) becomes a
    column like the others; times are shown on Vietnam's clock."""
    shown = frame.copy()
    if not isinstance(shown.index, pd.RangeIndex) or any(shown.index.names):
        shown = shown.reset_index()
    shown.columns = [_header(c) for c in shown.columns]
    shown = with_vietnamese_headers(shown.rename_axis(columns=None))
    for column in shown.columns[shown.dtypes.map(_zoned)]:
        shown[column] = shown[column].dt.tz_convert(VIETNAM).dt.tz_localize(None)
    return (
        shown.style.hide(axis="index")
        .format(_cell)
        .format_index(html.escape, axis="columns")
        .set_table_styles(_CELLS)
    )


def _header(column: object) -> str:
    """A column label as text (a pivot's tuple joined, as its levels would be read)."""
    if isinstance(column, tuple):
        return " – ".join(str(part) for part in column if str(part))
    return str(column)


def _zoned(dtype: object) -> bool:
    return isinstance(dtype, pd.DatetimeTZDtype)


def _cell(value: object) -> str:
    """One cell as HTML: the figure or text, escaped; long text wrapped."""
    text = html.escape(vn_number(value))
    return f"{_WRAPPED}{text}</div>" if len(text) > WRAP_FROM else text
