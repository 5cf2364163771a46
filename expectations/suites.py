"""Great Expectations suites generated from the data contracts, and a runner.

The contract expectations are derived from a :class:`~expectations.schemas.Table` (its
columns, required columns, primary key and each field's pattern, allowed values and
range), so a contract rule changes in ``schemas.py`` and nowhere else.

Results leave this module as counts only (:class:`SuiteResult`): GX keeps offending values
in its results (``partial_unexpected_list`` and friends), and the tables validated here
hold names and citizen IDs that must not reach logs or Dagster metadata. We also ask GX
for ``partial_unexpected_count=0`` so those values are not even collected.

Beyond the contract, each table may carry domain expectations (``DOMAIN_RULES``): the
citizen ID custom expectation and household rules on persons, hamlet codes and
coordinates on households, declared population against households on the registry.
Domain expectations are GX ``warning`` severity: a failure is reported but, unlike a
broken contract, does not block publishing (the record rules quarantine row by row).
Values that change per run (the reference date, the registry's hamlet codes) are GX
suite parameters, passed to :func:`validate_frame`.

Data Docs (HTML) are written only when asked (``data_docs_dir``); they are restricted
like the data, although they hold counts and the expectations' own settings only: the
same ``RESULT_FORMAT`` applies, so no unexpected values are collected to render. Every
page says so at its top (``RESTRICTED_NOTICE``), each suite's page lists its table's
personal columns, and a ``RESTRICTED.txt`` sits beside the index.

GX is imported lazily: it takes seconds to import, and modules that only need the
contracts (or a Dagster code location that merely lists the asset checks) should not pay
for it.
"""

from __future__ import annotations

import os

# Before great_expectations is ever imported: no analytics, no network.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

import datetime as dt
import functools
import html
import shutil
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pandas as pd

from expectations.household_rules import HEAD_MIN_AGE_YEARS
from expectations.reference import VIETNAM_LATITUDE, VIETNAM_LONGITUDE
from expectations.schemas import Field, Table

if TYPE_CHECKING:
    import great_expectations as gx

# Counts only: no partial lists of unexpected values are computed or returned.
RESULT_FORMAT: dict[str, Any] = {"result_format": "BASIC", "partial_unexpected_count": 0}


# Suite parameters: values that change per run, bound when a suite is validated.
AS_OF = "as_of"
HEAD_MIN_AGE = "head_min_age"
KNOWN_HAMLET_CODES = "known_hamlet_codes"
DATA_DOCS_SITE = "restricted"
# Data Docs keep this many past runs per suite (HTML and the counts they render).
DATA_DOCS_KEEP_RUNS = 20
WARNING = "warning"
RESTRICTED_NOTICE = (
    "RESTRICTED: validation reports on personal data (Decree 13/2023/NĐ-CP). They hold "
    "counts and rule settings only, never names, citizen IDs or birth dates, but they "
    "describe the population records: keep them on the police/data unit's machines, "
    "with the warehouse's restricted layers (raw, staging, quality)."
)
_BANNER_ID = "hamlets-restricted"


def _gx() -> tuple[ModuleType, ModuleType]:
    """Import GX on first use (slow import; see the module docstring)."""
    import great_expectations as gx_module
    import great_expectations.expectations as gxe
    from great_expectations.execution_engine import pandas_execution_engine

    import expectations.gx_custom  # noqa: F401 (registers the custom expectations)

    # GX fingerprints every frame under 1 GB (a hash of every cell, then MD5) only to
    # label its batch: a tenth of a persons batch's validation. A run's name says which
    # batch it validated, so no frame is fingerprinted.
    pandas_execution_engine.HASH_THRESHOLD = 0

    return gx_module, gxe


def _parameter(name: str) -> dict[str, str]:
    return {"$PARAMETER": name}


