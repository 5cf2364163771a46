"""Hamlet sizes counted from clean records, and each hamlet's status against its standard.

Counts come from the records that passed quality checks, not from the registry's declared
figures (both are kept side by side so planners see the gap). The status says what the
law requires of the hamlet on its own; what to merge it with is decided in ``options``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from assets.planning.rules import HAMLET_KIND_LABELS_VI, RulesError, RulesProfile
from assets.staging.tables import kind_by_commune
from assets.warehouse import Warehouse
from expectations.schemas import TABLES, header_key

MEETS = "meets_standard"
BELOW_STANDARD = "below_standard"
BELOW_FLOOR = "below_mandatory_floor"
EXEMPT = "exempt"
# Art. 10.3 case the province has not yet given a floor for: below the standard, not
# compliant, not forced either until the province decides (DOMAIN.md).
AWAITING = "special_case_awaiting_guidance"
# Statuses whose unit the planner keeps alone when the special case is taken into
# account; without it, an awaiting unit is judged like any other (``without_special_cases``).
SPECIAL_STATUSES = (EXEMPT, AWAITING)
STATUS_LABELS_VI = {
    MEETS: "Đạt chuẩn",
    BELOW_STANDARD: "Dưới chuẩn",
    BELOW_FLOOR: "Dưới ngưỡng bắt buộc sắp xếp",
    EXEMPT: "Diện đặc thù, đạt mức riêng của tỉnh",
    AWAITING: "Dưới chuẩn — diện đặc thù, chờ hướng dẫn của tỉnh",
}


def count_hamlet_sizes(
    households: pd.DataFrame,
    persons_clean: pd.DataFrame,
    reference: Callable[[pd.Series], pd.Series] | None = None,
) -> pd.DataFrame:
    """Households (with at least one clean person) and clean persons per hamlet.

    A household whose every member was quarantined does not count: the standard is about
    people who actually live there, and quarantined records are not yet trusted. Persons
    whose household is not in ``households`` cannot be placed and are left out here (the
    quality stage reports them). ``persons_clean`` is one row per clean person
    (``household_id``), or one per household with its clean ``persons`` already counted
    (``clean_persons_per_household``: a million person rows need not leave the
    warehouse).

    ``household_id`` is personal and an error message reaches the run log, so repeated
    households are named only by their keyed ``reference`` (``assets.privacy``), if given.
    """
    dup = households["household_id"].duplicated(keep=False)
    if dup.any():
        repeated = households.loc[dup, "household_id"].drop_duplicates()
        shown = f" (references e.g. {reference(repeated.head(3)).tolist()})" if reference else ""
        raise ValueError(
            f"households: household_id must be unique; {len(repeated)} repeated{shown}; "
            "the quality stage should have quarantined them"
        )
    if "persons" in persons_clean:
        counted = persons_clean[["household_id", "persons"]]
    else:
        counted = (
            persons_clean.groupby("household_id", dropna=False, sort=False)
            .size()
            .rename("persons")
            .reset_index()
        )
    placed = counted.merge(
        households[["household_id", "hamlet_code"]], on="household_id", how="inner"
    )
    sizes = (
        placed.groupby("hamlet_code", sort=True)
        .agg(households=("household_id", "nunique"), population=("persons", "sum"))
        .reset_index()
    )
    return sizes.astype({"hamlet_code": "string", "households": "Int64", "population": "Int64"})


def clean_persons_per_household(warehouse: Warehouse) -> pd.DataFrame:
    """household_id, persons: the clean person records of each household of the
    warehouse's province, counted where they are stored."""
    persons, params = warehouse.rows_filter("quality.persons_clean")
    with warehouse.connect(read_only=warehouse.kind == "duckdb") as con:
        return con.query_df(
            "SELECT household_id, count(*) AS persons FROM quality.persons_clean "
            f"WHERE {persons} GROUP BY household_id",
            params,
        )


