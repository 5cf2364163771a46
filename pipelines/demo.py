"""The demo: a synthetic province under one data root, run end to end, with the đề án.

`make demo` uses the root ``data/`` and today's size; the test runs the same command
into a temporary root with a few hundred households, so everything the demo writes
(landing files, warehouse, Dagster's run history, exports) lives under the root.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from assets.warehouse import Warehouse
from pipelines.settings import Settings

DEMO_ROOT = Path("data")
DEMO_SEED = 2026
DEMO_HOUSEHOLDS = 4000
DEMO_COMMUNES = 6  # at DEMO_HOUSEHOLDS; fewer for a smaller province (demo_communes)
DEMO_PROVINCE = "04"  # Cao Bằng's code; the demo's communes are generated
DEMO_ERROR_RATE = 0.003
# A commune per this many households, so a small province still has several hamlets
# per commune (the generator makes one per ~100 households) and something to merge.
HOUSEHOLDS_PER_COMMUNE = 650
MIN_COMMUNES = 2


def demo_communes(households: int) -> int:
    """Communes of a demo province of ``households``: DEMO_COMMUNES at the default size,
    at least two (a province of one commune shows little)."""
    return max(MIN_COMMUNES, min(DEMO_COMMUNES, households // HOUSEHOLDS_PER_COMMUNE))


@dataclass(frozen=True)
class Demo:
    """Where the demo lives and how big it is."""

    root: Path = DEMO_ROOT
    households: int = DEMO_HOUSEHOLDS

    @property
    def landing(self) -> Path:
        return self.root / "landing" / DEMO_PROVINCE

    @property
    def warehouse_path(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def settings(self) -> Settings:
        """The warehouse file under the root, so its exports go to ``<root>/exports``."""
        return Settings(f"duckdb:///{self.warehouse_path}", self.landing.parent, lock_wait_s=0)

    @property
    def dagster_home(self) -> Path:
        """``DAGSTER_HOME`` when set (shared with ``make dev``), else ``<root>/dagster_home``."""
        configured = os.environ.get("DAGSTER_HOME")
        return Path(configured) if configured else self.root / "dagster_home"

    @property
    def deans_folder(self) -> Path:
        return self.settings.exports_root / DEMO_PROVINCE / "de_an"

    @property
    def manifest(self) -> dict[str, int]:
        """What the landing folder was synthesised with (``demo.json`` beside the files)."""
        return {
            "seed": DEMO_SEED,
            "households": self.households,
            "communes": demo_communes(self.households),
        }


def landing_is_current(demo: Demo) -> bool:
    """Whether the landing folder holds this demo's files already: a second run then
    re-loads byte-identical files and republishes the same marts."""
    manifest = demo.landing / "demo.json"
    return manifest.exists() and json.loads(manifest.read_text()) == demo.manifest


def synthesise_demo(demo: Demo) -> None:
    """Write the demo province's landing folder, with a few planted record errors."""
    from synthetic.province import synthesise_province

    synthesise_province(
        demo.landing,
        seed=DEMO_SEED,
        households=demo.households,
        n_communes=demo_communes(demo.households),
        error_rate=DEMO_ERROR_RATE,
        province_code=DEMO_PROVINCE,
    )
    (demo.landing / "demo.json").write_text(json.dumps(demo.manifest))


def write_demo_deans(demo: Demo) -> list[dict[str, Path]]:
    """Each published commune's đề án (Word) and annexes (Excel) into the exports."""
    from assets.exports.dean import write_commune_deans

    warehouse = Warehouse(demo.settings.warehouse_url)
    return write_commune_deans(warehouse, DEMO_PROVINCE, demo.deans_folder)
