"""One writer at a time: a lock a run holds on its warehouse from its first step to its last.

Connections are opened per operation, so without a run-wide lock two runs of one
province interleave their steps and each publishes tables the other wrote. The lock
is held by the process that runs the job, for the whole run:

- **DuckDB**: an OS file lock (``flock``) on ``<warehouse file>.lock`` beside the file,
  one writer per file. The file also says who holds it (pid, run id, province, start
  time), for the message a refused writer gets; it never holds personal data.
- **PostgreSQL**: session-level advisory locks on a dedicated connection. A province's
  run holds its province's key exclusively and the warehouse key shared, so two runs of
  one province are serialised while provinces run side by side (each reads and replaces
  only its own rows, one transaction per write); a run without a province holds the
  warehouse key exclusively, excluding every other run.

The kernel releases a ``flock`` and the server an advisory lock when the holding process
dies, even by SIGKILL, so a killed run never leaves the warehouse locked.

Whoever takes the lock is about to write, so it first brings the warehouse's schema to
this code's version (``assets.warehouse.migrations``); a warehouse newer than the code
is refused there, before anything is written.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from assets.warehouse.base import WarehouseError, backend_of, duckdb_path_from_url, redacted
from assets.warehouse.duckdb_backend import kept_open
from assets.warehouse.factory import Warehouse
from assets.warehouse.migrations import upgrade

POLL_SECONDS = 0.2
# A writer tries this long even when told not to wait, so a sensor's momentary probe of a
# free lock never makes a run refuse.
MIN_TRY_SECONDS = 1.0
# classid of the advisory locks ("HAML"); objid 0 is the whole warehouse, else the province.
ADVISORY_NAMESPACE = 0x48414D4C
_APPLICATION = re.compile(r"hamlets pid=(\d+) run=([0-9a-f-]{1,36}|-)")


class WarehouseBusyError(WarehouseError):
    """Another run holds the warehouse's writer lock."""


@dataclass(frozen=True)
class Holder:
    """Who holds a writer lock: no personal data, only what tells runs apart."""

    pid: int | None
    run_id: str | None = None
    province_code: str | None = None
    started_at: str | None = None
    process: str | None = None  # process_token() of the holder

    def describe(self) -> str:
        who = f"run {self.run_id}" if self.run_id else "a run"
        if self.province_code:
            who += f" of province {self.province_code}"
        details = [f"pid {self.pid}"] if self.pid else []
        details += [f"since {self.started_at}"] if self.started_at else []
        return who + (f" ({', '.join(details)})" if details else "")


def _sha(text: str, length: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


def _start_ticks(pid: int) -> str:
    """The process's start time in clock ticks since boot (Linux), to tell a pid reused
    by a later process from the one that held it; empty when unknown."""
    stat = _read(f"/proc/{pid}/stat")
    # Field 22; the command name (field 2) may hold spaces, so count from its ')'.
    fields = stat.rpartition(")")[2].split()
    return fields[19] if len(fields) > 19 else ""


def _machine() -> str:
    """This machine and PID namespace (hashed: machine-id is meant to stay private), and
    this boot; empty parts when the platform has no /proc."""
    try:
        namespace = str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        namespace = ""
    machine_id = _read("/etc/machine-id")
    boot_id = _read("/proc/sys/kernel/random/boot_id")
    if not machine_id or not namespace or not boot_id:
        return "."
    return f"{_sha(machine_id + ':' + namespace, 12)}.{_sha(boot_id, 8)}"


def process_token(pid: int | None = None) -> str:
    """``machine.boot.pid.start``: enough to decide later whether that process still runs."""
    pid = os.getpid() if pid is None else pid
    return f"{_machine()}.{pid}.{_start_ticks(pid)}"


def process_is_gone(token: str) -> bool:
    """True only when sure that the process ``token`` names has ended: it ran on this
    machine (same PID namespace) and either the machine rebooted since or no process with
    that pid and start time exists. A process elsewhere (or on a platform without /proc)
    is never declared gone."""
    machine, _, rest = token.partition(".")
    boot, _, rest = rest.partition(".")
    pid_text, _, start = rest.partition(".")
    here_machine, _, here_boot = _machine().partition(".")
    if not machine or machine != here_machine or not pid_text.isdigit() or not start:
        return False
    if boot != here_boot:
        return True
    return _start_ticks(int(pid_text)) != start


def lock_path(url: str) -> Path:
    """The lock file of a DuckDB warehouse: beside it, named after it."""
    path = duckdb_path_from_url(url).resolve()
    return path.with_name(path.name + ".lock")


@contextmanager
def writer_lock(
    url: str,
    *,
    province_code: str | None = None,
    run_id: str | None = None,
    wait_s: float = 0.0,
) -> Iterator[Holder]:
    """Hold the warehouse's writer lock for the block; wait up to ``wait_s`` seconds for
    another holder, then raise :class:`WarehouseBusyError` naming the warehouse and the holder.

    Released when the block ends, however it ends, and by the OS or the server when the
    process dies. Two holders in one process exclude each other too. Once held, the
    warehouse is upgraded to this code's schema version (:func:`upgrade`; a newer one
    raises ``SchemaVersionError``) before the block runs.
    """
    me = Holder(
        pid=os.getpid(),
        run_id=run_id,
        province_code=province_code,
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        process=process_token(),
    )
    on_duckdb = backend_of(url) == "duckdb"
    locker = _duckdb_lock if on_duckdb else _postgres_lock
    # On DuckDB the holder keeps the database open while it holds the lock (kept_open).
    kept = kept_open(duckdb_path_from_url(url)) if on_duckdb else nullcontext()
    with locker(url, me, wait_s) as held, kept:
        upgrade(Warehouse(url))
        yield held


def lock_holder(url: str, province_code: str | None = None) -> Holder | None:
    """Who holds the writer lock a run of ``province_code`` would need, or None when free.

    A probe for sensors: it takes nothing a writer would wait for (on DuckDB a shared lock
    for an instant, which writers retry past, see MIN_TRY_SECONDS).
    """
    if backend_of(url) == "duckdb":
        path = lock_path(url)
        if not path.exists():
            return None
        fd = os.open(path, os.O_RDONLY)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return _holder_in(path)
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)
    from assets.warehouse.postgres_backend import _connect

    con = _connect(url)
    try:
        con.autocommit = True
        return _advisory_holder(con, _advisory_keys(province_code))
    finally:
        con.close()


