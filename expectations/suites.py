"""Great Expectations suites generated from the data contracts, and a runner.

Every expectation here is derived from a :class:`~expectations.schemas.Table` (its columns,
required columns, primary key and each field's pattern, allowed values and range), so a
rule changes in ``schemas.py`` and nowhere else.

Results leave this module as counts only (:class:`SuiteResult`): GX keeps offending values
in its results (``partial_unexpected_list`` and friends), and the tables validated here
hold names and citizen IDs that must not reach logs or Dagster metadata. We also ask GX
for ``partial_unexpected_count=0`` so those values are not even collected.

GX is imported lazily: it takes seconds to import, and modules that only need the
contracts (or a Dagster code location that merely lists the asset checks) should not pay
for it.
"""

from __future__ import annotations

import os

# Before great_expectations is ever imported: no analytics, no network.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

import functools
import threading
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pandas as pd

from expectations.schemas import Field, Table

if TYPE_CHECKING:
    import great_expectations as gx

# Counts only: no partial lists of unexpected values are computed or returned.
RESULT_FORMAT: dict[str, Any] = {"result_format": "BASIC", "partial_unexpected_count": 0}


def _gx() -> tuple[ModuleType, ModuleType]:
    """Import GX on first use (slow import; see the module docstring)."""
    import great_expectations as gx_module
    import great_expectations.expectations as gxe

    return gx_module, gxe


def _checked_fields(table: Table) -> list[Field]:
    """The table's fields that GX checks: all but geometry, which GX cannot read."""
    return [f for f in table.fields if f.type != "geometry"]


def build_suite(table: Table) -> gx.ExpectationSuite:
    """Build the suite named ``table.qualified_name`` from the table's contract.

    Per column: it exists; not null when required; matches its ``pattern``; lies in its
    ``allowed_values``; lies between ``min_value`` and ``max_value``. Per table: the
    primary key is unique (compound keys as one expectation). Geometry columns are left
    out: GX's pandas engine cannot evaluate them and the staging step repairs them.
    """
    gx_module, gxe = _gx()
    expectations: list[Any] = []
    for f in _checked_fields(table):
        expectations.append(gxe.ExpectColumnToExist(column=f.name))
        if f.name in table.required:
            expectations.append(gxe.ExpectColumnValuesToNotBeNull(column=f.name))
        if f.pattern is not None:
            expectations.append(gxe.ExpectColumnValuesToMatchRegex(column=f.name, regex=f.pattern))
        if f.allowed_values is not None:
            expectations.append(
                gxe.ExpectColumnValuesToBeInSet(column=f.name, value_set=list(f.allowed_values))
            )
        if f.min_value is not None or f.max_value is not None:
            expectations.append(
                gxe.ExpectColumnValuesToBeBetween(
                    column=f.name, min_value=f.min_value, max_value=f.max_value
                )
            )
    key = [c for c in table.primary_key if c not in table.geometry_columns]
    if len(key) == 1:
        expectations.append(gxe.ExpectColumnValuesToBeUnique(column=key[0]))
    elif len(key) > 1:
        expectations.append(gxe.ExpectCompoundColumnsToBeUnique(column_list=key))
    # Passed to the constructor, not added one by one: ``add_expectation`` on a suite that
    # belongs to no context saves through GX's global "current" context, which may hold
    # another suite of the same name (the cached one in ``_runner``) and corrupt it.
    return gx_module.ExpectationSuite(name=table.qualified_name, expectations=expectations)


@dataclass(frozen=True)
class ExpectationOutcome:
    """One expectation's outcome, as counts (never values)."""

    expectation: str
    column: str | None  # compound keys: the columns joined with ","
    success: bool
    unexpected_count: int | None
    element_count: int | None
    raised_exception: bool = False  # GX could not evaluate it (e.g. the column is missing)


@dataclass(frozen=True)
class SuiteResult:
    """A suite run reduced to counts, safe for logs and Dagster metadata."""

    suite_name: str
    success: bool
    evaluated: int
    failed: int
    outcomes: tuple[ExpectationOutcome, ...]

    @property
    def failed_outcomes(self) -> tuple[ExpectationOutcome, ...]:
        return tuple(o for o in self.outcomes if not o.success)

    def as_metadata(self) -> dict[str, Any]:
        """JSON-serialisable counts for a Dagster asset check (no data values)."""
        return {
            "suite": self.suite_name,
            "success": self.success,
            "evaluated_expectations": self.evaluated,
            "failed_expectations": self.failed,
            "failures": [
                {
                    "expectation": o.expectation,
                    "column": o.column,
                    "unexpected_count": o.unexpected_count,
                    "element_count": o.element_count,
                    "raised_exception": o.raised_exception,
                }
                for o in self.failed_outcomes
            ],
        }


