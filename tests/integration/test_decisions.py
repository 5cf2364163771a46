"""Planners' decisions: recorded in the warehouse, checked by the engine's rules, and
published as the approved plan and its staffing table."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import pandas as pd
import pytest
from click.testing import CliRunner
from sqlalchemy.engine import make_url

from assets.decisions.commune import DecisionError, load_commune
from assets.decisions.record import (
    latest_decisions,
    read_decision_assignments,
    read_decisions,
    record_decision,
)
from assets.marts.build import PublishStamp
from assets.marts.publish import publish_marts
from assets.planning.rules import load_rules
from assets.progress.consultation import record_consultation
from assets.progress.records import (
    COUNCIL_APPROVALS,
    affected_hamlets,
    read_records,
    record_council_resolution,
)
from assets.progress.status import TIMEZONE
from assets.warehouse import Warehouse, WarehouseError
from assets.warehouse.roles import apply_roles, grant_planner
from pipelines.build import build_defs
from pipelines.cli import main
from pipelines.settings import Settings

pytestmark = pytest.mark.integration
APPROVED = [dg.AssetKey(["marts", "approved_plan"]), dg.AssetKey(["marts", "approved_staffing"])]


def copy_of(published, tmp_path: Path) -> Settings:
    """The published warehouse copied, so decisions here leave the shared one as it was."""
    settings, _ = published
    source = Warehouse(settings.warehouse_url).path
    target = tmp_path / "decided.duckdb"
    shutil.copy(source, target)
    return Settings(
        warehouse_url=f"duckdb:///{target}",
        landing_root=settings.landing_root,
        exports_dir=tmp_path / "exports",
    )


def merging_commune(warehouse: Warehouse) -> str:
    """A commune whose compliant option merges hamlets."""
    options = warehouse.query(
        "SELECT commune_code FROM marts.merger_options_current "
        "WHERE option_name = 'compliant' AND units_after < units_before ORDER BY commune_code"
    )
    assert len(options), "the small province should need at least one merger"
    return str(options["commune_code"].iloc[0])


DRAFTED = datetime(2026, 6, 5, 3, tzinfo=UTC)  # 5 June in Vietnam


# ND 185 sets no approval share: the province's own rule, as its override would give it.
PROVINCE_RULE = replace(
    load_rules(), consultation_approval_share=0.5, consultation_rule_basis="Quyết định thử của tỉnh"
)


def consult(warehouse: Warehouse, province: str, decision_id: str, day: str) -> None:
    """Every affected hamlet of the plan consulted on ``day``, 80% in favour."""
    affected = affected_hamlets(read_decision_assignments(warehouse, [decision_id]))
    results = affected[["hamlet_code"]].assign(
        households_consulted=100, households_in_favour=80, households_against=20,
        consulted_date=day,
    )  # fmt: skip
    record_consultation(
        warehouse, province, decision_id, results, PROVINCE_RULE, recorded_by="Cán bộ thử"
    )


def resolve(url: str, province: str, commune: str, *args: str) -> tuple[int, str]:
    """``hamlets decide resolution`` as a planner types it: exit code and output."""
    result = CliRunner().invoke(
        main,
        ["decide", "resolution", "--warehouse", url, "--province", province,
         "--commune", commune, *args],
    )  # fmt: skip
    return result.exit_code, result.output


def materialise_approved(settings: Settings, province: str) -> dg.ExecuteInProcessResult:
    job = build_defs(settings).resolve_implicit_global_asset_job_def()
    return job.execute_in_process(
        asset_selection=APPROVED,
        partition_key=province,
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


def test_a_decision_flows_to_the_approved_plan_and_staffing(published, tmp_path):
    settings = copy_of(published, tmp_path)
    province = published[1].province_code
    warehouse = Warehouse(settings.warehouse_url)
    code = merging_commune(warehouse)
    commune = load_commune(warehouse, province, code)
    rules = load_rules(commune.rules_profile)

    recorded = record_decision(
        warehouse, commune, rules, decided_by="Nguyễn Thị Lan", option_name="compliant",
        note="Theo ý kiến cử tri", decided_at=DRAFTED,
    )  # fmt: skip
    stored = read_decisions(warehouse, province)
    assert stored["decision_id"].tolist() == [recorded.decision_id]
    assert stored.loc[0, "based_on_run_id"] == commune.run_id
    assert len(read_decision_assignments(warehouse, [recorded.decision_id])) == len(commune.hamlets)

    # A drafted plan is not an approved one: nothing is published before the council's
    # resolution (ND 185/2026 Art. 9).
    assert materialise_approved(settings, province).success
    assert warehouse.read_table("marts.approved_plan_current").empty
    assert warehouse.read_table("marts.approved_staffing_current").empty
    # The council decides after the residents are consulted.
    url = settings.warehouse_url
    code_, said = resolve(url, province, code, "--number", "12/NQ-HĐND", "--date", "25/06/2026")
    assert code_ == 1 and "chưa lấy ý kiến đạt" in said
    consult(warehouse, province, recorded.decision_id, "20/06/2026")
    for args, why in [
        (["--number", " ", "--date", "25/06/2026"], "thiếu số nghị quyết"),
        (["--number", "12/NQ-HĐND", "--date", "19/06/2026"], "trước khi lấy xong ý kiến"),
        (["--number", "12/NQ-HĐND", "--date", "2026-06-01"], "trước ngày có đề án"),
        (["--number", "12/NQ-HĐND", "--date", "25/06/2206"], "sau hôm nay"),
        (["--number", "12/NQ-HĐND", "--date", "25-06-2026"], "dd/mm/yyyy"),
        (["--number", "1", "--date", "25/06/2026", "--decision", "x"], "no decision 'x'"),
    ]:
        code_, said = resolve(url, province, code, *args)
        assert code_ != 0 and why in said, (args, said)
    assert read_records(warehouse, COUNCIL_APPROVALS, province).empty
    code_, said = resolve(
        url, province, code, "--number", "12/NQ-HĐND", "--date", "25/06/2026", "--by", "Lan"
    )
    assert code_ == 0 and "Đã ghi nghị quyết 12/NQ-HĐND ngày 25/06/2026" in said, said
    stored = read_records(warehouse, COUNCIL_APPROVALS, province)
    assert stored[["decision_id", "resolution_number", "recorded_by"]].values.tolist() == [
        [recorded.decision_id, "12/NQ-HĐND", "Lan"]
    ]

    result = materialise_approved(settings, province)
    assert result.success
    approved = warehouse.read_table("marts.approved_plan_current")
    assert set(approved["resolution_number"]) == {"12/NQ-HĐND"}
    assert set(approved["approved_date"]) == {pd.Timestamp("2026-06-25")}
    option = commune.units[commune.units["option_name"] == "compliant"]
    assert set(approved["commune_code"]) == {code}
    assert sorted(approved["unit_id"]) == sorted(option["unit_id"])
    assert approved.set_index("unit_id")["households"].to_dict() == (
        option.set_index("unit_id")["households"].to_dict()
    )
    assert approved.geometry.notna().all() and (approved["area_km2"] > 0).all()

    staffing = warehouse.read_table("marts.approved_staffing_current").set_index("unit_id")
    scores = commune.options.set_index("option_name").loc["compliant"]
    per_unit = rules.part_time_positions_per_unit
    assert staffing["positions_kept"].eq(per_unit).all()
    assert (
        staffing["positions_ending"].sum() == scores["positions_before"] - scores["positions_after"]
    )
    merged = staffing[staffing["member_count"] > 1]
    assert len(merged) and merged["ending_hamlet_codes"].str.len().gt(0).all()
    assert staffing["allowance_saving_vnd_per_year"].sum() == pytest.approx(
        scores["allowance_saving_vnd_per_year"]
    )
    # Aggregates only: the planner's name stays with the decision, out of the marts.
    assert "decided_by" not in approved.columns and "decided_by" not in staffing.columns


def test_a_hand_edited_plan_supersedes_and_must_own_up_to_units_below(published, tmp_path):
    settings = copy_of(published, tmp_path)
    province = published[1].province_code
    warehouse = Warehouse(settings.warehouse_url)
    commune = load_commune(warehouse, province, merging_commune(warehouse))
    rules = load_rules(commune.rules_profile)
    first = record_decision(
        warehouse, commune, rules, decided_by="Lan", option_name="compliant", decided_at=DRAFTED
    )
    consult(warehouse, province, first.decision_id, "2026-06-20")
    record_council_resolution(
        warehouse, province, commune.commune_code, resolution_number="12/NQ-HĐND",
        resolution_date=datetime(2026, 6, 25).date(), recorded_by="Lan",
    )  # fmt: skip

    # Undo every merger: each hamlet its own unit, so some stay below the standard.
    alone = commune.hamlets[["hamlet_code"]].assign(unit_id=commune.hamlets["hamlet_code"])
    with pytest.raises(DecisionError, match="dưới tiêu chuẩn"):
        record_decision(warehouse, commune, rules, decided_by="Lan", assignment=alone)
    # A unit of hamlets that do not touch is refused whatever the planner accepts.
    touching = commune.adjacency()
    touching = set(zip(touching["hamlet_code"], touching["neighbour_hamlet_code"], strict=True))
    codes = commune.hamlets["hamlet_code"].tolist()
    a, b = next((a, b) for a in codes for b in codes if a < b and (a, b) not in touching)
    apart = alone.assign(unit_id=alone["unit_id"].replace({b: a}))
    with pytest.raises(ValueError, match=f"không liền kề nhau \\({a} \\| {b}\\)"):
        record_decision(
            warehouse, commune, rules, decided_by="Lan", assignment=apart,
            accept_below_standard=True,
        )  # fmt: skip
    manual = record_decision(
        warehouse, commune, rules, decided_by="Lan", assignment=alone,
        accept_below_standard=True, note="Chờ hướng dẫn của tỉnh về diện đặc thù",
    )  # fmt: skip
    decisions = read_decisions(warehouse, province)
    assert len(decisions) == 2
    assert latest_decisions(decisions)["decision_id"].tolist() == [manual.decision_id]

    # Drafted, not resolved: the council's plan stays the approved one.
    assert materialise_approved(settings, province).success
    approved = warehouse.read_table("marts.approved_plan_current")
    assert set(approved["decision_id"]) == {first.decision_id}
    # Resolved (no merge, so nobody to consult): it replaces the earlier plan.
    record_council_resolution(
        warehouse, province, commune.commune_code, resolution_number="15/NQ-HĐND",
        resolution_date=datetime.now(ZoneInfo(TIMEZONE)).date(), recorded_by="Lan",
    )  # fmt: skip
    assert materialise_approved(settings, province).success
    approved = warehouse.read_table("marts.approved_plan_current")
    assert set(approved["option_name"]) == {"manual"}
    assert set(approved["resolution_number"]) == {"15/NQ-HĐND"}
    assert sorted(approved["unit_id"]) == sorted(commune.hamlets["hamlet_code"])
    staffing = warehouse.read_table("marts.approved_staffing_current")
    assert staffing["positions_ending"].sum() == 0
    assert staffing["allowance_saving_vnd_per_year"].sum() == pytest.approx(0)


def test_the_cli_drafts_consults_and_resolves_a_plan(published, tmp_path):
    """``hamlets decide draft|consult|resolution``: what the notebook records, from a
    terminal; the consultation is judged by the province's rule, which ND 185 leaves to
    it, so without the province's override the results are refused."""
    settings = copy_of(published, tmp_path)
    province = published[1].province_code
    url = settings.warehouse_url
    warehouse = Warehouse(url)
    code = merging_commune(warehouse)

    def decide(*args: str) -> tuple[int, str]:
        where = ["--warehouse", url, "--province", province]
        result = CliRunner().invoke(main, ["decide", args[0], *where, *args[1:]])
        return result.exit_code, result.output

    assert decide("draft", "--commune", code, "--option", "no_such_option", "--by", "Lan")[0] == 1
    status, said = decide("draft", "--commune", code, "--option", "compliant", "--by", "Lan")
    assert status == 0, said
    (decision_id,) = read_decisions(warehouse, province)["decision_id"]
    assert decision_id in said

    affected = affected_hamlets(read_decision_assignments(warehouse, [decision_id]))
    affected = affected["hamlet_code"].tolist()
    assert affected
    today = datetime.now(ZoneInfo(TIMEZONE)).date()
    results = tmp_path / "lay_y_kien.csv"
    pd.DataFrame(
        {
            "Mã xã": code,
            "Mã thôn": affected,
            "Số hộ được lấy ý kiến": 100,
            "Số hộ đồng ý": 80,
            "Số hộ không đồng ý": 20,
            "Ngày lấy ý kiến": today.strftime("%d/%m/%Y"),
        }
    ).to_csv(results, index=False)
    status, said = decide("consult", "--file", str(results), "--by", "Lan")
    assert status == 1 and "không quy định tỷ lệ" in said
    override = tmp_path / "tinh.yaml"
    override.write_text(
        "profiles:\n  nd185_2026:\n    consultation_approval_share: 0.5\n"
        '    consultation_rule_basis: "Quyết định thử của UBND tỉnh"\n',
        encoding="utf-8",
    )
    status, said = decide(
        "consult", "--file", str(results), "--rules-override", str(override), "--by", "Lan"
    )
    assert status == 0, said
    assert f"{len(affected)} thôn, tổ dân phố: {len(affected)} tán thành" in said
    status, said = decide(
        "resolution", "--commune", code, "--number", "7/NQ-HĐND",
        "--date", today.strftime("%d/%m/%Y"), "--by", "Lan",
    )  # fmt: skip
    assert status == 0, said
    assert materialise_approved(settings, province).success
    approved = warehouse.read_table("marts.approved_plan_current")
    assert set(approved["resolution_number"]) == {"7/NQ-HĐND"}


