"""Jobs: what a run materialises."""

from __future__ import annotations

import dagster as dg

PROVINCE_JOB_NAME = "restructure_province"

province_job = dg.define_asset_job(
    PROVINCE_JOB_NAME,
    selection=dg.AssetSelection.all() - dg.AssetSelection.groups("landing", "national"),
    description="Landing files to published marts for one province (partition)",
)
