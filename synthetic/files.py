"""Landing-file formats of the synthetic province: names, headers, writers and file mess.

The files are written the way the source systems write them: CSV exports from Excel
(UTF-8 with BOM, CRLF), a registry workbook, a GeoPackage. Every writer is
byte-reproducible for the same input (fixed timestamps), so a seed gives the same bytes.

File-level mess (opt-in, ``synthesise_province(file_mess=True)``) imitates what arrives
from real offices: one CSV in the legacy Windows-1258 encoding (tone marks stored as
combining characters, as Windows-1258 has no precomposed toned letters), NFD-decomposed
names (typed on a Mac), and headers without diacritics. Each is listed in
``ground_truth/file_mess.csv`` (file, kind, detail).
"""

from __future__ import annotations

import codecs
import datetime as dt
import io
import unicodedata
import zipfile
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyogrio
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.writer.excel import ExcelWriter

from geodata.crs import STORAGE_CRS

# Reference date for ages; also the fixed creation time written into the workbook.
AS_OF = np.datetime64("2026-01-01", "D")
FIXED_TIMESTAMP = dt.datetime(2026, 1, 1)

# Landing file names and their headers (Vietnamese, as the source systems write them).
COMMUNES_FILE = "communes.geojson"
HAMLETS_FILE = "hamlet_boundaries.gpkg"
HAMLETS_LAYER = "hamlets"
REGISTRY_FILE = "hamlet_registry.xlsx"
REGISTRY_SHEET = "Danh sách thôn, TDP"
HOUSEHOLDS_FILE = "households.csv"
PERSONS_FILE = "persons.csv"
TRUTH_DIR = "ground_truth"
ERRORS_FILE = "planted_errors.csv"
HAMLET_TRUTH_FILE = "hamlets_truth.csv"
FILE_MESS_FILE = "file_mess.csv"
ERROR_COLUMNS = ("file", "row", "field", "error_type")
FILE_MESS_COLUMNS = ("file", "kind", "detail")

REGISTRY_HEADERS = (
    "Mã xã",
    "Tên xã",
    "Mã thôn/TDP",
    "Tên thôn/TDP",
    "Loại",
    "Số hộ",
    "Số nhân khẩu",
    "Diện đặc thù",
)
HOUSEHOLD_HEADERS = ("Mã hộ", "Mã thôn/TDP", "Kinh độ", "Vĩ độ")
PERSON_HEADERS = (
    "Số ĐDCN",
    "Họ và tên",
    "Ngày sinh",
    "Giới tính",
    "Mã hộ",
    "Quan hệ với chủ hộ",
    "Dân tộc",
)
COMMUNE_COLUMNS = ("commune_code", "name", "full_name", "unit_kind", "area_km2", "province_code")
HEAD = "Chủ hộ"

UTF8_BOM = "utf-8-sig"
LEGACY_ENCODING = "windows-1258"
# Tone marks: Windows-1258 stores them as combining characters after the letter.
_TONE_MARKS = frozenset("\u0300\u0301\u0303\u0309\u0323")


# --- text helpers ----------------------------------------------------------------------


