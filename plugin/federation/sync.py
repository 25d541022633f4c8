"""Pulling a peer's change feed (§6): pages in order, verify, apply, then move the cursor.

``sync_peer`` is what the ``sync`` queue runs per peer. Its contract follows pytx's
``fetch_iter``: pages arrive in id order; each page is applied *before* its cursor is
persisted, so a crash or restart repeats at most one page (re-applying is idempotent: a
record id already received is skipped). The next page is fetched on a helper thread while
the current one is verified and applied, so network and CPU overlap during a backfill.

Failure isolation: every error of one peer (unreachable, 5xx, 429, a malformed page, a
wrong response signature) ends that peer's run with ``last_error`` and a ``retry_at``
(``Retry-After`` for 429, exponential back-off otherwise); ``sync_all`` moves on to the next
peer, so one dead or hostile peer never stops the others.

Flood quarantine: once a peer's backfill is done, more than ``federation_flood_per_hour``
new records within an hour quarantines the peer (its records are kept but feed no bank)
until an admin releases it.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from plugin.errors import ConsentryError

from .client import FeedPage, PeerClient
from .context import Federation
from .errors import PeerRateLimited
from .ingest import apply_page
from .verify_pool import verify_many

__all__ = ["PAGE_LIMIT", "sync_all", "sync_peer"]

log = logging.getLogger(__name__)
PAGE_LIMIT = 1000


def _verdicts(fed: Federation, peer: dict[str, Any], records: list[Any]) -> list[str | None]:
    out: list[str | None] = [None] * len(records)
    check, where = [], []
    for i, record in enumerate(records):
        if not isinstance(record, dict) or record.get("issuer") != peer["domain"]:
            out[i] = "foreign_issuer"  # feeds carry only their own records (§6)
        else:
            check.append(record)
            where.append(i)
    results = verify_many(check, peer["keys"], workers=fed.settings.federation_verify_workers)
    if "unknown_key" in results:  # rotated key: refetch discovery once, then re-check those
        try:
            fed.resolve_peer_key(_first_unknown(check, results), http=False, peer=peer)
            peer = fed.peers.peer_get(peer["id"])
        except ConsentryError:
            pass
        redo = [k for k, r in enumerate(results) if r == "unknown_key"]
        again = verify_many([check[k] for k in redo], peer["keys"], workers=1)
        for k, verdict in zip(redo, again, strict=True):
            results[k] = verdict
    for i, verdict in zip(where, results, strict=True):
        out[i] = verdict
    return out


def _first_unknown(records: list[Any], results: list[str | None]) -> str:
    for record, verdict in zip(records, results, strict=True):
        if verdict == "unknown_key":
            return str(record.get("proof", {}).get("verificationMethod", ""))
    return ""


def _flooding(fed: Federation, peer: dict[str, Any], incoming: int) -> bool:
    if peer["backfilled_at"] is None:
        return False
    # The backfill itself is not a flood: count from the later of an hour ago and its end.
    since = max(datetime.now(UTC) - timedelta(hours=1),
                datetime.fromisoformat(peer["backfilled_at"]))
    recent = fed.received.received_count_since(peer["id"], since)
    return recent + incoming > fed.settings.federation_flood_per_hour


def sync_peer(fed: Federation, peer_id: int, *, max_pages: int | None = None,
              limit: int = PAGE_LIMIT, client: PeerClient | None = None) -> dict[str, Any]:
    """Pull *peer_id*'s feed until it has no more (or *max_pages*); return a summary."""
    peer = fed.peers.peer_get(peer_id)
    summary: dict[str, Any] = {"peer": peer["domain"], "pages": 0, "records": 0}
    if peer["state"] != "active":
        return {**summary, "skipped": f"peer is {peer['state']}"}
    if peer["retry_at"] and datetime.fromisoformat(peer["retry_at"]) > datetime.now(UTC):
        return {**summary, "skipped": f"retry after {peer['retry_at']}"}
    client = client or PeerClient(fed)
    counts: dict[str, int] = {}
    started = time.monotonic()
    with ThreadPoolExecutor(1, thread_name_prefix="feed") as prefetch:
        try:
            future: Future[FeedPage] = prefetch.submit(client.changes, peer, peer["cursor"],
                                                       limit)
            while True:
                page = future.result()
                if page.has_more and (max_pages is None or summary["pages"] + 1 < max_pages):
                    future = prefetch.submit(client.changes, peer, page.next, limit)
                else:
                    future = None  # type: ignore[assignment]
                quarantine = _flooding(fed, peer, len(page.records))
                if quarantine and not peer["quarantined"]:
                    peer = fed.peers.peer_quarantine(
                        peer_id, f"flood: over {fed.settings.federation_flood_per_hour} "
                                 "records in an hour")
                    fed.services.audit.audit_append(
                        actor=f"peer:{peer['domain']}", action="federation.quarantine_peer",
                        subject=peer["domain"], outcome="done",
                        detail={"reason": peer["quarantine_reason"]})
                verdicts = _verdicts(fed, peer, page.records)
                for key, n in apply_page(fed, peer, page.records, verdicts,
                                         quarantine=quarantine).items():
                    counts[key] = counts.get(key, 0) + n
                fed.peers.peer_checkpoint_set(peer_id, page.next, backfilled=not page.has_more)
                summary["pages"] += 1
                summary["records"] += len(page.records)
                if future is None:
                    break
        except PeerRateLimited as exc:
            retry = datetime.now(UTC) + timedelta(seconds=exc.retry_after_s)
            fed.peers.peer_sync_result(peer_id, error=f"{exc.code}: {exc.message}",
                                       retry_at=retry)
            return {**summary, "counts": counts, "error": f"{exc.code}: {exc.message}",
                    "retry_after_s": exc.retry_after_s}
        except ConsentryError as exc:
            failures = fed.peers.peer_get(peer_id)["failures"]
            retry = datetime.now(UTC) + timedelta(seconds=min(3600, 15 * 2 ** failures))
            fed.peers.peer_sync_result(peer_id, error=f"{exc.code}: {exc.message}",
                                       retry_at=retry)
            log.warning("sync with %s failed: %s", peer["domain"], exc.message)
            return {**summary, "counts": counts, "error": f"{exc.code}: {exc.message}"}
    fed.peers.peer_sync_result(peer_id, error=None)
    refused = {k: v for k, v in counts.items() if k.startswith("refused_")}
    if refused:
        fed.services.audit.audit_append(
            actor=f"peer:{peer['domain']}", action="federation.refused_records",
            subject=peer["domain"], outcome="refused", detail=refused)
    return {**summary, "counts": counts, "seconds": round(time.monotonic() - started, 3)}


def sync_all(fed: Federation, *, max_pages: int | None = None) -> list[dict[str, Any]]:
    """One run over every active peer; a failing peer is recorded and skipped."""
    out = []
    for peer in fed.peers.peer_list():
        if peer["state"] != "active":
            continue
        try:
            out.append(sync_peer(fed, peer["id"], max_pages=max_pages))
        except Exception as exc:  # isolation: never let one peer stop the rest
            log.exception("sync with %s crashed", peer["domain"])
            fed.peers.peer_sync_result(peer["id"], error=f"crash: {exc}")
            out.append({"peer": peer["domain"], "error": f"crash: {exc}"})
    return out
