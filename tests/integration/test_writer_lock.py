"""One writer at a time: a run holds its warehouse's writer lock from start to end, a
second writer waits or is refused with a message naming the holder, and a killed
holder frees the lock and its run is reported failed, never STARTED for ever.

Real subprocesses, real DuckDB files and (with HAMLETS_TEST_POSTGRES_URL) real PostGIS.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from assets.raw.landing import Landing
from assets.warehouse import Warehouse
from assets.warehouse.writer_lock import (
    WarehouseBusyError,
    lock_holder,
    lock_path,
    process_is_gone,
    process_token,
    writer_lock,
)
from hamlets_config import data_path
from pipelines.build import build_defs
from pipelines.locking import PROCESS_TAG, fail_abandoned_runs
from pipelines.runner import signals_received
from pipelines.sensors import landing_folder_sensor, read_cursor
from pipelines.settings import Settings
from synthetic.province import synthesise_province

ROOT = Path(__file__).resolve().parents[2]
HAMLETS = Path(sys.executable).with_name("hamlets")
HOLD = """
import sys, time
from assets.warehouse.writer_lock import writer_lock
with writer_lock(sys.argv[1], province_code=sys.argv[2] or None, run_id=sys.argv[3]):
    print("held", flush=True)
    time.sleep(600)
"""
RUN_ID = "0b6c6c3e-5f7e-4d2a-9d55-0c1f3c7a2b11"


def _holder(url: str, province: str = "", run_id: str = RUN_ID) -> subprocess.Popen:
    """A process holding the writer lock until killed."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, url, province, run_id],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    _STARTED.append(process)
    assert process.stdout.readline().strip() == "held"
    return process


def _refusal(url: str, **lock: object) -> str:
    """The message of a writer refused the lock."""
    with pytest.raises(WarehouseBusyError) as refused, writer_lock(url, **lock):
        pass
    return str(refused.value)