def format_dates(days: np.ndarray) -> np.ndarray:
    """dd/mm/yyyy text, vectorised (formatted once per distinct date)."""
    if len(days) == 0:
        return np.array([], dtype=str)
    unique, inverse = np.unique(np.asarray(days, dtype="datetime64[D]"), return_inverse=True)
    months = unique.astype("datetime64[M]")
    year = (months.astype(np.int64) // 12 + 1970).astype(str)
    month = (months.astype(np.int64) % 12 + 1).astype(str)
    day = ((unique - months.astype("datetime64[D]")).astype(np.int64) + 1).astype(str)
    out = np.strings.add(np.strings.zfill(day, 2), "/")
    out = np.strings.add(np.strings.add(out, np.strings.zfill(month, 2)), "/")
    return np.strings.add(out, year)[inverse]


def format_coordinates(values: np.ndarray) -> np.ndarray:
    """Degrees with 6 decimals as text, vectorised (pandas formats floats one by one)."""
    micro = np.round(np.asarray(values, dtype=float) * 1e6).astype(np.int64)
    sign = np.where(micro < 0, "-", "")
    micro = np.abs(micro)
    whole = (micro // 1_000_000).astype(str)
    frac = np.strings.zfill((micro % 1_000_000).astype(str), 6)
    return np.strings.add(np.strings.add(np.strings.add(sign, whole), "."), frac)


def strip_diacritics(text: str) -> str:
    """ "Số ĐDCN" -> "So DDCN": what a header typed on a keyboard without Vietnamese looks like."""
    decomposed = unicodedata.normalize("NFD", text)
    bare = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    return bare.replace("Đ", "D").replace("đ", "d")


def _legacy_table() -> dict[int, str]:
    """Translation of NFC Vietnamese letters to their Windows-1258 spelling.

    A letter that Windows-1258 holds precomposed (e.g. "á", "â", "ơ") stays; others
    become base letter (with circumflex, breve or horn if any) + combining tone mark.
    """
    table: dict[int, str] = {}
    for code in (*range(0xC0, 0x250), *range(0x1E00, 0x1F00)):
        char = chr(code)
        try:
            char.encode(LEGACY_ENCODING)
            continue
        except UnicodeEncodeError:
            pass
        parts = unicodedata.normalize("NFD", char)
        tones = [c for c in parts if c in _TONE_MARKS]
        base = unicodedata.normalize("NFC", "".join(c for c in parts if c not in _TONE_MARKS))
        spelled = base + "".join(tones)
        try:
            spelled.encode(LEGACY_ENCODING)
        except UnicodeEncodeError:
            continue
        table[code] = spelled
    return table


_LEGACY = _legacy_table()


def to_legacy_spelling(text: str) -> str:
    """Text as a Windows-1258 system stores it (decodes back to the same letters)."""
    return text.translate(_LEGACY)


# --- writers -------------------------------------------------------------------------


def write_communes(communes: gpd.GeoDataFrame, path: Path) -> Path:
    path.unlink(missing_ok=True)
    communes.to_file(path, driver="GeoJSON", engine="pyogrio")
    return path


def write_hamlet_boundaries(hamlets: gpd.GeoDataFrame, path: Path) -> Path:
    """GeoPackage with a fixed timestamp (GDAL's OGR_CURRENT_DATE) so reruns match.

    Geometries are written as they are, invalid ones included (planted errors).
    """
    path.unlink(missing_ok=True)
    gdf = gpd.GeoDataFrame(
        hamlets[["hamlet_code", "commune_code"]], geometry=hamlets.geometry, crs=STORAGE_CRS
    )
    previous = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": "2026-01-01T00:00:00.000Z"})
    try:
        gdf.to_file(path, layer=HAMLETS_LAYER, driver="GPKG", engine="pyogrio")
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": previous})
    return path


class _FixedTimeZipFile(zipfile.ZipFile):
    """A ZipFile stamping every member with one fixed time, for byte-identical xlsx."""

    def writestr(
        self,
        zinfo_or_arcname: str | zipfile.ZipInfo,
        data: bytes | str,
        compress_type: int | None = None,
        compresslevel: int | None = None,
    ) -> None:
        if not isinstance(zinfo_or_arcname, zipfile.ZipInfo):
            info = zipfile.ZipInfo(zinfo_or_arcname, date_time=FIXED_TIMESTAMP.timetuple()[:6])
            info.compress_type = self.compression
            info.external_attr = 0o600 << 16
            zinfo_or_arcname = info
        super().writestr(zinfo_or_arcname, data, compress_type, compresslevel)

    def write(
        self,
        filename: str | Path,
        arcname: str | None = None,
        compress_type: int | None = None,
        compresslevel: int | None = None,
    ) -> None:
        # openpyxl streams worksheets through temporary files, whose mtime would leak in.
        name = arcname if arcname is not None else Path(filename).name
        self.writestr(name, Path(filename).read_bytes(), compress_type, compresslevel)


def write_registry(
    registry: pd.DataFrame, path: Path, headers: Sequence[str] = REGISTRY_HEADERS
) -> Path:
    """The registry workbook; codes are text cells and the file is byte-reproducible."""
    wb = Workbook()
    ws = wb.active
    ws.title = REGISTRY_SHEET
    ws.append(list(headers))
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for values in registry.itertuples(index=False):
        ws.append(
            [None if v is None else (int(v) if isinstance(v, np.integer) else v) for v in values]
        )
    for col in ("A", "C"):
        for cell in ws[col][1:]:
            cell.number_format = "@"
    for col, width in zip("ABCDEFGH", (10, 18, 12, 26, 12, 8, 12, 40), strict=True):
        ws.column_dimensions[col].width = width
    ws.freeze_panes = "A2"
    wb.properties.creator = "hamlet-restructuring synthetic generator"
    wb.properties.lastModifiedBy = "hamlet-restructuring synthetic generator"
    wb.properties.created = FIXED_TIMESTAMP
    wb.properties.modified = FIXED_TIMESTAMP
    buffer = io.BytesIO()
    archive = _FixedTimeZipFile(buffer, "w", zipfile.ZIP_DEFLATED, allowZip64=True)
    ExcelWriter(wb, archive).save()  # closes the archive
    path.write_bytes(buffer.getvalue())
    return path


def write_landing_csv(
    frame: pd.DataFrame,
    path: Path,
    *,
    encoding: str = UTF8_BOM,
    headers: Sequence[str] | None = None,
) -> Path:
    """A landing CSV as Excel writes it: CRLF, UTF-8 with BOM (or a legacy encoding).

    Every column must already be text (see ``format_coordinates``), so numbers are
    written exactly as the generator decided.
    """
    out = frame if headers is None else frame.set_axis(list(headers), axis=1)
    if encoding == LEGACY_ENCODING:
        out = out.set_axis([to_legacy_spelling(str(c)) for c in out.columns], axis=1)
        out = out.apply(_legacy_column)
    elif encoding == UTF8_BOM and _write_csv_fast(out, path):
        return path
    out.to_csv(path, index=False, encoding=encoding, lineterminator="\r\n")
    return path


def append_landing_csv(frame: pd.DataFrame, path: Path) -> Path:
    """Rows appended to a UTF-8 landing CSV that ``write_landing_csv`` began (no header).

    The bytes are those ``write_landing_csv`` would write for the rows at once: CRLF,
    quotes only where a value needs them.
    """
    table = pa.Table.from_pandas(frame.astype(object), preserve_index=False)
    plain = all(pa.types.is_string(t) or pa.types.is_null(t) for t in table.schema.types)
    if plain:
        options = pacsv.WriteOptions(include_header=False, eol="\r\n", quoting_style="none")
        buffer = pa.BufferOutputStream()
        try:
            pacsv.write_csv(table, buffer, write_options=options)
        except pa.ArrowInvalid:  # a value holds a delimiter, quote or line end
            pass
        else:
            with path.open("ab") as fh:
                fh.write(buffer.getvalue())
            return path
    frame.to_csv(path, mode="a", header=False, index=False, encoding="utf-8", lineterminator="\r\n")
    return path


def _write_csv_fast(frame: pd.DataFrame, path: Path) -> bool:
    """Arrow's CSV writer (several times faster than pandas) for plain text columns.

    Writes the same bytes pandas would: BOM, CRLF, no quotes. Returns False, having
    written nothing, when a value would need quoting (pandas then writes the file).
    """
    table = pa.Table.from_pandas(frame.astype(object), preserve_index=False)
    if any(not pa.types.is_string(t) and not pa.types.is_null(t) for t in table.schema.types):
        return False
    options = pacsv.WriteOptions(eol="\r\n", quoting_style="none", quoting_header="none")
    buffer = pa.BufferOutputStream()
    try:
        pacsv.write_csv(table, buffer, write_options=options)
    except pa.ArrowInvalid:  # a value holds a delimiter, quote or line end
        return False
    with path.open("wb") as fh:
        fh.write(codecs.BOM_UTF8)
        fh.write(buffer.getvalue())
    return True


def _legacy_column(values: pd.Series) -> pd.Series:
    """Translate a text column through its distinct values (names repeat a lot)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    spelled = np.array([to_legacy_spelling(str(u)) for u in uniques], dtype=object)
    return pd.Series(spelled[codes], index=values.index)


def write_truth_csv(frame: pd.DataFrame, path: Path) -> Path:
    """Ground-truth tables: plain UTF-8, LF."""
    frame.to_csv(path, index=False, encoding="utf-8", lineterminator="\n")
    return path


# --- file mess -------------------------------------------------------------------------


HEADER_STYLES = ("plain", "upper", "snake")


def header_variant(header: str, style: str) -> str:
    """A header as another office types it: without diacritics, maybe upper or snake case."""
    bare = strip_diacritics(header)
    if style == "upper":
        return bare.upper()
    if style == "snake":
        return "_".join(bare.lower().split())
    return bare
