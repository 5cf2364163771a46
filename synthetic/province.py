"""Synthetic province generator: a landing folder that looks like a province's real one.

Real hamlet- and person-level data is confidential, so the project is demonstrated,
tested and benchmarked on provinces synthesised here: communes (real ones from
``shared/realdata`` when given, else a generated tiling), hamlets tessellating each
commune, a hamlet registry as a commune office would keep it in Excel, households with
locations, persons with citizen IDs, and, on request, planted errors and file-level mess
with their ground truth so the validation stage can be scored.

Everything is vectorised (numpy / shapely 2); Python loops run per commune or per
ethnic group, never per household or person. The same arguments give the same bytes:
every random draw comes from one ``SeedSequence`` split into independent streams, so
e.g. turning planted errors on does not change the clean data underneath.

Calibration (per region, ``REGION_PROFILES``) follows the published anchors: Cao Bằng
had ~1,460 xóm/TDP for ~133,000 households (median ~85 households, long right tail);
Red River Delta thôn have a median of ~300-350 households.

Module layout: this module builds the province; ``synthetic.errors`` plants errors and
writes their ground truth; ``synthetic.files`` holds file names, headers, writers and
the file-level mess; ``synthetic.names`` the word lists.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import yaml

from geodata.crs import STORAGE_CRS, area_km2
from hamlets_config import data_path
from synthetic import errors, names
from synthetic.errors import ERROR_TYPE_NAMES, ERROR_TYPES, MAX_ERROR_RATE
from synthetic.files import (
    AS_OF,
    COMMUNE_COLUMNS,
    COMMUNES_FILE,
    ERRORS_FILE,
    FILE_MESS_COLUMNS,
    FILE_MESS_FILE,
    HAMLET_TRUTH_FILE,
    HAMLETS_FILE,
    HAMLETS_LAYER,
    HEAD,
    HEADER_STYLES,
    HOUSEHOLD_HEADERS,
    HOUSEHOLDS_FILE,
    LEGACY_ENCODING,
    PERSON_HEADERS,
    PERSONS_FILE,
    REGISTRY_FILE,
    REGISTRY_HEADERS,
    REGISTRY_SHEET,
    TRUTH_DIR,
    UTF8_BOM,
    append_landing_csv,
    format_coordinates,
    format_dates,
    header_variant,
    write_communes,
    write_hamlet_boundaries,
    write_landing_csv,
    write_registry,
    write_truth_csv,
)

__all__ = [
    "COMMUNE_COLUMNS",
    "ERROR_TYPES",
    "ERROR_TYPE_NAMES",
    "HAMLETS_LAYER",
    "HOUSEHOLD_HEADERS",
    "PERSON_HEADERS",
    "REGION_PROFILES",
    "REGISTRY_HEADERS",
    "REGISTRY_SHEET",
    "SynthesisSummary",
    "synthesise_province",
]

RULES_PATH = data_path("rules_profiles.yaml")
# The rules profile whose Art. 10.3 exemption labels the registry uses.
EXEMPTION_PROFILE = "nd185_2026"
# Share of communes whose names arrive NFD-decomposed when ``file_mess`` is on.
NFD_COMMUNE_SHARE = 0.3

# Provinces above this many households are generated in chunks unless told otherwise:
# below it, the output stays byte-identical to the unchunked generator's.
CHUNK_THRESHOLD_HOUSEHOLDS = 1_000_000
DEFAULT_CHUNK_HOUSEHOLDS = 250_000

# Roles of household members, in the order a household book lists them.
_ROLE_HEAD, _ROLE_SPOUSE, _ROLE_PARENT, _ROLE_SIBLING, _ROLE_CHILD, _ROLE_GRANDCHILD = range(6)
# Independent random streams (appending keeps the earlier ones unchanged).
_STREAMS = (
    "communes",
    "hamlets",
    "households",
    "persons",
    "registry",
    "person_errors",
    "household_errors",
    "registry_errors",
    "geometry_errors",
    "file_mess",
)


@dataclass(frozen=True)
class RegionProfile:
    """Calibration of one region (vùng); figures are plausible readings, not law."""

    hamlet_median: float  # median households per thôn
    hamlet_sigma: float  # log-normal spread of hamlet sizes
    tdp_factor: float  # TDP median = thôn median x this
    household_size_mean: float  # persons per household
    commune_area_km2: tuple[float, float]  # typical range, for generated communes
    male_head_share: float
    phuong_density: float  # households weight of a phường relative to a xã of equal area
    area_exponent: float  # households grow with area**exponent
    exemption_weights: tuple[tuple[str, float], ...]


_MOUNTAIN_EXEMPTIONS = (
    ("mountainous_ethnic_minority", 0.55),
    ("divided_terrain", 0.25),
    ("border_island", 0.2),
)
_LOWLAND_EXEMPTIONS = (
    ("clearance_resettlement", 0.6),
    ("divided_terrain", 0.2),
    ("isolated_island", 0.2),
)
_MIXED_EXEMPTIONS = (
    ("mountainous_ethnic_minority", 0.3),
    ("divided_terrain", 0.3),
    ("clearance_resettlement", 0.3),
    ("border_island", 0.1),
)

REGION_PROFILES: dict[str, RegionProfile] = {
    "northern_midlands_mountains": RegionProfile(
        82, 0.48, 1.6, 4.0, (60, 150), 0.8, 3.0, 0.6, _MOUNTAIN_EXEMPTIONS
    ),
    "red_river_delta": RegionProfile(
        320, 0.45, 1.3, 3.4, (20, 40), 0.7, 2.5, 0.8, _LOWLAND_EXEMPTIONS
    ),
    "ha_noi_hcm": RegionProfile(380, 0.5, 1.4, 3.3, (10, 40), 0.65, 8.0, 0.5, _LOWLAND_EXEMPTIONS),
    "north_central": RegionProfile(220, 0.5, 1.4, 3.7, (40, 90), 0.75, 3.0, 0.7, _MIXED_EXEMPTIONS),
    "south_central_coast_highlands": RegionProfile(
        180, 0.5, 1.5, 3.8, (50, 120), 0.75, 3.0, 0.7, _MIXED_EXEMPTIONS
    ),
    "south_east": RegionProfile(300, 0.5, 1.4, 3.5, (30, 70), 0.7, 3.0, 0.7, _LOWLAND_EXEMPTIONS),
    "mekong_delta": RegionProfile(280, 0.45, 1.3, 3.6, (30, 70), 0.7, 2.5, 0.8, _MIXED_EXEMPTIONS),
}


@dataclass(frozen=True)
class SynthesisSummary:
    """What ``synthesise_province`` wrote, and how long each phase took (seconds)."""

    out_dir: Path
    province_code: str
    communes: int
    hamlets: int
    households: int
    persons: int
    planted_errors: int
    files: tuple[Path, ...]
    file_mess: int = 0
    timings: Mapping[str, float] = field(default_factory=dict, compare=False, hash=False)


class _Clock:
    """Phase timings and progress messages (``progress`` may be None)."""

    def __init__(self, progress: Callable[[str], None] | None) -> None:
        self.progress = progress
        self.timings: dict[str, float] = {}

    def say(self, message: str) -> None:
        if self.progress is not None:
            self.progress(message)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - start


def synthesise_province(
    out_dir: Path,
    *,
    seed: int = 0,
    households: int = 3000,
    communes_path: Path | None = None,
    province_code: str | None = None,
    n_communes: int = 6,
    error_rate: float = 0.0,
    error_rates: Mapping[str, float] | None = None,
    geometry_errors: bool | float = True,
    file_mess: bool = False,
    progress: Callable[[str], None] | None = None,
    chunk_households: int | None = None,
) -> SynthesisSummary:
    """Write a synthetic province's landing folder (and its ground truth) into ``out_dir``.

    ``communes_path`` (e.g. ``shared/realdata/communes_04_cao_bang.geojson``) supplies
    real commune polygons; without it ``n_communes`` communes are generated where the
    province roughly lies.

    Planted errors, listed in ``ground_truth/planted_errors.csv`` (file, row, field,
    error_type): ``error_rate`` is the share of units given an error, split over the
    error types of each unit (person rows, household rows, hamlets; see
    ``synthetic.errors.ERROR_TYPES``), at least one of each type when positive.
    ``error_rates`` sets the rate of single types (e.g. ``{"sex_missing": 0.02}``; 0
    turns a type off). ``geometry_errors`` False leaves the boundaries clean; a float
    sets the share of hamlets given a geometry error.

    ``file_mess`` makes the files harder to read, as real ones are: one CSV in
    Windows-1258, NFD-decomposed names, headers without diacritics (listed in
    ``ground_truth/file_mess.csv``). Off by default: the files are UTF-8 (with BOM) with
    the exact headers.

    ``progress`` receives short messages ("communes 12/56", "persons 1,198,004") on the
    way; the summary's ``timings`` give seconds per phase.

    ``chunk_households`` streams persons in chunks of whole communes of about that many
    households, so a province of TP. Hồ Chí Minh's size (~14 M persons) fits in memory;
    unset, provinces above ``CHUNK_THRESHOLD_HOUSEHOLDS`` are streamed in chunks of
    ``DEFAULT_CHUNK_HOUSEHOLDS`` and smaller ones are built whole (so their bytes stay as
    they were). See ``_stream_persons`` for what chunking changes.
    """
    out_dir = Path(out_dir)
    clock = _Clock(progress)
    if households < 1:
        raise ValueError(f"households must be positive, got {households}")
    if not 0.0 <= error_rate <= MAX_ERROR_RATE:
        raise ValueError(f"error_rate must be within [0, {MAX_ERROR_RATE}], got {error_rate}")
    chunk = _chunk_size(households, chunk_households)
    if chunk is not None and file_mess:
        raise ValueError(
            "file_mess needs the whole province's persons at once: "
            "it cannot be combined with chunked generation (chunk_households)"
        )
    rules = _load_rules()
    rngs = {
        name: np.random.default_rng(s)
        for name, s in zip(_STREAMS, np.random.SeedSequence(seed).spawn(len(_STREAMS)), strict=True)
    }

    with clock.phase("communes"):
        if communes_path is not None:
            communes = _read_communes(Path(communes_path), province_code)
            province_code = str(communes["province_code"].iloc[0])
        else:
            province_code = province_code or "04"
        region = _region_of(province_code, rules)
        profile = REGION_PROFILES[region]
        if communes_path is None:
            if n_communes < 1:
                raise ValueError(f"n_communes must be positive, got {n_communes}")
            communes = _generate_communes(
                province_code, n_communes, profile, region, rngs["communes"]
            )
        if households < len(communes):
            raise ValueError(f"need at least one household per commune ({len(communes)})")

    with clock.phase("hamlets"):
        hamlets = _build_hamlets(communes, households, profile, region, rngs["hamlets"], clock)
        clock.say(f"hamlets {len(hamlets):,}")
    with clock.phase("households"):
        hh = _place_households(hamlets, rngs["households"])
        clock.say(f"households {len(hh):,}")
    person_units = {errors.HOUSEHOLD: len(hh), errors.HAMLET: len(hamlets)}
    streamed: _StreamedPersons | None = None
    with clock.phase("persons"):
        if chunk is None:
            persons = _make_persons(hh, hamlets, communes, province_code, region, rngs["persons"])
            n_persons = len(persons)
            population = _population(hamlets, hh, persons)
        else:
            out_dir.mkdir(parents=True, exist_ok=True)
            streamed = _stream_persons(
                out_dir / PERSONS_FILE,
                hh,
                hamlets,
                communes,
                province_code,
                region,
                chunk,
                lambda n: errors.error_counts(
                    {errors.PERSON: n, **person_units}, error_rate, error_rates, geometry_errors
                ),
                rngs["persons"],
                rngs["person_errors"],
                clock,
            )
            n_persons, population = streamed.persons, streamed.population
        clock.say(f"persons {n_persons:,}")
    with clock.phase("registry"):
        truth = _hamlet_truth(hamlets, hh, population)
        registry = _make_registry(hamlets, communes, truth, profile, rules, rngs["registry"])

    with clock.phase("errors"):
        counts = errors.error_counts(
            {errors.PERSON: n_persons, **person_units}, error_rate, error_rates, geometry_errors
        )
        boundaries, geometry_truth, crossing = errors.plant_geometry_errors(
            hamlets,
            hh["Kinh độ"].to_numpy(),
            hh["Vĩ độ"].to_numpy(),
            hh["_hamlet"].to_numpy(),
            counts,
            rngs["geometry_errors"],
        )
        hh_out, household_truth = errors.plant_household_errors(
            hh, boundaries, counts, rngs["household_errors"], crossing
        )
        if streamed is None:
            persons_out, person_truth, _ = errors.plant_person_errors(
                persons, counts, rngs["person_errors"]
            )
        else:
            person_truth = streamed.truth
        registry_out, registry_truth = errors.plant_registry_errors(
            registry, counts, rngs["registry_errors"]
        )
        planted = errors.sort_truth([person_truth, household_truth, registry_truth, geometry_truth])
        clock.say(f"planted errors {len(planted):,}")

    with clock.phase("file_mess"):
        hh_text = pd.DataFrame(
            {
                "Mã hộ": hh_out["Mã hộ"].to_numpy(),
                "Mã thôn/TDP": hh_out["Mã thôn/TDP"].to_numpy(),
                "Kinh độ": format_coordinates(hh_out["Kinh độ"].to_numpy()).astype(object),
                "Vĩ độ": format_coordinates(hh_out["Vĩ độ"].to_numpy()).astype(object),
            }
        )
        if streamed is None:
            persons_text = persons_out[list(PERSON_HEADERS)]
            person_commune = hamlets["commune_code"].to_numpy()[
                hh["_hamlet"].to_numpy()[persons["_household"].to_numpy()]
            ]
        else:  # already written; file_mess is refused with chunks
            persons_text = pd.DataFrame(columns=list(PERSON_HEADERS))
            person_commune = np.array([], dtype=object)
        layout = _file_layout(
            file_mess, persons_text, person_commune, registry_out, communes, rngs["file_mess"]
        )

    with clock.phase("write"):
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / TRUTH_DIR).mkdir(exist_ok=True)
        files = []
        for name, write in (
            (COMMUNES_FILE, lambda p: write_communes(communes, p)),
            (HAMLETS_FILE, lambda p: write_hamlet_boundaries(boundaries, p)),
            (
                REGISTRY_FILE,
                lambda p: write_registry(layout.registry, p, layout.headers[REGISTRY_FILE]),
            ),
            (
                HOUSEHOLDS_FILE,
                lambda p: write_landing_csv(
                    hh_text,
                    p,
                    encoding=layout.encodings[HOUSEHOLDS_FILE],
                    headers=layout.headers[HOUSEHOLDS_FILE],
                ),
            ),
            (
                PERSONS_FILE,
                lambda p: write_landing_csv(
                    layout.persons,
                    p,
                    encoding=layout.encodings[PERSONS_FILE],
                    headers=layout.headers[PERSONS_FILE],
                ),
            ),
        ):
            if name == PERSONS_FILE and streamed is not None:
                files.append(out_dir / name)  # written chunk by chunk
                continue
            clock.say(f"writing {name}")
            files.append(write(out_dir / name))
        truth_dir = out_dir / TRUTH_DIR
        files += [
            write_truth_csv(planted, truth_dir / ERRORS_FILE),
            write_truth_csv(truth, truth_dir / HAMLET_TRUTH_FILE),
            write_truth_csv(layout.mess, truth_dir / FILE_MESS_FILE),
        ]
    clock.say(f"done: {out_dir}")
    return SynthesisSummary(
        out_dir=out_dir,
        province_code=province_code,
        communes=len(communes),
        hamlets=len(hamlets),
        households=len(hh),
        persons=n_persons,
        planted_errors=len(planted),
        files=tuple(files),
        file_mess=int((layout.mess["kind"] != "utf8_bom").sum()),
        timings=dict(clock.timings),
    )


# --- persons in chunks -----------------------------------------------------------------


def _chunk_size(households: int, chunk_households: int | None) -> int | None:
    """Households per chunk, or None to build the persons whole."""
    if chunk_households is None:
        return DEFAULT_CHUNK_HOUSEHOLDS if households > CHUNK_THRESHOLD_HOUSEHOLDS else None
    if chunk_households < 1:
        raise ValueError(f"chunk_households must be positive, got {chunk_households}")
    return chunk_households


def _chunk_bounds(hamlets: gpd.GeoDataFrame, hh: pd.DataFrame, chunk: int) -> list[int]:
    """Household row bounds of chunks of whole communes, each of about ``chunk`` households.

    Households come grouped by hamlet and hamlets by commune, so a commune's households
    are one contiguous range.
    """
    commune_of_hamlet = pd.factorize(hamlets["commune_code"])[0]
    per_commune = np.bincount(commune_of_hamlet[hh["_hamlet"].to_numpy()])
    bounds = [0]
    for end in np.cumsum(per_commune):
        if end - bounds[-1] >= chunk:
            bounds.append(int(end))
    if bounds[-1] != len(hh):
        bounds.append(len(hh))
    return bounds


@dataclass
class _StreamedPersons:
    """What ``_stream_persons`` wrote: persons, residents per hamlet, planted errors."""

    persons: int
    population: np.ndarray
    truth: pd.DataFrame


def _stream_persons(
    path: Path,
    hh: pd.DataFrame,
    hamlets: gpd.GeoDataFrame,
    communes: gpd.GeoDataFrame,
    province_code: str,
    region: str,
    chunk: int,
    counts_for: Callable[[int], dict[str, int]],
    rng: np.random.Generator,
    error_rng: np.random.Generator,
    clock: _Clock,
) -> _StreamedPersons:
    """Make, corrupt and append persons chunk by chunk, holding one chunk at a time.

    Household sizes are drawn for the whole province first (the draw the unchunked
    generator makes), so households, persons and hamlet truth equal the unchunked run's;
    the members themselves are drawn per chunk, so their values differ from it.
    Citizen IDs stay unique across chunks: every ID issued (planted ones included) is
    kept in a sorted array and never drawn again. Planted person errors per type are
    split over chunks by cumulative rounding (``counts_for`` at the running person
    count), so their totals equal the unchunked run's; planted duplicates copy a person
    of the same chunk only, never across chunks. Ground-truth rows are the file's rows.
    """
    sizes = _household_sizes(len(hh), region, rng)
    bounds = _chunk_bounds(hamlets, hh, chunk)
    issued = np.array([], dtype=np.int64)
    population = np.zeros(len(hamlets), dtype=np.int64)
    truths: list[pd.DataFrame] = []
    done = 0
    before = {k: 0 for k in ERROR_TYPE_NAMES}
    for i, (start, stop) in enumerate(itertools.pairwise(bounds)):
        part = hh.iloc[start:stop].reset_index(drop=True)
        persons = _make_persons(
            part, hamlets, communes, province_code, region, rng, sizes[start:stop], issued
        )
        population += _population(hamlets, part, persons)
        after = counts_for(done + len(persons))
        counts = {k: after[k] - before[k] for k in ERROR_TYPE_NAMES}
        before = after
        issued = _merge_sorted(issued, persons["_citizen_number"].to_numpy())
        persons_out, truth, _ = errors.plant_person_errors(
            persons, counts, error_rng, taken_ids=issued
        )
        rewritten = truth.loc[truth["error_type"].isin(_REWRITTEN_IDS), "row"].to_numpy() - 1
        issued = _merge_sorted(issued, _id_numbers(persons_out["Số ĐDCN"].to_numpy()[rewritten]))
        truth["row"] += done
        truths.append(truth)
        text = persons_out[list(PERSON_HEADERS)]
        if i == 0:
            write_landing_csv(text, path)
        else:
            append_landing_csv(text, path)
        done += len(persons)
        clock.say(f"persons {done:,} (chunk {i + 1}/{len(bounds) - 1})")
        del part, persons, persons_out, text
    return _StreamedPersons(done, population, errors.sort_truth(truths))


# Planted errors that give a person a new well-formed ID (kept out of later draws).
_REWRITTEN_IDS = (
    "citizen_id_bad_century_digit",
    "citizen_id_sex_mismatch",
    "citizen_id_year_mismatch",
)


def _id_numbers(ids: np.ndarray) -> np.ndarray:
    """The well-formed 12-digit IDs among ``ids`` (text), as int64."""
    text = ids.astype(str)
    ok = (np.strings.str_len(text) == 12) & np.strings.isdigit(text)
    return text[ok].astype(np.int64)


def _merge_sorted(issued: np.ndarray, new: np.ndarray) -> np.ndarray:
    """Sorted unique ``issued`` with ``new`` added: a linear merge, not a re-sort."""
    new = np.sort(new)
    new = new[np.r_[True, new[1:] != new[:-1]]] if len(new) else new
    at = np.searchsorted(issued, new)
    present = issued[np.minimum(at, max(len(issued) - 1, 0))] == new if len(issued) else at < 0
    return np.insert(issued, at[~present], new[~present])


# --- file layout and mess --------------------------------------------------------------


_DEFAULT_HEADERS: dict[str, tuple[str, ...]] = {
    HOUSEHOLDS_FILE: HOUSEHOLD_HEADERS,
    PERSONS_FILE: PERSON_HEADERS,
    REGISTRY_FILE: REGISTRY_HEADERS,
}


@dataclass
class _Layout:
    """How each landing file is written: encoding, headers, and the (messed) content."""

    encodings: dict[str, str]
    headers: dict[str, tuple[str, ...]]
    persons: pd.DataFrame
    registry: pd.DataFrame
    mess: pd.DataFrame


def _file_layout(
    file_mess: bool,
    persons: pd.DataFrame,
    person_commune: np.ndarray,
    registry: pd.DataFrame,
    communes: gpd.GeoDataFrame,
    rng: np.random.Generator,
) -> _Layout:
    """Encodings, headers and NFD names per file; the mess listed for the ground truth.

    Without ``file_mess``: UTF-8 with BOM and the exact headers. With it: one of the two
    CSVs in Windows-1258; names of some communes NFD-decomposed (in the persons file, or
    in the registry if the persons file is the legacy one); headers without diacritics
    in the other CSV and in the registry.
    """
    encodings = {HOUSEHOLDS_FILE: UTF8_BOM, PERSONS_FILE: UTF8_BOM}
    headers = dict(_DEFAULT_HEADERS)
    rows: list[tuple[str, str, str]] = []
    if file_mess:
        legacy = str(rng.choice([PERSONS_FILE, HOUSEHOLDS_FILE]))
        other = HOUSEHOLDS_FILE if legacy == PERSONS_FILE else PERSONS_FILE
        encodings[legacy] = LEGACY_ENCODING
        rows.append(
            (
                legacy,
                "legacy_encoding",
                f"{LEGACY_ENCODING}, no BOM; tone marks stored as combining characters",
            )
        )
        codes = communes["commune_code"].to_numpy()
        k = max(1, round(NFD_COMMUNE_SHARE * len(codes)))
        nfd_communes = np.sort(rng.choice(codes, k, replace=False))
        listed = ", ".join(nfd_communes)
        if legacy == PERSONS_FILE:
            registry = registry.copy()
            at = np.isin(registry["Mã xã"].to_numpy(), nfd_communes)
            for column in ("Tên xã", "Tên thôn/TDP"):
                registry.loc[at, column] = registry.loc[at, column].str.normalize("NFD")
            rows.append(
                (
                    REGISTRY_FILE,
                    "nfd_names",
                    f"Tên xã and Tên thôn/TDP NFD-decomposed in {int(at.sum())} rows "
                    f"(communes {listed})",
                )
            )
        else:
            persons = persons.copy()
            at = np.isin(person_commune, nfd_communes)
            persons.loc[at, "Họ và tên"] = persons.loc[at, "Họ và tên"].str.normalize("NFD")
            rows.append(
                (
                    PERSONS_FILE,
                    "nfd_names",
                    f"Họ và tên NFD-decomposed in {int(at.sum())} rows (communes {listed})",
                )
            )
        for name in (other, REGISTRY_FILE):
            style = str(rng.choice(HEADER_STYLES))
            new = tuple(header_variant(h, style) for h in headers[name])
            headers[name] = new
            pairs = "; ".join(
                f"{a} -> {b}" for a, b in zip(_DEFAULT_HEADERS[name], new, strict=True)
            )
            rows.append((name, "header_variants", f"without diacritics ({style}): {pairs}"))
    for name, encoding in encodings.items():
        if encoding == UTF8_BOM:
            rows.append((name, "utf8_bom", "UTF-8 with byte-order mark, CRLF line ends"))
    mess = pd.DataFrame(rows, columns=list(FILE_MESS_COLUMNS))
    mess = mess.sort_values(["file", "kind"], kind="stable", ignore_index=True)
    return _Layout(encodings, headers, persons, registry, mess)


# --- configuration ---------------------------------------------------------------------


def _load_rules(path: Path = RULES_PATH) -> dict[str, Any]:
    """The rules file is the single source of regions and exemption labels."""
    if not path.is_file():
        raise FileNotFoundError(f"rules profiles not found at {path}")
    with path.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def _region_of(province_code: str, rules: dict[str, Any]) -> str:
    regions = {str(k): v for k, v in rules["province_regions"].items()}
    if province_code not in regions:
        raise ValueError(
            f"province {province_code!r} has no region in {RULES_PATH.name}; "
            f"known: {', '.join(sorted(regions))}"
        )
    region = regions[province_code]
    if region not in REGION_PROFILES:
        raise ValueError(f"region {region!r} has no synthetic calibration profile")
    return region


# --- communes ------------------------------------------------------------------------


def _read_communes(path: Path, province_code: str | None) -> gpd.GeoDataFrame:
    """Real commune polygons, filtered to one province, areas re-measured in UTM."""
    gdf = gpd.read_file(path)
    gdf = gdf.set_crs(STORAGE_CRS) if gdf.crs is None else gdf.to_crs(STORAGE_CRS)
    missing = [c for c in ("commune_code", "name") if c not in gdf.columns]
    if missing:
        raise ValueError(f"{path}: missing commune properties {missing}")
    gdf["commune_code"] = gdf["commune_code"].astype(str).str.zfill(5)
    if "province_code" not in gdf.columns:
        if province_code is None:
            raise ValueError(f"{path}: no province_code property; pass province_code")
        gdf["province_code"] = province_code
    gdf["province_code"] = gdf["province_code"].astype(str).str.zfill(2)
    if province_code is not None:
        gdf = gdf[gdf["province_code"] == province_code]
        if gdf.empty:
            raise ValueError(f"{path}: no commune of province {province_code!r}")
    elif gdf["province_code"].nunique() > 1:
        codes = ", ".join(sorted(gdf["province_code"].unique()))
        raise ValueError(f"{path} holds several provinces ({codes}); pass province_code")
    if "unit_kind" not in gdf.columns:
        full = gdf.get("full_name", pd.Series("", index=gdf.index)).fillna("")
        gdf["unit_kind"] = np.where(full.str.startswith("Phường"), "phuong", "xa")
    if "full_name" not in gdf.columns:
        prefix = gdf["unit_kind"].map({"phuong": "Phường", "dac_khu": "Đặc khu"}).fillna("Xã")
        gdf["full_name"] = prefix + " " + gdf["name"]
    geoms = gdf.geometry.array
    invalid = ~shapely.is_valid(geoms)
    if invalid.any():
        gdf.loc[invalid, "geometry"] = _polygonal(shapely.make_valid(geoms[invalid]))
    gdf = gdf.sort_values("commune_code", kind="stable").reset_index(drop=True)
    gdf["area_km2"] = area_km2(gdf).round(2)
    return gpd.GeoDataFrame(gdf[[*COMMUNE_COLUMNS, "geometry"]], crs=STORAGE_CRS)


def _generate_communes(
    province_code: str,
    n: int,
    profile: RegionProfile,
    region: str,
    rng: np.random.Generator,
) -> gpd.GeoDataFrame:
    """Tile an irregular province outline, placed where the province is, into communes."""
    info = names.PROVINCES.get(province_code)
    lat0, lon0 = (info.lat, info.lon) if info else (21.0, 105.8)
    lo, hi = profile.commune_area_km2
    radius_km = math.sqrt(n * (lo + hi) / 2 / math.pi)
    # A wobbly ellipse: a few low-frequency harmonics make it look like a border.
    theta = np.linspace(0, 2 * np.pi, 72, endpoint=False)
    wobble = sum(
        rng.uniform(0.03, 0.09) * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
        for k in (2, 3, 5, 7)
    )
    r = radius_km * (1 + wobble)
    x_km, y_km = 1.2 * r * np.cos(theta), r * np.sin(theta) / 1.2
    kx = math.cos(math.radians(lat0))
    outline = shapely.Polygon(
        np.column_stack([lon0 + x_km / (111.32 * kx), lat0 + y_km / 110.574])
    ).normalize()
    cells = _tessellate(outline, n, rng, lloyd_iterations=6)
    cells = _polygonal(shapely.set_precision(np.asarray(cells, dtype=object), 1e-6))
    centroids = shapely.centroid(cells)
    order = np.lexsort((shapely.get_x(centroids), -shapely.get_y(centroids)))
    cells, centroids = cells[order], centroids[order]

    n_phuong = max(1 if n >= 3 else 0, round(0.15 * n))
    dist = shapely.distance(centroids, shapely.Point(lon0, lat0))
    is_phuong = np.zeros(n, dtype=bool)
    is_phuong[np.argsort(dist, kind="stable")[:n_phuong]] = True

    # Phường (towns) carry Sino-Vietnamese names; mountain xã often Tày-Nùng ones.
    sino = _unique_place_names(n, [(names.SINO_FIRST, names.SINO_SECOND, 1.0)], rng)
    commune_names = list(sino)
    if _is_mountain(region):
        tay = _unique_place_names(n, [(names.TAY_FIRST, names.TAY_SECOND, 1.0)], rng)
        use_tay = ~is_phuong & (rng.random(n) < 0.3)
        commune_names = [t if u else s for s, t, u in zip(sino, tay, use_tay, strict=True)]
    gdf = gpd.GeoDataFrame(
        {
            "commune_code": [f"{province_code}{i:03d}" for i in range(1, n + 1)],
            "name": commune_names,
            "full_name": [
                f"{'Phường' if p else 'Xã'} {nm}"
                for p, nm in zip(is_phuong, commune_names, strict=True)
            ],
            "unit_kind": np.where(is_phuong, "phuong", "xa"),
            "province_code": province_code,
        },
        geometry=list(cells),
        crs=STORAGE_CRS,
    )
    gdf["area_km2"] = area_km2(gdf).round(2)
    return gpd.GeoDataFrame(gdf[[*COMMUNE_COLUMNS, "geometry"]], crs=STORAGE_CRS)


def _is_mountain(region: str) -> bool:
    return region == "northern_midlands_mountains"


# --- geometry helpers ------------------------------------------------------------------


def _polygonal(geoms: np.ndarray) -> np.ndarray:
    """Keep only the polygonal parts of each geometry (overlays may add slivers of lines)."""
    out = np.empty(len(geoms), dtype=object)
    for i, g in enumerate(geoms):
        out[i] = _polygonal_one(g)
    return out


def _polygonal_one(geom: shapely.Geometry) -> shapely.Geometry:
    if shapely.get_type_id(geom) in (3, 6):  # Polygon, MultiPolygon
        return geom
    parts = shapely.get_parts(geom)
    polys = parts[np.isin(shapely.get_type_id(parts), (3, 6))]
    return shapely.union_all(polys) if len(polys) else shapely.Polygon()


def _sample_points_in(
    geom: shapely.Geometry, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` uniform points strictly inside one polygon (rejection sampling)."""
    shapely.prepare(geom)
    minx, miny, maxx, maxy = shapely.bounds(geom)
    fill = max(shapely.area(geom) / max((maxx - minx) * (maxy - miny), 1e-18), 1e-3)
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    got = 0
    for _ in range(10_000):
        m = int(min(max((n - got) / fill * 1.3, 64), 1_000_000))
        x = rng.uniform(minx, maxx, m)
        y = rng.uniform(miny, maxy, m)
        ok = shapely.contains_xy(geom, x, y)
        xs.append(x[ok])
        ys.append(y[ok])
        got += int(ok.sum())
        if got >= n:
            return np.concatenate(xs)[:n], np.concatenate(ys)[:n]
    raise RuntimeError("could not sample points inside a polygon (degenerate geometry?)")


