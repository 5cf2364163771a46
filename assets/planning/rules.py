"""Rules profiles: the legal size standards the planning stage applies, loaded from data.

The figures live in ``hamlets_config/rules_profiles.yaml`` (several come from a single legal
source and must stay configurable), so this module only reads, validates and looks them
up. A province may pass an override file of the same structure; it is deep-merged over
the base file (mappings merge key by key, anything else is replaced), which lets a
province move itself to another region or adjust a profile's figures without copying
the whole file. Every validation error names the file and the key path, so whoever
edits the YAML can find the line.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from expectations.schemas import header_key
from hamlets_config import data_path

DEFAULT_RULES_PATH = data_path("rules_profiles.yaml")
# Shipped files are shown by their package path (hamlets_config/...), wherever installed.
_SHIPPED_ROOT = DEFAULT_RULES_PATH.resolve().parents[1]

HAMLET_KINDS = ("thon", "to_dan_pho")
HAMLET_KIND_LABELS_VI = {"thon": "thôn", "to_dan_pho": "tổ dân phố"}
SUPPORTED_VERSIONS = (1,)

_PROFILE_REQUIRED = (
    "title_vi",
    "legal_basis",
    "standard_households",
    "mandatory_floor_share",
    "exemption_categories",
    "exempt_floor_households",
    "part_time_positions_per_unit",
    "allowance_basis",
    "allowance_multiplier_high",
    "allowance_multiplier_standard",
    "allowance_high_tier_households",
    "base_salary_vnd_per_month",
    "consultation_approval_share",
)
_PROFILE_OPTIONAL = (
    "effective_from",
    "citations",
    "consolidated_target_households",
    "score_weights",
    "allowance_high_tier_categories",
    "category_lists",
    "consultation_rule_basis",
    "province_standard_households",
    "special_case_floors",
)
_FLOOR_FORMS = ("households", "share")
_CITATION_KEYS = ("standard", "mandatory", "exemption")
_TOP_LEVEL = ("version", "default_profile", "province_regions", "region_labels_vi", "profiles")
# Optional top-level keys: communes whose region differs from their province's.
_TOP_LEVEL_OPTIONAL = ("commune_regions",)


class RulesError(ValueError):
    """The rules file is malformed, or a lookup asks for something it does not define."""


@dataclass(frozen=True)
class BaseSalary:
    """One base-salary (lương cơ sở) step: the amount in force from a date."""

    effective_from: date
    amount_vnd: int
    basis: str


@dataclass(frozen=True)
class RulesProfile:
    """One legal regime (e.g. ND 185/2026) resolved against the province/region tables.

    ``citations`` holds the short references quoted in Vietnamese reasons (standard,
    mandatory rearrangement, exemption); they default to ``title_vi`` when the file does
    not give them.
    """

    name: str
    title_vi: str
    legal_basis: str
    effective_from: date | None
    standard_households: dict[str, dict[str, int]]
    mandatory_floor_share: float
    exemption_categories: dict[str, str]
    exempt_floor_households: int | None
    part_time_positions_per_unit: int
    allowance_basis: str
    allowance_multiplier_high: float
    allowance_multiplier_standard: float
    allowance_high_tier_households: dict[str, int]
    base_salary_vnd_per_month: tuple[BaseSalary, ...]
    # None: the profile sets no approval share (ND 185/2026); the province's override does.
    consultation_approval_share: float | None
    province_regions: dict[str, str]
    region_labels_vi: dict[str, str]
    citations: dict[str, str]
    known_exemption_categories: dict[str, str]
    source: str
    # Households per unit the consolidated option aims for (default: the allowance tier).
    consolidated_target_households: dict[str, int] | None = None
    # Weight of each score in the composite (``assets.planning.scores``); None: defaults.
    score_weights: dict[str, float] | None = None
    # Categories whose units get the high allowance whatever their size (key -> label).
    allowance_high_tier_categories: dict[str, str] = field(default_factory=dict)
    # The province's lists of communes and hamlets per category, one mechanism for the
    # Art. 10.3 categories and the allowance ones: category -> {"communes": [...],
    # "hamlets": [...], "source": "the decision that lists them"}.
    category_lists: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The file that set each list (base rules file or the province's override).
    category_list_files: dict[str, str] = field(default_factory=dict)
    # Who set the consultation share and in which document (shown with every result).
    consultation_rule_basis: str | None = None
    # Per-province figures that replace the region's (province code -> kind -> households).
    province_standard_households: dict[str, dict[str, int]] = field(default_factory=dict)
    # Art. 10.3 floor per category, as ("households", N) or ("share", S) of the standard,
    # or None while the province has not set it (``special_floor_for``).
    special_case_floors: dict[str, tuple[str, float] | None] | None = None

    def special_floor_for(
        self, category: str, region: str, hamlet_kind: str, province_code: str | None = None
    ) -> int | None:
        """Households a unit of this special category must reach, or None if not yet set.

        Art. 10.3 lets such a unit be smaller than the standard, by as much as the
        province decides: its override sets ``special_case_floors`` per category. A
        profile's ``exempt_floor_households`` (tt04's 100 households) is the floor of
        every category the override leaves unset. Never above the standard itself.
        """
        std = self.standard_for(region, hamlet_kind, province_code)
        form = (self.special_case_floors or {}).get(category)
        if form is None:
            if self.exempt_floor_households is None:
                return None
            return min(std, self.exempt_floor_households)
        how, value = form
        if how == "share":
            return math.ceil(round(std * value, 9))
        return min(std, int(value))

    # Region of each commune listed in ``commune_regions`` (others follow their province).
    commune_regions: dict[str, str] | None = None

    def region_for(self, province_code: str) -> str:
        """Region (vùng) of a 2-digit province code, as the rules file maps it."""
        if not isinstance(province_code, str):
            raise RulesError(
                f"province code must be text such as '04', got {province_code!r} "
                f"({type(province_code).__name__}); leading zeros are significant"
            )
        try:
            return self.province_regions[province_code]
        except KeyError:
            raise RulesError(
                f"{self.source}: province_regions has no province {province_code!r}; "
                f"known codes: {', '.join(sorted(self.province_regions))}"
            ) from None

    def region_for_commune(self, province_code: str, commune_code: str) -> str:
        """Region of the standard for one commune: the one its province's override lists
        it under (post-2025 provinces join areas of two regions), else its province's."""
        listed = (self.commune_regions or {}).get(str(commune_code))
        return listed if listed is not None else self.region_for(province_code)

    def region_label(self, region: str) -> str:
        """Vietnamese name of a region, for reasons and exports."""
        try:
            return self.region_labels_vi[region]
        except KeyError:
            raise RulesError(
                f"{self.source}: unknown region {region!r}; "
                f"known: {', '.join(sorted(self.region_labels_vi))}"
            ) from None

    def standard_for(self, region: str, hamlet_kind: str, province_code: str | None = None) -> int:
        """Minimum households for a unit of this kind in this region (or, where the
        profile gives figures for the province itself, the province's)."""
        if hamlet_kind not in HAMLET_KINDS:
            raise RulesError(
                f"unknown hamlet kind {hamlet_kind!r}; known: {', '.join(HAMLET_KINDS)}"
            )
        if province_code in self.province_standard_households:
            return self.province_standard_households[province_code][hamlet_kind]
        try:
            by_kind = self.standard_households[region]
        except KeyError:
            raise RulesError(
                f"{self.source}: profiles.{self.name}.standard_households has no region "
                f"{region!r}; known: {', '.join(sorted(self.standard_households))}"
            ) from None
        return by_kind[hamlet_kind]

    def mandatory_floor_for(
        self, region: str, hamlet_kind: str, province_code: str | None = None
    ) -> int:
        """Households below which rearrangement is mandatory: ceil(standard × share)."""
        return self.mandatory_floor_of(self.standard_for(region, hamlet_kind, province_code))

    def mandatory_floor_of(self, standard: int) -> int:
        """ceil(standard × share): the mandatory floor of any standard, a special
        category's lower one included, so both follow the same rule."""
        # Round first so that e.g. 150 × 0.7 = 104.99999… does not ceil to 106.
        return math.ceil(round(standard * self.mandatory_floor_share, 9))

    def exemption_key(self, label_or_key: str | None) -> str | None:
        """Key of an exemption category given its key or its Vietnamese label.

        Labels are matched after NFC, case and diacritics folding (registries type them
        by hand). Missing/blank input means no exemption. Text that is neither a key nor
        a label of this profile raises, naming the value and the known labels.
        """
        if label_or_key is None or (not isinstance(label_or_key, str) and pd.isna(label_or_key)):
            return None
        text = str(label_or_key)
        if not text.strip():
            return None
        if text in self.exemption_categories:
            return text
        wanted = header_key(text)
        for key, label in self.exemption_categories.items():
            if wanted in (header_key(key), header_key(label)):
                return key
        known = "; ".join(f"{k} = {v!r}" for k, v in self.exemption_categories.items())
        raise RulesError(
            f"unknown exemption category {text!r} under rules profile {self.name}; "
            f"known categories: {known or 'none'}"
        )

    def base_salary_on(self, day: date) -> int:
        """Base salary (VND/month) in force on ``day``."""
        in_force = [s for s in self.base_salary_vnd_per_month if s.effective_from <= day]
        if not in_force:
            first = self.base_salary_vnd_per_month[0].effective_from
            raise RulesError(f"profile {self.name}: no base salary before {first.isoformat()}")
        return in_force[-1].amount_vnd

    def listed_categories(self, hamlet_code: pd.Series, commune_code: pd.Series) -> pd.Series:
        """Each hamlet's categories from the province's lists (a frozenset of keys): the
        lists naming the hamlet itself or its commune."""
        hamlets, communes = hamlet_code.astype(str), commune_code.astype(str)
        sets: list[set[str]] = [set() for _ in range(len(hamlet_code))]
        for key, listed in self.category_lists.items():
            named = hamlets.isin(listed.get("hamlets") or []) | communes.isin(
                listed.get("communes") or []
            )
            for i in np.flatnonzero(named.to_numpy()):
                sets[i].add(key)
        return pd.Series([frozenset(x) for x in sets], index=hamlet_code.index, dtype=object)

    def check_list_codes(self, hamlet_code: pd.Series, commune_code: pd.Series) -> None:
        """Every code of the province's lists must be a hamlet or commune of the registry:
        a typo would silently drop a unit from its category. Raises RulesError naming the
        file, the list and the position of the first unknown code of each part."""
        known = {
            "hamlets": set(hamlet_code.dropna().astype(str)),
            "communes": set(commune_code.dropna().astype(str)),
        }
        problems = []
        for key, listed in self.category_lists.items():
            for part in ("communes", "hamlets"):
                codes = listed.get(part) or []
                unknown = [(i, c) for i, c in enumerate(codes) if c not in known[part]]
                if unknown:
                    i, code = unknown[0]
                    problems.append(
                        f"{self.category_list_files.get(key, self.source)}: profiles."
                        f"{self.name}.category_lists.{key}.{part}[{i}] = {code!r} is not a "
                        f"{part[:-1]} of the registry ({len(unknown)} unknown in this list)"
                    )
        if problems:
            raise RulesError("; ".join(problems))

    def allowance_categories(
        self, hamlet_code: pd.Series, commune_code: pd.Series, exemption_category: pd.Series
    ) -> pd.Series:
        """Each hamlet's allowance categories (a frozenset of keys): its own special
        category plus those of the province's lists naming it or its commune."""
        own = exemption_category.astype(object).where(exemption_category.notna(), None)
        listed = self.listed_categories(hamlet_code, commune_code)
        return pd.Series(
            [
                cats | ({str(v)} if v is not None else set())
                for v, cats in zip(own, listed, strict=True)
            ],
            index=hamlet_code.index,
            dtype=object,
        )

    def allowance_multipliers(
        self, households: pd.Series, hamlet_kind: pd.Series, categories: pd.Series
    ) -> pd.Series:
        """Allowance multiplier per unit (ND 185/2026 Art. 15 under nd185_2026): the high
        one at or above the kind's household tier or with any high-tier category, the
        standard one otherwise. The one place a tier is decided."""
        tier = hamlet_kind.astype(object).map(self.allowance_high_tier_households)
        high_cats = frozenset(self.allowance_high_tier_categories)
        by_category = categories.map(lambda cats: bool(high_cats & frozenset(cats or ())))
        high = (households.astype(float) >= tier.astype(float)).to_numpy() | by_category.to_numpy(
            dtype=bool
        )
        multiplier = np.where(
            high, self.allowance_multiplier_high, self.allowance_multiplier_standard
        )
        return pd.Series(multiplier, index=households.index)

    def monthly_fund_vnd(
        self, households: pd.Series, hamlet_kind: pd.Series, categories: pd.Series, on: date
    ) -> pd.Series:
        """Each unit's monthly allowance fund in VND: multiplier × base salary on ``on``."""
        multiplier = self.allowance_multipliers(households, hamlet_kind, categories)
        return multiplier * self.base_salary_on(on)

    def hamlet_funds_vnd(self, hamlets: pd.DataFrame, on: date) -> pd.Series:
        """Each hamlet's monthly fund today (every hamlet its own unit), from a frame with
        hamlet_code, commune_code, exemption_category, households and hamlet_kind."""
        categories = self.allowance_categories(
            hamlets["hamlet_code"], hamlets["commune_code"], hamlets["exemption_category"]
        )
        return self.monthly_fund_vnd(hamlets["households"], hamlets["hamlet_kind"], categories, on)


