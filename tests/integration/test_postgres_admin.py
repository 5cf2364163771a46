"""A test database is dropped even while a session the test role may not end is open
(an autovacuum worker's in CI, here another login's): the drop waits for it."""

from __future__ import annotations

import threading
import time
import uuid

import psycopg2
import psycopg2.errors
import pytest
from postgres_admin import admin_connection, drop_database
from sqlalchemy.engine import make_url


def _exists(admin, name: str) -> bool:
    with admin_connection(admin) as con, con.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_database WHERE datname = %s", (name,))
        return cursor.fetchone()[0] == 1


def test_a_database_is_dropped_once_a_session_it_cannot_end_closes(postgres_url, make_login):
    admin = make_url(postgres_url)
    name = f"hamlets_test_{uuid.uuid4().hex[:12]}"
    with admin_connection(admin) as con, con.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {name}")
    # A role the test role made but is not a member of: its sessions are not the test
    # role's to end, as an autovacuum worker's are not.
    other = make_url(make_login("other")).set(database=name)
    session = psycopg2.connect(
        host=other.host,
        port=other.port or 5432,
        user=other.username,
        password=other.password,
        dbname=name,
    )
    try:
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            drop_database(admin, name, wait_s=0)
        assert _exists(admin, name)

        closer = threading.Timer(1.5, session.close)
        closer.start()
        started = time.monotonic()
        drop_database(admin, name, wait_s=30)
        waited_s = time.monotonic() - started
        closer.join()
        assert not _exists(admin, name)
        assert waited_s >= 1.0
    finally:
        session.close()
        if _exists(admin, name):
            drop_database(admin, name, wait_s=30)
