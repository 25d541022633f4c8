"""RFC 9421 HTTP message signatures: the Consentry profile and its refusals."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from hypothesis import given, settings
from hypothesis import strategies as st

from plugin.federation.errors import (
    FederationError,
    InvalidDigest,
    InvalidSignature,
    MalformedSignature,
    ReplayedSignature,
    StaleSignature,
    UnknownKey,
    UnsupportedCryptosuite,
)
from plugin.federation.http_components import HttpMessage, signature_base
from plugin.federation.http_signatures import (
    sign_request,
    sign_response,
    verify_request,
    verify_response,
)
from plugin.federation.replay import InMemoryReplayCache
from plugin.federation.structured_fields import InnerList, Item

from .conftest import KEY, KEY_URL, NOW, OTHER_KEY, clock, resolve

URL = "https://b.example/federation/v1/pair"
BODY = b'{"well_known": "https://a.example/.well-known/consentry"}'


def signed(
    method: str = "POST", url: str = URL, body: bytes | None = BODY, **kw: object
) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    headers.update(sign_request(method, url, headers, body, KEY, KEY_URL, clock=clock, **kw))
    return headers


def verify(
    headers: dict[str, str],
    method: str = "POST",
    url: str = URL,
    body: bytes | None = BODY,
    *,
    cache: InMemoryReplayCache | None = None,
    now: float = NOW,
    resolver: Callable = resolve,
) -> str:
    return verify_request(
        method,
        url,
        headers,
        body,
        resolver,
        replay_cache=cache if cache is not None else InMemoryReplayCache(),
        clock=lambda: now,
    )


def test_rfc9421_b26_ed25519_vector() -> None:
    """RFC 9421 appendix B.2.6: same base and same (deterministic) Ed25519 signature."""
    key = load_pem_private_key(
        b"-----BEGIN PRIVATE KEY-----\n"
        b"MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF\n"
        b"-----END PRIVATE KEY-----\n",
        None,
    )
    headers = {
        "Date": "Tue, 20 Apr 2021 02:07:55 GMT",
        "Content-Type": "application/json",
        "Content-Length": "18",
    }
    message = HttpMessage(headers, method="POST", url="https://example.com/foo?param=Value&Pet=dog")
    comps = ["date", "@method", "@path", "@authority", "content-type", "content-length"]
    params = InnerList(
        tuple(Item(c) for c in comps), {"created": 1618884473, "keyid": "test-key-ed25519"}
    )
    base = signature_base(message, comps, params)
    assert base.decode() == (
        '"date": Tue, 20 Apr 2021 02:07:55 GMT\n'
        '"@method": POST\n'
        '"@path": /foo\n'
        '"@authority": example.com\n'
        '"content-type": application/json\n'
        '"content-length": 18\n'
        '"@signature-params": ("date" "@method" "@path" "@authority" "content-type" '
        '"content-length");created=1618884473;keyid="test-key-ed25519"'
    )
    assert base64.b64encode(key.sign(base)).decode() == (
        "wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw=="
    )


def test_signed_request_shape() -> None:
    added = sign_request("POST", URL, {}, BODY, KEY, KEY_URL, clock=clock, nonce="n0nce")
    assert set(added) == {"Content-Digest", "Signature-Input", "Signature"}
    assert added["Signature-Input"] == (
        f'sig1=("@method" "@target-uri" "content-digest");created={int(NOW)};'
        f'keyid="{KEY_URL}";alg="ed25519";nonce="n0nce"'
    )
    assert re.fullmatch(r"sig1=:[A-Za-z0-9+/]{86}==:", added["Signature"])


def test_valid_request_verifies() -> None:
    assert verify(signed()) == KEY_URL


def test_header_names_are_case_insensitive() -> None:
    headers = {k.upper(): v for k, v in signed().items()}
    assert verify(headers) == KEY_URL


def test_bodyless_get_does_not_cover_digest() -> None:
    headers = signed("GET", URL + "?since=0&limit=10", None)
    assert "Content-Digest" not in headers
    assert '"content-digest"' not in headers["Signature-Input"]
    assert verify(headers, "GET", URL + "?since=0&limit=10", b"") == KEY_URL


def test_extra_components_are_covered() -> None:
    headers = signed(extra_components=["Content-Type"])
    assert '"content-type"' in headers["Signature-Input"]
    verify(headers)
    headers["Content-Type"] = "text/plain"
    with pytest.raises(InvalidSignature):
        verify(headers)


def test_tampered_body_refused() -> None:
    with pytest.raises(InvalidDigest):
        verify(signed(), body=BODY.replace(b"a.example", b"evil.example"))


def test_body_added_to_bodyless_request_refused() -> None:
    with pytest.raises(MalformedSignature, match="content-digest"):
        verify(signed("GET", URL, None), "GET", URL, b"smuggled")


def test_recomputed_digest_without_resigning_refused() -> None:
    from plugin.federation.digest import content_digest

    headers = signed()
    headers["Content-Digest"] = content_digest(b"evil")
    with pytest.raises(InvalidSignature):
        verify(headers, body=b"evil")


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("PUT", URL),
        ("POST", "https://b.example/federation/v1/nudge"),
        ("POST", URL + "?x=1"),
        ("POST", URL.replace("https", "http")),
        ("POST", URL.replace("b.example", "c.example")),
    ],
)
def test_changed_method_or_url_refused(method: str, url: str) -> None:
    with pytest.raises(InvalidSignature):
        verify(signed(), method, url)


def test_stale_and_future_created_refused() -> None:
    headers = signed()
    assert verify(headers, now=NOW + 300) == KEY_URL
    with pytest.raises(StaleSignature):
        verify(headers, now=NOW + 301)
    with pytest.raises(StaleSignature):
        verify(headers, now=NOW - 3600)


def test_expires_param_honoured() -> None:
    from plugin.federation.structured_fields import parse_dictionary, serialize_dictionary

    # Re-sign by hand with an expires parameter to exercise the optional check.
    message = HttpMessage({}, method="GET", url=URL)
    comps = ["@method", "@target-uri"]
    params = {
        "created": int(NOW),
        "keyid": KEY_URL,
        "alg": "ed25519",
        "nonce": "x" * 8,
        "expires": int(NOW) + 10,
    }
    inner = InnerList(tuple(Item(c) for c in comps), params)
    sig = KEY.sign(signature_base(message, comps, inner))
    headers = {
        "Signature-Input": serialize_dictionary({"sig1": inner}),
        "Signature": serialize_dictionary({"sig1": Item(sig)}),
    }
    assert parse_dictionary(headers["Signature-Input"])["sig1"] == inner
    assert verify(headers, "GET", URL, None, now=NOW + 5) == KEY_URL
    with pytest.raises(StaleSignature):
        verify(headers, "GET", URL, None, now=NOW + 10)


def test_replay_refused() -> None:
    cache = InMemoryReplayCache()
    headers = signed()
    verify(headers, cache=cache)
    with pytest.raises(ReplayedSignature):
        verify(headers, cache=cache)
    verify(signed(), cache=cache)  # fresh nonce is fine


def test_forged_request_does_not_poison_replay_cache() -> None:
    cache = InMemoryReplayCache()
    good = signed(nonce="fixed-nonce")
    forged = dict(good, Signature="sig1=:" + base64.b64encode(bytes(64)).decode() + ":")
    with pytest.raises(InvalidSignature):
        verify(forged, cache=cache)
    assert verify(good, cache=cache) == KEY_URL


def test_replay_cache_may_be_disabled_explicitly() -> None:
    headers = signed()
    for _ in range(2):
        assert (
            verify_request("POST", URL, headers, BODY, resolve, replay_cache=None, clock=clock)
            == KEY_URL
        )


def test_unknown_key_refused() -> None:
    headers = signed()
    with pytest.raises(UnknownKey):
        verify(headers, resolver=lambda _ref: None)

    def raising(_ref: str) -> None:
        raise UnknownKey("not paired")

    with pytest.raises(UnknownKey):
        verify(headers, resolver=raising)


def test_wrong_key_refused() -> None:
    with pytest.raises(InvalidSignature):
        verify(signed(), resolver=lambda _ref: OTHER_KEY.public_key())


def test_non_ed25519_key_refused() -> None:
    from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key

    ec_key = generate_private_key(SECP256R1()).public_key()
    with pytest.raises(UnsupportedCryptosuite):
        verify(signed(), resolver=lambda _ref: ec_key)


def _mutate_input(pattern: str, repl: str) -> dict[str, str]:
    headers = signed()
    headers["Signature-Input"] = re.sub(pattern, repl, headers["Signature-Input"])
    return headers


@pytest.mark.parametrize(
    ("headers", "error"),
    [
        ({"Content-Digest": "x"}, MalformedSignature),
        (lambda: {k: v for k, v in signed().items() if k != "Signature"}, MalformedSignature),
        (lambda: dict(signed(), Signature="sig1=:AAAA"), MalformedSignature),
        (lambda: dict(signed(), Signature="sig1=:AAAA:"), MalformedSignature),
        (lambda: dict(signed(), Signature='sig1="text"'), MalformedSignature),
        (lambda: _mutate_input(r"^sig1=", "sig2="), MalformedSignature),
        (lambda: _mutate_input(r"^sig1=\(", "sig1=1;x=("), MalformedSignature),
        (lambda: _mutate_input(r'"@target-uri" ', ""), MalformedSignature),
        (
            lambda: _mutate_input(r'"content-digest"', '"content-digest" "@method"'),
            MalformedSignature,
        ),
        (lambda: _mutate_input(r'"@method"', '"@status"'), MalformedSignature),
        (lambda: _mutate_input(r'"@method"', "@method"), MalformedSignature),
        (lambda: _mutate_input(r'"content-digest"', '"content-digest";sf'), MalformedSignature),
        (lambda: _mutate_input(r"\)", ' "x-missing")'), MalformedSignature),
        (lambda: _mutate_input(r";created=\d+", ""), MalformedSignature),
        (lambda: _mutate_input(r";created=\d+", ';created="1"'), MalformedSignature),
        (lambda: _mutate_input(r';keyid="[^"]*"', ""), MalformedSignature),
        (lambda: _mutate_input(r';nonce="[^"]*"', ""), MalformedSignature),
        (lambda: _mutate_input(r';nonce="[^"]*"', ";nonce=tok"), MalformedSignature),
        (lambda: _mutate_input(r';alg="ed25519"', ""), MalformedSignature),
        (lambda: _mutate_input(r';alg="ed25519"', ';alg="rsa-pss-sha512"'), UnsupportedCryptosuite),
        (lambda: _mutate_input(r"$", ";expires=?1"), MalformedSignature),
        (lambda: _mutate_input(r"$", ";expires=99999999999"), InvalidSignature),
        (lambda: dict(signed(), **{"Signature-Input": 'sig1=("@method"'}), MalformedSignature),
        (lambda: dict(signed(), **{"Signature-Input": 'sig1=("\u00e9")'}), MalformedSignature),
    ],
)
def test_malformed_headers_refused(headers: object, error: type[Exception]) -> None:
    hdrs = headers() if callable(headers) else headers
    with pytest.raises(error):
        verify(hdrs)


def test_line_break_in_covered_header_refused() -> None:
    headers = {"X-Note": "ab"}
    headers.update(
        sign_request(
            "POST", URL, headers, BODY, KEY, KEY_URL, clock=clock, extra_components=["x-note"]
        )
    )
    headers["X-Note"] = "a\nb"
    with pytest.raises(MalformedSignature):
        verify(headers)


@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=1, max_size=256), st.data())
def test_any_single_byte_body_change_fails(body: bytes, data: st.DataObject) -> None:
    headers = signed(body=body)
    assert verify(headers, body=body) == KEY_URL
    i = data.draw(st.integers(0, len(body) - 1))
    delta = data.draw(st.integers(1, 255))
    tampered = body[:i] + bytes([(body[i] + delta) % 256]) + body[i + 1 :]
    with pytest.raises(InvalidSignature):
        verify(headers, body=tampered)


# -- responses -----------------------------------------------------------------------------


def signed_response(status: int = 200, body: bytes | None = b'{"records": []}') -> dict:
    headers = {"Content-Type": "application/json"}
    headers.update(sign_response(status, headers, body, KEY, KEY_URL, clock=clock))
    return headers


def test_response_round_trip() -> None:
    headers = signed_response()
    assert '("@status" "content-digest")' in headers["Signature-Input"]
    assert verify_response(200, headers, b'{"records": []}', resolve, clock=clock) == KEY_URL


def test_response_without_body() -> None:
    headers = signed_response(204, None)
    assert verify_response(204, headers, None, resolve, clock=clock) == KEY_URL


def test_response_refusals() -> None:
    headers = signed_response()
    with pytest.raises(InvalidSignature):
        verify_response(500, headers, b'{"records": []}', resolve, clock=clock)
    with pytest.raises(InvalidDigest):
        verify_response(200, headers, b'{"records": [1]}', resolve, clock=clock)
    with pytest.raises(StaleSignature):
        verify_response(200, headers, b'{"records": []}', resolve, clock=lambda: NOW + 999)
    cache = InMemoryReplayCache()
    verify_response(200, headers, b'{"records": []}', resolve, clock=clock, replay_cache=cache)
    with pytest.raises(ReplayedSignature):
        verify_response(200, headers, b'{"records": []}', resolve, clock=clock, replay_cache=cache)


def test_request_signature_is_not_a_response_signature() -> None:
    with pytest.raises(MalformedSignature):
        verify_response(200, signed(), BODY, resolve, clock=clock)


def test_all_refusals_are_federation_errors() -> None:
    for exc in (InvalidSignature, StaleSignature, ReplayedSignature, UnknownKey):
        assert issubclass(exc, FederationError)


def test_derived_components() -> None:
    msg = HttpMessage({}, method="post", url="https://B.example:443/p/a?x=1&y")
    assert msg.component("@method") == "POST"
    assert msg.component("@authority") == "b.example"
    assert msg.component("@scheme") == "https"
    assert msg.component("@path") == "/p/a"
    assert msg.component("@query") == "?x=1&y"
    assert (
        HttpMessage({}, method="GET", url="https://b.example:8443").component("@authority")
        == "b.example:8443"
    )
    assert HttpMessage({}, method="GET", url="https://b.example").component("@path") == "/"
    assert HttpMessage({}, status=204).component("@status") == "204"
    with pytest.raises(MalformedSignature):
        HttpMessage({}, method="GET", url="https://b.example:99999/").component("@authority")
    with pytest.raises(MalformedSignature):
        HttpMessage({}, status=200).component("@method")


def test_duplicate_header_fields_are_combined() -> None:
    class MultiHeaders(dict):  # like werkzeug's Headers: items() repeats names
        def items(self):  # type: ignore[override]
            return [("X-A", "1"), ("x-a", " 2 ")]

    msg = HttpMessage(MultiHeaders(), method="GET", url=URL)
    assert msg.component("x-a") == "1, 2"
