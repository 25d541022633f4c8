"""Sync jobs (queue ``sync``): thin shells over ``plugin.federation``.

* ``sync_peer_job(peer_id)`` — pull one peer's feed (queued by a nudge or the admin API);
  re-runs while nudges keep arriving during the run, so none is lost to the debounce.
* ``sync_all_job()`` — the periodic tick: publish new bank changes, expire received records
  whose expiry passed, pull every active peer (one failing peer never stops the others).
* ``publish_job()`` / ``nudge_peers_job()`` — publish bank changes; tell peers to pull.
* ``verify_proofs_job()`` — the background proof pass: verify the Ed25519 proofs a backfill
  only checked structurally (queued after a sync that received such records, and by the tick).
"""

from __future__ import annotations

import logging
from typing import Any

from plugin.consent.remote import apply_received
from plugin.federation.changelog import publish_bank_changes
from plugin.federation.client import PeerClient
from plugin.federation.context import Federation, federation, redis_key
from plugin.federation.ingest import expire_received
from plugin.federation.proofs import proof_pass_started, schedule_proof_pass, verify_pending
from plugin.federation.sync import sync_all, sync_peer
from workers import context

log = logging.getLogger(__name__)


def _fed() -> Federation:
    return federation(context.services())


def run_peer_sync(fed: Federation, peer_id: int) -> dict[str, Any]:
    redis = fed.services.redis
    summary: dict[str, Any] = {}
    for _ in range(5):
        redis.delete(redis_key("nudged", peer_id))
        summary = sync_peer(fed, peer_id)
        redis.delete(redis_key("sync-queued", peer_id))
        if not redis.get(redis_key("nudged", peer_id)):
            break
    return summary


def sync_peer_job(peer_id: int) -> dict[str, Any]:
    fed = _fed()
    result = run_peer_sync(fed, int(peer_id))
    if result.get("unchecked"):  # a backfill's proofs are verified off the sync's hot path
        result["proof_pass_queued"] = schedule_proof_pass(fed)
    result["consent"] = apply_received(fed)  # consent records take effect with the sync
    return result


def nudge_peers(fed: Federation) -> dict[str, Any]:
    latest = fed.changelog.latest_id()
    if latest is None:
        return {"nudged": 0}
    client = PeerClient(fed, timeout_s=5)
    nudged, failed = 0, []
    for peer in fed.peers.peer_list():
        if peer["state"] != "active":
            continue
        try:
            client.nudge(peer, latest)
            nudged += 1
        except Exception as exc:  # a nudge is only a hint; the poll catches up
            failed.append(peer["domain"])
            log.info("nudge to %s failed: %s", peer["domain"], exc)
    return {"nudged": nudged, "failed": failed}


def nudge_peers_job() -> dict[str, Any]:
    return nudge_peers(_fed())


def publish_job() -> dict[str, Any]:
    fed = _fed()
    counts = publish_bank_changes(fed)
    if counts["published"] or counts["retracted"]:
        counts["nudge"] = nudge_peers(fed)
    return counts


def sync_all_job() -> dict[str, Any]:
    fed = _fed()
    published = publish_bank_changes(fed)
    if published["published"] or published["retracted"]:
        nudge_peers(fed)
    peers = sync_all(fed)
    if any(p.get("unchecked") for p in peers) or fed.received.received_count_unchecked():
        schedule_proof_pass(fed)
    return {"published": published, "expired": expire_received(fed), "peers": peers,
            "consent": apply_received(fed)}


def verify_proofs_job() -> dict[str, Any]:
    """The background proof pass (``plugin.federation.proofs``)."""
    fed = _fed()
    proof_pass_started(fed)
    return verify_pending(fed)