def load_rules(
    profile: str | None = None,
    path: Path | None = None,
    override_path: Path | None = None,
) -> RulesProfile:
    """Read, merge and validate the rules file(s) and return one profile.

    ``profile`` defaults to the file's ``default_profile``. The whole file is validated,
    not just the chosen profile, so a typo anywhere fails on the first run.
    """
    path = Path(path) if path is not None else DEFAULT_RULES_PATH
    base = _read_yaml(path)
    origins: dict[tuple[str, ...], str] = {}
    data = base
    if override_path is not None:
        override_path = Path(override_path)
        override = _read_yaml(override_path)
        data = _deep_merge(base, override, (), origins, _display(override_path))
    checker = _Checker(_display(path), origins)
    doc = checker.validate(data)
    name = profile if profile is not None else doc["default_profile"]
    if name not in doc["profiles"]:
        raise RulesError(
            f"{_display(path)}: unknown rules profile {name!r}; "
            f"known profiles: {', '.join(sorted(doc['profiles']))}"
        )
    known_exemptions: dict[str, str] = {}
    for prof in doc["profiles"].values():
        for key, label in (prof["exemption_categories"] or {}).items():
            known_exemptions.setdefault(key, label)
    p = doc["profiles"][name]
    title = p["title_vi"]
    citations = {k: p.get("citations", {}).get(k, title) for k in _CITATION_KEYS}
    source = _display(path) + (f" + {_display(override_path)}" if override_path else "")
    return RulesProfile(
        name=name,
        title_vi=title,
        legal_basis=p["legal_basis"],
        effective_from=p.get("effective_from"),
        standard_households={r: dict(v) for r, v in p["standard_households"].items()},
        mandatory_floor_share=float(p["mandatory_floor_share"]),
        exemption_categories=dict(p["exemption_categories"] or {}),
        exempt_floor_households=p["exempt_floor_households"],
        part_time_positions_per_unit=p["part_time_positions_per_unit"],
        allowance_basis=p["allowance_basis"],
        allowance_multiplier_high=float(p["allowance_multiplier_high"]),
        allowance_multiplier_standard=float(p["allowance_multiplier_standard"]),
        allowance_high_tier_households=dict(p["allowance_high_tier_households"]),
        base_salary_vnd_per_month=tuple(
            BaseSalary(s["from"], s["amount_vnd"], s["basis"])
            for s in p["base_salary_vnd_per_month"]
        ),
        consultation_approval_share=(
            None
            if p["consultation_approval_share"] is None
            else float(p["consultation_approval_share"])
        ),
        province_regions=dict(doc["province_regions"]),
        region_labels_vi=dict(doc["region_labels_vi"]),
        citations=citations,
        known_exemption_categories=known_exemptions,
        source=source,
        consolidated_target_households=(
            dict(p["consolidated_target_households"])
            if p.get("consolidated_target_households")
            else None
        ),
        score_weights=(
            {k: float(v) for k, v in p["score_weights"].items()} if p.get("score_weights") else None
        ),
        allowance_high_tier_categories=dict(p.get("allowance_high_tier_categories") or {}),
        category_lists={k: dict(v) for k, v in (p.get("category_lists") or {}).items()},
        category_list_files={
            str(k): checker.origin(("profiles", name, "category_lists", str(k)))
            for k in p.get("category_lists") or {}
        },
        consultation_rule_basis=p.get("consultation_rule_basis"),
        province_standard_households={
            code: dict(v) for code, v in (p.get("province_standard_households") or {}).items()
        },
        special_case_floors={
            str(k): _floor_form(v) for k, v in (p.get("special_case_floors") or {}).items()
        },
        commune_regions={
            code: region
            for region, codes in (doc.get("commune_regions") or {}).items()
            for code in codes
        },
    )