def _voronoi_cells(x: np.ndarray, y: np.ndarray, clip: shapely.Geometry, kx: float) -> np.ndarray:
    """Voronoi cells of the points (in input order) clipped to ``clip``.

    Longitudes are scaled by cos(latitude) first so cells are isotropic on the ground.
    """
    pts = shapely.multipoints(np.column_stack([x * kx, y]))
    minx, miny, maxx, maxy = shapely.bounds(clip)
    pad = max(maxx - minx, maxy - miny)
    frame = shapely.box(minx * kx - pad, miny - pad, maxx * kx + pad, maxy + pad)
    cells = shapely.get_parts(shapely.voronoi_polygons(pts, extend_to=frame, ordered=True))
    cells = shapely.transform(cells, lambda c: c * np.array([1.0 / kx, 1.0]))
    return _polygonal(shapely.intersection(cells, clip))


def _tessellate(
    geom: shapely.Geometry, n: int, rng: np.random.Generator, lloyd_iterations: int = 1
) -> list[shapely.Geometry]:
    """Split a (multi)polygon into ``n`` non-empty cells with no gaps and no overlaps.

    Voronoi cells of random seeds, relaxed by Lloyd iterations so sizes are less
    extreme, clipped to the polygon. A cell cut into several pieces by a concave
    boundary keeps the piece holding its seed; other pieces join the neighbouring cell
    they share the longest border with (or stay, if they touch no other cell).
    """
    if n == 1:
        return [geom]
    kx = math.cos(math.radians(shapely.get_y(shapely.centroid(geom))))
    shapely.prepare(geom)
    x, y = _sample_points_in(geom, n, rng)
    for _ in range(lloyd_iterations):
        cells = _voronoi_cells(x, y, geom, kx)
        centres = shapely.centroid(cells)
        cx, cy = shapely.get_x(centres), shapely.get_y(centres)
        outside = ~shapely.contains_xy(geom, cx, cy)
        if outside.any():
            inner = shapely.point_on_surface(cells[outside])
            cx[outside], cy[outside] = shapely.get_x(inner), shapely.get_y(inner)
        x, y = cx, cy
    cells = _voronoi_cells(x, y, geom, kx)

    mains = np.empty(n, dtype=object)
    fragments: list[tuple[int, shapely.Geometry]] = []
    for i, cell in enumerate(cells):
        parts = shapely.get_parts(cell)
        if len(parts) == 0:
            raise RuntimeError("empty Voronoi cell inside its polygon")
        if len(parts) == 1:
            mains[i] = parts[0]
            continue
        holds = shapely.intersects_xy(parts, x[i], y[i])
        keep = int(np.argmax(holds)) if holds.any() else int(np.argmax(shapely.area(parts)))
        mains[i] = parts[keep]
        fragments.extend((i, p) for j, p in enumerate(parts) if j != keep)
    pieces: list[list[shapely.Geometry]] = [[m] for m in mains]
    for owner, frag in fragments:
        shared = shapely.length(shapely.intersection(shapely.boundary(frag), mains))
        shared[owner] = 0.0
        target = int(np.argmax(shared)) if shared.max() > 0 else owner
        pieces[target].append(frag)
    out = []
    for parts in pieces:
        merged = parts[0] if len(parts) == 1 else _polygonal_one(shapely.union_all(parts))
        out.append(merged)
    return out


