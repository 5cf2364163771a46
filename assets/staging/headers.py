"""Landing-file headers to canonical column names, through the data dictionary.

A clerk's spreadsheet says "Số ĐDCN", "CCCD" or "So dinh danh ca nhan"; the
contracts in ``expectations.schemas`` list each field's Vietnamese label and aliases,
and matching ignores case, diacritics and spacing.
"""

from __future__ import annotations

import pandas as pd

from assets.raw.landing import LINEAGE_COLUMNS, SOURCE_CRS, LandingFileError
from expectations.schemas import FIELDS, Field, header_key


def header_lookup(fields: list[Field]) -> dict[str, str]:
    """Normalised header → canonical name, for the given fields."""
    lookup: dict[str, str] = {}
    for f in fields:
        for key in f.header_keys:
            lookup.setdefault(key, f.name)
    return lookup


DBF_NAME_LIMIT = 10  # Shapefile attribute names are cut to 10 characters


def _lookup(key: str, lookup: dict[str, str]) -> str | None:
    """Exact match, or for a Shapefile-truncated header the one name it is a prefix of."""
    if key in lookup:
        return lookup[key]
    if len(key) == DBF_NAME_LIMIT:
        names = {name for known, name in lookup.items() if known.startswith(key)}
        if len(names) == 1:
            return names.pop()
    return None


def to_canonical(
    raw: pd.DataFrame,
    *,
    source_file: str,
    wanted: tuple[str, ...],
    required: tuple[str, ...],
) -> pd.DataFrame:
    """Rename recognised headers to canonical names and keep the ``wanted`` ones.

    Raises LandingFileError naming the file, the required columns it lacks (with the
    Vietnamese header expected) and the headers that were not recognised.
    """
    lookup = header_lookup([FIELDS[name] for name in wanted])
    renames: dict[str, str] = {}
    unrecognised: list[str] = []
    for column in raw.columns:
        if column in LINEAGE_COLUMNS or column in ("geometry", SOURCE_CRS):
            continue
        canonical = _lookup(header_key(column), lookup)
        if canonical is None:
            unrecognised.append(str(column))
        elif canonical in renames.values():
            raise LandingFileError(f"{source_file}: two columns map to {canonical!r}: {column!r}")
        else:
            renames[column] = canonical
    found = set(renames.values()) | ({"geometry"} & set(raw.columns))
    missing = [name for name in required if name not in found]
    if missing:
        expected = ", ".join(f"{FIELDS[m].label_vi!r} ({m})" for m in missing)
        raise LandingFileError(
            f"{source_file}: missing required columns {expected}; "
            f"unrecognised headers: {unrecognised or 'none'}"
        )
    df = raw.rename(columns=renames)
    carried = [*LINEAGE_COLUMNS, SOURCE_CRS]
    keep = [c for c in wanted if c in df.columns] + [c for c in carried if c in df]
    out = df.loc[:, keep].copy()
    for name in wanted:
        if name not in out.columns:
            out[name] = pd.NA
    # Extra columns (notes, stamps) are common and harmless; they are reported, not fatal.
    out.attrs["unrecognised_headers"] = unrecognised
    return out
