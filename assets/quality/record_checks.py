"""Row-level data rules, derived from the data contracts, as vectorised pandas.

The Great Expectations suites (``expectations/suites.py``) say *whether* a table meets
its contract and how many values fail; police and data units also need *which* records
fail and what to fix. This module answers that from the same contract: one row per
(record, broken rule) in ``quality.record_issues``, and a split of the input into clean
and quarantined records whose counts always reconcile.

Messages name the field, say what is wrong and what is expected, in English with a short
Vietnamese gloss. For personal fields (``Field.is_personal``) a message never contains the
value itself, only facts about it (its length, whether it is all digits), so the issue
table can be shown to staff who may see the problem but not the person.

Every rule is evaluated on whole columns; Python loops run over rules and distinct
reasons, never over rows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from expectations.schemas import TABLES, Field, Table

ISSUES = TABLES["quality.record_issues"]
CONTEXT_COLUMNS = ("commune_code", "hamlet_code")

REQUIRED_MISSING = "required_missing"
PATTERN_MISMATCH = "pattern_mismatch"
NOT_IN_ALLOWED_VALUES = "not_in_allowed_values"
OUT_OF_RANGE = "out_of_range"
DUPLICATE_KEY = "duplicate_key"
DUPLICATE_VALUE = "duplicate_value"
# Every rule here makes a record unusable for counting households, so all are errors;
# the issues table also accepts "warning" for rules added later.
SEVERITY: dict[str, str] = {
    REQUIRED_MISSING: "error",
    PATTERN_MISMATCH: "error",
    NOT_IN_ALLOWED_VALUES: "error",
    OUT_OF_RANGE: "error",
    DUPLICATE_KEY: "error",
    DUPLICATE_VALUE: "error",
}

# Non-personal values are quoted in messages, cut to this many characters.
QUOTE_LIMIT = 40
# A contract pattern made only of digit counts: ^\d{12}$ or ^(\d{12}|\d{9})$.
_DIGITS_PATTERN = re.compile(r"^\^(?:\((?:\?:)?)?\\d\{\d+\}(?:\|\\d\{\d+\})*\)?\$$")
_DIGIT_COUNT = re.compile(r"\\d\{(\d+)\}")


@dataclass(frozen=True)
class _Hits:
    """Rows (by position) that break one rule on one field, with a message per row."""

    positions: np.ndarray
    rule: str
    field_name: str
    messages: np.ndarray


def _hits(mask: np.ndarray, rule: str, field_name: str, messages: pd.Series | str) -> _Hits:
    """Collect the rows of ``mask``; ``messages`` is a constant or aligned with the hits."""
    positions = np.flatnonzero(mask)
    if isinstance(messages, str):
        text = np.full(len(positions), messages, dtype=object)
    else:
        text = messages.to_numpy(dtype=object)
    return _Hits(positions, rule, field_name, text)


def _quoted(values: pd.Series) -> pd.Series:
    """Non-personal values as 'text' for a message, long ones shortened."""
    text = values.astype("string")
    short = text.str.slice(0, QUOTE_LIMIT)
    return "'" + short.where(text.str.len() <= QUOTE_LIMIT, short + "…") + "'"


def _subject(f: Field, values: pd.Series) -> pd.Series | str:
    """How a message names the offending value: the field, plus the value if not personal."""
    return f.name if f.is_personal else f.name + " " + _quoted(values)


def _fmt(number: float) -> str:
    return f"{number:g}"


def _required(f: Field, values: pd.Series) -> _Hits:
    mask = values.isna().to_numpy()
    message = (
        f"{f.name} is missing or unreadable (e.g. a date such as 31/02); correct it from the "
        f"source record (Thiếu hoặc sai {f.label_vi})"
    )
    return _hits(mask, REQUIRED_MISSING, f.name, message)


def _pattern(f: Field, values: pd.Series) -> _Hits:
    """Same semantics as GX's ExpectColumnValuesToMatchRegex (``re.search``), so the
    suite's unexpected count and the number of ``pattern_mismatch`` issues agree."""
    assert f.pattern is not None
    text = values.astype("string")
    # Missing values are not a format problem (required_missing covers them).
    matches = text.str.contains(f.pattern, regex=True).fillna(True)
    mask = (~matches).to_numpy(dtype=bool)
    bad = text[mask]
    if _DIGITS_PATTERN.match(f.pattern):
        n, *older = (int(c) for c in _DIGIT_COUNT.findall(f.pattern))
        alternatives = "".join(f" or an old {m}-digit number" for m in older)
        length = bad.str.len()
        all_digits = bad.str.fullmatch(r"\d*").fillna(False).astype(bool)
        detail = pd.Series(
            np.where(
                ~all_digits,
                ", not all digits",
                np.where(length == n - 1, " (a leading 0 may have been lost)", ""),
            ),
            index=bad.index,
        )
        head = f.name if f.is_personal else f.name + " " + _quoted(bad)
        messages = (
            head
            + " has "
            + length.astype("string")
            + " characters"
            + detail
            + f", expected {n} digits{alternatives} ({f.label_vi} phải gồm {n} chữ số)"
        )
    else:
        messages = (
            _subject(f, bad)
            + f" does not match the required format {f.pattern}; correct it at the source"
            + f" ({f.label_vi} sai định dạng)"
        )
    return _hits(mask, PATTERN_MISMATCH, f.name, messages)