def _floor_form(value: Mapping[str, Any] | None) -> tuple[str, float] | None:
    """A validated ``special_case_floors`` entry as (form, value), None when unset."""
    if value is None:
        return None
    (how, figure), *_ = value.items()
    return str(how), float(figure)


# --- reading and merging -------------------------------------------------------------


def _display(path: Path) -> str:
    """Path as users know it: a shipped file by its package path, any other as given."""
    resolved = Path(path).resolve()
    try:
        return resolved.relative_to(_SHIPPED_ROOT).as_posix()
    except ValueError:
        return str(path)


def _read_yaml(path: Path) -> dict[str, Any]:
    shown = _display(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RulesError(f"{shown}: rules file not found") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RulesError(f"{shown}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise RulesError(f"{shown}: must be a mapping at the top level")
    return data


def _deep_merge(
    base: Mapping[str, Any],
    override: Mapping[str, Any],
    prefix: tuple[str, ...],
    origins: dict[tuple[str, ...], str],
    override_name: str,
) -> dict[str, Any]:
    """Merge ``override`` into a copy of ``base``; record which key paths it set."""
    merged = dict(base)
    for key, value in override.items():
        key_path = (*prefix, str(key))
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(merged[key], value, key_path, origins, override_name)
        else:
            merged[key] = value
            origins[key_path] = override_name
    return merged


# --- validation ----------------------------------------------------------------------


class _Checker:
    """Validates the merged document; errors name the file that set the bad key."""

    def __init__(self, base_name: str, origins: dict[tuple[str, ...], str]) -> None:
        self.base_name = base_name
        self.origins = origins

    def origin(self, key_path: tuple[str, ...]) -> str:
        """The file that set ``key_path`` (the override's, else the base file)."""
        for i in range(len(key_path), 0, -1):
            if key_path[:i] in self.origins:
                return self.origins[key_path[:i]]
        return self.base_name

    def fail(self, key_path: tuple[str, ...], problem: str) -> RulesError:
        where = ".".join(key_path) if key_path else "(top level)"
        return RulesError(f"{self.origin(key_path)}: {where} {problem}")

    def mapping(self, value: Any, key_path: tuple[str, ...], *, non_empty: bool = True) -> dict:
        if not isinstance(value, Mapping):
            raise self.fail(key_path, "must be a mapping")
        if non_empty and not value:
            raise self.fail(key_path, "must not be empty")
        return dict(value)

    def text(self, value: Any, key_path: tuple[str, ...]) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key_path, "must be non-empty text")
        return value

    def positive_int(self, value: Any, key_path: tuple[str, ...]) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise self.fail(key_path, f"must be a positive integer (got {value!r})")
        return value

    def share(self, value: Any, key_path: tuple[str, ...]) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
            raise self.fail(key_path, f"must be a number in (0, 1] (got {value!r})")
        return float(value)

    def positive_number(self, value: Any, key_path: tuple[str, ...]) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise self.fail(key_path, f"must be a positive number (got {value!r})")
        return float(value)

    def a_date(self, value: Any, key_path: tuple[str, ...]) -> date:
        if not isinstance(value, date):
            raise self.fail(key_path, f"must be a date written YYYY-MM-DD (got {value!r})")
        return value

    def only_keys(
        self, value: Mapping, allowed: tuple[str, ...], key_path: tuple[str, ...]
    ) -> None:
        unknown = sorted(str(k) for k in value if k not in allowed)
        if unknown:
            raise self.fail(key_path, f"has unknown keys {unknown}; allowed: {', '.join(allowed)}")

    def special_floors(
        self, value: Any, cats: Mapping[str, str], key_path: tuple[str, ...]
    ) -> None:
        """Each entry: a category of the profile, null, {households: N} or {share: S}."""
        floors = self.mapping(value, key_path, non_empty=False)
        for category, form in floors.items():
            fkp = (*key_path, str(category))
            if category not in cats:
                raise self.fail(
                    fkp, f"is not an exemption category of the profile ({', '.join(cats)})"
                )
            if form is None:
                continue
            form = self.mapping(form, fkp)
            self.only_keys(form, _FLOOR_FORMS, fkp)
            if len(form) != 1:
                raise self.fail(fkp, "must give either households or share, not both")
            if "households" in form:
                self.positive_int(form["households"], (*fkp, "households"))
            else:
                self.share(form["share"], (*fkp, "share"))

    def validate(self, doc: dict[str, Any]) -> dict[str, Any]:
        self.only_keys(doc, _TOP_LEVEL + _TOP_LEVEL_OPTIONAL, ())
        for key in _TOP_LEVEL:
            if key not in doc:
                raise self.fail((key,), "is missing")
        if doc["version"] not in SUPPORTED_VERSIONS:
            raise self.fail(
                ("version",), f"must be one of {list(SUPPORTED_VERSIONS)} (got {doc['version']!r})"
            )
        labels = self.mapping(doc["region_labels_vi"], ("region_labels_vi",))
        for region, label in labels.items():
            self.text(label, ("region_labels_vi", str(region)))
        regions = self.mapping(doc["province_regions"], ("province_regions",))
        for code, region in regions.items():
            kp = ("province_regions", str(code))
            if not isinstance(code, str) or not re.fullmatch(r"\d{2}", code):
                raise self.fail(kp, 'must be a quoted 2-digit province code such as "04"')
            if region not in labels:
                raise self.fail(
                    kp, f"names unknown region {region!r}; known: {', '.join(sorted(labels))}"
                )
        self.validate_commune_regions(doc.get("commune_regions") or {}, labels)
        profiles = self.mapping(doc["profiles"], ("profiles",))
        for name, prof in profiles.items():
            self.validate_profile(str(name), prof, labels)
        default = doc["default_profile"]
        if default not in profiles:
            raise self.fail(
                ("default_profile",),
                f"names unknown profile {default!r}; known: {', '.join(sorted(profiles))}",
            )
        return doc

    def validate_commune_regions(self, value: Any, labels: Mapping[str, str]) -> None:
        """``commune_regions``: region -> list of quoted 5-digit commune codes, each
        commune under one region only."""
        kp = ("commune_regions",)
        seen: dict[str, str] = {}
        for region, codes in self.mapping(value, kp, non_empty=False).items():
            rkp = (*kp, str(region))
            if region not in labels:
                raise self.fail(rkp, f"is not a region of region_labels_vi ({', '.join(labels)})")
            if not isinstance(codes, list):
                raise self.fail(rkp, 'must be a list of quoted commune codes such as ["25001"]')
            for code in codes:
                if not isinstance(code, str) or not re.fullmatch(r"\d{5}", code):
                    raise self.fail(
                        rkp, f'lists {code!r}: write quoted 5-digit commune codes such as "25001"'
                    )
                if code in seen and seen[code] != region:
                    raise self.fail(rkp, f"lists commune {code} also listed under {seen[code]}")
                seen[code] = region

    def validate_profile(self, name: str, prof: Any, labels: Mapping[str, str]) -> None:
        kp = ("profiles", name)
        prof = self.mapping(prof, kp)
        self.only_keys(prof, _PROFILE_REQUIRED + _PROFILE_OPTIONAL, kp)
        for key in _PROFILE_REQUIRED:
            if key not in prof:
                raise self.fail((*kp, key), "is missing")
        self.text(prof["title_vi"], (*kp, "title_vi"))
        self.text(prof["legal_basis"], (*kp, "legal_basis"))
        self.text(prof["allowance_basis"], (*kp, "allowance_basis"))
        if prof.get("effective_from") is not None:
            self.a_date(prof["effective_from"], (*kp, "effective_from"))
        std = self.mapping(prof["standard_households"], (*kp, "standard_households"))
        for region, by_kind in std.items():
            rkp = (*kp, "standard_households", str(region))
            if region not in labels:
                raise self.fail(rkp, f"is not a region of region_labels_vi ({', '.join(labels)})")
            by_kind = self.mapping(by_kind, rkp)
            self.only_keys(by_kind, HAMLET_KINDS, rkp)
            for kind in HAMLET_KINDS:
                if kind not in by_kind:
                    raise self.fail((*rkp, kind), "is missing")
                self.positive_int(by_kind[kind], (*rkp, kind))
        missing = [r for r in labels if r not in std]
        if missing:
            raise self.fail((*kp, "standard_households"), f"has no figures for regions {missing}")
        self.share(prof["mandatory_floor_share"], (*kp, "mandatory_floor_share"))
        if prof["consultation_approval_share"] is not None:
            self.share(prof["consultation_approval_share"], (*kp, "consultation_approval_share"))
            self.text(prof.get("consultation_rule_basis"), (*kp, "consultation_rule_basis"))
        elif prof.get("consultation_rule_basis") is not None:
            self.text(prof["consultation_rule_basis"], (*kp, "consultation_rule_basis"))
        pkp = (*kp, "province_standard_households")
        for code, by_kind in self.mapping(
            prof.get("province_standard_households") or {}, pkp, non_empty=False
        ).items():
            ckp = (*pkp, str(code))
            if not isinstance(code, str) or not re.fullmatch(r"\d{2}", code):
                raise self.fail(ckp, 'must be a quoted 2-digit province code such as "01"')
            by_kind = self.mapping(by_kind, ckp)
            self.only_keys(by_kind, HAMLET_KINDS, ckp)
            for kind in HAMLET_KINDS:
                if kind not in by_kind:
                    raise self.fail((*ckp, kind), "is missing")
                self.positive_int(by_kind[kind], (*ckp, kind))
        ekp = (*kp, "exemption_categories")
        cats = self.mapping(prof["exemption_categories"] or {}, ekp, non_empty=False)
        seen: dict[str, str] = {}
        for key, label in cats.items():
            if not isinstance(key, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", key):
                raise self.fail((*ekp, str(key)), "must be a snake_case key")
            self.text(label, (*ekp, key))
            for form in (header_key(key), header_key(label)):
                if form in seen and seen[form] != key:
                    raise self.fail((*ekp, key), f"has the same label as {seen[form]}")
                seen[form] = key
        floor = prof["exempt_floor_households"]
        if floor is not None:
            self.positive_int(floor, (*kp, "exempt_floor_households"))
        if prof.get("special_case_floors") is not None:
            self.special_floors(prof["special_case_floors"], cats, (*kp, "special_case_floors"))
        self.positive_int(
            prof["part_time_positions_per_unit"], (*kp, "part_time_positions_per_unit")
        )
        for key in ("allowance_multiplier_high", "allowance_multiplier_standard"):
            self.positive_number(prof[key], (*kp, key))
        for key in ("allowance_high_tier_households", "consolidated_target_households"):
            if key not in prof:
                continue  # only the consolidated target is optional
            tkp = (*kp, key)
            tiers = self.mapping(prof[key], tkp)
            self.only_keys(tiers, HAMLET_KINDS, tkp)
            for kind in HAMLET_KINDS:
                if kind not in tiers:
                    raise self.fail((*tkp, kind), "is missing")
                self.positive_int(tiers[kind], (*tkp, kind))
        if "score_weights" in prof:
            wkp = (*kp, "score_weights")
            for key, weight in self.mapping(prof["score_weights"], wkp).items():
                if isinstance(weight, bool) or not isinstance(weight, int | float) or weight < 0:
                    raise self.fail((*wkp, str(key)), f"must be a number >= 0 (got {weight!r})")
            if not any(prof["score_weights"].values()):
                raise self.fail(wkp, "must give at least one score a positive weight")
        skp = (*kp, "base_salary_vnd_per_month")
        steps = prof["base_salary_vnd_per_month"]
        if not isinstance(steps, list) or not steps:
            raise self.fail(skp, "must be a non-empty list")
        previous: date | None = None
        for i, step in enumerate(steps):
            ikp = (*skp, str(i))
            step = self.mapping(step, ikp)
            self.only_keys(step, ("from", "amount_vnd", "basis"), ikp)
            for key in ("from", "amount_vnd", "basis"):
                if key not in step:
                    raise self.fail((*ikp, key), "is missing")
            day = self.a_date(step["from"], (*ikp, "from"))
            self.positive_int(step["amount_vnd"], (*ikp, "amount_vnd"))
            self.text(step["basis"], (*ikp, "basis"))
            if previous is not None and day <= previous:
                raise self.fail((*ikp, "from"), "must be later than the step before it")
            previous = day
        self.allowance_categories(prof, kp)
        if "citations" in prof:
            ckp = (*kp, "citations")
            cites = self.mapping(prof["citations"], ckp)
            self.only_keys(cites, _CITATION_KEYS, ckp)
            for key, value in cites.items():
                self.text(value, (*ckp, key))

    def allowance_categories(self, prof: Mapping[str, Any], kp: tuple[str, ...]) -> None:
        """High-tier categories (key -> label) and the province's category lists (codes +
        source), each for a category of the profile, Art. 10.3 or allowance."""
        hkp = (*kp, "allowance_high_tier_categories")
        for key, label in self.mapping(
            prof.get("allowance_high_tier_categories") or {}, hkp, non_empty=False
        ).items():
            if not isinstance(key, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", key):
                raise self.fail((*hkp, str(key)), "must be a snake_case key")
            self.text(label, (*hkp, key))
        lkp = (*kp, "category_lists")
        lists = self.mapping(prof.get("category_lists") or {}, lkp, non_empty=False)
        cats = [
            *(prof["exemption_categories"] or {}),
            *(prof.get("allowance_high_tier_categories") or {}),
        ]
        for key, listed in lists.items():
            ikp = (*lkp, str(key))
            if key not in cats:
                raise self.fail(
                    ikp,
                    f"is not a category of the profile (Art. 10.3 or allowance: {', '.join(cats)})",
                )
            listed = self.mapping(listed, ikp)
            self.only_keys(listed, ("communes", "hamlets", "source"), ikp)
            # The document that lists them: a list without a source cannot be checked.
            self.text(listed.get("source"), (*ikp, "source"))
            for part, pattern in (("communes", r"\d{5}"), ("hamlets", r"\S+")):
                codes = listed.get(part) or []
                if not isinstance(codes, list):
                    raise self.fail((*ikp, part), "must be a list of quoted codes")
                for i, code in enumerate(codes):
                    if not isinstance(code, str) or not re.fullmatch(pattern, code):
                        raise self.fail(
                            (*ikp, f"{part}[{i}]"), f"must hold quoted codes as text (got {code!r})"
                        )
