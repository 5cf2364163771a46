"""The PostGIS test databases, made and dropped as the role HAMLETS_TEST_POSTGRES_URL names."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg2
import psycopg2.errors
import psycopg2.extensions
from sqlalchemy.engine import URL


@contextmanager
def admin_connection(url: URL) -> Iterator[psycopg2.extensions.connection]:
    """An autocommit connection: CREATE and DROP DATABASE cannot run in a transaction."""
    con = psycopg2.connect(
        host=url.host,
        port=url.port or 5432,
        user=url.username,
        password=url.password,
        dbname=url.database or "postgres",
    )
    con.autocommit = True
    try:
        yield con
    finally:
        con.close()


def drop_database(admin: URL, name: str, wait_s: float = 60.0) -> None:
    """Drop a test database, ending its sessions.

    ``WITH (FORCE)`` ends only sessions the test role may signal. An autovacuum worker
    analysing the rows a test just wrote is not one of them (PostgreSQL 15 refuses the
    whole DROP with InsufficientPrivilege), and it ends on its own within seconds: try
    again until ``wait_s`` has passed, then let the refusal through.
    """
    deadline = time.monotonic() + wait_s
    while True:
        try:
            with admin_connection(admin) as con, con.cursor() as cursor:
                cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            return
        except psycopg2.errors.InsufficientPrivilege:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
