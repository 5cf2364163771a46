"""The raw layer: landing files loaded as they are, with lineage.

Every value stays text exactly as the province sent it (codes keep their leading
zeros); geometry files keep their geometry. Lineage names the file, its SHA-256 and the
1-based data row, so any problem found later points back to a line a clerk can open.
The load id derives from the file's hash: re-loading a byte-identical file produces
identical rows.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd

from geodata.crs import STORAGE_CRS

# Landing-file roles and the file stems that carry them (case-insensitive).
LANDING_ROLES: dict[str, tuple[str, ...]] = {
    "communes": ("communes", "danh_sach_xa"),
    "hamlet_boundaries": ("hamlet_boundaries", "ranh_gioi_thon"),
    "hamlet_registry": ("hamlet_registry", "danh_sach_thon"),
    "households": ("households", "ho_gia_dinh"),
    "persons": ("persons", "nhan_khau"),
}
TABULAR_SUFFIXES = (".csv", ".xlsx")
GEO_SUFFIXES = (".geojson", ".gpkg", ".zip")
LINEAGE_COLUMNS = ("source_file", "source_sha256", "source_row_number", "load_id")


class LandingFileError(ValueError):
    """A landing file is missing, ambiguous or unreadable; the message names it."""


@dataclass(frozen=True)
class LandingFile:
    role: str
    path: Path
    sha256: str

    @property
    def load_id(self) -> str:
        return self.sha256[:16]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class Landing:
    """A province's landing folder, where its offices drop their files."""

    path: Path

    def file(self, role: str) -> LandingFile:
        return find_landing_file(self.path, role)

    def check(self) -> list[LandingFile]:
        """Every role's file, or one error listing all that are missing or ambiguous."""
        found: list[LandingFile] = []
        problems: list[str] = []
        for role in LANDING_ROLES:
            try:
                found.append(self.file(role))
            except LandingFileError as exc:
                problems.append(str(exc))
        if problems:
            raise LandingFileError("\n".join(problems))
        return found


def find_landing_file(landing_dir: Path, role: str) -> LandingFile:
    """The one file in ``landing_dir`` that carries ``role``."""
    if not landing_dir.is_dir():
        raise LandingFileError(f"landing folder {landing_dir} does not exist")
    stems = LANDING_ROLES[role]
    matches = sorted(
        p
        for p in landing_dir.iterdir()
        if p.is_file()
        and p.stem.lower() in stems
        and p.suffix.lower() in TABULAR_SUFFIXES + GEO_SUFFIXES
    )
    if not matches:
        raise LandingFileError(
            f"{landing_dir}: no {role} file; expected one of "
            f"{', '.join(s + '.*' for s in stems)} ({', '.join(TABULAR_SUFFIXES + GEO_SUFFIXES)})"
        )
    if len(matches) > 1:
        raise LandingFileError(
            f"{landing_dir}: several {role} files {[m.name for m in matches]}; keep one"
        )
    return LandingFile(role=role, path=matches[0], sha256=file_sha256(matches[0]))


def read_landing_file(path: Path) -> pd.DataFrame:
    """Read a landing file with every attribute as text (geometry kept as geometry)."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig").astype(
                "string"
            )
        if suffix == ".xlsx":
            return pd.read_excel(path, dtype=str, keep_default_na=False).astype("string")
        source = f"zip://{path}" if suffix == ".zip" else path
        gdf = gpd.read_file(source)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise LandingFileError(f"{path.name}: cannot be read: {exc}") from exc
    if gdf.crs is None:
        raise LandingFileError(f"{path.name}: no coordinate reference system; expected one")
    gdf = gdf.to_crs(STORAGE_CRS)
    attributes = [c for c in gdf.columns if c != gdf.geometry.name]
    gdf[attributes] = gdf[attributes].astype("string")
    return gdf.rename_geometry("geometry") if gdf.geometry.name != "geometry" else gdf


def load_raw(landing_file: LandingFile) -> pd.DataFrame:
    """The file's rows as they came, plus lineage columns."""
    df = read_landing_file(landing_file.path)
    df = df.reset_index(drop=True)
    clash = [c for c in LINEAGE_COLUMNS if c in df.columns]
    if clash:
        raise LandingFileError(f"{landing_file.path.name}: reserved column names {clash}")
    df["source_file"] = pd.array([landing_file.path.name] * len(df), dtype="string")
    df["source_sha256"] = pd.array([landing_file.sha256] * len(df), dtype="string")
    df["source_row_number"] = pd.array(range(1, len(df) + 1), dtype="Int64")
    df["load_id"] = pd.array([landing_file.load_id] * len(df), dtype="string")
    return df