def _allowed(f: Field, values: pd.Series) -> _Hits:
    assert f.allowed_values is not None
    mask = (values.notna() & ~values.isin(list(f.allowed_values))).to_numpy(dtype=bool)
    allowed = ", ".join(f.allowed_values)
    head = f"{f.name} has a value that" if f.is_personal else f.name + " " + _quoted(values[mask])
    messages = (
        head
        + f" is not one of: {allowed}; use one of these"
        + f" ({f.label_vi} phải là một trong: {allowed})"
    )
    return _hits(mask, NOT_IN_ALLOWED_VALUES, f.name, messages)


def _range(f: Field, values: pd.Series) -> list[_Hits]:
    numbers = pd.to_numeric(values, errors="coerce")
    found = []
    for bound, op, words, sign in (
        (f.min_value, numbers.lt, "below the minimum", "≥"),
        (f.max_value, numbers.gt, "above the maximum", "≤"),
    ):
        if bound is None:
            continue
        mask = op(bound).fillna(False).to_numpy(dtype=bool)
        head = f.name if f.is_personal else f.name + " " + numbers[mask].astype("string")
        messages = head + f" is {words} {_fmt(bound)} ({f.label_vi} phải {sign} {_fmt(bound)})"
        found.append(_hits(mask, OUT_OF_RANGE, f.name, messages))
    return found


def _duplicates(df: pd.DataFrame, fields: list[Field], rule: str) -> _Hits:
    """Every record sharing a value (of one column or a compound key) with another."""
    columns = [f.name for f in fields]
    frame = df[columns]
    present = frame.notna().all(axis=1)
    mask = (present & frame.duplicated(keep=False)).to_numpy(dtype=bool)
    field_name = "+".join(columns)
    label = " + ".join(f.label_vi for f in fields)
    shared = frame[mask]
    others = (shared.groupby(columns, sort=False)[columns[0]].transform("size") - 1).astype(
        "string"
    )
    if any(f.is_personal for f in fields):
        head: pd.Series | str = field_name
    else:
        value = shared[columns[0]].astype("string")
        for c in columns[1:]:
            value = value + ", " + shared[c].astype("string")
        head = field_name + " " + _quoted(value)
    fix = (
        "each record needs its own key: remove the double entry or correct the key"
        if rule == DUPLICATE_KEY
        else f"merge the double entry or correct {field_name}"
    )
    messages = head + " is shared with " + others + f" other record(s); {fix} ({label} bị trùng)"
    return _hits(mask, rule, field_name, messages)


