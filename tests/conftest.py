"""Shared fixtures: a small synthetic province and a full run of the graph on it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import dagster as dg
import pytest
from postgres_admin import admin_connection, drop_database
from sqlalchemy.engine import make_url

from pipelines.runner import RunReport, run_province
from pipelines.settings import Settings
from synthetic.province import synthesise_province

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"


@pytest.fixture(scope="session")
def small_landing(tmp_path_factory) -> Path:
    """A deterministic small province (Cao Bằng's code, 04) with a few planted record
    errors: the province's folder ``<landing root>/04``."""
    out = tmp_path_factory.mktemp("landing") / "04"
    synthesise_province(out, seed=11, households=1500, n_communes=4, error_rate=0.01)
    return out


@pytest.fixture(scope="session")
def pipeline_instance() -> dg.DagsterInstance:
    """The Dagster instance of the shared run, kept so its event log can be inspected."""
    return dg.DagsterInstance.ephemeral()


@pytest.fixture(scope="session")
def published(tmp_path_factory, small_landing, pipeline_instance) -> tuple[Settings, RunReport]:
    """The whole graph materialised once into a fresh warehouse."""
    warehouse = tmp_path_factory.mktemp("warehouse") / "w.duckdb"
    settings = Settings(warehouse_url=f"duckdb:///{warehouse}", landing_root=small_landing.parent)
    report = run_province(settings, instance=pipeline_instance)
    return settings, report


@pytest.fixture
def postgres_url(tmp_path, monkeypatch) -> Iterator[str]:
    """A fresh PostGIS database for one test, dropped afterwards.

    HAMLETS_TEST_POSTGRES_URL names a role that may create databases (.ci/run starts
    PostgreSQL + PostGIS and sets it). In CI its absence is a failure, not a skip.
    The test runs in ``tmp_path``: a PostgreSQL warehouse has no file to keep its
    restricted Data Docs and exports beside, so they default to ``./data``.
    """
    monkeypatch.chdir(tmp_path)
    admin_url = os.environ.get("HAMLETS_TEST_POSTGRES_URL")
    if not admin_url:
        if os.environ.get("CI"):
            pytest.fail("HAMLETS_TEST_POSTGRES_URL is not set; .ci/run must start PostGIS")
        pytest.skip("set HAMLETS_TEST_POSTGRES_URL to run the PostGIS tests")
    name = f"hamlets_test_{uuid.uuid4().hex[:12]}"
    admin = make_url(admin_url)
    with admin_connection(admin) as con, con.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {name}")
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        drop_database(admin, name)


@pytest.fixture
def make_login(postgres_url) -> Iterator[Callable[..., str]]:
    """``make_login(label, *groups)``: a new database login (in those group roles) and
    its URL to the test database; every login is dropped afterwards."""
    from psycopg2 import sql

    admin = make_url(postgres_url)
    logins: list[str] = []

    def make(label: str, *groups: str) -> str:
        login = f"t_{label}_{uuid.uuid4().hex[:6]}"
        with admin_connection(admin) as con, con.cursor() as cursor:
            cursor.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'pw'").format(sql.Identifier(login))
            )
            logins.append(login)
            for group in groups:
                cursor.execute(
                    sql.SQL("GRANT {} TO {}").format(sql.Identifier(group), sql.Identifier(login))
                )
        return admin.set(username=login, password="pw").render_as_string(hide_password=False)

    yield make
    with admin_connection(admin) as con, con.cursor() as cursor:
        for login in logins:
            cursor.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(login)))
