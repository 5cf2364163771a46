"""The warehouse on both backends: native geometry, contracts as DDL, atomic writes."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from assets.warehouse import Warehouse, WarehouseError, create_table_sql, duckdb_path_from_url
from expectations.schemas import DUCKDB_TYPES, TABLES, SchemaError


@pytest.fixture(params=["duckdb", "postgis"])
def warehouse(request, tmp_path) -> Warehouse:
    if request.param == "duckdb":
        return Warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    return Warehouse(request.getfixturevalue("postgres_url"))


def _communes() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "commune_code": ["00001", "00002"],
            "commune_name": ["Nà Rẻo", "Hòa An"],
            "unit_kind": ["xa", "phuong"],
            "province_code": ["04", "04"],
            "region": ["northern_midlands_mountains"] * 2,
            "area_km2": [1.5, 2.0],
            "source_file": ["communes.geojson"] * 2,
            "source_sha256": ["ab" * 32] * 2,
            "source_row_number": [1, 2],
            "load_id": ["ab" * 8] * 2,
        },
        geometry=[shapely.box(106, 22, 106.1, 22.1), shapely.box(106.1, 22, 106.2, 22.1)],
        crs="EPSG:4326",
    ).astype({c: "string" for c in ["commune_code", "commune_name", "unit_kind"]})


def test_url_forms(tmp_path):
    assert duckdb_path_from_url("duckdb:///data/w.duckdb").as_posix() == "data/w.duckdb"
    assert duckdb_path_from_url(str(tmp_path / "x.duckdb")) == tmp_path / "x.duckdb"
    postgres = Warehouse("postgresql+psycopg2://u:secret@h:5432/db")
    assert postgres.kind == "postgresql"
    assert postgres.location == "postgresql+psycopg2://u:***@h:5432/db"
    with pytest.raises(WarehouseError, match="not supported"):
        Warehouse("mysql://u@h/db").kind  # noqa: B018


def test_contract_table_round_trip_keeps_text_codes_and_native_geometry(warehouse):
    written = _communes()
    warehouse.write_table("staging.communes", written.astype({"province_code": "string"}))
    types = warehouse.query(
        "SELECT column_name, data_type, udt_name FROM information_schema.columns "
        "WHERE table_schema = 'staging' AND table_name = 'communes'"
    ).set_index("column_name")
    if warehouse.kind == "duckdb":
        assert types.loc["geometry", "data_type"] == "GEOMETRY"
    else:
        assert types.loc["geometry", "udt_name"] == "geometry"
        srid = warehouse.query("SELECT DISTINCT ST_SRID(geometry) AS srid FROM staging.communes")
        assert srid["srid"].tolist() == [4326]
        indexes = warehouse.query(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = 'staging' "
            "AND tablename = 'communes'"
        )["indexdef"]
        assert indexes.str.contains("USING gist (geometry)", regex=False).any()
    assert types.loc["commune_code", "data_type"] in ("VARCHAR", "text")
    area = warehouse.query("SELECT sum(ST_Area(geometry)) AS a FROM staging.communes")["a"][0]
    assert area == pytest.approx(0.02)
    back = warehouse.read_table("staging.communes")
    assert isinstance(back, gpd.GeoDataFrame)
    assert back.crs == "EPSG:4326"
    assert back["commune_code"].tolist() == ["00001", "00002"]
    assert back["commune_name"].tolist() == ["Nà Rẻo", "Hòa An"]
    assert back["source_row_number"].tolist() == [1, 2]
    assert back.geometry.geom_equals_exact(written.geometry, tolerance=0).all()


def test_primary_key_from_contract_is_enforced(warehouse):
    assert 'PRIMARY KEY ("commune_code")' in create_table_sql(
        TABLES["staging.communes"], DUCKDB_TYPES
    )
    twice = pd.concat([_communes(), _communes()], ignore_index=True)
    with pytest.raises(WarehouseError, match="repeat the table's key") as error:
        warehouse.write_table("staging.communes", gpd.GeoDataFrame(twice, crs="EPSG:4326"))
    # File and row, never the key's value (which may be personal), nor the driver's text.
    assert "communes.geojson row 1" in str(error.value)
    assert "00001" not in str(error.value)
    assert error.value.__suppress_context__ and error.value.__cause__ is None


def test_a_cast_error_names_file_and_row_not_the_value():
    persons = TABLES["staging.persons"]
    frame = persons.enforce(
        pd.DataFrame({c: pd.array([None], dtype="string") for c in persons.columns}).assign(
            record_id="p:1", source_file="persons.csv", source_row_number=7
        )
    )
    frame["birth_date"] = pd.Series(["Ngày sinh: 31/02/1990"], dtype=object)
    with pytest.raises(
        SchemaError, match=r"birth_date: cannot cast to date \(first at persons\.csv row 7\)"
    ) as error:
        persons.enforce(frame)
    assert "1990" not in str(error.value) and error.value.__suppress_context__


def test_failed_transaction_leaves_previous_rows(warehouse):
    warehouse.write_table("staging.communes", _communes())
    with pytest.raises(RuntimeError, match="boom"), warehouse.transaction() as con:
        warehouse.write_table("staging.communes", _communes().iloc[:1], con=con)
        raise RuntimeError("boom")
    assert len(warehouse.read_table("staging.communes")) == 2


def _rejected(table_name: str, n: int) -> pd.DataFrame:
    return TABLES["staging.rejected_rows"].enforce(
        pd.DataFrame(
            {
                "table_name": [table_name] * n,
                "source_file": ["f.csv"] * n,
                "source_row_number": range(1, n + 1),
                "field_name": ["*"] * n,
                "reason": ["r"] * n,
            }
        )
        .astype({"table_name": "string", "source_file": "string"})
        .astype({"field_name": "string", "reason": "string"})
    )


def test_replace_where_only_touches_matching_rows(warehouse):
    warehouse.write_table(
        "staging.rejected_rows", pd.concat([_rejected("a", 1), _rejected("b", 2)])
    )
    warehouse.write_table(
        "staging.rejected_rows", _rejected("a", 3), replace_where={"table_name": "a"}
    )
    back = warehouse.read_table("staging.rejected_rows")
    assert back["table_name"].value_counts().to_dict() == {"a": 3, "b": 2}


def _raw_households(n: int, **values: str) -> pd.DataFrame:
    contract = TABLES["raw.households"]
    frame = pd.DataFrame({c: pd.array([pd.NA] * n, dtype="string") for c in contract.columns})
    frame["household_id"] = [str(i) for i in range(1, n + 1)]
    frame["source_file"] = "households.csv"
    frame["source_row_number"] = range(1, n + 1)
    for column, value in values.items():
        frame[column] = value
    return contract.enforce(frame)


def test_types_and_missing_values_survive_the_round_trip(warehouse):
    persons = TABLES["quality.persons_clean"]
    frame = persons.enforce(
        pd.DataFrame(
            {
                "record_id": ["p:1", "p:2"],
                "citizen_id": ["004090001234", None],
                "full_name": ["Lường Văn Đức", ""],
                "birth_date": pd.to_datetime(["1990-03-05", None]),
                "sex": ["nam", None],
                "household_id": ["H1", "H1"],
                "relation_to_head": ["Chủ hộ", None],
                "is_household_head": [True, False],
                "ethnicity": [None, "Tày"],
            }
        )
        .astype({c: "string" for c in ["record_id", "citizen_id", "full_name", "sex"]})
        .astype({c: "string" for c in ["household_id", "relation_to_head", "ethnicity"]})
    )
    warehouse.write_table("quality.persons_clean", frame)
    back = warehouse.read_table("quality.persons_clean").sort_values("record_id")
    pd.testing.assert_frame_equal(back.reset_index(drop=True), frame, check_like=True)


def test_contract_rejects_personal_columns_outside_restricted_layers():
    persons = TABLES["staging.persons"]
    assert {"citizen_id", "full_name", "birth_date"} <= set(persons.personal_columns)
    for name, contract in TABLES.items():
        if contract.layer in ("planning", "marts"):
            assert not contract.personal_columns, name


def test_enforce_names_table_and_columns():
    with pytest.raises(SchemaError, match=r"staging\.communes: missing columns \['area_km2'"):
        TABLES["staging.communes"].enforce(_communes().drop(columns="area_km2"))
    numeric_codes = _communes().assign(commune_code=[1, 2])
    with pytest.raises(SchemaError, match="commune_code: cannot cast"):
        TABLES["staging.communes"].enforce(numeric_codes)


def test_writing_and_enforcing_without_a_copy_leave_the_callers_frame_as_it_was(warehouse):
    """Writes and reads enforce the contract without copying the columns already of
    their type: the caller's frame keeps its values, columns and types."""
    written = _communes().assign(source_row_number=["1", "2"])  # cast to int on write
    before = written.copy()
    warehouse.for_province("04").write_table("staging.communes", written)
    pd.testing.assert_frame_equal(written, before)
    contract = TABLES["staging.communes"]
    shuffled = pd.DataFrame(written[list(reversed(written.columns))])
    enforced = contract.enforce(shuffled, copy=False)
    pd.testing.assert_frame_equal(enforced, contract.enforce(pd.DataFrame(before)))
    enforced["commune_name"] = "Đổi"
    pd.testing.assert_frame_equal(shuffled[list(written.columns)], pd.DataFrame(before))
    read = warehouse.for_province("04").read_table("staging.communes")
    assert read["commune_name"].tolist() == ["Nà Rẻo", "Hòa An"]


