"""Pulling a peer's change feed (§6): pages in order, verify, apply, then move the cursor.

``sync_peer`` is what the ``sync`` queue runs per peer. Its contract follows pytx's
``fetch_iter``: pages arrive in id order; a page's cursor is persisted in the same
transaction as the page's (final) write, so a crash or restart repeats at most what was not
committed (re-applying is idempotent: a record id already received is skipped). During a
backfill the ``PageWriter`` commits pages in batches of ``federation_backfill_batch`` records
(group commit: one batch's pages and its last cursor in one transaction); afterwards page by
page. Pages are fetched ahead on a helper thread (``read_ahead``, a few pages deep), and a
backfill page's structural checks start on the process pool as soon as it arrives, so the
peer's serving, our checks and our database writes overlap during a backfill.

Proofs (``docs/peer-protocol.md`` §6.3): a page is the issuer's own, authenticated by its
RFC 9421 response signature over the body's ``content-digest``. Small pages (steady state) are
verified record by record in full; in a large page (a backfill) hash records that add entries
are checked structurally only (key id published by the issuer, well-formed 64-byte proof,
schema, expiry) and their Ed25519 proofs are verified by the background pass of
``plugin.federation.proofs`` (a ``sync`` job queued after the run), which withdraws any record
whose proof fails and quarantines the peer. Retractions, negative opinions and consent
records are always verified before they take effect.

Failure isolation: every error of one peer (unreachable, 5xx, 429, a malformed page, a
wrong response signature) ends that peer's run with ``last_error`` and a ``retry_at``
(``Retry-After`` for 429, exponential back-off otherwise); ``sync_all`` moves on to the next
peer, so one dead or hostile peer never stops the others.

Flood quarantine: once a peer's backfill is done, more than ``federation_flood_per_hour``
new records within an hour quarantines the peer (its records are kept but feed no bank)
until an admin releases it.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from plugin.errors import ConsentryError

from .client import FeedPage, PeerClient
from .context import Federation
from .errors import InvalidRequest, PeerRateLimited
from .ingest import RunMemo, apply_page
from .jcs import loads as strict_loads
from .page_writer import PageWriter
from .read_ahead import read_ahead
from .verify_pool import check_many, pool_size, submit_page_checks, verify_many

__all__ = ["PAGE_LIMIT", "sync_all", "sync_peer"]

log = logging.getLogger(__name__)
PAGE_LIMIT = 1000
#: Pages this large (a backfill) defer the hash records' proofs to the background pass.
DEFER_MIN = 400


def _deferrable(record: dict[str, Any]) -> bool:
    """Hash records that add an entry; whatever removes one or states consent is never deferred."""
    return record.get("type") == "hash" and record.get("opinion") != "false_positive"


def _verdicts(fed: Federation, peer: dict[str, Any], records: list[Any],
              structural: list[str | None] | None = None
              ) -> tuple[list[str | None], list[bool]]:
    """Per record: ``None`` or the refusal code, and whether the proof was verified in full.

    Small pages (steady state) are verified in full. In a page of ``DEFER_MIN`` records or
    more (a backfill), hash records that add entries are checked structurally only; the
    page itself is the issuer's, authenticated by its response signature (``client.changes``),
    and the background pass (``plugin.federation.proofs``) verifies their proofs later.
    *structural* is ``check_many`` of the whole page, already run on the process pool.
    """
    precomputed = structural
    out: list[str | None] = [None] * len(records)
    checked = [True] * len(records)
    defer = len(records) >= DEFER_MIN
    full: list[int] = []
    light: list[int] = []
    for i, record in enumerate(records):
        if not isinstance(record, dict) or record.get("issuer") != peer["domain"]:
            out[i] = "foreign_issuer"  # feeds carry only their own records (§6)
        elif defer and _deferrable(record):
            light.append(i)
        else:
            full.append(i)

    def run(where: list[int], keys: list[dict[str, Any]], structural: bool) -> None:
        at = [i for i in where if out[i] in (None, "unknown_key")]
        subset = [records[i] for i in at]
        if structural and precomputed is not None:
            results = [precomputed[i] for i in at]  # checked on the pool while we applied
        elif structural:
            results = check_many(subset, {k["key_id"] for k in keys})
        else:
            results = verify_many(subset, keys, workers=fed.settings.federation_verify_workers
                                  if len(subset) >= DEFER_MIN else 1)
        for i, verdict in zip(at, results, strict=True):
            out[i] = verdict

    run(full, peer["keys"], False)
    run(light, peer["keys"], True)
    unknown = [i for i, v in enumerate(out) if v == "unknown_key"]
    if unknown:  # rotated key: refetch discovery once, then re-check those
        try:
            method = str(records[unknown[0]].get("proof", {}).get("verificationMethod", ""))
            fed.resolve_peer_key(method, http=False, peer=peer)
            peer = fed.peers.peer_get(peer["id"])
        except ConsentryError:
            pass
        wanted = set(unknown)
        precomputed = None  # checked against the keys known before the refetch
        run([i for i in full if i in wanted], peer["keys"], False)
        run([i for i in light if i in wanted], peer["keys"], True)
    for i in light:
        checked[i] = out[i] is not None  # a refused record is never stored
    return out, checked


def _flooding(fed: Federation, peer: dict[str, Any], incoming: int) -> bool:
    if peer["backfilled_at"] is None:
        return False
    # The backfill itself is not a flood: count from the later of an hour ago and its end.
    since = max(datetime.now(UTC) - timedelta(hours=1),
                datetime.fromisoformat(peer["backfilled_at"]))
    recent = fed.received.received_count_since(peer["id"], since)
    return recent + incoming > fed.settings.federation_flood_per_hour


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off for a sync run, back on (as it was) after.

    Why: a backfill keeps up to a batch of rows and a few pages of parsed records alive, tens
    of thousands of dicts, and each full collection walks them all, holding the interpreter
    lock that the run's three threads share: 20% of a cold sync's interpreter time (2.1 s of
    10.8 s at 200k records, measured with ``gc.callbacks``). What a run allocates is
    reference-counted and freed as it goes (records, rows, pages hold no cycles); the few
    cycles that libraries make per request wait for the next collection after the run.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def sync_peer(fed: Federation, peer_id: int, *, max_pages: int | None = None,
              limit: int = PAGE_LIMIT, client: PeerClient | None = None) -> dict[str, Any]:
    """Pull *peer_id*'s feed until it has no more (or *max_pages*); return a summary."""
    with _collector_paused():
        return _sync_peer(fed, peer_id, max_pages=max_pages, limit=limit, client=client)


