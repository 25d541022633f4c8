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
whose ``expires`` has passed (clock injectable).  Records are not JSON-LD: no ``@context``
processing is done, and a single proof object (not a proof set/chain) is supported.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature as _CryptoInvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .encoding import multibase_decode, multibase_encode
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
    "hash_data",
    "new_record",
    "sign_record",
    "verify_record",
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
    if not isinstance(record, Mapping):
        raise InvalidRecord("record must be a JSON object")
    proof = record.get("proof")
    if not isinstance(proof, Mapping):
        raise MalformedSignature("record has no proof object")
    document = {k: v for k, v in record.items() if k != "proof"}
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
        signature = multibase_decode(_proof_str(proof, "proofValue"))
    except ValueError as exc:
        raise MalformedSignature(f"bad proof: {exc}") from None
    if len(signature) != 64:
        raise MalformedSignature("proofValue must encode a 64-byte Ed25519 signature")
    now = clock()
    if created > now + MAX_PROOF_SKEW_S:
        raise InvalidSignature("proof created in the future")

    key = resolve_key(method)
    if key is None:
        raise UnknownKey(f"unknown key {method!r}")
    if not isinstance(key, Ed25519PublicKey):
        raise UnsupportedCryptosuite("resolved key is not an Ed25519 key")
    options = {k: v for k, v in proof.items() if k != "proofValue"}
    try:
        key.verify(signature, hash_data(document, options))
    except _CryptoInvalidSignature:
        raise InvalidSignature("record proof does not verify") from None

    if document["expires"] is not None and parse_rfc3339(document["expires"]).timestamp() <= now:
        raise ExpiredRecord(f"record expired at {document['expires']}")
