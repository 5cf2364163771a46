"""``hamlets decide``: planners record the commune's steps on its plan (the hamlet
representatives' conference with the Fatherland Front, the party committee's opinion)
and the commune People's Council's resolution from the command line, as the review
notebook does.

The council decides (ND 185/2026 Art. 9); until its resolution is recorded the plan is
only drafted, and the approved plan and its staffing table (``publish_approved_plan``)
leave the commune out. The same checks and roles apply as in the notebook: the author
is the database login on PostGIS (row-level security admits only the planner's own
provinces), the plan must have been drafted and its residents consulted first.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import click

from assets.warehouse import DEFAULT_WAREHOUSE_URL, Warehouse, WarehouseError

DATE_FORMATS = ("%d/%m/%Y", "%Y-%m-%d")  # as written on a resolution, or ISO


def parse_day(text: str) -> date:
    """A day written dd/mm/yyyy (as on the resolution) or yyyy-mm-dd."""
    for form in DATE_FORMATS:
        try:
            return datetime.strptime(text.strip(), form).date()
        except ValueError:
            continue
    raise click.BadParameter(f"{text!r}: expected dd/mm/yyyy or yyyy-mm-dd", param_hint="--date")


@click.group()
def decide() -> None:
    """Record what the commune's bodies decided on its plan."""


WAREHOUSE_OPTION = click.option(
    "--warehouse",
    "warehouse_url",
    envvar="HAMLETS_WAREHOUSE_URL",
    default=DEFAULT_WAREHOUSE_URL,
    show_default=True,
    help="DuckDB path or PostgreSQL URL (your planner login on PostGIS).",
)
PROVINCE_OPTION = click.option(
    "--province", "province_code", required=True, help="2-digit province code."
)
COMMUNE_OPTION = click.option(
    "--commune", "commune_code", required=True, help="5-digit commune code."
)


@decide.command()
@WAREHOUSE_OPTION
@PROVINCE_OPTION
@COMMUNE_OPTION
@click.option(
    "--step",
    required=True,
    type=click.Choice(["advisory_conference", "party_opinion"]),
    help="advisory_conference: advisory group and hamlet representatives' conference with "
    "the Fatherland Front; party_opinion: the party committee's opinion.",
)
@click.option("--date", "step_date", required=True, help="Day held or given (dd/mm/yyyy).")
@click.option("--document", default="", help="Number of the minutes or document.")
@click.option("--decision", "decision_id", default=None, help="Default: the plan in force.")
@click.option("--by", "recorded_by", default=None, help="DuckDB only: who records it.")
@click.option("--note", default="", help="A note kept with the record.")
def step(
    warehouse_url: str,
    province_code: str,
    commune_code: str,
    step: str,
    step_date: str,
    document: str,
    decision_id: str | None,
    recorded_by: str | None,
    note: str,
) -> None:
    """Record a step the commune took on its plan before the council resolves.

    \b
    Example:
      hamlets decide step --province 04 --commune 04001 --step party_opinion \\
          --date 12/06/2026 --document "45-CV/ĐU"
    """
    from assets.decisions.commune import recording
    from assets.progress.records import STEP_LABELS_VI, ProgressRecordError, record_commune_step

    day = parse_day(step_date)
    warehouse = Warehouse(warehouse_url)
    try:
        with recording(warehouse, province_code):
            row = record_commune_step(
                warehouse, province_code, commune_code, step, step_date=day,
                document=document, decision_id=decision_id, recorded_by=recorded_by, note=note,
            )  # fmt: skip
    except (ProgressRecordError, WarehouseError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"Đã ghi: {STEP_LABELS_VI[step]} ngày {day:%d/%m/%Y}, xã {commune_code}, "
        f"đề án {row['decision_id']}"
    )


@decide.command()
@WAREHOUSE_OPTION
@PROVINCE_OPTION
@COMMUNE_OPTION
@click.option("--number", "resolution_number", required=True, help='e.g. "12/NQ-HĐND".')
@click.option("--date", "resolution_date", required=True, help="Day of the resolution.")
@click.option(
    "--decision",
    "decision_id",
    default=None,
    help="The plan (decision) resolved on; default: the commune's plan in force.",
)
@click.option("--by", "recorded_by", default=None, help="DuckDB only: who records it.")
@click.option("--note", default="", help="A note kept with the record.")
def resolution(
    warehouse_url: str,
    province_code: str,
    commune_code: str,
    resolution_number: str,
    resolution_date: str,
    decision_id: str | None,
    recorded_by: str | None,
    note: str,
) -> None:
    """Record the commune People's Council's resolution (number, date) on the plan.

    \b
    Example:
      hamlets decide resolution --province 04 --commune 04001 \\
          --number "12/NQ-HĐND" --date 20/06/2026
    """
    from assets.decisions.commune import recording
    from assets.progress.records import ProgressRecordError, record_council_resolution

    day = parse_day(resolution_date)
    try:
        warehouse = Warehouse(warehouse_url)
        with recording(warehouse, province_code):
            row = record_council_resolution(
                warehouse,
                province_code,
                commune_code,
                resolution_number=resolution_number,
                resolution_date=day,
                decision_id=decision_id,
                recorded_by=recorded_by,
                note=note,
            )
    except (ProgressRecordError, WarehouseError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"Đã ghi nghị quyết {row['resolution_number']} ngày {day:%d/%m/%Y} của HĐND xã "
        f"{commune_code} về đề án {row['decision_id']} (người ghi: {row['recorded_by']}). "
        "Chạy lại publish_approved_plan của tỉnh để công bố phương án đã thông qua."
    )


