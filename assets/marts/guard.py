"""Refuse to publish a bad upload over a province's good figures.

A persons file reduced to its header, or one that lost most of its records, still
stages, plans and would publish zeros (or a fraction) over the province's marts. Before
publishing, the figures the run would publish (hamlets, households and persons counted
from clean records, the totals of ``marts.commune_summary``) are compared with the
province's latest publication: a fall beyond the allowed share, an empty landing file
or a count that would be zero blocks publication unless an engineer explicitly
overrides it for that run. The marts then keep serving the last good publication.
"""

from __future__ import annotations

from dataclasses import dataclass

from assets.raw.landing import LANDING_ROLES
from assets.warehouse import Warehouse

# Refuse when a count falls by more than this share of the last published figure.
DEFAULT_MAX_SHRINK_SHARE = 0.2
# The figures compared, as the marts carry them (persons: the ``population`` column).
GUARDED_COUNTS = ("hamlets", "households", "persons")
OVERRIDE_HINT = (
    "if the change is deliberate, run again with `hamlets run --allow-shrink` "
    "(in the Dagster UI: run tag hamlets/allow_shrink=true)"
)


@dataclass(frozen=True)
class Change:
    """One guarded count: last published (None before a first publication) and now."""

    name: str
    before: int | None
    after: int

    @property
    def share(self) -> float | None:
        """Relative change against the last publication (-1.0: all gone)."""
        if self.before is None or self.before == 0:
            return None
        return (self.after - self.before) / self.before

    def describe(self) -> str:
        if self.before is None:
            return f"{self.name} {self.after:,}"
        change = f" ({self.share:+.0%})" if self.share is not None else ""
        return f"{self.name} {self.before:,} -> {self.after:,}{change}"


@dataclass(frozen=True)
class Verdict:
    """Whether a province's new figures may replace its published ones, and why not."""

    province_code: str
    landed: dict[str, int]
    changes: tuple[Change, ...]
    max_shrink_share: float
    last_run_id: str | None
    problems: tuple[str, ...]

    @property
    def blocked(self) -> bool:
        return bool(self.problems)

    @property
    def reason(self) -> str:
        """One line for the CLI's stderr and the check's description."""
        if not self.blocked:
            return f"province {self.province_code}: " + ", ".join(
                c.describe() for c in self.changes
            )
        kept = (
            f"the marts keep publication {self.last_run_id}"
            if self.last_run_id
            else "nothing is published"
        )
        return (
            f"province {self.province_code}: publication blocked: {'; '.join(self.problems)}; "
            f"{kept}; {OVERRIDE_HINT}"
        )

    @property
    def summary(self) -> str:
        """What blocks, without the advice: recorded when a publication overrides it."""
        return "; ".join(self.problems)

    @property
    def metadata(self) -> dict[str, object]:
        """Counts only (aggregates), for the check's and the publication's metadata."""
        return {
            **{
                c.name: {
                    "before": c.before,
                    "after": c.after,
                    "change_share": None if c.share is None else round(c.share, 4),
                }
                for c in self.changes
            },
            "landed_rows": dict(self.landed),
            "max_shrink_share": self.max_shrink_share,
            "last_publication_run_id": self.last_run_id or "",
        }


def judge(
    province_code: str,
    landed: dict[str, int],
    before: dict[str, int] | None,
    after: dict[str, int],
    max_shrink_share: float,
    last_run_id: str | None = None,
) -> Verdict:
    """The verdict on ``after`` (figures to publish) against ``before`` (last published).

    An empty landing file or a count of zero blocks always, a first publication
    included; a fall by more than ``max_shrink_share`` blocks; growth never does.
    """
    problems = [f"the {role} file has no records" for role, rows in landed.items() if rows == 0]
    changes = tuple(
        Change(name, None if before is None else before[name], after[name])
        for name in GUARDED_COUNTS
    )
    for change in changes:
        share = change.share
        if change.after == 0 and change.before != 0:
            problems.append(f"{change.describe()}, nothing to publish")
        elif share is not None and -share > max_shrink_share:
            problems.append(f"{change.describe()}, more than the {max_shrink_share:.0%} allowed")
    return Verdict(
        province_code,
        dict(landed),
        changes,
        max_shrink_share,
        last_run_id,
        tuple(problems),
    )


def landed_rows(warehouse: Warehouse) -> dict[str, int]:
    """Rows landed per required role for the warehouse's province (raw tables)."""
    with warehouse.connect() as con:
        counts = {}
        for role in LANDING_ROLES:
            table = f"raw.{role}"  # a role name from the code, never from data
            rows, params = warehouse.rows_filter(table)
            found = con.table_exists(table)
            counts[role] = (
                int(con.query_df(f"SELECT count(*) AS n FROM {table} WHERE {rows}", params)["n"][0])
                if found
                else 0
            )
    return counts


def figures_to_publish(warehouse: Warehouse) -> dict[str, int]:
    """The province totals this run would publish (``commune_summary`` sums the same)."""
    rows, params = warehouse.rows_filter("planning.hamlet_compliance")
    totals = warehouse.query(
        "SELECT count(*) AS hamlets, coalesce(sum(households), 0) AS households, "
        "coalesce(sum(population), 0) AS persons "
        f"FROM planning.hamlet_compliance WHERE {rows}",
        params,
    )
    return {name: int(totals[name].iloc[0]) for name in GUARDED_COUNTS}


def last_published(warehouse: Warehouse) -> tuple[dict[str, int], str] | None:
    """The province totals of its latest publication and its run id; None before one."""
    if "commune_summary_current" not in warehouse.table_names("marts"):
        return None
    rows, params = warehouse.rows_filter("marts.commune_summary_current")
    totals = warehouse.query(
        "SELECT min(run_id) AS run_id, count(*) AS communes, "
        "coalesce(sum(hamlets), 0) AS hamlets, coalesce(sum(households), 0) AS households, "
        "coalesce(sum(population), 0) AS persons "
        f"FROM marts.commune_summary_current WHERE {rows}",
        params,
    ).iloc[0]
    if int(totals["communes"]) == 0:
        return None
    return {name: int(totals[name]) for name in GUARDED_COUNTS}, str(totals["run_id"])


@dataclass(frozen=True)
class PublishGuard:
    """The run's shrink limit (a resource: ``HAMLETS_MAX_SHRINK_SHARE``)."""

    max_shrink_share: float = DEFAULT_MAX_SHRINK_SHARE

    def __post_init__(self) -> None:
        if not 0.0 <= self.max_shrink_share <= 1.0:
            raise ValueError(
                f"the largest allowed fall is a share between 0 and 1, "
                f"not {self.max_shrink_share!r} (0.2: refuse a fall of more than 20%)"
            )

    def verdict(self, warehouse: Warehouse) -> Verdict:
        """Judge the figures of the warehouse's province (it must be scoped to one)."""
        if warehouse.province_code is None:
            raise ValueError("the publication guard needs a warehouse scoped to a province")
        published = last_published(warehouse)
        before, last_run_id = published if published is not None else (None, None)
        return judge(
            warehouse.province_code,
            landed_rows(warehouse),
            before,
            figures_to_publish(warehouse),
            self.max_shrink_share,
            last_run_id,
        )
