"""Delimited text read record by record, strictly, with every physical line accounted for.

A lenient CSV parser lets one stray quote (``"Nguyễn`` in a name) take the following
lines into a single field: thousands of records vanish and a count taken after parsing
never notices. Here every physical line is first split on its own (Arrow's C reader
with quoting off, so no line can swallow another); only the few lines that hold a quote
or have the wrong number of fields are then read with Python's strict CSV parser. A
record that cannot be read cleanly — a quote left open, the wrong number of fields, a
NUL byte, a cell longer than any real value — is kept as a *problem record* (its text
and the reason) for staging to reject, never swallowed or guessed at. A quoted cell may
span lines (Excel writes Alt+Enter that way), but never across a line that is a
complete record by itself.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

MAX_CELL_CHARS = 1_000  # longer than any name, address or note a register holds
MAX_RECORD_LINES = 10  # a quoted cell spanning more lines is a quote left open
DELIMITERS = ",;\t|"
QUOTE = '"'


class TextFileError(ValueError):
    """The file cannot be read as delimited records; the message says why."""


@dataclass(frozen=True)
class TextRecords:
    """A delimited file's records: ``values`` has one text column per header cell (by
    position 0, 1, …) and one row per record.

    ``row_number`` is each record's 1-based data row: its first line's number minus the
    header line, so it stays the row a clerk finds in the file even when a record
    before it spans two lines or could not be read. ``problem`` says why a record could
    not be read cleanly (missing otherwise; its values are then missing) and ``text``
    holds such a record's line as it is in the file. Every physical line after the
    header is one record's first line or a continuation line of a quoted cell:
    ``data_lines`` (counted from the text itself) equals ``len(values) +
    continuation_lines``.
    """

    header: list[str]
    values: pd.DataFrame
    row_number: np.ndarray
    problem: pd.Series
    text: pd.Series
    data_lines: int
    continuation_lines: int
    delimiter: str


def count_lines(text: str) -> int:
    """Physical lines as the bytes say: ``\\r\\n``, ``\\n`` and a lone ``\\r`` (old Mac
    Excel) each end one; a last line without a line break still counts."""
    breaks = text.count("\n") + text.count("\r") - text.count("\r\n")
    return breaks + (0 if not text or text.endswith(("\n", "\r")) else 1)


def first_line(text: str) -> str:
    """The text up to the first line break."""
    ends = [i for i in (text.find("\r"), text.find("\n")) if i >= 0]
    return text[: min(ends)] if ends else text


def sniff_delimiter(header_line: str) -> str:
    """The delimiter the header line uses most (a comma when it has none)."""
    return max(DELIMITERS, key=header_line.count)


def parse_line(line: str, delimiter: str) -> tuple[list[str] | None, str | None]:
    """One line (or a few joined by ``\\n``) parsed strictly as one record: its fields,
    or why it cannot be read."""
    try:
        rows = list(csv.reader(io.StringIO(line), **_dialect(delimiter)))
    except csv.Error as exc:
        if "end of data" in str(exc):
            return None, "a quote opens a cell and is never closed"
        return None, f"malformed quoting ({exc})"
    if len(rows) > 1:
        return None, "the text holds more than one record"
    return (rows[0] if rows else []), None


def _dialect(delimiter: str) -> dict[str, object]:
    return {"delimiter": delimiter, "quotechar": QUOTE, "strict": True}


def _fits(fields: list[str] | None, width: int) -> bool:
    """Exactly the header's number of fields (empty cells past the last aside)."""
    if fields is None:
        return False
    return len(fields) == width or (
        len(fields) > width and not any(f.strip() for f in fields[width:])
    )


def read_records(text: str) -> TextRecords:
    """The records of a delimited file's decoded text, read strictly (see module)."""
    header_line = first_line(text)
    if not header_line.strip():
        raise TextFileError("the file is empty or its first line (the header) is blank")
    delimiter = sniff_delimiter(header_line)
    header, why = parse_line(header_line, delimiter)
    if header is None:
        raise TextFileError(f"the header line cannot be read: {why}")
    width = len(header)
    data_lines = count_lines(text) - 1

    split, invalid = _split_lines(text, delimiter, width)
    lines_seen = split.num_rows + len(invalid)
    if lines_seen != data_lines:
        raise TextFileError(
            f"the file has {data_lines} lines after the header but {lines_seen} were read"
        )
    # Physical line (0-based after the header) of every line Arrow split cleanly.
    invalid_numbers = np.fromiter(invalid, dtype="int64", count=len(invalid))
    valid_numbers = np.setdiff1d(np.arange(data_lines, dtype="int64"), invalid_numbers)
    values = split.to_pandas(types_mapper={pa.string(): pd.StringDtype()}.get)
    values.columns = pd.Index(range(width))
    values.index = pd.Index(valid_numbers)

    # Lines a strict parser must read: quoted ones, and those with the wrong field count.
    quoted = _has_quote(split)
    suspect = dict(
        zip(valid_numbers[quoted].tolist(), _joined(values.loc[quoted], delimiter), strict=True)
    )
    suspect |= invalid
    reread, continuation = _read_suspects(suspect, delimiter, width)
    frame = pd.concat([values.loc[~quoted], reread.drop(columns=["problem", "text"])])
    frame = frame.sort_index()
    plain = _cell_flags_arrow(split, valid_numbers).loc[~quoted]
    flags = pd.concat([plain, _cell_flags(reread[list(range(width))])]).reindex(frame.index)
    problem = _cell_problems(flags, header, reread["problem"].reindex(frame.index))
    text_of = reread["text"].reindex(frame.index).astype("string")
    unread = problem.notna().to_numpy()
    missing_text = unread & text_of.isna().to_numpy()
    if missing_text.any():  # a line that split cleanly but holds an unreadable cell
        text_of[missing_text] = _joined(frame.loc[missing_text], delimiter)
    frame.loc[unread, :] = pd.NA
    return TextRecords(
        header=header,
        values=frame.reset_index(drop=True).astype("string"),
        row_number=frame.index.to_numpy(dtype="int64") + 1,
        problem=problem.reset_index(drop=True),
        text=text_of.str.slice(0, MAX_CELL_CHARS).reset_index(drop=True),
        data_lines=data_lines,
        continuation_lines=continuation,
        delimiter=delimiter,
    )