def test_decisions_are_recorded_in_postgis(published, postgres_url, make_login):
    """The commune's marts published into PostGIS, a decision recorded by a planner of
    the province under their own login, and read back."""
    settings, report = published
    duck, postgis = Warehouse(settings.warehouse_url), Warehouse(postgres_url)
    code = merging_commune(duck)
    source = load_commune(duck, report.province_code, code)
    first = source.hamlets.iloc[0]
    stamp = PublishStamp(
        first["province_code"], first["rules_profile"], first["run_id"], first["published_at"]
    )
    tables = {
        "hamlets": source.hamlets,
        "merger_assignments": source.assignments,
        "merged_units": source.units,
        "merger_options": source.options,
    }
    publish_marts(postgis, {k: pd.DataFrame(v) for k, v in tables.items()}, stamp)
    apply_roles(postgis)
    planner_url = make_login("planner")
    login = make_url(planner_url).username
    grant_planner(postgis, login, [report.province_code])
    planner = Warehouse(planner_url)
    commune = load_commune(planner, report.province_code, code)
    assert commune.hamlets.geometry.geom_equals_exact(source.hamlets.geometry, 1e-9).all()
    rules = load_rules(commune.rules_profile)
    with pytest.raises(WarehouseError, match="database login"):
        record_decision(planner, commune, rules, decided_by="Lan", option_name="compliant")
    recorded = record_decision(planner, commune, rules, option_name="compliant")
    assert recorded.decision["decided_by"] == login
    stored = read_decisions(planner, report.province_code)
    assert stored[["decision_id", "decided_by"]].values.tolist() == [[recorded.decision_id, login]]
    stored = read_decision_assignments(planner, [recorded.decision_id])
    assert sorted(stored["hamlet_code"]) == sorted(source.hamlets["hamlet_code"])
