"""VN-2000: the datum and projections of Vietnam's official maps, read from any `.prj`.

Provincial maps are drawn in VN-2000 / TM-3: a 3° Transverse Mercator on the
province's central meridian (scale 0.9999, false easting 500 km; Circular
973/2001/TT-TCĐC), national series in VN-2000 / UTM 48N/49N. Their Shapefiles state it
in many ways: GDAL writes the EPSG definition, ArcGIS-made files give the zone a name of
their own ("VN_2000_KT105_45_3do") without a datum shift, hand-written WKT1 carries
``TOWGS84`` with the official parameters (Decision 05/2007/QĐ-BTNMT) or with zeros.
Zeros put every feature about 200 m off, as does TM-3 declared on WGS 84 itself. Each of
these is read here as the EPSG CRS, which PROJ transforms with the official 7-parameter
shift; a zero shift is marked as doubtful so that the communes' outline can decide.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

import pandas as pd
from pyproj import CRS
from pyproj.database import query_crs_info
from pyproj.enums import PJType

MERIDIANS_CSV = files("geodata").joinpath("data", "vn2000_tm3_meridians.csv")
VN2000_GEOGRAPHIC = "EPSG:4756"
# VN-2000 -> WGS 84 (QĐ 05/2007/QĐ-BTNMT), as WKT1 TOWGS84 (position vector): dX, dY, dZ
# in metres, rotations in arc-seconds, scale in ppm. EPSG's "VN-2000 to WGS 84 (2)"
# (coordinate frame) has the same values with the rotations' signs turned.
OFFICIAL_TOWGS84 = (
    -191.90441429,
    -39.30318279,
    -111.45032835,
    0.00928836,
    -0.01975479,
    0.00427372,
    0.252906278,
)
TM3_SCALE = 0.9999
FALSE_EASTING = 500_000.0
_WGS84_ELLIPSOID = (6_378_137.0, 298.257223563)
_TRANSVERSE_MERCATOR = "9807"  # EPSG method code
_LAT_0, _LON_0, _SCALE, _FALSE_E, _FALSE_N = "8801", "8802", "8805", "8806", "8807"


@cache
def tm3_meridians() -> pd.DataFrame:
    """The TM-3 central meridian of every former province (Circular 973/2001/TT-TCĐC),
    with the province it belongs to since 2025; a merged province has several rows."""
    with MERIDIANS_CSV.open("rb") as fh:
        table = pd.read_csv(fh, dtype=str, keep_default_na=False)
    return table.assign(central_meridian_deg=table["central_meridian_deg"].astype(float))


def province_meridians(province_code: str) -> tuple[float, ...]:
    """The central meridians a province's maps may be drawn on (one per former province
    merged into it, distinct values in ascending order)."""
    table = tm3_meridians()
    rows = table[table["province_code"] == province_code]
    return tuple(sorted(set(rows["central_meridian_deg"])))


@cache
def _vn2000_projected() -> dict[tuple[float, float], str]:
    """(central meridian, scale) -> EPSG code of each VN-2000 Transverse Mercator CRS in
    PROJ's database (TM-3 zones and UTM 48N/49N)."""
    out: dict[tuple[float, float], str] = {}
    for info in query_crs_info(auth_name="EPSG", pj_types=PJType.PROJECTED_CRS):
        if not info.name.startswith("VN-2000 /") or info.deprecated:
            continue
        params = _tm_params(CRS.from_epsg(info.code))
        if params and params[_FALSE_E] == FALSE_EASTING and params[_FALSE_N] == 0.0:
            out.setdefault((params[_LON_0], params[_SCALE]), f"EPSG:{info.code}")
    return out


def vn2000_epsg(central_meridian: float, scale: float = TM3_SCALE) -> str | None:
    """The EPSG code of VN-2000 / TM-3 on this meridian (or UTM, scale 0.9996)."""
    return _vn2000_projected().get((round(central_meridian, 6), round(scale, 6)))


def meridian_label(degrees: float) -> str:
    whole = int(degrees)
    return f"{whole}°{round((degrees - whole) * 60):02d}'"


def _tm_params(crs: CRS) -> dict[str, float] | None:
    operation = crs.coordinate_operation
    if operation is None or operation.method_code != _TRANSVERSE_MERCATOR:
        return None
    if any(axis.unit_name not in ("metre", "meter") for axis in crs.axis_info):
        return None
    return {p.code: round(float(p.value), 6) for p in operation.params}


