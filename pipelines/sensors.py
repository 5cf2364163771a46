"""Sensors: start a province run when its landing folder changes.

The cursor is a fingerprint of every landing file's SHA-256, so a byte-identical file
dropped again (or a file merely touched) starts nothing, while any real change does.
"""

from __future__ import annotations

import hashlib
import json

import dagster as dg

from assets.raw.landing import Landing, LandingFileError
from pipelines.jobs import province_job


def landing_fingerprint(landing: Landing) -> tuple[str, dict[str, str]]:
    """A digest of all landing files' hashes, and each file's hash by role."""
    hashes = {f.role: f.sha256 for f in landing.check()}
    digest = hashlib.sha256(json.dumps(hashes, sort_keys=True).encode()).hexdigest()
    return digest, hashes


@dg.sensor(job=province_job, minimum_interval_seconds=60)
def landing_folder_sensor(
    context: dg.SensorEvaluationContext, landing: dg.ResourceParam[Landing]
) -> dg.SensorResult | dg.SkipReason:
    """Request a run when a landing file is new or its content changed."""
    try:
        digest, hashes = landing_fingerprint(landing)
    except LandingFileError as exc:
        return dg.SkipReason(f"landing folder incomplete: {exc}")
    previous = json.loads(context.cursor) if context.cursor else {}
    if previous.get("digest") == digest:
        return dg.SkipReason("no new or changed landing file")
    changed = sorted(
        role for role, sha in hashes.items() if previous.get("files", {}).get(role) != sha
    )
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=digest,
                tags={"landing/changed": ",".join(changed), "landing/digest": digest[:16]},
            )
        ],
        cursor=json.dumps({"digest": digest, "files": hashes}),
    )
