"""Structural rules for the four record types (``hash``, ``consent``, ``retraction``,
``tombstone``) and the consent-policy bridges.

A valid signature only says *who* wrote a record; these checks say whether what they wrote is
something we are prepared to act on.  The most important rule is authority: a consent record
can only be issued by the server that hosts the actor (``actor`` host == ``issuer``), so no
instance can state preferences for people on another server.  Unknown extra fields are
allowed (forward compatibility) since they are covered by the signature anyway.
The normative description is ``docs/peer-protocol.md``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from .errors import InvalidRecord
from .ids import is_uuid7
from .timestamps import parse_rfc3339

__all__ = [
    "AI_EDIT_VALUES",
    "HASH_TYPES",
    "OPINIONS",
    "RECOMMENDED_ACTIONS",
    "RECORD_TYPES",
    "bridge_policy",
    "is_valid_domain",
    "validate_record",
]

RECORD_TYPES = ("hash", "consent", "retraction", "tombstone")
#: hash type -> length of the lower-case hex value (``vpdq``: pytx's text form, see below)
HASH_TYPES = {"pdq": 64, "sha256": 64, "md5": 32, "video_md5": 32, "vpdq": 0}
MAX_VPDQ_CHARS = 200_000  # ~2,500 one-per-second frames: a 40-minute clip
OPINIONS = ("true_positive", "false_positive", "worth_investigating")
RECOMMENDED_ACTIONS = ("reject", "review", "mark_sensitive", "none")
AI_EDIT_VALUES = ("not_allowed", "allowed", "ask")
ENVELOPE_FIELDS = ("type", "id", "issuer", "issued", "expires")

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN_RE = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})+$")
_SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_.:-]{0,63}$")
_HEX_RE = re.compile(r"[0-9a-f]+")
_MAX_LABELS = 32
_MISSING = object()
_MAX_PROTECTED_HASHES = 256


def is_valid_domain(value: object) -> bool:
    """True for a lower-case DNS name with at least two labels (IDNs in A-label form)."""
    return isinstance(value, str) and _valid_domain(value)


@lru_cache(maxsize=1024)
def _valid_domain(value: str) -> bool:
    """Cached: a feed page names one issuer 1,000 times."""
    return _DOMAIN_RE.match(value) is not None


def _fail(msg: str) -> InvalidRecord:
    return InvalidRecord(msg)


def _require(record: Mapping[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = record.get(name, _MISSING)
    if value is _MISSING:
        raise _fail(f"missing field {name!r}")
    if not isinstance(value, kind) or (kind is not bool and type(value) is bool):
        raise _fail(f"field {name!r} has the wrong type")
    return value


def _timestamp(record: Mapping[str, Any], name: str) -> None:
    try:
        parse_rfc3339(record.get(name))
    except ValueError as exc:
        raise _fail(f"field {name!r}: {exc}") from None


def _one_of(record: Mapping[str, Any], name: str, allowed: tuple[str, ...]) -> None:
    if _require(record, name, str) not in allowed:
        raise _fail(f"field {name!r} must be one of {', '.join(allowed)}")


def _hash_pair(obj: Mapping[str, Any], where: str) -> None:
    htype = _require(obj, "hash_type", str)
    value = _require(obj, "hash_value", str)
    length = HASH_TYPES.get(htype)
    if length is None:
        raise _fail(f"{where}: unsupported hash_type {htype!r}")
    if htype == "vpdq":
        _vpdq_value(value, where)
        return
    if len(value) != length or not _HEX_RE.fullmatch(value):
        raise _fail(f"{where}: hash_value must be {length} lower-case hex digits")


def _vpdq_value(value: str, where: str) -> None:
    """A vPDQ value must be in its canonical text form (pytx's frame list), within a size cap."""
    from plugin.errors import ConsentryError
    from plugin.hashing.types import hash_type

    if len(value) > MAX_VPDQ_CHARS:
        raise _fail(f"{where}: vpdq hash_value longer than {MAX_VPDQ_CHARS} characters")
    try:
        canonical = hash_type("vpdq").canonical(value)
    except ConsentryError as exc:
        raise _fail(f"{where}: {exc.message}") from None
    if canonical != value:
        raise _fail(f"{where}: vpdq hash_value is not in canonical form")


def validate_record(record: Any) -> None:
    """Check *record* (with or without ``proof``); raise :class:`InvalidRecord`."""
    if not isinstance(record, Mapping):
        raise _fail("record must be a JSON object")
    rtype = _require(record, "type", str)
    if rtype not in RECORD_TYPES:
        raise _fail(f"unknown record type {rtype!r}")
    if not is_uuid7(_require(record, "id", str)):
        raise _fail("id must be a canonical lower-case UUIDv7")
    issuer = _require(record, "issuer", str)
    if not is_valid_domain(issuer):
        raise _fail("issuer must be a lower-case domain name")
    _timestamp(record, "issued")
    if "expires" not in record:
        raise _fail("missing field 'expires' (use null for no expiry)")
    if record["expires"] is not None:
        _timestamp(record, "expires")
        if parse_rfc3339(record["expires"]) <= parse_rfc3339(record["issued"]):
            raise _fail("expires must be later than issued")
    _VALIDATORS[rtype](record, issuer)


def _validate_hash(record: Mapping[str, Any], issuer: str) -> None:
    _hash_pair(record, "hash record")
    if not _SLUG_RE.match(_require(record, "category", str)):
        raise _fail("category must be a short lower-case identifier")
    labels = record.get("labels", [])
    if not isinstance(labels, list) or len(labels) > _MAX_LABELS:
        raise _fail(f"labels must be a list of at most {_MAX_LABELS} identifiers")
    if not all(isinstance(lb, str) and _SLUG_RE.match(lb) for lb in labels):
        raise _fail("labels must be short lower-case identifiers")
    _one_of(record, "recommended_action", RECOMMENDED_ACTIONS)
    _one_of(record, "opinion", OPINIONS)
    _require(record, "human_reviewed", bool)
    _timestamp(record, "published")


def _validate_consent(record: Mapping[str, Any], issuer: str) -> None:
    actor = _require(record, "actor", str)
    try:
        parts = urlsplit(actor)
        port = parts.port
    except ValueError:  # e.g. an unbalanced "[" or a non-numeric port
        raise _fail("actor must be an https URI") from None
    if parts.scheme != "https" or not parts.hostname or parts.username or parts.password:
        raise _fail("actor must be an https URI")
    if parts.hostname.lower() != issuer or port not in (None, 443):
        raise _fail("actor is not hosted by the issuer: a server can only speak for its users")
    policy = _require(record, "policy", dict)
    if policy.get("ai_edit") not in AI_EDIT_VALUES:
        raise _fail(f"policy.ai_edit must be one of {', '.join(AI_EDIT_VALUES)}")
    hashes = record.get("protected_hashes", [])
    if not isinstance(hashes, list) or len(hashes) > _MAX_PROTECTED_HASHES:
        raise _fail("protected_hashes must be a list (at most 256 entries)")
    for entry in hashes:
        if not isinstance(entry, Mapping):
            raise _fail("protected_hashes entries must be objects")
        _hash_pair(entry, "protected_hashes")
    _timestamp(record, "stated")


def _validate_target(record: Mapping[str, Any], issuer: str) -> None:
    target = _require(record, "target", str)
    if not is_uuid7(target) or target == record["id"]:
        raise _fail("target must be the UUIDv7 id of another record")
    if "reason" in record and not isinstance(record["reason"], str):
        raise _fail("reason must be a string")


_VALIDATORS = {
    "hash": _validate_hash,
    "consent": _validate_consent,
    "retraction": _validate_target,
    "tombstone": _validate_target,
}


def bridge_policy(policy: Mapping[str, Any]) -> dict[str, Any]:
    """Translate our ``{"ai_edit": ...}`` policy into the external vocabularies.

    ``ask`` has no equivalent in AIPREF or ``noai``, so it maps to the restrictive value there
    and to CAWG ``constrained``.
    """
    value = policy.get("ai_edit")
    if value not in AI_EDIT_VALUES:
        raise InvalidRecord(f"policy.ai_edit must be one of {', '.join(AI_EDIT_VALUES)}")
    allowed = value == "allowed"
    return {
        "aipref": "ai-use=y" if allowed else "ai-use=n",
        "cawg": {
            "cawg.ai_inference": {"allowed": "allowed", "not_allowed": "notAllowed"}.get(
                value, "constrained"
            )
        },
        "noai": not allowed,
    }