def hamlet_compliance(
    hamlets: pd.DataFrame,
    sizes: pd.DataFrame,
    province_code: str,
    rules: RulesProfile,
) -> pd.DataFrame:
    """Each hamlet's counted size against the standard of its commune's region and kind.

    Status, in order of precedence (Art. 10.3 allows special cases to be smaller than the
    standard, by as much as the province sets, never exempts them):
    - ``special_case_awaiting_guidance``: in a category the profile recognises, below the
      standard, and the province has not set the category's floor (not compliant, and
      not forced either until it does);
    - ``exempt``: in such a category whose floor is set (``RulesProfile.special_floor_for``),
      below the standard but at or above the floor; below the floor it is
      ``below_mandatory_floor`` like any other unit (the floor becomes its standard);
    - ``below_mandatory_floor``: fewer households than the mandatory floor (must be
      rearranged);
    - ``below_standard``: under the standard but above the floor (encouraged only);
    - ``meets_standard``.
    Hamlets absent from ``sizes`` count 0 households. Sizes of hamlet codes that are not
    in ``hamlets`` are ignored (the quality stage reports households of unknown hamlets).
    """
    df = pd.DataFrame(
        {
            "hamlet_code": hamlets["hamlet_code"].astype("string").to_numpy(),
            "commune_code": hamlets["commune_code"].astype("string").to_numpy(),
            "hamlet_kind": hamlets["hamlet_kind"].astype("string").to_numpy(),
            "declared_households": hamlets["declared_households"].astype("Int64").to_numpy(),
            "exemption_category": hamlets["exemption_category"].astype("object").to_numpy(),
        }
    )
    bad_kind = ~df["hamlet_kind"].isin(list(HAMLET_KIND_LABELS_VI))
    if bad_kind.any():
        raise ValueError(
            f"hamlets: hamlet_kind must be one of {list(HAMLET_KIND_LABELS_VI)}; "
            f"got {df.loc[bad_kind, 'hamlet_kind'].unique().tolist()[:5]} "
            f"for hamlets {df.loc[bad_kind, 'hamlet_code'].head(5).tolist()}"
        )
    counted = sizes[["hamlet_code", "households", "population"]].astype({"hamlet_code": "string"})
    df = df.merge(counted, on="hamlet_code", how="left", validate="one_to_one")
    df["households"] = df["households"].fillna(0).astype("int64")
    df["population"] = df["population"].fillna(0).astype("int64")

    # The region of the standard is the commune's (a province's override may list
    # communes of another region); default: the province's.
    communes = df["commune_code"].dropna().unique()
    region_of = {c: rules.region_for_commune(province_code, str(c)) for c in communes}
    region = df["commune_code"].map(region_of).fillna(rules.region_for(province_code))
    pairs = zip(region, df["hamlet_kind"], strict=True)
    std = pd.Series(
        [rules.standard_for(r, k, province_code) for r, k in pairs], index=df.index, dtype="int64"
    )
    pairs = zip(region, df["hamlet_kind"], strict=True)
    floor = pd.Series(
        [rules.mandatory_floor_for(r, k, province_code) for r, k in pairs],
        index=df.index,
        dtype="int64",
    )
    region_vi = region.map(rules.region_label)
    key, recognised, foreign = _resolve_exemptions(df, rules)
    key, recognised, foreign, source, registry_said = _with_category_lists(
        df, key, recognised, foreign, region, rules, province_code
    )
    df["exemption_category"] = key
    df["special_category_source"] = source
    df["registry_special_category"] = registry_said

    h = df["households"]
    special = pd.Series(
        [
            rules.special_floor_for(str(k), r, str(kind), province_code) if ok else None
            for k, r, kind, ok in zip(key, region, df["hamlet_kind"], recognised, strict=True)
        ],
        index=df.index,
        dtype="Int64",
    )
    has_floor = recognised & special.notna()
    awaiting = recognised & special.isna() & (h < std)
    # With its floor set, the category carries its own (lower) standard; its mandatory
    # floor follows the profile's share as any other unit's does (ND 185: the floor
    # itself; TT 04: half of it), and below that the hamlet must merge like any other.
    category_std = special.fillna(0).astype("int64")
    exempt = has_floor & (h >= category_std) & (h < std)
    std = std.where(~has_floor, category_std)
    floor = floor.where(~has_floor, category_std.map(rules.mandatory_floor_of))
    category_floor = has_floor & (h < floor)
    below_floor = ~exempt & ~awaiting & (h < floor)
    below_std = ~exempt & ~awaiting & ~below_floor & (h < std)
    status = np.select(
        [awaiting, exempt, below_floor, below_std],
        [AWAITING, EXEMPT, BELOW_FLOOR, BELOW_STANDARD],
        MEETS,
    )

    df["region"] = region
    df["standard_households"] = std
    df["mandatory_floor_households"] = floor
    df["compliance_status"] = status
    df["compliance_reason"] = _reasons(df, category_floor, foreign, region_vi, rules)
    # Where each category comes from travels with the reason into marts and exports.
    df["compliance_reason"] = df["compliance_reason"].mask(
        source.notna(), df["compliance_reason"] + "; nguồn xác định diện: " + source
    )
    df["compliance_reason"] = df["compliance_reason"].mask(
        registry_said.notna(), df["compliance_reason"] + _disagreement(df, registry_said, rules)
    )
    df["rules_profile"] = rules.name
    df = df.sort_values(["commune_code", "hamlet_code"], kind="stable").reset_index(drop=True)
    return TABLES["planning.hamlet_compliance"].enforce(df)