def _persons_rules(gxe: ModuleType) -> list[Any]:
    from expectations.gx_custom import (
        ExpectCitizenIdToBeConsistent,
        ExpectHouseholdHeadToBeOfAge,
        ExpectHouseholdToHaveOneHead,
    )

    return [
        ExpectCitizenIdToBeConsistent(
            column_list=["citizen_id", "sex", "birth_date"], as_of=_parameter(AS_OF)
        ),
        gxe.ExpectColumnValuesToBeUnique(column="citizen_id"),
        gxe.ExpectColumnValuesToBeBetween(column="birth_date", max_value=_parameter(AS_OF)),
        ExpectHouseholdToHaveOneHead(column_list=["household_id", "is_household_head"]),
        ExpectHouseholdHeadToBeOfAge(
            column_list=["is_household_head", "birth_date"],
            as_of=_parameter(AS_OF),
            min_age=_parameter(HEAD_MIN_AGE),
        ),
    ]


def _households_rules(gxe: ModuleType) -> list[Any]:
    return [
        gxe.ExpectColumnValuesToBeInSet(
            column="hamlet_code", value_set=_parameter(KNOWN_HAMLET_CODES)
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="longitude", min_value=VIETNAM_LONGITUDE[0], max_value=VIETNAM_LONGITUDE[1]
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="latitude", min_value=VIETNAM_LATITUDE[0], max_value=VIETNAM_LATITUDE[1]
        ),
    ]


def _hamlets_rules(gxe: ModuleType) -> list[Any]:
    # Every household has at least one resident.
    return [
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="declared_population",
            column_B="declared_households",
            or_equal=True,
            ignore_row_if="either_value_is_missing",
        )
    ]


# Domain expectations per table, beyond its contract, with the suite parameters they need.
DOMAIN_RULES: dict[str, tuple[Callable[[ModuleType], list[Any]], tuple[str, ...]]] = {
    "staging.persons": (_persons_rules, (AS_OF, HEAD_MIN_AGE)),
    "staging.households": (_households_rules, (KNOWN_HAMLET_CODES,)),
    "staging.hamlets": (_hamlets_rules, ()),
}