def test_provinces_share_a_table_and_replace_only_their_own_rows(warehouse):
    """Province partitions: a contract table without province_code gets it from storage,
    a raw table gets landing_province, and re-writing one province leaves the other."""
    sample = warehouse.for_province("04")
    raw = _raw_households(3, extra_values='{"province_code": "99"}')
    for code, n in (("04", 2), ("33", 3)):
        scoped = warehouse.for_province(code)
        scoped.write_table("raw.households", raw.head(n))
        communes = _communes().assign(province_code=code)
        communes["commune_code"] = communes["commune_code"] + code
        scoped.write_table("staging.communes", communes.astype({"province_code": "string"}))
    assert sample.province_code == "04"
    assert len(warehouse.for_province("04").read_table("raw.households")) == 2
    assert len(warehouse.for_province("33").read_table("raw.households")) == 3
    # the raw table's columns are its contract's; the partition is lineage
    back = warehouse.for_province("33").read_table("raw.households")
    assert list(back.columns) == list(TABLES["raw.households"].columns)
    assert set(back["extra_values"]) == {'{"province_code": "99"}'}
    everything = warehouse.read_table("raw.households")
    assert everything["landing_province"].value_counts().to_dict() == {"04": 2, "33": 3}

    warehouse.for_province("04").write_table("raw.households", raw.head(1))
    counts = warehouse.read_table("raw.households")["landing_province"].value_counts()
    assert counts.to_dict() == {"33": 3, "04": 1}
    assert set(warehouse.read_table("staging.communes")["province_code"]) == {"04", "33"}
    assert len(warehouse.for_province("33").read_table("staging.communes")) == 2

    wrong = _communes().astype({"province_code": "string"})  # says 04
    with pytest.raises(WarehouseError, match="rows for province 04 written to the partition"):
        warehouse.for_province("33").write_table("staging.communes", wrong)