def without_special_cases(compliance: pd.DataFrame) -> pd.DataFrame:
    """The reading that does not count special cases still awaiting the province: each
    such hamlet judged on the ordinary standard and floor its row already carries, so the
    planner sees what would have to merge if the province set no lower floor."""
    out = compliance.copy()
    awaiting = out["compliance_status"].eq(AWAITING)
    below_floor = out["households"] < out["mandatory_floor_households"]
    out.loc[awaiting, "compliance_status"] = np.where(
        below_floor[awaiting], BELOW_FLOOR, BELOW_STANDARD
    )
    return out


def with_commune_kinds(hamlets: pd.DataFrame, communes: pd.DataFrame) -> pd.DataFrame:
    """Hamlets with the kind their commune makes them: thôn in a xã, tổ dân phố in a
    phường (Art. 2.3, 10.2), whatever the registry wrote (quality reports the mismatch);
    so standards and merged units follow the commune. A đặc khu keeps the registry's."""
    by_commune = kind_by_commune(hamlets["commune_code"], communes)
    return hamlets.assign(
        hamlet_kind=by_commune.fillna(hamlets["hamlet_kind"].astype("string")).to_numpy()
    )


def region_by_commune(compliance: pd.DataFrame) -> pd.Series:
    """Region whose standard each commune's hamlets were held to, by commune code (the
    commune's own where the province's override lists it), for marts and exports."""
    first = compliance.drop_duplicates("commune_code")
    return pd.Series(
        first["region"].astype("string").to_numpy(),
        index=first["commune_code"].astype("string").to_numpy(),
        name="region",
    )


def format_count(values: pd.Series) -> pd.Series:
    """Integers as Vietnamese text: '.' groups thousands (1.250), vectorised."""
    return values.astype("int64").astype(str).str.replace(r"\B(?=(\d{3})+(?!\d))", ".", regex=True)


REGISTRY_SOURCE_VI = "Sổ đăng ký thôn, tổ dân phố"
LIST_SOURCE_VI = "Danh sách của tỉnh: "