def suite_parameters(table: Table, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The parameter values ``table``'s suite needs: ``given``, else the defaults.

    ``as_of`` defaults to today (UTC) and ``head_min_age`` to 15; the registry's hamlet
    codes have no default. Raises ValueError naming a parameter that is missing.
    """
    given = dict(given or {})
    needed = DOMAIN_RULES.get(table.qualified_name, (None, ()))[1]
    defaults: dict[str, Any] = {
        AS_OF: dt.datetime.now(dt.UTC).date(),
        HEAD_MIN_AGE: HEAD_MIN_AGE_YEARS,
    }
    out = {}
    for name in needed:
        if given.get(name) is not None:
            out[name] = given[name]
        elif name in defaults:
            out[name] = defaults[name]
        else:
            raise ValueError(f"suite {table.qualified_name} needs the parameter {name!r}")
    if AS_OF in out:
        # Compared with datetime64 columns: a Timestamp, never a bare date or text.
        out[AS_OF] = pd.Timestamp(out[AS_OF]).tz_localize(None).normalize()
    if KNOWN_HAMLET_CODES in out:
        out[KNOWN_HAMLET_CODES] = sorted({str(c) for c in out[KNOWN_HAMLET_CODES]})
    return out


def _checked_fields(table: Table) -> list[Field]:
    """The table's fields that GX checks: all but geometry, which GX cannot read."""
    return [f for f in table.fields if f.type != "geometry"]


def build_suite(table: Table, *, domain: bool = True) -> gx.ExpectationSuite:
    """Build the suite named ``table.qualified_name`` from the table's contract.

    Per column: it exists; not null when required; matches its ``pattern``; lies in its
    ``allowed_values``; lies between ``min_value`` and ``max_value``. Per table: the
    primary key is unique (compound keys as one expectation). Geometry columns are left
    out: GX's pandas engine cannot evaluate them and the staging step repairs them.
    With ``domain`` the table's ``DOMAIN_RULES`` follow, at ``warning`` severity.
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
    if domain and table.qualified_name in DOMAIN_RULES:
        for expectation in DOMAIN_RULES[table.qualified_name][0](gxe):
            expectation.severity = WARNING
            expectations.append(expectation)
    # Passed to the constructor, not added one by one: ``add_expectation`` on a suite that
    # belongs to no context saves through GX's global "current" context, which may hold
    # another suite of the same name (the cached one in ``_runner``) and corrupt it.
    return gx_module.ExpectationSuite(
        name=table.qualified_name, expectations=expectations, notes=suite_notes(table)
    )


def suite_notes(table: Table) -> list[str]:
    """The suite page's notes: the restricted notice and the table's personal columns."""
    personal = ", ".join(f"`{f.name}` ({f.label_vi})" for f in table.fields if f.is_personal)
    return [
        f"**{RESTRICTED_NOTICE}**",
        f"Personal columns of {table.qualified_name}: {personal or 'none'}.",
    ]


def mark_restricted(directory: Path) -> None:
    """Put the restricted notice at the top of every Data Docs page that lacks it (GX
    rewrites the index on every build), and in ``RESTRICTED.txt`` beside the index."""
    banner = (
        f'<div id="{_BANNER_ID}" class="alert alert-danger m-0 rounded-0" role="alert">'
        f"<strong>{html.escape(RESTRICTED_NOTICE)}</strong></div>"
    )
    for page in directory.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        if f'id="{_BANNER_ID}"' not in text and "<body>" in text:
            page.write_text(text.replace("<body>", "<body>\n" + banner, 1), encoding="utf-8")
    (directory / "RESTRICTED.txt").write_text(RESTRICTED_NOTICE + "\n", encoding="utf-8")


@dataclass(frozen=True)
class ExpectationOutcome:
    """One expectation's outcome, as counts (never values)."""

    expectation: str
    column: str | None  # several columns: joined with ","
    success: bool
    unexpected_count: int | None
    element_count: int | None
    raised_exception: bool = False  # GX could not evaluate it (e.g. the column is missing)
    severity: str = "critical"  # GX failure severity: critical (contract) or warning


@dataclass(frozen=True)
class SuiteResult:
    """A suite run reduced to counts, safe for logs and Dagster metadata."""

    suite_name: str
    success: bool
    evaluated: int
    failed: int
    outcomes: tuple[ExpectationOutcome, ...]
    data_docs: str | None = None  # index.html of the Data Docs written, if any

    @classmethod
    def of(
        cls, suite_name: str, outcomes: Sequence[ExpectationOutcome], data_docs: str | None
    ) -> SuiteResult:
        """The result of these outcomes, in a stable order (by column, then expectation:
        GX returns them grouped by metric, not in suite order)."""
        ordered = tuple(sorted(outcomes, key=lambda o: (o.column or "", o.expectation)))
        failed = sum(not o.success for o in ordered)
        return cls(
            suite_name=suite_name,
            success=failed == 0,
            evaluated=len(ordered),
            failed=failed,
            outcomes=ordered,
            data_docs=data_docs,
        )

    @property
    def failed_outcomes(self) -> tuple[ExpectationOutcome, ...]:
        return tuple(o for o in self.outcomes if not o.success)

    @property
    def critical_failures(self) -> tuple[ExpectationOutcome, ...]:
        """Failures of ``critical`` expectations (the contract): the ones that block."""
        return tuple(o for o in self.failed_outcomes if o.severity != WARNING)

    def as_metadata(self) -> dict[str, Any]:
        """JSON-serialisable counts for a Dagster asset check (no data values)."""
        metadata: dict[str, Any] = {
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
                    "severity": o.severity,
                }
                for o in self.failed_outcomes
            ],
        }
        if self.data_docs is not None:
            metadata["data_docs"] = self.data_docs
        return metadata


@dataclass
class _Site:
    """One GX context per Data Docs location (or none), shared by every table's runner.

    With a location, validation results (counts only) are kept on disk beside the HTML,
    so the Data Docs index lists the past runs of every suite, not only this process'.
    """

    context: Any
    datasource: Any
    directory: Path | None
    lock: threading.Lock


@functools.lru_cache(maxsize=8)
def _site(directory: str | None) -> _Site:
    gx_module, _ = _gx()
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(store_backend_defaults=InMemoryStoreBackendDefaults())
    if directory is not None:
        root = Path(directory)
        config.stores["validation_results_store"]["store_backend"] = {
            "class_name": "TupleFilesystemStoreBackend",
            "base_directory": str(root / "validation_results"),
        }
        config.data_docs_sites = {
            DATA_DOCS_SITE: {
                "class_name": "SiteBuilder",
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(root),
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            }
        }
    context = gx_module.get_context(mode="ephemeral", project_config=config)
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    datasource = context.data_sources.add_pandas(name="frames")
    return _Site(
        context=context,
        datasource=datasource,
        directory=None if directory is None else Path(directory),
        lock=threading.Lock(),
    )


