"""Entry point of the Dagster code location (workspace.yaml, `dagster dev`)."""

from pipelines.build import build_defs

defs = build_defs()