def _key_text(keys: pd.Series) -> pd.Series:
    """Record keys as text, as ``quality.record_issues.record_id`` stores them."""
    return keys if isinstance(keys.dtype, pd.StringDtype) else keys.astype("string")


def _aligned(values: pd.Series, index: pd.Index) -> np.ndarray:
    if values.index.equals(index):
        return values.to_numpy(dtype=object)
    return values.reindex(index).to_numpy(dtype=object)


def record_issues(
    df: pd.DataFrame,
    table: Table,
    *,
    record_key: str = "record_id",
    context_columns: Mapping[str, pd.Series] | None = None,
    unique_columns: tuple[str, ...] = (),
    checks: Literal["all", "fields", "keys"] = "all",
) -> pd.DataFrame:
    """One row per (record, broken rule), conforming to ``quality.record_issues``.

    Rules come from ``table``'s contract: ``required_missing``, ``pattern_mismatch``,
    ``not_in_allowed_values``, ``out_of_range`` and ``duplicate_key`` (every record that
    shares its primary key, and its record key when that differs from the primary key).
    ``unique_columns`` adds ``duplicate_value`` for columns the contract does not key on
    but that must be unique (e.g. ``citizen_id`` in persons, keyed by ``record_id``).
    ``context_columns`` (``commune_code``/``hamlet_code``, aligned on ``df``'s index)
    group the issues by place; without them those columns are null. ``checks`` picks
    the rules on each record's own values (``fields``) or the rules on keys shared
    between records (``keys``): a table read in batches runs ``fields`` per batch and
    ``keys`` once, on the records whose keys recur (see ``assets.quality.batches``).

    Raises ValueError when a record has no key: such a record could not be reported,
    and quietly dropping it would break the reconciliation of counts.
    """
    missing = [c for c in table.columns if c not in df.columns]
    if record_key not in df.columns:
        missing.append(record_key)
    missing += [c for c in unique_columns if c not in df.columns]
    if missing:
        raise ValueError(f"{table.qualified_name}: frame lacks columns {sorted(set(missing))}")
    context_columns = dict(context_columns or {})
    unknown = sorted(set(context_columns) - set(CONTEXT_COLUMNS))
    if unknown:
        raise ValueError(f"context_columns may only be {CONTEXT_COLUMNS}, got {unknown}")
    keys = _key_text(df[record_key])
    if keys.isna().any():
        raise ValueError(
            f"{table.qualified_name}: {int(keys.isna().sum())} rows have no {record_key}; "
            "every record needs a key to be reported"
        )

    found: list[_Hits] = []
    for f in table.fields if checks != "keys" else ():
        values = df[f.name]
        if f.name in table.required:
            found.append(_required(f, values))
        if f.type == "geometry":
            continue  # only presence applies to a geometry; staging repairs its validity
        if f.pattern is not None:
            found.append(_pattern(f, values))
        if f.allowed_values is not None:
            found.append(_allowed(f, values))
        if f.min_value is not None or f.max_value is not None:
            found.extend(_range(f, values))
    by_name = {f.name: f for f in table.fields}
    primary_key = [by_name[c] for c in table.primary_key if by_name[c].type != "geometry"]
    keys_duplicated = keys.duplicated().any()
    if checks != "fields":
        if primary_key:
            found.append(_duplicates(df, primary_key, DUPLICATE_KEY))
        if keys_duplicated and [f.name for f in primary_key] != [record_key]:
            key_field = by_name.get(record_key) or Field(
                record_key, "string", record_key, record_key
            )
            found.append(_duplicates(df.assign(**{record_key: keys}), [key_field], DUPLICATE_KEY))
        for column in unique_columns:
            f = by_name.get(column) or Field(column, "string", column, column)
            found.append(_duplicates(df, [f], DUPLICATE_VALUE))

    positions = np.concatenate([h.positions for h in found]) if found else np.array([], int)
    # Issues in input order, and per record in rule order, for readable reports.
    order = np.lexsort(
        (np.repeat(np.arange(len(found)), [len(h.positions) for h in found]), positions)
    )
    positions = positions[order]

    def spread(per_hit: list[np.ndarray]) -> np.ndarray:
        return np.concatenate(per_hit)[order] if per_hit else np.array([], dtype=object)

    rules = spread([np.full(len(h.positions), h.rule, dtype=object) for h in found])
    out = pd.DataFrame(
        {
            "table_name": np.full(len(positions), table.qualified_name, dtype=object),
            "record_id": keys.to_numpy(dtype=object)[positions],
            **{
                c: (
                    _aligned(context_columns[c], df.index)[positions]
                    if c in context_columns
                    else np.full(len(positions), None, dtype=object)
                )
                for c in CONTEXT_COLUMNS
            },
            "rule": rules,
            "field_name": spread(
                [np.full(len(h.positions), h.field_name, dtype=object) for h in found]
            ),
            "severity": pd.Series(rules, dtype=object).map(SEVERITY).to_numpy(dtype=object),
            "message": spread([h.messages for h in found]),
        }
    )
    if keys_duplicated:
        # Records sharing a key are reported once per (key, rule, field): the issue
        # table's primary key. Both records are then quarantined by that key.
        out = out.drop_duplicates(["record_id", "rule", "field_name"], ignore_index=True)
    return ISSUES.enforce(out)