@dataclass
class _Runner:
    """A ready validation definition for one table; built once per table and process."""

    validation: Any
    datasource: Any
    lock: threading.Lock
    site: _Site | None = None

    def release_data(self) -> None:
        """Drop GX's reference to the last validated frame.

        The execution engine keeps the last batch until the next run; with the runner
        cached for the process that would pin a (possibly 10M-row, personal) frame in
        memory between runs.
        """
        batches = self.datasource.get_execution_engine().batch_manager
        batches.reset_batch_cache()
        batches.batch_data_cache.clear()


def _runner(table: Table, data_docs_dir: str | None = None) -> _Runner:
    """The table's runner for a Data Docs location (None: no Data Docs)."""
    return _cached_runner(table, data_docs_dir)


@functools.lru_cache(maxsize=64)
def _cached_runner(table: Table, data_docs_dir: str | None) -> _Runner:
    """Build datasource asset, batch definition, suite and validation definition once.

    Building takes ~30 ms, against ~0.3 s to validate 100k persons, so the cache saves
    little time; it keeps one long-lived, in-memory context per Data Docs location
    (suite names never clash) instead of a new context per asset check. GX objects are
    stateful: one run at a time per table (the lock), and ``release_data`` after each run.
    """
    gx_module, _ = _gx()
    site = _site(data_docs_dir)
    context = site.context
    asset = site.datasource.add_dataframe_asset(name=table.qualified_name)
    batch = asset.add_batch_definition_whole_dataframe(name="whole_frame")
    suite = context.suites.add(build_suite(table))
    validation = context.validation_definitions.add(
        gx_module.ValidationDefinition(name=table.qualified_name, data=batch, suite=suite)
    )
    return _Runner(
        validation=validation, datasource=site.datasource, lock=threading.Lock(), site=site
    )


