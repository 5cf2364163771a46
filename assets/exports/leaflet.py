"""Interactive maps that open without the internet: Leaflet inlined into the page.

folium links Leaflet (and Bootstrap, jQuery and icon fonts, which these maps do not use)
from CDNs, so on an offline machine, as provincial offices often are, the page stays
blank. Leaflet's own files come from the ``django-js-lib-leaflet`` wheel, which ships
them as plain static files (Django itself is not needed), and go into the page as data
URIs; only the background tiles still need a connection, and the features show without.
"""

from __future__ import annotations

import base64
import re
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable

import folium
from branca.element import MacroElement
from folium.template import Template

LEAFLET_PACKAGE = "js_lib_leaflet"


def _static(name: str) -> Traversable:
    return files(LEAFLET_PACKAGE).joinpath("static", LEAFLET_PACKAGE, name)


def _data_uri(media_type: str, content: bytes) -> str:
    return f"data:{media_type};base64,{base64.b64encode(content).decode('ascii')}"


@cache
def leaflet_js() -> str:
    return _data_uri("text/javascript", _static("leaflet.js").read_bytes())


@cache
def leaflet_css() -> str:
    """The stylesheet with its images (layer-control icon, markers) inlined too."""
    css = _static("leaflet.css").read_text(encoding="utf-8")

    def inline(match: re.Match[str]) -> str:
        image = _static(match.group(1)).read_bytes()
        return f"url({_data_uri('image/png', image)})"

    return _data_uri("text/css", re.sub(r"url\((images/[\w.-]+\.png)\)", inline, css).encode())


def self_contained(fmap: folium.Map) -> folium.Map:
    """``fmap`` rendering with Leaflet inlined and nothing else fetched but tiles."""
    fmap.default_js = [("leaflet", leaflet_js())]
    fmap.default_css = [("leaflet_css", leaflet_css())]
    return fmap


class TextTooltip(folium.GeoJsonTooltip):
    """folium's ``GeoJsonTooltip`` whose values go into the page as text.

    folium's own builds the tooltip as an HTML string and sets it with ``innerHTML``, so a
    hamlet named ``<img src=x onerror=…>`` would run script on hover. Here each label and
    value is a DOM node's ``textContent``; fields and labels reach the script as JSON
    (Jinja's ``tojson`` escapes ``<``, ``>``, ``&`` and ``'``, and non-ASCII is
    ``\\u``-escaped, U+2028/9 included), as the features' properties already do. The
    style and field checks are folium's.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        {{ this._parent.get_name() }}.bindTooltip(function (layer) {
            const fields = {{ this.fields|tojson }};
            const labels = {{ this.aliases|tojson }};
            const table = document.createElement("table");
            fields.forEach(function (field, i) {
                const value = layer.feature.properties[field];
                const row = table.insertRow();
                {% if this.labels %}
                const label = document.createElement("th");
                label.textContent = labels[i];
                row.appendChild(label);
                {% endif %}
                row.insertCell().textContent =
                    value === null || value === undefined ? ""
                    : typeof value === "object" ? JSON.stringify(value) : String(value);
            });
            const div = document.createElement("div");
            div.appendChild(table);
            return div;
        }, {{ this.tooltip_options|tojavascript }});
        {% endmacro %}
        """
    )


class TextLabels(MacroElement):
    """A permanent label (name over households) at the centre of each feature of
    ``source``, added to this element's parent layer (so a layer switch shows and hides
    them together). Like ``TextTooltip``, the values become DOM text, never markup."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            const nameField = {{ this.name_field|tojson }};
            const countField = {{ this.count_field|tojson }};
            {{ this.source.get_name() }}.eachLayer(function (layer) {
                const properties = layer.feature.properties;
                const name = properties[nameField];
                const count = Number(properties[countField]);
                const div = document.createElement("div");
                div.appendChild(document.createTextNode(name == null ? "" : String(name)));
                div.appendChild(document.createElement("br"));
                div.appendChild(document.createTextNode(count.toLocaleString("vi-VN") + " hộ"));
                L.tooltip({permanent: true, direction: "center", className: "map-label"})
                    .setLatLng(layer.getBounds().getCenter())
                    .setContent(div)
                    .addTo({{ this._parent.get_name() }});
            });
        })();
        {% endmacro %}
        """
    )

    def __init__(self, source: folium.GeoJson, name_field: str, count_field: str) -> None:
        super().__init__()
        self._name = "TextLabels"
        self.source, self.name_field, self.count_field = source, name_field, count_field


class MapFrame(MacroElement):
    """The map's title and legend, as fixed boxes over it. The title names the place
    and, as the planner switches an option's layer on, the option (set as text).
    ``title`` and ``legend`` rows are escaped here (``|e``): names come from offices."""

    _template = Template(
        """
        {% macro header(this, kwargs) %}
        <style>
        .map-title { position: fixed; top: 8px; left: 50%; transform: translateX(-50%);
            z-index: 1000; background: rgba(255,255,255,.9); padding: 4px 12px;
            font: bold 15px sans-serif; border-radius: 4px; }
        .map-legend { position: fixed; bottom: 18px; left: 8px; z-index: 1000;
            background: rgba(255,255,255,.92); padding: 6px 10px; font: 12px sans-serif;
            border-radius: 4px; max-width: 320px; }
        .map-legend i { display: inline-block; width: 14px; height: 12px;
            margin-right: 6px; vertical-align: middle; border: 1px solid #888; }
        .map-label { background: rgba(255,255,255,.75); border: 0; box-shadow: none;
            padding: 1px 3px; font-size: 11px; text-align: center; }
        .map-label:before { display: none; }
        </style>
        {% endmacro %}
        {% macro html(this, kwargs) %}
        <div class="map-title" id="{{ this.get_name() }}_title">{{ this.title|e }}<span
            id="{{ this.get_name() }}_option"></span></div>
        <div class="map-legend" id="{{ this.get_name() }}_legend">
        {% for heading, rows in this.legend %}
            <div><b>{{ heading|e }}</b></div>
            {% for colour, text in rows %}
            <div>{% if colour %}<i style="background: {{ colour|e }}"></i>{% endif
                %}{{ text|e }}</div>
            {% endfor %}
        {% endfor %}
        </div>
        {% endmacro %}
        {% macro script(this, kwargs) %}
        (function () {
            const options = {{ this.option_layers|tojson }};
            const shown = document.getElementById({{ (this.get_name() ~ "_option")|tojson }});
            const on = new Set();
            function update() {
                shown.textContent = on.size ? " – " + Array.from(on).join(", ") : "";
            }
            {{ this._parent.get_name() }}.on("overlayadd", function (e) {
                if (options.includes(e.name)) { on.add(e.name); update(); }
            });
            {{ this._parent.get_name() }}.on("overlayremove", function (e) {
                on.delete(e.name); update();
            });
        })();
        {% endmacro %}
        """
    )

    def __init__(
        self,
        title: str,
        legend: list[tuple[str, list[tuple[str, str]]]],
        option_layers: list[str],
    ) -> None:
        super().__init__()
        self._name = "MapFrame"
        self.title, self.legend, self.option_layers = title, legend, option_layers
