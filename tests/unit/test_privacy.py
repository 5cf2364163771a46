"""Keyed record references: HMAC-SHA256, stable under one secret, different under another."""

from __future__ import annotations

import hashlib
import hmac

import pandas as pd
import pytest

from assets.privacy import DEVELOPMENT_SECRET, MIN_SECRET_BYTES, RecordReferences, record_reference

SECRET = b"s" * MIN_SECRET_BYTES
IDS = pd.Series(["001090012345", "079123456789", None, "001090012345"], index=[7, 8, 9, 10])


@pytest.mark.parametrize("secret", [b"k" * 32, b"k" * 64, b"k" * 65, b"\xff" * 200])
def test_reference_is_hmac_sha256_of_the_value(secret):
    refs = record_reference(IDS, secret)
    expected = hmac.new(secret, b"079123456789", hashlib.sha256).hexdigest()
    assert refs[8] == expected


def test_references_are_stable_for_one_secret_and_differ_across_secrets():
    first, again = record_reference(IDS, SECRET), record_reference(IDS.copy(), SECRET)
    pd.testing.assert_series_equal(first, again)
    other = record_reference(IDS, b"t" * MIN_SECRET_BYTES)
    present = IDS.notna()
    assert (first[present] != other[present]).all()
    assert first[7] == first[10] != first[8]  # same value, same reference


def test_references_keep_index_and_missing_values_and_hide_the_value():
    refs = record_reference(IDS, SECRET)
    assert list(refs.index) == list(IDS.index) and refs.dtype == "string"
    assert refs.isna().tolist() == [False, False, True, False]
    for value, ref in zip(IDS.dropna(), refs.dropna(), strict=True):
        assert len(ref) == 64 and value not in ref


def test_an_empty_secret_is_refused():
    with pytest.raises(ValueError, match="secret"):
        record_reference(IDS, b"")


def test_the_resource_never_shows_its_secret():
    references = RecordReferences(SECRET)
    assert SECRET.decode() not in repr(references) and "secret" not in repr(references)
    pd.testing.assert_series_equal(references.of(IDS), record_reference(IDS, SECRET))
    assert b"DEVELOPMENT" in DEVELOPMENT_SECRET and len(DEVELOPMENT_SECRET) >= MIN_SECRET_BYTES
