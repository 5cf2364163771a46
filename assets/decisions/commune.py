"""One commune as the marts publish it: what planners review and decide on.

Everything here reads the published ``marts.*_current`` views only (planners' database
role reads marts and nothing restricted), yet it is enough to re-plan the commune with
the engine's own API: ``marts.hamlets`` carries each hamlet's counts, standard, status
and boundary, from which the compliance input and the adjacency are rebuilt.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd

from assets.planning.compliance import COMPLIANCE_INPUT_COLUMNS
from assets.warehouse import DEFAULT_WAREHOUSE_URL, Warehouse
from assets.warehouse.writer_lock import writer_lock
from geodata.adjacency import hamlet_adjacency
from geodata.compactness import hamlet_measures
from geodata.crs import STORAGE_CRS

COMMUNE_MARTS = ("hamlets", "merger_assignments", "merged_units", "merger_options")
WITH_GEOMETRY = ("hamlets", "merged_units")


class DecisionError(ValueError):
    """A decision cannot be recorded as asked; the message says why."""


@dataclass(frozen=True)
class CommuneMarts:
    """The latest publication's rows for one commune."""

    province_code: str
    commune_code: str
    hamlets: gpd.GeoDataFrame  # marts.hamlets
    assignments: pd.DataFrame  # marts.merger_assignments
    units: gpd.GeoDataFrame  # marts.merged_units
    options: pd.DataFrame  # marts.merger_options

    @property
    def run_id(self) -> str:
        return str(self.hamlets["run_id"].iloc[0])

    @property
    def rules_profile(self) -> str:
        return str(self.hamlets["rules_profile"].iloc[0])

    def compliance(self) -> pd.DataFrame:
        """The engine's compliance input (planning.hamlet_compliance's columns)."""
        columns = [c for c in COMPLIANCE_INPUT_COLUMNS if c != "rules_profile"] + ["population"]
        return pd.DataFrame(self.hamlets[columns]).assign(rules_profile=self.rules_profile)

    def adjacency(self) -> pd.DataFrame:
        """Hamlet pairs that share a boundary, computed as the pipeline computes them."""
        return hamlet_adjacency(self.hamlets[["hamlet_code", "commune_code", "geometry"]])

    def measures(self) -> pd.DataFrame:
        return hamlet_measures(self.hamlets[["hamlet_code", "geometry"]])

    def names(self) -> pd.Series:
        """Display names (prefix and name) by hamlet code, for explanations and maps."""
        names = self.hamlets["name_prefix"].fillna("") + " " + self.hamlets["hamlet_name"]
        return pd.Series(names.str.strip().to_numpy(), index=self.hamlets["hamlet_code"])

    def option_assignment(self, option_name: str) -> pd.DataFrame:
        """hamlet_code, unit_id of one published option."""
        chosen = self.assignments[self.assignments["option_name"] == option_name]
        if chosen.empty:
            known = sorted(self.assignments["option_name"].unique())
            raise DecisionError(
                f"xã {self.commune_code}: không có phương án {option_name!r} trong lần công bố "
                f"{self.run_id}; các phương án: {', '.join(known)}"
            )
        return pd.DataFrame(chosen[["hamlet_code", "unit_id"]]).reset_index(drop=True)


def load_commune(warehouse: Warehouse, province_code: str, commune_code: str) -> CommuneMarts:
    """The commune's rows in the current publication of its province."""
    frames: dict[str, pd.DataFrame] = {}
    with warehouse.connect(read_only=warehouse.kind == "duckdb") as con:
        for mart in COMMUNE_MARTS:
            name = f"marts.{mart}_current"
            if not con.table_exists(name):
                raise DecisionError(f"{name} is missing: run the pipeline (publish) first")
            select = (
                select_all(warehouse, name) if mart in WITH_GEOMETRY else f"SELECT * FROM {name}"
            )
            frames[mart] = con.query_df(
                f"{select} WHERE province_code = ? AND commune_code = ?",
                [province_code, commune_code],
            )
    if frames["hamlets"].empty:
        raise DecisionError(
            f"xã {commune_code} (tỉnh {province_code}) không có trong lần công bố hiện tại"
        )
    return CommuneMarts(
        province_code=province_code,
        commune_code=commune_code,
        hamlets=as_geo(frames["hamlets"]).sort_values("hamlet_code").reset_index(drop=True),
        assignments=frames["merger_assignments"],
        units=as_geo(frames["merged_units"]),
        options=frames["merger_options"],
    )


def select_all(warehouse: Warehouse, name: str) -> str:
    """``SELECT *`` from a table or view with geometry as WKB (DuckDB) or hex EWKB
    (PostGIS's own text form); ``as_geo`` reads either."""
    if warehouse.kind == "duckdb":
        return f"SELECT * REPLACE (ST_AsWKB(geometry) AS geometry) FROM {name}"
    return f"SELECT * FROM {name}"


def as_geo(df: pd.DataFrame) -> gpd.GeoDataFrame:
    """Rows from ``select_all`` as a GeoDataFrame in EPSG:4326."""
    wkb = [None if v is None else v if isinstance(v, str) else bytes(v) for v in df["geometry"]]
    geometry = gpd.GeoSeries.from_wkb(wkb, crs=STORAGE_CRS, index=df.index)
    return gpd.GeoDataFrame(df.drop(columns="geometry"), geometry=geometry, crs=STORAGE_CRS)


def open_warehouse(url: str | None = None) -> Warehouse:
    """The warehouse a notebook names: ``url``, else ``HAMLETS_WAREHOUSE_URL``, else the
    pipeline's default. A relative DuckDB path is taken from the repository root, as the
    CLI takes it, since Jupyter runs a notebook in ``notebooks/``."""
    url = url or os.environ.get("HAMLETS_WAREHOUSE_URL") or DEFAULT_WAREHOUSE_URL
    warehouse = Warehouse(url)
    if warehouse.kind == "duckdb" and not warehouse.path.is_absolute():
        return Warehouse(f"duckdb:///{repository_path(warehouse.path)}")
    return warehouse


# A planner recording a decision waits this long for a run that is publishing.
RECORDING_WAIT_S = 60.0


@contextmanager
def recording(
    warehouse: Warehouse, province_code: str, wait_s: float | None = None
) -> Iterator[None]:
    """Hold the warehouse's writer lock while a planner's record is written, as a run does.

    A run publishing at that moment finishes first (or the planner is told which run
    writes, ``WarehouseBusyError``), and a warehouse of an earlier version is upgraded
    before the record lands in it.
    """
    wait_s = RECORDING_WAIT_S if wait_s is None else wait_s
    with writer_lock(warehouse.url, province_code=province_code, wait_s=wait_s):
        yield


def repository_path(path: str | Path) -> Path:
    """``path`` as given when absolute, else under the checkout the notebook runs in."""
    path = Path(path)
    return path if path.is_absolute() else _checkout_root() / path


def _checkout_root() -> Path:
    """The nearest folder up from the working directory that holds ``pyproject.toml``
    (Jupyter starts a notebook in ``notebooks/``), else the working directory: found
    from where the notebook runs, not from where this module is installed."""
    cwd = Path.cwd().resolve()
    return next((d for d in (cwd, *cwd.parents) if (d / "pyproject.toml").is_file()), cwd)