RULES_OVERRIDE_OPTION = click.option(
    "--rules-override",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    envvar="HAMLETS_RULES_OVERRIDE",
    help="The province's override of the rules file (its consultation rule, floors…).",
)


@decide.command()
@WAREHOUSE_OPTION
@PROVINCE_OPTION
@COMMUNE_OPTION
@click.option(
    "--option",
    "option_name",
    required=True,
    help="The engine's option to draft the plan from (e.g. compliant, minimal).",
)
@click.option(
    "--accept-below-standard",
    is_flag=True,
    help="Record it even though units stay below the standard (the reason goes in --note).",
)
@RULES_OVERRIDE_OPTION
@click.option("--by", "decided_by", default=None, help="DuckDB only: who drafts it.")
@click.option("--note", default="", help="Why this plan; kept with the record.")
def draft(
    warehouse_url: str,
    province_code: str,
    commune_code: str,
    option_name: str,
    accept_below_standard: bool,
    rules_override: Path | None,
    decided_by: str | None,
    note: str,
) -> None:
    """Draft the commune's plan from one of the engine's published options, checked as
    the notebook checks it (constraints, standard, contiguity).

    \b
    Example:
      hamlets decide draft --province 04 --commune 04001 --option compliant
    """
    from assets.decisions.commune import DecisionError, load_commune, recording
    from assets.decisions.record import record_decision
    from assets.planning.rules import RulesError, load_rules

    warehouse = Warehouse(warehouse_url)
    try:
        commune = load_commune(warehouse, province_code, commune_code)
        rules = load_rules(commune.rules_profile, override_path=rules_override)
        with recording(warehouse, province_code):
            recorded = record_decision(
                warehouse, commune, rules, decided_by=decided_by, note=note,
                option_name=option_name, accept_below_standard=accept_below_standard,
            )  # fmt: skip
    except (DecisionError, RulesError, WarehouseError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"Đã ghi dự thảo đề án {recorded.decision_id} của xã {commune_code} "
        f"(phương án {option_name})."
    )


@decide.command()
@WAREHOUSE_OPTION
@PROVINCE_OPTION
@click.option(
    "--file",
    "results_file",
    required=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Results per hamlet (.csv or .xlsx; the columns of a lay_y_kien file).",
)
@RULES_OVERRIDE_OPTION
@click.option("--profile", default=None, help="Rules profile (default: the file's).")
@click.option("--by", "recorded_by", default=None, help="DuckDB only: who records them.")
def consult(
    warehouse_url: str,
    province_code: str,
    results_file: Path,
    rules_override: Path | None,
    profile: str | None,
    recorded_by: str | None,
) -> None:
    """Record the residents' consultation results on the communes' plans, judged by the
    province's rule (ND 185 sets no approval share: the override gives it).

    \b
    Example:
      hamlets decide consult --province 04 --file lay_y_kien.xlsx \\
          --rules-override tinh_04.yaml
    """
    from assets.decisions.commune import recording
    from assets.planning.rules import RulesError, load_rules
    from assets.progress.consultation import record_consultation_file
    from assets.progress.records import ProgressRecordError
    from assets.raw.landing import LandingFileError

    try:
        rules = load_rules(profile, override_path=rules_override)
        warehouse = Warehouse(warehouse_url)
        with recording(warehouse, province_code):
            outcome = record_consultation_file(
                warehouse, results_file, province_code, rules, recorded_by=recorded_by
            )
    except (ProgressRecordError, RulesError, LandingFileError, WarehouseError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    rows = outcome.rows
    passed = int(rows["is_passed"].astype(bool).sum())
    click.echo(
        f"Đã ghi kết quả lấy ý kiến của {len(rows)} thôn, tổ dân phố: {passed} tán thành, "
        f"{len(rows) - passed} không tán thành ({len(outcome.forbidden)} ràng buộc không sáp "
        "nhập được ghi cho lần lập phương án sau)."
    )
