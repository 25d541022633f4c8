"""The background proof pass: verify the Ed25519 proofs a backfill only checked structurally.

Why deferred: a cold sync brings 10^6 records and one Ed25519 verification (with JCS and
SHA-256) costs ~80 core-µs; on a 2-core host that alone would exceed the 60 s target. Records
pulled from their issuer are already authenticated by the issuer's response signature over
the page body, so ``sync_peer`` applies them after ``check_record`` and marks them unchecked
(``fed_received.proof_checked_at`` NULL); this pass verifies them all, in batches, on the
process pool of ``verify_pool``. Nothing is trusted less for it: every record's proof is
verified, only later.

A record whose proof does not verify is refused: its row becomes ``refused`` with the code
(``proof_error``), the bank entry it fed is withdrawn through ``withdraw_entry`` (audited,
pending actions withdrawn, never a silent delete), and its peer is quarantined ("served
records whose proofs do not verify") until an admin releases it. An expired record is not a
proof failure (expiry is ``expire_received``'s business).
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from typing import Any

from .context import Federation, redis_key
from .ingest import withdraw_entry
from .verify_pool import verify_texts

__all__ = ["QUARANTINE_REASON", "schedule_proof_pass", "verify_pending"]

QUARANTINE_REASON = "served records whose proofs do not verify"
BATCH = 5000
_NOT_FAILURES = (None, "expired_record")


def verify_pending(fed: Federation, *, batch: int = BATCH,
                   max_batches: int | None = None) -> dict[str, Any]:
    """Verify every unchecked received record; return counts (and the rate)."""
    started = time.monotonic()
    verified, refused, batches = 0, 0, 0
    peers: dict[int, dict[str, Any]] = {}
    while max_batches is None or batches < max_batches:
        rows = fed.received.received_unchecked(batch)
        if not rows:
            break
        batches += 1
        by_peer: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            by_peer[row["peer_id"]].append(row)
        for peer_id, group in by_peer.items():
            if peer_id not in peers:
                peers[peer_id] = fed.peers.peer_get(peer_id)
            results = verify_texts([r["record"] for r in group], peers[peer_id]["keys"],
                                   workers=fed.settings.federation_verify_workers)
            ok = [r["id"] for r, v in zip(group, results, strict=True) if v in _NOT_FAILURES]
            failed = {r["id"]: v for r, v in zip(group, results, strict=True)
                      if v not in _NOT_FAILURES}
            fed.received.received_mark_checked(ok, failed)  # type: ignore[arg-type]
            verified += len(ok)
            if failed:
                refused += len(failed)
                _refuse(fed, peers[peer_id], [r for r in group if r["id"] in failed], failed)
    seconds = time.monotonic() - started
    return {"verified": verified, "refused": refused, "seconds": round(seconds, 3),
            "per_s": round((verified + refused) / seconds) if seconds > 0 else 0}


def _refuse(fed: Federation, peer: dict[str, Any], rows: list[dict[str, Any]],
            codes: dict[int, str]) -> None:
    """Withdraw what the failed records fed, then quarantine their peer (all audited)."""
    for row in rows:  # the rows are ``refused`` already, so they no longer assert the entry
        if row["state"] == "active" and row["bank"]:
            withdraw_entry(fed, peer, row["bank"], row["hash_type"], row["hash_value"],
                           reason=f"record {row['record_id']} from {peer['domain']}: "
                                  f"proof does not verify ({codes[row['id']]})",
                           record=json.loads(row["record"]) if row["record"] else None)
    counts: dict[str, int] = defaultdict(int)
    for code in codes.values():
        counts[f"refused_{code}"] += 1
    audit = fed.services.audit
    audit.audit_append(actor=f"peer:{peer['domain']}", action="federation.refused_records",
                       subject=peer["domain"], outcome="refused",
                       detail={**counts, "stage": "background proof pass"})
    current = fed.peers.peer_get(peer["id"])
    if not current["quarantined"]:
        fed.peers.peer_quarantine(peer["id"], QUARANTINE_REASON)
        audit.audit_append(actor=f"peer:{peer['domain']}", action="federation.quarantine_peer",
                           subject=peer["domain"], outcome="done",
                           detail={"reason": QUARANTINE_REASON, "records": len(rows)})
    peer["quarantined"] = True


def schedule_proof_pass(fed: Federation) -> bool:
    """Queue one background proof pass on the ``sync`` queue unless one is already queued."""
    from plugin.queueing import queue

    redis = fed.services.redis
    if not redis.set(redis_key("proofs-queued"), 1, nx=True, ex=3600):
        return False
    queue("sync", redis).enqueue("workers.sync.verify_proofs_job", result_ttl=600,
                                 failure_ttl=86400, job_timeout=3600)
    return True


def proof_pass_started(fed: Federation) -> None:
    """Called by the job as it starts: a sync finishing now may queue the next pass."""
    fed.services.redis.delete(redis_key("proofs-queued"))
