"""Keyed references to individual records, for where a record key must leave the
restricted layers (raw, staging, quality).

A reference is the HMAC-SHA256 of the key under a secret from the environment
(``HAMLETS_HASH_SECRET``, see ``pipelines.settings``). Without the secret it cannot be
reversed, not even by hashing every possible household number or citizen ID, as a plain
hash could; with it, a data unit finds the record by computing the references of its own
table and matching (``record_reference(persons["citizen_id"], secret).isin(refs)``).
The same secret always gives the same reference, so references agree across runs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

# Shorter secrets are refused: HMAC-SHA256 keys should carry at least the hash's 256 bits.
MIN_SECRET_BYTES = 32
# Used only in development mode when no secret is set; production mode refuses it.
DEVELOPMENT_SECRET = b"DEVELOPMENT-ONLY hamlets hash secret: NOT FOR REAL PERSONAL DATA"


def _keyed_sha256(secret: bytes) -> Callable[[bytes], str]:
    """HMAC-SHA256 (RFC 2104) under ``secret``, as a function of the message.

    The keyed inner and outer states are computed once and copied per message: about
    three times faster than ``hmac.digest`` per value, which re-keys every call.
    """
    block = hashlib.sha256().block_size
    key = hashlib.sha256(secret).digest() if len(secret) > block else secret
    key = key.ljust(block, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def digest(message: bytes) -> str:
        keyed = inner.copy()
        keyed.update(message)
        result = outer.copy()
        result.update(keyed.digest())
        return result.hexdigest()

    return digest


def record_reference(values: pd.Series, secret: bytes) -> pd.Series:
    """The keyed reference (64 hex characters) of each value; missing stays missing.

    Equals ``hmac.new(secret, str(value).encode(), "sha256").hexdigest()``. Each distinct
    value is hashed once: about 1.5 s per million distinct values.
    """
    if not secret:
        raise ValueError("record_reference needs a non-empty secret")
    digest = _keyed_sha256(secret)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    digests = [digest(str(value).encode("utf-8")) for value in uniques.tolist()]
    hashed = pd.array([*digests, pd.NA], dtype="string")  # code -1 (missing) takes the NA
    return pd.Series(hashed[codes], index=values.index, name=values.name, dtype="string")


@dataclass(frozen=True)
class RecordReferences:
    """The secret, held for the run as a resource; its repr never shows the secret."""

    secret: bytes = field(repr=False)
    is_development: bool = False

    def of(self, values: pd.Series) -> pd.Series:
        return record_reference(values, self.secret)
