"""Exception hierarchy for the federation protocol layer.

Every failure the protocol layer can report derives from :class:`FederationError`, so web
routes can map the whole family to a JSON error response in one ``except`` clause, while tests
(and the routes, for the status code) can still tell the cases apart.  The hierarchy is kept
shallow on purpose: the classes are *reasons to refuse*, not a taxonomy of bugs.

``FederationError`` is a plain ``Exception`` subclass for now; it is meant to be re-parented
under the project's ``ConsentryError`` later without touching the subclasses.
"""

from __future__ import annotations

__all__ = [
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


class FederationError(Exception):
    """Root of every error raised by :mod:`plugin.federation`."""

    #: Machine-readable code used in the wire error body ``{"error": code, ...}``.
    code: str = "federation_error"


class CanonicalizationError(FederationError, ValueError):
    """A value cannot be represented in RFC 8785 canonical JSON (NaN, lone surrogate, ...)."""

    code = "invalid_json"


class InvalidSignature(FederationError):
    """A signature (record proof or HTTP message signature) does not verify."""

    code = "invalid_signature"


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


class ReplayedSignature(FederationError):
    """An HTTP signature nonce was already used within its validity window."""

    code = "replayed_signature"


class UnknownKey(FederationError):
    """The key referenced by a signature cannot be resolved to a trusted public key."""

    code = "unknown_key"


class InvalidRecord(FederationError, ValueError):
    """A record is structurally invalid or violates a protocol rule (e.g. foreign actor)."""

    code = "invalid_record"


class ExpiredRecord(InvalidRecord):
    """A record's ``expires`` timestamp has passed."""

    code = "expired_record"


class IdentityError(FederationError):
    """The service identity key file is unreadable, corrupt, or has unsafe permissions."""

    code = "identity_error"
