"""Hamlet codes that a Shapefile stored as numbers, their leading zeros put back.

GIS software writes a code field such as ``MaThon`` as N(10,0) when every code looks
like a number, so ``04001001`` lands as ``4001001``. A zero is restored only where it is
certain: the hamlet registry holds exactly one code that is this one with leading
zeros, or the feature's own commune code (5 digits, zeros restored) begins the hamlet
code once its zeros are back (hamlet codes start with their commune's code). Anything
else is left as landed, to be rejected as unmatched with its file and row.
"""

from __future__ import annotations

import pandas as pd

COMMUNE_CODE_DIGITS = 5
DROPPED_ZEROS = "leading zeros restored (stored as a number in the file)"


def restore_dropped_zeros(
    codes: pd.Series, commune_codes: pd.Series | None, registry_codes: pd.Series
) -> pd.Series:
    """``codes`` with the leading zeros a numeric field lost put back where certain."""
    codes = codes.astype("string")
    registry = pd.Series(registry_codes.dropna().astype("string").unique(), dtype="string")
    numeric = codes.str.fullmatch(r"[1-9]\d*").fillna(False) & ~codes.isin(registry)
    zero_led = registry[registry.str.fullmatch(r"0+\d+").fillna(False)]
    forms = zero_led.groupby(zero_led.str.lstrip("0").to_numpy()).agg(list)
    unique = forms[forms.str.len() == 1].str[0]
    restored = codes.map(unique).where(numeric)
    if commune_codes is not None:
        by_commune = pd.Series(
            [_with_commune_zeros(c, m) for c, m in zip(codes, commune_codes, strict=True)],
            index=codes.index,
            dtype="string",
        )
        restored = restored.fillna(by_commune.where(numeric))
    return restored.fillna(codes).astype("string")


def _with_commune_zeros(code: object, commune: object) -> str | None:
    """The code with the zeros its commune code lost, if the commune code then begins it."""
    if not isinstance(code, str) or not isinstance(commune, str):
        return None
    commune = commune.strip()
    if not commune.isdigit() or len(commune) > COMMUNE_CODE_DIGITS:
        return None
    commune = commune.zfill(COMMUNE_CODE_DIGITS)
    zeros = len(commune) - len(commune.lstrip("0"))
    padded = "0" * zeros + code
    return padded if zeros and padded.startswith(commune) else None
