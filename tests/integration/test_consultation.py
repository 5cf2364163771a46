"""Residents' consultation: the approval rule, a failed merge forbidden and the commune
re-planned without it, results from a landing-folder file."""

from __future__ import annotations

import getpass
import json
import shutil
from dataclasses import replace
from datetime import UTC, datetime

import dagster as dg
import pandas as pd
import pytest

from assets.planning.rules import load_rules
from assets.progress.consultation import consultation_rows
from assets.progress.records import ProgressRecordError

# ND 185/2026 sets no approval share: the province's override sets its rule.
RULES = replace(
    load_rules(),
    consultation_approval_share=0.5,
    consultation_rule_basis="Quy định thử của UBND tỉnh",
)


def _decision() -> pd.Series:
    return pd.Series(
        {
            "decision_id": "d1",
            "province_code": "04",
            "commune_code": "04001",
            "decided_at": pd.Timestamp("2026-06-05T03:00Z"),
        }
    )


ASSIGNMENT = pd.DataFrame(
    {
        "decision_id": "d1",
        "commune_code": "04001",
        "hamlet_code": ["a", "b", "c"],
        "unit_id": ["a", "a", "c"],
    }
)


def _results(in_favour_a: int, **overrides) -> pd.DataFrame:
    rows = pd.DataFrame(
        {
            "hamlet_code": ["a", "b"],
            "households_consulted": [100, 80],
            "households_in_favour": [in_favour_a, 70],
            "households_against": [100 - in_favour_a, 10],
            "consulted_date": ["20/06/2026", "2026-06-21"],
        }
    )
    return rows.assign(**overrides)


def test_more_than_half_of_each_hamlet_must_be_in_favour():
    passed = consultation_rows(_decision(), ASSIGNMENT, _results(51), RULES, recorded_by="X")
    assert passed["is_passed"].tolist() == [True, True]
    assert passed["required_share"].eq(0.5).all()
    assert passed["consulted_date"].tolist() == [
        pd.Timestamp("2026-06-20"),
        pd.Timestamp("2026-06-21"),
    ]
    exactly_half = consultation_rows(_decision(), ASSIGNMENT, _results(50), RULES, recorded_by="X")
    assert exactly_half["is_passed"].tolist() == [False, True]
    assert exactly_half["unit_id"].tolist() == ["a", "a"]


def test_bad_results_are_refused_with_every_problem_named():
    bad = pd.concat([_results(90, households_against=[20, 10]), _results(50).iloc[[0]]])
    bad.iloc[2, 0] = "c"
    bad.loc[bad["hamlet_code"] == "b", "consulted_date"] = "01/06/2026"  # before the plan
    with pytest.raises(ProgressRecordError) as error:
        consultation_rows(_decision(), ASSIGNMENT, bad, RULES, recorded_by="X")
    message = str(error.value)
    assert "thôn/TDP a: số hộ tán thành và không tán thành vượt" in message
    assert "thôn/TDP b: ngày lấy ý kiến trước ngày có đề án (05/06/2026)" in message
    assert "thôn/TDP c: không thuộc đơn vị sáp nhập" in message


