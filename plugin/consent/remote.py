"""Consent records from peers: applying them, and fetching the fingerprints they protect.

The sync job stores every verified record a peer sends in ``fed_received`` (state
``stored`` for consent records); ``apply_received`` replays those rows in arrival order with
its own cursor (``kv``), so it can run after every sync or on a timer and never applies a row
twice. Authority is checked again here (the actor's host must be the sending peer's domain,
§8.3) although the verifier already refused such records: a person on a third domain can
never be spoken for by a peer.

A record for a person who said ``not_allowed``/``ask`` lists the SHA-256 of their public
pictures; we fetch each picture's derivative fingerprint from the home instance
(``GET /federation/v1/consent/fingerprint/<sha256>``, signed both ways, active peers only)
and register it as protected here with origin ``peer:<domain>`` (never re-published).
A newer record replaces the set; ``allowed``, a retraction or a tombstone removes it.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from sqlalchemy import select

from plugin.consent.actors import actor_domain
from plugin.errors import ConsentryError
from plugin.federation.context import Federation
from plugin.storage.consent_store import ConsentStore
from plugin.storage.federation_models import ReceivedRecord
from plugin.storage.protected_store import ProtectedInput, ProtectedStore

CURSOR_KEY = "consent.received_cursor"


def apply_received(fed: Federation, limit: int = 1000) -> dict[str, int]:
    services = fed.services
    cursor = int((services.kv.kv_get(CURSOR_KEY) or {}).get("id", 0))
    counts = {"applied": 0, "stale": 0, "refused": 0, "withdrawn": 0, "pictures": 0}
    with services.db.session() as s:
        rows = [(r.id, r.peer_id, r.type, r.record) for r in s.scalars(
            select(ReceivedRecord).where(ReceivedRecord.id > cursor,
                                         ReceivedRecord.type.in_(
                                             ("consent", "retraction", "tombstone")))
            .order_by(ReceivedRecord.id).limit(limit))]
    store = ConsentStore(services.db)
    for row_id, peer_id, rtype, text in rows:
        record = json.loads(text)
        peer = fed.peers.peer_get(peer_id)
        if rtype == "consent":
            _apply_consent(fed, store, peer, record, counts)
        else:
            target = store.remote_consent_withdraw(
                record["target"], "retracted" if rtype == "retraction" else "tombstoned")
            if target is not None and target["peer_id"] == peer_id:
                counts["withdrawn"] += _sync_pictures(fed, peer, target["actor"], [])
        services.kv.kv_set(CURSOR_KEY, {"id": row_id})
    return counts


def _apply_consent(fed: Federation, store: ConsentStore, peer: dict[str, Any],
                   record: dict[str, Any], counts: dict[str, int]) -> None:
    actor = record["actor"]
    if actor_domain(actor) != peer["domain"] or record.get("issuer") != peer["domain"]:
        counts["refused"] += 1
        fed.services.audit.audit_append(
            actor=f"peer:{peer['domain']}", action="consent.refused_record", subject=actor,
            outcome="refused", detail={"record": record.get("id"),
                                       "reason": "actor not hosted by the issuer"})
        return
    choice = record["policy"]["ai_edit"]
    if not store.remote_consent_apply(actor=actor, issuer=peer["domain"], peer_id=peer["id"],
                                      record_id=record["id"], ai_edit=choice,
                                      record=json.dumps(record, separators=(",", ":"))):
        counts["stale"] += 1
        return
    counts["applied"] += 1
    wanted = [] if choice == "allowed" else [
        h["hash_value"] for h in record.get("protected_hashes") or []
        if h.get("hash_type") == "sha256"]
    counts["pictures"] += _sync_pictures(fed, peer, actor, wanted)


def _sync_pictures(fed: Federation, peer: dict[str, Any], actor: str,
                   wanted: list[str]) -> int:
    """Make the protected set of (actor, this peer) exactly ``wanted``; return changes."""
    store = ProtectedStore(fed.services.db)
    origin = f"peer:{peer['domain']}"
    have = {p["sha256"]: p["id"] for p in store.protected_find(owner=actor, origin=origin)}
    gone = [pid for sha, pid in have.items() if sha not in wanted]
    changed = store.protected_remove(gone, f"withdrawn by {peer['domain']}")
    for sha in wanted:
        if sha in have:
            continue
        try:
            fetched = fetch_fingerprint(fed, peer, sha)
        except ConsentryError as exc:  # retried on the next record; the hash alone stays
            fed.services.audit.audit_append(
                actor=f"peer:{peer['domain']}", action="consent.fingerprint_failed",
                subject=sha, outcome="failed", detail={"error": exc.message})
            continue
        store.protected_add(ProtectedInput(
            owner=actor, source=f"{origin}:{sha}", fingerprint=fetched["fingerprint"],
            sha256=sha, pdq=fetched.get("pdq"), origin=origin, visibility="public"))
        changed += 1
    return changed


def fetch_fingerprint(fed: Federation, peer: dict[str, Any], sha256: str) -> dict[str, Any]:
    from plugin.federation.client import PeerClient
    from plugin.federation.errors import InvalidRequest
    from plugin.federation.http_signatures import verify_response

    url = f"{peer['base_url']}/federation/v1/consent/fingerprint/{sha256}"
    response = PeerClient(fed)._send("GET", url, None)
    if response.status_code != 200:
        raise ConsentryError(f"{peer['domain']} answered {response.status_code} for {sha256}")
    keyid = verify_response(response.status_code, dict(response.headers), response.content,
                            lambda k: fed.resolve_peer_key(k, http=True, peer=peer))
    if not keyid.startswith(f"https://{peer['domain']}/"):
        raise InvalidRequest("fingerprint response signed by another domain")
    doc = response.json()
    if doc.get("sha256") != sha256:
        raise InvalidRequest("fingerprint response for another picture")
    return {"fingerprint": base64.b64decode(doc["fingerprint"]), "pdq": doc.get("pdq")}