def _holder_in(path: Path) -> Holder:
    """The holder a DuckDB lock file names (pid unknown if it has not written it yet)."""
    try:
        fields = json.loads(path.read_text() or "{}")
        return Holder(**{k: fields.get(k) for k in Holder.__dataclass_fields__})
    except (OSError, ValueError, TypeError):
        return Holder(pid=None)


def _busy(location: str, holder: Holder | None, wait_s: float) -> WarehouseBusyError:
    who = holder.describe() if holder else "another run"
    waited = f" after waiting {wait_s:g} s" if wait_s > 0 else ""
    return WarehouseBusyError(
        f"warehouse {location} is being written by {who}; refusing a second writer{waited}. "
        "Wait for that run to finish (or cancel it), or run again with --wait-for-lock SECONDS"
    )


def _deadline(wait_s: float) -> float:
    return time.monotonic() + max(wait_s, MIN_TRY_SECONDS)


@contextmanager
def _duckdb_lock(url: str, me: Holder, wait_s: float) -> Iterator[Holder]:
    path = lock_path(url)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = _deadline(wait_s)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    raise WarehouseError(f"cannot lock {path}: {exc}") from exc
                if time.monotonic() >= deadline:
                    location = str(duckdb_path_from_url(url).resolve())
                    raise _busy(location, _holder_in(path), wait_s) from None
                time.sleep(POLL_SECONDS)
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(asdict(me)).encode(), 0)
            yield me
        finally:
            os.ftruncate(fd, 0)  # a free lock names nobody
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _advisory_keys(province_code: str | None) -> list[tuple[bool, int]]:
    """(exclusive, objid) pairs a run takes, the warehouse key first (always the same
    order, so two runs cannot deadlock)."""
    if province_code is None:
        return [(True, 0)]
    if not province_code.isdigit() or int(province_code) == 0:
        raise WarehouseError(f"province code {province_code!r} cannot key a writer lock")
    return [(False, 0), (True, int(province_code))]


def _advisory_holder(con, keys: list[tuple[bool, int]]) -> Holder | None:
    """Another session holding one of ``keys`` in a mode that conflicts (any mode when
    the key is wanted exclusively, exclusive when shared), as far as this role may see."""
    with con.cursor() as cursor:
        for exclusive, objid in keys:
            cursor.execute(
                "SELECT a.application_name, a.backend_start FROM pg_locks l "
                "LEFT JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 "
                "AND l.classid = %s::oid AND l.objid = %s::oid "
                "AND (%s OR l.mode = 'ExclusiveLock') AND l.pid <> pg_backend_pid() "
                "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                "ORDER BY l.mode LIMIT 1",
                [ADVISORY_NAMESPACE, objid, exclusive],
            )
            row = cursor.fetchone()
            if row is not None:
                return _named_holder(row[0], row[1], objid)
    return None


def _named_holder(application: str | None, started: datetime | None, objid: int) -> Holder:
    """A holder from its session's application_name (set by _postgres_lock)."""
    match = _APPLICATION.fullmatch(application or "")
    return Holder(
        pid=int(match.group(1)) if match else None,
        run_id=match.group(2) if match and match.group(2) != "-" else None,
        province_code=f"{objid:02d}" if objid else None,
        started_at=started.isoformat(timespec="seconds") if started else None,
    )


@contextmanager
def _postgres_lock(url: str, me: Holder, wait_s: float) -> Iterator[Holder]:
    from assets.warehouse.postgres_backend import _connect

    con = _connect(url)
    try:
        con.autocommit = True
        with con.cursor() as cursor:
            # Who holds the lock, for the message another writer gets (see _APPLICATION).
            cursor.execute(
                "SET application_name = %s", [f"hamlets pid={me.pid} run={me.run_id or '-'}"]
            )
            deadline = _deadline(wait_s)
            for exclusive, objid in _advisory_keys(me.province_code):
                function = "pg_try_advisory_lock" if exclusive else "pg_try_advisory_lock_shared"
                while True:
                    cursor.execute(f"SELECT {function}(%s, %s)", [ADVISORY_NAMESPACE, objid])
                    if cursor.fetchone()[0]:
                        break
                    if time.monotonic() >= deadline:
                        holder = _advisory_holder(con, [(exclusive, objid)])
                        raise _busy(redacted(url), holder, wait_s)
                    time.sleep(POLL_SECONDS)
        yield me
    finally:
        con.close()  # ends the session: the server releases its advisory locks