@pytest.mark.integration
def test_a_failed_consultation_leads_to_a_replan_without_that_merge(published, tmp_path):
    from test_decisions import copy_of, merging_commune

    from assets.decisions.commune import load_commune
    from assets.decisions.record import read_decision_assignments, record_decision
    from assets.planning.constraints import PlannerConstraints, read_constraints
    from assets.progress.consultation import (
        consultation_status,
        record_consultation,
        replan_commune,
    )
    from assets.progress.deadlines import load_deadlines
    from assets.progress.records import ProgressRecords, affected_hamlets, read_records
    from assets.progress.status import commune_progress
    from assets.warehouse import Warehouse
    from pipelines.build import build_defs

    settings = copy_of(published, tmp_path)
    warehouse = Warehouse(settings.warehouse_url)
    commune = merging_commune(warehouse)
    decided = record_decision(
        warehouse,
        load_commune(warehouse, "04", commune),
        RULES,
        decided_by="Cán bộ thử",
        option_name="compliant",
        decided_at=datetime(2026, 6, 5, 3, tzinfo=UTC),
    )
    assignment = read_decision_assignments(warehouse, [decided.decision_id])
    affected = affected_hamlets(assignment)
    # The first merged unit's smallest hamlet rejects it; everyone else agrees.
    unit = affected["unit_id"].iloc[0]
    members = sorted(affected.loc[affected["unit_id"] == unit, "hamlet_code"])
    rejecting = next(h for h in members if h != unit)
    results = affected[["hamlet_code"]].assign(
        households_consulted=100,
        households_in_favour=[30 if h == rejecting else 90 for h in affected["hamlet_code"]],
        households_against=[70 if h == rejecting else 10 for h in affected["hamlet_code"]],
        consulted_date="2026-06-20",
    )
    outcome = record_consultation(
        warehouse, "04", decided.decision_id, results, RULES, recorded_by="Cán bộ thử"
    )
    assert outcome.failed["hamlet_code"].tolist() == [rejecting]
    forbidden = {
        frozenset(p)
        for p in zip(
            outcome.forbidden["hamlet_code"], outcome.forbidden["other_hamlet_code"], strict=True
        )
    }
    assert forbidden == {frozenset((rejecting, other)) for other in members if other != rejecting}
    assert outcome.forbidden["constraint_reason"].str.contains("30/100 hộ").all()

    # The merge is flagged: on the map, and the commune stays at "plan drafted".
    status = consultation_status(warehouse, "04", decided.decision_id).set_index("hamlet_code")
    assert status.loc[rejecting, "consultation"] == "failed"
    records = ProgressRecords(
        communes=pd.DataFrame({"commune_code": [commune], "commune_name": ["X"]}),
        decisions=decided.decision.to_frame().T,
        assignments=assignment,
        consultations=read_records(warehouse, "planning.consultations", "04"),
        approvals=read_records(warehouse, "planning.council_approvals", "04"),
    )
    progress = commune_progress(
        records, datetime(2026, 6, 22).date(), load_deadlines().for_province("04")
    )
    assert progress["progress_status"].tolist() == ["plan_drafted"]
    assert progress["has_failed_consultation"].tolist() == [True]

    # Re-planned now, and by the pipeline's next run: the rejecting hamlet is merged with
    # none of its former partners in any option.
    replanned = replan_commune(warehouse, "04", commune, RULES)
    job = build_defs(settings).resolve_implicit_global_asset_job_def()
    keys = ["merger_assignments", "merger_units", "merger_option_summary", "constraint_problems"]
    ran = job.execute_in_process(
        asset_selection=[dg.AssetKey(["planning", k]) for k in keys],
        partition_key="04",
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert ran.success
    planned = warehouse.read_table("planning.merger_assignments")
    for assignments in (replanned.assignments, planned):
        mine = assignments[assignments["commune_code"] == commune]
        for _, option in mine.groupby("option_name"):
            unit_of = dict(zip(option["hamlet_code"], option["unit_id"], strict=True))
            assert all(unit_of[rejecting] != unit_of[o] for o in members if o != rejecting)
        told = mine.loc[mine["hamlet_code"] == rejecting, "explanation"]
        assert told.str.contains("Ràng buộc: không ghép với").all()
    # The review map shows the constraints and each hamlet's consultation.
    from assets.progress.review import constraints_table, review_map

    view = load_commune(warehouse, "04", commune)
    table = constraints_table(warehouse, view)
    assert len(table) == len(forbidden) and (table["Loại ràng buộc"] == "không ghép").all()
    html = review_map(warehouse, view).get_root().render()
    for text in ("Ràng buộc của người lập kế hoạch", "Lấy ý kiến Nhân dân", "Không đạt"):
        assert text in html or json.dumps(text)[1:-1] in html  # layers and data are JSON
    # Recording the same results again adds no second constraint.
    again = record_consultation(
        warehouse, "04", decided.decision_id, results, RULES, recorded_by="Cán bộ thử"
    )
    assert again.forbidden.empty
    assert len(PlannerConstraints.of(read_constraints(warehouse, "04")).apart) == len(forbidden)


@pytest.mark.integration
def test_results_from_a_landing_folder_file(published, small_landing, tmp_path):
    from test_decisions import copy_of, merging_commune

    from assets.decisions.commune import load_commune
    from assets.decisions.record import read_decision_assignments, record_decision
    from assets.progress.records import affected_hamlets, read_records
    from pipelines.build import build_defs
    from pipelines.settings import Settings

    settings = copy_of(published, tmp_path)
    root = tmp_path / "landing"
    shutil.copytree(small_landing, root / "04", ignore=shutil.ignore_patterns("ground_truth"))
    override = tmp_path / "province_04.yaml"
    override.write_text(
        "profiles:\n  nd185_2026:\n    consultation_approval_share: 0.5\n"
        '    consultation_rule_basis: "Quy định thử của UBND tỉnh"\n',
        encoding="utf-8",
    )
    settings = Settings(
        warehouse_url=settings.warehouse_url,
        landing_root=root,
        exports_dir=tmp_path / "x",
        rules_override=override,
    )
    from assets.warehouse import Warehouse

    warehouse = Warehouse(settings.warehouse_url)
    commune = merging_commune(warehouse)
    decided = record_decision(
        warehouse,
        load_commune(warehouse, "04", commune),
        RULES,
        decided_by="Cán bộ thử",
        option_name="compliant",
        decided_at=datetime(2026, 6, 5, 3, tzinfo=UTC),
    )
    affected = affected_hamlets(read_decision_assignments(warehouse, [decided.decision_id]))
    pd.DataFrame(
        {
            "Mã xã": commune,
            "Mã thôn/TDP": affected["hamlet_code"],
            "Số hộ được lấy ý kiến": 120,
            "Số hộ tán thành": 100,
            "Số hộ không tán thành": 20,
            "Ngày lấy ý kiến": "25/06/2026",
        }
    ).to_csv(root / "04" / "lay_y_kien.csv", index=False)
    job = build_defs(settings).resolve_implicit_global_asset_job_def()
    for _ in range(2):  # the same file twice: the same rows
        ran = job.execute_in_process(
            asset_selection=[dg.AssetKey(["planning", "consultation_file"])],
            partition_key="04",
            instance=dg.DagsterInstance.ephemeral(),
        )
        assert ran.success
        rows = read_records(warehouse, "planning.consultations", "04")
        assert len(rows) == len(affected) and rows["is_passed"].all()
        assert (rows["decision_id"] == decided.decision_id).all()
        assert (rows["source_file"] == "lay_y_kien.csv").all()


def test_a_corrected_result_is_a_later_row_that_wins_on_read(tmp_path):
    """Entering a hamlet's result again appends it (the first stays on record) and every
    reader takes the later one; the same result again adds nothing. A warehouse from
    before, keyed one row per hamlet, takes the correction too."""
    from assets.progress.consultation import consultation_status, record_consultation
    from assets.progress.records import CONSULTATIONS, read_records
    from assets.warehouse import Warehouse, create_table_sql
    from expectations.schemas import DUCKDB_TYPES, TABLES

    warehouse = Warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    old = replace(TABLES[CONSULTATIONS], primary_key=("decision_id", "hamlet_code"))
    with warehouse.transaction() as session:
        session.execute(create_table_sql(old, DUCKDB_TYPES))
    decision = _decision().to_frame().T
    decision = decision.assign(option_name="compliant", decided_by="Lan", note="")
    decision = decision.assign(based_on_run_id="r", rules_profile="x")
    warehouse.write_table("planning.decisions", TABLES["planning.decisions"].enforce(decision))
    warehouse.write_table("planning.decision_assignments", ASSIGNMENT.assign(province_code="04"))

    first = record_consultation(warehouse, "04", "d1", _results(40), RULES, recorded_by="Lan")
    assert first.failed["hamlet_code"].tolist() == ["a"]
    for _ in range(2):
        record_consultation(warehouse, "04", "d1", _results(60).iloc[[0]], RULES)
    history = read_records(warehouse, CONSULTATIONS, "04", history=True)
    assert history[["hamlet_code", "households_in_favour"]].values.tolist() == [
        ["a", 40],
        ["b", 70],
        ["a", 60],
    ]
    assert history["recorded_by"].tolist() == ["Lan", "Lan", getpass.getuser()]
    in_force = read_records(warehouse, CONSULTATIONS, "04").set_index("hamlet_code")
    assert in_force["households_in_favour"].to_dict() == {"a": 60, "b": 70}
    status = consultation_status(warehouse, "04", "d1").set_index("hamlet_code")
    assert status["consultation"].to_dict() == {"a": "passed", "b": "passed", "c": "not_affected"}
