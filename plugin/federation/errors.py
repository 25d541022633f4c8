"""Exception hierarchy for the federation protocol layer.

Every failure the protocol layer can report derives from :class:`FederationError`, so web
routes can map the whole family to a JSON error response in one ``except`` clause, while tests
(and the routes, for the status code) can still tell the cases apart.  The hierarchy is kept
shallow on purpose: the classes are *reasons to refuse*, not a taxonomy of bugs.

``FederationError`` sits under the project's :class:`~plugin.errors.ConsentryError`, so the
one web error handler answers each with the status and code of ``docs/peer-protocol.md`` §11.
Verification failures of an HTTP signature are 401; a caller that verified but is not an active
peer is 403; a malformed body is 400.
"""

from __future__ import annotations

from plugin.errors import ConsentryError

__all__ = [
    "CanonicalizationError",
    "ExpiredRecord",
    "FederationError",
    "IdentityError",
    "InvalidDigest",
    "InvalidRecord",
    "InvalidRequest",
    "InvalidSignature",
    "MalformedSignature",
    "NotPaired",
    "PairingRejected",
    "PeerRateLimited",
    "PeerUnavailable",
    "ReplayedSignature",
    "StaleSignature",
    "UnknownKey",
    "UnsupportedCryptosuite",
    "UnsupportedVersion",
]


class FederationError(ConsentryError):
    """Root of every error raised by :mod:`plugin.federation`."""

    #: Machine-readable code used in the wire error body ``{"error": code, ...}``.
    code: str = "federation_error"
    http_status = 400


class CanonicalizationError(FederationError, ValueError):
    """A value cannot be represented in RFC 8785 canonical JSON (NaN, lone surrogate, ...)."""

    code = "invalid_json"


class InvalidSignature(FederationError):
    """A signature (record proof or HTTP message signature) does not verify."""

    code = "invalid_signature"
    http_status = 401


class MalformedSignature(InvalidSignature):
    """Signature headers or a proof object are syntactically wrong or miss required parts."""

    code = "malformed_signature"


class InvalidDigest(InvalidSignature):
    """``Content-Digest`` is missing, malformed, or does not match the body."""

    code = "invalid_digest"


class UnsupportedCryptosuite(InvalidSignature):
    """The proof or signature uses an algorithm this implementation does not accept."""

    code = "unsupported_algorithm"


class StaleSignature(FederationError):
    """An HTTP signature is too old (or dated too far in the future) to be accepted."""

    code = "stale_signature"
    http_status = 401


class ReplayedSignature(FederationError):
    """An HTTP signature nonce was already used within its validity window."""

    code = "replayed_signature"
    http_status = 401


class UnknownKey(FederationError):
    """The key referenced by a signature cannot be resolved to a trusted public key."""

    code = "unknown_key"
    http_status = 401


class InvalidRecord(FederationError, ValueError):
    """A record is structurally invalid or violates a protocol rule (e.g. foreign actor)."""

    code = "invalid_record"


class ExpiredRecord(InvalidRecord):
    """A record's ``expires`` timestamp has passed."""

    code = "expired_record"


class IdentityError(FederationError):
    """The service identity key file is unreadable, corrupt, or has unsafe permissions."""

    code = "identity_error"
    http_status = 500


class InvalidRequest(FederationError):
    """A peer request is malformed (parameters, body fields)."""

    code = "invalid_request"


class UnsupportedVersion(FederationError):
    """Pairing found no protocol version both sides support."""

    code = "unsupported_version"


class NotPaired(FederationError):
    """The caller's signature verified, but it is not an active peer."""

    code = "not_paired"
    http_status = 403


class PairingRejected(NotPaired):
    """Our admin rejected or blocked the caller."""

    code = "pairing_rejected"


class PeerUnavailable(FederationError):
    """A peer could not be reached or answered with a server error; try again later."""

    code = "peer_unavailable"
    http_status = 502


class PeerRateLimited(PeerUnavailable):
    """A peer answered 429 (or we refuse a peer for asking too often)."""

    code = "rate_limited"
    http_status = 429

    def __init__(self, message: str, retry_after_s: float = 60.0, **details: object) -> None:
        super().__init__(message, **details)
        self.retry_after_s = retry_after_s
