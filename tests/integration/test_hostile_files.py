"""Files someone else made, carelessly or with intent, dropped into the landing folder.

Every file here is written by the test itself, not by ``hamlets synth``: headers that
carry SQL, a stray quote that a lenient CSV reader lets swallow thousands of lines, NUL
bytes, repeated or empty headers, links and archives that point outside the folder.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import zipfile
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from assets.raw.headers import LandingFileError
from assets.raw.landing import Landing, find_landing_file, load_raw
from assets.raw.records import MAX_CELL_CHARS, read_records
from assets.staging.tables import stage_persons
from assets.warehouse import Warehouse
from expectations.schemas import LAYERS, TABLES
from pipelines.runner import run_province
from pipelines.settings import Settings

HEADER = "Số ĐDCN,Họ và tên,Ngày sinh,Giới tính,Mã hộ,Quan hệ với chủ hộ,Dân tộc"
HOSTILE_HEADERS = [
    'Ghi chú" VARCHAR); DROP SCHEMA marts CASCADE; --',
    "x\"; COPY staging.persons TO '{leak}'; --",
    "note /* c */ ; SELECT 1",
    "SELECT",
    'a""b',
]


def _person(i: int) -> list[str]:
    return [f"0040900{i:05d}", f"Nông Văn {i}", "05/03/1990", "Nam", f"H{i}", "Chủ hộ", "Tày"]


def _persons_csv(rows: list[list[str]], header: str = HEADER) -> str:
    return "\n".join([header, *(",".join(r) for r in rows)]) + "\n"


def _load_persons(tmp_path: Path, text: str) -> pd.DataFrame:
    (tmp_path / "persons.csv").write_text(text, encoding="utf-8")
    return load_raw(find_landing_file(tmp_path, "persons"))


# --- Every physical record is counted, none swallowed -------------------------------


def test_a_stray_quote_swallows_nothing(tmp_path):
    """``"Nông`` opens a quoted cell that a lenient reader closes only at the next quote,
    hundreds of lines later: those records vanished while landed = staged + rejected
    held. Now the one line is rejected, named, and every other record is staged."""
    rows = [_person(i) for i in range(1, 501)]
    rows[9][1] = '"Nông Văn Mười'  # line 11 of the file: a quote that never closes
    rows[400][1] = 'Lò Thị "Bé"'  # a later quote mid-cell, which a lenient reader pairs
    raw = _load_persons(tmp_path, _persons_csv(rows))
    staged = stage_persons(raw)
    landed = raw.attrs["landed_file"]
    assert landed["data_lines"] == 500 and landed["records"] == 500
    assert len(staged.table) == 499 and len(staged.rejected) == 1
    rejected = staged.rejected.iloc[0]
    assert rejected["source_row_number"] == 10
    assert "quote opens a cell and is never closed" in rejected["reason"]
    assert staged.table["full_name"].iloc[400 - 1] == 'Lò Thị "Bé"'
    # Row numbers stay those of the file after the rejected line.
    assert staged.table["record_id"].iloc[9] == "persons.csv:11"
    # The reader pandas used before swallows the lines up to the next quote.
    import io

    lenient = pd.read_csv(io.StringIO(_persons_csv(rows)), dtype=str)
    assert len(lenient) < 500


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("004090000999,Ba,1990,Nam,H9", "the line has 5 fields; the header has 7"),
        ("004090000999,Ba,1990,Nam,H9,Con,Tày,x,y", "the line has 9 fields; the header has 7"),
        ('004090000999,"Ba"x,1990,Nam,H9,Con,Tày', "malformed quoting"),
        ("004090000999,B\x00a,1990,Nam,H9,Con,Tày", "NUL byte"),
        (f"004090000999,{'A' * (MAX_CELL_CHARS + 1)},1990,Nam,H9,Con,Tày", "longer than"),
        (HEADER, "the header row repeats here"),
    ],
)
def test_unreadable_lines_are_rejected_with_line_and_reason(tmp_path, line, reason):
    text = _persons_csv([_person(1)]) + line + "\n" + ",".join(_person(3)) + "\n"
    raw = _load_persons(tmp_path, text)
    staged = stage_persons(raw)
    assert staged.table["record_id"].tolist() == ["persons.csv:1", "persons.csv:3"]
    assert staged.rejected["source_row_number"].tolist() == [2]
    assert reason in staged.rejected["reason"].iloc[0]
    assert raw["unread_text"].iloc[1].startswith("004090000999") or reason.startswith("the header")


def test_a_quoted_cell_over_two_lines_is_one_record(tmp_path):
    """Excel writes Alt+Enter inside a cell as a quoted line break: one record, two
    lines, both accounted for; the next record keeps its line's row number."""
    text = _persons_csv([_person(1)]) + '004090000002,"Lò Văn\nHai",1990,Nam,H2,Con,Tày\n'
    text += ",".join(_person(3)) + "\n"
    raw = _load_persons(tmp_path, text)
    assert raw["full_name"].tolist() == ["Nông Văn 1", "Lò Văn\nHai", "Nông Văn 3"]
    assert raw["source_row_number"].tolist() == [1, 2, 4]
    landed = raw.attrs["landed_file"]
    assert (landed["data_lines"], landed["continuation_lines"], landed["records"]) == (4, 1, 3)


