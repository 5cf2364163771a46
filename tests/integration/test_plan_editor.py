"""The map editor's logic (``PlanEditor``) on a published province: moves, refusals,
undo, locks, conflicts, scores equal to the published ones, and the saved draft."""

from __future__ import annotations

import pandas as pd
import pytest
from test_decisions import copy_of, merging_commune

from assets.decisions.commune import DecisionError, load_commune
from assets.decisions.editor import NEW_UNIT, EditError, PlanEditor
from assets.decisions.record import (
    DECISION_ASSIGNMENTS,
    DECISIONS,
    read_decision_assignments,
    read_decisions,
    record_decision,
)
from assets.planning.constraints import MUST_NOT_MERGE, PlannerConstraints
from assets.planning.option_kinds import MANUAL
from assets.planning.rules import load_rules
from assets.warehouse import Warehouse
from expectations.schemas import TABLES

pytestmark = pytest.mark.integration


@pytest.fixture
def editor(published, tmp_path) -> tuple[PlanEditor, Warehouse]:
    settings = copy_of(published, tmp_path)
    warehouse = Warehouse(settings.warehouse_url)
    commune = load_commune(warehouse, "04", merging_commune(warehouse))
    return PlanEditor(commune, load_rules(commune.rules_profile)), warehouse


def movable(editor: PlanEditor) -> tuple[str, str]:
    """A hamlet of a merged unit that can move into a neighbouring unit."""
    sizes = pd.Series(editor.assignment).value_counts()
    for hamlet, unit in sorted(editor.assignment.items()):
        if sizes[unit] < 2:
            continue
        for target in editor.neighbouring_units(hamlet):
            try:
                editor.move(hamlet, target)
            except EditError:
                continue
            editor.undo()
            return hamlet, target
    pytest.fail("no hamlet of the commune can move to a neighbouring unit")


def test_unedited_option_scores_as_published(editor):
    editor, _ = editor
    scores = editor.scores()
    published = scores[(scores["source"] != "Bản chỉnh sửa")].set_index("option_name")
    mine = scores.iloc[-1]
    for column in ("units_after", "compliant_units_after", "allowance_saving_vnd_per_year"):
        assert mine[column] == published.loc[editor.started_from, column], column
    assert mine["composite_score"] == pytest.approx(
        published.loc[editor.started_from, "composite_score"]
    )


def test_a_move_changes_the_units_and_undo_restores(editor):
    editor, _ = editor
    hamlet, target = movable(editor)
    before = editor.units().set_index("unit_id")
    households = int(editor.commune.hamlets.set_index("hamlet_code").loc[hamlet, "households"])
    own = editor.assignment[hamlet]
    editor.move(hamlet, target)
    after = editor.units()
    unit_of = editor.assignment[hamlet]
    assert after.loc[after["unit_id"] == unit_of, "households"].iloc[0] == (
        before.loc[target, "households"] + households
    )
    assert after["households"].sum() == before["households"].sum()
    assert editor.totals()["households"] == before["households"].sum()
    assert editor.undo()
    assert editor.assignment[hamlet] == own
    pd.testing.assert_frame_equal(editor.units().set_index("unit_id"), before)


def test_a_move_breaking_contiguity_is_refused_and_changes_nothing(editor):
    editor, warehouse = editor
    # Every hamlet a unit of its own: among 5 or more hamlets two never touch (no map
    # has 5 regions all touching each other), so some move leaves a unit in two parts.
    far = []
    codes = warehouse.query("SELECT DISTINCT commune_code FROM marts.hamlets_current")
    for code in sorted(codes["commune_code"]):
        commune = load_commune(warehouse, "04", code)
        alone = {h: h for h in commune.hamlets["hamlet_code"]}
        other = PlanEditor(commune, editor.rules, assignment=alone)
        units = set(other.assignment.values())
        far = [
            (hamlet, unit)
            for hamlet in sorted(other.assignment)
            for unit in sorted(units - {other.assignment[hamlet]})
            if unit not in other.neighbouring_units(hamlet)
        ]
        if far:
            break
    assert far, "in no commune is a unit away from a hamlet"
    hamlet, unit = far[0]
    kept = dict(other.assignment)
    with pytest.raises(EditError, match="không chuyển"):
        other.move(hamlet, unit)
    assert other.assignment == kept
    assert not other.history


def test_locked_units_refuse_moves(editor):
    editor, _ = editor
    hamlet, target = movable(editor)
    editor.toggle_lock(target)
    with pytest.raises(EditError, match="khóa"):
        editor.move(hamlet, target)
    editor.toggle_lock(target)
    editor.move(hamlet, target)
    assert editor.assignment[hamlet] == editor.assignment[target]


