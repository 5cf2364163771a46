"""Deadlines of each province's directive, read from ``hamlets_config/deadlines.yaml``.

The dates come from each province's own directive (one source each), so they live in
data, validated on load with messages naming the file and the key, never in code.
Directives set dates as "trước ngày X" (before X): the last day is the day before X,
and a commune is late from X itself. A milestone with a required commune status binds
every commune; one without is the province's own and is never charged to a commune.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml

from hamlets_config import data_path

DEFAULT_DEADLINES_PATH = data_path("deadlines.yaml")

# A commune's progress, in order: each status includes the ones before it.
NO_PLAN = "no_plan"
PLAN_DRAFTED = "plan_drafted"
CONSULTED = "consulted"
APPROVED = "approved"
STATUSES = (NO_PLAN, PLAN_DRAFTED, CONSULTED, APPROVED)
STATUS_LABELS_VI = {
    NO_PLAN: "Chưa có đề án",
    PLAN_DRAFTED: "Đã xây dựng đề án",
    CONSULTED: "Đã lấy ý kiến Nhân dân",
    APPROVED: "HĐND xã đã thông qua",
}


class DeadlinesError(ValueError):
    """The deadlines file is malformed; the message names the file and the key."""


@dataclass(frozen=True)
class Milestone:
    key: str
    label_vi: str
    before: date  # "trước ngày" as the directive writes it: due by the day before
    requires: str | None  # the status every commune must reach; None: the province's own

    @property
    def last_day(self) -> date:
        """The last day the work may be done (the end of the day before ``before``)."""
        return self.before - timedelta(days=1)

    @property
    def is_province_milestone(self) -> bool:
        return self.requires is None

    def is_past(self, as_of: date) -> bool:
        """Whether ``as_of`` is after the last day: from ``before`` itself on."""
        return as_of > self.last_day

    @property
    def due_vi(self) -> str:
        return f"trước ngày {self.before:%d/%m/%Y}"


@dataclass(frozen=True)
class ProvinceDeadlines:
    province_code: str
    directive_vi: str
    milestones: tuple[Milestone, ...]  # by due date


@dataclass(frozen=True)
class Deadlines:
    """Every configured province's deadlines (the ``deadlines`` resource)."""

    provinces: Mapping[str, ProvinceDeadlines]
    source: str = ""

    def for_province(self, code: str) -> ProvinceDeadlines:
        """A province's deadlines; none configured is an empty list, not an error."""
        return self.provinces.get(code) or ProvinceDeadlines(code, "", ())


def load_deadlines(path: Path | None = None) -> Deadlines:
    """Every province's deadlines, validated."""
    path = Path(path) if path is not None else DEFAULT_DEADLINES_PATH
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DeadlinesError(f"{path}: cannot be read: {exc}") from exc
    if not isinstance(doc, Mapping) or doc.get("version") != 1:
        raise DeadlinesError(f"{path}: expected a mapping with 'version: 1'")
    provinces = doc.get("provinces") or {}
    if not isinstance(provinces, Mapping):
        raise DeadlinesError(f"{path}: provinces: expected a mapping of province codes")
    return Deadlines(
        {str(code): _province(path, str(code), entry) for code, entry in provinces.items()},
        source=str(path),
    )


def _province(path: Path, code: str, entry: Any) -> ProvinceDeadlines:
    where = f"{path}: provinces.{code}"
    if len(code) != 2 or not code.isdigit():
        raise DeadlinesError(f'{where}: province codes are two digits, quoted ("04")')
    if not isinstance(entry, Mapping) or not isinstance(entry.get("milestones"), list):
        raise DeadlinesError(f"{where}: expected 'directive_vi' and a list 'milestones'")
    milestones = []
    for k, item in enumerate(entry["milestones"]):
        at = f"{where}.milestones[{k}]"
        if not isinstance(item, Mapping):
            raise DeadlinesError(f"{at}: expected key, label_vi, before[, requires]")
        if "due" in item:
            raise DeadlinesError(
                f"{at}.due: write the directive's date as 'before' (\"trước ngày\": due by "
                "the end of the day before it)"
            )
        missing = [f for f in ("key", "label_vi", "before") if not item.get(f)]
        if missing:
            raise DeadlinesError(f"{at}: missing {', '.join(missing)}")
        if not isinstance(item["before"], date):
            raise DeadlinesError(
                f"{at}.before: expected a date (YYYY-MM-DD), got {item['before']!r}"
            )
        requires = item.get("requires")
        if requires is not None and requires not in STATUSES[1:]:
            raise DeadlinesError(f"{at}.requires: {requires!r} is not one of {STATUSES[1:]}")
        milestones.append(
            Milestone(str(item["key"]), str(item["label_vi"]), item["before"], requires)
        )
    keys = [m.key for m in milestones]
    if len(set(keys)) != len(keys):
        raise DeadlinesError(f"{where}.milestones: keys repeat: {keys}")
    return ProvinceDeadlines(
        province_code=code,
        directive_vi=str(entry.get("directive_vi") or ""),
        milestones=tuple(sorted(milestones, key=lambda m: (m.before, m.key))),
    )
