"""Consent records we publish: one live record per person, replaced on every change.

A record (§8.3) carries the person's actor URI, their choice, the SHA-256 and PDQ of their
*public* protected pictures (followers-only and direct pictures never leave this instance)
and the time they stated it; ``publish_record`` signs it with the instance key. The previous
record of the same person is withdrawn from the feed in the same step, so the feed serves
exactly one record per person; peers also supersede by id. A person who leaves gets a
tombstone (§8.4): peers must forget the record and the pictures it protected.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from plugin.federation.changelog import publish_record
from plugin.federation.context import federation
from plugin.federation.schema import bridge_policy
from plugin.federation.timestamps import format_rfc3339
from plugin.services import Services
from plugin.storage.protected_store import ProtectedStore

MAX_HASHES = 256  # the protocol's cap on protected_hashes entries


def _kv_key(actor: str) -> str:
    return "consent.record:" + hashlib.sha256(actor.encode()).hexdigest()


def consent_payload(services: Services, actor: str, choice: str,
                    stated: float) -> dict[str, Any]:
    hashes: list[dict[str, str]] = []
    if choice != "allowed":
        pictures = ProtectedStore(services.db).protected_find(owner=actor, origin="local")
        for pic in pictures:
            if pic["visibility"] != "public" or len(hashes) + 2 > MAX_HASHES:
                continue
            hashes.append({"hash_type": "sha256", "hash_value": pic["sha256"]})
            if pic["pdq"]:
                hashes.append({"hash_type": "pdq", "hash_value": pic["pdq"]})
    return {"actor": actor, "policy": {"ai_edit": choice}, "protected_hashes": hashes,
            "stated": format_rfc3339(stated)}


def publish_consent(services: Services, actor: str, choice: str, stated: float) -> str:
    """Sign and publish the person's current record; withdraw the previous one. Returns id."""
    fed = federation(services)
    record_id = publish_record(fed, "consent", consent_payload(services, actor, choice, stated),
                               category="consent", visibility="peers")
    _replace_previous(services, actor, record_id)
    return record_id


def tombstone_consent(services: Services, actor: str, reason: str) -> str | None:
    """The person left: a tombstone for their live record (peers forget it and its hashes)."""
    previous = services.kv.kv_get(_kv_key(actor))
    if not previous:
        return None
    fed = federation(services)
    record_id = publish_record(fed, "tombstone", {"target": previous["id"], "reason": reason},
                               category="consent", visibility="peers")
    _replace_previous(services, actor, record_id, live=False)
    return record_id


def _replace_previous(services: Services, actor: str, record_id: str, live: bool = True) -> None:
    fed = federation(services)
    previous = services.kv.kv_get(_kv_key(actor))
    if previous:
        with fed.changelog.publishing() as pub:
            row = pub.live_by_id(previous["id"])
            if row is not None and row.withdrawn_at is None:
                pub.withdraw(row, record_id)
    services.kv.kv_set(_kv_key(actor), {"id": record_id if live else None, "actor": actor})


def latest_record(services: Services, actor: str) -> dict[str, Any] | None:
    """The signed record we currently serve for a local person (None if never published)."""
    previous = services.kv.kv_get(_kv_key(actor))
    if not previous or not previous.get("id"):
        return None
    from plugin.storage.federation_models import ChangeLogRecord

    with services.db.session() as s:  # a read: no publisher lock
        row = s.get(ChangeLogRecord, previous["id"])
        return json.loads(row.signed) if row is not None and row.withdrawn_at is None else None


def vocabularies(choice: str) -> dict[str, Any]:
    """AIPREF / CAWG / noai equivalents of a choice (``unknown`` maps to nothing)."""
    if choice not in ("allowed", "not_allowed", "ask"):
        return {}
    return bridge_policy({"ai_edit": choice})
