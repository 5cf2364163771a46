"""The shortcuts that read a province's million landed records fast give what the plain
definitions give: header rows among the data, cells with a NUL byte or too long, and a
file read a block of lines at a time."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest

from assets.raw.landing import (
    _HEADER_FORMS,
    _header_like_rows,
    find_landing_file,
    landed_file_row,
    load_raw,
    load_raw_blocks,
)
from assets.raw.records import MAX_CELL_CHARS, TextRecords, read_records, record_blocks


def _header_like_by_definition(values: pd.DataFrame, forms: set[str]) -> list[int]:
    """Every cell of every row looked at: at least half the cells (and two) are forms."""
    threshold = max(2, (len(values.columns) + 1) // 2)
    return [
        i
        for i in range(len(values))
        if sum(isinstance(v, str) and v.strip().lower() in forms for v in values.iloc[i].tolist())
        >= threshold
    ]


@pytest.mark.parametrize("seed", range(40))
def test_header_like_rows_are_those_of_the_definition(seed: int) -> None:
    rng = random.Random(seed)
    cells = [*sorted(_HEADER_FORMS)[:30], " Họ và tên ", "NGÀY SINH\t", None, "x", "1", "Nam"]
    width, rows = rng.randint(1, 9), rng.randint(0, 80)
    values = pd.DataFrame(
        {
            f"c{i}": pd.array([rng.choice(cells) for _ in range(rows)], "string")
            for i in range(width)
        }
    )
    forms = set(_HEADER_FORMS) | {c.lower() for c in values.columns}
    assert list(_header_like_rows(values, forms)) == _header_like_by_definition(values, forms)


def _problem_by_definition(fields: list[str], header: list[str]) -> str | None:
    for name, cell in zip(header, fields, strict=True):
        if "\x00" in cell:
            return f"the cell under {name!r} contains a NUL byte"
        if len(cell) > MAX_CELL_CHARS:
            return f"the cell under {name!r} is longer than {MAX_CELL_CHARS} characters"
    return None


def test_nul_bytes_and_long_cells_are_found_in_plain_and_quoted_lines() -> None:
    long = "Â" * (MAX_CELL_CHARS + 1)
    short = "Ê" * MAX_CELL_CHARS
    rows = [
        ["1", "An", "x"],
        ["2", "B\x00", "y"],  # a NUL, in a line split plainly
        ["3", long, "z"],  # too long
        ["4", short, "w"],  # as long as allowed
        ["5", '"C\x00, quoted"', "v"],  # a NUL in a quoted cell
        ["6", f'"{long[:600]}\n{long[600:]}"', "u"],  # too long across two lines
        ["7", f'"{short[:499]}\n{short[500:]}"', "t"],  # as long as allowed, two lines
        ["8", "D", long + "\x00"],  # two problems: the first column's is named
    ]
    text = "ma,ten,ghi_chu\n" + "\n".join(",".join(r) for r in rows) + "\n"
    records = read_records(text)
    header = ["ma", "ten", "ghi_chu"]
    expected = [_problem_by_definition([c.strip('"') for c in row], header) for row in rows]
    assert records.problem.tolist() == [pd.NA if p is None else p for p in expected]
    first_lines = np.cumsum([1] + [",".join(r).count("\n") + 1 for r in rows[:-1]])
    assert records.row_number.tolist() == first_lines.tolist()


def _concatenated(blocks: list[TextRecords]) -> tuple[pd.DataFrame, list[int], int, int]:
    values = pd.concat([b.values for b in blocks], ignore_index=True)
    values["problem"] = pd.concat([b.problem for b in blocks], ignore_index=True)
    values["text"] = pd.concat([b.text for b in blocks], ignore_index=True)
    rows = [int(r) for b in blocks for r in b.row_number]
    return (
        values,
        rows,
        sum(b.data_lines for b in blocks),
        sum(b.continuation_lines for b in blocks),
    )


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("lines", [1, 2, 3, 7])
def test_blocks_of_lines_read_as_the_whole_file(seed: int, lines: int) -> None:
    """Quoted cells across lines, quotes left open, lines of the wrong width, blank
    lines and every kind of line break: cut into blocks, the file reads the same."""
    rng = random.Random(seed)
    kinds = [
        "1,An,x",
        '2,"Bình, Thị",y',
        '3,"dòng\nhai",z',
        '4,"mở,w',
        "5,thiếu",
        "",
        "6,a,b,c",
        '7,"ba\ndòng\nđây",v',
        "8,Đ\x00,u",
        "ma,ten,ghi_chu",
    ]
    body = [rng.choice(kinds) for _ in range(rng.randint(0, 30))]
    breaks = [rng.choice(["\n", "\r\n", "\n", "\r"]) for _ in body]
    text = "ma,ten,ghi_chu\n" + "".join(b + e for b, e in zip(body, breaks, strict=True))
    if body and rng.random() < 0.5:
        text = text[: -len(breaks[-1])]  # no line break after the last line
    whole = read_records(text)
    blocks = list(record_blocks(text, lines))
    values, rows, data_lines, continuation = _concatenated(blocks)
    expected = whole.values.assign(problem=whole.problem, text=whole.text)
    pd.testing.assert_frame_equal(values, expected)
    assert rows == whole.row_number.tolist()
    assert (data_lines, continuation) == (whole.data_lines, whole.continuation_lines)


def test_a_province_loaded_in_blocks_is_the_file_loaded_whole(tmp_path) -> None:
    (tmp_path / "persons.csv").write_text(
        "Số định danh cá nhân,Họ và tên,Ngày sinh,Giới tính,Mã hộ,Quan hệ với chủ hộ,Dân tộc\n"
        + "".join(
            f'0010900{i:05d},"Nguyễn Văn {i}",0{i % 9 + 1}/03/1990,Nam,H{i // 4},Con,Kinh\n'
            if i % 5
            else f"0010900{i:05d},Lê Thị {i},1{i % 9}/3/90,Nữ,H{i // 4},Chủ hộ,Tày\n"
            for i in range(53)
        ),
        encoding="utf-8",
    )
    landing_file = find_landing_file(tmp_path, "persons")
    whole = load_raw(landing_file)
    blocks = list(load_raw_blocks(landing_file, lines=10))
    assert len(blocks) > 1
    pd.testing.assert_frame_equal(pd.concat(blocks, ignore_index=True), whole)
    pd.testing.assert_frame_equal(landed_file_row(blocks[-1]), landed_file_row(whole))
