"""The `hamlets` command as a user meets it."""

from __future__ import annotations

from click.testing import CliRunner

from pipelines.cli import main


def test_help_lists_subcommands():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ("demo", "run", "synth"):
        assert command in result.output


def test_run_on_an_empty_landing_folder_names_every_missing_file(tmp_path):
    result = CliRunner().invoke(
        main, ["run", "--landing", str(tmp_path), "--warehouse", str(tmp_path / "w.duckdb")]
    )
    assert result.exit_code == 1
    for role in ("communes", "hamlet_boundaries", "hamlet_registry", "households", "persons"):
        assert f"no {role} file" in result.output
    assert not (tmp_path / "w.duckdb").exists()


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
