"""HAMLETS_MODE=production refuses to start without a proper HAMLETS_HASH_SECRET; with
one, the code location loads and the record references use it, and never show it."""

from __future__ import annotations

import importlib
import logging

import dagster as dg
import pytest

from assets.privacy import DEVELOPMENT_SECRET, RecordReferences
from pipelines.build import build_defs
from pipelines.settings import Settings, SettingsError

SECRET = "0123456789abcdef0123456789abcdef-production"


def _settings(tmp_path, **privacy) -> Settings:
    return Settings(warehouse_url=f"duckdb:///{tmp_path / 'w.duckdb'}", **privacy)


def test_production_without_a_secret_is_refused_with_a_message_saying_how(tmp_path):
    with pytest.raises(SettingsError) as refused:
        _settings(tmp_path, mode="production").check()
    message = str(refused.value)
    assert "HAMLETS_MODE=production" in message and "HAMLETS_HASH_SECRET" in message
    assert "export HAMLETS_HASH_SECRET=" in message and "secrets.token_hex(32)" in message


@pytest.mark.parametrize(
    ("privacy", "expected"),
    [
        ({"mode": "production", "hash_secret": b"too-short"}, "shorter than 32 bytes"),
        ({"mode": "development", "hash_secret": b"too-short"}, "shorter than 32 bytes"),
        ({"mode": "production", "hash_secret": DEVELOPMENT_SECRET}, "development secret"),
        ({"mode": "prod"}, "HAMLETS_MODE is 'prod'"),
    ],
)
def test_unusable_secrets_and_modes_are_refused(tmp_path, privacy, expected):
    with pytest.raises(SettingsError, match=expected) as refused:
        build_defs(_settings(tmp_path, **privacy))
    assert "too-short" not in str(refused.value)  # the message never echoes the secret


def test_the_code_location_refuses_to_load_in_production_without_a_secret(monkeypatch, tmp_path):
    monkeypatch.setenv("HAMLETS_WAREHOUSE_URL", str(tmp_path / "w.duckdb"))
    monkeypatch.setenv("HAMLETS_MODE", "production")
    monkeypatch.delenv("HAMLETS_HASH_SECRET", raising=False)
    with pytest.raises(SettingsError, match="HAMLETS_HASH_SECRET"):
        importlib.reload(importlib.import_module("pipelines.definitions"))


def test_the_code_location_loads_in_production_with_a_secret(monkeypatch, tmp_path):
    monkeypatch.setenv("HAMLETS_WAREHOUSE_URL", str(tmp_path / "w.duckdb"))
    monkeypatch.setenv("HAMLETS_MODE", "production")
    monkeypatch.setenv("HAMLETS_HASH_SECRET", SECRET)
    entry = importlib.reload(importlib.import_module("pipelines.definitions"))
    assert isinstance(entry.defs, dg.Definitions)
    references = entry.defs.resources["record_references"]
    assert references == RecordReferences(SECRET.encode())
    assert not references.is_development
    settings = Settings.from_env()
    assert settings.mode == "production" and SECRET not in repr(settings)


def test_development_without_a_secret_uses_the_labelled_development_secret(tmp_path, caplog):
    settings = _settings(tmp_path)
    assert settings.mode == "development"
    with caplog.at_level(logging.WARNING):
        defs = build_defs(settings)
    assert "DEVELOPMENT hash secret" in caplog.text
    references = defs.resources["record_references"]
    assert references.is_development and references.secret == DEVELOPMENT_SECRET


def test_the_cli_refuses_to_run_in_production_without_a_secret(monkeypatch, tmp_path):
    from click.testing import CliRunner

    from pipelines.cli import main

    monkeypatch.setenv("HAMLETS_MODE", "production")
    monkeypatch.delenv("HAMLETS_HASH_SECRET", raising=False)
    warehouse = tmp_path / "w.duckdb"
    args = ["run", "--landing", str(tmp_path), "--province", "04", "--warehouse", str(warehouse)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert "HAMLETS_MODE=production refuses to start without HAMLETS_HASH_SECRET" in result.output
    assert not warehouse.exists()  # refused before anything was written
