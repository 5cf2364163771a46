"""Geodata layers read as landed: attribute text decoded by its spelling, numbers as written.

A Shapefile's DBF holds text in whatever encoding the office's software used: UTF-8,
Windows-1258 or the legacy TCVN3, with or without a ``.cpg`` naming it (and a ``.cpg``
may be wrong: ArcGIS writes one by default). GDAL recodes by the ``.cpg`` or by
ISO-8859-1 and its iconv drops a Windows-1258 string's last letter, so the DBF bytes are
read untouched and decoded here by the same detector as CSV text
(``assets.raw.encodings``). Numeric DBF fields (a hamlet code stored as N(10,0)) come
back as the digits written, never as ``4001001.0``; whether leading zeros were lost is
for staging to decide.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
from pandas.api import types

from assets.raw.encodings import detect_and_decode

SHAPEFILE_DRIVER = "ESRI Shapefile"
_BYTES = "ISO-8859-1"  # every byte to one character and back: GDAL recodes nothing
_SEPARATOR = "\x00"  # never inside a DBF value (GDAL ends a string at NUL)


@dataclass(frozen=True)
class GeoLayer:
    """A layer's attribute names and values (text, one column per attribute, by
    position), its geometry with the CRS it declares, and how its text was decoded."""

    headers: list[str]
    values: pd.DataFrame
    geometry: gpd.GeoSeries
    encoding: str
    features_declared: int


def read_geo_layer(source: str | Path) -> GeoLayer:
    """The layer of a GeoJSON, GeoPackage or (zipped) Shapefile, values as text."""
    info = pyogrio.read_info(source)
    shapefile = info["driver"] == SHAPEFILE_DRIVER
    gdf = gpd.read_file(source, engine="pyogrio", **({"encoding": _BYTES} if shapefile else {}))
    attributes = [c for c in gdf.columns if c != gdf.geometry.name]
    columns = [_as_text(gdf[c]) for c in attributes]
    encoding = "geodata (unicode)"
    if shapefile:
        attributes, columns, encoding = _decode_dbf(attributes, columns)
    values = pd.DataFrame(
        {i: column.to_numpy() for i, column in enumerate(columns)}, index=range(len(gdf))
    )
    geometry = gpd.GeoSeries(gdf.geometry.to_numpy(), crs=gdf.crs)
    return GeoLayer(attributes, values, geometry, encoding, int(info["features"]))


def _as_text(column: pd.Series) -> pd.Series:
    """Values as text; numbers as written in the file (an integral number without
    ``.0``: a numeric DBF field with empty cells comes back as float)."""
    if types.is_float_dtype(column.dtype):
        numbers = column.to_numpy(dtype=float)
        integral = np.isfinite(numbers) & (np.abs(numbers) < 1e15)
        integral &= numbers == np.round(numbers)
        text = column.astype("string").to_numpy(dtype=object)
        text[integral] = [str(int(v)) for v in numbers[integral]]
        return pd.Series(text, index=column.index, dtype="string").mask(column.isna())
    return column.astype("string")


def _decode_dbf(
    headers: list[str], columns: list[pd.Series]
) -> tuple[list[str], list[pd.Series], str]:
    """Field names and text decoded from the DBF's bytes under the encoding whose text
    reads as Vietnamese (``.cpg`` or not)."""
    text_columns = [i for i, c in enumerate(columns) if c.notna().any()]
    pieces = list(headers) + [v for i in text_columns for v in columns[i].dropna()]
    raw = _SEPARATOR.join(pieces).encode(_BYTES)
    if raw.isascii():
        return headers, columns, "dbf: ascii"
    decoded = detect_and_decode(raw)
    parts = iter(decoded.text.split(_SEPARATOR))
    names = [next(parts) for _ in headers]
    out = list(columns)
    for i in text_columns:
        present = columns[i].notna().to_numpy()
        values = columns[i].to_numpy(dtype=object)
        values[present] = [next(parts) for _ in range(int(present.sum()))]
        out[i] = pd.Series(values, index=columns[i].index, dtype="string")
    return names, out, f"dbf: {decoded.encoding}"
