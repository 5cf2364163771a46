"""The 34 provinces (since the 2025 reorganisation) as the pipeline's partition key.

Codes are two-digit text ("04" for Cao Bằng), the form the communes files carry.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dagster as dg
from vietnam_provinces import Province

PROVINCE_NAMES: dict[str, str] = {
    f"{int(p.code):02d}": p.name for p in sorted(Province.iter_all(), key=lambda p: int(p.code))
}
PROVINCE_CODES: tuple[str, ...] = tuple(PROVINCE_NAMES)

PROVINCE_PARTITIONS = dg.StaticPartitionsDefinition(list(PROVINCE_CODES))


def check_province_code(code: str) -> str:
    """The code as partition key, or an error listing what is valid."""
    key = code.strip().zfill(2)
    if key not in PROVINCE_NAMES:
        raise ValueError(
            f"unknown province code {code!r}; valid codes: {', '.join(PROVINCE_CODES)}"
        )
    return key


# Every step that reads or writes the warehouse claims a slot in this pool: DuckDB takes
# one writer at a time, so its deployments set the pool's limit to 1 (config/).
WAREHOUSE_POOL = "warehouse"
# Steps that hold a province's person records in memory; executors limit how many run
# at once (tag_concurrency_limits in config/).
MEMORY_HEAVY_TAGS = {"hamlets/memory": "heavy"}


def _of_a_province(decorator: Callable[..., Any]) -> Callable[..., Any]:
    def province_decorator(**kwargs: Any) -> Any:
        return decorator(partitions_def=PROVINCE_PARTITIONS, pool=WAREHOUSE_POOL, **kwargs)

    province_decorator.__doc__ = (
        f"``dg.{decorator.__name__}`` for a step of a province's run: partitioned by "
        "province, and holding a slot of the warehouse pool."
    )
    return province_decorator


# The decorators of every asset and check a province's run materialises, so the
# partitioning and the pool are said once.
province_asset = _of_a_province(dg.asset)
province_multi_asset = _of_a_province(dg.multi_asset)
province_asset_check = _of_a_province(dg.asset_check)
