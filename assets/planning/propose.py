"""The standalone planner behind ``hamlets propose``: a hamlet file in, plans out.

Planners and benchmarks use it without the pipeline. Input (GeoPackage or GeoJSON, one
feature per hamlet, polygon geometry in any declared CRS):

    hamlet_id (text), commune_code (text), province_code (text, 2 digits),
    unit_type (thon | to_dan_pho), households (int), population (int, optional),
    exempt (optional: true/false, or an exemption category of the profile by key or
    Vietnamese label)

The region and standards come from the profile's province mapping. Output: a CSV with
one row per (option, hamlet) — ``option, commune_code, hamlet_id, unit_id`` (unit_id is
the hamlet_id of the unit's largest member, so unique within an option) — and
optionally a JSON summary per option and commune. Bad input raises
``ProposeInputError`` naming the file, the feature (1-based) and the field.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from assets.exports.safe import atomic_write, csv_safe
from assets.planning.assembly import PlanResult
from assets.planning.compliance import hamlet_compliance
from assets.planning.option_kinds import OPTIONS
from assets.planning.options import DEFAULT_TIME_LIMIT_S, plan_options
from assets.planning.rules import HAMLET_KINDS, RulesError, RulesProfile, load_rules
from geodata.adjacency import hamlet_adjacency
from geodata.compactness import hamlet_measures

REQUIRED = ("hamlet_id", "commune_code", "province_code", "unit_type", "households")
OPTIONAL = ("population", "exempt")
CSV_COLUMNS = ("option", "commune_code", "hamlet_id", "unit_id")
# Shown as the exemption when the file only says "exempt: true".
DECLARED_EXEMPT_VI = "đặc thù theo khai báo trong tệp"
_TRUE = {"true", "1", "yes", "y", "có", "co", "x"}
_FALSE = {"false", "0", "no", "n", "không", "khong", ""}


class ProposeInputError(ValueError):
    """The hamlet file cannot be planned as it is; the message says where and why."""


_Fail = Callable[[pd.Series, str, str], ProposeInputError]


def propose_from_file(
    hamlets_path: Path,
    out_csv: Path,
    summary_json: Path | None = None,
    profile: str | None = None,
    *,
    rules_path: Path | None = None,
    rules_override: Path | None = None,
    options: Sequence[str] = OPTIONS,
    time_limit_s_per_commune: float = DEFAULT_TIME_LIMIT_S,
    workers: int = 1,
) -> PlanResult:
    """Plan every commune of the file and write the CSV (and the JSON summary)."""
    rules = load_rules(profile, path=rules_path, override_path=rules_override)
    hamlets = read_hamlets(Path(hamlets_path), rules)
    compliance = _compliance(hamlets, rules)
    frame = gpd.GeoDataFrame(
        {"hamlet_code": hamlets["hamlet_id"], "commune_code": hamlets["commune_code"]},
        geometry=hamlets.geometry,
        crs=hamlets.crs,
    )
    adjacency = hamlet_adjacency(frame)
    result = plan_options(
        compliance,
        adjacency,
        rules,
        measures=hamlet_measures(frame),
        options=options,
        time_limit_s_per_commune=time_limit_s_per_commune,
        workers=workers,
    )
    write_plan_csv(result, Path(out_csv))
    if summary_json is not None:
        write_summary_json(result, Path(summary_json), rules, Path(hamlets_path))
    return result


# --- reading and checking ----------------------------------------------------------------


def read_hamlets(path: Path, rules: RulesProfile) -> gpd.GeoDataFrame:
    """The file's hamlets, checked and typed; errors name file, feature and field."""
    shown = str(path)
    if not path.exists():
        raise ProposeInputError(f"{shown}: file not found")
    try:
        gdf = gpd.read_file(path, engine="pyogrio")
    except Exception as exc:  # pyogrio raises several types for unreadable files
        raise ProposeInputError(f"{shown}: cannot read as GeoPackage/GeoJSON: {exc}") from exc
    missing = [c for c in REQUIRED if c not in gdf.columns]
    if missing:
        raise ProposeInputError(
            f"{shown}: missing columns {missing}; expected {list(REQUIRED)} "
            f"(optional {list(OPTIONAL)})"
        )
    if gdf.crs is None:
        raise ProposeInputError(f"{shown}: the layer declares no CRS; declare one (e.g. EPSG:4326)")
    if len(gdf) == 0:
        raise ProposeInputError(f"{shown}: no features")
    gdf = gdf.reset_index(drop=True)
    feature = pd.Series(np.arange(1, len(gdf) + 1))

    def fail(rows: pd.Series, field: str, problem: str) -> ProposeInputError:
        at = feature[rows.to_numpy()].head(5).tolist()
        values = gdf.loc[rows.to_numpy(), field].head(3).tolist() if field in gdf else []
        return ProposeInputError(
            f"{shown}: feature(s) {at}, field {field}: {problem} (values e.g. {values})"
        )

    out = gpd.GeoDataFrame(geometry=gdf.geometry.to_numpy(), crs=gdf.crs)
    for field in ("hamlet_id", "commune_code", "province_code"):
        col = gdf[field]
        missing_rows = col.isna() | col.astype(str).str.strip().eq("")
        if missing_rows.any():
            raise fail(missing_rows, field, "is missing")
        not_text = ~col.map(lambda v: isinstance(v, str))
        if not_text.any():
            raise fail(not_text, field, "must be text (leading zeros are significant)")
        out[field] = col.str.strip().astype(str).to_numpy()
    bad = ~out["province_code"].str.fullmatch(r"\d{2}")
    if bad.any():
        raise fail(bad, "province_code", 'must be a 2-digit code such as "04"')
    for code in sorted(out["province_code"].unique()):
        try:
            rules.region_for(code)
        except RulesError as exc:
            raise fail(out["province_code"].eq(code), "province_code", str(exc)) from None
    dup = out["hamlet_id"].duplicated(keep=False)
    if dup.any():
        raise fail(dup, "hamlet_id", "must be unique")
    provinces = out.groupby("commune_code")["province_code"].transform("nunique")
    if (provinces > 1).any():
        raise fail(provinces > 1, "province_code", "differs between hamlets of one commune")
    kind = gdf["unit_type"].astype("string").str.strip()
    bad = ~kind.isin(list(HAMLET_KINDS)).fillna(False).astype(bool)
    if bad.any():
        raise fail(bad, "unit_type", f"must be one of {list(HAMLET_KINDS)}")
    out["unit_type"] = kind.astype(str).to_numpy()
    out["households"] = _counts(gdf, "households", fail, required=True)
    out["population"] = (
        _counts(gdf, "population", fail, required=False) if "population" in gdf else 0
    )
    out["exemption_category"] = _exemptions(gdf, rules, fail)
    geom = out.geometry
    empty = geom.isna() | geom.is_empty
    if empty.any():
        raise fail(pd.Series(empty.to_numpy()), "geometry", "is missing or empty")
    polygonal = geom.geom_type.isin(["Polygon", "MultiPolygon"])
    if not polygonal.all():
        raise fail(pd.Series(~polygonal.to_numpy()), "geometry", "must be a polygon")
    return out