def _kill(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


def test_duckdb_lock_refuses_a_second_writer_names_the_holder_and_dies_with_it(tmp_path):
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    holder = _holder(url, "04")
    try:
        message = _refusal(url, wait_s=0)
        assert str((tmp_path / "w.duckdb").resolve()) in message
        assert f"run {RUN_ID} of province 04 (pid {holder.pid}, since 20" in message
        started = time.monotonic()
        # DuckDB: one writer per file, whatever the province.
        assert "after waiting 2 s" in _refusal(url, province_code="33", wait_s=2)
        assert time.monotonic() - started >= 2
        found = lock_holder(url, "33")
        assert found is not None and found.pid == holder.pid and found.run_id == RUN_ID
        assert not process_is_gone(found.process)
    finally:
        _kill(holder)
    # SIGKILL ran no cleanup in the holder; the kernel released its flock anyway.
    assert process_is_gone(found.process)
    assert lock_holder(url) is None
    with writer_lock(url, run_id="next", wait_s=0) as held:
        assert held.pid == os.getpid()
        assert lock_holder(url).run_id == "next"  # a second descriptor, even in-process
    assert lock_path(url).read_text() == ""  # a free lock names nobody


def test_postgres_lock_serialises_a_province_not_the_warehouse(postgres_url):
    holder = _holder(postgres_url, "04")
    try:
        message = _refusal(postgres_url, province_code="04", wait_s=0)
        assert f"run {RUN_ID} of province 04 (pid {holder.pid}" in message
        assert ":***@" in message and ":hamlets_ci@" not in message  # no password
        with writer_lock(postgres_url, province_code="33", wait_s=0):
            assert lock_holder(postgres_url, "04").run_id == RUN_ID
        # A run without a province would touch every province's rows: refused too.
        assert "being written by" in _refusal(postgres_url, wait_s=0)
    finally:
        _kill(holder)
    # The server ends the dead client's session and its advisory locks with it.
    deadline = time.monotonic() + 30
    while lock_holder(postgres_url, "04") is not None and time.monotonic() < deadline:
        time.sleep(0.2)
    with writer_lock(postgres_url, province_code="04", run_id=RUN_ID, wait_s=5):
        assert lock_holder(postgres_url, "04").pid == os.getpid()


def test_process_tokens_tell_a_dead_process_from_a_live_one():
    alive = process_token()
    assert not process_is_gone(alive)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    token = process_token(child.pid)
    assert not process_is_gone(token)
    _kill(child)
    assert process_is_gone(token)
    # Elsewhere (another machine or container): never declared gone.
    assert not process_is_gone("0123456789ab.01234567.1.1")


@pytest.fixture(scope="module")
def two_landings(tmp_path_factory) -> tuple[Path, Path]:
    """Two landing roots for one province (04): 600 households in one, 900 in the other."""
    root = tmp_path_factory.mktemp("landings")
    synthesise_province(root / "a" / "04", seed=1, households=600, n_communes=2, province_code="04")
    synthesise_province(root / "b" / "04", seed=2, households=900, n_communes=2, province_code="04")
    return root / "a", root / "b"


def _home(tmp_path: Path) -> Path:
    """A Dagster home with the local instance config and its storage created, as after
    the first ``hamlets run`` (so this test can read it while a run writes)."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(data_path("dagster.local.yaml"), home / "dagster.yaml")
    dg.DagsterInstance.from_config(str(home)).dispose()
    return home


_STARTED: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def _no_process_left():
    """A test that fails half-way leaves none of its processes behind."""
    yield
    while _STARTED:
        process = _STARTED.pop()
        if process.poll() is None:
            _kill(process)


def _hamlets(home: Path, *args: object) -> subprocess.Popen:
    """``hamlets`` as a user runs it, with its own Dagster home."""
    process = subprocess.Popen(
        [str(HAMLETS), *map(str, args)],
        env={**os.environ, "DAGSTER_HOME": str(home)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    _STARTED.append(process)
    return process


def _run_args(landing: Path, warehouse: Path, *more: object) -> list[object]:
    return ["run", "--landing", landing, "--warehouse", warehouse, *more]


def _started_run(home: Path, process: subprocess.Popen) -> dg.DagsterRun:
    """Wait until ``process`` has started its run."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read()
        with dg.DagsterInstance.from_config(str(home)) as instance:
            runs = instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
        if runs:
            return runs[0]
        time.sleep(0.5)
    raise AssertionError("the run never started")


def _runs(home: Path) -> dict[str, dg.DagsterRunStatus]:
    with dg.DagsterInstance.from_config(str(home)) as instance:
        return {run.run_id: run.status for run in instance.get_runs()}


def test_a_second_run_on_one_duckdb_is_refused_or_waits_and_each_publishes_its_own_files(
    tmp_path, two_landings
):
    a, b = two_landings
    home, warehouse = _home(tmp_path), tmp_path / "w.duckdb"
    url = f"duckdb:///{warehouse}"
    first = _hamlets(home, *_run_args(a, warehouse))
    run = _started_run(home, first)

    refused = _hamlets(home, *_run_args(b, warehouse))  # --wait-for-lock 0 by default
    output = refused.communicate(timeout=600)[0]
    assert refused.returncode == 1, output
    assert lock_holder(url).run_id == run.run_id
    assert f"warehouse {warehouse.resolve()} is being written by run {run.run_id}" in output
    assert "of province 04 (pid " in output and "--wait-for-lock" in output

    waiting = _hamlets(home, *_run_args(b, warehouse, "--wait-for-lock", 600))
    first_output = first.communicate(timeout=900)[0]
    assert first.returncode == 0, first_output
    waited_output = waiting.communicate(timeout=900)[0]
    assert waiting.returncode == 0, waited_output

    statuses = _runs(home)
    assert len(statuses) == 2  # the refused run left no record
    assert set(statuses.values()) == {dg.DagsterRunStatus.SUCCESS}
    (second_id,) = set(statuses) - {run.run_id}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        households = dict(
            con.execute(
                "SELECT run_id, sum(households) FROM marts.hamlets GROUP BY run_id"
            ).fetchall()
        )
        published = [
            r
            for (r,) in con.execute(
                "SELECT run_id FROM marts.publications ORDER BY published_at"
            ).fetchall()
        ]
    # Each publication's figures are those of its own landing files.
    assert households == {run.run_id: 600, second_id: 900}
    assert published == [run.run_id, second_id]


def test_a_killed_run_is_reported_failed_and_frees_the_lock(tmp_path, two_landings):
    a, _ = two_landings
    home, warehouse = _home(tmp_path), tmp_path / "w.duckdb"
    url = f"duckdb:///{warehouse}"
    process = _hamlets(home, *_run_args(a, warehouse))
    run = _started_run(home, process)
    assert lock_holder(url).pid == process.pid
    _kill(process)

    # The kernel frees the flock when the last process sharing its open file has gone: a
    # child the run was starting may hold it for the instant between fork and exec.
    deadline = time.monotonic() + 10
    while lock_holder(url) is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert lock_holder(url) is None  # the kernel freed the flock of the dead process
    assert _runs(home) == {run.run_id: dg.DagsterRunStatus.STARTED}  # nobody said otherwise
    listed = _hamlets(home, "runs")
    output = listed.communicate(timeout=120)[0]
    assert listed.returncode == 0, output
    assert f"Run {run.run_id}: its process is gone; marked failed" in output
    assert f"{run.run_id}  restructure_province  04  FAILURE" in output
    assert _runs(home) == {run.run_id: dg.DagsterRunStatus.FAILURE}


def test_an_interrupted_run_is_reported_failed_and_no_further_province_starts(
    tmp_path, two_landings
):
    a, _ = two_landings
    root = tmp_path / "landing"
    shutil.copytree(a / "04", root / "04", ignore=shutil.ignore_patterns("ground_truth"))
    shutil.copytree(a / "04", root / "33", ignore=shutil.ignore_patterns("ground_truth"))
    home, warehouse = _home(tmp_path), tmp_path / "w.duckdb"
    url = f"duckdb:///{warehouse}"
    process = _hamlets(home, *_run_args(root, warehouse))  # every province: 04, then 33
    run = _started_run(home, process)
    assert lock_holder(url).run_id == run.run_id
    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=300)[0]

    assert process.returncode == 130, output
    # The signal lands mid-run (reported failed) or, on a loaded machine, after the run's
    # last step (it published); either way no run of 33 starts and the lock is free.
    status = _runs(home)
    assert list(status) == [run.run_id], output
    if status[run.run_id] == dg.DagsterRunStatus.FAILURE:
        assert f"Run {run.run_id} was interrupted and is reported failed" in output
    else:
        assert status[run.run_id] == dg.DagsterRunStatus.SUCCESS
        assert "Interrupted after the run's last step: no further province starts" in output
    assert "Province 33" not in output
    assert lock_holder(url) is None


