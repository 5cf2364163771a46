"""Run settings, read from the environment in one place (secrets never committed)."""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from assets.marts.guard import DEFAULT_MAX_SHRINK_SHARE, PublishGuard
from assets.privacy import DEVELOPMENT_SECRET, MIN_SECRET_BYTES, RecordReferences
from assets.run_settings import DEFAULT_EXPORTS_DIR, RunSettings, parse_as_of
from assets.warehouse import DEFAULT_WAREHOUSE_URL, Warehouse

# One folder per province under the root, named by its two-digit code: data/landing/04/
DEFAULT_LANDING_ROOT = Path("data/landing")
MODES = ("development", "production")
logger = logging.getLogger(__name__)
GENERATE_SECRET = "python3 -c 'import secrets; print(secrets.token_hex(32))'"


class SettingsError(ValueError):
    """The settings do not allow a run to start; the message names the variable to set."""


def privacy_from_env(environ: Mapping[str, str] = os.environ) -> dict[str, object]:
    """``mode`` (HAMLETS_MODE) and ``hash_secret`` (HAMLETS_HASH_SECRET, UTF-8 bytes).

    Kept apart from :meth:`Settings.from_env` so the CLI, which takes the other settings
    from its options, reads these two from the environment as well.
    """
    secret = environ.get("HAMLETS_HASH_SECRET") or None
    return {
        "mode": environ.get("HAMLETS_MODE") or "development",
        "hash_secret": secret.encode("utf-8") if secret else None,
    }


@dataclass(frozen=True)
class Settings:
    """Where the landing folders are, which warehouse to write, which rules apply."""

    warehouse_url: str = DEFAULT_WAREHOUSE_URL
    landing_root: Path = DEFAULT_LANDING_ROOT
    rules_profile: str | None = None
    rules_override: Path | None = None
    exports_dir: Path | None = None
    exact_time_limit_s: float = 2.0
    max_concurrent_steps: int = 2  # multiprocess executor (PostgreSQL warehouses)
    # Largest fall of a province's hamlets, households or persons that still publishes.
    max_shrink_share: float = DEFAULT_MAX_SHRINK_SHARE
    # How long a run waits for another run's writer lock before failing (pipelines.locking).
    # Runs the daemon launches wait: nobody is at a terminal to start them again. The
    # CLI refuses at once unless told to wait (hamlets run --wait-for-lock).
    lock_wait_s: float = 600.0
    # The population extract's day every step of a run judges by; None: the day in Vietnam
    # each run is created (``hamlets run`` passes today's date).
    as_of: dt.date | None = None
    mode: str = "development"  # production refuses to start without a hash secret
    # Key of the record references (assets.privacy); never in a repr, log or metadata.
    hash_secret: bytes | None = field(default=None, repr=False)

    def check(self) -> None:
        """Refuse settings no run may start with, naming the variable and how to set it.

        Production needs its own ``HAMLETS_HASH_SECRET`` of at least 32 bytes; development
        without one uses the labelled development secret (see :attr:`record_references`).
        """
        try:
            PublishGuard(self.max_shrink_share)
        except ValueError as exc:
            raise SettingsError(f"HAMLETS_MAX_SHRINK_SHARE: {exc}") from exc
        if self.mode not in MODES:
            raise SettingsError(
                f"HAMLETS_MODE is {self.mode!r}; set it to 'development' (the default) "
                "or 'production'"
            )
        how = (
            f"set HAMLETS_HASH_SECRET to at least {MIN_SECRET_BYTES} random bytes from the "
            f'deployment\'s secret store, e.g. export HAMLETS_HASH_SECRET="$({GENERATE_SECRET})", '
            "and keep it: record references change with it"
        )
        if self.hash_secret is None:
            if self.mode == "production":
                raise SettingsError(
                    "HAMLETS_MODE=production refuses to start without HAMLETS_HASH_SECRET, "
                    f"the key of the record references (HMAC-SHA256): {how}"
                )
            logger.warning(
                "development mode: record references use the DEVELOPMENT hash secret, which "
                "is public; for real personal data set HAMLETS_MODE=production and "
                "HAMLETS_HASH_SECRET"
            )
            return
        if len(self.hash_secret) < MIN_SECRET_BYTES:
            raise SettingsError(
                f"HAMLETS_HASH_SECRET is shorter than {MIN_SECRET_BYTES} bytes: {how}"
            )
        if self.mode == "production" and self.hash_secret == DEVELOPMENT_SECRET:
            raise SettingsError(f"HAMLETS_HASH_SECRET is the published development secret: {how}")

    @property
    def record_references(self) -> RecordReferences:
        """The record-reference key: the secret, else (development only) the labelled
        development secret, which anyone can read in the source."""
        if self.hash_secret is not None:
            return RecordReferences(self.hash_secret)
        if self.mode == "production":
            raise SettingsError("HAMLETS_MODE=production needs HAMLETS_HASH_SECRET")
        return RecordReferences(DEVELOPMENT_SECRET, is_development=True)

    @property
    def exports_root(self) -> Path:
        """Configured, else an ``exports`` folder beside a DuckDB warehouse file."""
        if self.exports_dir is not None:
            return self.exports_dir
        warehouse = Warehouse(self.warehouse_url)
        return (
            warehouse.path.parent / "exports"
            if warehouse.kind == "duckdb"
            else Path(DEFAULT_EXPORTS_DIR)  # for warehouses that are not a file
        )

    def run_settings(self) -> RunSettings:
        """The run-wide resource every asset and check reads (``assets.run_settings``)."""
        return RunSettings(
            as_of=self.as_of.isoformat() if self.as_of else "",
            rules_profile=self.rules_profile or "",
            rules_override=str(self.rules_override) if self.rules_override else "",
            exports_dir=str(self.exports_root),
            max_shrink_share=self.max_shrink_share,
            exact_time_limit_s=self.exact_time_limit_s,
        )

    @classmethod
    def from_env(cls) -> Settings:
        override = os.environ.get("HAMLETS_RULES_OVERRIDE")
        as_of = os.environ.get("HAMLETS_AS_OF")
        return cls(
            warehouse_url=os.environ.get("HAMLETS_WAREHOUSE_URL", DEFAULT_WAREHOUSE_URL),
            landing_root=Path(os.environ.get("HAMLETS_LANDING_ROOT", str(DEFAULT_LANDING_ROOT))),
            rules_profile=os.environ.get("HAMLETS_RULES_PROFILE") or None,
            rules_override=Path(override) if override else None,
            exports_dir=Path(exports)
            if (exports := os.environ.get("HAMLETS_EXPORTS_DIR"))
            else None,
            exact_time_limit_s=float(os.environ.get("HAMLETS_EXACT_TIME_LIMIT_S", "2.0")),
            max_concurrent_steps=int(os.environ.get("HAMLETS_MAX_CONCURRENT_STEPS", "2")),
            max_shrink_share=float(
                os.environ.get("HAMLETS_MAX_SHRINK_SHARE") or DEFAULT_MAX_SHRINK_SHARE
            ),
            lock_wait_s=float(os.environ.get("HAMLETS_LOCK_WAIT_S", "600")),
            as_of=_as_of_from_env(as_of) if as_of else None,
            **privacy_from_env(),
        )


def _as_of_from_env(text: str) -> dt.date:
    try:
        return parse_as_of(text)
    except ValueError as exc:
        raise SettingsError(f"HAMLETS_AS_OF is {text!r}; set it to a date YYYY-MM-DD") from exc