def _counts(gdf: pd.DataFrame, field: str, fail: _Fail, *, required: bool) -> np.ndarray:
    col = pd.to_numeric(gdf[field], errors="coerce")
    given = gdf[field].notna()
    unreadable = given & col.isna()
    if unreadable.any():
        raise fail(unreadable, field, "must be a whole number")
    if required and (~given).any():
        raise fail(~given, field, "is missing")
    col = col.fillna(0)
    fractional = (col % 1 != 0) | (col < 0)
    if fractional.any():
        raise fail(fractional, field, "must be a whole number ≥ 0")
    return col.astype("int64").to_numpy()


def _exemptions(gdf: pd.DataFrame, rules: RulesProfile, fail: _Fail) -> np.ndarray:
    """Exemption category per hamlet: a profile key, the declared marker, or None."""
    out = np.full(len(gdf), None, dtype=object)
    if "exempt" not in gdf:
        return out
    for i, value in enumerate(gdf["exempt"].tolist()):
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        if isinstance(value, bool | np.bool_ | int | np.integer):
            if value not in (0, 1):
                raise fail(pd.Series(np.arange(len(gdf)) == i), "exempt", "must be true/false")
            out[i] = DECLARED_EXEMPT_VI if bool(value) else None
            continue
        text = str(value).strip()
        folded = text.lower()
        if folded in _TRUE:
            out[i] = DECLARED_EXEMPT_VI
        elif folded in _FALSE:
            out[i] = None
        else:
            try:
                out[i] = rules.exemption_key(text)
            except RulesError as exc:
                raise fail(pd.Series(np.arange(len(gdf)) == i), "exempt", str(exc)) from None
    if any(v == DECLARED_EXEMPT_VI for v in out) and not rules.exemption_categories:
        raise ProposeInputError(f"rules profile {rules.name} defines no exemption")
    return out


