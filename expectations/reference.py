"""Reference lists the data rules check values against, kept in one place.

The quality stage (record rules and Great Expectations suites) and the synthetic
generator both read these, so a code the generator writes is a code the rules accept.
"""

from __future__ import annotations

from expectations.schemas import header_key

# The 63 pre-2025 province codes. They persist in citizen IDs: the first three digits
# (PPP) are "0" + the old code of the province of birth registration (DOMAIN.md).
OLD_PROVINCE_CODES: tuple[str, ...] = (
    "01", "02", "04", "06", "08", "10", "11", "12", "14", "15", "17", "19", "20", "22",
    "24", "25", "26", "27", "30", "31", "33", "34", "35", "36", "37", "38", "40", "42",
    "44", "45", "46", "48", "49", "51", "52", "54", "56", "58", "60", "62", "64", "66",
    "67", "68", "70", "72", "74", "75", "77", "79", "80", "82", "83", "84", "86", "87",
    "89", "91", "92", "93", "94", "95", "96",
)  # fmt: skip

# The PPP part of a 12-digit citizen ID as it is written ("001" … "096").
CITIZEN_ID_PREFIXES: frozenset[str] = frozenset("0" + code for code in OLD_PROVINCE_CODES)

# Relation to the head of household, by key (``schemas.header_key``: case, diacritics,
# punctuation and spacing ignored): the kinds whose age relative to the head is known.
# Labels not listed (in-laws, "khác"…) are not checked for plausibility; the other ways
# offices write the head ("CH"…) are in ``assets.staging.normalise.HEAD_FORMS``.
HEAD = "head"
SPOUSE = "spouse"
CHILD = "child"
PARENT = "parent"
GRANDCHILD = "grandchild"
_RELATION_LABELS: dict[str, tuple[str, ...]] = {
    HEAD: ("Chủ hộ",),
    SPOUSE: ("Vợ", "Chồng"),
    CHILD: ("Con", "Con đẻ", "Con ruột"),
    PARENT: ("Bố", "Mẹ", "Cha", "Bố đẻ", "Mẹ đẻ"),
    GRANDCHILD: ("Cháu", "Cháu nội", "Cháu ngoại"),
}
RELATION_KINDS: dict[str, str] = {
    header_key(label): kind for kind, labels in _RELATION_LABELS.items() for label in labels
}

# Mainland Việt Nam and its islands, with a margin (WGS84 degrees): a household point
# outside is a coordinate typo, most often latitude and longitude swapped.
VIETNAM_LONGITUDE = (102.0, 117.5)
VIETNAM_LATITUDE = (8.0, 23.5)
