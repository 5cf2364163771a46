"""The raw layer: landing files loaded as they are, with lineage.

Every value stays text exactly as the province sent it (codes keep their leading
zeros); geometry files keep their geometry. Lineage names the file, its SHA-256 and the
1-based data row, so any problem found later points back to a line a clerk can open.
The load id derives from the file's hash: re-loading a byte-identical file produces
identical rows.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from assets.raw.encodings import choose_encoding, nfc_pieces
from assets.raw.headers import (
    KNOWN_HEADERS,
    HeaderMatch,
    LandingFileError,
    check_headers,
    clean_header,
    header_share,
    match_headers,
)
from assets.raw.records import TextFileError, TextRecords, record_blocks
from assets.raw.safety import checked_archive, checked_entry, open_landing_stream
from assets.raw.shapefiles import read_geo_layer
from assets.raw.workbooks import WORKBOOK_SUFFIXES, read_workbook
from assets.staging.normalise import by_distinct_value
from expectations.schemas import (
    FIELDS,
    GEODATA_ROLES,
    LANDED_COLUMNS,
    STAND_INS,
    TABLES,
    Table,
)

# Every written form of a known header, lower-cased, to spot a header row among data.
_HEADER_FORMS = (
    frozenset(form.lower() for f in FIELDS.values() for form in (f.name, f.label_vi, *f.aliases))
    | KNOWN_HEADERS
)

# Landing-file roles and the file stems that carry them (case-insensitive).
LANDING_ROLES: dict[str, tuple[str, ...]] = {
    "communes": ("communes", "danh_sach_xa"),
    "hamlet_boundaries": ("hamlet_boundaries", "ranh_gioi_thon"),
    "hamlet_registry": ("hamlet_registry", "danh_sach_thon"),
    "households": ("households", "ho_gia_dinh"),
    "persons": ("persons", "nhan_khau"),
}
TABULAR_SUFFIXES = (".csv", *WORKBOOK_SUFFIXES)
GEO_SUFFIXES = (".geojson", ".gpkg", ".zip")
SOURCE_CRS = "source_crs"  # raw geodata: the CRS the file declares (empty when none)
LANDED_FILES = "raw.landed_files"  # each file's headers and records counted from the file


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
    with open_landing_stream(path) as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class Landing:
    """A landing folder, where a province's offices drop their files.

    The landing root holds one folder per province, named by its two-digit code
    (``data/landing/04/`` for Cao Bằng); :meth:`for_province` gives that folder. Nothing
    outside the root is opened (``assets.raw.safety``).
    """

    path: Path
    root: Path | None = None  # the landing root a province folder lies in

    def for_province(self, province_code: str) -> Landing:
        return Landing(self.path / province_code, root=self.root or self.path)

    def province_codes(self) -> list[str]:
        """The province folders present under this root (two-digit names); a link among
        them is listed, to be refused by name when its province runs."""
        if not self.path.is_dir():
            return []
        return sorted(
            p.name
            for p in self.path.iterdir()
            if (p.is_dir() or p.is_symlink()) and re.fullmatch(r"\d{2}", p.name)
        )

    def file(self, role: str) -> LandingFile:
        return find_landing_file(self.path, role, root=self.root)

    def check(self) -> list[LandingFile]:
        """Every role's file, or one error listing all that are missing or ambiguous."""
        return [
            LandingFile(role=role, path=path, sha256=file_sha256(path))
            for role, path in self.paths().items()
        ]

    def paths(self) -> dict[str, Path]:
        """Every role's file path, not yet hashed (the sensor hashes only what changed),
        or one error listing all that are missing or ambiguous."""
        found: dict[str, Path] = {}
        problems: list[str] = []
        for role in LANDING_ROLES:
            try:
                found[role] = locate_landing_file(self.path, role, root=self.root)
            except LandingFileError as exc:
                problems.append(str(exc))
        if problems:
            raise LandingFileError("\n".join(problems))
        return found


