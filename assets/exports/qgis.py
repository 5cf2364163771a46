"""Styles that QGIS applies when it opens the GeoPackage: the ``layer_styles`` table.

QGIS looks in a GeoPackage for a ``layer_styles`` table (its own convention, also used
in PostGIS) and applies the row marked ``useAsDefault`` for the layer: here QML with
categorised colours (hamlets by compliance, units by unit and by compliance, communes'
borders by kind) and the
Vietnamese field aliases of the data dictionary, so a planner sees coloured layers and
"Số hộ" instead of ``households`` without styling anything. The QML is built with
``xml.etree`` (names from offices become escaped attribute values, never markup).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyogrio

from expectations.schemas import FIELDS

STYLES_LAYER = "layer_styles"
QGIS_VERSION = "3.28.0-Firenze"


@dataclass(frozen=True)
class Category:
    value: object
    colour: str  # "#rrggbb"
    label: str


@dataclass(frozen=True)
class LayerStyle:
    """One row of ``layer_styles``: a categorised style of ``layer``."""

    layer: str
    name: str
    field: str
    categories: Sequence[Category]
    fields: Sequence[str]  # the layer's attribute columns, in order (for the aliases)
    default: bool
    description: str
    outline_only: bool = False  # coloured borders, no fill: a layer drawn over others


def _qgis_colour(colour: str) -> str:
    """``#rrggbb`` as QGIS writes colours: ``r,g,b,alpha`` in 0–255."""
    return ",".join(str(int(colour[k : k + 2], 16)) for k in (1, 3, 5)) + ",255"


def _option(parent: ET.Element, name: str, value: str) -> None:
    ET.SubElement(parent, "Option", {"name": name, "type": "QString", "value": value})


def aliases(fields: Sequence[str]) -> dict[str, str]:
    """Each known column's Vietnamese label (``expectations.schemas.FIELDS``)."""
    return {f: FIELDS[f].label_vi for f in fields if f in FIELDS}


def qml(style: LayerStyle) -> str:
    """The QML document of ``style``: a categorised fill renderer and field aliases."""
    root = ET.Element("qgis", {"version": QGIS_VERSION, "styleCategories": "AllStyleCategories"})
    renderer = ET.SubElement(
        root,
        "renderer-v2",
        {"type": "categorizedSymbol", "attr": style.field, "symbollevels": "0",
         "enableorderby": "0", "forceraster": "0"},
    )  # fmt: skip
    categories = ET.SubElement(renderer, "categories")
    symbols = ET.SubElement(renderer, "symbols")
    for k, category in enumerate(style.categories):
        ET.SubElement(
            categories,
            "category",
            {"symbol": str(k), "value": str(category.value), "label": category.label,
             "render": "true", "type": "string"},
        )  # fmt: skip
        symbol = ET.SubElement(
            symbols,
            "symbol",
            {"type": "fill", "name": str(k), "alpha": "0.8", "clip_to_extent": "1",
             "force_rhr": "0"},
        )  # fmt: skip
        layer = ET.SubElement(
            symbol, "layer", {"class": "SimpleFill", "enabled": "1", "locked": "0", "pass": "0"}
        )
        options = ET.SubElement(layer, "Option", {"type": "Map"})
        _option(options, "color", _qgis_colour(category.colour))
        if style.outline_only:
            _option(options, "outline_color", _qgis_colour(category.colour))
            _option(options, "outline_width", "0.8")
            _option(options, "style", "no")
        else:
            _option(options, "outline_color", "255,255,255,255")
            _option(options, "outline_width", "0.4")
            _option(options, "style", "solid")
    shown = ET.SubElement(root, "aliases")
    for index, field in enumerate(style.fields):
        if field in FIELDS:
            ET.SubElement(
                shown,
                "alias",
                {"field": field, "index": str(index), "name": FIELDS[field].label_vi},
            )
    ET.SubElement(root, "layerGeometryType").text = "2"  # polygons
    body = ET.tostring(root, encoding="unicode")
    return f"<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n{body}\n"


def write_layer_styles(path: Path, styles: Sequence[LayerStyle]) -> None:
    """Add the ``layer_styles`` table to the GeoPackage at ``path`` (an attribute table,
    registered in ``gpkg_contents`` as QGIS creates it)."""
    now = pd.Timestamp(datetime.now(UTC)).tz_localize(None)
    rows = pd.DataFrame(
        [
            {
                "f_table_catalog": "",
                "f_table_schema": "",
                "f_table_name": s.layer,
                "f_geometry_column": pyogrio.read_info(path, layer=s.layer)["geometry_name"]
                or "geom",
                "styleName": s.name,
                "styleQML": qml(s),
                "styleSLD": "",
                "useAsDefault": s.default,
                "description": s.description,
                "owner": "",
                "ui": "",
                "update_time": now,
            }
            for s in styles
        ]
    )
    pyogrio.write_dataframe(
        rows, path, layer=STYLES_LAYER, driver="GPKG", layer_options={"FID": "id"}
    )