def to_gx_frame(df: pd.DataFrame, table: Table) -> pd.DataFrame:
    """The frame GX sees: plain pandas, without geometry (its pandas engine cannot read it).

    Drops the contract's geometry columns and any other GeoSeries, and turns a
    GeoDataFrame into a DataFrame. Pandas nullable dtypes (``string``, ``Int64``,
    ``boolean``) with ``pd.NA`` are passed as they are: GX 1.24.1 counts them as missing
    and evaluates the contract's expectations on them correctly (tested in
    ``tests/integration/test_suites.py``), so converting to object/float would only cost a copy.
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


def _severity(config: Any) -> str:
    severity = getattr(config, "severity", None)
    return str(getattr(severity, "value", severity) or "critical")


def _prune_runs(directory: Path, suite_name: str, keep: int) -> None:
    """Keep the newest ``keep`` runs of one suite in the Data Docs (results and HTML).

    Both trees are laid out ``<layer>/<table>/<run name>/<run time>/``; run times sort
    as text.
    """
    parts = suite_name.split(".")
    runs: list[Path] = []
    for tree in (directory / "validation_results", directory / "validations"):
        base = tree.joinpath(*parts)
        if base.is_dir():
            runs += [p for p in base.glob("*/*") if p.is_dir()]
    by_time = sorted({p.name for p in runs}, reverse=True)
    stale = set(by_time[keep:])
    for path in runs:
        if path.name in stale:
            shutil.rmtree(path, ignore_errors=True)


def _write_data_docs(runner: _Runner, run_ids: Sequence[Any], suite_name: str) -> str:
    """Render these runs' pages, the suite's page and the index; returns the index path.

    One build for all the runs of a table read in batches: each build renders the
    index and compiles GX's templates again (about a second), so a build per batch
    cost more than validating the batch.
    """
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
    )

    site = runner.site
    assert site is not None and site.directory is not None
    store = site.context.validation_results_store
    with site.lock:
        _prune_runs(site.directory, suite_name, DATA_DOCS_KEEP_RUNS)
        these_runs = [
            key
            for key in store.list_keys()
            if key.run_id in run_ids and key.expectation_suite_identifier.name == suite_name
        ]
        site.context.build_data_docs(
            site_names=[DATA_DOCS_SITE],
            resource_identifiers=[ExpectationSuiteIdentifier(name=suite_name), *these_runs],
        )
        mark_restricted(site.directory)
    return str(site.directory / "index.html")


def combine_results(results: Sequence[SuiteResult]) -> SuiteResult:
    """One suite's runs on batches of a table as one result: counts summed per
    expectation, success only when every batch succeeded.

    A batch holds whole households (see ``assets.quality.batches``), so household rules
    hold per batch; uniqueness is judged within each batch (the record rules judge shared
    citizen IDs across the province).
    """
    if not results:
        raise ValueError("no suite results to combine")
    names = {r.suite_name for r in results}
    if len(names) > 1:
        raise ValueError(f"results of several suites {sorted(names)}")
    grouped: dict[tuple[str, str | None], list[ExpectationOutcome]] = {}
    for result in results:
        for o in result.outcomes:
            grouped.setdefault((o.expectation, o.column), []).append(o)

    def total(values: list[int | None]) -> int | None:
        known = [v for v in values if v is not None]
        return sum(known) if known else None

    outcomes = [
        ExpectationOutcome(
            expectation=expectation,
            column=column,
            success=all(o.success for o in group),
            unexpected_count=total([o.unexpected_count for o in group]),
            element_count=total([o.element_count for o in group]),
            raised_exception=any(o.raised_exception for o in group),
            severity=group[0].severity,
        )
        for (expectation, column), group in grouped.items()
    ]
    return SuiteResult.of(
        results[0].suite_name,
        outcomes,
        data_docs=next((r.data_docs for r in reversed(results) if r.data_docs), None),
    )


def validate_frame(
    df: pd.DataFrame,
    table: Table,
    *,
    parameters: Mapping[str, Any] | None = None,
    data_docs_dir: Path | str | None = None,
    run_name: str | None = None,
) -> SuiteResult:
    """Validate ``df`` against the suite built from ``table``; return counts only.

    ``parameters`` bind the suite's parameters (see :func:`suite_parameters`). With
    ``data_docs_dir`` the run is also rendered as Data Docs HTML there (a restricted
    location: see the module docstring), under ``run_name`` (e.g. the Dagster run id).
    """
    return validate_batches(
        [(run_name, df)], table, parameters=parameters, data_docs_dir=data_docs_dir
    )[0]


def validate_batches(
    batches: Iterable[tuple[str | None, pd.DataFrame]],
    table: Table,
    *,
    parameters: Mapping[str, Any] | None = None,
    data_docs_dir: Path | str | None = None,
) -> list[SuiteResult]:
    """Validate each frame of ``batches`` (run name, frame) as a run of its own, as
    :func:`validate_frame` does, and render the Data Docs of all of them once, after
    the last (``batches`` may be a generator: one frame is held at a time).

    Returns each run's result, every one naming the Data Docs index when written
    (combine them with :func:`combine_results`).
    """
    from great_expectations.core.run_identifier import RunIdentifier

    directory = None if data_docs_dir is None else str(Path(data_docs_dir).resolve())
    runner = _runner(table, directory)
    values = suite_parameters(table, parameters)
    runs: list[tuple[Any, list[ExpectationOutcome]]] = []
    for run_name, df in batches:
        run_id = RunIdentifier(run_name=run_name, run_time=dt.datetime.now(dt.UTC))
        runs.append((run_id, _validate(runner, to_gx_frame(df, table), values, run_id)))
        del df  # before the next batch is read
    ids = [run_id for run_id, _ in runs]
    docs = _write_data_docs(runner, ids, table.qualified_name) if directory and runs else None
    return [SuiteResult.of(table.qualified_name, outcomes, docs) for _, outcomes in runs]


def _validate(
    runner: _Runner, frame: pd.DataFrame, values: Mapping[str, Any], run_id: Any
) -> list[ExpectationOutcome]:
    """One GX run of the runner's suite on ``frame``, reduced to counts."""
    with runner.lock:
        try:
            run = runner.validation.run(
                batch_parameters={"dataframe": frame},
                expectation_parameters=values,
                result_format=RESULT_FORMAT,
                run_id=run_id,
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
        if column is None and kwargs.get("column_A"):
            column = f"{kwargs['column_A']},{kwargs['column_B']}"
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
                severity=_severity(config),
            )
        )
    return outcomes