@dataclass
class _Runner:
    """A ready validation definition for one table; built once per table and process."""

    validation: Any
    datasource: Any
    lock: threading.Lock

    def release_data(self) -> None:
        """Drop GX's reference to the last validated frame.

        The execution engine keeps the last batch until the next run; with the runner
        cached for the process that would pin a (possibly 10M-row, personal) frame in
        memory between runs.
        """
        batches = self.datasource.get_execution_engine().batch_manager
        batches.reset_batch_cache()
        batches.batch_data_cache.clear()


@functools.lru_cache(maxsize=64)
def _runner(table: Table) -> _Runner:
    """Build context, datasource, batch definition, suite and validation definition once.

    Building takes ~30 ms, against ~0.3 s to validate 100k persons, so the cache saves
    little time; it keeps one long-lived, in-memory context per table (suite names never
    clash) instead of a new context per asset check. GX objects are stateful: one run at
    a time per table (the lock), and ``release_data`` after each run.
    """
    gx_module, _ = _gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx_module.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    datasource = context.data_sources.add_pandas(name="frames")
    asset = datasource.add_dataframe_asset(name=table.qualified_name)
    batch = asset.add_batch_definition_whole_dataframe(name="whole_frame")
    suite = context.suites.add(build_suite(table))
    validation = context.validation_definitions.add(
        gx_module.ValidationDefinition(name=table.qualified_name, data=batch, suite=suite)
    )
    return _Runner(validation=validation, datasource=datasource, lock=threading.Lock())


def to_gx_frame(df: pd.DataFrame, table: Table) -> pd.DataFrame:
    """The frame GX sees: plain pandas, without geometry (its pandas engine cannot read it).

    Drops the contract's geometry columns and any other GeoSeries, and turns a
    GeoDataFrame into a DataFrame. Pandas nullable dtypes (``string``, ``Int64``,
    ``boolean``) with ``pd.NA`` are passed as they are: GX 1.24.1 counts them as missing
    and evaluates the contract's expectations on them correctly (tested in
    ``tests/test_suites.py``), so converting to object/float would only cost a copy.
    """
    geometry = set(table.geometry_columns)
    keep = [
        c
        for c in df.columns
        if c not in geometry and getattr(df[c].dtype, "name", "") != "geometry"
    ]
    return pd.DataFrame(df.loc[:, keep])


def _raised(exception_info: Any) -> bool:
    """GX nests exception info per metric; true if any part of the evaluation raised."""
    if not isinstance(exception_info, dict):
        return False
    if exception_info.get("raised_exception"):
        return True
    return any(isinstance(v, dict) and v.get("raised_exception") for v in exception_info.values())


def _count(result: dict[str, Any], key: str) -> int | None:
    value = result.get(key)
    return None if value is None else int(value)


def validate_frame(df: pd.DataFrame, table: Table) -> SuiteResult:
    """Validate ``df`` against the suite built from ``table``; return counts only."""
    runner = _runner(table)
    frame = to_gx_frame(df, table)
    with runner.lock:
        try:
            run = runner.validation.run(
                batch_parameters={"dataframe": frame}, result_format=RESULT_FORMAT
            )
        finally:
            runner.release_data()
    outcomes = []
    for res in run.results:
        config = res.expectation_config
        kwargs = config.kwargs
        column = kwargs.get("column")
        if column is None and kwargs.get("column_list"):
            column = ",".join(kwargs["column_list"])
        raised = _raised(res.exception_info)
        result = res.result or {}
        outcomes.append(
            ExpectationOutcome(
                expectation=config.type,
                column=column,
                success=bool(res.success) and not raised,
                unexpected_count=_count(result, "unexpected_count"),
                element_count=_count(result, "element_count"),
                raised_exception=raised,
            )
        )
    # GX returns results grouped by metric, not in suite order; sort for stable output.
    outcomes.sort(key=lambda o: (o.column or "", o.expectation))
    failed = sum(not o.success for o in outcomes)
    return SuiteResult(
        suite_name=table.qualified_name,
        success=failed == 0,
        evaluated=len(outcomes),
        failed=failed,
        outcomes=tuple(outcomes),
    )
