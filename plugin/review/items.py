"""Opening review items: from an automated finding (the policy's ``review`` action) or a
takedown copy, and gathering what a moderator needs to see about one.

``open_review_item`` is what ``plugin.enforcement`` runs for a ``review:<media_id>`` action.
It records the item, an automated statement of reasons, and refuses the media on the gate at
once (through the Redis connection of the act job that runs it), so a matched picture stops
being served before any human acts. A hash a moderator allowlisted opens nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from redis import Redis
from rq import get_current_job

from plugin.review import originals
from plugin.review.gate_index import GateIndex
from plugin.review.statements import build_statement, record_statement
from plugin.storage.database import Database
from plugin.storage.models import utcnow
from plugin.storage.protected_store import ProtectedStore
from plugin.storage.review_store import ReviewStore

CATEGORY_RANK = ("csam", "ncii", "terror", "nonconsensual_ai_edit", "spam", "other")


def item_category(findings: list[dict[str, Any]]) -> str:
    """The gravest category among the findings (labels count as ``other``)."""
    found = {f["match"]["category"] for f in findings if "match" in f}
    found |= {f["label"].get("category", "other") for f in findings if "label" in f}
    return next((c for c in CATEGORY_RANK if c in found), sorted(found)[0] if found else "other")


def open_review_item(db: Database, params: dict[str, Any],
                     redis: Redis | None = None) -> dict[str, Any]:
    store = ReviewStore(db)
    media_id = str(params["media_id"])
    scan = store.scan_for_media(media_id) or {}
    hashes = {"sha256": scan.get("sha256"), "pdq": scan.get("pdq")}
    if store.allowlisted(hashes):
        return {"review_item_id": None, "allowlisted": True}
    findings = list(params.get("findings") or [])
    category = item_category(findings)
    peer = next((f["match"].get("peer") for f in findings
                 if "match" in f and f["match"].get("peer")), None)
    item_id, created = store.item_open(
        f"media:{media_id}", source="scan", category=category, peer=peer, media_id=media_id,
        status_id=scan.get("status_id") or params.get("status_id"),
        status_url=scan.get("status_url"), account_id=scan.get("account_id"),
        account_acct=scan.get("account_acct"), media_url=scan.get("url"),
        sha256=hashes["sha256"], pdq=hashes["pdq"], findings=findings,
        labels=scan.get("labels") or [])
    if created:
        now = utcnow()
        record_statement(store, build_statement(
            decision="refuse_pending_review", category=category,
            facts=describe_findings(findings), puid=f"media:{media_id}",
            automated_detection=True, automated_decision="fully", restrictive=True,
            content_date=scan.get("created_at"), application_date=now),
            item_id=item_id, subject=f"media:{media_id}", restrictive=True)
    connection = redis or _job_connection()
    if connection is not None:
        GateIndex(connection).refuse(media_id, scan.get("url"), category)
    return {"review_item_id": item_id, "created": created}


def _job_connection() -> Redis | None:
    job = get_current_job()
    return job.connection if job is not None else None


def describe_findings(findings: list[dict[str, Any]]) -> str:
    parts = []
    for found in findings:
        if "match" in found:
            m = found["match"]
            where = f" from peer {m['peer']}" if m.get("peer") else ""
            parts.append(f"{m.get('type', 'hash')} match in bank {m['bank']} "
                         f"({m['category']}){where}, distance {m.get('distance')}")
        elif "label" in found:
            label = found["label"]
            parts.append(f"classifier {label.get('model', '?')}: {label['label']} "
                         f"score {label['score']:.2f}")
    return "Automated detection: " + ("; ".join(parts) or "no details")


def item_view(store: ReviewStore, item_id: int, now: datetime | None = None) -> dict[str, Any]:
    """Everything the review page shows for one item."""
    item = store.item_get(item_id)
    now = now or utcnow()
    item["age_hours"] = (now - item["created_at"]).total_seconds() / 3600
    if item["due_at"]:
        item["due_in_hours"] = (item["due_at"] - now).total_seconds() / 3600
        item["overdue"] = item["due_at"] <= now
    item["matches"] = [f["match"] for f in item["findings"] if "match" in f]
    # Each derivative match beside the protected original it points at (plugin.review.originals)
    protected = ProtectedStore(store.db)
    item["originals"] = [originals.original_view(protected, store, m)
                         for m in originals.derivative_matches(item)]
    item["decisions"] = store.decisions_for(item_id)
    item["account_history"] = (store.items_for_account(item["account_id"], item_id)
                               if item["account_id"] else [])
    return item