def test_line_breaks_of_every_kind_are_counted():
    for eol in ("\n", "\r\n", "\r"):
        records = read_records(eol.join(["a,b", "1,2", "3,4", "", "5,6"]) + eol)
        assert records.data_lines == 4 and len(records.values) == 4
        assert records.row_number.tolist() == [1, 2, 3, 4]


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (HEADER + ",Ghi chú,Ghi chú", "the header repeats 'Ghi chú' in columns"),
        (HEADER.replace("Họ và tên", "Số ĐDCN"), "the header repeats 'Số ĐDCN'"),
        (HEADER + ",Họ tên", "headers 'Họ và tên' and 'Họ tên' both name 'full_name'"),
        (HEADER + ",", "column 8 has no header but holds values"),
    ],
)
def test_headers_a_reader_would_rename_are_refused(tmp_path, header, message):
    rows = [[*_person(1), "x"]] if header.endswith(",") else [_person(1)]
    if header.count(",") > 6 and not header.endswith(","):
        rows = [[*_person(1), *[""] * (header.count(",") - 6)]]
    with pytest.raises(LandingFileError, match=r"persons\.csv: ") as error:
        _load_persons(tmp_path, _persons_csv(rows, header))
    assert message in str(error.value)


def test_an_empty_trailing_column_is_dropped_not_refused(tmp_path):
    raw = _load_persons(tmp_path, _persons_csv([[*_person(1), ""]], HEADER + ","))
    assert raw["citizen_id"].tolist() == ["004090000001"]


def test_columns_that_change_meaning_part_way_are_refused(tmp_path):
    other = "Họ và tên,Số ĐDCN,Ngày sinh,Giới tính,Mã hộ,Quan hệ với chủ hộ,Dân tộc"
    text = _persons_csv([_person(1)]) + other + "\n" + ",".join(_person(2)) + "\n"
    with pytest.raises(LandingFileError, match="data row 2 is another header"):
        _load_persons(tmp_path, text)


# --- Landing files stay in the landing folder ---------------------------------------


def _outside(tmp_path: Path) -> Path:
    secret = tmp_path / "outside" / "secret.csv"
    secret.parent.mkdir()
    secret.write_text(_persons_csv([_person(7)]), encoding="utf-8")
    return secret


def test_a_link_to_a_file_outside_is_refused(tmp_path):
    landing = tmp_path / "landing" / "04"
    landing.mkdir(parents=True)
    (landing / "persons.csv").symlink_to(_outside(tmp_path))
    with pytest.raises(LandingFileError, match=r"persons\.csv: is a symbolic link"):
        Landing(tmp_path / "landing").for_province("04").file("persons")


def test_a_linked_province_folder_is_refused(tmp_path):
    secret = _outside(tmp_path)
    (tmp_path / "landing").mkdir()
    (tmp_path / "landing" / "04").symlink_to(secret.parent, target_is_directory=True)
    landing = Landing(tmp_path / "landing")
    assert landing.province_codes() == ["04"]  # listed, so its run fails by name
    with pytest.raises(LandingFileError, match="04: is a symbolic link"):
        landing.for_province("04").file("persons")


def test_a_fifo_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "persons.csv")
    assert stat.S_ISFIFO(os.lstat(tmp_path / "persons.csv").st_mode)
    with pytest.raises(LandingFileError, match="is not a regular file"):
        find_landing_file(tmp_path, "persons")


