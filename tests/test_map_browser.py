"""The exported interactive map, opened in headless Chromium as a planner would open it:
it must draw the hamlets, not a blank page, and without the internet (the browser here
resolves no host name, as on an offline office machine)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from assets.warehouse import Warehouse

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
