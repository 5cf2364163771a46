"""The 34 provinces (since the 2025 reorganisation) as the pipeline's partition key.

Codes are two-digit text ("04" for Cao Bằng), the form the communes files carry.
"""

from __future__ import annotations

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
