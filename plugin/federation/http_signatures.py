"""RFC 9421 HTTP Message Signatures (Ed25519) for peer-to-peer requests and responses.

Record proofs authenticate *content*; HTTP signatures authenticate the *exchange*: which peer is
calling (``keyid``), what it asks for (``@method``, ``@target-uri``), what it sends
(``content-digest``), and when (``created`` + ``nonce`` for freshness and replay refusal).
Responses are signed too (``@status`` + ``content-digest``) so a cache or a hijacked TLS
terminator cannot swap the change feed.

Profile (see ``docs/peer-protocol.md``): label ``sig1``; covered components ``"@method"
"@target-uri"`` and ``"content-digest"`` when the body is non-empty (responses: ``"@status"``
instead of method and URI); parameters ``created``, ``keyid``, ``alg="ed25519"``, ``nonce``,
all required.  Verifiers accept extra covered header fields and the ``@authority``, ``@scheme``,
``@path`` and ``@query`` derived components, but never fewer than the required set.
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable, Mapping, Sequence

from cryptography.exceptions import InvalidSignature as _CryptoInvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .digest import content_digest, verify_content_digest
from .errors import (
    InvalidSignature,
    MalformedSignature,
    ReplayedSignature,
    StaleSignature,
    UnknownKey,
    UnsupportedCryptosuite,
)
from .http_components import HttpMessage, signature_base
from .replay import ReplayCache
from .structured_fields import (
    InnerList,
    Item,
    Params,
    Token,
    parse_dictionary,
    serialize_dictionary,
)

__all__ = [
    "ALGORITHM",
    "DEFAULT_MAX_AGE_S",
    "LABEL",
    "MAX_FUTURE_SKEW_S",
    "KeyResolver",
    "sign_request",
    "sign_response",
    "signature_base",
    "verify_request",
    "verify_response",
]

LABEL = "sig1"
ALGORITHM = "ed25519"
DEFAULT_MAX_AGE_S = 300
MAX_FUTURE_SKEW_S = 60

KeyResolver = Callable[[str], "Ed25519PublicKey | None"]
"""Maps a ``keyid`` to a trusted public key; returns None or raises UnknownKey if unknown."""


def _sign(
    message: HttpMessage,
    components: list[str],
    body: bytes | None,
    private_key: Ed25519PrivateKey,
    key_id: str,
    created: int | None,
    nonce: str | None,
    clock: Callable[[], float],
) -> dict[str, str]:
    added: dict[str, str] = {}
    if body:
        added["Content-Digest"] = content_digest(body)
        message.headers["content-digest"] = added["Content-Digest"]
        components.append("content-digest")
    params: Params = {
        "created": int(clock()) if created is None else created,
        "keyid": key_id,
        "alg": ALGORITHM,
        "nonce": nonce or secrets.token_urlsafe(16),
    }
    inner = InnerList(tuple(Item(c) for c in components), params)
    signature = private_key.sign(signature_base(message, components, inner))
    added["Signature-Input"] = serialize_dictionary({LABEL: inner})
    added["Signature"] = serialize_dictionary({LABEL: Item(signature)})
    return added


def sign_request(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes | None,
    private_key: Ed25519PrivateKey,
    key_id: str,
    *,
    extra_components: Sequence[str] = (),
    created: int | None = None,
    nonce: str | None = None,
    clock: Callable[[], float] = time.time,
) -> dict[str, str]:
    """Sign a request; return the headers to add (``Content-Digest`` only when *body*).

    *key_id* goes into the ``keyid`` parameter verbatim; Consentry peers use the key URL
    ``https://<domain>/.well-known/consentry#<key_id>``.  *extra_components* names further
    header fields (present in *headers*) to cover.
    """
    message = HttpMessage(headers, method=method, url=url)
    components = ["@method", "@target-uri", *(h.lower() for h in extra_components)]
    return _sign(message, components, body, private_key, key_id, created, nonce, clock)


def sign_response(
    status: int,
    headers: Mapping[str, str],
    body: bytes | None,
    private_key: Ed25519PrivateKey,
    key_id: str,
    *,
    extra_components: Sequence[str] = (),
    created: int | None = None,
    nonce: str | None = None,
    clock: Callable[[], float] = time.time,
) -> dict[str, str]:
    """Sign a response (``@status`` + ``content-digest``); return the headers to add."""
    message = HttpMessage(headers, status=status)
    components = ["@status", *(h.lower() for h in extra_components)]
    return _sign(message, components, body, private_key, key_id, created, nonce, clock)


def verify_request(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes | None,
    resolve_key: KeyResolver,
    *,
    replay_cache: ReplayCache | None,
    max_age_s: int = DEFAULT_MAX_AGE_S,
    clock: Callable[[], float] = time.time,
) -> str:
    """Verify a signed request and return its ``keyid``.

    *url* must be the full target URI as the client addressed it (scheme and host as seen
    publicly, not as seen behind a reverse proxy).  *replay_cache* is required by keyword so
    that turning replay protection off (``None``) is always a visible decision.
    """
    message = HttpMessage(headers, method=method, url=url)
    return _verify(
        message, ["@method", "@target-uri"], body, resolve_key, replay_cache, max_age_s, clock
    )


def verify_response(
    status: int,
    headers: Mapping[str, str],
    body: bytes | None,
    resolve_key: KeyResolver,
    *,
    replay_cache: ReplayCache | None = None,
    max_age_s: int = DEFAULT_MAX_AGE_S,
    clock: Callable[[], float] = time.time,
) -> str:
    """Verify a signed response and return its ``keyid``."""
    message = HttpMessage(headers, status=status)
    return _verify(message, ["@status"], body, resolve_key, replay_cache, max_age_s, clock)


def _sf_string(params: Params, name: str) -> str:
    value = params.get(name)
    if not isinstance(value, str) or isinstance(value, Token) or not value:
        raise MalformedSignature(f"signature parameter {name!r} must be a non-empty string")
    return value


def _verify(
    message: HttpMessage,
    required: list[str],
    body: bytes | None,
    resolve_key: KeyResolver,
    replay_cache: ReplayCache | None,
    max_age_s: int,
    clock: Callable[[], float],
) -> str:
    raw_input = message.headers.get("signature-input")
    raw_sig = message.headers.get("signature")
    if raw_input is None or raw_sig is None:
        raise MalformedSignature("Signature-Input and Signature headers are required")
    try:
        inputs, sigs = parse_dictionary(raw_input), parse_dictionary(raw_sig)
    except ValueError as exc:
        raise MalformedSignature(f"unparseable signature header: {exc}") from exc
    inner, sig_item = inputs.get(LABEL), sigs.get(LABEL)
    if not isinstance(inner, InnerList) or not isinstance(sig_item, Item):
        raise MalformedSignature(f"signature {LABEL!r} is missing or of the wrong type")
    if not isinstance(sig_item.value, bytes) or len(sig_item.value) != 64:
        raise MalformedSignature("signature must be a 64-byte byte sequence")

    components: list[str] = []
    for item in inner.items:
        name = item.value
        if not isinstance(name, str) or isinstance(name, Token) or item.params:
            raise MalformedSignature("covered components must be plain sf-strings")
        if name in components or name != name.lower():
            raise MalformedSignature(f"component {name!r} is duplicated or not lower case")
        components.append(name)
    if body:
        required = [*required, "content-digest"]
    missing = [c for c in required if c not in components]
    if missing:
        raise MalformedSignature(f"signature does not cover {', '.join(missing)}")

    params = inner.params
    created = params.get("created")
    if not isinstance(created, int) or isinstance(created, bool):
        raise MalformedSignature("signature parameter 'created' must be an integer")
    key_id = _sf_string(params, "keyid")
    nonce = _sf_string(params, "nonce")
    if _sf_string(params, "alg") != ALGORITHM:
        raise UnsupportedCryptosuite(f"signature algorithm must be {ALGORITHM!r}")
    expires = params.get("expires")
    if expires is not None and (not isinstance(expires, int) or isinstance(expires, bool)):
        raise MalformedSignature("signature parameter 'expires' must be an integer")

    if "content-digest" in components:
        verify_content_digest(message.headers.get("content-digest"), body or b"")

    now = clock()
    if created > now + MAX_FUTURE_SKEW_S:
        raise StaleSignature("signature 'created' is in the future")
    if now - created > max_age_s:
        raise StaleSignature(f"signature is older than {max_age_s} s")
    if expires is not None and now >= expires:
        raise StaleSignature("signature has expired")

    key = resolve_key(key_id)
    if key is None:
        raise UnknownKey(f"unknown key {key_id!r}")
    if not isinstance(key, Ed25519PublicKey):
        raise UnsupportedCryptosuite("resolved key is not an Ed25519 key")
    try:
        base = signature_base(message, components, inner)
    except UnicodeEncodeError as exc:
        raise MalformedSignature("covered component is not ASCII") from exc
    try:
        key.verify(sig_item.value, base)
    except _CryptoInvalidSignature:
        raise InvalidSignature("HTTP message signature does not verify") from None

    ttl = math.ceil(max_age_s + MAX_FUTURE_SKEW_S)
    if replay_cache is not None and replay_cache.seen(f"{key_id}\n{nonce}", ttl):
        raise ReplayedSignature("signature nonce was already used")
    return key_id
