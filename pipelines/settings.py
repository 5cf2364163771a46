"""Run settings, read from the environment in one place (secrets never committed)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from assets.warehouse import DEFAULT_WAREHOUSE_URL, Warehouse

DEFAULT_LANDING_DIR = Path("data/landing/demo")
DEFAULT_EXPORTS_DIR = Path("data/exports")  # for warehouses that are not a file


@dataclass(frozen=True)
class Settings:
    """Where the landing files are, which warehouse to write, which rules apply."""

    warehouse_url: str = DEFAULT_WAREHOUSE_URL
    landing_dir: Path = DEFAULT_LANDING_DIR
    rules_profile: str | None = None
    rules_override: Path | None = None
    exports_dir: Path | None = None
    exact_time_limit_s: float = 2.0

    @property
    def exports_root(self) -> Path:
        """Configured, else an ``exports`` folder beside a DuckDB warehouse file."""
        if self.exports_dir is not None:
            return self.exports_dir
        warehouse = Warehouse(self.warehouse_url)
        return (
            warehouse.path.parent / "exports"
            if warehouse.kind == "duckdb"
            else (DEFAULT_EXPORTS_DIR)
        )

    @classmethod
    def from_env(cls) -> Settings:
        override = os.environ.get("HAMLETS_RULES_OVERRIDE")
        return cls(
            warehouse_url=os.environ.get("HAMLETS_WAREHOUSE_URL", DEFAULT_WAREHOUSE_URL),
            landing_dir=Path(os.environ.get("HAMLETS_LANDING_DIR", str(DEFAULT_LANDING_DIR))),
            rules_profile=os.environ.get("HAMLETS_RULES_PROFILE") or None,
            rules_override=Path(override) if override else None,
            exports_dir=Path(exports)
            if (exports := os.environ.get("HAMLETS_EXPORTS_DIR"))
            else None,
            exact_time_limit_s=float(os.environ.get("HAMLETS_EXACT_TIME_LIMIT_S", "2.0")),
        )
