"""Signed federation records with ``eddsa-jcs-2022`` Data Integrity proofs.

Records are relayed, cached and re-served, so their authenticity must not depend on the
transport: each record carries its own proof, in the shape of the W3C Data Integrity
``eddsa-jcs-2022`` cryptosuite (JCS canonicalisation, SHA-256, Ed25519), so a record fetched
from anywhere can be checked against the issuer's published keys.

Signing input, as in the W3C suite::

    SHA-256(JCS(proof options without proofValue)) || SHA-256(JCS(record without proof))

Verification refuses, besides a bad signature: a proof whose key URL domain is not the record's
``issuer``; any cryptosuite other than ``eddsa-jcs-2022``; a record that breaks the structural
rules of :mod:`.schema` (notably a consent record for an actor on another server); and a record
whose ``expires`` has passed (clock injectable).  ``check_record`` applies every rule but the
signature itself (for feed pages authenticated by the issuer's response signature, whose
proofs are verified later, off the sync's hot path).  Signing uses ``cryptography``;
verification uses libsodium through PyNaCl, twice as fast per proof, which matters when a cold
sync verifies 10^6 of them.  Records are not JSON-LD: no ``@context``
processing is done, and a single proof object (not a proof set/chain) is supported.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Container, Mapping
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from .encoding import multibase_decode, multibase_decoded_length, multibase_encode
from .errors import (
    ExpiredRecord,
    InvalidRecord,
    InvalidSignature,
    MalformedSignature,
    UnknownKey,
    UnsupportedCryptosuite,
)
from .identity import key_url, parse_key_url
from .ids import uuid7
from .jcs import canonicalize
from .schema import validate_record
from .timestamps import format_rfc3339, parse_rfc3339

__all__ = [
    "CRYPTOSUITE",
    "MAX_PROOF_SKEW_S",
    "PROOF_PURPOSE",
    "PROOF_TYPE",
    "check_record",
    "hash_data",
    "new_record",
    "sign_record",
    "verify_record",
    "verify_signature",
]

PROOF_TYPE = "DataIntegrityProof"
CRYPTOSUITE = "eddsa-jcs-2022"
PROOF_PURPOSE = "assertionMethod"
#: How far in the future a proof's ``created`` may lie (clock skew between instances).
MAX_PROOF_SKEW_S = 300

KeyResolver = Callable[[str], "Ed25519PublicKey | None"]


def new_record(
    record_type: str,
    issuer: str,
    payload: Mapping[str, Any],
    *,
    expires: str | None = None,
    clock: Callable[[], float] = time.time,
) -> dict[str, Any]:
    """Build an unsigned record envelope with a fresh UUIDv7 ``id`` and ``issued`` = now."""
    record = {
        "type": record_type,
        "id": uuid7(),
        "issuer": issuer,
        "issued": format_rfc3339(clock()),
        "expires": expires,
        **payload,
    }
    validate_record(record)
    return record


def hash_data(document: Mapping[str, Any], proof_options: Mapping[str, Any]) -> bytes:
    """The 64 bytes that are signed: H(JCS(proof options)) || H(JCS(document))."""
    return (
        hashlib.sha256(canonicalize(proof_options)).digest()
        + hashlib.sha256(canonicalize(document)).digest()
    )


def sign_record(
    record: Mapping[str, Any],
    private_key: Ed25519PrivateKey,
    key_id: str,
    domain: str,
    *,
    created: str | None = None,
    clock: Callable[[], float] = time.time,
) -> dict[str, Any]:
    """Return a copy of *record* with an ``eddsa-jcs-2022`` proof by *domain*'s *key_id*."""
    if "proof" in record:
        raise InvalidRecord("record is already signed")
    validate_record(record)
    if record["issuer"] != domain:
        raise InvalidRecord("a domain can only sign records it issues")
    options = {
        "type": PROOF_TYPE,
        "cryptosuite": CRYPTOSUITE,
        "verificationMethod": key_url(domain, key_id),
        "created": created or format_rfc3339(clock()),
        "proofPurpose": PROOF_PURPOSE,
    }
    document = dict(record)
    signature = private_key.sign(hash_data(document, options))
    return {**document, "proof": {**options, "proofValue": multibase_encode(signature)}}


def _proof_str(proof: Mapping[str, Any], name: str) -> str:
    value = proof.get(name)
    if not isinstance(value, str):
        raise MalformedSignature(f"proof.{name} must be a string")
    return value


