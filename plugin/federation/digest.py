"""RFC 9530 ``Content-Digest`` creation and verification.

The HTTP message signature covers the ``content-digest`` header rather than the body itself;
the digest is what binds the body to the signature.  So verification here is strict: the
header must be a valid structured-field dictionary, must carry at least one algorithm we
support, and *every* supported algorithm present must match (an attacker must not be able to
add a correct ``sha-512`` next to a wrong ``sha-256`` and have us look only at the good one).
Unknown algorithms are ignored, as RFC 9530 allows.  We emit ``sha-256`` only.
"""

from __future__ import annotations

import hashlib
import hmac

from .errors import InvalidDigest
from .structured_fields import Item, parse_dictionary, serialize_dictionary

__all__ = ["SUPPORTED_ALGORITHMS", "content_digest", "verify_content_digest"]

SUPPORTED_ALGORITHMS = {"sha-256": hashlib.sha256, "sha-512": hashlib.sha512}


def content_digest(body: bytes, algorithm: str = "sha-256") -> str:
    """Return the ``Content-Digest`` field value for *body*, e.g. ``sha-256=:...=:``."""
    try:
        digest = SUPPORTED_ALGORITHMS[algorithm](body).digest()
    except KeyError:
        raise ValueError(f"unsupported digest algorithm {algorithm!r}") from None
    return serialize_dictionary({algorithm: Item(digest)})


def verify_content_digest(header_value: str | None, body: bytes) -> None:
    """Check a ``Content-Digest`` value against *body*; raise :class:`InvalidDigest`."""
    if header_value is None:
        raise InvalidDigest("Content-Digest header is missing")
    try:
        members = parse_dictionary(header_value)
    except ValueError as exc:
        raise InvalidDigest(f"malformed Content-Digest: {exc}") from exc
    checked = 0
    for name, member in members.items():
        hash_fn = SUPPORTED_ALGORITHMS.get(name)
        if hash_fn is None:
            continue
        if not isinstance(member, Item) or not isinstance(member.value, bytes):
            raise InvalidDigest(f"Content-Digest {name} is not a byte sequence")
        if not hmac.compare_digest(member.value, hash_fn(body).digest()):
            raise InvalidDigest(f"Content-Digest {name} does not match the body")
        checked += 1
    if not checked:
        raise InvalidDigest("Content-Digest has no supported algorithm (need sha-256)")
