"""Strict base64url / base58btc / multibase codecs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plugin.federation.encoding import (
    b58_decoded_length,
    b58decode,
    b58encode,
    b64url_decode,
    b64url_encode,
    multibase_decode,
    multibase_decoded_length,
    multibase_encode,
)

B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


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


@given(st.binary(max_size=200))
def test_decoded_length_counts_the_bytes_encoded(data: bytes) -> None:
    # leading zero bytes, lengths at every power of 256 and past the counting table (128)
    assert b58_decoded_length(b58encode(data)) == len(data)
    assert multibase_decoded_length(multibase_encode(data)) == len(data)


@given(st.text(alphabet=B58, max_size=300))
def test_decoded_length_of_any_base58_text_is_what_decoding_gives(text: str) -> None:
    assert b58_decoded_length(text) == len(b58decode(text))


def test_decoded_length_at_the_64_byte_boundaries() -> None:
    for data in (b"\xff" * 64, b"\x01" + b"\0" * 63, b"\0" * 64, b"\0" + b"\xff" * 63,
                 b"\x01" + b"\0" * 64, b"\xff" * 63):
        assert b58_decoded_length(b58encode(data)) == len(data)


@pytest.mark.parametrize("bad", ["z0OIl", "zabc!", "2NEpo7TZRRrLZSi2U"])
def test_decoded_length_refuses_what_decoding_refuses(bad: str) -> None:
    with pytest.raises(ValueError):
        multibase_decode(bad)
    with pytest.raises(ValueError):
        multibase_decoded_length(bad)