def test_conflicts_name_broken_constraints_and_failed_consultations(editor):
    editor, _ = editor
    sizes = pd.Series(editor.assignment).value_counts()
    merged = [h for h, u in sorted(editor.assignment.items()) if sizes[u] > 1]
    a = merged[0]
    b = next(h for h in merged[1:] if editor.assignment[h] == editor.assignment[a])
    rows = pd.DataFrame(
        {
            "constraint_id": ["c1"],
            "province_code": "04",
            "commune_code": editor.commune.commune_code,
            "constraint_kind": [MUST_NOT_MERGE],
            "hamlet_code": [min(a, b)],
            "other_hamlet_code": [max(a, b)],
            "set_by": "cán bộ",
            "constraint_reason": "hai họ đạo khác nhau",
            "set_at": pd.Timestamp("2026-06-01T03:00Z"),
            "is_active": True,
        }
    )
    editor.constraints = PlannerConstraints.of(TABLES["planning.constraints"].enforce(rows))
    editor.consultation = pd.DataFrame({"hamlet_code": [a], "consultation": ["failed"]})
    conflicts = editor.conflicts()
    assert any("không ghép" in c and editor.hamlet_name(b) in c for c in conflicts)
    assert any("không tán thành" in c and editor.hamlet_name(a) in c for c in conflicts)
    # Made a unit of its own, the hamlet no longer breaks either.
    editor.move(a, NEW_UNIT)
    assert not editor.conflicts()


def test_the_saved_draft_is_in_the_warehouse(editor):
    editor, warehouse = editor
    hamlet, target = movable(editor)
    editor.move(hamlet, target)
    recorded = editor.save(warehouse, decided_by="chuyên viên", accept_below_standard=True)
    decisions = read_decisions(warehouse, "04").set_index("decision_id")
    row = decisions.loc[recorded.decision_id]
    assert row["option_name"] == MANUAL and row["decided_by"] == "chuyên viên"
    assert "Bản chỉnh sửa trên bản đồ" in row["note"]
    saved = read_decision_assignments(warehouse, [recorded.decision_id])
    assert dict(zip(saved["hamlet_code"], saved["unit_id"], strict=True)) == editor.assignment


# --- reloading saved drafts ------------------------------------------------------------


def saved_draft(editor: PlanEditor, warehouse: Warehouse) -> tuple[str, dict[str, str]]:
    """A draft saved from the map: its decision id and the assignment it stored."""
    hamlet, target = movable(editor)
    editor.move(hamlet, target)
    recorded = editor.save(warehouse, decided_by="chuyên viên", accept_below_standard=True)
    return recorded.decision_id, dict(editor.assignment)


def test_a_saved_draft_is_offered_and_reloaded_as_saved(editor):
    editor, warehouse = editor
    draft, assignment = saved_draft(editor, warehouse)
    fresh = PlanEditor(editor.commune, editor.rules)
    choices = dict((value, label) for label, value in fresh.start_choices(warehouse))
    options = set(editor.commune.assignments["option_name"])
    assert options < set(choices) and draft in choices
    assert "Bản dự thảo" in choices[draft] and "chuyên viên" in choices[draft]
    assert fresh.assignment != assignment
    fresh.begin(warehouse, draft)
    assert fresh.assignment == assignment and fresh.started_from == draft
    stored = read_decision_assignments(warehouse, [draft])
    assert fresh.units()["households"].sum() == editor.units()["households"].sum()
    assert sorted(fresh.units()["unit_id"]) == sorted(stored["unit_id"].unique())
    # Saved again unchanged it would only repeat itself; undo goes back to the option.
    with pytest.raises(DecisionError, match="chưa sửa gì"):
        fresh.save(warehouse, decided_by="chuyên viên", accept_below_standard=True)
    assert fresh.undo() and fresh.started_from in options


def test_drafts_of_another_commune_missing_or_stale_are_refused(editor):
    editor, warehouse = editor
    draft, assignment = saved_draft(editor, warehouse)
    other_code = next(
        c
        for c in sorted(
            warehouse.query("SELECT DISTINCT commune_code FROM marts.hamlets_current")[
                "commune_code"
            ]
        )
        if c != editor.commune.commune_code
    )
    other = load_commune(warehouse, "04", other_code)
    theirs = record_decision(
        warehouse, other, editor.rules, decided_by="cán bộ xã khác", option_name="compliant"
    ).decision_id
    # A draft whose hamlet codes changed since it was saved (a code the data no longer has).
    stale = f"{editor.commune.commune_code}-stale"
    first = sorted(assignment)[0]
    changed = {(f"{first}X" if h == first else h): u for h, u in assignment.items()}
    row = read_decisions(warehouse, "04").set_index("decision_id").loc[[draft]].reset_index()
    with warehouse.transaction() as session:
        warehouse.write_table(
            DECISIONS, TABLES[DECISIONS].enforce(row.assign(decision_id=stale)), con=session,
            append=True,
        )  # fmt: skip
        warehouse.write_table(
            DECISION_ASSIGNMENTS,
            TABLES[DECISION_ASSIGNMENTS].enforce(
                pd.DataFrame(
                    {
                        "decision_id": stale,
                        "province_code": "04",
                        "commune_code": editor.commune.commune_code,
                        "hamlet_code": list(changed),
                        "unit_id": list(changed.values()),
                    }
                )
            ),
            con=session,
            append=True,
        )
    kept = dict(editor.assignment)
    for wrong, why in (
        (theirs, f"là của xã {other_code}, không phải xã {editor.commune.commune_code}"),
        ("04001-khong-co", "không có bản dự thảo 04001-khong-co"),
        (stale, f"không còn khớp với dữ liệu hiện nay.*{first}X"),
    ):
        with pytest.raises(EditError, match=why):
            editor.begin(warehouse, wrong)
        assert editor.assignment == kept and editor.started_from != wrong
    assert theirs not in {v for _, v in editor.start_choices(warehouse)}