def test_a_signal_the_run_swallowed_is_still_seen():
    """Dagster drops a SIGTERM that arrives after a run's last step; the runner's
    wakeup fd still sees it, so the CLI stops before the next province."""
    previous = signal.signal(signal.SIGUSR1, lambda *_: None)  # handled, like Dagster's
    try:
        with signals_received() as received:
            os.kill(os.getpid(), signal.SIGUSR1)
        with signals_received() as quiet:
            pass
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert received == {signal.SIGUSR1}
    assert quiet == set()


def test_the_sensor_requests_nothing_while_another_run_writes(tmp_path, small_landing):
    root = tmp_path / "landing"
    shutil.copytree(small_landing, root / "04", ignore=shutil.ignore_patterns("ground_truth"))
    warehouse = Warehouse(str(tmp_path / "w.duckdb"))

    def tick():
        context = dg.build_sensor_context(
            resources={"landing": Landing(root), "warehouse": warehouse},
            definitions=build_defs(Settings(warehouse_url=warehouse.url, landing_root=root)),
        )
        return landing_folder_sensor.evaluate_tick(context)

    holder = _holder(warehouse.url, "04")
    try:
        busy = tick()
    finally:
        _kill(holder)
    assert not busy.run_requests
    assert "04" not in read_cursor(busy.cursor)  # not advanced: a later tick asks again
    assert busy.skip_message.startswith("waiting for the writer lock: 04: warehouse ")
    assert f"being written by run {RUN_ID}" in busy.skip_message
    free = tick()
    assert [r.partition_key for r in free.run_requests] == ["04"]


def launched_job() -> dg.JobDefinition:
    """The province job as a code location serves it to the daemon (settings from env)."""
    return build_defs(Settings.from_env()).resolve_job_def("restructure_province")


