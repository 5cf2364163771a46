"""Sensors and schedules: start a province's run when its landing folder changes.

Each province has its own folder under the landing root (``<root>/04/``) and its own
partition. The sensor's cursor keeps, per province and landing file, the file's name,
size, modification time and SHA-256. A tick re-hashes only the files whose name, size or
mtime moved, so an unchanged 1.2 M-person file costs a ``stat`` per tick, not a read;
a byte-identical file dropped again (or merely touched) is re-hashed once and starts
nothing, while any real change starts that province's run and no other. A change that
keeps both size and mtime (a copy that preserves timestamps) is missed by the sensor;
the nightly schedule is the safety net: it hashes each folder, compares it with what the
last materialisation actually loaded (the hashes the raw assets record) and re-runs
provinces that changed or never finished publishing.

While another run (``hamlets run`` from a terminal, say) holds the warehouse's writer
lock, the sensor requests nothing for the provinces it would conflict with and leaves
their cursor as it was, so a later tick requests them. A run that still meets a held
lock (the schedule's, or one started in the gap) waits for it (pipelines.locking).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TypedDict

import dagster as dg
from dagster._core.definitions.data_version import DATA_VERSION_TAG

from assets.provinces import PROVINCE_CODES
from assets.raw.landing import Landing, LandingFileError, file_sha256
from assets.warehouse import Warehouse, WarehouseError
from assets.warehouse.writer_lock import lock_holder
from pipelines.jobs import province_job

NIGHTLY_CRON = "0 1 * * *"  # 01:00, after the offices' evening uploads
TIMEZONE = "Asia/Ho_Chi_Minh"
# The asset whose materialisation means a province's run reached publication.
PUBLISHED_KEY = dg.AssetKey(["marts", "merger_options"])
CURSOR_VERSION = 2


class SeenFile(TypedDict):
    """What the cursor remembers of one landing file."""

    name: str
    size: int
    mtime_ns: int
    sha256: str


def landing_fingerprint(landing: Landing) -> tuple[str, dict[str, str]]:
    """A digest of all landing files' hashes, and each file's hash by role."""
    hashes = {f.role: f.sha256 for f in landing.check()}
    return fingerprint_digest(hashes), hashes


def fingerprint_digest(hashes: dict[str, str]) -> str:
    """One digest of a province's files (by role), the run key of its run."""
    return hashlib.sha256(json.dumps(hashes, sort_keys=True).encode()).hexdigest()


def province_folders(landing: Landing) -> list[str]:
    """Province folders under the landing root whose names are official codes."""
    return [code for code in landing.province_codes() if code in PROVINCE_CODES]


def seen_file(path: Path, before: dict | None) -> SeenFile:
    """The file as the cursor keeps it; its hash is reused from ``before`` when name,
    size and mtime are unchanged, else computed (the only read of the file)."""
    stat = path.stat()
    if (
        before is not None
        and before.get("name") == path.name
        and before.get("size") == stat.st_size
        and before.get("mtime_ns") == stat.st_mtime_ns
    ):
        return SeenFile(**before)
    return SeenFile(
        name=path.name, size=stat.st_size, mtime_ns=stat.st_mtime_ns, sha256=file_sha256(path)
    )


def read_cursor(cursor: str | None) -> dict[str, dict[str, dict]]:
    """Per province, per role, what was seen. A cursor of the previous form (per
    province a digest and each role's hash) keeps its hashes, so upgrading requests
    nothing that did not change; its files are re-hashed once."""
    if not cursor:
        return {}
    data = json.loads(cursor)
    if data.get("version") == CURSOR_VERSION:
        return data["provinces"]
    return {
        code: {role: {"sha256": sha} for role, sha in seen.get("files", {}).items()}
        for code, seen in data.items()
    }


def write_cursor(provinces: dict[str, dict[str, dict]]) -> str:
    return json.dumps({"version": CURSOR_VERSION, "provinces": provinces}, sort_keys=True)


