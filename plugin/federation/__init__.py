"""Consentry federation: the pure protocol layer (no web routes, no database).

Consentry instances exchange signed *records* (hash lists, consent statements, retractions,
tombstones) over signed HTTP.  This package holds everything both ends must agree on byte for
byte, with no I/O except the identity key file:

* :mod:`.jcs` - RFC 8785 canonical JSON, the input to every record signature;
* :mod:`.identity` - the instance's Ed25519 key pair, key ids, key URLs, rotation;
* :mod:`.ids` - UUIDv7 record ids (also the change-feed cursor);
* :mod:`.records` - ``eddsa-jcs-2022`` record proofs, and :mod:`.schema` for record rules;
* :mod:`.digest`, :mod:`.http_signatures`, :mod:`.replay` - RFC 9530 / RFC 9421 transport
  authentication with replay refusal;
* :mod:`.errors` - the :class:`FederationError` hierarchy.

The wire protocol is specified in ``docs/peer-protocol.md``.
"""

from .errors import (
    CanonicalizationError,
    ExpiredRecord,
    FederationError,
    IdentityError,
    InvalidDigest,
    InvalidRecord,
    InvalidSignature,
    MalformedSignature,
    ReplayedSignature,
    StaleSignature,
    UnknownKey,
    UnsupportedCryptosuite,
)

PROTOCOL_VERSION = "consentry/1"

__all__ = [
    "PROTOCOL_VERSION",
    "CanonicalizationError",
    "ExpiredRecord",
    "FederationError",
    "IdentityError",
    "InvalidDigest",
    "InvalidRecord",
    "InvalidSignature",
    "MalformedSignature",
    "ReplayedSignature",
    "StaleSignature",
    "UnknownKey",
    "UnsupportedCryptosuite",
]