def _zip(path: Path, members: dict[str, bytes], *, link: str | None = None) -> None:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        if link:
            info = zipfile.ZipInfo(link)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "/etc/passwd")


@pytest.mark.parametrize(
    ("members", "link", "message"),
    [
        ({"../../evil.shp": b"x"}, None, "points outside the archive"),
        ({"/etc/evil.shp": b"x"}, None, "points outside the archive"),
        ({"ok.shp": b"x"}, "ok.dbf", "is a symbolic link"),
        ({"bomb.dbf": b"\0" * (64 << 20)}, None, "the archive expands to"),
    ],
)
def test_archives_that_escape_or_explode_are_refused(tmp_path, members, link, message):
    landing = tmp_path / "04"
    landing.mkdir()
    (landing / "communes.geojson").write_text("{}")
    _zip(landing / "hamlet_boundaries.zip", members, link=link)
    with pytest.raises(LandingFileError, match=message):
        load_raw(find_landing_file(landing, "hamlet_boundaries"))


# --- Identifiers never come from data: a whole run on both warehouses ---------------


def _hostile_province(small_landing: Path, tmp_path: Path) -> tuple[Path, Path, int]:
    """The small province with SQL in extra headers of the persons and households files
    and one stray quote; returns the landing root, the file a COPY would write, and the
    persons file's record count."""
    leak = tmp_path / "leak.csv"
    root = tmp_path / "hostile"
    shutil.copytree(small_landing, root / "04", ignore=shutil.ignore_patterns("ground_truth"))
    headers = [h.format(leak=leak) for h in HOSTILE_HEADERS]
    for name in ("persons.csv", "households.csv"):
        path = root / "04" / name
        lines = path.read_text(encoding="utf-8-sig").splitlines()
        quoted = ",".join('"' + h.replace('"', '""') + '"' for h in headers)
        lines[0] += "," + quoted
        lines[1:] = [line + "," + ",".join(["v"] * len(headers)) for line in lines[1:]]
        if name == "persons.csv":
            cells = lines[5].split(",")
            cells[1] = '"' + cells[1]  # a stray quote in line 6's name
            lines[5] = ",".join(cells)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    records = len((root / "04" / "persons.csv").read_text(encoding="utf-8").splitlines()) - 1
    return root, leak, records


def _tables(warehouse: Warehouse) -> dict[str, list[str]]:
    return {layer: warehouse.table_names(layer) for layer in LAYERS}


@pytest.mark.parametrize("backend", ["duckdb", "postgis"])
def test_sql_in_headers_changes_nothing_but_data(small_landing, tmp_path, backend, request):
    root, leak, records = _hostile_province(small_landing, tmp_path)
    url = (
        f"duckdb:///{tmp_path / 'w.duckdb'}"
        if backend == "duckdb"
        else request.getfixturevalue("postgres_url")
    )
    settings = Settings(warehouse_url=url, landing_root=root, exports_dir=tmp_path / "exports")
    report = run_province(settings, instance=dg.DagsterInstance.ephemeral())
    warehouse = Warehouse(url)
    assert report.success, report.errors
    assert not leak.exists()
    tables = _tables(warehouse)
    assert "merger_options" in tables["marts"]
    for layer, names in tables.items():  # no table or view but the contracts'
        assert all(f"{layer}.{n.removesuffix('_current')}" in TABLES for n in names), names
    for role in ("persons", "households"):
        raw = warehouse.for_province("04").read_table(f"raw.{role}")
        assert list(raw.columns) == list(TABLES[f"raw.{role}"].columns)
        kept = json.loads(raw["extra_values"].dropna().iloc[0])
        assert set(kept) == {h.format(leak=leak) for h in HOSTILE_HEADERS}
    # The stray quote cost one record, counted from the file and named.
    rejected = warehouse.for_province("04").read_table(
        "staging.rejected_rows", where="table_name = ?", params=["staging.persons"]
    )
    unread = rejected[rejected["reason"].str.startswith("the record cannot be read")]
    assert unread["source_row_number"].tolist() == [5]
    persons = warehouse.for_province("04").query(
        "SELECT count(*) AS n FROM staging.persons WHERE province_code = ?", ["04"]
    )
    assert int(persons["n"].iloc[0]) + len(rejected) == records
    assert "rows_reconcile" not in report.failed_checks


