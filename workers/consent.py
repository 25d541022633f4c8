"""Consent jobs: thin shells over ``plugin.consent``.

* ``register_media_job`` (queue ``scan``) — protect one new picture of a protective person;
* ``backfill_job`` (``default``) — protect a person's existing pictures (resumable);
* ``notify_owner_job`` (``act``) — tell an owner that an AI edit of their picture was caught;
* ``notify_local_job`` (``act``) — the home side of a notification a peer forwarded;
* ``publish_consent_job`` / ``apply_received_job`` (``sync``) — our records out, peers' in;
* ``post_deleted_job`` (``default``) — a post the stream says is gone leaves protection.
"""

from __future__ import annotations

from typing import Any

from plugin.consent.choices import publish_now
from plugin.consent.deletions import post_deleted
from plugin.consent.notify import direct_message, message, notify_owner
from plugin.consent.reconcile import reconcile_deleted
from plugin.consent.registration import backfill, register_media, should_protect
from plugin.consent.remote import apply_received
from plugin.federation.context import federation
from plugin.storage.protected_store import ProtectedStore
from workers import context


def register_media_job(actor: str, status_id: str, media_id: str, url: str,
                       visibility: str | None) -> dict[str, Any]:
    svc = context.services()
    if not should_protect(svc, actor):  # the choice changed since the scan
        return {"registered": False}
    found = ProtectedStore(svc.db).scan_derivatives_get([media_id]).get(media_id) or {}
    if any(m["owner"] != actor for m in found.get("matches") or []):
        # A copy of someone else's protected picture is not protected as the poster's.
        return {"registered": False, "derivative_of": found["matches"][0]["owner"]}
    row, created = register_media(svc, actor=actor, status_id=status_id, media_id=media_id,
                                  url=url, status_visibility=visibility)
    if created and row["visibility"] == "public":
        publish_now(svc, actor)
    return {"registered": created, "id": row["id"]}


def backfill_job(actor: str, account_id: str) -> dict[str, Any]:
    svc = context.services()
    if not should_protect(svc, actor):
        return {"skipped": True}
    progress = backfill(svc, actor, account_id)
    publish_now(svc, actor)
    return {k: v for k, v in progress.items() if k != "seen"}


def notify_owner_job(finding: dict[str, Any]) -> dict[str, Any]:
    return notify_owner(context.services(), finding)


def notify_local_job(finding: dict[str, Any]) -> dict[str, Any]:
    svc = context.services()
    return {"dm": direct_message(svc, finding["owner"], message(finding))}


def publish_consent_job(actor: str) -> dict[str, Any]:
    return {"record_id": publish_now(context.services(), actor)}


def reconcile_deleted_job() -> dict[str, Any]:
    """Periodic: withdraw the pictures of deleted posts (Mastodon sends no delete webhook)."""
    return reconcile_deleted(context.services(), context.instance_client())


def apply_received_job() -> dict[str, int]:
    return apply_received(federation(context.services()))


def post_deleted_job(status_id: str) -> dict[str, Any]:
    return post_deleted(context.services(), status_id)
