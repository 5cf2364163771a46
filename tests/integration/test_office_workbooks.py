"""Workbooks as offices type them stage the same records as the clean CSV.

Each workbook is built here (openpyxl for .xlsx, pandas' odf writer for .ods; the .xls
is a committed fixture, ``tests/fixtures/make_persons_xls.py``) with a title block, a
two-row header or a column-number row, an STT column, several sheets beside a summary
sheet and merged household codes, and is staged next to the same records as a CSV.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import shutil
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from assets.raw.headers import LandingFileError
from assets.raw.landing import find_landing_file, load_raw
from assets.raw.workbooks import cell_text
from assets.staging.tables import stage_households, stage_persons
from synthetic.files import HOUSEHOLD_HEADERS, PERSON_HEADERS
from synthetic.province import synthesise_province

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
VALUE_COLUMNS = {
    "persons": [
        "citizen_id",
        "full_name",
        "birth_date",
        "birth_date_is_partial",
        "sex",
        "household_id",
        "relation_to_head",
        "is_household_head",
        "ethnicity",
    ],
    "households": ["household_id", "hamlet_code", "longitude", "latitude"],
}
MOTTO = ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc")


def _values(table: pd.DataFrame, role: str) -> pd.DataFrame:
    columns = VALUE_COLUMNS[role]
    return table[columns].sort_values(columns[:2], ignore_index=True)


def _staged(folder: Path, role: str):
    raw = load_raw(find_landing_file(folder, role))
    stage = stage_persons if role == "persons" else stage_households
    return raw, stage(raw)


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> Path:
    """A small clean synthetic province: its CSVs are what the workbooks must equal."""
    out = tmp_path_factory.mktemp("clean") / "04"
    synthesise_province(out, seed=5, households=60, n_communes=2, geometry_errors=False)
    return out


def _csv(folder: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(folder / name, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def _office_sheet(ws, title: str, upper: list[str], lower: list[str] | None, rows, merge_col):
    """A sheet as a commune types it: motto and title merged across, a header (two rows
    when ``lower`` is given: cells merged down over both, group titles across), a
    column-number row, STT, and column ``merge_col`` merged down over equal values."""
    width = len(upper) + 1
    last = openpyxl.utils.get_column_letter(width)
    for r, text in enumerate([*MOTTO, "UBND XÃ QUANG TRUNG", title, "Ngày 05 tháng 01 năm 2026"]):
        ws.cell(r + 1, 1, text)
        if r != 2:
            ws.merge_cells(f"A{r + 1}:{last}{r + 1}")
    top = 7
    heads = ["STT", *upper]
    lows = [None, *(lower or [None] * len(upper))]
    for c, (head, low) in enumerate(zip(heads, lows, strict=True), start=1):
        ws.cell(top, c, head)
        if lower is not None and low is None:
            ws.merge_cells(start_row=top, start_column=c, end_row=top + 1, end_column=c)
        elif low is not None:
            ws.cell(top + 1, c, low)
    if lower is not None:  # group titles: equal upper cells over sub-headers, merged across
        c = 2
        while c <= width:
            end = c
            while end + 1 <= width and lows[end] is not None and heads[end] == heads[c - 1]:
                end += 1
            if end > c:
                for blank in range(c + 1, end + 1):
                    ws.cell(top, blank).value = None
                ws.merge_cells(start_row=top, start_column=c, end_row=top, end_column=end)
            c = end + 1
    numbers = top + (2 if lower is not None else 1)
    for c in range(1, width + 1):
        ws.cell(numbers, c, f"({c})")
    r = numbers + 1
    start = r
    for i, values in enumerate(rows, start=1):
        ws.cell(r, 1, i)
        for c, value in enumerate(values, start=2):
            if c - 2 == merge_col and i > 1 and rows[i - 2][merge_col] == value:
                continue  # written once, merged below
            ws.cell(r, c, value)
        r += 1
    for c in [merge_col + 2] if merge_col is not None else []:
        run = start
        for rr in range(start + 1, r + 1):
            if rr == r or rows[rr - start][merge_col] != rows[run - start][merge_col]:
                if rr - 1 > run:
                    ws.merge_cells(start_row=run, start_column=c, end_row=rr - 1, end_column=c)
                run = rr
    ws.cell(r, 1, "Tổng cộng")
    ws.merge_cells(start_row=r, start_column=1, end_row=r, end_column=2)
    ws.cell(r, 4, len(rows))
    return numbers


def _summary_sheet(ws, counts: dict[str, int]) -> None:
    ws["A1"] = "TỔNG HỢP NHÂN KHẨU THEO THÔN"
    for c, head in enumerate(("STT", "Thôn", "Số hộ", "Số nhân khẩu"), start=1):
        ws.cell(3, c, head)
    for r, (hamlet, n) in enumerate(counts.items(), start=4):
        ws.cell(r, 1, r - 3)
        ws.cell(r, 2, hamlet)
        ws.cell(r, 4, n)


def test_persons_workbook_with_title_block_sheets_and_merges_stages_like_the_csv(clean, tmp_path):
    persons = _csv(clean, "persons.csv")
    households = _csv(clean, "households.csv")
    hamlet_of = dict(zip(households["Mã hộ"], households["Mã thôn/TDP"], strict=True))
    persons["hamlet"] = persons["Mã hộ"].map(hamlet_of)
    persons = persons.sort_values(["hamlet", "Mã hộ"], kind="stable")
    # Birth dates as real date cells; a two-row header with the household's columns
    # under a group title; one sheet per hamlet after a summary sheet.
    upper = ["Họ và tên", "Ngày sinh", "Giới tính", "Số ĐDCN", "Hộ", "Hộ", "Dân tộc"]
    lower = [None, None, None, None, "Mã hộ", "Quan hệ với chủ hộ", None]
    order = ["Họ và tên", "Ngày sinh", "Giới tính", "Số ĐDCN", "Mã hộ", "Quan hệ với chủ hộ"]
    book = openpyxl.Workbook()
    _summary_sheet(book.active, persons.groupby("hamlet").size().to_dict())
    book.active.title = "Tổng hợp"
    counts = {}
    for hamlet, group in persons.groupby("hamlet", sort=True):
        rows = []
        for record in group.itertuples(index=False):
            values = dict(zip(persons.columns, record, strict=True))
            day, month, year = (int(x) for x in values["Ngày sinh"].split("/"))
            values["Ngày sinh"] = dt.date(year, month, day)
            rows.append([values[h] for h in order] + [values["Dân tộc"]])
        _office_sheet(
            book.create_sheet(hamlet),
            f"DANH SÁCH NHÂN KHẨU THÔN {hamlet}",
            upper,
            lower,
            rows,
            merge_col=4,
        )
        counts[hamlet] = len(rows) + 1  # and its totals row
    folder = tmp_path / "04"
    folder.mkdir()
    book.save(folder / "persons.xlsx")

    raw, staged = _staged(folder, "persons")
    _clean_raw, clean_staged = _staged(clean, "persons")
    pd.testing.assert_frame_equal(
        _values(staged.table, "persons"), _values(clean_staged.table, "persons")
    )
    # What was skipped is reported: the title block, the second header row, the
    # column-number row, the summary sheet; records per sheet; nothing lost.
    landed = raw.attrs["landed_file"]
    assert landed["header_row_number"] == 7
    sheets = json.loads(landed["workbook_sheets"])
    assert sheets[0]["sheet"] == "Tổng hợp" and "summary" in sheets[0]["skipped"]
    assert {s["sheet"]: s["records"] for s in sheets[1:]} == counts
    assert all(s["rows_above_header"] == 6 and s["header_rows"] == 2 for s in sheets[1:])
    assert all(s["column_number_row"] == 9 for s in sheets[1:])
    assert landed["rows_skipped"] == (6 + 1 + 1) * len(counts)  # title, 2nd header, numbers
    assert landed["data_lines"] == len(raw) == len(staged.table) + len(staged.rejected)
    assert len(staged.rejected) == len(counts)
    first = sorted(counts)[0]
    assert staged.rejected["reason"].str.contains("totals row").all()
    assert (
        f"sheet '{first}' row {10 + counts[first] - 1}: the record cannot be read"
        in staged.rejected["reason"].tolist()[0]
    )
    # Lineage: the sheet and the row the clerk sees in Excel; record ids name them.
    assert raw["source_sheet"].iloc[0] == first and raw["sheet_row_number"].iloc[0] == 10
    assert staged.table["record_id"].iloc[0] == f"persons.xlsx:{first}!10"
    assert raw["source_row_number"].is_unique


def test_households_workbook_with_group_title_over_coordinates(clean, tmp_path):
    households = _csv(clean, "households.csv")
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = "Hộ gia đình"
    upper = ["Mã hộ", "Mã thôn/TDP", "Tọa độ", "Tọa độ"]
    lower = [None, None, "Kinh độ", "Vĩ độ"]
    rows = households[list(HOUSEHOLD_HEADERS)].values.tolist()
    _office_sheet(ws, "DANH SÁCH HỘ GIA ĐÌNH", upper, lower, rows, merge_col=1)
    folder = tmp_path / "04"
    folder.mkdir()
    book.save(folder / "households.xlsx")

    raw, staged = _staged(folder, "households")
    _raw, clean_staged = _staged(clean, "households")
    pd.testing.assert_frame_equal(
        _values(staged.table, "households"), _values(clean_staged.table, "households")
    )
    assert json.loads(raw.attrs["landed_file"]["unrecognised_headers"]) == []
    assert raw.attrs["landed_file"]["rows_skipped"] == 6 + 1 + 1


def test_legacy_xls_fixture_stages_like_the_same_records_as_csv(tmp_path):
    spec = importlib.util.spec_from_file_location("make_xls", FIXTURES / "make_persons_xls.py")
    fixture = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fixture)
    xls, csv = tmp_path / "xls", tmp_path / "csv"
    xls.mkdir()
    csv.mkdir()
    shutil.copy(FIXTURES / "persons.xls", xls / "persons.xls")
    pd.DataFrame(
        [
            [cid, name, born.strftime("%d/%m/%Y"), sex, household, relation, ethnicity]
            for _s, cid, name, born, sex, household, relation, ethnicity in fixture.PERSONS
        ],
        columns=list(PERSON_HEADERS),
    ).to_csv(csv / "persons.csv", index=False)

    raw, staged = _staged(xls, "persons")
    _raw, from_csv = _staged(csv, "persons")
    pd.testing.assert_frame_equal(
        _values(staged.table, "persons"), _values(from_csv.table, "persons")
    )
    sheets = json.loads(raw.attrs["landed_file"]["workbook_sheets"])
    assert [s["sheet"] for s in sheets] == ["Thôn Nà Mò", "Thôn Pác Bó", "Tổng hợp"]
    assert [s.get("merged_cells_filled") for s in sheets[:2]] == [2, 1]
    # "Thôn" is a known header (a hamlet given by name), so the summary has a header
    # row; it shares none of the data sheets' columns.
    assert "a summary or notes sheet" in sheets[2]["skipped"]
    assert "records" not in sheets[2]
    # The totals row and the signature line below it: rejected, named by sheet and row.
    assert sorted(staged.rejected["reason"].str.extract(r"^(sheet '.*' row \d+)")[0]) == [
        "sheet 'Thôn Nà Mò' row 12",
        "sheet 'Thôn Nà Mò' row 14",
        "sheet 'Thôn Pác Bó' row 10",
        "sheet 'Thôn Pác Bó' row 12",
    ]


def test_ods_with_title_block_and_sheets_stages_like_the_csv(clean, tmp_path):
    persons = _csv(clean, "persons.csv")
    households = _csv(clean, "households.csv")
    hamlet_of = dict(zip(households["Mã hộ"], households["Mã thôn/TDP"], strict=True))
    persons["Ngày sinh"] = pd.to_datetime(persons["Ngày sinh"], format="%d/%m/%Y").dt.date
    folder = tmp_path / "04"
    folder.mkdir()
    with pd.ExcelWriter(folder / "persons.ods", engine="odf") as writer:
        for hamlet, group in persons.groupby(persons["Mã hộ"].map(hamlet_of), sort=True):
            title = pd.DataFrame([[MOTTO[0]], [MOTTO[1]], [f"DANH SÁCH NHÂN KHẨU THÔN {hamlet}"]])
            title.to_excel(writer, sheet_name=hamlet, header=False, index=False)
            group.insert(0, "STT", range(1, len(group) + 1))
            group.to_excel(writer, sheet_name=hamlet, startrow=4, index=False)
        pd.DataFrame({"Ghi chú": ["Số liệu đến ngày 05/01/2026"]}).to_excel(
            writer, sheet_name="Ghi chú", index=False
        )

    raw, staged = _staged(folder, "persons")
    _raw, clean_staged = _staged(clean, "persons")
    pd.testing.assert_frame_equal(
        _values(staged.table, "persons"), _values(clean_staged.table, "persons")
    )
    assert staged.rejected.empty
    sheets = json.loads(raw.attrs["landed_file"]["workbook_sheets"])
    assert sheets[-1]["sheet"] == "Ghi chú" and "no header row" in sheets[-1]["skipped"]
    # pandas' odf writer puts ``startrow`` blank rows after the title it wrote first.
    assert all(s["header_row"] == 8 and s["rows_above_header"] == 7 for s in sheets[:-1])


def test_cells_become_text_as_excel_shows_them():
    assert cell_text(40010010001.0) == "40010010001"
    assert cell_text(106.25) == "106.25"
    assert cell_text(1e-05) == "0.00001"
    assert cell_text(dt.date(1990, 3, 5)) == "1990-03-05"
    assert cell_text(dt.datetime(1990, 3, 5)) == "1990-03-05"
    assert cell_text(dt.datetime(2020, 1, 2, 3, 4, 5)) == "2020-01-02 03:04:05"
    assert cell_text(True) == "TRUE" and cell_text(7) == "7"


def _simple_book(path: Path, sheets: dict[str, list[list[object]]]) -> openpyxl.Workbook:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        ws = book.create_sheet(name)
        for row in rows:
            ws.append(row)
    return book


HEADER = list(PERSON_HEADERS)
ROW = ["004090001234", "Nông Văn Ấn", "05/03/1990", "Nam", "H01", "Chủ hộ", "Tày"]


def test_error_cells_are_read_problems_naming_the_cell_not_values(tmp_path):
    book = _simple_book(tmp_path, {"Thôn A": [HEADER, ROW, [*ROW[:1], "x", *ROW[2:]]]})
    cell = book["Thôn A"]["B3"]
    cell.value, cell.data_type = "#N/A", "e"  # a formula's cached error, as Excel saves it
    book.save(tmp_path / "persons.xlsx")
    raw, staged = _staged(tmp_path, "persons")
    assert raw["read_problem"].tolist()[1] == "cell B3 holds the Excel error #N/A"
    assert len(staged.table) == 1
    assert staged.rejected["reason"].tolist() == [
        "sheet 'Thôn A' row 3: the record cannot be read: cell B3 holds the Excel error #N/A"
    ]


def test_merged_values_fill_only_within_the_merge(tmp_path):
    rows = [HEADER, ROW, [*ROW[:4], None, *ROW[5:]], [*ROW[:4], None, *ROW[5:]]]
    rows[2][0], rows[3][0] = "004190005678", "004215009999"
    book = _simple_book(tmp_path, {"Thôn A": rows})
    book["Thôn A"].merge_cells("E2:E3")  # the household code over two members; row 4 empty
    book.save(tmp_path / "persons.xlsx")
    raw = load_raw(find_landing_file(tmp_path, "persons"))
    assert raw["household_id"].tolist() == ["H01", "H01", ""]


def test_a_data_sheet_whose_columns_differ_is_refused_naming_both_sheets(tmp_path):
    other = [h for h in HEADER if h != "Dân tộc"] + ["Nghề nghiệp"]
    _simple_book(tmp_path, {"Thôn A": [HEADER, ROW], "Thôn B": [other, ROW]}).save(
        tmp_path / "persons.xlsx"
    )
    with pytest.raises(LandingFileError, match="sheet 'Thôn B' has other columns than sheet"):
        load_raw(find_landing_file(tmp_path, "persons"))