def _with_category_lists(
    df: pd.DataFrame,
    key: pd.Series,
    recognised: pd.Series,
    foreign: pd.Series,
    region: pd.Series,
    rules: RulesProfile,
    province_code: str,
) -> tuple[pd.Series, pd.Series, pd.Series, pd.Series, pd.Series]:
    """Each hamlet's Art. 10.3 category, its source, and the registry's value where the
    province's lists say otherwise.

    The province's lists win: each is a document with its source, while the registry's
    column is typed by hand. A list decides its category: a hamlet the registry puts in
    a category whose list does not name it (or names it under another) takes the lists'
    reading, and the registry's value is kept aside as a data issue to correct. A hamlet
    several lists name takes the most lenient category (the lowest floor; a floor the
    province has not set counts lowest: it awaits guidance), as Art. 10.3 allows each.
    """
    listed = rules.listed_categories(df["hamlet_code"], df["commune_code"])
    key, recognised, foreign = key.astype(object).copy(), recognised.copy(), foreign.copy()
    source = pd.Series(pd.NA, index=df.index, dtype="object")
    source[key.notna()] = REGISTRY_SOURCE_VI
    registry_said = pd.Series(pd.NA, index=df.index, dtype="object")
    for i, cats in enumerate(listed.to_numpy()):
        own = None if pd.isna(key.iloc[i]) else str(key.iloc[i])
        special = [c for c in rules.exemption_categories if c in cats]
        if not special:
            if own is not None and own in rules.category_lists:
                key.iloc[i], source.iloc[i], registry_said.iloc[i] = pd.NA, pd.NA, own
                recognised.iloc[i] = foreign.iloc[i] = False
            continue

        def floor(category: str, row: int = i) -> float:
            got = rules.special_floor_for(
                category, region.iloc[row], str(df["hamlet_kind"].iloc[row]), province_code
            )
            return -1.0 if got is None else float(got)

        chosen = own if own in special else min(special, key=floor)
        if own is not None and own not in special:
            registry_said.iloc[i] = own
        key.iloc[i], recognised.iloc[i], foreign.iloc[i] = chosen, True, False
        source.iloc[i] = LIST_SOURCE_VI + str(rules.category_lists[chosen]["source"])
    return (
        key.astype("string"),
        recognised.astype(bool),
        foreign.astype(bool),
        source.astype("string"),
        registry_said.astype("string"),
    )


def _disagreement(df: pd.DataFrame, registry_said: pd.Series, rules: RulesProfile) -> pd.Series:
    """The registry's category beside the lists' reading, to be corrected in the registry."""
    labels = {**rules.known_exemption_categories, **rules.exemption_categories}
    said = registry_said.astype(object).map(lambda k: labels.get(k, k))
    applied = (
        df["exemption_category"]
        .astype(object)
        .map(lambda k: "không ghi diện nào" if pd.isna(k) else "ghi diện " + labels.get(k, k))
    )
    return (
        "; sổ đăng ký ghi diện " + said.astype(str) + ", danh sách của tỉnh "
        + applied + ": áp dụng danh sách của tỉnh, cần sửa sổ đăng ký"
    )  # fmt: skip


