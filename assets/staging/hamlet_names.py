"""Households that name their hamlet ("Thôn Cốc Chang", "TDP V") instead of giving its code.

An office's household list often says which hamlet in words. The name is resolved
against the hamlet registry, within the household's commune when the file gives its
code (else within the province), after the forms offices vary are set aside: the
prefix ("Thôn", "Xóm", "TDP"…, as ``split_hamlet_name`` splits it), case, Unicode form
(NFC/NFD), where the tone mark sits ("hoà"/"hòa") and numbering ("V", "05" and "5"
alike, by ``roman_to_arabic``). Only a name that points to exactly one hamlet is
resolved; a name that fits several, or none, is quarantined with the candidates listed,
never guessed. A match found only once diacritics are dropped ("Coc Chang") is
resolved with a warning: two hamlets may differ only by their marks.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass

import pandas as pd

from assets.staging.normalise import clean_text, roman_to_arabic, split_hamlet_name
from expectations.schemas import header_key

# Vietnamese tone marks (huyền, sắc, ngã, hỏi, nặng), as combining characters.
_TONES = frozenset("\u0300\u0301\u0303\u0309\u0323")
_WORDS = re.compile(r"[\W_]+")
RESOLVED = "resolved"  # one hamlet, by its name as written (diacritics included)
RESOLVED_FOLDED = "resolved_without_diacritics"  # one hamlet, only once marks are dropped
AMBIGUOUS = "ambiguous"
UNKNOWN = "unknown"
_CANDIDATES_SHOWN = 5


def _word_key(word: str) -> str:
    """A syllable with its tone mark moved to the end, so "hoà" and "hòa" meet."""
    decomposed = unicodedata.normalize("NFD", word)
    tones = "".join(sorted(c for c in decomposed if c in _TONES))
    bare = "".join(c for c in decomposed if c not in _TONES)
    return unicodedata.normalize("NFC", bare) + tones


def _exact_key(name: str) -> str:
    """A name compared with its diacritics: lower case, tone placement and spacing aside."""
    words = _WORDS.split(unicodedata.normalize("NFC", name).lower())
    return " ".join(_word_key(w) for w in words if w)


def _name_forms(names: pd.Series) -> pd.DataFrame:
    """Each name without its prefix (numbers as Arabic) and as written whole."""
    split = split_hamlet_name(names)
    return pd.DataFrame(
        {"bare": roman_to_arabic(split["hamlet_name"]), "whole": clean_text(names)},
        index=names.index,
    )


@dataclass(frozen=True)
class _Hamlet:
    code: str
    commune: str
    label: str  # as the registry names it, for the office to choose from


def _registry_index(hamlets: pd.DataFrame) -> tuple[dict, dict, list[_Hamlet]]:
    """Registry hamlets by exact key and by diacritic-free key (several keys each)."""
    prefix = clean_text(hamlets["name_prefix"]).fillna("")
    name = clean_text(hamlets["hamlet_name"]).fillna("")
    full = (prefix + " " + name).str.strip()
    forms = _name_forms(full)
    exact: dict[str, set[int]] = {}
    folded: dict[str, set[int]] = {}
    entries: list[_Hamlet] = []
    for i, (code, commune, label, bare, whole, plain) in enumerate(
        zip(
            hamlets["hamlet_code"].astype("string"),
            hamlets["commune_code"].astype("string"),
            full,
            forms["bare"].fillna(""),
            forms["whole"].fillna(""),
            name,
            strict=True,
        )
    ):
        entries.append(_Hamlet(str(code), str(commune), label))
        for text in {bare, whole, plain}:
            if text:
                exact.setdefault(_exact_key(text), set()).add(i)
                folded.setdefault(header_key(text), set()).add(i)
    return exact, folded, entries


def resolve_hamlet_names(
    names: pd.Series, communes: pd.Series, hamlets: pd.DataFrame
) -> pd.DataFrame:
    """Per household row: the ``hamlet_code`` its name points to (missing unless one
    hamlet fits), the ``resolution`` (resolved, resolved_without_diacritics, ambiguous,
    unknown; missing where there is no name) and, when not resolved, the ``reason``
    with the candidate hamlets (registry names and codes, never the text as written).

    ``communes`` holds each row's commune code where the file gives one; ``hamlets``
    is ``staging.hamlets`` (hamlet_code, commune_code, name_prefix, hamlet_name).
    """
    exact, folded, entries = _registry_index(hamlets)
    forms = _name_forms(names)
    commune = communes.astype("string").reindex(names.index)

    def text(value: object) -> str | None:
        return None if pd.isna(value) else str(value)

    keys = [
        (text(b), text(w), text(c)) if text(w) else None
        for b, w, c in zip(forms["bare"], forms["whole"], commune, strict=True)
    ]
    results = {
        key: _resolve_one({t for t in key[:2] if t}, key[2], exact, folded, entries)
        for key in dict.fromkeys(k for k in keys if k is not None)
    }
    picked = [results[k] if k is not None else (None, None, None) for k in keys]
    return pd.DataFrame(
        {
            column: pd.array([p[i] for p in picked], dtype="string")
            for i, column in enumerate(("hamlet_code", "resolution", "reason"))
        },
        index=names.index,
    )


def _resolve_one(
    texts: set[str],
    scope: str | None,
    exact: dict[str, set[int]],
    folded: dict[str, set[int]],
    entries: list[_Hamlet],
) -> tuple[str | None, str, str | None]:
    def within(found: set[int]) -> list[_Hamlet]:
        hits = [entries[i] for i in sorted(found)]
        return [h for h in hits if scope is None or h.commune == scope]

    where = f"commune {scope}" if scope else "the province"
    for index, key, outcome in (
        (exact, _exact_key, RESOLVED),
        (folded, header_key, RESOLVED_FOLDED),
    ):
        found: set[int] = set()
        for text in texts:
            found |= index.get(key(text), set())
        hits = list({h.code: h for h in within(found)}.values())
        if len(hits) == 1:
            return hits[0].code, outcome, None
        if len(hits) > 1:
            return (
                None,
                AMBIGUOUS,
                f"the hamlet name fits {len(hits)} hamlets of {where}: {_listed(hits)}; "
                "write the hamlet code (Mã thôn) instead (Tên thôn/TDP trùng nhiều thôn/TDP)",
            )
    pool = [h for h in entries if scope is None or h.commune == scope]
    wanted = [header_key(t) for t in texts]
    close = {
        h.code: h
        for h in pool
        for w in wanted
        if difflib.get_close_matches(w, [header_key(h.label)], n=1, cutoff=0.75)
    }
    nearest = f" (closest: {_listed(list(close.values()))})" if close else ""
    return (
        None,
        UNKNOWN,
        f"the hamlet name is not in the hamlet registry of {where}{nearest}; correct it "
        "or write the hamlet code (Mã thôn) (Tên thôn/TDP không có trong danh sách)",
    )


def _listed(hamlets: list[_Hamlet]) -> str:
    shown = ", ".join(f"{h.label} ({h.code})" for h in hamlets[:_CANDIDATES_SHOWN])
    more = len(hamlets) - _CANDIDATES_SHOWN
    return shown + (f" and {more} more" if more > 0 else "")
