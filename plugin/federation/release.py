"""Releasing a quarantined peer: its held records are re-applied, in feed order.

While a peer is quarantined (a flood, or records whose proofs failed) its hash records are
stored as received with state ``quarantined`` and feed no bank. Clearing the flag alone would
leave them there for good: the feed cursor has moved past them and they are never pulled
again. ``release_peer`` therefore lifts the quarantine and then re-applies those records in
feed (record id) order through ``apply_page``, the same rules as on arrival: the peer's
allowed categories (``filtered``), the popular-hash check (a sha256 matching many local
pictures stays ``quarantined``), negative opinions withdrawing entries, a newer record
superseding an older one. Each row is updated in place; nothing is fetched again.

Records quarantined at match time by the trust policy (state ``popular``) are a judgement
about one entry, not about the peer, and are not replayed. The release is audited
(``federation.release_peer``) with the counts per resulting state.
"""

from __future__ import annotations

import json
from typing import Any

from .context import Federation
from .ingest import apply_page

__all__ = ["release_peer"]

BATCH = 1000


def release_peer(fed: Federation, peer_id: int, *, actor: str = "admin") -> dict[str, Any]:
    """Lift *peer_id*'s quarantine and replay what it held; the peer, with ``replayed`` counts."""
    from .ingest import expire_received

    before = fed.peers.peer_get(peer_id)
    peer = fed.peers.peer_quarantine(peer_id, None)
    expire_received(fed)  # a record that expired while held is not revived
    counts: dict[str, int] = {}
    after = ""
    while True:
        rows = fed.received.received_in_state(peer_id, "quarantined", after=after, limit=BATCH)
        if not rows:
            break
        after = rows[-1]["record_id"]
        records = [json.loads(r["record"]) for r in rows]
        existing = {r["record_id"]: r["id"] for r in rows}
        for key, n in apply_page(fed, peer, records, [None] * len(records),
                                 existing=existing).items():
            counts[key] = counts.get(key, 0) + n
    fed.services.audit.audit_append(
        actor=actor, action="federation.release_peer", subject=peer["domain"], outcome="done",
        detail={"was_quarantined": before["quarantined"],
                "reason": before["quarantine_reason"], "replayed": counts})
    return {**peer, "replayed": counts}