def test_a_launched_run_holds_the_lock_or_fails_naming_its_holder(
    tmp_path, monkeypatch, small_landing
):
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    monkeypatch.setenv("HAMLETS_WAREHOUSE_URL", url)
    monkeypatch.setenv("HAMLETS_LANDING_ROOT", str(small_landing.parent))
    monkeypatch.setenv("HAMLETS_LOCK_WAIT_S", "2")
    job = dg.reconstructable(launched_job)
    launch = {
        "tags": {"dagster/partition": "04"},
        "asset_selection": [dg.AssetKey(["raw", "communes"])],
    }
    with dg.instance_for_test() as instance:
        holder = _holder(url, "04")
        try:
            with dg.execute_job(job, instance, **launch) as refused:
                assert not refused.success
                events = refused.all_events
        finally:
            _kill(holder)
        (failure,) = [e for e in events if e.event_type == dg.DagsterEventType.RUN_FAILURE]
        message = failure.job_failure_data.error.message
        assert f"being written by run {RUN_ID}" in message and "after waiting 2 s" in message
        assert not [e for e in events if e.event_type == dg.DagsterEventType.STEP_START]

        with dg.execute_job(job, instance, **launch) as launched:
            assert launched.success
            run = instance.get_run_by_id(launched.run_id)
            logs = [r.user_message for r in instance.all_logs(launched.run_id)]
        assert any(m.startswith("Holding the writer lock of ") for m in logs)
        assert run.tags[PROCESS_TAG] == process_token()
        assert fail_abandoned_runs(instance) == []


class _Interrupted(BaseException):
    """What Dagster's signal handlers raise (DagsterExecutionInterruptedError is one)."""


@pytest.mark.parametrize("after_s", [0.0, 0.05, 1.5])
def test_a_signal_during_a_duckdb_session_interrupts_rather_than_failing_one_step(
    tmp_path, after_s
):
    """A signal arriving mid-query surfaced as RuntimeError("Query interrupted"), so
    Dagster failed one step and ran the next instead of stopping the run; arriving while
    a new connection loaded the spatial extension, it left the next close or connect of
    the file hanging. Either way the interrupt itself must come out, promptly."""
    warehouse = Warehouse(str(tmp_path / "w.duckdb"))

    def interrupt(_signo, _frame):
        raise _Interrupted()

    previous = signal.signal(signal.SIGINT, interrupt)
    timer = threading.Timer(after_s, os.kill, [os.getpid(), signal.SIGINT])
    started = time.monotonic()
    try:
        with pytest.raises(_Interrupted):
            timer.start()
            warehouse.query("SELECT count(*) FROM range(100000000000) a")
            time.sleep(5)  # not reached when the query is interrupted
        assert warehouse.query("SELECT 42 AS n")["n"].iloc[0] == 42  # the file opens again
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)
    assert time.monotonic() - started < 20


def test_a_planners_record_waits_for_a_run_writing_and_names_it(tmp_path, monkeypatch):
    """`hamlets decide` (and the notebook's and map editor's saves, through the same
    ``recording``) take the writer lock a run holds: while a run writes, the record is
    refused after the wait, naming the run, and nothing is written; then it lands."""
    from datetime import UTC, datetime

    import pandas as pd
    from click.testing import CliRunner

    import assets.decisions.commune as commune
    from assets.progress.records import COMMUNE_STEPS, read_records
    from expectations.schemas import TABLES
    from pipelines.cli import main

    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    warehouse = Warehouse(url)
    decision = {
        "decision_id": "d1", "province_code": "04", "commune_code": "04001",
        "option_name": "compliant", "decided_by": "Lan", "note": "",
        "decided_at": datetime(2026, 6, 1, tzinfo=UTC), "based_on_run_id": "r",
        "rules_profile": "nd185_2026",
    }  # fmt: skip
    warehouse.write_table("planning.decisions", TABLES["planning.decisions"].enforce(
        pd.DataFrame([decision])
    ))  # fmt: skip
    monkeypatch.setattr(commune, "RECORDING_WAIT_S", 0.5)
    args = ["decide", "step", "--warehouse", url, "--province", "04", "--commune", "04001",
            "--step", "party_opinion", "--date", "10/06/2026", "--by", "Lan"]  # fmt: skip
    holder = _holder(url, "04")
    try:
        refused = CliRunner().invoke(main, args)
    finally:
        _kill(holder)
    assert refused.exit_code == 1, refused.output
    assert f"run {RUN_ID} of province 04" in refused.output
    assert read_records(warehouse, COMMUNE_STEPS, "04").empty
    done = CliRunner().invoke(main, args)
    assert done.exit_code == 0, done.output
    assert read_records(warehouse, COMMUNE_STEPS, "04")["decision_id"].tolist() == ["d1"]