def test_rewriting_every_row_of_a_keyed_table_keeps_the_key_and_fails_whole(warehouse):
    """A province re-run in its own warehouse replaces every row of its keyed tables
    (DuckDB makes such a table anew rather than delete it row by row): the key still
    holds, a failed write leaves the rows before it, and another province's rows are
    then kept by the next re-write."""
    scoped = warehouse.for_province("04")
    scoped.write_table("raw.households", _raw_households(3))
    scoped.write_table("raw.households", _raw_households(2, household_id="H-new"))
    assert scoped.read_table("raw.households")["household_id"].tolist() == ["H-new"] * 2
    twice = pd.concat([_raw_households(1), _raw_households(1)], ignore_index=True)
    with pytest.raises(WarehouseError, match="repeat the table's key"):
        scoped.write_table("raw.households", twice)
    assert scoped.read_table("raw.households")["household_id"].tolist() == ["H-new"] * 2
    warehouse.for_province("33").write_table("raw.households", _raw_households(1))
    scoped.write_table("raw.households", _raw_households(1))
    counts = warehouse.read_table("raw.households")["landing_province"].value_counts()
    assert counts.to_dict() == {"04": 1, "33": 1}


HOSTILE_NAMES = [
    'x" VARCHAR); DROP SCHEMA marts CASCADE; --',
    "a\"; COPY staging.persons TO '/tmp/leak.csv'; --",
    "name /* comment */",
    "SELECT",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_no_table_or_column_comes_from_a_frame(warehouse, name):
    """Every table's DDL is its contract's: a table without one, or a frame with a
    column the contract lacks, is refused before any SQL; a name outside the contracts
    is never quoted into SQL."""
    from assets.warehouse.base import check_identifier, quote_identifier

    warehouse.for_province("04").write_table("raw.households", _raw_households(2))
    with pytest.raises(WarehouseError, match="no contract"):
        warehouse.write_table(f"raw.{name}", pd.DataFrame({"a": ["1"]}))
    with pytest.raises(SchemaError, match="unexpected columns"):
        warehouse.for_province("04").write_table(
            "raw.households", _raw_households(1).assign(**{name: "x"})
        )
    with pytest.raises(WarehouseError, match="not a name the contracts declare"):
        check_identifier(name)
    with pytest.raises(WarehouseError):
        quote_identifier(name)
    back = warehouse.for_province("04").read_table("raw.households")
    assert list(back.columns) == list(TABLES["raw.households"].columns) and len(back) == 2


def test_a_grown_contract_extends_the_table_in_place(warehouse):
    """A contract that gained a field extends the stored table in place."""
    communes = _communes().astype({"province_code": "string"})
    warehouse.for_province("04").write_table("staging.communes", communes)
    with warehouse.transaction() as session:
        session.execute('ALTER TABLE staging.communes DROP COLUMN "area_km2"')
    other = communes.assign(province_code="33", commune_code=["90001", "90002"])
    warehouse.for_province("33").write_table("staging.communes", other)
    both = warehouse.read_table("staging.communes")
    assert both.set_index("commune_code")["area_km2"].isna().to_dict() == {
        "00001": True,
        "00002": True,
        "90001": False,
        "90002": False,
    }


def test_narrowed_reads_and_batch_appends(warehouse):
    """A large table is read a slice at a time (columns, SQL condition, province) and
    written batch by batch: the first write replaces the province, later ones append."""
    scoped = warehouse.for_province("04")
    communes = _communes()
    scoped.write_table("staging.communes", communes.iloc[:1].astype({"province_code": "string"}))
    with scoped.transaction() as con:
        scoped.write_table("staging.communes", communes.iloc[1:2], con=con, append=True)
    other = _communes().assign(commune_code=["90001", "90002"], province_code="33")
    warehouse.for_province("33").write_table(
        "staging.communes", other.astype({"province_code": "string"})
    )
    assert sorted(scoped.read_table("staging.communes")["commune_code"]) == ["00001", "00002"]

    narrowed = scoped.read_table(
        "staging.communes",
        columns=["commune_code", "area_km2", "geometry"],
        where="area_km2 > ? AND commune_name LIKE ?",
        params=[1.6, "H%"],
    )
    assert list(narrowed.columns) == ["commune_code", "area_km2", "geometry"]
    assert narrowed["commune_code"].tolist() == ["00002"]
    assert narrowed.geometry.iloc[0].equals(communes.geometry.iloc[1])
    assert str(narrowed["commune_code"].dtype) == "string"
    with pytest.raises(WarehouseError, match=r"has no columns \['citizen_id'\]"):
        scoped.read_table("staging.communes", columns=["citizen_id"])

    # a new first write of the province replaces its batches, not the other province's
    scoped.write_table("staging.communes", communes.iloc[:1].astype({"province_code": "string"}))
    assert scoped.read_table("staging.communes")["commune_code"].tolist() == ["00001"]
    assert len(warehouse.for_province("33").read_table("staging.communes")) == 2


def test_scratch_tables_are_per_session_replaced_and_named_by_code(warehouse):
    """What a step's batches all read is made once as a temporary table of its session:
    made again it is replaced, another session does not see it, and its name is checked
    like any identifier (never from data)."""
    warehouse.write_table("staging.communes", _communes())
    select = "SELECT commune_code FROM staging.communes WHERE area_km2 > ?"
    with warehouse.transaction() as con:
        con.scratch_table("hamlets_large_communes", select, [1.0])
        assert sorted(
            con.query_df("SELECT commune_code FROM hamlets_large_communes")["commune_code"]
        ) == ["00001", "00002"]
        con.scratch_table("hamlets_large_communes", select, [1.6])
        assert con.query_df("SELECT commune_code FROM hamlets_large_communes")[
            "commune_code"
        ].tolist() == ["00002"]
        for hostile in ("staging.communes", "hamlets_x; DROP TABLE staging.communes", "x"):
            with pytest.raises(WarehouseError, match="not a scratch table name"):
                con.scratch_table(hostile, select, [1.0])
    with warehouse.connect() as con, pytest.raises(Exception, match="hamlets_large_communes"):
        con.query_df("SELECT * FROM hamlets_large_communes")
    assert len(warehouse.read_table("staging.communes")) == 2


def test_warehouse_modules_import_without_a_cycle():
    """One interface (``base``), two backends on it, one factory on top: no module of the
    package imports, at top level or inside a function, one that imports it back."""
    import ast
    from pathlib import Path

    import assets.warehouse as package

    folder = Path(package.__file__).parent
    imports = {
        path.stem: {
            node.module.rsplit(".", 1)[1]
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.startswith("assets.warehouse.")
        }
        for path in folder.glob("*.py")
        if path.stem != "__init__"
    }

    def reaches(start: str, target: str, seen: frozenset[str] = frozenset()) -> bool:
        return any(
            step == target or (step not in seen and reaches(step, target, seen | {step}))
            for step in imports.get(start, ())
        )

    assert "base" in imports and not imports["base"]
    assert [name for name in imports if reaches(name, name)] == []


def test_blocks_written_in_one_transaction_are_not_held_until_commit(tmp_path):
    """A province's file is written block by block in one transaction; DuckDB kept every
    Arrow table a query scanned until COMMIT, so memory grew with the file (14 M
    persons: ~0.1 GB per 250,000-row block). Arrow's allocations must not pile up."""
    import pyarrow as pa

    warehouse = Warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}").for_province("04")
    block_rows = 50_000

    def block(number: int) -> pd.DataFrame:
        rows = range(number * block_rows + 1, (number + 1) * block_rows + 1)
        frame = _rejected("staging.persons", block_rows)
        return frame.assign(source_row_number=list(rows), reason="lý do " * 10)

    held = []
    with warehouse.transaction() as con:
        for number in range(6):
            warehouse.write_table(
                "staging.rejected_rows", block(number), con=con, append=number > 0
            )
            held.append(pa.total_allocated_bytes())
    one_block = pa.Table.from_pandas(block(0), preserve_index=False).nbytes
    assert held[-1] - held[0] < one_block, held
    assert len(warehouse.read_table("staging.rejected_rows")) == 6 * block_rows