# --- hamlets -------------------------------------------------------------------------


def _apportion(total: int, weights: np.ndarray, minimum: int = 1) -> np.ndarray:
    """Split an integer total by weights, each share >= minimum (largest remainder)."""
    n = len(weights)
    spare = total - minimum * n
    if spare < 0:
        raise ValueError(f"cannot give {n} parts at least {minimum} of {total}")
    raw = spare * weights / weights.sum()
    base = np.floor(raw).astype(np.int64)
    rest = spare - int(base.sum())
    if rest:
        base[np.argsort(-(raw - base), kind="stable")[:rest]] += 1
    return base + minimum


def _unique_place_names(
    n: int,
    pools: Sequence[tuple[tuple[str, ...], tuple[str, ...], float]],
    rng: np.random.Generator,
    singles: tuple[str, ...] = (),
    singles_weight: float = 0.0,
) -> list[str]:
    """``n`` distinct two-syllable place names drawn from weighted syllable pools."""
    weights: dict[str, float] = {}
    for first, second, share in pools:
        combos = [f"{a} {b}" for a in first for b in second if a != b]
        for name in combos:
            weights[name] = weights.get(name, 0.0) + share / len(combos)
    for name in singles:
        weights[name] = weights.get(name, 0.0) + singles_weight / len(singles)
    cand = np.array(list(weights), dtype=object)
    p = _norm(list(weights.values()))
    if n <= len(cand):
        return list(rng.choice(cand, size=n, replace=False, p=p))
    base = list(rng.permutation(cand))
    return base + [f"{base[i % len(base)]} {i // len(base) + 1}" for i in range(len(base), n)]


