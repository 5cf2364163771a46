"""Landing-file headers to contract columns, through the data dictionary.

A clerk's spreadsheet says "Số ĐDCN", "CCCD" or "So dinh danh ca nhan"; the contracts in
``expectations.schemas`` list each field's Vietnamese label and aliases, and matching
ignores case, diacritics, punctuation and spacing (a GIS field ``MaThon`` is ``Mã thôn``).
A header is only ever looked up, never used as a name: what no contract names stays data
(``extra_values``), so no file can add a column to a table or put its text into SQL.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from dataclasses import dataclass

import pandas as pd

from expectations.schemas import (
    FIELDS,
    LINEAGE,
    RAW_TRAILER,
    WORKBOOK_LINEAGE,
    Field,
    header_key,
)

DBF_NAME_LIMIT = 10  # Shapefile attribute names are cut to 10 characters
CARRIED = (*RAW_TRAILER, *LINEAGE, "geometry", "source_crs")  # never matched as headers
# What staging carries on from a raw frame besides the contract's columns.
STAGED_CARRY = (*LINEAGE, *WORKBOOK_LINEAGE, "geometry", "source_crs", "read_problem")
KNOWN_HEADERS = frozenset(key for f in FIELDS.values() for key in f.header_keys)
# A running-number column ("Số thứ tự") numbers the rows of a printed list; it is no
# field, so it is ignored rather than reported as an unrecognised header.
IGNORED_HEADERS = frozenset(header_key(h) for h in ("STT", "TT", "Số TT", "Số thứ tự"))


def header_share(cells: list[str]) -> float:
    """Share of a row's non-empty cells that the data dictionary recognises as headers
    (a running-number column counts: it belongs to the header row)."""
    keys = [header_key(c) for c in cells if c.strip()]
    if not keys:
        return 0.0
    return sum(k in KNOWN_HEADERS or k in IGNORED_HEADERS for k in keys) / len(keys)


class LandingFileError(ValueError):
    """A landing file is missing, ambiguous or unreadable; the message names it."""


def header_lookup(fields: list[Field]) -> dict[str, str]:
    """Normalised header → canonical name, for the given fields."""
    lookup: dict[str, str] = {}
    for f in fields:
        for key in f.header_keys:
            lookup.setdefault(key, f.name)
    return lookup


def _may_be_cut(header: str) -> bool:
    """A header a Shapefile may have cut: 10 characters, or 9-10 bytes of UTF-8 when a
    multi-byte letter did not fit (DBF field names are 10 bytes)."""
    size = len(header.encode("utf-8"))
    return len(header) == DBF_NAME_LIMIT or (size != len(header) and size >= DBF_NAME_LIMIT - 1)


def lookup_header(header: str, lookup: dict[str, str]) -> str | None:
    """The column a header names: its key (``header_key``: case, diacritics, punctuation
    and spacing ignored) known exactly, or for a header a Shapefile cut to 10 characters
    the one column whose key it begins; else None (the header stays data)."""
    key = header_key(header)
    if not key:
        return None
    if key in lookup:
        return lookup[key]
    if _may_be_cut(header):
        names = {name for known, name in lookup.items() if known.startswith(key)}
        if len(names) == 1:
            return names.pop()
    return None


def clean_header(header: object) -> str:
    """A header cell as text: NFC, surrounding spaces off."""
    return unicodedata.normalize("NFC", str(header)).strip()


def check_headers(headers: list[str], source_file: str) -> None:
    """Refuse a header row a reader would have to rename: repeated or empty headers.

    An empty header over an empty column (a trailing delimiter) is left to the caller,
    which drops the column; an empty header over data is refused there.
    """
    counts = Counter(h for h in headers if h)
    repeated = sorted(h for h, n in counts.items() if n > 1)
    if repeated:
        where = {h: [i + 1 for i, x in enumerate(headers) if x == h] for h in repeated}
        described = "; ".join(f"{h!r} in columns {cols}" for h, cols in where.items())
        raise LandingFileError(
            f"{source_file}: the header repeats {described}; each column needs its own header"
        )


@dataclass(frozen=True)
class HeaderMatch:
    """Which landed header fills which contract column, and those no contract names."""

    columns: dict[str, str]  # header as landed -> contract column
    unrecognised: list[str]


def match_headers(
    headers: list[str],
    *,
    source_file: str,
    wanted: tuple[str, ...],
    required: tuple[str, ...],
    has_geometry: bool = False,
    stand_ins: dict[str, str] | None = None,
) -> HeaderMatch:
    """Match a file's headers to the ``wanted`` contract columns.

    ``stand_ins`` names, per required column, another that may stand in for it
    (``schemas.STAND_INS``). Raises LandingFileError naming the file and the required
    columns it lacks (with the Vietnamese header expected), or two headers that would
    fill one column.
    """
    lookup = header_lookup([FIELDS[name] for name in wanted])
    columns: dict[str, str] = {}
    unrecognised: list[str] = []
    for header in headers:
        if not header or header in CARRIED or header_key(header) in IGNORED_HEADERS:
            continue
        canonical = lookup_header(header, lookup)
        if canonical is None:
            unrecognised.append(header)
        elif canonical in columns.values():
            first = next(h for h, c in columns.items() if c == canonical)
            raise LandingFileError(
                f"{source_file}: headers {first!r} and {header!r} both name {canonical!r}"
            )
        else:
            columns[header] = canonical
    found = set(columns.values()) | ({"geometry"} if has_geometry else set())
    stand_ins = stand_ins or {}
    missing = [name for name in required if name not in found and stand_ins.get(name) not in found]
    if missing:
        expected = ", ".join(
            f"{FIELDS[m].label_vi!r} ({m})"
            + (f" or {FIELDS[stand_ins[m]].label_vi!r} ({stand_ins[m]})" if m in stand_ins else "")
            for m in missing
        )
        raise LandingFileError(
            f"{source_file}: missing required columns {expected}; "
            f"unrecognised headers: {unrecognised or 'none'}"
        )
    return HeaderMatch(columns, unrecognised)


def to_canonical(
    raw: pd.DataFrame,
    *,
    source_file: str,
    wanted: tuple[str, ...],
    required: tuple[str, ...],
    stand_ins: dict[str, str] | None = None,
) -> pd.DataFrame:
    """A frame's recognised columns under their contract names, the ``wanted`` ones kept
    (missing ones empty), with lineage, geometry and any read problem carried.

    Raw tables already hold contract names, which match themselves; frames built by
    hand (tests, notebooks) may carry landed headers.
    """
    headers = [str(c) for c in raw.columns]
    check_headers(headers, source_file)
    match = match_headers(
        headers,
        source_file=source_file,
        wanted=wanted,
        required=required,
        has_geometry="geometry" in raw.columns,
        stand_ins=stand_ins,
    )
    df = raw.rename(columns=match.columns)
    keep = [c for c in wanted if c in df.columns] + [c for c in STAGED_CARRY if c in df.columns]
    out = df.loc[:, keep].copy()
    for name in wanted:
        if name not in out.columns:
            out[name] = pd.NA
    out.attrs["unrecognised_headers"] = match.unrecognised
    return out
