"""The `hamlets` command: run the pipeline, the demo, and the synthetic generator."""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import click

from assets.marts.guard import DEFAULT_MAX_SHRINK_SHARE
from assets.progress.records import day_in_vietnam
from assets.warehouse import Warehouse, WarehouseError
from pipelines.decide import decide
from pipelines.demo import (
    DEMO_HOUSEHOLDS,
    DEMO_PROVINCE,
    DEMO_ROOT,
    Demo,
    landing_is_current,
    synthesise_demo,
    write_demo_deans,
)
from pipelines.settings import DEFAULT_LANDING_ROOT, Settings, SettingsError, privacy_from_env

if TYPE_CHECKING:
    import dagster as dg

    from pipelines.runner import RunReport


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Hamlet restructuring: landing files to scored merger options in a warehouse.

    \b
    Examples:
      hamlets demo
      hamlets synth --out data/landing/04 --seed 1 --households 20000 \\
          --communes ../shared/realdata/communes_04_cao_bang.geojson
      hamlets run --province 04 --warehouse data/cb.duckdb
    """


main.add_command(decide)  # hamlets decide resolution: the council's resolution on a plan


def _print_marts(warehouse: Warehouse, province_code: str) -> None:
    options = warehouse.query(
        "SELECT option_name, count(*) AS communes, sum(units_before)::INT AS units_before, "
        "sum(units_after)::INT AS units_after, "
        "sum(noncompliant_units_after)::INT AS units_still_below_standard "
        "FROM marts.merger_options_current WHERE province_code = ? "
        "GROUP BY option_name ORDER BY option_name",
        [province_code],
    )
    click.echo(options.to_string(index=False))
    for view in (t for t in warehouse.table_names("marts") if t.endswith("_current")):
        rows = warehouse.query(
            f"SELECT count(*) AS n FROM marts.{view} WHERE province_code = ?", [province_code]
        )["n"].iloc[0]
        click.echo(f"  marts.{view}: {rows} rows")


def _marts_state(report: RunReport) -> str:
    if report.published:
        return (
            "The marts were published before the run stopped; its later outputs "
            "(exports, progress report) are incomplete."
        )
    return "The last published marts are unchanged."


def _progress_shown() -> str:
    """A bar on a terminal; one line per finished step where stderr is a file or pipe."""
    return "bar" if sys.stderr.isatty() else "lines"


def _run(
    settings: Settings,
    province_code: str | None = None,
    *,
    allow_shrink: bool = False,
    instance: dg.DagsterInstance | None = None,
    progress: str = "off",
) -> None:
    from pipelines.runner import run_province

    # HAMLETS_MODE and HAMLETS_HASH_SECRET come from the environment only, never options.
    settings = replace(settings, **privacy_from_env())
    try:
        settings.check()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc
    report = run_province(
        settings, province_code, instance, allow_shrink=allow_shrink, progress=progress
    )
    click.echo(f"Province {report.province_code}:")
    if report.interrupted and report.success:
        click.echo(f"Run {report.run_id} succeeded; warehouse: {report.warehouse_location}")
        click.echo("Interrupted after the run's last step: no further province starts.", err=True)
        sys.exit(130)
    if report.interrupted:
        click.echo(f"Run {report.run_id} was interrupted and is reported failed.", err=True)
        click.echo(_marts_state(report), err=True)
        sys.exit(130)  # stop here: no further province after an interrupt
    if not report.success:
        for reason in report.blocked_by:
            click.echo(reason, err=True)
        click.echo(f"Run {report.run_id} failed at {', '.join(report.failed_steps)}", err=True)
        for error in report.errors:
            click.echo(f"  {error}", err=True)
        if report.failed_checks:
            click.echo(f"Failed checks: {', '.join(report.failed_checks)}", err=True)
        click.echo(f"{_marts_state(report)} See `make dev` for the run log.")
        sys.exit(1)
    click.echo(f"Run {report.run_id} succeeded; warehouse: {report.warehouse_location}")
    if report.failed_checks:
        click.echo(f"Warnings from checks: {', '.join(report.failed_checks)}")
    _print_marts(Warehouse(settings.warehouse_url), report.province_code)


@main.command()
@click.option(
    "--landing",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_LANDING_ROOT,
    show_default=True,
    help="Landing root: one folder per province, named by its code (data/landing/04).",
)
@click.option(
    "--province",
    "provinces",
    multiple=True,
    help="Province code to run (repeatable; default: every province folder in the root).",
)
@click.option(
    "--warehouse",
    "warehouse_url",
    default="data/warehouse.duckdb",
    show_default=True,
    help="DuckDB path, duckdb:///PATH, or postgresql+psycopg2://USER:PASSWORD@HOST/DB.",
)
@click.option("--profile", default=None, help="Rules profile (default: nd185_2026).")
@click.option(
    "--rules-override",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="Province override of the rules file.",
)
@click.option(
    "--as-of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    metavar="YYYY-MM-DD",
    help="Day of the population extract, which every step judges by: birth dates after "
    "it are errors, ages are counted at it, the progress report describes it "
    "(default: today in Vietnam).",
)
@click.option(
    "--max-shrink-share",
    type=click.FloatRange(0.0, 1.0),
    envvar="HAMLETS_MAX_SHRINK_SHARE",
    default=DEFAULT_MAX_SHRINK_SHARE,
    show_default=True,
    help="Refuse to publish when a province's hamlets, households or persons fall by "
    "more than this share against its last publication (env HAMLETS_MAX_SHRINK_SHARE).",
)
@click.option(
    "--allow-shrink",
    is_flag=True,
    help="Publish even so (a deliberate change, or an empty file); the publication "
    "records the override.",
)
@click.option(
    "--wait-for-lock",
    "wait_for_lock",
    type=click.FloatRange(min=0),
    default=0,
    show_default=True,
    metavar="SECONDS",
    help="When another run is writing the warehouse, wait this long for it, then refuse "
    "(0: refuse at once, naming that run).",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Show the run advancing on stderr: a bar of its steps with the running step's "
    "latest count on a terminal, one line per finished step otherwise (default: on).",
)
def run(
    landing: Path,
    provinces: tuple[str, ...],
    warehouse_url: str,
    profile: str | None,
    rules_override: Path | None,
    as_of: dt.datetime | None,
    max_shrink_share: float,
    allow_shrink: bool,
    wait_for_lock: float,
    progress: bool | None,
):
    """Materialise the whole graph for each province's landing folder into WAREHOUSE.

    \b
    Example:
      hamlets run --landing data/landing --province 04 --warehouse data/warehouse.duckdb
      hamlets run --province 04 --as-of 2026-05-31
    """
    from assets.raw.landing import Landing

    settings = Settings(
        warehouse_url,
        landing,
        profile,
        rules_override,
        max_shrink_share=max_shrink_share,
        lock_wait_s=wait_for_lock,
        # One day for every province of this command, even one that runs past midnight.
        as_of=as_of.date() if as_of else day_in_vietnam(),
    )
    codes = list(provinces) or Landing(landing).province_codes()
    shown = "off" if progress is False else _progress_shown()
    if not codes:
        raise click.ClickException(
            f"{landing}: no province folder; put each province's files in {landing}/<code>/"
        )
    try:
        for code in codes:
            _run(settings, code, allow_shrink=allow_shrink, progress=shown)
    except (WarehouseError, ValueError, KeyError) as exc:
        raise click.ClickException(str(exc)) from exc
    except KeyboardInterrupt:  # between runs (Dagster maps SIGTERM to SIGINT's handler)
        click.echo("Interrupted between runs: no further province starts.", err=True)
        sys.exit(130)


@main.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Landing folder to write.",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--households", type=int, default=3000, show_default=True)
@click.option(
    "--communes",
    "communes_path",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="GeoJSON of real communes to fill.",
)
@click.option("--province-code", default=None, help="2-digit province code.")
@click.option(
    "--n-communes",
    type=int,
    default=6,
    show_default=True,
    help="Communes to generate when --communes is not given.",
)
@click.option(
    "--error-rate",
    type=float,
    default=0.0,
    show_default=True,
    help="Share of person rows, household rows and hamlets given a planted error "
    "(listed in ground_truth/planted_errors.csv).",
)
@click.option(
    "--error-rate-for",
    "error_rates",
    multiple=True,
    metavar="TYPE=RATE",
    help="Rate of one error type, e.g. citizen_id_malformed=0.02 (0 turns it off); repeatable.",
)
@click.option(
    "--geometry-errors/--no-geometry-errors",
    default=True,
    show_default=True,
    help="Plant self-intersections, slivers and overlaps in hamlet boundaries.",
)
@click.option(
    "--file-mess",
    is_flag=True,
    help="Also write file-level mess: a Windows-1258 CSV, NFD names, headers without "
    "diacritics (listed in ground_truth/file_mess.csv).",
)
def synth(
    out: Path,
    seed: int,
    households: int,
    communes_path: Path | None,
    province_code: str | None,
    n_communes: int,
    error_rate: float,
    error_rates: tuple[str, ...],
    geometry_errors: bool,
    file_mess: bool,
) -> None:
    """Write a synthetic province's landing folder (with ground truth).

    \b
    Example:
      hamlets synth --out data/landing/04 --seed 1 --households 133000 \\
          --communes ../shared/realdata/communes_04_cao_bang.geojson
    """
    from synthetic.province import synthesise_province

    summary = synthesise_province(
        out,
        seed=seed,
        households=households,
        communes_path=communes_path,
        province_code=province_code,
        n_communes=n_communes,
        error_rate=error_rate,
        error_rates=_parse_rates(error_rates),
        geometry_errors=geometry_errors,
        file_mess=file_mess,
        progress=lambda message: click.echo(f"  {message}", err=True),
    )
    click.echo(
        f"Wrote {out}: {summary.communes} communes, {summary.hamlets} hamlets, "
        f"{summary.households} households, {summary.persons} persons, "
        f"{summary.planted_errors} planted errors"
    )


@main.command()
@click.option(
    "--warehouse",
    "warehouse_url",
    default="data/warehouse.duckdb",
    show_default=True,
    help="DuckDB path or PostgreSQL URL with published marts.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Exports folder (default: exports/ beside a DuckDB warehouse).",
)
@click.option(
    "--province",
    "province_code",
    default=None,
    help="Province code (default: the only province published in the warehouse).",
)
def export(warehouse_url: str, out_dir: Path | None, province_code: str | None) -> None:
    """Write a province's exports from the published marts (no pipeline run).

    \b
    Example:
      hamlets export --warehouse data/warehouse.duckdb --province 04 --out data/exports
    """
    from assets.exports.location import Exports
    from assets.exports.province import export_province

    root = out_dir or Settings(warehouse_url=warehouse_url).exports_root
    warehouse = Warehouse(warehouse_url)
    try:
        if province_code is None:
            published = warehouse.query(
                "SELECT DISTINCT province_code FROM marts.publications ORDER BY 1"
            )["province_code"].tolist()
            if len(published) != 1:
                raise click.ClickException(
                    f"the warehouse holds provinces {', '.join(published) or '(none)'}; "
                    "name one with --province"
                )
            province_code = published[0]
        written = export_province(warehouse.for_province(province_code), Exports(root))
    except (WarehouseError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"Wrote {written['geopackage']}, {written['interactive_map']}, "
        f"{written['commune_workbooks']} commune workbooks and {written['commune_maps']} maps"
    )


@main.command()
@click.option(
    "--warehouse",
    "warehouse_url",
    default="data/warehouse.duckdb",
    show_default=True,
    help="DuckDB path or PostgreSQL URL with published marts.",
)
@click.option("--province", "province_code", required=True, help="Province code, e.g. 04.")
@click.option(
    "--commune",
    "commune_codes",
    multiple=True,
    help="Commune code (repeatable; default: every published commune of the province).",
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the Word document, its annex workbook and the unit maps.",
)
@click.option(
    "--template",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="The province's own Word template (default: the shipped hamlets_config/de_an_xa.docx).",
)
def dean(
    warehouse_url: str,
    province_code: str,
    commune_codes: tuple[str, ...],
    out_dir: Path,
    template: Path | None,
) -> None:
    """Write a commune's đề án (Word) and its annexes (Excel) from its decision in force;
    marked DỰ THẢO until the commune People's Council has approved it.

    \b
    Example:
      hamlets dean --province 04 --commune 04001 --out data/exports/04/de_an
    """
    from assets.exports.dean import DEFAULT_TEMPLATE, write_commune_deans

    try:
        written = write_commune_deans(
            Warehouse(warehouse_url),
            province_code,
            out_dir,
            list(commune_codes) or None,
            template or DEFAULT_TEMPLATE,
        )
    except (WarehouseError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    for files in written:
        click.echo(f"Wrote {files['docx']} and {files['annexes']}")


@main.command()
@click.option(
    "--hamlets",
    "hamlets_path",
    required=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="GeoPackage or GeoJSON: hamlet_id, commune_code, province_code, unit_type, "
    "households[, population, exempt], polygons in any declared CRS.",
)
@click.option(
    "--out",
    "out_csv",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="CSV to write: option, commune_code, hamlet_id, unit_id.",
)
@click.option(
    "--summary",
    "summary_json",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="JSON summary per option and commune.",
)
@click.option("--profile", default=None, help="Rules profile (default: nd185_2026).")
@click.option(
    "--time-limit",
    type=float,
    default=2.0,
    show_default=True,
    help="Exact solver budget per commune and option (deterministic seconds).",
)
def propose(
    hamlets_path: Path,
    out_csv: Path,
    summary_json: Path | None,
    profile: str | None,
    time_limit: float,
) -> None:
    """Propose merger options for hamlets in a file, without the pipeline.

    \b
    Example:
      hamlets propose --hamlets hamlets.gpkg --out options.csv --summary options.json
    """
    from assets.planning.propose import ProposeInputError, propose_from_file
    from assets.planning.rules import RulesError

    try:
        result = propose_from_file(
            hamlets_path, out_csv, summary_json, profile, time_limit_s_per_commune=time_limit
        )
    except (ProposeInputError, RulesError) as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    totals = result.summary.groupby("option_name").agg(
        communes=("commune_code", "size"),
        units_before=("units_before", "sum"),
        units_after=("units_after", "sum"),
        still_below=("noncompliant_units_after", "sum"),
        optimal_communes=("optimality_status", lambda s: int((s == "optimal").sum())),
    )
    click.echo(totals.to_string())
    click.echo(f"Wrote {out_csv}" + (f" and {summary_json}" if summary_json else ""))


@main.command()
@click.option(
    "--warehouse",
    "warehouse_url",
    required=True,
    help="postgresql+psycopg2://USER:PASSWORD@HOST/DB (an owner of the schemas).",
)
@click.option(
    "--grant-planner",
    "planner_login",
    default=None,
    help="An existing database login to make a planner of the --province codes.",
)
@click.option(
    "--province",
    "provinces",
    multiple=True,
    help="With --grant-planner: a province (2-digit code) the login may record for.",
)
def roles(warehouse_url: str, planner_login: str | None, provinces: tuple[str, ...]) -> None:
    """Create the PostGIS roles: planner (marts; records decisions, constraints,
    consultations and approvals for its provinces only, append-only, under its own
    login), data unit (staging, quality), engineer (everything). Idempotent; run again
    after adding layers or upgrading.

    \b
    Example:
      hamlets roles --warehouse postgresql+psycopg2://owner:secret@db/hamlets
      psql -c "CREATE ROLE lan LOGIN PASSWORD '...'"
      hamlets roles --warehouse ... --grant-planner lan --province 04
    """
    from assets.warehouse.roles import apply_roles, grant_planner

    if bool(planner_login) != bool(provinces):
        raise click.UsageError("--grant-planner and --province go together")
    warehouse = Warehouse(warehouse_url)
    try:
        created = apply_roles(warehouse)
        granted = grant_planner(warehouse, planner_login, list(provinces)) if provinces else []
    except WarehouseError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Roles ready: {', '.join(created)}")
    if granted:
        click.echo(f"{planner_login} plans province(s) {', '.join(granted)}")


@main.group()
def rules() -> None:
    """The legal rules the planning applies (hamlets_config/rules_profiles.yaml)."""


@rules.command("show")
@click.option("--province", "province_code", default=None, help="2-digit province code, e.g. 04.")
@click.option("--profile", default=None, help="Rules profile (default: nd185_2026).")
@click.option(
    "--rules-override",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="The province's override of the rules file.",
)
def rules_show(province_code: str | None, profile: str | None, rules_override: Path | None) -> None:
    """Print the effective rules (profile + override) in Vietnamese, each figure with
    its legal source, so an official can check them.

    \b
    Example:
      hamlets rules show --province 04
      hamlets rules show --province 25 --rules-override tinh_25.yaml
    """
    from assets.planning.rules import RulesError, load_rules
    from assets.planning.rules_text import describe_rules

    try:
        loaded = load_rules(profile, override_path=rules_override)
        click.echo(describe_rules(loaded, province_code), nl=False)
    except RulesError as exc:
        raise click.ClickException(str(exc)) from exc


@main.command()
@click.option("--limit", type=int, default=10, show_default=True, help="Runs to list.")
def runs(limit: int) -> None:
    """List the latest runs in DAGSTER_HOME; first mark failed those whose process was
    killed (SIGKILL, power cut) and which would otherwise show STARTED for ever.

    \b
    Example:
      hamlets runs --limit 5
    """
    from datetime import UTC, datetime

    from pipelines.locking import PARTITION_TAG, fail_abandoned_runs
    from pipelines.runner import local_instance

    instance = local_instance()
    for run_id in fail_abandoned_runs(instance):
        click.echo(f"Run {run_id}: its process is gone; marked failed", err=True)
    for record in instance.get_run_records(limit=limit):
        run = record.dagster_run
        started = (
            datetime.fromtimestamp(record.start_time, UTC).isoformat(timespec="seconds")
            if record.start_time
            else "-"
        )
        click.echo(
            f"{run.run_id}  {run.job_name}  {run.tags.get(PARTITION_TAG, '-')}  "
            f"{run.status.value}  started {started}"
        )


def _parse_rates(pairs: tuple[str, ...]) -> dict[str, float] | None:
    rates: dict[str, float] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        try:
            rates[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise click.BadParameter(f"{pair!r}: expected TYPE=RATE", param_hint="--error-rate-for")
    return rates or None


@main.command()
@click.option(
    "--data",
    "root",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEMO_ROOT,
    show_default=True,
    help="Root of everything the demo writes: landing/04, warehouse.duckdb, exports/04, "
    "dagster_home (unless DAGSTER_HOME is set).",
)
@click.option(
    "--households",
    type=click.IntRange(min=1),
    default=DEMO_HOUSEHOLDS,
    show_default=True,
    help="Households of the synthetic province (6 communes at the default size, "
    "one per ~650 households below it, at least 2).",
)
def demo(root: Path, households: int) -> None:
    """Synthesise a small province (once) and run the whole pipeline on it, then write
    each commune's đề án (Word) and annexes (Excel) to <data>/exports/04/de_an.

    Idempotent: the landing folder is written only when missing or of another size, so
    a second run re-loads byte-identical files and republishes the same marts.

    \b
    Examples:
      hamlets demo
      hamlets demo --data /tmp/demo --households 600
    """
    from pipelines.runner import local_instance

    spec = Demo(root, households)
    if landing_is_current(spec):
        click.echo(f"Reusing demo landing folder {spec.landing}")
    else:
        click.echo(f"Synthesising a demo province into {spec.landing} ...")
        synthesise_demo(spec)
    _run(
        spec.settings,
        DEMO_PROVINCE,
        instance=local_instance(spec.dagster_home),
        progress=_progress_shown(),
    )
    deans = write_demo_deans(spec)
    click.echo(
        f"Wrote the đề án (Word) and annexes (Excel) of {len(deans)} communes to "
        f"{spec.deans_folder}"
    )
    click.echo(
        "\nLook at the results:\n"
        f"  warehouse   {spec.warehouse_path.resolve()} (schemas raw, staging, quality, "
        "planning, marts)\n"
        '  SQL         .venv/bin/python -c "import duckdb; '
        f"print(duckdb.connect('{spec.warehouse_path}')"
        ".sql('from marts.merger_options_current'))\"\n"
        "  Dagster UI  make dev   (then open http://127.0.0.1:3000)"
    )
