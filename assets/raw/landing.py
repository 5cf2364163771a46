"""The raw layer: landing files loaded as they are, with lineage.

Every value stays text exactly as the province sent it (codes keep their leading
zeros); geometry files keep their geometry. Lineage names the file, its SHA-256 and the
1-based data row, so any problem found later points back to a line a clerk can open.
The load id derives from the file's hash: re-loading a byte-identical file produces
identical rows.
"""

from __future__ import annotations

import hashlib
import io
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd

from assets.raw.encodings import detect_and_decode
from expectations.schemas import FIELDS, header_key

KNOWN_HEADERS = frozenset(key for f in FIELDS.values() for key in f.header_keys)

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
SOURCE_CRS = "source_crs"  # raw geodata: the CRS the file declares (empty when none)


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
    """A landing folder, where a province's offices drop their files.

    The landing root holds one folder per province, named by its two-digit code
    (``data/landing/04/`` for Cao Bằng); :meth:`for_province` gives that folder.
    """

    path: Path

    def for_province(self, province_code: str) -> Landing:
        return Landing(self.path / province_code)

    def province_codes(self) -> list[str]:
        """The province folders present under this root (two-digit names)."""
        if not self.path.is_dir():
            return []
        return sorted(
            p.name for p in self.path.iterdir() if p.is_dir() and re.fullmatch(r"\d{2}", p.name)
        )

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


def _header_share(line: str) -> float:
    """Share of a header line's cells that the data dictionary recognises."""
    cells = [c.strip().strip('"') for c in re.split(r"[,;\t|]", line)]
    cells = [c for c in cells if c]
    if not cells:
        return 0.0
    return sum(header_key(c) in KNOWN_HEADERS for c in cells) / len(cells)


def read_csv_text(path: Path) -> tuple[pd.DataFrame, str]:
    """A CSV in any of the encodings provinces use, with its delimiter sniffed."""
    decoded = detect_and_decode(path.read_bytes(), header_score=_header_share)
    first_line = decoded.text.split("\n", 1)[0]
    delimiter = max(",;\t|", key=first_line.count)
    frame = pd.read_csv(
        io.StringIO(decoded.text),
        dtype=str,
        keep_default_na=False,
        sep=delimiter,
        skip_blank_lines=False,  # a blank line is a row: it is counted and rejected, not lost
    ).astype("string")
    frame.columns = [unicodedata.normalize("NFC", str(c)).strip() for c in frame.columns]
    return frame, decoded.encoding


def read_landing_file(path: Path) -> tuple[pd.DataFrame, str]:
    """A landing file with every attribute as text (geometry kept), and its text encoding."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return read_csv_text(path)
        if suffix == ".xlsx":
            frame = pd.read_excel(path, dtype=str, keep_default_na=False).astype("string")
            return frame, "xlsx (unicode)"
        source = f"zip://{path}" if suffix == ".zip" else path
        gdf = gpd.read_file(source)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise LandingFileError(f"{path.name}: cannot be read: {exc}") from exc
    attributes = [c for c in gdf.columns if c != gdf.geometry.name]
    gdf[attributes] = gdf[attributes].astype("string")
    gdf = gdf.rename_geometry("geometry") if gdf.geometry.name != "geometry" else gdf
    # Coordinates stay as landed; staging reprojects from the declared CRS or detects one.
    gdf[SOURCE_CRS] = pd.array([declared_crs(gdf)] * len(gdf), dtype="string")
    return gdf, "geodata (unicode)"


def declared_crs(gdf: gpd.GeoDataFrame) -> str | None:
    """The CRS a geodata file states, as "EPSG:n" where it has a code, else WKT."""
    if gdf.crs is None:
        return None
    authority = gdf.crs.to_authority(min_confidence=70)
    return ":".join(authority) if authority else gdf.crs.to_wkt()


def load_raw(landing_file: LandingFile) -> pd.DataFrame:
    """The file's rows as they came, plus lineage columns; ``df.attrs["encoding"]`` says
    which text encoding was detected."""
    df, encoding = read_landing_file(landing_file.path)
    df = df.reset_index(drop=True)
    clash = [c for c in LINEAGE_COLUMNS if c in df.columns]
    if clash:
        raise LandingFileError(f"{landing_file.path.name}: reserved column names {clash}")
    df["source_file"] = pd.array([landing_file.path.name] * len(df), dtype="string")
    df["source_sha256"] = pd.array([landing_file.sha256] * len(df), dtype="string")
    df["source_row_number"] = pd.array(range(1, len(df) + 1), dtype="Int64")
    df["load_id"] = pd.array([landing_file.load_id] * len(df), dtype="string")
    df.attrs["encoding"] = encoding
    return df
