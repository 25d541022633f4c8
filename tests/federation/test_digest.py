"""RFC 9530 Content-Digest."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plugin.federation.digest import content_digest, verify_content_digest
from plugin.federation.errors import InvalidDigest, InvalidSignature


def test_rfc9530_example() -> None:
    # RFC 9530 section 2 example body {"hello": "world"}
    assert content_digest(b'{"hello": "world"}') == (
        "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"
    )


def test_verify_accepts_matching_and_ignores_unknown_algorithms() -> None:
    body = b"payload"
    verify_content_digest(content_digest(body), body)
    verify_content_digest(content_digest(body, "sha-512"), body)
    verify_content_digest("md5=:AAAA:, " + content_digest(body), body)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sha-256=:not base64:",
        "sha-256=1",
        "md5=:AAAA:",
        "sha-256=(1 2)",
        content_digest(b"other"),
    ],
)
def test_verify_refuses(header: str | None) -> None:
    with pytest.raises(InvalidDigest) as info:
        verify_content_digest(header, b"payload")
    assert isinstance(info.value, InvalidSignature)


def test_every_supported_algorithm_must_match() -> None:
    body = b"payload"
    header = content_digest(body) + ", " + content_digest(b"evil", "sha-512")
    with pytest.raises(InvalidDigest):
        verify_content_digest(header, body)


def test_unknown_algorithm_for_creation() -> None:
    with pytest.raises(ValueError):
        content_digest(b"", "md5")


@given(st.binary(min_size=1, max_size=64), st.data())
def test_any_single_byte_change_fails(body: bytes, data: st.DataObject) -> None:
    header = content_digest(body)
    i = data.draw(st.integers(0, len(body) - 1))
    delta = data.draw(st.integers(1, 255))
    tampered = body[:i] + bytes([(body[i] + delta) % 256]) + body[i + 1 :]
    with pytest.raises(InvalidDigest):
        verify_content_digest(header, tampered)
