"""The exported interactive map, opened in headless Chromium as a planner would open it:
it must draw the hamlets, not a blank page, and without the internet (the browser here
resolves no host name, as on an offline office machine); hostile names in it show as
text and run no script."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from itertools import pairwise
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hostile import HOSTILE
from matplotlib.image import imread
from playwright.sync_api import sync_playwright

from assets.exports.files import interactive_map, write_province_map
from assets.planning.constraints import LOCKED, MUST_MERGE, MUST_NOT_MERGE, PlannerConstraints
from assets.progress.review import constraint_layer, consultation_layer
from assets.warehouse import Warehouse
from expectations.schemas import TABLES

pytestmark = pytest.mark.integration
OFFLINE = "--host-resolver-rules=MAP * ~NOTFOUND"  # no DNS, so no request leaves the machine
FEATURE = re.compile(r'<path class="leaflet-interactive"[^>]*\sd="M[^"]+')


def chromium() -> str:
    """Debian's chromium; in CI (.ci/run installs it) its absence fails the test."""
    for name in ("chromium", "chromium-browser"):
        if found := shutil.which(name):
            return found
    if os.environ.get("CI"):
        pytest.fail("chromium is not installed; .ci/run must install Debian's chromium")
    pytest.skip("install Debian's chromium (apt-get install chromium) to run the browser test")


