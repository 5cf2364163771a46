"""Planted errors of the synthetic province, with their ground truth.

Each error type corrupts one kind of unit: a person row (``persons.csv``), a household
row (``households.csv``), a hamlet's registry row (``hamlet_registry.xlsx``) or a hamlet's
boundary feature (``hamlet_boundaries.gpkg``). The ground truth lists one row per planted
error: ``file, row, field, error_type`` with ``row`` the 1-based data row (or feature
number) in that file.

Rules that keep the ground truth unambiguous:
- a corrupted row carries exactly one error; a household at most one household-level
  error (no head, two heads, a head under 15); a hamlet at most one geometry error;
- the rows an error copies from (the original of a duplicated person) are left alone;
- whatever is not listed is clean: citizen IDs valid, unique and consistent with sex and
  birth year, one head per household, points inside their hamlet, registry figures
  equal to the records, hamlets tessellating their commune.

Selection and corruption are vectorised; Python loops run over error types, or over the
few planted rows of the rare types (name typos, geometry edits), never over all persons.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from synthetic.files import (
    AS_OF,
    ERROR_COLUMNS,
    HAMLETS_FILE,
    HEAD,
    HOUSEHOLDS_FILE,
    PERSONS_FILE,
    REGISTRY_FILE,
    format_dates,
    strip_diacritics,
)

MAX_ERROR_RATE = 0.25
_METRES_PER_DEGREE = 111_320.0

PERSON, HOUSEHOLD, HAMLET = "person", "household", "hamlet"


@dataclass(frozen=True)
class ErrorType:
    """A planted error type: its file, canonical field, the unit it counts per, its share.

    At a global ``error_rate`` the type is planted on ``round(error_rate * share * n)``
    units (at least one) of its unit kind: person rows, household rows or hamlets.
    """

    name: str
    file: str
    field: str
    unit: str
    share: float
    geometry: bool = False


ERROR_TYPES: tuple[ErrorType, ...] = (
    # persons.csv: record-level (the pipeline's record rules see these).
    ErrorType("citizen_id_malformed", PERSONS_FILE, "citizen_id", PERSON, 0.14),
    ErrorType("citizen_id_bad_century_digit", PERSONS_FILE, "citizen_id", PERSON, 0.05),
    ErrorType("citizen_id_sex_mismatch", PERSONS_FILE, "citizen_id", PERSON, 0.07),
    ErrorType("citizen_id_year_mismatch", PERSONS_FILE, "citizen_id", PERSON, 0.07),
    ErrorType("citizen_id_duplicate", PERSONS_FILE, "citizen_id", PERSON, 0.10),
    ErrorType("person_duplicate_typo_no_id", PERSONS_FILE, "citizen_id", PERSON, 0.06),
    ErrorType("sex_missing", PERSONS_FILE, "sex", PERSON, 0.10),
    ErrorType("birth_date_unparseable", PERSONS_FILE, "birth_date", PERSON, 0.12),
    ErrorType("birth_date_future", PERSONS_FILE, "birth_date", PERSON, 0.04),
    # persons.csv: household-level (one per household).
    ErrorType("household_no_head", PERSONS_FILE, "relation_to_head", PERSON, 0.08),
    ErrorType("household_two_heads", PERSONS_FILE, "relation_to_head", PERSON, 0.10),
    ErrorType("head_under_15", PERSONS_FILE, "relation_to_head", PERSON, 0.07),
    # households.csv
    ErrorType("household_unknown_hamlet_code", HOUSEHOLDS_FILE, "hamlet_code", HOUSEHOLD, 0.5),
    ErrorType(
        "household_point_outside_hamlet", HOUSEHOLDS_FILE, "longitude+latitude", HOUSEHOLD, 0.5
    ),
    # hamlet_registry.xlsx
    ErrorType("registry_households_mismatch", REGISTRY_FILE, "declared_households", HAMLET, 0.5),
    # hamlet_boundaries.gpkg
    ErrorType("hamlet_self_intersection", HAMLETS_FILE, "geometry", HAMLET, 0.2, True),
    ErrorType("hamlet_sliver", HAMLETS_FILE, "geometry", HAMLET, 0.15, True),
    ErrorType("hamlet_overlap", HAMLETS_FILE, "geometry", HAMLET, 0.15, True),
)
ERROR_TYPE_NAMES: tuple[str, ...] = tuple(t.name for t in ERROR_TYPES)
_BY_NAME = {t.name: t for t in ERROR_TYPES}


def error_counts(
    units: Mapping[str, int],
    error_rate: float,
    error_rates: Mapping[str, float] | None = None,
    geometry_errors: bool | float = True,
) -> dict[str, int]:
    """How many errors of each type to plant.

    ``error_rates`` overrides the rate of single types (share of their units, 0 turns a
    type off); ``geometry_errors`` False turns geometry errors off, a float sets their
    combined rate (share of hamlets). A positive rate plants at least one error.
    """
    if not 0.0 <= error_rate <= MAX_ERROR_RATE:
        raise ValueError(f"error_rate must be within [0, {MAX_ERROR_RATE}], got {error_rate}")
    overrides = dict(error_rates or {})
    unknown = sorted(set(overrides) - set(ERROR_TYPE_NAMES))
    if unknown:
        raise ValueError(f"unknown error types {unknown}; known: {', '.join(ERROR_TYPE_NAMES)}")
    for name, rate in overrides.items():
        if not 0.0 <= rate <= MAX_ERROR_RATE:
            raise ValueError(f"error rate of {name} must be within [0, {MAX_ERROR_RATE}]")
    geometry_rate: float | None = None
    if geometry_errors is not True and geometry_errors is not False:
        geometry_rate = float(geometry_errors)
        if not 0.0 <= geometry_rate <= MAX_ERROR_RATE:
            raise ValueError(f"geometry_errors must be a bool or within [0, {MAX_ERROR_RATE}]")
    geometry_share = sum(t.share for t in ERROR_TYPES if t.geometry)
    counts = {}
    for t in ERROR_TYPES:
        if t.name in overrides:
            rate = overrides[t.name]
        elif t.geometry and geometry_errors is False:
            rate = 0.0
        elif t.geometry and geometry_rate is not None:
            rate = geometry_rate * t.share / geometry_share
        else:
            rate = error_rate * t.share
        n = units[t.unit]
        counts[t.name] = max(1, round(rate * n)) if rate > 0 and n > 0 else 0
    return counts


def _truth(rows: dict[str, np.ndarray]) -> pd.DataFrame:
    frames = [
        pd.DataFrame(
            {
                "file": _BY_NAME[k].file,
                "row": np.asarray(r, dtype=np.int64) + 1,
                "field": _BY_NAME[k].field,
                "error_type": k,
            }
        )
        for k, r in rows.items()
        if len(r)
    ]
    if not frames:
        return pd.DataFrame(columns=list(ERROR_COLUMNS))
    return pd.concat(frames, ignore_index=True)[list(ERROR_COLUMNS)]


def sort_truth(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """One manifest, ordered by file and row."""
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=list(ERROR_COLUMNS))
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(["file", "row", "error_type"], kind="stable", ignore_index=True)


def _pick(pool: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Up to ``k`` distinct elements of ``pool``, sorted."""
    k = min(k, len(pool))
    return np.sort(rng.choice(pool, k, replace=False)) if k else pool[:0]


