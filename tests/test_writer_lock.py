"""One writer at a time: a run holds its warehouse's writer lock from start to end, a
second writer waits or is refused with a message naming the holder, and a killed
holder frees the lock and its run is reported failed, never STARTED for ever.

Real subprocesses, real DuckDB files and (with HAMLETS_TEST_POSTGRES_URL) real PostGIS.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assets.warehouse.writer_lock import (
    WarehouseBusyError,
    lock_holder,
    lock_path,
    process_is_gone,
    process_token,
    writer_lock,
)

ROOT = Path(__file__).resolve().parents[1]
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
