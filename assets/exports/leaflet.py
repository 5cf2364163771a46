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