# --- persons ---------------------------------------------------------------------------


def _id_text(numbers: np.ndarray) -> np.ndarray:
    if len(numbers) == 0:
        return np.array([], dtype=object)
    return np.strings.zfill(numbers.astype(str), 12).astype(object)


def _fresh_ids(
    wanted: np.ndarray, taken: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``wanted`` IDs, with the 6 random digits redrawn where one is already taken.

    ``taken`` is sorted; returns the IDs and the updated sorted ``taken``.
    """
    wanted = wanted.copy()
    for _ in range(100):
        at = np.minimum(np.searchsorted(taken, wanted), max(len(taken) - 1, 0))
        clash = taken[at] == wanted if len(taken) else np.zeros(len(wanted), dtype=bool)
        _, first = np.unique(wanted, return_index=True)
        repeated = np.ones(len(wanted), dtype=bool)
        repeated[first] = False
        redo = clash | repeated
        if not redo.any():  # a merge into ``taken`` (sorted), not a sort of both
            added = np.sort(wanted)
            return wanted, np.insert(taken, np.searchsorted(taken, added), added)
        wanted[redo] = wanted[redo] // 10**6 * 10**6 + rng.integers(0, 10**6, int(redo.sum()))
    raise RuntimeError("could not draw unique citizen IDs")


def _typo(name: str, rng: np.random.Generator) -> str:
    """The same name with one slip: a word without diacritics, a letter lost, swapped or doubled."""
    words = name.split(" ")
    for _ in range(20):
        i = int(rng.integers(len(words)))
        word = words[i]
        kind = int(rng.integers(4))
        if kind == 0:
            new = strip_diacritics(word)
        elif kind == 1 and len(word) > 2:
            j = int(rng.integers(1, len(word)))
            new = word[:j] + word[j + 1 :]
        elif kind == 2 and len(word) > 2:
            j = int(rng.integers(1, len(word) - 1))
            new = word[:j] + word[j + 1] + word[j] + word[j + 2 :]
        else:
            j = int(rng.integers(0, len(word)))
            new = word[: j + 1] + word[j:]
        if new != word:
            return " ".join([*words[:i], new, *words[i + 1 :]])
    return name + "h"


def plant_person_errors(
    persons: pd.DataFrame,
    counts: Mapping[str, int],
    rng: np.random.Generator,
    *,
    taken_ids: np.ndarray | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Corrupt person rows; return the rows, their ground truth and the touched households.

    ``taken_ids`` (sorted int64, unique) are the IDs a rewritten ID must avoid; by
    default those of ``persons``. A chunked generation passes every ID issued so far.

    ``persons`` carries the written columns plus ``_household`` (household number),
    ``_birth`` (datetime64[D]) and ``_male``. The touched households are those given a
    household-level error (no head, two heads, a head under 15): the only households
    whose head count or head may be wrong.
    """
    n = len(persons)
    household = persons["_household"].to_numpy()
    birth = persons["_birth"].to_numpy().astype("datetime64[D]")
    male = persons["_male"].to_numpy()
    relation = persons["Quan hệ với chủ hộ"].to_numpy().copy()
    ids = persons["Số ĐDCN"].to_numpy().copy()
    full_name = persons["Họ và tên"].to_numpy().copy()
    births = persons["Ngày sinh"].to_numpy().copy()
    sex = persons["Giới tính"].to_numpy().copy()
    ethnicity = persons["Dân tộc"].to_numpy().copy()
    n_h = int(household.max()) + 1 if n else 0
    is_head = relation == HEAD
    age_days = (AS_OF - birth).astype(np.int64)
    under_15 = age_days < 15 * 365.2425
    adult = age_days >= 18 * 365.2425
    used = np.zeros(n, dtype=bool)
    hh_used = np.zeros(n_h, dtype=bool)
    rows: dict[str, np.ndarray] = {}

    def one_per_household(candidates: np.ndarray) -> np.ndarray:
        """The first candidate row of each household not yet given a household error."""
        candidates = candidates[~hh_used[household[candidates]]]
        _, first = np.unique(household[candidates], return_index=True)
        return candidates[first]

    # Household-level errors first: they need whole, untouched households.
    r = _pick(one_per_household(np.flatnonzero(is_head)), counts["household_no_head"], rng)
    relation[r] = ""
    rows["household_no_head"] = r
    hh_used[household[r]] = True
    used[r] = True

    r = _pick(
        one_per_household(np.flatnonzero(~is_head & adult)), counts["household_two_heads"], rng
    )
    relation[r] = HEAD
    rows["household_two_heads"] = r
    hh_used[household[r]] = True
    used[r] = True

    # A child recorded as the head; the real head then appears as the child's parent.
    r = _pick(one_per_household(np.flatnonzero(~is_head & under_15)), counts["head_under_15"], rng)
    head_rows = np.flatnonzero(is_head)
    old_head = head_rows[np.searchsorted(household[head_rows], household[r])]
    relation[old_head] = np.where(male[old_head], "Bố", "Mẹ")
    relation[r] = HEAD
    rows["head_under_15"] = r
    hh_used[household[r]] = True
    used[r] = True
    used[old_head] = True

    # The same person in two households: a row of another household becomes a copy of a
    # clean person of the same sex (moved, and not struck off the old household).
    id_numbers = ids.astype(str).astype(np.int64)
    taken = np.sort(id_numbers) if taken_ids is None else taken_ids  # unique already
    for kind in ("citizen_id_duplicate", "person_duplicate_typo_no_id"):
        target = _pick(np.flatnonzero(~used & ~is_head), counts[kind], rng)
        used[target] = True
        source = np.full(len(target), -1, dtype=np.int64)
        for is_male in (True, False):
            t = np.flatnonzero(male[target] == is_male)
            pool = rng.permutation(np.flatnonzero(~used & (male == is_male)))
            src, spare = pool[: len(t)], pool[len(t) :]
            for _ in range(100):
                same = np.flatnonzero(household[src] == household[target[t[: len(src)]]])
                if not len(same) or not len(spare):
                    break
                k = min(len(same), len(spare))
                same = same[:k]
                src[same], spare = spare[:k], np.r_[spare[k:], src[same]]
            source[t[: len(src)]] = src
            used[src] = True
        ok = (source >= 0) & (household[np.maximum(source, 0)] != household[target])
        used[target[~ok]] = False
        target, source = target[ok], source[ok]
        ids[target] = ids[source]
        full_name[target] = full_name[source]
        births[target] = births[source]
        sex[target] = sex[source]
        ethnicity[target] = ethnicity[source]
        if kind == "person_duplicate_typo_no_id":
            ids[target] = ""
            full_name[target] = np.array(
                [_typo(str(name), rng) for name in full_name[source]], dtype=object
            )
        rows[kind] = target

    def free(k: int, exclude_heads: bool = False) -> np.ndarray:
        pool = np.flatnonzero(~used & ~is_head) if exclude_heads else np.flatnonzero(~used)
        picked = _pick(pool, k, rng)
        used[picked] = True
        return picked

    # Malformed: the second digit lost (a zero, in "004…"), the last digit lost, a digit
    # added, a letter typed. Not the first digit: an ID without its leading zero is what
    # a spreadsheet leaves, and staging restores it (assets/staging/codes.py).
    r = free(counts["citizen_id_malformed"])
    good = ids[r].astype(str)
    variant = rng.integers(0, 4, len(r))
    bad = np.select(
        [variant == 0, variant == 1, variant == 2],
        [
            np.strings.add(np.strings.slice(good, 0, 1), np.strings.slice(good, 2, None)),
            np.strings.slice(good, 0, 11),
            np.strings.add(good, rng.integers(0, 10, len(r)).astype(str)),
        ],
        np.strings.add(
            np.strings.add(np.strings.slice(good, 0, 6), "O"), np.strings.slice(good, 7, None)
        ),
    )
    ids[r] = bad.astype(object)
    rows["citizen_id_malformed"] = r

    # Century/sex digit G = 4..9: a century no living person was born in.
    r = free(counts["citizen_id_bad_century_digit"])
    g = (id_numbers[r] // 10**8) % 10
    new_g = rng.integers(4, 10, len(r))
    wanted = id_numbers[r] + (new_g - g) * 10**8
    wanted, taken = _fresh_ids(wanted, taken, rng)
    ids[r] = _id_text(wanted)
    rows["citizen_id_bad_century_digit"] = r

    # G's parity (sex) flipped.
    r = free(counts["citizen_id_sex_mismatch"])
    g = (id_numbers[r] // 10**8) % 10
    wanted = id_numbers[r] + np.where(g % 2 == 0, 1, -1) * 10**8
    wanted, taken = _fresh_ids(wanted, taken, rng)
    ids[r] = _id_text(wanted)
    rows["citizen_id_sex_mismatch"] = r

    # YY off: a neighbouring year, a decade, or the two digits swapped.
    r = free(counts["citizen_id_year_mismatch"])
    yy = (id_numbers[r] // 10**6) % 100
    shift = rng.choice(np.array([-1, 1, -10, 10, 0]), len(r))
    swapped = (yy % 10) * 10 + yy // 10
    new_yy = np.where(
        (shift == 0) & (swapped != yy), swapped, (yy + np.where(shift == 0, 1, shift)) % 100
    )
    wanted = id_numbers[r] + (new_yy - yy) * 10**6
    wanted, taken = _fresh_ids(wanted, taken, rng)
    ids[r] = _id_text(wanted)
    rows["citizen_id_year_mismatch"] = r

    r = free(counts["sex_missing"])
    sex[r] = ""
    rows["sex_missing"] = r

    r = free(counts["birth_date_unparseable"])
    year = np.strings.slice(births[r].astype(str), -4, None).astype(object)
    variant = rng.integers(0, 4, len(r))
    births[r] = np.where(
        variant == 0,
        "31/02/" + year,
        np.where(
            variant == 1, "15/13/" + year, np.where(variant == 2, "??/??/" + year, "không rõ")
        ),
    )
    rows["birth_date_unparseable"] = r

    # A date after the extract: 20yy typed for 19yy (1987 -> 2087), else a date in the
    # coming years. Never a head's, so that it does not make a head under 15 as well.
    r = free(counts["birth_date_future"], exclude_heads=True)
    year = birth[r].astype("datetime64[Y]").astype(np.int64) + 1970
    as_of_year = int(AS_OF.astype("datetime64[Y]").astype(np.int64)) + 1970
    century_slip = (year + 100 > as_of_year) & (year < 2000)
    later = AS_OF + rng.integers(30, 15 * 365, len(r)).astype("timedelta64[D]")
    slipped = np.strings.add(
        np.strings.slice(births[r].astype(str), 0, 6), (year + 100).astype(str)
    )
    births[r] = np.where(century_slip, slipped, format_dates(later)).astype(object)
    rows["birth_date_future"] = r

    out = persons.copy()
    out["Số ĐDCN"] = ids
    out["Họ và tên"] = full_name
    out["Ngày sinh"] = births
    out["Giới tính"] = sex
    out["Quan hệ với chủ hộ"] = relation
    out["Dân tộc"] = ethnicity
    return out, _truth(rows), np.flatnonzero(hh_used)


# --- households ------------------------------------------------------------------------


def plant_household_errors(
    hh: pd.DataFrame,
    hamlets: gpd.GeoDataFrame,
    counts: Mapping[str, int],
    rng: np.random.Generator,
    avoid_hamlets: np.ndarray,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Unknown hamlet codes and points outside the hamlet, in the households file.

    ``hh`` has the written columns (coordinates as floats) and ``_hamlet``; ``hamlets``
    the boundaries as written (with their planted errors). Points are not moved out of
    the hamlets in ``avoid_hamlets`` (self-intersecting: "inside" is ill-defined there).
    """
    n = len(hh)
    codes = hh["Mã thôn/TDP"].to_numpy().copy()
    lon = hh["Kinh độ"].to_numpy().copy()
    lat = hh["Vĩ độ"].to_numpy().copy()
    owner = hh["_hamlet"].to_numpy()
    used = np.zeros(n, dtype=bool)
    rows: dict[str, np.ndarray] = {}
    known = set(hamlets["hamlet_code"])

    r = _pick(np.arange(n), counts["household_unknown_hamlet_code"], rng)
    used[r] = True
    if len(r):
        good = codes[r].astype(str)
        # A hamlet number the commune never had, or two digits of the number swapped.
        number = np.strings.slice(good, 5, None).astype(np.int64)
        invented = np.strings.add(
            np.strings.slice(good, 0, 5),
            np.strings.zfill((number + rng.integers(50, 400, len(r))).clip(max=999).astype(str), 3),
        )
        swapped = np.strings.add(
            np.strings.add(np.strings.slice(good, 0, 5), np.strings.slice(good, 7, 8)),
            np.strings.add(np.strings.slice(good, 6, 7), np.strings.slice(good, 5, 6)),
        )
        bad = np.where(rng.random(len(r)) < 0.5, swapped, invented)
        clash = np.array([b in known for b in bad], dtype=bool)
        bad[clash] = np.strings.add(np.strings.slice(good[clash], 0, 5), "999")
        clash = np.array([b in known for b in bad], dtype=bool)
        bad[clash] = np.strings.add(np.strings.slice(good[clash], 0, 4), "X999")
        codes[r] = bad.astype(object)
    rows["household_unknown_hamlet_code"] = r

    # Points outside: latitude and longitude swapped, or a point in another hamlet.
    pool = np.flatnonzero(~used & ~np.isin(owner, avoid_hamlets))
    r = _pick(pool, counts["household_point_outside_hamlet"], rng)
    used[r] = True
    geoms = hamlets.geometry.to_numpy()
    swap = rng.random(len(r)) < 0.3
    new_lon, new_lat = lon[r].copy(), lat[r].copy()
    new_lon[swap], new_lat[swap] = lat[r][swap], lon[r][swap]
    moved = np.flatnonzero(~swap)
    commune = hamlets["commune_code"].to_numpy()
    for i in moved:  # a handful of rows
        h = owner[r[i]]
        others = np.flatnonzero((commune == commune[h]) & (np.arange(len(geoms)) != h))
        if not len(others):
            others = np.flatnonzero(np.arange(len(geoms)) != h)
        if not len(others):
            new_lon[i], new_lat[i] = lat[r[i]], lon[r[i]]
            continue
        other = others[rng.integers(len(others))]
        point = shapely.point_on_surface(geoms[other])
        new_lon[i], new_lat[i] = round(point.x, 6), round(point.y, 6)
    inside = shapely.contains_xy(geoms[owner[r]], new_lon, new_lat)
    # Still inside (only possible by bad luck): push it far north.
    new_lat[inside] = np.round(new_lat[inside] + 0.5, 6)
    lon[r], lat[r] = new_lon, new_lat
    rows["household_point_outside_hamlet"] = r

    out = hh.copy()
    out["Mã thôn/TDP"] = codes
    out["Kinh độ"] = lon
    out["Vĩ độ"] = lat
    return out, _truth(rows)


# --- registry --------------------------------------------------------------------------


def plant_registry_errors(
    registry: pd.DataFrame, counts: Mapping[str, int], rng: np.random.Generator
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Declared household counts that disagree with the records (stale or mistyped)."""
    declared = registry["Số hộ"].to_numpy().astype(np.int64).copy()
    r = _pick(np.arange(len(registry)), counts["registry_households_mismatch"], rng)
    factor = np.where(
        rng.random(len(r)) < 0.5, rng.uniform(0.6, 0.9, len(r)), rng.uniform(1.1, 1.5, len(r))
    )
    new = np.round(declared[r] * factor).astype(np.int64)
    same = new == declared[r]
    new[same] = declared[r][same] + 1
    declared[r] = np.maximum(new, 0)
    out = registry.copy()
    out["Số hộ"] = declared
    return out, _truth({"registry_households_mismatch": r})


# --- geometry ------------------------------------------------------------------------


def _degrees(metres: float) -> float:
    return metres / _METRES_PER_DEGREE


def _with_loop(geom: shapely.Geometry, rng: np.random.Generator) -> shapely.Geometry | None:
    """The polygon with a small self-crossing loop on its longest outer edge, pointing in.

    Repairing it (make_valid) loses only a tiny triangle.
    """
    parts = shapely.get_parts(geom)
    k = int(np.argmax(shapely.area(parts)))
    part = parts[k]
    ring = np.asarray(part.exterior.coords)
    seg = np.diff(ring, axis=0)
    length = np.hypot(seg[:, 0], seg[:, 1])
    order = np.argsort(-length)
    for i in order[:5]:
        p, d = ring[i], seg[i] / length[i]
        w = min(_degrees(rng.uniform(8, 25)), 0.2 * length[i])
        t = rng.uniform(0.3, 0.7) * length[i]
        normal = np.array([-d[1], d[0]])
        a, b = p + d * (t - w / 2), p + d * (t + w / 2)
        mid = p + d * t
        if not part.contains(shapely.Point(mid + normal * w * 0.5)):
            normal = -normal
        # a -> A -> B -> b crosses itself: a->A and B->b intersect halfway.
        big_a, big_b = b + normal * w, a + normal * w
        new_ring = np.vstack([ring[: i + 1], [a, big_a, big_b, b], ring[i + 1 :]])
        holes = [np.asarray(h.coords) for h in part.interiors]
        broken = shapely.Polygon(new_ring, holes)
        if shapely.is_valid(broken) or "Self-intersection" not in shapely.is_valid_reason(broken):
            continue
        new_parts = list(parts)
        new_parts[k] = broken
        return broken if len(parts) == 1 else shapely.MultiPolygon(new_parts)
    return None


def repaired(geoms: np.ndarray) -> np.ndarray:
    """What the pipeline's staging does to a boundary (make_valid, structure method)."""
    return shapely.make_valid(geoms, method="structure", keep_collapsed=False)


def _neighbour_pairs(geoms: np.ndarray, commune: np.ndarray) -> np.ndarray:
    """(i, j) pairs of hamlets of one commune sharing a border of some length."""
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    keep = (left != right) & (commune[left] == commune[right])
    left, right = left[keep], right[keep]
    shared = shapely.length(shapely.intersection(shapely.boundary(geoms[left]), geoms[right]))
    keep = shared > _degrees(100)
    return np.column_stack([left[keep], right[keep]])


def plant_geometry_errors(
    hamlets: gpd.GeoDataFrame,
    hh_x: np.ndarray,
    hh_y: np.ndarray,
    hh_owner: np.ndarray,
    counts: Mapping[str, int],
    rng: np.random.Generator,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame, np.ndarray]:
    """Self-intersections, sliver gaps and overlaps between neighbours in the boundaries.

    Each touched hamlet keeps a non-empty polygon whose repair still holds its
    households; codes are untouched. Returns the boundaries, the ground truth and the
    self-intersecting hamlets (where point-in-polygon tests are unreliable).
    """
    geoms = hamlets.geometry.to_numpy().copy()
    commune = hamlets["commune_code"].to_numpy()
    n = len(geoms)
    touched = np.zeros(n, dtype=bool)
    rows: dict[str, list[int]] = {
        k: [] for k in ("hamlet_self_intersection", "hamlet_sliver", "hamlet_overlap")
    }
    order = np.argsort(hh_owner, kind="stable")
    starts = np.searchsorted(hh_owner[order], np.arange(n + 1))

    def points_of(h: int) -> tuple[np.ndarray, np.ndarray]:
        idx = order[starts[h] : starts[h + 1]]
        return hh_x[idx], hh_y[idx]

    def keeps_points(h: int, geom: shapely.Geometry) -> bool:
        x, y = points_of(h)
        fixed = repaired(np.array([geom], dtype=object))[0]
        return bool(shapely.contains_xy(fixed, x, y).all()) and not fixed.is_empty

    pairs = (
        _neighbour_pairs(geoms, commune)
        if counts["hamlet_sliver"] or counts["hamlet_overlap"]
        else np.empty((0, 2), int)
    )
    pairs = pairs[rng.permutation(len(pairs))]

    for kind, width in (("hamlet_overlap", (15.0, 40.0)), ("hamlet_sliver", (1.0, 3.0))):
        for a, b in pairs:
            if len(rows[kind]) >= counts[kind]:
                break
            if touched[a] or touched[b]:
                continue
            d = _degrees(rng.uniform(*width))
            if kind == "hamlet_overlap":
                d = min(d, 0.1 * math.sqrt(geoms[a].area))
                grown = shapely.union(
                    geoms[a], shapely.intersection(shapely.buffer(geoms[a], d), geoms[b])
                )
                new = _polygonal_part(grown)
                if shapely.area(shapely.intersection(new, geoms[b])) <= 0:
                    continue
            else:
                new = _polygonal_part(shapely.difference(geoms[a], shapely.buffer(geoms[b], d)))
                if new.is_empty or not keeps_points(a, new):
                    continue
            if new.is_empty or not new.is_valid:
                continue
            geoms[a] = new
            touched[a] = touched[b] = True
            rows[kind].append(int(a))

    pool = rng.permutation(np.flatnonzero(~touched))
    for h in pool:
        if len(rows["hamlet_self_intersection"]) >= counts["hamlet_self_intersection"]:
            break
        broken = _with_loop(geoms[h], rng)
        if broken is None or not keeps_points(int(h), broken):
            continue
        geoms[h] = broken
        touched[h] = True
        rows["hamlet_self_intersection"].append(int(h))

    out = hamlets.copy()
    out["geometry"] = geoms
    truth = _truth({k: np.sort(np.array(v, dtype=np.int64)) for k, v in rows.items()})
    return (
        gpd.GeoDataFrame(out, geometry="geometry", crs=hamlets.crs),
        truth,
        np.sort(np.array(rows["hamlet_self_intersection"], dtype=np.int64)),
    )


def _polygonal_part(geom: shapely.Geometry) -> shapely.Geometry:
    if shapely.get_type_id(geom) in (3, 6):
        return geom
    parts = shapely.get_parts(geom)
    polys = parts[np.isin(shapely.get_type_id(parts), (3, 6))]
    return shapely.union_all(polys) if len(polys) else shapely.Polygon()