def test_a_record_lost_between_file_and_raw_fails_reconciliation(published, tmp_path):
    """The count taken from the file catches a raw table short of a record."""
    from assets.staging.defs import REJECTED_ROWS, STAGED_FROM
    from assets.staging.reconcile import reconcile_counts

    settings, _ = published
    copy = tmp_path / "w.duckdb"
    shutil.copy(Warehouse(settings.warehouse_url).path, copy)
    warehouse = Warehouse(f"duckdb:///{copy}").for_province("04")
    table = "staging.persons"
    assert reconcile_counts(warehouse, table, STAGED_FROM[table], REJECTED_ROWS)["balanced"].all()
    with warehouse.transaction() as con:
        con.execute("DELETE FROM raw.persons WHERE source_row_number = 3")
        con.execute("DELETE FROM staging.persons WHERE source_row_number = 3")
    counts = reconcile_counts(warehouse, table, STAGED_FROM[table], REJECTED_ROWS)
    assert not counts["balanced"].all()
    row = counts.iloc[0]
    assert row["in_file"] == row["landed"] + 1


def test_a_repeated_household_code_is_rejected_with_its_rows(tmp_path):
    """A repeated household number used to stop the run with the driver's "duplicate
    key" text, quoting the number; now the later row is rejected, naming the row kept."""
    from assets.staging.tables import stage_households

    text = "Mã hộ,Mã thôn/TDP\nHK0417,T1\nHK0418,T1\nHK0417,T2\n"
    (tmp_path / "households.csv").write_text(text, encoding="utf-8")
    staged = stage_households(load_raw(find_landing_file(tmp_path, "households")))
    assert staged.table["household_id"].tolist() == ["HK0417", "HK0418"]
    assert staged.rejected["source_row_number"].tolist() == [3]
    reason = staged.rejected["reason"].iloc[0]
    assert "repeats row 1" in reason
    # A household number is personal data: the reason names the rows, not the number.
    assert "HK0417" not in reason


def test_a_hostile_run_leaks_nothing_to_stderr_or_dagster_home(small_landing, tmp_path):
    """The CLI run of the hostile province (SQL headers, a stray quote, a repeated
    household, a line with a NUL byte): its stderr, stdout and every file of its
    DAGSTER_HOME hold no name, citizen ID, household number or birth date."""
    import subprocess
    import sys

    from test_leaks import Scan

    root, _, _ = _hostile_province(small_landing, tmp_path)
    households = root / "04" / "households.csv"
    lines = households.read_text(encoding="utf-8").splitlines()
    households.write_text("\n".join([*lines, lines[2]]) + "\n", encoding="utf-8")
    persons = root / "04" / "persons.csv"
    person_lines = persons.read_text(encoding="utf-8").splitlines()
    person_lines[8] = person_lines[8].replace(",", ",\x00", 1)
    persons.write_text("\n".join(person_lines) + "\n", encoding="utf-8")
    home = tmp_path / "dagster_home"
    home.mkdir()
    warehouse = tmp_path / "w.duckdb"
    env = {**os.environ, "DAGSTER_HOME": str(home), "HAMLETS_EXPORTS_DIR": str(tmp_path / "x")}
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "hamlets"),
            *("run", "--landing", str(root), "--province", "04", "--warehouse", str(warehouse)),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    staged = Warehouse(f"duckdb:///{warehouse}")
    persons_table = staged.read_table("staging.persons")
    household_ids = set(staged.read_table("raw.households")["household_id"].dropna())
    needles = set(persons_table["citizen_id"].dropna()) | set(persons_table["full_name"].dropna())
    needles |= household_ids | set(persons_table["birth_date"].dropna().dt.strftime("%d/%m/%Y"))
    found = Scan(needles)
    found.text("stderr", "hamlets run", done.stderr)
    found.text("stdout", "hamlets run", done.stdout)
    for path in sorted(p for p in home.rglob("*") if p.is_file()):
        found.text("dagster home", path.name, path.read_bytes().decode("utf-8", "ignore"))
    assert found.read["dagster home"] > 0 and len(done.stderr) > 0
    assert not found.hits, found.hits