def _build_hamlets(
    communes: gpd.GeoDataFrame,
    total_households: int,
    profile: RegionProfile,
    region: str,
    rng: np.random.Generator,
    clock: _Clock | None = None,
) -> gpd.GeoDataFrame:
    """Hamlets per commune: count from the commune's households, sizes, shapes, names."""
    is_phuong = communes["unit_kind"].to_numpy() == "phuong"
    weight = (
        communes["area_km2"].to_numpy().clip(min=0.5) ** profile.area_exponent
        * rng.lognormal(0.0, 0.35, len(communes))
        * np.where(is_phuong, profile.phuong_density, 1.0)
    )
    commune_households = _apportion(total_households, weight, minimum=1)
    sigma = profile.hamlet_sigma
    pools, singles, singles_weight = _thon_name_pools(region)
    tdp_styles = (
        names.TDP_STYLES_SOUTH if region in names.SOUTHERN_REGIONS else names.TDP_STYLES_NORTH
    )
    prefixes, prefix_w = zip(*names.THON_PREFIXES[region], strict=True)

    frames = []
    n_c = len(communes)
    report_every = max(1, n_c // 20)
    for c, row in enumerate(communes.itertuples(index=False)):
        if clock is not None and ((c + 1) % report_every == 0 or c + 1 == n_c):
            clock.say(f"communes {c + 1}/{n_c}")
        median = profile.hamlet_median * (profile.tdp_factor if is_phuong[c] else 1.0)
        mean = median * math.exp(sigma**2 / 2)
        h_c = int(commune_households[c])
        n_h = max(1, round(h_c / mean))
        if n_h > 999:
            raise ValueError(
                f"commune {row.commune_code} would need {n_h} hamlets (codes allow 999); "
                "use fewer households or more communes"
            )
        sizes = rng.lognormal(math.log(median), sigma, n_h).clip(0.12 * median, 8 * median)
        geoms = _tessellate(row.geometry, n_h, rng)
        cent = shapely.centroid(np.asarray(geoms, dtype=object))
        order = np.lexsort((shapely.get_x(cent), -shapely.get_y(cent)))  # north to south
        if is_phuong[c]:
            style = tdp_styles[rng.choice(len(tdp_styles), p=_norm([w for _, w in tdp_styles]))]
            full = [style[0].format(n=i) for i in range(1, n_h + 1)]
            kind = "Tổ dân phố"
        else:
            proper = _unique_place_names(n_h, pools, rng, singles, singles_weight)
            pre = rng.choice(np.array(prefixes, dtype=object), n_h, p=_norm(prefix_w))
            full = [f"{p} {nm}" for p, nm in zip(pre, proper, strict=True)]
            kind = "Thôn"
        frames.append(
            pd.DataFrame(
                {
                    "hamlet_code": [f"{row.commune_code}{i:03d}" for i in range(1, n_h + 1)],
                    "commune_code": row.commune_code,
                    "hamlet_name": full,
                    "kind": kind,
                    "households": _apportion(h_c, sizes, minimum=1),
                    "geometry": [geoms[j] for j in order],
                }
            )
        )
    hamlets = pd.concat(frames, ignore_index=True)
    return gpd.GeoDataFrame(hamlets, geometry="geometry", crs=STORAGE_CRS)


def _thon_name_pools(
    region: str,
) -> tuple[list[tuple[tuple[str, ...], tuple[str, ...], float]], tuple[str, ...], float]:
    """Syllable pools for thôn names: Tày-Nùng in the mountains, Sino-Vietnamese elsewhere."""
    if _is_mountain(region):
        pools = [
            (names.TAY_FIRST, names.TAY_SECOND, 0.75),
            (names.SINO_FIRST, names.SINO_SECOND, 0.2),
        ]
        return pools, names.LOWLAND_SINGLE, 0.05
    return [(names.SINO_FIRST, names.SINO_SECOND, 0.8)], names.LOWLAND_SINGLE, 0.2


def _norm(weights: Sequence[float]) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    return w / w.sum()


# --- households ------------------------------------------------------------------------


def _place_households(hamlets: gpd.GeoDataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Household codes and locations: clustered settlements inside each hamlet.

    Most households sit around 1-4 settlement centres of their hamlet, a quarter are
    scattered; every point (rounded to 6 decimals, as written) lies inside its hamlet.
    """
    geoms = hamlets.geometry.to_numpy()
    shapely.prepare(geoms)
    sizes = hamlets["households"].to_numpy()
    owner = np.repeat(np.arange(len(hamlets)), sizes)
    n = len(owner)
    lat = shapely.get_y(shapely.centroid(geoms))
    kx = np.cos(np.radians(lat))

    n_centres = 1 + np.minimum(rng.poisson(1.0, len(hamlets)), 3)
    centre_owner = np.repeat(np.arange(len(hamlets)), n_centres)
    cx, cy = _sample_inside(geoms, centre_owner, rng)
    first_centre = np.concatenate([[0], np.cumsum(n_centres)[:-1]])
    centre = first_centre[owner] + np.floor(rng.random(n) * n_centres[owner]).astype(np.int64)
    # Spread of a settlement: a fifth of the hamlet's width, in degrees of latitude.
    spread = np.sqrt(shapely.area(geoms) * kx) / 5
    scattered = rng.random(n) < 0.25

    x = np.empty(n)
    y = np.empty(n)
    pending = np.flatnonzero(~scattered)
    for _ in range(30):
        if not len(pending):
            break
        h = owner[pending]
        px = np.round(cx[centre[pending]] + rng.normal(0, 1, len(pending)) * spread[h] / kx[h], 6)
        py = np.round(cy[centre[pending]] + rng.normal(0, 1, len(pending)) * spread[h], 6)
        ok = shapely.contains_xy(geoms[h], px, py)
        x[pending[ok]], y[pending[ok]] = px[ok], py[ok]
        pending = pending[~ok]
    rest = np.union1d(np.flatnonzero(scattered), pending)
    x[rest], y[rest] = _sample_inside(geoms, owner[rest], rng)

    seq = np.arange(n) - np.repeat(np.cumsum(sizes) - sizes, sizes) + 1
    codes = hamlets["hamlet_code"].to_numpy().astype(str)[owner]
    household_id = np.strings.add(np.strings.add(codes, "-"), np.strings.zfill(seq.astype(str), 4))
    return pd.DataFrame(
        {
            "Mã hộ": household_id.astype(object),
            "Mã thôn/TDP": codes.astype(object),
            "Kinh độ": x,
            "Vĩ độ": y,
            "_hamlet": owner,
        }
    )


def _sample_inside(
    geoms: np.ndarray, owner: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """One uniform point (rounded to 6 decimals) inside ``geoms[owner[i]]`` for every i."""
    bounds = shapely.bounds(geoms)
    x = np.empty(len(owner))
    y = np.empty(len(owner))
    pending = np.arange(len(owner))
    for _ in range(5_000):
        if not len(pending):
            return x, y
        b = bounds[owner[pending]]
        px = np.round(rng.uniform(b[:, 0], b[:, 2]), 6)
        py = np.round(rng.uniform(b[:, 1], b[:, 3]), 6)
        ok = shapely.contains_xy(geoms[owner[pending]], px, py)
        x[pending[ok]], y[pending[ok]] = px[ok], py[ok]
        pending = pending[~ok]
    raise RuntimeError(f"could not place {len(pending)} points inside their hamlet")


# --- persons -------------------------------------------------------------------------


def _make_persons(
    hh: pd.DataFrame,
    hamlets: gpd.GeoDataFrame,
    communes: gpd.GeoDataFrame,
    province_code: str,
    region: str,
    rng: np.random.Generator,
    size: np.ndarray | None = None,
    taken_ids: np.ndarray | None = None,
) -> pd.DataFrame:
    """Household members with ages, sexes, names, ethnicity and citizen IDs.

    ``size`` (members per household) is drawn here unless given (``_household_sizes``);
    ``taken_ids`` (sorted int64) are citizen IDs already issued, never drawn again.
    """
    profile = REGION_PROFILES[region]
    n_h = len(hh)
    if size is None:
        size = _household_sizes(n_h, region, rng)
    hh_of = np.repeat(np.arange(n_h), size)
    n = len(hh_of)
    pos = np.arange(n) - np.repeat(np.cumsum(size) - size, size)

    # Head and spouse.
    head_age = np.clip(rng.normal(48, 14, n_h), 20, 85) + rng.random(n_h)
    head_age = np.minimum(head_age, 85.99)
    head_male = rng.random(n_h) < profile.male_head_share
    has_spouse = (size >= 2) & (rng.random(n_h) < 0.85)
    ha = head_age[hh_of]
    role = np.full(n, _ROLE_CHILD)
    role[pos == 0] = _ROLE_HEAD
    role[(pos == 1) & has_spouse[hh_of]] = _ROLE_SPOUSE
    other = role == _ROLE_CHILD
    u = rng.random(n)
    young, old = ha < 45, ha >= 60
    role[other & young & (u >= 0.85) & (u < 0.95)] = _ROLE_PARENT
    role[other & young & (u >= 0.95)] = _ROLE_SIBLING
    role[other & ~young & ~old & (u >= 0.80) & (u < 0.95)] = _ROLE_GRANDCHILD
    role[other & ~young & ~old & (u >= 0.95)] = _ROLE_SIBLING
    role[other & old & (u >= 0.55)] = _ROLE_GRANDCHILD
    role[(role == _ROLE_GRANDCHILD) & (ha < 40)] = _ROLE_CHILD

    male = rng.random(n) < 0.5
    male[role == _ROLE_HEAD] = head_male
    male[role == _ROLE_SPOUSE] = ~head_male[hh_of[role == _ROLE_SPOUSE]]

    # Ages relative to the head (years; positive = younger than the head).
    age = ha.copy()
    gap = rng.integers(-3, 9, n) + rng.random(n)
    spouse = role == _ROLE_SPOUSE
    age[spouse] = np.clip(ha[spouse] - np.where(male[spouse], -gap[spouse], gap[spouse]), 18, 95)
    v = rng.random(n)
    child = role == _ROLE_CHILD
    age[child] = ha[child] - (18 + v[child] * (np.minimum(40, ha[child]) - 18))
    grand = role == _ROLE_GRANDCHILD
    age[grand] = ha[grand] - (38 + v[grand] * (np.minimum(70, ha[grand]) - 38))
    parent = role == _ROLE_PARENT
    age[parent] = ha[parent] + 18 + v[parent] * (np.minimum(40, 99 - ha[parent]) - 18)
    sib = role == _ROLE_SIBLING
    older_sib = rng.random(n) < 0.5
    sib_gap = 1 + v * 11
    age[sib] = np.clip(ha[sib] + np.where(older_sib[sib], sib_gap[sib], -sib_gap[sib]), 0.1, 99)
    birth = AS_OF - np.floor(age * 365.2425).astype("timedelta64[D]")

    relation = np.full(n, "Con", dtype=object)
    relation[role == _ROLE_HEAD] = HEAD
    relation[spouse] = np.where(male[spouse], "Chồng", "Vợ")
    relation[grand] = "Cháu"
    relation[parent] = np.where(male[parent], "Bố", "Mẹ")
    sib_label = np.where(older_sib, np.where(male, "Anh", "Chị"), "Em")
    relation[sib] = sib_label[sib]

    # Household book order: head, spouse, parents, siblings, children, grandchildren;
    # oldest first within each role.
    order = np.lexsort((-age, role, hh_of))
    hh_of, role, male, age, birth, relation = (
        a[order] for a in (hh_of, role, male, age, birth, relation)
    )

    groups, group = _ethnicities(hh, hamlets, hh_of, role, province_code, region, rng)
    full_name = _full_names(hh_of, role, male, birth, groups, group, head_male, region, rng)
    commune_of_hh = hamlets["commune_code"].to_numpy()[hh["_hamlet"].to_numpy()]
    citizen_id = _citizen_ids(
        commune_of_hh[hh_of], communes, province_code, male, birth, rng, taken_ids
    )
    return pd.DataFrame(
        {
            "Số ĐDCN": np.strings.zfill(citizen_id.astype(str), 12).astype(object),
            "Họ và tên": full_name.astype(object),
            "Ngày sinh": format_dates(birth).astype(object),
            "Giới tính": np.where(male, "Nam", "Nữ").astype(object),
            "Mã hộ": hh["Mã hộ"].to_numpy()[hh_of],
            "Quan hệ với chủ hộ": relation,
            "Dân tộc": groups[group],
            "_household": hh_of,
            "_birth": birth,
            "_male": male,
            "_citizen_number": citizen_id,
        }
    )


def _household_sizes(n_households: int, region: str, rng: np.random.Generator) -> np.ndarray:
    """Members per household: the head plus a Poisson count, at most 12 in all."""
    mean = REGION_PROFILES[region].household_size_mean
    return 1 + np.minimum(rng.poisson(mean - 1, n_households), 11)


def _ethnicities(
    hh: pd.DataFrame,
    hamlets: gpd.GeoDataFrame,
    hh_of: np.ndarray,
    role: np.ndarray,
    province_code: str,
    region: str,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Ethnic group per person: hamlets cluster (Dirichlet mixes), spouses sometimes differ.

    Returns the group names and each person's index into them.
    """
    key = "tay_nung_border" if province_code in names.TAY_NUNG_BORDER_PROVINCES else region
    mix = names.ETHNIC_MIX[key]
    groups = np.array(list(mix), dtype=object)
    base = _norm(list(mix.values()))
    commune_idx = pd.factorize(hamlets["commune_code"])[0]
    commune_mix = rng.dirichlet(np.maximum(20 * base, 1e-3), commune_idx.max() + 1)
    hamlet_mix = np.vstack(
        [rng.dirichlet(np.maximum(8 * commune_mix[c], 1e-3)) for c in commune_idx]
    )
    hamlet_mix = np.where(np.isfinite(hamlet_mix).all(axis=1, keepdims=True), hamlet_mix, base)
    cum = np.cumsum(hamlet_mix, axis=1)
    cum[:, -1] = 1.0
    h = hh["_hamlet"].to_numpy()
    u = rng.random(len(hh))
    hh_group = (u[:, None] > cum[h]).sum(axis=1)
    group = hh_group[hh_of]
    spouse_other = (role == _ROLE_SPOUSE) & (rng.random(len(hh_of)) < 0.1)
    group[spouse_other] = rng.choice(len(groups), int(spouse_other.sum()), p=base)
    return groups, group


def _full_names(
    hh_of: np.ndarray,
    role: np.ndarray,
    male: np.ndarray,
    birth: np.ndarray,
    groups: np.ndarray,
    group: np.ndarray,
    head_male: np.ndarray,
    region: str,
    rng: np.random.Generator,
) -> np.ndarray:
    """Family, middle and given names by ethnic naming style; children take the lineage.

    Names are drawn as word codes; the strings are built once per distinct full name.
    """
    styles = (
        names.NAME_STYLES_SOUTH if region in names.SOUTHERN_REGIONS else names.NAME_STYLES_NORTH
    )
    n = len(hh_of)
    year = birth.astype("datetime64[Y]").astype(np.int64) + 1970
    cohort = np.digitize(year, [1980, 2000])
    words: tuple[dict[str, int], dict[str, int], dict[str, int]] = ({}, {}, {})

    def codes(vocabulary: dict[str, int], items: Sequence[str]) -> np.ndarray:
        return np.array([vocabulary.setdefault(w, len(vocabulary)) for w in items], np.int64)

    family = np.zeros(n, dtype=np.int64)
    middle = np.zeros(n, dtype=np.int64)
    given = np.zeros(n, dtype=np.int64)
    for g, group_name in enumerate(groups):
        st = styles.get(group_name, styles["Kinh"])  # groups without a list: Kinh names
        idx = np.flatnonzero(group == g)
        fam, fam_w = zip(*st.family, strict=True)
        family[idx] = rng.choice(codes(words[0], fam), len(idx), p=_norm(fam_w))
        for is_male, mids, givens in (
            (True, st.middle_male, st.given_male or names.GIVEN_MALE),
            (False, st.middle_female, st.given_female or names.GIVEN_FEMALE),
        ):
            sub = idx[male[idx] == is_male]
            traditional = rng.random(len(sub)) < np.asarray(st.traditional_share)[cohort[sub]]
            mid_codes = codes(words[1], mids)
            alt = mid_codes[1:] if len(mid_codes) > 1 else mid_codes
            middle[sub] = np.where(traditional, mid_codes[0], rng.choice(alt, len(sub)))
            given_codes = codes(words[2], [w for w, _ in givens])
            weights = np.array([w for _, w in givens], dtype=float)
            for c in range(3):
                in_cohort = sub[cohort[sub] == c]
                given[in_cohort] = rng.choice(given_codes, len(in_cohort), p=_norm(weights[:, c]))
    # Lineage: the head's family name if a man, else the husband's; children, grand-
    # children and a husband carry it; parents and siblings carry the head's own.
    first = np.flatnonzero(np.r_[True, hh_of[1:] != hh_of[:-1]])
    head_family = family[first]
    spouse_rows = np.flatnonzero(role == _ROLE_SPOUSE)
    lineage = head_family.copy()
    husband = spouse_rows[~head_male[hh_of[spouse_rows]]]
    lineage[hh_of[husband]] = family[husband]
    takes_lineage = (role == _ROLE_CHILD) | (role == _ROLE_GRANDCHILD)
    family[takes_lineage] = lineage[hh_of[takes_lineage]]
    takes_head = (role == _ROLE_SIBLING) | ((role == _ROLE_PARENT) & male)
    family[takes_head] = head_family[hh_of[takes_head]]
    # One string per distinct (family, middle, given); the word lists are NFC and joined
    # by spaces, so the names are NFC too.
    k1, k2 = len(words[1]), len(words[2])
    unique, inverse = np.unique((family * k1 + middle) * k2 + given, return_inverse=True)
    vocab = [np.array(list(w), dtype=object) for w in words]
    text = [
        f"{a} {b} {c}"
        for a, b, c in zip(
            vocab[0][unique // (k1 * k2)],
            vocab[1][unique // k2 % k1],
            vocab[2][unique % k2],
            strict=True,
        )
    ]
    return np.array(text, dtype=object)[inverse]


def _citizen_ids(
    person_commune: np.ndarray,
    communes: gpd.GeoDataFrame,
    province_code: str,
    male: np.ndarray,
    birth: np.ndarray,
    rng: np.random.Generator,
    taken: np.ndarray | None = None,
) -> np.ndarray:
    """Unique 12-digit IDs ``PPP G YY NNNNNN`` consistent with sex and birth year, as numbers.

    PPP is "0" + the pre-2025 code of the province of birth registration: mostly the
    former province the commune belonged to (drawn per commune), some from elsewhere.
    ``taken`` (sorted int64): IDs issued to earlier chunks, redrawn like repeats.
    """
    info = names.PROVINCES.get(province_code)
    own_codes = np.array(info.old_codes if info else (province_code,), dtype=np.int64)
    commune_codes = communes["commune_code"].to_numpy()
    commune_old = rng.choice(own_codes, len(commune_codes))
    old_of_commune = pd.Series(commune_old, index=commune_codes)
    n = len(male)
    ppp = old_of_commune.loc[person_commune].to_numpy()
    elsewhere = rng.random(n) < 0.06
    all_old = np.array(names.OLD_PROVINCE_CODES, dtype=np.int64)
    ppp[elsewhere] = rng.choice(all_old, int(elsewhere.sum()))
    year = birth.astype("datetime64[Y]").astype(np.int64) + 1970
    century = (year // 100 - 19) * 2 + (~male).astype(np.int64)
    prefix = ppp * 10**9 + century * 10**8 + (year % 100) * 10**6
    ids = prefix + rng.integers(0, 10**6, n)
    for _ in range(100):
        # Repeats after the first (in input order) are redrawn; a stable sort finds them.
        order = np.argsort(ids, kind="stable")
        sorted_ids = ids[order]
        dup = np.zeros(n, dtype=bool)
        dup[order[1:][sorted_ids[1:] == sorted_ids[:-1]]] = True
        if taken is not None and len(taken):  # searched in sorted order: cache-friendly
            at = np.minimum(np.searchsorted(taken, sorted_ids), len(taken) - 1)
            dup[order[taken[at] == sorted_ids]] = True
        if not dup.any():
            return ids
        ids[dup] = prefix[dup] + rng.integers(0, 10**6, int(dup.sum()))
    raise RuntimeError("could not draw unique citizen IDs")


# --- registry and truth ---------------------------------------------------------------


def _population(hamlets: gpd.GeoDataFrame, hh: pd.DataFrame, persons: pd.DataFrame) -> np.ndarray:
    """Residents per hamlet (in hamlet order) of the persons of ``hh``."""
    return np.bincount(
        hh["_hamlet"].to_numpy()[persons["_household"].to_numpy()], minlength=len(hamlets)
    )


def _hamlet_truth(
    hamlets: gpd.GeoDataFrame, hh: pd.DataFrame, population: np.ndarray
) -> pd.DataFrame:
    """True households and residents per hamlet, counted from the records written."""
    households = np.bincount(hh["_hamlet"].to_numpy(), minlength=len(hamlets))
    return pd.DataFrame(
        {
            "hamlet_code": hamlets["hamlet_code"].to_numpy(),
            "households": households,
            "population": population,
        }
    )


def _make_registry(
    hamlets: gpd.GeoDataFrame,
    communes: gpd.GeoDataFrame,
    truth: pd.DataFrame,
    profile: RegionProfile,
    rules: dict[str, Any],
    rng: np.random.Generator,
) -> pd.DataFrame:
    """The commune offices' list of thôn/TDP with declared figures and exemptions.

    Declared figures equal the records; disagreements are planted errors
    (``registry_households_mismatch``), so that they are in the ground truth.
    """
    labels: dict[str, str] = rules["profiles"][EXEMPTION_PROFILE]["exemption_categories"]
    weights = [(k, w) for k, w in profile.exemption_weights if k in labels] or [
        (k, 1.0) for k in labels
    ]
    cats = np.array([labels[k] for k, _ in weights], dtype=object)
    n = len(hamlets)
    is_thon = hamlets["kind"].to_numpy() == "Thôn"
    exempt = is_thon & (rng.random(n) < 0.03)
    category = np.full(n, None, dtype=object)
    category[exempt] = rng.choice(cats, int(exempt.sum()), p=_norm([w for _, w in weights]))
    name_of = dict(zip(communes["commune_code"], communes["name"], strict=True))
    return pd.DataFrame(
        {
            "Mã xã": hamlets["commune_code"].to_numpy(),
            "Tên xã": hamlets["commune_code"].map(name_of).to_numpy(),
            "Mã thôn/TDP": hamlets["hamlet_code"].to_numpy(),
            "Tên thôn/TDP": hamlets["hamlet_name"].to_numpy(),
            "Loại": hamlets["kind"].to_numpy(),
            "Số hộ": truth["households"].to_numpy(),
            "Số nhân khẩu": truth["population"].to_numpy(),
            "Diện đặc thù": category,
        }
    )
