"""Moderator passwords: argon2id (argon2-cffi), the OWASP first choice.

Why argon2id rather than ``hashlib.scrypt``: both are memory-hard, but argon2-cffi encodes the
algorithm, version and cost parameters in the hash string and tells us when a stored hash
was made with weaker parameters (``check_needs_rehash``), so costs can be raised later and
old hashes upgrade themselves at the next sign-in. Verification takes ~50 ms by design.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from plugin.errors import BadRequest

MIN_LENGTH = 12
_HASHER = PasswordHasher()  # argon2id, RFC 9106 low-memory profile defaults
# A real hash to verify against when the name is unknown, so timing does not reveal names.
_DUMMY = _HASHER.hash("consentry-no-such-moderator")


def hash_password(password: str) -> str:
    if len(password) < MIN_LENGTH:
        raise BadRequest(f"a moderator password needs at least {MIN_LENGTH} characters")
    return _HASHER.hash(password)


def verify_password(stored: str | None, password: str) -> tuple[bool, bool]:
    """(matches, needs_rehash). ``stored=None`` burns the same time and fails."""
    try:
        _HASHER.verify(stored or _DUMMY, password)
    except (VerificationError, InvalidHashError):
        return False, False
    if stored is None:
        return False, False
    return True, _HASHER.check_needs_rehash(stored)
