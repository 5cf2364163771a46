"""Reference lists the data rules check values against, kept in one place.

The quality stage (record rules and Great Expectations suites) and the synthetic
generator both read these, so a code the generator writes is a code the rules accept.
"""

from __future__ import annotations

import csv
from importlib.resources import files

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
# Other relations household books record (in-laws, siblings, kin, lodgers…): valid, but
# their age relative to the head is not checked. A relation neither here, in
# RELATION_KINDS nor a way of writing the head is an invalid value to correct.
OTHER_RELATIONS: frozenset[str] = frozenset(
    header_key(label)
    for label in (
        "Anh", "Chị", "Em", "Anh trai", "Chị gái", "Em trai", "Em gái", "Anh ruột",
        "Chị ruột", "Em ruột", "Con dâu", "Con rể", "Con nuôi", "Con riêng", "Con chồng",
        "Con vợ", "Bố nuôi", "Mẹ nuôi", "Cha nuôi", "Cha đẻ", "Bố dượng", "Mẹ kế",
        "Bố chồng", "Mẹ chồng", "Bố vợ", "Mẹ vợ", "Cha chồng", "Cha vợ", "Ông", "Bà",
        "Ông nội", "Bà nội", "Ông ngoại", "Bà ngoại", "Cụ", "Chắt", "Chắt nội", "Chắt ngoại",
        "Chút", "Cháu ruột", "Cháu dâu", "Cháu rể", "Anh rể", "Em rể", "Chị dâu", "Em dâu",
        "Anh chồng", "Chị chồng", "Em chồng", "Anh vợ", "Chị vợ", "Em vợ", "Cô", "Dì",
        "Chú", "Bác", "Cậu", "Thím", "Mợ", "Dượng", "Người giúp việc", "Người ở nhờ",
        "Ở nhờ", "Ở ghép", "Người ở cùng", "Bạn", "Khác", "Quan hệ khác",
    )
)  # fmt: skip

# The 54 officially recognised ethnic groups and the explicit values for a foreign
# national and an unknown group, with the spellings records use (data/README.md).
ETHNIC_GROUPS_CSV = files("expectations").joinpath("data", "ethnic_groups.csv")


def _ethnic_groups() -> tuple[tuple[str, ...], dict[str, str]]:
    """Official names in code order, and every folded form -> its official name."""
    with ETHNIC_GROUPS_CSV.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(line for line in f if not line.startswith("#")))
    names = tuple(r["official_name"] for r in rows)
    forms: dict[str, str] = {}
    for r in rows:
        for form in (r["official_name"], *filter(None, r["aliases"].split("|"))):
            key = header_key(form)
            if forms.setdefault(key, r["official_name"]) != r["official_name"]:
                raise ValueError(f"{ETHNIC_GROUPS_CSV.name}: {form!r} names two groups")
    return names, forms


ETHNIC_GROUPS, ETHNIC_FORMS = _ethnic_groups()
FOREIGN_NATIONAL, ETHNICITY_UNKNOWN = "Người nước ngoài", "Không xác định"

# Mainland Việt Nam and its islands, with a margin (WGS84 degrees): a household point
# outside is a coordinate typo, most often latitude and longitude swapped.
VIETNAM_LONGITUDE = (102.0, 117.5)
VIETNAM_LATITUDE = (8.0, 23.5)