def record_blocks(text: str | Iterable[str], lines: int | None = None) -> Iterator[TextRecords]:
    """The records of ``text`` as :func:`read_records` reads them, about ``lines`` lines
    at a time (all at once when ``None``), so a province's file is never one frame.
    ``text`` may come as pieces in order (``assets.raw.encodings.nfc_pieces``): they are
    taken only as the next block needs them, so the file is never one string either.

    A block starts only at a line that splits cleanly without a quote: such a line is a
    record by itself and no record's quoted cell runs across it (``_read_suspects``
    joins suspect lines only), so each block reads as it does within the whole file.
    Row numbers are the file's; a file whose lines end in a lone CR (old Mac Excel) is
    one block.
    """
    pending = _Pending(iter([text] if isinstance(text, str) else text))
    if lines is None:
        pending.pull(None)
        yield read_records(pending.text)
        return
    pending.pull(1)
    header_line = first_line(pending.text)
    body = len(header_line) + (2 if pending.text.startswith("\r\n", len(header_line)) else 1)
    head = pending.take(min(body, len(pending.text)))
    delimiter = sniff_delimiter(header_line)
    width = len(parse_line(header_line, delimiter)[0] or [])  # unreadable: read_records says
    offset, wanted = 0, lines + 1
    while True:
        pending.pull(wanted)
        if not pending.text:
            break
        # Lines complete so far (a piece may end mid-line); all of them at the end.
        end = len(pending.text) if pending.ended else pending.text.rfind("\n") + 1
        window = pending.text if end == len(pending.text) else pending.text[:end]
        step = max(1, end * lines // max(1, window.count("\n")))
        cut = _clean_line_after(window, step, delimiter, width)
        if cut == end and not pending.ended:
            wanted = pending.feeds + 1  # no clean line yet: take in more lines
            continue
        records = read_records(head + pending.take(cut))
        yield replace(records, row_number=records.row_number + offset)
        offset += records.data_lines
        wanted = lines + 1
    if not offset:
        yield read_records(head)  # the header alone


@dataclass
class _Pending:
    """Text not yet cut into blocks, taken in from the pieces as blocks need it."""

    pieces: Iterator[str]
    text: str = ""
    feeds: int = 0  # line feeds in ``text``
    ended: bool = False  # no piece left

    def pull(self, feeds: int | None) -> None:
        """Take in pieces until ``text`` holds ``feeds`` line feeds or none is left
        (all of them when ``None``)."""
        parts = [self.text]
        while not self.ended and (feeds is None or self.feeds < feeds):
            piece = next(self.pieces, None)
            if piece is None:
                self.ended = True
            else:
                parts.append(piece)
                self.feeds += piece.count("\n")
        if len(parts) > 1:
            self.text = "".join(parts)

    def take(self, end: int) -> str:
        """The text up to ``end``, which leaves ``text``."""
        taken, self.text = self.text[:end], self.text[end:]
        self.feeds -= taken.count("\n")
        return taken


def _clean_line_after(text: str, position: int, delimiter: str, width: int) -> int:
    """The start of the first line at or after ``position`` (just after a line feed)
    that is a record no other can take in: no quote, no carriage return inside, the
    header's number of fields; the end of ``text`` when there is none."""
    while True:
        newline = text.find("\n", min(position, len(text)) - 1) if position > 0 else -1
        if newline < 0:
            return len(text)
        start = newline + 1
        end = text.find("\n", start)
        line = text[start : len(text) if end < 0 else end]
        if line.endswith("\r"):
            line = line[:-1]
        if (
            start < len(text)
            and QUOTE not in line
            and "\r" not in line
            and line.count(delimiter) + 1 == width
        ):
            return start
        if end < 0:
            return len(text)
        position = end + 1


def _split_lines(text: str, delimiter: str, width: int) -> tuple[pa.Table, dict[int, str]]:
    """Each line split on the delimiter, quotes ignored (so no line takes in another);
    lines with another number of fields come back apart, by 0-based line number."""
    invalid: dict[int, str] = {}

    def keep_aside(row: pa_csv.InvalidRow) -> str:
        invalid[row.number - 2] = row.text  # Arrow counts the header as line 1
        return "skip"

    names = [str(i) for i in range(width)]
    table = pa_csv.read_csv(
        pa.BufferReader(text.encode("utf-8")),
        read_options=pa_csv.ReadOptions(column_names=names, skip_rows=1, use_threads=False),
        parse_options=pa_csv.ParseOptions(
            delimiter=delimiter,
            quote_char=False,
            ignore_empty_lines=False,
            invalid_row_handler=keep_aside,
        ),
        convert_options=pa_csv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()),
            strings_can_be_null=False,
        ),
    )
    return table, invalid


