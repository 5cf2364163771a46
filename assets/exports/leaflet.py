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
