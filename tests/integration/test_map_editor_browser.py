"""The map editor as a planner uses it: the review notebook served by Voilà (code
hidden), opened in headless Chromium, a hamlet clicked into a neighbouring unit, the
panel's figures checked against the editor's own logic, and the draft saved."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from papermill.iorw import load_notebook_node
from papermill.parameterize import parameterize_notebook
from playwright.sync_api import sync_playwright
from screenshots import keep_screenshot
from test_decisions import copy_of, merging_commune
from test_map_browser import OFFLINE, chromium
from test_plan_editor import movable

from assets.decisions.commune import load_commune
from assets.decisions.editor import PlanEditor
from assets.decisions.record import read_decision_assignments, read_decisions
from assets.planning.option_kinds import MANUAL
from assets.planning.rules import load_rules
from assets.warehouse import Warehouse

pytestmark = pytest.mark.integration
NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "review_merger_options.ipynb"
LOOPBACK_ONLY = f"{OFFLINE}, EXCLUDE 127.0.0.1"  # Voilà, on loopback; nothing else


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(notebook: Path, env: dict[str, str], port: int) -> subprocess.Popen:
    """Voilà on loopback, its Jupyter runtime and config under the test's tmp folder."""
    voila = Path(sys.executable).with_name("voila")
    return subprocess.Popen(
        [str(voila), str(notebook), f"--port={port}", "--no-browser", "--Voila.ip=127.0.0.1"],
        cwd=notebook.parent,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(notebook.parent / "voila.log", "w"),
    )


def wait_for(port: int, server: subprocess.Popen, seconds: float = 60) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if server.poll() is not None:
            pytest.fail(f"voila exited with {server.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    pytest.fail("voila did not start")


def test_a_planner_moves_a_hamlet_on_the_map_and_saves_the_draft(published, tmp_path):
    settings = copy_of(published, tmp_path)
    warehouse = Warehouse(settings.warehouse_url)
    code = merging_commune(warehouse)
    commune = load_commune(warehouse, "04", code)
    expected = PlanEditor(commune, load_rules(commune.rules_profile))
    hamlet, target = movable(expected)
    before = expected.units().set_index("unit_id")
    expected.move(hamlet, target)
    after = expected.units().set_index("unit_id")
    unit = expected.assignment[hamlet]
    assert after.loc[unit, "households"] > before.loc[target, "households"]

    notebook = parameterize_notebook(
        load_notebook_node(str(NOTEBOOK)),
        {"province": "04", "commune": code, "output_dir": str(tmp_path / "out")},
    )
    page_file = tmp_path / "app" / "review.ipynb"
    page_file.parent.mkdir()
    nbformat.write(notebook, page_file)
    env = {
        **os.environ,
        "HAMLETS_WAREHOUSE_URL": settings.warehouse_url,
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
        "IPYTHONDIR": str(tmp_path / "ipython"),
        "TMPDIR": str(tmp_path),
    }
    port = free_port()
    server = serve(page_file, env, port)
    shots = tmp_path / "shots"
    shots.mkdir()
    try:
        wait_for(port, server)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium(), args=["--no-sandbox", LOOPBACK_ONLY]
            )
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"http://127.0.0.1:{port}/", timeout=60_000)
            totals = page.locator(".editor-totals")
            totals.wait_for(timeout=240_000)
            page.locator(f"path.hamlet-{hamlet}").wait_for(timeout=60_000)
            assert totals.locator(".compliant").inner_text() == str(
                int(before["is_compliant"].sum())
            )
            chooser = page.locator("select").filter(
                has=page.locator("option", has_text=f"({target})")
            )
            label = chooser.locator("option", has_text=f"({target})").inner_text()
            chooser.select_option(label=label)
            page.locator(f"path.hamlet-{hamlet}").dispatch_event("click")
            row = page.locator(".editor-units tr", has=page.locator(f"td:text-is('{unit}')"))
            page.wait_for_function(
                "([u, n]) => [...document.querySelectorAll('.editor-units tr')].some("
                "r => r.cells[0] && r.cells[0].innerText === u && r.innerText.includes(n))",
                arg=[unit, str(int(after.loc[unit, "households"]))],
                timeout=60_000,
            )
            cells = row.locator("td").all_inner_texts()
            assert str(int(after.loc[unit, "households"])) in cells
            assert totals.locator(".compliant").inner_text() == str(
                int(after["is_compliant"].sum())
            )
            page.locator(".plan-editor").first.screenshot(path=str(shots / "map_editor.png"))
            page.locator(".widget-checkbox input").check()
            page.get_by_role("button", name="Lưu bản dự thảo").click()
            saved = page.locator(".editor-saved")
            saved.wait_for(timeout=60_000)
            decision_id = re.search(r"\S+$", saved.inner_text()).group(0)
            browser.close()
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:  # a loaded machine: do not leave it running
            server.kill()
            server.wait()
    decisions = read_decisions(warehouse, "04").set_index("decision_id")
    assert decisions.loc[decision_id, "option_name"] == MANUAL
    stored = read_decision_assignments(warehouse, [decision_id])
    assert dict(zip(stored["hamlet_code"], stored["unit_id"], strict=True)) == expected.assignment
    keep_screenshot(shots / "map_editor.png", "map_editor.png")
