"""Progress against the directive's deadlines: statuses from planners' records on a
fixture with known dates, the weekly report's files, the asset and the Monday schedule."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import UTC, date, datetime

import dagster as dg
import pandas as pd
import pytest
from hostile import FORMULAS, assert_text_not_formulas

from assets.progress.deadlines import (
    DeadlinesError,
    Milestone,
    ProvinceDeadlines,
    load_deadlines,
)
from assets.progress.records import ProgressRecords
from assets.progress.report import ProgressReport, write_chart, write_workbook
from assets.progress.status import commune_progress, progress_timeline, status_counts
from expectations.schemas import TABLES

# As DOMAIN.md gives Cao Bằng's: "trước ngày" dates; the province-wide plan is the
# province's milestone, not each commune's.
DEADLINES = ProvinceDeadlines(
    "04",
    "Chỉ đạo thử",
    (
        Milestone("province_plan", "Đề án toàn tỉnh", date(2026, 6, 10), None),
        Milestone("consulted", "Đề án xã đã lấy ý kiến", date(2026, 6, 30), "consulted"),
        Milestone("report", "Báo cáo Chính phủ", date(2026, 7, 5), "approved"),
    ),
)


def _records() -> ProgressRecords:
    """Six communes with known dates:

    - 00001: nothing recorded;
    - 00002: plan drafted 1 June (recorded 31 May 18:00 UTC, 1 June in Vietnam);
    - 00003: drafted 5 June, both merged hamlets in favour on 20 June;
    - 00004: drafted 2 June, consulted 15 June, council approval 25 June;
    - 00005: drafted 3 June, one hamlet against on 18 June (failed);
    - 00006: drafted 8 June, a plan without merges (nothing to consult).
    """
    communes = pd.DataFrame(
        {"commune_code": [f"0000{k}" for k in range(1, 7)], "commune_name": list("ABCDEF")}
    )
    decided = {
        "d2": ("00002", "2026-05-31T18:00Z"),
        "d3": ("00003", "2026-06-05T03:00Z"),
        "d4": ("00004", "2026-06-02T03:00Z"),
        "d5": ("00005", "2026-06-03T03:00Z"),
        "d6": ("00006", "2026-06-08T03:00Z"),
    }
    decisions = TABLES["planning.decisions"].enforce(
        pd.DataFrame(
            {
                "decision_id": list(decided),
                "province_code": "04",
                "commune_code": [c for c, _ in decided.values()],
                "option_name": "compliant",
                "decided_by": "Cán bộ thử",
                "note": "",
                "decided_at": [t for _, t in decided.values()],
                "based_on_run_id": "r",
                "rules_profile": "nd185_2026",
            }
        )
    )
    # Per decision: (hamlet, unit); units of two hamlets are merges.
    plans = {
        "d2": [("h21", "h21"), ("h22", "h21"), ("h23", "h23")],
        "d3": [("h31", "h31"), ("h32", "h31")],
        "d4": [("h41", "h41"), ("h42", "h41")],
        "d5": [("h51", "h51"), ("h52", "h51")],
        "d6": [("h61", "h61"), ("h62", "h62")],
    }
    assignments = pd.DataFrame(
        [
            {
                "decision_id": d,
                "province_code": "04",
                "commune_code": decided[d][0],
                "hamlet_code": h,
                "unit_id": u,
            }
            for d, rows in plans.items()
            for h, u in rows
        ]
    )
    votes = [
        ("d3", "h31", "2026-06-20", True),
        ("d3", "h32", "2026-06-19", True),
        ("d4", "h41", "2026-06-15", True),
        ("d4", "h42", "2026-06-15", True),
        ("d5", "h51", "2026-06-18", True),
        ("d5", "h52", "2026-06-18", False),
    ]
    consultations = pd.DataFrame(
        [
            {
                "decision_id": d,
                "commune_code": decided[d][0],
                "hamlet_code": h,
                "consulted_date": day,
                "is_passed": ok,
            }
            for d, h, day, ok in votes
        ]
    )
    approvals = pd.DataFrame(
        {
            "decision_id": ["d4"],
            "commune_code": ["00004"],
            "approved_date": ["2026-06-25"],
            "resolution_number": ["12/NQ-HĐND"],
        }
    )
    steps = pd.DataFrame(
        {
            "decision_id": ["d4", "d4", "d3"],
            "step": ["advisory_conference", "party_opinion", "advisory_conference"],
            "step_date": ["2026-06-08", "2026-06-12", "2026-06-10"],
        }
    )
    return ProgressRecords(communes, decisions, assignments, consultations, approvals, steps)


def test_statuses_dates_and_late_communes_on_known_dates():
    progress = commune_progress(_records(), date(2026, 7, 1), DEADLINES).set_index("commune_code")
    assert progress["progress_status"].to_dict() == {
        "00001": "no_plan",
        "00002": "plan_drafted",
        "00003": "consulted",
        "00004": "approved",
        "00005": "plan_drafted",
        "00006": "consulted",
    }
    counts = status_counts(progress)
    assert counts.to_dict() == {"no_plan": 1, "plan_drafted": 2, "consulted": 2, "approved": 1}
    assert progress.loc["00002", "plan_drafted_date"] == pd.Timestamp("2026-06-01")  # Vietnam day
    assert progress.loc["00003", "consulted_date"] == pd.Timestamp("2026-06-20")  # the last vote
    assert progress.loc["00006", "consulted_date"] == pd.Timestamp("2026-06-08")  # no merge
    assert progress.loc["00004", "approved_date"] == pd.Timestamp("2026-06-25")
    # Every step of the commune's process is shown, the resolution with its number.
    assert progress.loc["00004", "resolution_number"] == "12/NQ-HĐND"
    assert progress.loc["00004", "advisory_conference_date"] == pd.Timestamp("2026-06-08")
    assert progress.loc["00004", "party_opinion_date"] == pd.Timestamp("2026-06-12")
    assert progress.loc["00003", "advisory_conference_date"] == pd.Timestamp("2026-06-10")
    assert pd.isna(progress.loc["00003", "party_opinion_date"])
    assert pd.isna(progress.loc["00002", "advisory_conference_date"])
    assert progress["has_failed_consultation"].to_dict()["00005"]
    assert progress["has_failed_consultation"].sum() == 1
    late = progress[progress["late_milestones"] != ""]
    assert sorted(late.index) == ["00001", "00002", "00005"]
    # The province-wide plan is the province's milestone: no commune is late for it.
    assert "Đề án toàn tỉnh" not in " ".join(late["late_milestones"])
    assert (
        "Đề án xã đã lấy ý kiến (hạn trước ngày 30/06/2026)" in late.loc["00002", "late_milestones"]
    )
    assert "Báo cáo" not in " ".join(late["late_milestones"])  # not due yet on 1 July

    # Earlier, only what was recorded by then counts, and only passed deadlines are late.
    early = commune_progress(_records(), date(2026, 6, 12), DEADLINES).set_index("commune_code")
    assert status_counts(early).to_dict() == {
        "no_plan": 1,
        "plan_drafted": 4,
        "consulted": 1,
        "approved": 0,
    }
    assert (early["late_milestones"] == "").all()  # only the province's date has passed


def test_before_a_day_means_by_the_end_of_the_day_before():
    """ "Trước ngày 30/6" (DOMAIN.md): the last day is 29 June; on 30 June a commune
    without its consultation is late, on 29 June not yet; likewise 5 July."""
    on_29 = commune_progress(_records(), date(2026, 6, 29), DEADLINES).set_index("commune_code")
    assert (on_29["late_milestones"] == "").all()
    on_30 = commune_progress(_records(), date(2026, 6, 30), DEADLINES).set_index("commune_code")
    assert sorted(on_30.index[on_30["late_milestones"] != ""]) == ["00001", "00002", "00005"]
    on_4 = commune_progress(_records(), date(2026, 7, 4), DEADLINES).set_index("commune_code")
    assert "Báo cáo" not in " ".join(on_4["late_milestones"])
    on_5 = commune_progress(_records(), date(2026, 7, 5), DEADLINES).set_index("commune_code")
    assert "Báo cáo Chính phủ" in on_5.loc["00003", "late_milestones"]  # consulted, no resolution
    assert "Báo cáo" not in on_5.loc["00004", "late_milestones"]  # the council approved 25 June


def test_the_weekly_timeline_counts_every_commune_each_week():
    timeline = progress_timeline(_records(), date(2026, 7, 1), DEADLINES)
    weeks = timeline.groupby("week_date")["communes"].sum()
    assert (weeks == 6).all()
    assert weeks.index.max() == pd.Timestamp("2026-07-01")
    assert pd.Timestamp("2026-05-25") in weeks.index  # the Monday before the first record
    by = timeline.set_index(["week_date", "progress_status"])["communes"]
    assert by[(pd.Timestamp("2026-05-25"), "no_plan")] == 6
    assert by[(pd.Timestamp("2026-06-29"), "approved")] == 1


def test_the_report_workbook_and_chart(tmp_path):
    records, day = _records(), date(2026, 7, 1)
    report = ProgressReport(
        province_code="04",
        province_name="Cao Bằng",
        as_of=day,
        deadlines=DEADLINES,
        progress=commune_progress(records, day, DEADLINES),
        timeline=progress_timeline(records, day, DEADLINES),
    )
    workbook = write_workbook(report, tmp_path)
    chart = write_chart(report, tmp_path)
    assert workbook.name == "tien_do_tinh_04_20260701.xlsx"
    assert chart.stat().st_size > 10_000
    sheets = pd.read_excel(workbook, sheet_name=None)
    assert set(sheets) == {"Tổng hợp", "Tiến độ theo xã", "Theo tuần", "Xã chậm tiến độ"}
    late = sheets["Xã chậm tiến độ"]
    assert late["Mã xã"].astype(str).str.zfill(5).tolist() == ["00001", "00002", "00005"]
    assert {"Tiến độ", "Ngày có đề án", "Mốc đã quá hạn"} <= set(late.columns)
    communes = sheets["Tiến độ theo xã"]
    assert {"Ngày hội nghị đại biểu thôn/TDP với MTTQ", "Ngày cấp ủy cho ý kiến"} <= set(
        communes.columns
    )
    assert communes["Số nghị quyết"].dropna().tolist() == ["12/NQ-HĐND"]
    assert communes["Tiến độ"].value_counts()["Đã xây dựng đề án"] == 2
    # The deadlines as the directive words them, whose each is, and the last day.
    summary = pd.read_excel(workbook, sheet_name="Tổng hợp", header=None).astype(str)
    text = " ".join(summary.to_numpy().ravel())
    assert "trước ngày 30/06/2026" in text and "2026-06-29" in text
    row = summary[summary.apply(lambda r: r.str.contains("Đề án toàn tỉnh").any(), axis=1)]
    assert "Tỉnh" in set(row.iloc[0]) and "Từng xã" in text
    # A province without configured deadlines still gets its report, with nobody late.
    undated = ProvinceDeadlines("33", "", ())
    plain = ProgressReport(
        "33", "Hưng Yên", day, undated, commune_progress(records, day, undated), report.timeline
    )
    assert write_chart(plain, tmp_path).exists() and plain.late.empty
    assert write_workbook(plain, tmp_path).exists()


def test_the_report_keeps_hostile_commune_names_as_text(tmp_path):
    """Names typed by offices: formulas stay text in the workbook, and a "$" pair is
    not read as mathtext by the chart (a bad one used to stop the report)."""
    names = ["Xã $\\frac$", *FORMULAS[:5]]
    records = _records()
    records = replace(records, communes=records.communes.assign(commune_name=names))
    day = date(2026, 7, 1)
    report = ProgressReport(
        "04",
        "Cao Bằng",
        day,
        DEADLINES,
        commune_progress(records, day, DEADLINES),
        progress_timeline(records, day, DEADLINES),
    )
    assert "00001" in set(report.late["commune_code"])  # "$\\frac$" is on the chart
    assert write_chart(report, tmp_path).stat().st_size > 10_000
    assert_text_not_formulas(write_workbook(report, tmp_path), names)


def test_deadlines_come_from_the_configuration(tmp_path):
    """Cao Bằng's five dates as DOMAIN.md gives them: the party standing committee
    report (before 8 June), the province-wide plan (before 10 June, the province's),
    commune plans with residents consulted and the part-time staff plan (before 30 June),
    the report to the Government (before 5 July)."""
    cao_bang = load_deadlines().for_province("04")
    assert [(m.key, m.before, m.last_day, m.requires) for m in cao_bang.milestones] == [
        ("report_to_party_committee", date(2026, 6, 8), date(2026, 6, 7), None),
        ("province_plan", date(2026, 6, 10), date(2026, 6, 9), None),
        ("commune_plans_consulted", date(2026, 6, 30), date(2026, 6, 29), "consulted"),
        ("staffing_plan", date(2026, 6, 30), date(2026, 6, 29), None),
        ("report_to_government", date(2026, 7, 5), date(2026, 7, 4), "approved"),
    ]
    assert load_deadlines().for_province("33").milestones == ()
    bad = tmp_path / "deadlines.yaml"
    bad.write_text(
        'version: 1\nprovinces:\n  "04":\n    milestones:\n'
        "      - {key: x, label_vi: X, before: 2026-06-10, requires: signed}\n",
        encoding="utf-8",
    )
    with pytest.raises(DeadlinesError, match=r"provinces\.04\.milestones\[0\]\.requires"):
        load_deadlines(bad)
    # A "due" date would be read either way: the file must say "before".
    bad.write_text(
        'version: 1\nprovinces:\n  "04":\n    milestones:\n'
        "      - {key: x, label_vi: X, due: 2026-06-10}\n",
        encoding="utf-8",
    )
    with pytest.raises(DeadlinesError, match=r"milestones\[0\]\.due: write .* 'before'"):
        load_deadlines(bad)


def test_the_monday_schedule_requests_every_province(tmp_path, small_landing):
    from assets.raw.landing import Landing
    from assets.run_settings import RUN_SETTINGS
    from pipelines.build import build_defs
    from pipelines.progress import PROGRESS_JOB_NAME, weekly_progress_report
    from pipelines.settings import Settings

    root = tmp_path / "landing"
    for code in ("04", "33"):
        shutil.copytree(small_landing, root / code, ignore=shutil.ignore_patterns("ground_truth"))
    settings = Settings(
        warehouse_url=str(tmp_path / "w.duckdb"), landing_root=root, rules_profile="tt04_2012"
    )
    defs = build_defs(settings)
    schedule = defs.resolve_schedule_def("weekly_progress_report")
    assert schedule.cron_schedule == "0 7 * * 1"
    assert schedule.execution_timezone == "Asia/Ho_Chi_Minh"
    assert schedule.job_name == PROGRESS_JOB_NAME
    context = dg.build_schedule_context(
        resources={"landing": Landing(root), RUN_SETTINGS: settings.run_settings()},
        # Monday 07:00 in Vietnam is 00:00 UTC.
        scheduled_execution_time=datetime(2026, 6, 15, 0, tzinfo=UTC),
        repository_def=defs.get_repository_def(),
    )
    requests = weekly_progress_report.evaluate_tick(context).run_requests
    assert [r.partition_key for r in requests] == ["04", "33"]
    # The run's settings resource, dated that Monday; the location's other settings kept
    # (a resource's run config replaces all its values).
    config = requests[0].run_config["resources"][RUN_SETTINGS]["config"]
    assert config["as_of"] == "2026-06-15"
    assert config == settings.run_settings().model_dump() | {"as_of": "2026-06-15"}
    assert config["rules_profile"] == "tt04_2012"


@pytest.mark.integration
def test_the_asset_publishes_progress_from_recorded_decisions_and_consultations(
    published, tmp_path
):
    from test_decisions import copy_of, merging_commune

    from assets.decisions.commune import load_commune
    from assets.decisions.record import read_decision_assignments, record_decision
    from assets.planning.rules import load_rules
    from assets.progress.consultation import record_consultation
    from assets.progress.records import affected_hamlets
    from assets.warehouse import Warehouse
    from pipelines.build import build_defs

    settings = copy_of(published, tmp_path)
    warehouse = Warehouse(settings.warehouse_url)
    # ND 185/2026 sets no approval share: the province's rule (its override) does.
    rules = replace(
        load_rules(), consultation_approval_share=0.5, consultation_rule_basis="Quy định thử"
    )
    commune = merging_commune(warehouse)
    decided = record_decision(
        warehouse,
        load_commune(warehouse, "04", commune),
        rules,
        decided_by="Cán bộ thử",
        option_name="compliant",
        decided_at=datetime(2026, 6, 5, 3, tzinfo=UTC),
    )
    affected = affected_hamlets(read_decision_assignments(warehouse, [decided.decision_id]))
    results = affected[["hamlet_code"]].assign(
        households_consulted=100,
        households_in_favour=80,
        households_against=20,
        consulted_date="20/06/2026",
    )
    rows = record_consultation(
        warehouse, "04", decided.decision_id, results, rules, recorded_by="Cán bộ thử"
    ).rows
    assert rows["is_passed"].all() and (rows["in_favour_share"] == 0.8).all()

    job = build_defs(settings).resolve_job_def("weekly_progress_report")
    result = job.execute_in_process(
        partition_key="04",
        instance=dg.DagsterInstance.ephemeral(),
        run_config=settings.run_settings().run_config(as_of="2026-07-01"),
    )
    assert result.success
    progress = warehouse.read_table("marts.commune_progress_current").set_index("commune_code")
    assert progress.loc[commune, "progress_status"] == "consulted"
    assert progress.loc[commune, "consulted_date"] == pd.Timestamp("2026-06-20")
    others = progress.drop(index=commune)
    assert (others["progress_status"] == "no_plan").all()
    assert others["late_milestones"].str.contains("Đề án cấp xã đã lấy ý kiến").all()
    assert progress.loc[commune, "late_milestones"] in ("", None)
    folder = settings.exports_root / "04" / "tien_do"
    assert (folder / "tien_do_tinh_04_20260701.xlsx").exists()
    assert (folder / "tien_do_tinh_04_20260701.png").exists()