def _join_reasons(record_ids: pd.Series, pairs: pd.Series) -> pd.Series:
    """Per record: its sorted unique ``rule:field`` pairs joined by "; ".

    Loops over the distinct pairs (a handful), not over records: a boolean matrix of
    records × pairs is turned into text one pair-column at a time, in sorted order.
    """
    unique = pd.DataFrame({"record_id": record_ids, "pair": pairs}).drop_duplicates()
    record_codes, records = pd.factorize(unique["record_id"])
    pair_names = np.sort(unique["pair"].unique().astype(object))
    pair_codes = np.searchsorted(pair_names, unique["pair"].to_numpy(dtype=object))
    has = np.zeros((len(records), len(pair_names)), dtype=bool)
    has[record_codes, pair_codes] = True
    text = np.full(len(records), "", dtype=object)
    for j, pair in enumerate(pair_names):
        text = text + np.where(has[:, j], pair + "; ", "").astype(object)
    return pd.Series(text, index=records, dtype="string").str.slice(0, -2)


def split_clean_quarantined(
    df: pd.DataFrame, issues: pd.DataFrame, *, record_key: str = "record_id"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split ``df`` into records with no error-level issue and the rest, with reasons.

    Nothing is dropped: ``len(clean) + len(quarantined) == len(df)``. Quarantined rows
    keep all their columns and gain ``reasons`` (sorted unique ``rule:field`` pairs, "; "
    joined). Warnings do not quarantine. ``issues`` must be this frame's issues (one
    table); issues naming records absent from ``df`` raise, since they signal a mix-up.
    """
    if "reasons" in df.columns:
        raise ValueError("df already has a 'reasons' column")
    errors = issues.loc[issues["severity"].eq("error")]
    tables = errors["table_name"].dropna().unique()
    if len(tables) > 1:
        raise ValueError(f"issues of several tables {sorted(tables)}; pass one table's issues")
    keys = _key_text(df[record_key])
    error_ids = _key_text(errors["record_id"])
    strangers = ~error_ids.isin(keys)
    if strangers.any():
        raise ValueError(
            f"{int(strangers.sum())} issues name records whose {record_key} is not in the frame"
        )
    field_names = errors["field_name"].astype("string")
    pairs = errors["rule"].astype("string") + (":" + field_names).fillna("")
    reasons = _join_reasons(error_ids, pairs)
    quarantined_mask = keys.isin(reasons.index).to_numpy(dtype=bool)
    clean = df[~quarantined_mask]
    quarantined = df[quarantined_mask].copy()
    quarantined["reasons"] = keys[quarantined_mask].map(reasons).astype("string")
    return clean, quarantined