def _compliance(hamlets: gpd.GeoDataFrame, rules: RulesProfile) -> pd.DataFrame:
    """planning.hamlet_compliance for the file, province by province.

    A hamlet declared exempt without a category is checked as the profile's first
    category (every category has the same effect: exempt, or a floor under a profile
    with ``exempt_floor_households``) and then labelled as declared.
    """
    declared = hamlets["exemption_category"].eq(DECLARED_EXEMPT_VI).to_numpy()
    first = next(iter(rules.exemption_categories), None)
    category = hamlets["exemption_category"].where(~declared, first)
    frames = []
    for province, part in hamlets.assign(_category=category.to_numpy()).groupby("province_code"):
        registry = pd.DataFrame(
            {
                "hamlet_code": part["hamlet_id"].to_numpy(),
                "commune_code": part["commune_code"].to_numpy(),
                "hamlet_kind": part["unit_type"].to_numpy(),
                "declared_households": part["households"].to_numpy(),
                "exemption_category": part["_category"].to_numpy(),
            }
        )
        sizes = pd.DataFrame(
            {
                "hamlet_code": part["hamlet_id"].to_numpy(),
                "households": part["households"].to_numpy(),
                "population": np.asarray(part["population"], dtype="int64"),
            }
        )
        frames.append(hamlet_compliance(registry, sizes, str(province), rules))
    compliance = pd.concat(frames, ignore_index=True)
    marked = compliance["hamlet_code"].isin(hamlets.loc[declared, "hamlet_id"])
    compliance["exemption_category"] = compliance["exemption_category"].where(
        ~marked, DECLARED_EXEMPT_VI
    )
    return compliance


# --- writing -----------------------------------------------------------------------------


def write_plan_csv(result: PlanResult, path: Path) -> Path:
    """option, commune_code, hamlet_id, unit_id; UTF-8, options in their fixed order."""
    a = result.assignments
    out = pd.DataFrame(
        {
            "option": a["option_name"].to_numpy(),
            "commune_code": a["commune_code"].to_numpy(),
            "hamlet_id": a["hamlet_code"].to_numpy(),
            "unit_id": a["unit_id"].to_numpy(),
        }
    )
    # Codes come from the caller's file: one that starts like a formula is written with
    # OWASP's leading apostrophe, so a spreadsheet opening the CSV shows it as text.
    with atomic_write(path) as partial:
        csv_safe(out).to_csv(partial, index=False, encoding="utf-8")
    return path


def summary_document(result: PlanResult, rules: RulesProfile, source: Path) -> dict:
    """The JSON summary: totals per option, and per option and commune."""
    s, u = result.summary, result.units
    bad = u[~u["is_compliant"]]
    noncompliant: dict[tuple[str, str], list[dict]] = {}
    for row in bad.itertuples(index=False):
        noncompliant.setdefault((row.option_name, row.commune_code), []).append(
            {
                "unit_id": row.unit_id,
                "hamlet_ids": row.member_hamlet_codes.split(","),
                "households": int(row.households),
                "standard_households": int(row.standard_households),
                "reason": row.compliance_reason,
            }
        )
    communes = []
    for row in s.itertuples(index=False):
        communes.append(
            {
                "option": row.option_name,
                "commune_code": row.commune_code,
                "units_before": int(row.units_before),
                "units_after": int(row.units_after),
                "compliant_units": int(row.compliant_units_after),
                "noncompliant_units": int(row.noncompliant_units_after),
                "noncompliant": noncompliant.get((row.option_name, row.commune_code), []),
                "households_moved": int(row.households_moved),
                "awaiting_guidance_hamlets": int(row.awaiting_guidance_hamlets),
                "without_special_cases": {
                    "units_after": int(row.units_after_without_special_cases),
                    "noncompliant_units": int(row.noncompliant_units_after_without_special_cases),
                },
                "mean_polsby_popper": _number(row.mean_polsby_popper),
                "status": row.optimality_status,
                "units_upper_bound": None
                if pd.isna(row.units_upper_bound)
                else int(row.units_upper_bound),
                "seconds": float(row.solve_seconds),
                "exact_seconds": float(row.exact_seconds),
            }
        )
    totals = []
    for option, part in s.groupby("option_name", sort=False):
        totals.append(
            {
                "option": option,
                "communes": len(part),
                "units_before": int(part["units_before"].sum()),
                "units_after": int(part["units_after"].sum()),
                "compliant_units": int(part["compliant_units_after"].sum()),
                "noncompliant_units": int(part["noncompliant_units_after"].sum()),
                "households_moved": int(part["households_moved"].sum()),
                "awaiting_guidance_hamlets": int(part["awaiting_guidance_hamlets"].sum()),
                "without_special_cases": {
                    "units_after": int(part["units_after_without_special_cases"].sum()),
                    "noncompliant_units": int(
                        part["noncompliant_units_after_without_special_cases"].sum()
                    ),
                },
                "communes_optimal": int(part["optimality_status"].eq("optimal").sum()),
                "seconds": round(float(part["solve_seconds"].sum()), 3),
                "exact_seconds": round(float(part["exact_seconds"].sum()), 3),
            }
        )
    return {
        "rules_profile": rules.name,
        "legal_basis": rules.legal_basis,
        "hamlets_file": str(source),
        "options": totals,
        "communes": communes,
    }


def write_summary_json(result: PlanResult, path: Path, rules: RulesProfile, source: Path) -> Path:
    doc = summary_document(result, rules, source)
    with atomic_write(path) as partial:
        partial.write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path


def _number(value: float) -> float | None:
    return None if pd.isna(value) else round(float(value), 4)