def _is_vn2000_datum(crs: CRS) -> bool:
    datum = crs.datum
    if datum is None:
        return False
    if datum.to_json_dict().get("id", {}).get("code") == 6756:
        return True
    names = (datum.name, crs.geodetic_crs.name if crs.geodetic_crs else "")
    folded = [re.sub(r"[^a-z0-9]", "", n.lower()) for n in names]
    return any("vn2000" in f or "vietnam2000" in f for f in folded)


def _on_wgs84_ellipsoid(crs: CRS) -> bool:
    ellipsoid = crs.ellipsoid
    return (
        ellipsoid is not None
        and (
            round(ellipsoid.semi_major_metre, 3),
            round(ellipsoid.inverse_flattening, 9),
        )
        == _WGS84_ELLIPSOID
    )


def _towgs84(crs: CRS) -> tuple[float, ...] | None:
    """The datum shift a bound CRS (WKT1 TOWGS84) carries, or None."""
    if not crs.is_bound:
        return None
    params = [p.value for p in crs.coordinate_operation.params]
    if len(params) == 3:
        params = [*params, 0.0, 0.0, 0.0, 0.0]
    return tuple(float(v) for v in params) if len(params) == 7 else None


def _is_official(shift: tuple[float, ...]) -> bool:
    """The official parameters in either rotation convention (files carry both)."""
    turned = (*OFFICIAL_TOWGS84[:3], *(-r for r in OFFICIAL_TOWGS84[3:6]), OFFICIAL_TOWGS84[6])
    return any(
        all(abs(a - b) < 1e-6 for a, b in zip(shift, form, strict=True))
        for form in (OFFICIAL_TOWGS84, turned)
    )


@dataclass(frozen=True)
class Vn2000Reading:
    """How a declared CRS that is VN-2000 (or TM-3 on WGS 84) is read.

    ``crs`` transforms with the official shift. ``as_declared`` is set when the file's
    definition says something else that may be meant (a zero shift): the communes'
    outline chooses between the two, and without it ``crs`` is assumed.
    """

    crs: str
    description: str
    as_declared: str | None = None


def read_vn2000(declared: str) -> Vn2000Reading | None:
    """The reading of a declared CRS (EPSG code or WKT) if it is VN-2000 or a TM-3
    zone, else None (use the CRS as declared)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        crs = CRS.from_user_input(declared)
    base = crs.source_crs if crs.is_bound else crs
    shift = _towgs84(crs)
    vn2000 = _is_vn2000_datum(base)
    params = _tm_params(base) if base.is_projected else None
    tm3 = (
        params is not None
        and params[_SCALE] == TM3_SCALE
        and params[_FALSE_E] == FALSE_EASTING
        and params[_LON_0] in {round(m, 6) for m in tm3_meridians()["central_meridian_deg"]}
    )
    if not vn2000 and not (tm3 and _on_wgs84_ellipsoid(base)):
        return None
    if base.is_geographic:
        target = VN2000_GEOGRAPHIC
    elif params is not None and params[_LAT_0] == 0.0 and params[_FALSE_N] == 0.0:
        target = vn2000_epsg(params[_LON_0], params[_SCALE]) or _explicit(params)
    else:
        return None  # another projection on VN-2000: PROJ reads it as declared
    name = base.name if base.name and base.name != "unknown" else "unnamed"
    stated = f"'{name}'" if vn2000 else f"'{name}' (TM-3 parameters on WGS 84)"
    label = f"{target} ({CRS.from_user_input(target).name})" if "EPSG" in target else target
    if vn2000 and (shift is None or _is_official(shift)):
        how = "" if shift is None else " with the official TOWGS84"
        return Vn2000Reading(target, f"{stated}{how}: read as {label}")
    if shift is not None and any(shift):
        return None  # a shift of its own: the file's statement stands
    why = "TOWGS84 all zeros" if vn2000 else "no shift from WGS 84"
    return Vn2000Reading(
        target,
        f"{stated}, {why} (about 200 m off if the coordinates are VN-2000): read as {label} "
        "with the official VN-2000 shift (QĐ 05/2007/QĐ-BTNMT)",
        as_declared=declared,
    )


def _explicit(params: dict[str, float]) -> str:
    """A TM zone on VN-2000 that EPSG does not list, with the official shift."""
    shift = ",".join(f"{v:g}" for v in OFFICIAL_TOWGS84)
    return (
        f"+proj=tmerc +lat_0=0 +lon_0={params[_LON_0]:g} +k={params[_SCALE]:g} "
        f"+x_0={params[_FALSE_E]:g} +y_0=0 +ellps=WGS84 +towgs84={shift} +units=m +no_defs"
    )
