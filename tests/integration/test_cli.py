"""The `hamlets` command as a user meets it."""

from __future__ import annotations

import re

from click.testing import CliRunner

from assets.warehouse import Warehouse
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


def test_decide_step_records_the_communes_steps_on_its_plan_in_force(tmp_path):
    """The conference with the Fatherland Front and the party committee's opinion are
    recorded on the commune's latest plan, dated within its life, a correction winning."""
    from datetime import UTC, datetime

    import pandas as pd

    from assets.progress.records import COMMUNE_STEPS, read_records
    from assets.warehouse import Warehouse
    from expectations.schemas import TABLES

    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    decisions = TABLES["planning.decisions"].enforce(
        pd.DataFrame(
            {
                "decision_id": ["old", "new"],
                "province_code": "04",
                "commune_code": "04001",
                "option_name": "compliant",
                "decided_by": "Lan",
                "note": "",
                "decided_at": [datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 6, 5, tzinfo=UTC)],
                "based_on_run_id": "r",
                "rules_profile": "nd185_2026",
            }
        )
    )
    Warehouse(url).write_table("planning.decisions", decisions)

    def step(*args: str):
        where = ["--warehouse", url, "--province", "04", "--commune", "04001", "--by", "Lan"]
        return CliRunner().invoke(main, ["decide", "step", *where, *args])

    early = step("--step", "party_opinion", "--date", "03/06/2026")  # before the plan in force
    assert early.exit_code == 1 and "ngoài khoảng" in early.output
    unknown = step("--step", "signed", "--date", "10/06/2026")
    assert unknown.exit_code == 2
    none = CliRunner().invoke(
        main,
        ["decide", "step", "--warehouse", url, "--province", "04", "--commune", "04002",
         "--step", "party_opinion", "--date", "10/06/2026"],
    )  # fmt: skip
    assert none.exit_code == 1 and "chưa ghi đề án" in none.output
    for day in ("09/06/2026", "10/06/2026"):  # the second corrects the first
        done = step("--step", "advisory_conference", "--date", day, "--document", "01/BB")
        assert done.exit_code == 0 and "đề án new" in done.output, done.output
    assert step("--step", "party_opinion", "--date", "2026-06-12").exit_code == 0
    stored = read_records(Warehouse(url), COMMUNE_STEPS, "04").sort_values("step")
    assert stored[["decision_id", "step", "step_date", "document"]].values.tolist() == [
        ["new", "advisory_conference", pd.Timestamp("2026-06-10"), "01/BB"],
        ["new", "party_opinion", pd.Timestamp("2026-06-12"), ""],
    ]
    assert len(read_records(Warehouse(url), COMMUNE_STEPS, "04", history=True)) == 3


def test_a_run_failing_after_publication_says_the_marts_were_published(
    tmp_path, small_landing, monkeypatch
):
    """A step after publish_marts failing (here the exports folder is a file) must not
    claim that the last published marts are unchanged: they are this run's."""
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    (tmp_path / "exports").write_text("not a folder")
    warehouse = tmp_path / "w.duckdb"
    result = CliRunner().invoke(
        main, ["run", "--landing", str(small_landing.parent), "--warehouse", str(warehouse)]
    )
    assert result.exit_code == 1, result.output
    assert "exports__province_files" in result.output
    assert "The marts were published before the run stopped" in result.output
    assert "marts are unchanged" not in result.output
    published = Warehouse(str(warehouse)).query("SELECT count(*) AS n FROM marts.hamlets_current")
    assert published.n.item() > 0
    # Not a terminal: the run's progress is a line per finished step (pipelines.run_progress),
    # and the steps left behind the failure are counted at the end.
    steps = re.findall(r"^\[(\d+)/(\d+)\] (\S+) (.*)$", result.output, re.M)
    assert [int(k) for k, _, _, _ in steps] == list(range(1, len(steps) + 1))
    total = int(steps[0][1])
    finished = {step: said for _, _, step, said in steps}
    assert re.fullmatch(r"\d+\.\d s", finished["publish_marts"])
    assert finished["exports__province_files"].startswith("failed after ")
    not_run = re.search(r"^(\d+) steps? not run \(the run failed\)$", result.output, re.M)
    assert len(steps) + (int(not_run.group(1)) if not_run else 0) == total