def headless(page: Path, *args: str) -> str:
    command = [
        chromium(),
        "--headless",
        "--no-sandbox",  # CI runs as root
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        OFFLINE,
        "--virtual-time-budget=5000",  # let the map's scripts run before the capture
        *args,
        page.as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    return done.stdout


@pytest.fixture(scope="module")
def exported_map(published) -> tuple[Path, int]:
    settings, report = published
    assert report.success, report.errors
    maps = sorted(settings.exports_root.rglob("ban_do_tinh_*.html"))
    assert maps, f"no interactive map under {settings.exports_root}"
    hamlets = Warehouse(settings.warehouse_url).query(
        "SELECT count(*) AS n FROM marts.hamlets_current"
    )
    return maps[0], int(hamlets["n"].iloc[0])


def test_the_interactive_map_draws_every_hamlet_offline(exported_map):
    page, hamlets = exported_map
    dom = headless(page, "--dump-dom")
    assert 'class="folium-map' in dom and "leaflet-container" in dom, "Leaflet did not start"
    # Only the hamlets layer is shown at first; the options are layers to switch on.
    assert len(FEATURE.findall(dom)) == hamlets
    assert "leaflet-control-layers" in dom


def test_the_screenshot_is_not_blank(exported_map, tmp_path):
    page, _ = exported_map
    shot = tmp_path / "map.png"
    headless(page, f"--screenshot={shot}", "--window-size=1000,700", "--hide-scrollbars")
    pixels = imread(shot)[..., :3]
    colours = np.unique((pixels * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colours) > 20, "the page is (nearly) one colour"
    # Hamlets are filled by compliance status (green, blue, orange, red), not grey.
    r, g, b = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    coloured = (np.maximum(np.maximum(r, g), b) - np.minimum(np.minimum(r, g), b)) > 0.15
    assert coloured.mean() > 0.05, f"only {coloured.mean():.1%} of the page shows features"


def _hostile_places() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """One hamlet per hostile name, each also a unit of the minimal option, with the
    names also in the reasons and explanations."""
    n = len(HOSTILE)
    codes = [f"04001{k:03d}" for k in range(n)]
    boxes = [shapely.box(106 + k * 0.01, 22.5, 106.01 + k * 0.01, 22.51) for k in range(n)]
    shifted = [*HOSTILE[1:], HOSTILE[0]]
    hamlets = gpd.GeoDataFrame(
        {
            "hamlet_code": codes,
            "commune_code": "04001",
            "hamlet_name": list(HOSTILE),
            "households": 100,
            "population": 400,
            "compliance_status": "below_standard",
            "compliance_reason": shifted,
        },
        geometry=boxes,
        crs="EPSG:4326",
    )
    units = gpd.GeoDataFrame(
        {
            "option_name": "minimal",
            "unit_id": codes,
            "member_hamlet_codes": codes,
            "households": 100,
            "population": 400,
            "is_compliant": False,
            "compliance_reason": shifted,
            "explanation": list(HOSTILE),
        },
        geometry=boxes,
        crs="EPSG:4326",
    )
    return hamlets, units


def _review_map(path: Path, hamlets: gpd.GeoDataFrame, units: gpd.GeoDataFrame) -> Path:
    """The review notebook's map: planners' constraints and the consultation as layers,
    who set them and why typed as hostile text."""
    codes = hamlets["hamlet_code"].tolist()
    given = [(LOCKED, codes[0], None), (MUST_NOT_MERGE, codes[1], codes[2])]
    given.append((MUST_MERGE, codes[3], codes[4]))
    rows = pd.DataFrame(
        {
            "constraint_id": [f"c{k}" for k in range(len(given))],
            "province_code": "04",
            "commune_code": "04001",
            "constraint_kind": [g[0] for g in given],
            "hamlet_code": [g[1] for g in given],
            "other_hamlet_code": [g[2] for g in given],
            "set_by": list(HOSTILE[:3]),
            "constraint_reason": list(HOSTILE[3:6]),
            "set_at": pd.Timestamp("2026-06-01T03:00Z"),
            "is_active": True,
        }
    )
    names = hamlets.set_index("hamlet_code")["hamlet_name"]
    constraints = PlannerConstraints.of(TABLES["planning.constraints"].enforce(rows))
    status = pd.DataFrame(
        {
            "hamlet_code": codes,
            "unit_id": codes,
            "consultation": "passed",
            "households_consulted": 90,
            "in_favour_share": 0.8,
        }
    )
    layers = [constraint_layer(hamlets, constraints, names), consultation_layer(hamlets, status)]
    interactive_map(hamlets, units, layers).save(str(path))
    return path


def _hover_every_feature(page_path: Path) -> tuple[list[str], list[str], str]:
    """Open the page offline, switch every layer on, hover each feature (Leaflet's
    mouseover, which opens its tooltip) and read the tooltips' text. Returns the texts,
    what went wrong (dialogs, uncaught errors) and ``typeof window.__pwned``."""
    texts, trouble = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium(), args=["--no-sandbox", OFFLINE]
        )
        page = browser.new_page()
        page.on("dialog", lambda d: (trouble.append(f"dialog: {d.message}"), d.dismiss()))
        page.on("pageerror", lambda e: trouble.append(f"page error: {e}"))
        page.goto(page_path.as_uri(), wait_until="load")
        page.wait_for_selector("path.leaflet-interactive")
        page.hover(".leaflet-control-layers")  # unfolds the layer list
        for box in page.locator(".leaflet-control-layers-overlays input").all():
            box.check()
        features = page.locator("path.leaflet-interactive")
        assert features.count() > len(HOSTILE)
        for feature in features.all():
            feature.dispatch_event("mouseover", {"clientX": 300, "clientY": 300})
            tooltip = page.locator(".leaflet-tooltip").last
            texts.append(tooltip.text_content() or "")
            feature.dispatch_event("mouseout", {"clientX": 300, "clientY": 300})
        page.wait_for_timeout(500)  # an image's error handler runs once its load fails
        pwned = page.evaluate("typeof window.__pwned")
        browser.close()
    return texts, trouble, pwned


def test_hostile_names_in_the_maps_show_as_text_and_run_no_script(tmp_path):
    hamlets, units = _hostile_places()
    exported = write_province_map(tmp_path / "ban_do_tinh_04.html", hamlets, units)
    review = _review_map(tmp_path / "review.html", hamlets, units)
    for page in (exported, review):
        texts, trouble, pwned = _hover_every_feature(page)
        assert pwned == "undefined", f"{page.name}: a planted script ran"
        assert not trouble, trouble
        shown = "\n".join(texts)
        assert not [name for name in HOSTILE if name not in shown], page.name
    # Who set the constraints and why, hovered on the review map's lines and outline.
    assert all(name in shown for name in HOSTILE[:6])


def test_the_map_has_a_layer_switch_per_option_a_legend_and_a_title_as_text(tmp_path):
    """The exported map as a planner prints it: a title naming the place (and the option
    switched on), one switch per option, a legend with the standard and every
    compliance colour, labels with name and households. A hostile name typed as the
    place, the hamlets' names and the units' names stays text there too."""
    from assets.exports.files import COMPLIANCE_LABELS_VI

    hamlets, units = _hostile_places()
    hamlets["hamlet_kind"], hamlets["standard_households"] = "thon", 1_500
    both = pd.concat([units, units.assign(option_name="compliant")], ignore_index=True)
    page_path = tmp_path / "map.html"
    interactive_map(hamlets, both, title=HOSTILE[1]).save(str(page_path))
    trouble: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium(), args=["--no-sandbox", OFFLINE]
        )
        page = browser.new_page()
        page.on("dialog", lambda d: (trouble.append(f"dialog: {d.message}"), d.dismiss()))
        page.on("pageerror", lambda e: trouble.append(f"page error: {e}"))
        page.goto(page_path.as_uri(), wait_until="load")
        page.wait_for_selector("path.leaflet-interactive")
        switches = page.locator(".leaflet-control-layers-overlays label")
        names = [t.strip() for t in switches.all_text_contents()]
        assert names == [
            "Hiện trạng thôn, TDP",
            "Nhãn: tên, số hộ",
            "Phương án Đạt chuẩn",
            "Phương án Tối thiểu",
        ]
        title = page.locator(".map-title")
        assert title.text_content() == HOSTILE[1]
        legend = page.locator(".map-legend").text_content()
        assert "Tiêu chuẩn số hộ" in legend and "Thôn: 1.500 hộ" in legend
        assert all(label in legend for label in COMPLIANCE_LABELS_VI.values())
        hamlet_labels = page.locator(".map-label").all_text_contents()
        assert sorted(hamlet_labels) == sorted(f"{n}100 hộ" for n in HOSTILE)
        switches.filter(has_text="Tối thiểu").locator("input").check()
        assert title.text_content() == f"{HOSTILE[1]} – Phương án Tối thiểu"
        # Each unit of the option is labelled too, and coloured: neighbours differ.
        assert page.locator(".map-label").count() == 2 * len(HOSTILE)
        fills = page.locator("path.leaflet-interactive").evaluate_all(
            "paths => paths.map(p => p.getAttribute('fill'))"
        )
        unit_fills = fills[len(HOSTILE) :]
        assert all(a != b for a, b in pairwise(unit_fills)), unit_fills
        page.wait_for_timeout(500)
        pwned = page.evaluate("typeof window.__pwned")
        browser.close()
    assert pwned == "undefined" and not trouble, trouble