def find_landing_file(landing_dir: Path, role: str, *, root: Path | None = None) -> LandingFile:
    """The one file in ``landing_dir`` that carries ``role``, with its hash."""
    path = locate_landing_file(landing_dir, role, root=root)
    return LandingFile(role=role, path=path, sha256=file_sha256(path))


def locate_landing_file(landing_dir: Path, role: str, *, root: Path | None = None) -> Path:
    """The one file in ``landing_dir`` that carries ``role``; it and the folder must be
    what they seem (no link, device or FIFO) and lie inside ``root``."""
    root = root or landing_dir
    if not landing_dir.exists() and not landing_dir.is_symlink():
        raise LandingFileError(f"landing folder {landing_dir} does not exist")
    if landing_dir != root:
        checked_entry(landing_dir, root, directory=True)
    stems = LANDING_ROLES[role]
    matches = sorted(
        p
        for p in landing_dir.iterdir()
        if p.stem.lower() in stems and p.suffix.lower() in TABULAR_SUFFIXES + GEO_SUFFIXES
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
    return checked_entry(matches[0], root)


def _header_share(line: str) -> float:
    """Share of a header line's cells that the data dictionary recognises."""
    return header_share([c.strip().strip('"') for c in re.split(r"[,;\t|]", line)])


@dataclass(frozen=True)
class LandedTable:
    """A landing file as read: its values (text, one column per header, by position),
    each record's data row, and what could not be read, with the counts taken from the
    file itself."""

    headers: list[str]
    values: pd.DataFrame
    row_number: np.ndarray
    problem: pd.Series
    text: pd.Series
    data_lines: int
    continuation_lines: int
    encoding: str
    geometry: gpd.GeoSeries | None = None
    source_crs: str | None = None
    sheet: np.ndarray | None = None  # workbooks: each record's sheet and Excel row
    sheet_row: np.ndarray | None = None
    layout: dict[str, object] | None = None  # workbooks: header row, rows skipped, sheets


def _clean(
    path: Path,
    headers: list[object],
    values: pd.DataFrame,
    row_number: np.ndarray,
    problem: pd.Series,
    text: pd.Series,
    places: list[str] | None = None,
) -> tuple[list[str], pd.DataFrame]:
    """Headers checked (no repeats; an empty one only over an empty column, dropped)
    and a repeated header row among the data marked, a changed one refused; ``places``
    names each record where the row number alone does not (a workbook's sheet and row)."""
    names = [clean_header(h) for h in headers]
    check_headers(names, path.name)
    values.columns = pd.Index(range(len(names)))
    blank = [i for i, n in enumerate(names) if not n]
    for i in blank:
        if values[i].fillna("").str.strip().ne("").any():
            raise LandingFileError(
                f"{path.name}: column {i + 1} has no header but holds values; name it"
            )
    keep = [i for i, n in enumerate(names) if n]
    values = values[keep]
    values.columns = pd.Index([names[i] for i in keep])
    _mark_header_rows(path, values, row_number, problem, text, places)
    return [names[i] for i in keep], values


def _header_like_rows(values: pd.DataFrame, forms: frozenset[str] | set[str]) -> np.ndarray:
    """Positions of the rows where at least half the cells (and two) are header forms.

    Columns are read fewest distinct values first, each once per distinct value, and
    only on the rows that can still reach the threshold: after the first columns no row
    of data is left, so a million names and IDs are never looked at.
    """

    @by_distinct_value
    def is_header_form(cells: pd.Series) -> pd.Series:
        return cells.fillna("").str.strip().str.lower().isin(forms)

    width = len(values.columns)
    threshold = max(2, (width + 1) // 2)
    sample = values.iloc[:10_000]
    order = sorted(range(width), key=lambda i: sample.iloc[:, i].nunique(dropna=False))
    hits = np.zeros(len(values), dtype=int)
    rows = np.arange(len(values))
    for done, position in enumerate(order):
        rows = rows[hits[rows] + (width - done) >= threshold]
        if not len(rows):
            break
        hits[rows] += is_header_form(values.iloc[rows, position]).to_numpy(dtype=int)
    return np.flatnonzero(hits >= threshold)


def _mark_header_rows(
    path: Path,
    values: pd.DataFrame,
    row_number: np.ndarray,
    problem: pd.Series,
    text: pd.Series,
    places: list[str] | None = None,
) -> None:
    """A data row that reads as a header: the same header again (two exports joined) is
    a record to reject; another one means the columns change meaning part way."""
    like = _header_like_rows(values, _HEADER_FORMS | {h.lower() for h in values.columns})
    header = [h.lower() for h in values.columns]
    for i in like:
        cells = [clean_header(v).lower() for v in values.iloc[i].fillna("")]
        if cells != header:
            raise LandingFileError(
                f"{path.name}: {places[i] if places else f'data row {row_number[i]}'} is "
                "another header "
                f"({', '.join(c for c in cells if c)}): the columns change meaning part way; "
                "split the file in two"
            )
        problem.iloc[i] = "the header row repeats here"
        text.iloc[i] = ",".join(values.iloc[i].fillna(""))
        values.iloc[i] = pd.NA


def read_landed(path: Path) -> LandedTable:
    """Any landing file, read strictly: CSV record by record, a workbook's data
    sheets (``assets.raw.workbooks``), or geodata feature by feature."""
    [table] = read_landed_blocks(path)
    return table


def read_landed_blocks(path: Path, lines: int | None = None) -> Iterator[LandedTable]:
    """:func:`read_landed` a block of records at a time: a CSV about ``lines`` lines
    at a time (``assets.raw.records.record_blocks``; all at once when ``None``), a
    workbook or geodata file whole. Row numbers and counts are each block's own part
    of the file's."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            yield from _read_csv(path, lines)
        elif suffix in WORKBOOK_SUFFIXES:
            yield _read_workbook(path)
        else:
            yield _read_geodata(path)
    except (TextFileError, OSError, ValueError, UnicodeDecodeError) as exc:
        if isinstance(exc, LandingFileError):
            raise
        raise LandingFileError(f"{path.name}: cannot be read: {exc}") from exc


def _read_csv(path: Path, lines: int | None) -> Iterator[LandedTable]:
    """The CSV's blocks, the file never whole in memory: its encoding chosen as if it
    were (``choose_encoding``), then decoded and cut into blocks a chunk at a time."""
    with open_landing_stream(path) as handle:
        encoding = choose_encoding(handle, header_score=_header_share)
        for records in record_blocks(nfc_pieces(handle, encoding), lines):
            yield _csv_block(path, records, encoding)


def _csv_block(path: Path, records: TextRecords, encoding: str) -> LandedTable:
    problem, text = records.problem.copy(), records.text.copy()
    headers, values = _clean(
        path, records.header, records.values, records.row_number, problem, text
    )
    return LandedTable(
        headers,
        values,
        records.row_number,
        problem,
        text,
        records.data_lines,
        records.continuation_lines,
        encoding,
    )


def _read_workbook(path: Path) -> LandedTable:
    book = read_workbook(path)
    rows = np.arange(1, len(book.values) + 1, dtype="int64")  # running record number
    problem, text = book.problem.copy(), book.text.copy()
    headers, values = _clean(path, book.headers, book.values, rows, problem, text, book.places)
    return LandedTable(
        headers,
        values,
        rows,
        problem,
        text,
        len(values),
        0,
        f"{path.suffix.lower().lstrip('.')} (unicode)",
        sheet=book.sheet,
        sheet_row=book.sheet_row,
        layout={
            "header_row_number": book.header_row_number,
            "rows_skipped": book.rows_skipped,
            "workbook_sheets": json.dumps(book.sheets, ensure_ascii=False),
        },
    )


def _read_geodata(path: Path) -> LandedTable:
    if path.suffix.lower() == ".zip":
        checked_archive(path)
        source: str | Path = f"zip://{path}"
    else:
        source = path
    layer = read_geo_layer(source)
    features, n = layer.features_declared, len(layer.values)
    if features >= 0 and features != n:
        raise LandingFileError(f"{path.name}: the layer says {features} features but {n} were read")
    rows = np.arange(1, n + 1, dtype="int64")
    problem = pd.Series(pd.NA, index=layer.values.index, dtype="string")
    text = problem.copy()
    headers, values = _clean(path, layer.headers, layer.values, rows, problem, text)
    geometry = layer.geometry
    return LandedTable(
        headers,
        values,
        rows,
        problem,
        text,
        n,
        0,
        layer.encoding,
        geometry=geometry,
        source_crs=declared_crs(geometry),
    )


def read_landing_file(path: Path) -> tuple[pd.DataFrame, str]:
    """A small landing file (a consultation list) under its headers as landed, every
    value text; a record that cannot be read is an error naming its row."""
    landed = read_landed(path)
    unread = landed.problem.notna().to_numpy()
    if unread.any():
        rows = ", ".join(
            f"row {r}: {p}"
            for r, p in zip(landed.row_number[unread], landed.problem[unread], strict=True)
        )
        raise LandingFileError(f"{path.name}: records cannot be read ({rows})")
    frame = landed.values.reset_index(drop=True)
    if landed.geometry is not None:
        frame = gpd.GeoDataFrame(frame, geometry=landed.geometry.values, crs=landed.geometry.crs)
    return frame, landed.encoding


def declared_crs(gdf: gpd.GeoDataFrame) -> str | None:
    """The CRS a geodata file states, as "EPSG:n" where it has a code, else WKT."""
    if gdf.crs is None:
        return None
    authority = gdf.crs.to_authority(min_confidence=70)
    return ":".join(authority) if authority else gdf.crs.to_wkt()


def _extra_values(values: pd.DataFrame, unrecognised: list[str]) -> pd.Series:
    """Columns no contract names, one JSON object per record (missing when none)."""
    if not unrecognised:
        return pd.Series(pd.NA, index=values.index, dtype="string")
    extra = values[unrecognised].fillna("")
    lines = extra.to_json(orient="records", lines=True, force_ascii=False).splitlines()
    return pd.Series(lines, index=values.index, dtype="string")


def load_raw(landing_file: LandingFile) -> pd.DataFrame:
    """The file's records fitted to the raw contract of its role: recognised headers
    fill the contract's columns (text as landed), other columns are kept as data in
    ``extra_values``, unreadable records keep their line and reason, and lineage names
    file, hash and data row.

    ``df.attrs["landed_file"]`` holds the file's ``raw.landed_files`` row (headers,
    encoding and the records counted from the file itself; :func:`landed_file_row`);
    ``df.attrs["encoding"]`` its encoding.
    """
    [df] = load_raw_blocks(landing_file)
    return df


# Lines of a landed CSV read, typed and written at a time: about 0.3 GB of frames.
BLOCK_LINES = 250_000


def load_raw_blocks(landing_file: LandingFile, lines: int | None = None) -> Iterator[pd.DataFrame]:
    """:func:`load_raw` a block of about ``lines`` lines at a time (a CSV; other files
    whole; all at once when ``None``), so a province's file is never one frame: each
    block's ``attrs["landed_file"]`` counts the file up to the end of that block, so
    the last one's is the file's."""
    role, path = landing_file.role, landing_file.path
    contract = TABLES[f"raw.{role}"]
    wanted, required = LANDED_COLUMNS[role]
    counts = dict.fromkeys(("data_lines", "continuation_lines", "records", "unreadable"), 0)
    for landed in read_landed_blocks(path, lines):
        if role in GEODATA_ROLES and landed.geometry is None:
            raise LandingFileError(f"{path.name}: the {role} file must be geodata (with geometry)")
        match = match_headers(
            landed.headers,
            source_file=path.name,
            wanted=wanted,
            required=required,
            has_geometry=landed.geometry is not None,
            stand_ins=STAND_INS.get(role),
        )
        df = _fitted(landing_file, contract, landed, match, wanted)
        counts["data_lines"] += landed.data_lines
        counts["continuation_lines"] += landed.continuation_lines
        counts["records"] += len(df)
        counts["unreadable"] += int(landed.problem.notna().sum())
        df.attrs["encoding"] = landed.encoding
        df.attrs["landed_file"] = {
            "landing_role": role,
            "source_file": path.name,
            "source_sha256": landing_file.sha256,
            "load_id": landing_file.load_id,
            "text_encoding": landed.encoding,
            "headers_as_landed": json.dumps(landed.headers, ensure_ascii=False),
            "header_mapping": json.dumps(match.columns, ensure_ascii=False),
            "unrecognised_headers": json.dumps(match.unrecognised, ensure_ascii=False),
            "data_lines": counts["data_lines"],
            "continuation_lines": counts["continuation_lines"],
            "records": counts["records"],
            "unreadable_records": counts["unreadable"],
            "header_row_number": None,
            "rows_skipped": None,
            "workbook_sheets": None,
            **(landed.layout or {}),
        }
        yield df


def _fitted(
    landing_file: LandingFile,
    contract: Table,
    landed: LandedTable,
    match: HeaderMatch,
    wanted: tuple[str, ...],
) -> pd.DataFrame:
    """A block of landed records under the raw contract's columns, with lineage."""
    path = landing_file.path
    n = len(landed.values)
    by_column = {column: header for header, column in match.columns.items()}
    frame = pd.DataFrame(index=range(n))
    for column in wanted:
        header = by_column.get(column)
        frame[column] = (
            landed.values[header].to_numpy()
            if header is not None
            else pd.array([pd.NA] * n, dtype="string")
        )
    frame["extra_values"] = _extra_values(landed.values, match.unrecognised).to_numpy()
    frame["read_problem"] = landed.problem.to_numpy()
    frame["unread_text"] = landed.text.to_numpy()
    frame["source_file"] = path.name
    frame["source_sha256"] = landing_file.sha256
    frame["source_row_number"] = landed.row_number
    frame["load_id"] = landing_file.load_id
    no_sheet = pd.array([pd.NA] * n, dtype="string")
    frame["source_sheet"] = landed.sheet if landed.sheet is not None else no_sheet
    frame["sheet_row_number"] = (
        landed.sheet_row if landed.sheet_row is not None else pd.array([pd.NA] * n, "Int64")
    )
    if landing_file.role in GEODATA_ROLES:
        frame["source_crs"] = landed.source_crs
        frame = gpd.GeoDataFrame(frame, geometry=landed.geometry.values, crs=landed.geometry.crs)
    df = contract.enforce(frame, copy=False)  # ``frame`` is this function's own
    if landing_file.role in GEODATA_ROLES:
        df = gpd.GeoDataFrame(df, geometry="geometry", crs=landed.geometry.crs)
    return df


def landed_file_row(raw: pd.DataFrame) -> pd.DataFrame:
    """The ``raw.landed_files`` row :func:`load_raw` left in ``raw.attrs``."""
    return (
        TABLES[LANDED_FILES]
        .enforce(pd.DataFrame([raw.attrs["landed_file"]]))
        .astype(
            {
                c: "Int64"
                for c in (
                    "data_lines",
                    "continuation_lines",
                    "records",
                    "unreadable_records",
                    "header_row_number",
                    "rows_skipped",
                )
            }
        )
    )