@dg.sensor(job=province_job, minimum_interval_seconds=60)
def landing_folder_sensor(
    context: dg.SensorEvaluationContext,
    landing: dg.ResourceParam[Landing],
    warehouse: dg.ResourceParam[Warehouse],
) -> dg.SensorResult:
    """Request a province's run when one of its landing files is new or changed, unless
    another run is writing the warehouse (then a later tick requests it)."""
    previous = read_cursor(context.cursor)
    cursor = dict(previous)
    requests: list[dg.RunRequest] = []
    observations: list[dg.AssetObservation] = []
    incomplete: list[str] = []
    busy: list[str] = []
    for code in province_folders(landing):
        try:
            paths = landing.for_province(code).paths()
        except LandingFileError as exc:
            incomplete.append(f"{code}: {exc}")
            continue
        seen = previous.get(code, {})
        files = {role: seen_file(path, seen.get(role)) for role, path in paths.items()}
        hashes = {role: file["sha256"] for role, file in files.items()}
        changed = sorted(
            role for role in hashes if seen.get(role, {}).get("sha256") != hashes[role]
        )
        if not changed:
            cursor[code] = files  # touched files keep their hash: not re-read next tick
            continue
        holder = _writer(warehouse, code)
        if holder is not None:
            busy.append(f"{code}: warehouse {warehouse.location} is being written by {holder}")
            continue
        digest = fingerprint_digest(hashes)
        requests.append(
            dg.RunRequest(
                run_key=f"{code}:{digest}",
                partition_key=code,
                tags={"landing/changed": ",".join(changed), "landing/digest": digest[:16]},
            )
        )
        # The file's hash as the landing asset's data version: the UI marks what was
        # built from an older file as stale until the run finishes.
        observations += [
            dg.AssetObservation(
                asset_key=["landing", role],
                partition=code,
                tags={DATA_VERSION_TAG: hashes[role]},
                metadata={"sha256": hashes[role]},
            )
            for role in changed
        ]
        cursor[code] = files
    skip = None
    if not requests:
        skip = "no new or changed landing file"
        if incomplete:
            skip += "; landing folder incomplete: " + " | ".join(incomplete)
        if busy:
            skip = "waiting for the writer lock: " + " | ".join(busy)
    return dg.SensorResult(
        run_requests=requests,
        skip_reason=skip,
        asset_events=observations,
        cursor=write_cursor(cursor),
    )


def _writer(warehouse: Warehouse, code: str) -> str | None:
    """Who holds the writer lock a run of province ``code`` needs, or None when it is free
    (or cannot be asked: the run's own lock then decides)."""
    try:
        holder = lock_holder(warehouse.url, code)
    except WarehouseError:
        return None
    return holder.describe() if holder else None


def _latest(instance: dg.DagsterInstance, key: dg.AssetKey, code: str) -> dg.EventLogRecord | None:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[code]), limit=1
    ).records
    return records[0] if records else None


def stale_reason(instance: dg.DagsterInstance, landing: Landing, code: str) -> str | None:
    """Why province ``code`` needs a run (its files differ from what was last loaded, or
    the last run did not publish), or None when it is up to date."""
    _, hashes = landing_fingerprint(landing.for_province(code))
    loaded_at = []
    for role, sha in hashes.items():
        record = _latest(instance, dg.AssetKey(["raw", role]), code)
        if record is None:
            return f"{role} never loaded"
        metadata = record.asset_materialization.metadata if record.asset_materialization else {}
        loaded = metadata.get("source_sha256")
        if loaded is None or loaded.value != sha:
            return f"{role} changed"
        loaded_at.append(record.timestamp)
    published = _latest(instance, PUBLISHED_KEY, code)
    if published is None or published.timestamp < max(loaded_at):
        return "last run did not publish"
    return None


@dg.schedule(
    job=province_job,
    cron_schedule=NIGHTLY_CRON,
    execution_timezone=TIMEZONE,
    default_status=dg.DefaultScheduleStatus.STOPPED,
)
def nightly_refresh(
    context: dg.ScheduleEvaluationContext, landing: dg.ResourceParam[Landing]
) -> list[dg.RunRequest] | dg.SkipReason:
    """Re-materialise every province whose inputs changed since its last run."""
    requests = []
    night = context.scheduled_execution_time
    for code in province_folders(landing):
        try:
            reason = stale_reason(context.instance, landing, code)
        except LandingFileError:
            continue  # incomplete folder: the sensor reports it; nothing to run yet
        if reason is not None:
            requests.append(
                dg.RunRequest(
                    partition_key=code,
                    run_key=f"{code}:{night:%Y-%m-%d}",
                    tags={"refresh/reason": reason},
                )
            )
    return requests or dg.SkipReason("every province is up to date")
