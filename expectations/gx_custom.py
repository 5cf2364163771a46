"""Custom Great Expectations 1.x expectations for the domain rules.

Imported only by ``expectations.suites`` when GX is first used (GX is slow to import).
Defining the classes registers them with GX. The row logic is not here: it lives in
plain pandas (``expectations.citizen_id``) and the record rules call the same function.
"""

from __future__ import annotations

import datetime as dt
from typing import ClassVar, Union

from great_expectations.core.suite_parameters import SuiteParameterDict
from great_expectations.execution_engine import PandasExecutionEngine
from great_expectations.expectations.expectation import MulticolumnMapExpectation
from great_expectations.expectations.metrics.map_metric_provider import (
    MulticolumnMapMetricProvider,
)
from great_expectations.expectations.metrics.map_metric_provider.multicolumn_condition_partial import (  # noqa: E501
    multicolumn_condition_partial,
)

from expectations.citizen_id import citizen_id_consistent
from expectations.household_rules import (
    HEAD_MIN_AGE_YEARS,
    head_under_age,
    household_has_one_head,
)

CITIZEN_ID_METRIC = "citizen_id.consistent"


class CitizenIdConsistent(MulticolumnMapMetricProvider):
    """Row condition: the 12-digit citizen ID agrees with sex and birth date.

    ``column_list`` is ``[citizen_id, sex, birth_date]`` in that order.
    """

    condition_metric_name = CITIZEN_ID_METRIC
    condition_domain_keys = (
        "batch_id",
        "table",
        "column_list",
        "row_condition",
        "condition_parser",
        "ignore_row_if",
    )
    condition_value_keys = ("as_of",)

    @multicolumn_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_list, **kwargs):  # noqa: N805 (GX makes it a classmethod)
        citizen_id, sex, birth_date = (column_list[c] for c in column_list.columns[:3])
        return citizen_id_consistent(citizen_id, sex, birth_date, as_of=kwargs.get("as_of"))


class ExpectCitizenIdToBeConsistent(MulticolumnMapExpectation):
    """Expect each 12-digit citizen ID (``PPP G YY NNNNNN``) to be consistent.

    PPP must be "0" + one of the 63 pre-2025 province codes; G must give the century of
    the birth year (0/1 = 1900s, 2/3 = 2000s, …) and the sex (even = male, odd =
    female); YY must equal the birth year's last two digits. 9-digit old ID numbers and
    malformed values pass here (the format has its own expectation); a part whose
    reference value (sex, birth date) is missing, or a birth date after ``as_of``, is
    not judged.

    ``column_list`` is ``[citizen_id, sex, birth_date]``.
    """

    map_metric = CITIZEN_ID_METRIC
    as_of: Union[dt.date, dt.datetime, str, SuiteParameterDict, None] = None  # noqa: UP007
    ignore_row_if: str = "never"
    success_keys: ClassVar[tuple[str, ...]] = ("mostly", "as_of")
    args_keys: ClassVar[tuple[str, ...]] = ("column_list",)


ONE_HEAD_METRIC = "household.one_head"
HEAD_AGE_METRIC = "household.head_of_age"


class HouseholdHasOneHead(MulticolumnMapMetricProvider):
    """Row condition: the record's household has exactly one head.

    ``column_list`` is ``[household_id, is_household_head]``.
    """

    condition_metric_name = ONE_HEAD_METRIC
    condition_domain_keys = CitizenIdConsistent.condition_domain_keys

    @multicolumn_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_list, **kwargs):  # noqa: N805 (GX makes it a classmethod)
        household_id, is_head = (column_list[c] for c in column_list.columns[:2])
        return household_has_one_head(household_id, is_head)


class HouseholdHeadOfAge(MulticolumnMapMetricProvider):
    """Row condition: the record is not a head younger than ``min_age`` at ``as_of``.

    ``column_list`` is ``[is_household_head, birth_date]``.
    """

    condition_metric_name = HEAD_AGE_METRIC
    condition_domain_keys = CitizenIdConsistent.condition_domain_keys
    condition_value_keys = ("as_of", "min_age")

    @multicolumn_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_list, **kwargs):  # noqa: N805 (GX makes it a classmethod)
        is_head, birth_date = (column_list[c] for c in column_list.columns[:2])
        return ~head_under_age(
            is_head, birth_date, as_of=kwargs["as_of"], min_age=kwargs["min_age"]
        )


class ExpectHouseholdToHaveOneHead(MulticolumnMapExpectation):
    """Expect every person's household to have exactly one head (chủ hộ).

    Every member of a household with no head or several heads is unexpected, so the
    count is of persons in such households. ``column_list`` is
    ``[household_id, is_household_head]``; records without a household pass.
    """

    map_metric = ONE_HEAD_METRIC
    ignore_row_if: str = "never"
    args_keys: ClassVar[tuple[str, ...]] = ("column_list",)


class ExpectHouseholdHeadToBeOfAge(MulticolumnMapExpectation):
    """Expect every head of household to be at least ``min_age`` years old at ``as_of``.

    ``column_list`` is ``[is_household_head, birth_date]``; a missing or future birth
    date is not judged here.
    """

    map_metric = HEAD_AGE_METRIC
    as_of: Union[dt.date, dt.datetime, str, SuiteParameterDict]  # noqa: UP007
    min_age: Union[int, SuiteParameterDict] = HEAD_MIN_AGE_YEARS  # noqa: UP007
    ignore_row_if: str = "never"
    success_keys: ClassVar[tuple[str, ...]] = ("mostly", "as_of", "min_age")
    args_keys: ClassVar[tuple[str, ...]] = ("column_list",)