def _structure(record: Any, clock: Callable[[], float]
               ) -> tuple[dict[str, Any], Mapping[str, Any], str, float]:
    """Every rule of ``verify_record`` that needs no key: document, proof, method, now.

    The signature's length is counted, not decoded: a backfill checks 10^6 of these and
    verifies them later (``verify_record`` decodes what it verifies)."""
    if not isinstance(record, Mapping):
        raise InvalidRecord("record must be a JSON object")
    proof = record.get("proof")
    if not isinstance(proof, Mapping):
        raise MalformedSignature("record has no proof object")
    document = dict(record)
    del document["proof"]
    validate_record(document)

    if _proof_str(proof, "type") != PROOF_TYPE:
        raise UnsupportedCryptosuite(f"proof type must be {PROOF_TYPE}")
    if _proof_str(proof, "cryptosuite") != CRYPTOSUITE:
        raise UnsupportedCryptosuite(f"cryptosuite must be {CRYPTOSUITE}")
    if _proof_str(proof, "proofPurpose") != PROOF_PURPOSE:
        raise InvalidSignature(f"proofPurpose must be {PROOF_PURPOSE}")
    method = _proof_str(proof, "verificationMethod")
    try:
        domain, _ = parse_key_url(method)
    except ValueError as exc:
        raise MalformedSignature(str(exc)) from None
    if domain != document["issuer"]:
        raise InvalidSignature("proof key belongs to another domain than the record issuer")
    try:
        created = parse_rfc3339(_proof_str(proof, "created")).timestamp()
        length = multibase_decoded_length(_proof_str(proof, "proofValue"))
    except ValueError as exc:
        raise MalformedSignature(f"bad proof: {exc}") from None
    if length != 64:
        raise MalformedSignature("proofValue must encode a 64-byte Ed25519 signature")
    now = clock()
    if created > now + MAX_PROOF_SKEW_S:
        raise InvalidSignature("proof created in the future")
    return document, proof, method, now


def _check_expiry(document: Mapping[str, Any], now: float) -> None:
    if document["expires"] is not None and parse_rfc3339(document["expires"]).timestamp() <= now:
        raise ExpiredRecord(f"record expired at {document['expires']}")


def check_record(record: Any, key_ids: Container[str], *,
                 clock: Callable[[], float] = time.time) -> None:
    """Every rule of ``verify_record`` except the Ed25519 signature itself.

    For records pulled from their issuer, whose feed response is already authenticated by the
    issuer's RFC 9421 signature over the body digest (``docs/peer-protocol.md`` §6.3): the
    proof must be well formed, name a key id in *key_ids* (those the issuer publishes, active
    or retired), not be created in the future, and the record must be valid and unexpired.
    The signature is verified later (``plugin.federation.proofs``).
    """
    document, _, method, now = _structure(record, clock)
    if method.partition("#")[2] not in key_ids:
        raise UnknownKey(f"unknown key {method!r}")
    _check_expiry(document, now)


@lru_cache(maxsize=64)
def _nacl_key(raw: bytes) -> VerifyKey:
    return VerifyKey(raw)


def verify_signature(key: Ed25519PublicKey, signature: bytes, message: bytes) -> bool:
    """Ed25519 verification through libsodium (PyNaCl): about twice OpenSSL's speed here."""
    try:
        _nacl_key(key.public_bytes_raw()).verify(message, signature)
    except (BadSignatureError, ValueError):
        return False
    return True


def verify_record(
    record: Any,
    resolve_key: KeyResolver,
    *,
    clock: Callable[[], float] = time.time,
) -> None:
    """Verify *record*'s proof and protocol rules; raise a FederationError subclass if not.

    *resolve_key* receives the proof's ``verificationMethod`` (a key URL) and must return the
    public key **published by that URL's domain** (active or retired), or None.
    """
    document, proof, method, now = _structure(record, clock)
    key = resolve_key(method)
    if key is None:
        raise UnknownKey(f"unknown key {method!r}")
    if not isinstance(key, Ed25519PublicKey):
        raise UnsupportedCryptosuite("resolved key is not an Ed25519 key")
    options = {k: v for k, v in proof.items() if k != "proofValue"}
    signature = multibase_decode(proof["proofValue"])
    if not verify_signature(key, signature, hash_data(document, options)):
        raise InvalidSignature("record proof does not verify")
    _check_expiry(document, now)
