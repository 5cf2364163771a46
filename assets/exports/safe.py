"""Writing files that offices open: whole or not at all, and text that stays text.

Names and explanations come from offices and residents, so a name such as
``=HYPERLINK(…)`` must not become a live formula in Excel or LibreOffice; and a killed
run must not leave a half-written workbook under the name an office opens.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from assets.exports.office import format_table, totals_row

# A cell starting with one of these is read as a formula when typed, pasted or opened
# from CSV (OWASP, "CSV Injection").
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
PARTIAL = ".partial"  # in the name of a file being written (see ``atomic_write``)


def looks_like_formula(value: object) -> bool:
    return isinstance(value, str) and value.startswith(FORMULA_TRIGGERS)


def csv_text(value: object) -> object:
    """``value`` for a CSV cell: text that a spreadsheet would read as a formula gets
    OWASP's leading apostrophe (a CSV has no cell types, so only the text can say it)."""
    return f"'{value}" if looks_like_formula(value) else value


def csv_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with ``csv_text`` applied to its text columns (numbers stay numbers)."""
    return frame.assign(**{c: frame[c].map(csv_text) for c in _text_columns(frame)})


def _text_columns(frame: pd.DataFrame) -> list[str]:
    return list(frame.select_dtypes(include=["object", "string"]).columns)


def write_sheet(
    writer: pd.ExcelWriter,
    frame: pd.DataFrame,
    sheet_name: str,
    startrow: int = 0,
    *,
    totals: list[str] | None = None,
) -> None:
    """``frame.to_excel`` (no index) with every text cell stored as text, laid out as
    offices expect (``office.format_table``); ``totals`` adds a "Tổng cộng" row summing
    those columns.

    openpyxl turns any string starting with ``=`` into a formula cell, which Excel and
    LibreOffice evaluate on opening. Here such cells are written as string cells (type
    ``s``: both programs show a string cell as it is, never evaluate it), and every text
    that looks like a formula also gets the ``quotePrefix`` style, Excel's record of a
    typed apostrophe, so that editing the cell keeps it text. The text itself is
    unchanged: a visible apostrophe (OWASP's advice for CSV) would show in the name.
    Characters XML cannot hold (control characters) become U+FFFD rather than failing.
    """
    cleaned = frame.assign(
        **{
            c: frame[c].map(
                lambda v: ILLEGAL_CHARACTERS_RE.sub("\ufffd", v) if isinstance(v, str) else v
            )
            for c in _text_columns(frame)
        }
    )
    if totals is not None:
        cleaned = totals_row(cleaned, totals)
    cleaned.to_excel(writer, sheet_name=sheet_name, index=False, startrow=startrow)
    sheet = writer.sheets[sheet_name]
    for row in sheet.iter_rows(min_row=startrow + 1, max_row=startrow + 1 + len(cleaned)):
        for cell in row:
            if cell.data_type == "f" or looks_like_formula(cell.value):
                cell.data_type = "s"
                cell.quotePrefix = True
    format_table(sheet, cleaned, startrow, has_totals=totals is not None)


@contextmanager
def atomic_write(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; renamed to ``path`` once the block
    ends without error, removed otherwise. An office opening ``path`` meanwhile sees the
    previous file whole, and a killed run leaves only a hidden ``.…partial…`` file
    (``remove_partials`` sweeps those). The temporary name keeps ``path``'s suffix, which
    some writers read to choose the format."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.stem}.{secrets.token_hex(4)}{PARTIAL}{path.suffix}")
    try:
        yield temporary
        with open(temporary, "rb") as written:
            os.fsync(written.fileno())
        os.replace(temporary, path)
    finally:
        for leftover in (temporary, *(Path(f"{temporary}{s}") for s in ("-journal", "-wal"))):
            leftover.unlink(missing_ok=True)


def remove_partials(folder: Path) -> list[Path]:
    """Remove what killed runs left in ``folder`` (not below it): their temporary files."""
    found = [p for p in folder.glob(f".*{PARTIAL}*") if p.is_file()]
    for path in found:
        path.unlink(missing_ok=True)
    return found


def remove_stale(folder: Path, keep: Iterable[Path], suffixes: Iterable[str]) -> list[Path]:
    """Remove the files of ``folder`` with one of ``suffixes`` that this export did not
    write (a commune gone from the publication, or renamed), so no office opens a plan
    that is no longer published; the warehouse keeps every publication."""
    kept = {Path(p).resolve() for p in keep}
    wanted = set(suffixes)
    stale = [
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix in wanted and p.resolve() not in kept
    ]
    for path in stale:
        path.unlink()
    return [*stale, *remove_partials(folder)]
