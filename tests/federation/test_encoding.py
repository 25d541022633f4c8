"""Strict base64url / base58btc / multibase codecs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plugin.federation.encoding import (
    b58decode,
    b58encode,
    b64url_decode,
    b64url_encode,
    multibase_decode,
    multibase_encode,
)


def test_base58_known_values() -> None:
    assert b58encode(b"") == ""
    assert b58encode(b"\0\0\x01") == "112"
    assert b58encode(b"Hello World!") == "2NEpo7TZRRrLZSi2U"
    assert b58decode("2NEpo7TZRRrLZSi2U") == b"Hello World!"


@given(st.binary(max_size=80))
def test_round_trips(data: bytes) -> None:
    assert b58decode(b58encode(data)) == data
    assert multibase_decode(multibase_encode(data)) == data
    assert b64url_decode(b64url_encode(data)) == data
    assert "=" not in b64url_encode(data)


@pytest.mark.parametrize("bad", ["0OIl", "abc!"])
def test_base58_rejects_foreign_characters(bad: str) -> None:
    with pytest.raises(ValueError):
        b58decode(bad)


def test_multibase_only_base58btc() -> None:
    with pytest.raises(ValueError):
        multibase_decode("mAAAA")


@pytest.mark.parametrize("bad", ["AAA=", "A", "a+b/", "QR"])
def test_b64url_strict(bad: str) -> None:
    # padding, impossible length, standard alphabet, non-zero trailing bits
    with pytest.raises(ValueError):
        b64url_decode(bad)