def _sync_peer(fed: Federation, peer_id: int, *, max_pages: int | None,
               limit: int, client: PeerClient | None) -> dict[str, Any]:
    peer = fed.peers.peer_get(peer_id)
    summary: dict[str, Any] = {"peer": peer["domain"], "pages": 0, "records": 0,
                               "unchecked": 0}
    if peer["state"] != "active":
        return {**summary, "skipped": f"peer is {peer['state']}"}
    if peer["retry_at"] and datetime.fromisoformat(peer["retry_at"]) > datetime.now(UTC):
        return {**summary, "skipped": f"retry after {peer['retry_at']}"}
    client = client or PeerClient(fed)
    counts: dict[str, int] = {}
    started = time.monotonic()
    key_ids = {k["key_id"] for k in peer["keys"]}
    workers = fed.settings.federation_verify_workers

    pooled = pool_size(workers) > 1

    def fetch(since: str) -> tuple[FeedPage, Future[list[str | None] | str] | None]:
        """One page; for a backfill page, its strict parse and structural checks started
        on the process pool (the page itself is parsed here the fast way)."""
        page = client.changes(peer, since, limit, strict=not pooled)
        checks = None
        if pooled and len(page.records) >= DEFER_MIN:
            checks = submit_page_checks(page.raw, key_ids, workers=workers)
        elif pooled:
            try:
                strict_loads(page.raw)
            except ValueError as exc:
                raise InvalidRequest(f"malformed feed page: {exc}") from None
        return page, checks

    # A backfill commits pages in large batches (group commit, see page_writer); afterwards
    # every page is committed before the next is decided, as flood counting expects.
    backfill = peer["backfilled_at"] is None
    writer = PageWriter(fed.settings.federation_backfill_batch if backfill else 1)
    memo = RunMemo()
    fetched = 0

    def follow(item: tuple[FeedPage, Any]) -> str | None:
        nonlocal fetched
        fetched += 1
        page = item[0]
        more = page.has_more and (max_pages is None or fetched < max_pages)
        return page.next if more else None

    with read_ahead(fetch, peer["cursor"], follow, name="feed") as pages:
        try:
            for page, checks in pages:
                quarantine = _flooding(fed, peer, len(page.records))
                if quarantine and not peer["quarantined"]:
                    peer = fed.peers.peer_quarantine(
                        peer_id, f"flood: over {fed.settings.federation_flood_per_hour} "
                                 "records in an hour")
                    fed.services.audit.audit_append(
                        actor=f"peer:{peer['domain']}", action="federation.quarantine_peer",
                        subject=peer["domain"], outcome="done",
                        detail={"reason": peer["quarantine_reason"]})
                structural = checks.result() if checks else None
                if isinstance(structural, str):  # the strict parse refused the page
                    raise InvalidRequest(f"malformed feed page: {structural}")
                verdicts, checked = _verdicts(fed, peer, page.records, structural)
                summary["unchecked"] += checked.count(False)
                for key, n in apply_page(fed, peer, page.records, verdicts,
                                         quarantine=quarantine, checked=checked, writer=writer,
                                         memo=memo, cursor=(page.next, not page.has_more)
                                         ).items():
                    counts[key] = counts.get(key, 0) + n
                summary["pages"] += 1
                summary["records"] += len(page.records)
            writer.close()  # the last pages' write and checkpoint
        except PeerRateLimited as exc:
            writer.close()  # what was applied keeps its checkpoint
            retry = datetime.now(UTC) + timedelta(seconds=exc.retry_after_s)
            fed.peers.peer_sync_result(peer_id, error=f"{exc.code}: {exc.message}",
                                       retry_at=retry)
            return {**summary, "counts": counts, "error": f"{exc.code}: {exc.message}",
                    "retry_after_s": exc.retry_after_s}
        except ConsentryError as exc:
            writer.close()
            failures = fed.peers.peer_get(peer_id)["failures"]
            retry = datetime.now(UTC) + timedelta(seconds=min(3600, 15 * 2 ** failures))
            fed.peers.peer_sync_result(peer_id, error=f"{exc.code}: {exc.message}",
                                       retry_at=retry)
            log.warning("sync with %s failed: %s", peer["domain"], exc.message)
            return {**summary, "counts": counts, "error": f"{exc.code}: {exc.message}"}
        finally:
            writer.shutdown()
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