def _resolve_exemptions(
    df: pd.DataFrame, rules: RulesProfile
) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Map each exemption value to (key, recognised by this profile, known elsewhere).

    A key that another profile of the rules file defines (e.g. ``divided_terrain`` under
    the older regime) is kept but does not exempt; text no profile knows raises, because
    a typo must not silently cost a hamlet its exemption.
    """
    raw = df["exemption_category"]
    key = pd.Series(pd.NA, index=df.index, dtype="object")
    recognised = pd.Series(False, index=df.index)
    foreign = pd.Series(False, index=df.index)
    other = {header_key(k): k for k in rules.known_exemption_categories}
    other.update({header_key(v): k for k, v in rules.known_exemption_categories.items()})
    for value in raw.dropna().unique():
        rows = raw.eq(value).fillna(False).astype(bool)
        try:
            resolved = rules.exemption_key(value)
        except RulesError as exc:
            known_key = other.get(header_key(value))
            if known_key is None:
                codes = df.loc[rows, "hamlet_code"].head(5).tolist()
                raise RulesError(f"hamlets {codes}: {exc}") from None
            key[rows] = known_key
            if known_key in rules.exemption_categories:  # another profile's label for it
                recognised |= rows
            else:
                foreign |= rows
            continue
        if resolved is not None:
            key[rows] = resolved
            recognised |= rows
    return key.astype("string"), recognised, foreign


def _reasons(
    df: pd.DataFrame,
    category_floor: pd.Series,
    foreign: pd.Series,
    region_vi: pd.Series,
    rules: RulesProfile,
) -> pd.Series:
    """Short Vietnamese sentence per hamlet: figures, kind, region and legal basis."""
    h = format_count(df["households"])
    std = format_count(df["standard_households"])
    floor = format_count(df["mandatory_floor_households"])
    kind_vi = df["hamlet_kind"].astype(str).map(HAMLET_KIND_LABELS_VI)
    where = kind_vi + ", " + region_vi + "; "
    cite_std = " (" + where + rules.citations["standard"] + ")"
    cite_mand = " (" + where + rules.citations["mandatory"] + ")"
    pct = f"{rules.mandatory_floor_share * 100:g}".replace(".", ",")
    label = df["exemption_category"].astype(object).map(rules.exemption_categories).fillna("")
    cite_ex = " (" + rules.citations["exemption"] + ")"
    status = df["compliance_status"]
    floor_is_std = df["mandatory_floor_households"].eq(df["standard_households"])

    reason = pd.Series(h + " hộ ≥ tiêu chuẩn " + std + " hộ" + cite_std + ": đạt chuẩn")
    below_std = h + " hộ < tiêu chuẩn " + std + " hộ nhưng ≥ ngưỡng bắt buộc " + floor + " hộ"
    reason = reason.mask(status.eq(BELOW_STANDARD), below_std + cite_std + ": khuyến khích sắp xếp")
    floor_std = h + " hộ < tiêu chuẩn " + std + " hộ" + cite_mand + ": phải sắp xếp"
    floor_share = (
        h + " hộ < ngưỡng bắt buộc " + floor + " hộ (" + pct + "% tiêu chuẩn " + std + " hộ; "
        + where + rules.citations["mandatory"] + "): phải sắp xếp"
    )  # fmt: skip
    reason = reason.mask(status.eq(BELOW_FLOOR) & floor_is_std, floor_std)
    reason = reason.mask(status.eq(BELOW_FLOOR) & ~floor_is_std, floor_share)
    exempt = (
        "Diện đặc thù: " + label + cite_ex + ": " + h + " hộ ≥ tiêu chuẩn " + std
        + " hộ của diện này"
    )  # fmt: skip
    reason = reason.mask(status.eq(EXEMPT), exempt)
    awaiting = (
        "Diện đặc thù: " + label + cite_ex + ": " + h + " hộ < tiêu chuẩn " + std + " hộ ("
        + where + rules.citations["standard"] + "); tỉnh chưa quy định mức thấp hơn cho diện "
        "này: dưới chuẩn — chờ hướng dẫn của tỉnh"
    )  # fmt: skip
    reason = reason.mask(status.eq(AWAITING), awaiting)
    below_category = (
        "Diện đặc thù: " + label + " nhưng " + h + " hộ < tiêu chuẩn " + std
        + " hộ của diện này" + cite_ex + ": phải sắp xếp"
    )  # fmt: skip
    reason = reason.mask(category_floor, below_category)
    not_here = "; diện " + df["exemption_category"].astype(str) + " không được miễn theo "
    reason = reason.mask(foreign, reason + not_here + rules.title_vi)
    return reason


# The columns of planning.hamlet_compliance every planner reads.
COMPLIANCE_INPUT_COLUMNS = (
    "hamlet_code",
    "commune_code",
    "hamlet_kind",
    "households",
    "standard_households",
    "mandatory_floor_households",
    "exemption_category",
    "compliance_status",
    "rules_profile",
)


def check_compliance_input(
    compliance: pd.DataFrame, rules: RulesProfile, required: Sequence[str], caller: str
) -> None:
    """A planner's compliance input: the columns it needs, computed under ``rules``, one
    row per hamlet; otherwise a ValueError naming the caller and the problem."""
    missing = [c for c in required if c not in compliance.columns]
    if missing:
        raise ValueError(f"{caller}: compliance lacks columns {missing}")
    profiles = set(compliance["rules_profile"].dropna().astype(str))
    if profiles - {rules.name}:
        raise ValueError(
            f"{caller}: compliance was computed under {sorted(profiles)}, "
            f"not under the rules profile given ({rules.name})"
        )
    dup = compliance["hamlet_code"].duplicated()
    if dup.any():
        examples = compliance.loc[dup, "hamlet_code"].head(5).tolist()
        raise ValueError(f"{caller}: duplicated hamlet_code in compliance {examples}")