def _has_quote(table: pa.Table) -> np.ndarray:
    found = np.zeros(table.num_rows, dtype=bool)
    for column in table.columns:
        found |= pc.match_substring(column, QUOTE).to_numpy(zero_copy_only=False)
    return found


def _joined(rows: pd.DataFrame, delimiter: str) -> list[str]:
    """Lines Arrow split (quotes untouched) as they were in the file."""
    if rows.empty:
        return []
    cells = [rows[c].fillna("") for c in rows.columns]
    return cells[0].str.cat(cells[1:], sep=delimiter).tolist()


def _read_suspects(lines: dict[int, str], delimiter: str, width: int) -> tuple[pd.DataFrame, int]:
    """Strictly parsed records of the suspect lines (line number -> text), with the
    problem and text of those that cannot be read, and the continuation lines used.

    A line whose quote stays open may take in the following lines while they are
    suspect too (a line that splits cleanly on its own is a record, never part of a
    cell) and while together they read as exactly one record of the header's width.
    """
    rows: dict[int, list[str]] = {}
    problems: dict[int, str] = {}
    texts: dict[int, str] = {}
    numbers = sorted(lines)
    taken: set[int] = set()
    continuation = 0
    for n in numbers:
        if n in taken:
            continue
        fields, why = parse_line(lines[n], delimiter)
        if fields is None and why == "a quote opens a cell and is never closed":
            joined, end = lines[n], n
            while end + 1 in lines and end + 1 - n < MAX_RECORD_LINES:
                end += 1
                joined += "\n" + lines[end]
                together, _ = parse_line(joined, delimiter)
                if _fits(together, width):
                    fields, why = together, None
                    taken.update(range(n + 1, end + 1))
                    continuation += end - n
                    break
        if fields is not None and (_fits(fields, width) or fields == [] or lines[n] == ""):
            rows[n] = (fields + [""] * width)[:width] if fields else [pd.NA] * width
            continue
        rows[n] = [pd.NA] * width
        problems[n] = why or f"the line has {len(fields or [])} fields; the header has {width}"
        texts[n] = lines[n]
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=range(width), dtype="string")
    frame = frame.reindex(columns=range(width))
    frame["problem"] = pd.Series(problems, dtype="string").reindex(frame.index)
    frame["text"] = pd.Series(texts, dtype="string").reindex(frame.index)
    return frame, continuation


def _cell_flags_arrow(table: pa.Table, index: np.ndarray) -> pd.DataFrame:
    """For each cell of the lines Arrow split: a NUL byte in it (``nul<i>``), more
    characters than any value (``long<i>``); computed in Arrow, not per Python string."""
    flags = {}
    for position, column in enumerate(table.columns):
        flags[f"nul{position}"] = pc.match_substring(column, "\x00").to_numpy(zero_copy_only=False)
        length = pc.utf8_length(column)
        flags[f"long{position}"] = pc.greater(length, MAX_CELL_CHARS).to_numpy(zero_copy_only=False)
    return pd.DataFrame(flags, index=index, dtype=bool)


def _cell_flags(frame: pd.DataFrame) -> pd.DataFrame:
    """The same flags for the few records a strict parser read (missing cells: none)."""
    flags = {}
    for position in frame.columns:
        column = frame[position]
        flags[f"nul{position}"] = column.str.contains("\x00", regex=False).fillna(False)
        flags[f"long{position}"] = column.str.len().gt(MAX_CELL_CHARS).fillna(False)
    return pd.DataFrame(flags, index=frame.index, dtype=bool)


def _cell_problems(flags: pd.DataFrame, header: list[str], problem: pd.Series) -> pd.Series:
    """Add the problems a cell shows (``_cell_flags``): a NUL byte, or more characters
    than any value; the first column's first problem names the record's."""
    problem = problem.copy()
    for position in range(len(header)):
        name = header[position] or f"column {position + 1}"
        nul = flags[f"nul{position}"].to_numpy(dtype=bool) & problem.isna()
        problem[nul] = f"the cell under {name!r} contains a NUL byte"
        long = flags[f"long{position}"].to_numpy(dtype=bool) & problem.isna()
        problem[long] = f"the cell under {name!r} is longer than {MAX_CELL_CHARS} characters"
    return problem
