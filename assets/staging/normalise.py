"""Value normalisation shared by the staging tables (vectorised, no dagster)."""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from expectations.reference import (
    ETHNIC_FORMS,
    ETHNIC_GROUPS,
    HEAD,
    OTHER_RELATIONS,
    RELATION_KINDS,
)
from expectations.schemas import header_key

# Local names of hamlets, longest first so "Tổ dân phố" wins over "Tổ".
HAMLET_PREFIXES: tuple[str, ...] = (
    "Tổ dân phố",
    "Khu phố",
    "Khối phố",
    "TDP",
    "Thôn",
    "Xóm",
    "Bản",
    "Làng",
    "Buôn",
    "Plei",
    "Plây",
    "Khóm",
    "Khối",
    "Sóc",
    "Ấp",
    "Tổ",
    "Khu",
)
_PREFIX_RE = re.compile(
    r"^\s*(?P<prefix>" + "|".join(re.escape(p) for p in HAMLET_PREFIXES) + r")\b\.?\s*"
    r"(?:số\s+)?(?P<name>.*)$",
    flags=re.IGNORECASE,
)
_CANONICAL_PREFIX = {header_key(p): p for p in HAMLET_PREFIXES} | {"tdp": "Tổ dân phố"}


def _by_key(forms: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """Canonical value -> the forms it is written in, as a lookup by ``header_key``."""
    return {header_key(form): value for value, written in forms.items() for form in written}


THON, TO_DAN_PHO = "thon", "to_dan_pho"
# The two legal kinds of hamlet (DOMAIN.md): thôn in a xã, tổ dân phố in a phường.
# Their legal names, and the local names each goes by; "Khu" is used for both, so it is
# not here: such a hamlet takes its commune's kind (see ``read_hamlet_kinds``).
HAMLET_KINDS = _by_key({THON: ("Thôn", "thon"), TO_DAN_PHO: ("Tổ dân phố", "TDP", "to_dan_pho")})
LOCAL_HAMLET_KINDS = _by_key(
    {
        THON: ("Xóm", "Bản", "Làng", "Buôn", "Bon", "Ấp", "Khóm", "Plei", "Plây", "Sóc"),
        TO_DAN_PHO: ("Tổ", "Tổ phố", "Khu phố", "Khối", "Khối phố", "Tiểu khu"),
    }
)
KNOWN_KIND_NAMES = LOCAL_HAMLET_KINDS | HAMLET_KINDS
# Sex as offices write it, in any case and with or without diacritics. Numeric codes
# (1/0, 1/2) are not read: forms disagree on which number is which.
SEXES = _by_key({"nam": ("Nam", "Nam giới"), "nu": ("Nữ", "Nữ giới")})
OTHER_SEXES = _by_key({"nam": ("M", "Male"), "nu": ("F", "Female")})
UNIT_KINDS = _by_key({"xa": ("xã",), "phuong": ("phường",), "dac_khu": ("đặc khu", "dac_khu")})
# The relation that makes a person the head of household, as written besides "Chủ hộ".
HEAD_FORMS = frozenset(
    header_key(f) for f in ("CH", "C.H", "Chủ", "Chủ hộ gia đình", "Chủ hộ khẩu", "Chủ HGĐ")
)


def by_distinct_value(function: Callable[[pd.Series], pd.Series]) -> Callable[..., pd.Series]:
    """Run a normaliser once per distinct value and spread the result back.

    A million person rows hold a few hundred distinct sexes, relations, ethnicities and
    birth dates; string work per distinct value instead of per row is what makes
    staging fast, and the result is the same.
    """

    @functools.wraps(function)
    def wrapper(values: pd.Series) -> pd.Series:
        codes, distinct = pd.factorize(values.astype("string"), use_na_sentinel=True)
        # Missing gets the last slot, so the function decides what missing becomes.
        candidates = pd.Series([*distinct, pd.NA], dtype="string")
        results = function(candidates).reset_index(drop=True)
        taken = results.take(np.where(codes < 0, len(distinct), codes))
        return taken.set_axis(values.index)

    return wrapper


@by_distinct_value
def clean_text(values: pd.Series) -> pd.Series:
    """NFC, trimmed, single-spaced text; empty strings become missing.

    Printable ASCII without a space (codes, IDs, numbers, most dates: a million
    distinct values in a province) is already all that, and is found in Arrow; only
    the rest is normalised value by value."""
    text = values.astype("string")
    plain = pc.match_substring_regex(
        pa.array(text, type=pa.string(), from_pandas=True), r"^[!-~]+$"
    )
    rest = ~plain.fill_null(False).to_numpy(zero_copy_only=False)
    cleaned = text[rest].str.normalize("NFC").str.strip()
    cleaned = cleaned.str.replace(r"\s+", " ", regex=True)
    text[rest] = cleaned.mask(cleaned == "")
    return text


@by_distinct_value
def folded(values: pd.Series) -> pd.Series:
    """The key vocabularies are looked up by (``header_key``: case, diacritics,
    punctuation and spacing ignored)."""
    text = clean_text(values)
    return text.map(header_key, na_action="ignore").astype("string")


def map_vocabulary(values: pd.Series, vocabulary: dict[str, str]) -> pd.Series:
    """Map free text onto a fixed vocabulary; unknown values become missing."""
    return folded(values).map(vocabulary).astype("string")


def read_sexes(values: pd.Series) -> pd.DataFrame:
    """``sex`` (nam/nu) and how it was written: ``other_form`` (M/F, Male/Female) or
    ``unknown`` (a value not in the vocabulary, left missing); missing otherwise."""
    key = folded(values)
    sex = key.map(SEXES).fillna(key.map(OTHER_SEXES)).astype("string")
    other = key.isin(list(OTHER_SEXES)).to_numpy(dtype=bool)
    unknown = (key.notna() & sex.isna()).to_numpy(dtype=bool)
    how = np.where(other, "other_form", np.where(unknown, "unknown", None))
    return pd.DataFrame({"sex": sex, "how": pd.array(how, dtype="string")}, index=values.index)


@by_distinct_value
def value_shapes(values: pd.Series) -> pd.Series:
    """What a value looks like without saying what it is ("3 characters, digits"), for
    messages about values that may be personal; missing stays missing."""
    text = clean_text(values)
    digits = text.str.contains(r"\d", regex=True)
    letters = text.str.contains(r"[^\W\d_]", regex=True)
    others = text.str.contains(r"[^\w\s]|_", regex=True)
    kind = pd.Series(
        np.select(
            [
                (digits & ~letters & ~others).fillna(False),
                (letters & ~digits & ~others).fillna(False),
                (letters & digits & ~others).fillna(False),
            ],
            ["digits", "letters", "letters and digits"],
            "with signs",
        ),
        index=text.index,
        dtype="string",
    )
    length = text.str.len()
    plural = np.where(length.eq(1).fillna(False), " character, ", " characters, ")
    return (length.astype("string") + plural + kind).astype("string")


# Relations a household book records: the kinds, the head's other forms, the rest.
KNOWN_RELATIONS = frozenset(RELATION_KINDS) | HEAD_FORMS | OTHER_RELATIONS


def known_relations(relation: pd.Series) -> pd.Series:
    """True where the relation is one a household book records; NA where missing."""
    key = folded(relation)
    return key.isin(list(KNOWN_RELATIONS)).astype("boolean").mask(key.isna())


# Official names read as their own folded form, so their lookups cost nothing extra.
_ETHNIC_KEYS = tuple(ETHNIC_FORMS)


@functools.lru_cache(maxsize=4096)
def closest_ethnic_groups(key: str, n: int = 3) -> tuple[str, ...]:
    """Up to ``n`` official names whose folded forms (or aliases') are closest to ``key``."""
    found = difflib.get_close_matches(key, _ETHNIC_KEYS, n=3 * n, cutoff=0.5)
    return tuple(dict.fromkeys(ETHNIC_FORMS[k] for k in found))[:n]


def read_ethnicities(values: pd.Series) -> pd.DataFrame:
    """``ethnicity`` as its official name (``ETHNIC_GROUPS``) and how it was read:
    ``alias`` (another spelling or older name: H'Mông, Mèo, Việt…), ``unknown`` (not a
    recognised group: left missing, ``closest`` names the likeliest official names) or
    missing where read as written or empty."""
    key = folded(values)
    official = key.map(ETHNIC_FORMS).astype("string")
    as_written = clean_text(values).isin(list(ETHNIC_GROUPS))
    alias = (official.notna() & ~as_written).to_numpy(dtype=bool)
    unknown = (key.notna() & official.isna()).to_numpy(dtype=bool)
    closest = pd.Series(pd.NA, index=values.index, dtype="string")
    closest.iloc[np.flatnonzero(unknown)] = [
        ", ".join(closest_ethnic_groups(str(k))) for k in key[unknown]
    ]
    how = np.where(alias, "alias", np.where(unknown, "unknown", None))
    return pd.DataFrame(
        {
            "ethnicity": official,
            "how": pd.array(how, dtype="string"),
            "closest": closest.mask(closest.eq("")),
        },
        index=values.index,
    )


INVALID_SEPARATOR = " | "


def invalid_value_notes(
    fields: dict[str, tuple[pd.Series, np.ndarray, pd.Series | None]],
) -> pd.Series:
    """``invalid_values``: per record, each field whose value is present but not in its
    vocabulary, as ``field: shape`` (plus ``; closest: …`` official values when given),
    so that staging keeps "invalid" apart from "missing" without keeping the value.

    ``invalid`` is a boolean mask over the rows of ``values``. Shapes are worked out for
    the invalid values only: a province's citizen IDs are all distinct and almost all
    valid, and shaping each of them was most of this function's time."""
    notes: pd.Series | None = None
    for field_name, (values, invalid, closest) in fields.items():
        if notes is None:
            notes = pd.Series(pd.NA, index=values.index, dtype="string")
        at = np.asarray(invalid, dtype=bool)
        note = field_name + ": " + value_shapes(values[at])
        if closest is not None:
            note = (note + "; closest: " + closest[at]).fillna(note)
        before = notes[at]
        notes[at] = (before + INVALID_SEPARATOR + note).fillna(before).fillna(note).to_numpy()
    assert notes is not None
    return notes.astype("string")


@by_distinct_value
def relation_kinds(relation: pd.Series) -> pd.Series:
    """Each relation to the head's kind (head, spouse, child, parent, grandchild) or NA.

    One reading for staging (who is head) and the quality rules: "Chủ hộ", "CH",
    "chủ hộ gia đình"… are all the head.
    """
    key = folded(relation)
    kinds = key.map(RELATION_KINDS).astype("string")
    return kinds.mask(key.isin(list(HEAD_FORMS)), HEAD).astype("string")


def head_written_otherwise(relation: pd.Series) -> pd.Series:
    """True where the head is written other than "Chủ hộ" ("CH", "Chủ hộ gia đình"…)."""
    return folded(relation).isin(list(HEAD_FORMS)).fillna(False).astype(bool)


# Kinds written together: "Thôn, xóm, bản", "Thôn/Xóm", "TDP và khu phố".
_KIND_SEPARATORS = re.compile(r"\s*(?:[,;/|&+]|\s(?:và|hoặc|hay)\s)\s*", flags=re.IGNORECASE)


@functools.lru_cache(maxsize=4096)
def _hamlet_kind_of(text: str) -> tuple[str | None, str]:
    """A written hamlet kind: its legal kind and ``legal``/``local``, or (None, unknown)."""
    found: set[str] = set()
    legal = False  # the legal name is written ("Thôn, xóm, bản"), not only a local one
    for part in (p for p in _KIND_SEPARATORS.split(text) if p.strip()):
        whole = header_key(part)
        # A part is one name ("Tổ dân phố") or names side by side ("Thôn xóm").
        for key in [whole] if whole in KNOWN_KIND_NAMES else [header_key(w) for w in part.split()]:
            if key not in KNOWN_KIND_NAMES:
                return None, "unknown"
            found.add(KNOWN_KIND_NAMES[key])
            legal = legal or key in HAMLET_KINDS
    if len(found) != 1:  # none, or both kinds ("Thôn/TDP"): the value does not say
        return None, "unknown"
    return found.pop(), "legal" if legal else "local"


def read_hamlet_kinds(values: pd.Series) -> pd.DataFrame:
    """``hamlet_kind`` (thon/to_dan_pho) and how it was written: ``legal`` ("Thôn",
    "TDP", "Thôn, xóm, bản"), ``local`` (a local name only: "Xóm", "Bản", "Khu phố",
    "Tổ"…) or ``unknown`` (not in the vocabulary, or both kinds: left missing for the
    caller to decide); ``how`` is missing where the value is."""
    text = clean_text(values)
    distinct = text.dropna().unique()
    read = {value: _hamlet_kind_of(str(value)) for value in distinct}
    return pd.DataFrame(
        {
            "hamlet_kind": text.map({k: v[0] for k, v in read.items()}).astype("string"),
            "how": text.map({k: v[1] for k, v in read.items()}).astype("string"),
        },
        index=values.index,
    )


# A coordinate in degrees written with one decimal comma (spaces aside).
_DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d+$")


def parse_coordinates(values: pd.Series) -> pd.DataFrame:
    """Degrees as offices write them, and how: ``decimal_comma`` ("105,123456", the
    Vietnamese decimal mark) or ``unreadable`` (thousands separators, several marks,
    text: left missing, never guessed).

    A comma is only ever a decimal mark here: with no point and one comma there is no
    other reading of a coordinate in degrees (a longitude of 105,123 thousand is none).
    Anything with two marks ("1.234,5", "105.123.456") could be metres with grouping or
    a typo, and is not read. Plain numbers take the fast path; only the rest is parsed
    by pattern.
    """
    text = clean_text(values)
    number = pd.to_numeric(text, errors="coerce").astype("float64")
    number = number.where(np.isfinite(number))
    odd = (number.isna() & text.notna()).to_numpy(dtype=bool)
    rest = text[odd].str.replace(r"\s+", "", regex=True)
    comma = rest.str.fullmatch(_DECIMAL_COMMA, na=False)
    commas = rest.where(comma).str.replace(",", ".", regex=False)
    number[odd] = pd.to_numeric(commas).astype("float64").to_numpy(na_value=np.nan)
    how = pd.Series(pd.NA, index=values.index, dtype="string")
    how[odd] = np.where(comma.to_numpy(dtype=bool), "decimal_comma", "unreadable")
    return pd.DataFrame({"value": number.astype("float64"), "how": how}, index=values.index)


def split_hamlet_name(names: pd.Series) -> pd.DataFrame:
    """Split "Xóm Nà Rẻo" into prefix "Xóm" and name "Nà Rẻo"; unknown prefixes stay whole."""
    text = clean_text(names)
    parts = text.str.extract(_PREFIX_RE)
    has_prefix = parts["prefix"].notna() & parts["name"].fillna("").ne("")
    prefix = parts["prefix"].map(header_key, na_action="ignore").map(_CANONICAL_PREFIX)
    return pd.DataFrame(
        {
            "name_prefix": prefix.where(has_prefix).astype("string"),
            "hamlet_name": parts["name"].where(has_prefix, text).astype("string"),
        },
        index=names.index,
    )


_ROMAN = {"I": 1, "V": 5, "X": 10, "L": 50}


def roman_to_arabic(values: pd.Series) -> pd.Series:
    """Standalone Roman numerals (I to XXXIX, as in "Tổ dân phố III") become Arabic;
    Arabic numbers lose leading zeros ("05" -> "5"); other names are unchanged."""
    text = clean_text(values)
    # Upper case only: "Vi" or "Xi" may be a name, "VI" and "XI" are numbers.
    is_roman = text.str.fullmatch(r"X{0,3}(IX|IV|V?I{0,3})", na=False) & text.ne("")
    numerals = text[is_roman].map(_roman_value).astype("string")
    arabic = text.str.fullmatch(r"\d+", na=False)
    out = text.copy()
    out[is_roman] = numerals
    out[arabic] = text[arabic].str.lstrip("0").replace("", "0")
    return out


def _roman_value(numeral: str) -> str:
    total = 0
    for current, following in zip(numeral, [*numeral[1:], ""], strict=True):
        value = _ROMAN[current]
        total += -value if following and _ROMAN[following] > value else value
    return str(total)


@by_distinct_value
def person_name_case(values: pd.Series) -> pd.Series:
    """Trimmed, single-spaced, each word capitalised ("NGUYỄN  văn an" -> "Nguyễn Văn An")."""
    return clean_text(values).str.title()


def parse_int(values: pd.Series) -> pd.Series:
    """Counts such as "1.234" or "1,234" or "150"; anything else missing."""
    text = clean_text(values).str.replace(r"[.,\s](?=\d{3}\b)", "", regex=True)
    numbers = pd.to_numeric(text, errors="coerce")
    whole = numbers.where(np.isclose(numbers, np.round(numbers)))
    return whole.round().astype("Int64")
