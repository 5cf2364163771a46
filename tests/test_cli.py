"""The `hamlets` command as a user meets it."""

from __future__ import annotations

from click.testing import CliRunner

from pipelines.cli import main


def test_help_lists_subcommands():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ("demo", "run", "runs", "synth", "propose", "export", "roles"):
        assert command in result.output


def test_run_on_an_empty_landing_folder_names_every_missing_file(tmp_path):
    warehouse = ["--warehouse", str(tmp_path / "w.duckdb")]
    no_province = CliRunner().invoke(main, ["run", "--landing", str(tmp_path), *warehouse])
    assert no_province.exit_code == 1
    assert "no province folder" in no_province.output and "<code>" in no_province.output

    (tmp_path / "04").mkdir()
    result = CliRunner().invoke(main, ["run", "--landing", str(tmp_path), *warehouse])
    assert result.exit_code == 1
    assert str(tmp_path / "04") in result.output
    for role in ("communes", "hamlet_boundaries", "hamlet_registry", "households", "persons"):
        assert f"no {role} file" in result.output
    assert not (tmp_path / "w.duckdb").exists()

    unknown = CliRunner().invoke(
        main, ["run", "--landing", str(tmp_path), "--province", "99", *warehouse]
    )
    assert unknown.exit_code == 1 and "unknown province code '99'" in unknown.output


def test_synth_writes_a_landing_folder(tmp_path):
    out = tmp_path / "landing"
    result = CliRunner().invoke(
        main,
        ["synth", "--out", str(out), "--seed", "3", "--households", "300", "--n-communes", "2"],
    )
    assert result.exit_code == 0, result.output
    assert "2 communes" in result.output
    assert {"communes.geojson", "persons.csv", "hamlet_registry.xlsx"} <= {
        p.name for p in out.iterdir()
    }


def test_propose_writes_options_and_rejects_bad_input(tmp_path):
    import geopandas as gpd
    import shapely

    hamlets = gpd.GeoDataFrame(
        {
            "hamlet_id": ["h1", "h2", "h3"],
            "commune_code": ["04001"] * 3,
            "province_code": ["04"] * 3,
            "unit_type": ["thon"] * 3,
            "households": [60, 100, 200],
        },
        geometry=[shapely.box(106 + i / 100, 22.5, 106.01 + i / 100, 22.51) for i in range(3)],
        crs="EPSG:4326",
    )
    path = tmp_path / "hamlets.gpkg"
    hamlets.to_file(path)
    out = tmp_path / "options.csv"
    result = CliRunner().invoke(main, ["propose", "--hamlets", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    import pandas as pd

    options = pd.read_csv(out, dtype=str)
    assert list(options.columns) == ["option", "commune_code", "hamlet_id", "unit_id"]
    compliant = options[options["option"] == "compliant"]
    assert compliant["unit_id"].nunique() == 2  # 60+100 together, 200 alone

    hamlets.drop(columns="households").to_file(tmp_path / "bad.gpkg")
    bad = CliRunner().invoke(
        main, ["propose", "--hamlets", str(tmp_path / "bad.gpkg"), "--out", str(out)]
    )
    assert bad.exit_code == 2 and "households" in bad.output
