"""Changing a person's choice, and everything that follows from it at once.

``change_choice`` records the choice and its history row, then, in the same request:
``allowed`` tombstones the person's protected pictures here (the matcher in every worker
drops them on its next refresh, within about a second); ``not_allowed``/``ask`` queue the
backfill of their existing pictures. Either way a new signed consent record replaces the
previous one in our feed and peers are nudged, so they apply it within seconds (the periodic
sync is the fallback, well inside a minute). ``withdraw_picture`` does the same for one
picture the person no longer wants protected.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from plugin.consent.records import publish_consent, tombstone_consent
from plugin.consent.registration import PROTECTIVE, consent_store, withdraw_owner
from plugin.errors import ConfigError, NotFound
from plugin.queueing import enqueue_unique
from plugin.services import Services
from plugin.storage.protected_store import ProtectedStore

log = logging.getLogger(__name__)


def change_choice(services: Services, actor: str, choice: str, *, via: str,
                  account_id: str | None = None, acct: str | None = None) -> dict[str, Any]:
    store = consent_store(services)
    row, previous = store.consent_set(actor, choice, via=via, account_id=account_id, acct=acct)
    withdrawn = 0
    if choice not in PROTECTIVE:
        withdrawn = withdraw_owner(services, actor, f"owner chose {choice} ({via})")
    elif account_id:
        enqueue_unique(services.redis, "default", "workers.consent.backfill_job", actor,
                       account_id, job_id=f"consent-backfill-{account_id}-{int(time.time())}",
                       timeout=3600)
    record_id = publish_now(services, actor, choice)
    return {**row, "previous": previous, "withdrawn": withdrawn, "record_id": record_id}


def publish_now(services: Services, actor: str, choice: str | None = None) -> str | None:
    """Publish the person's current record and nudge peers; None without federation."""
    if choice is None:
        choice, _ = consent_store(services).consent_effective(actor)
    try:
        record_id = publish_consent(services, actor, choice, time.time())
    except ConfigError as exc:  # federation not configured on this instance
        log.info("consent record not published: %s", exc.message)
        return None
    nudge(services, record_id)
    return record_id


def withdraw_picture(services: Services, actor: str, picture_id: int) -> dict[str, Any]:
    """The person stops protecting one of their pictures (say, a followers-only post they
    deleted: Mastodon tells nobody, and an outsider cannot see whether it still exists).

    Only the owner's own live, local pictures; a public one leaves the next consent record,
    which retracts it on every peer."""
    store = ProtectedStore(services.db)
    try:
        picture = store.protected_get(picture_id)
    except NotFound:
        picture = None
    if picture is None or picture["owner"] != actor or picture["origin"] != "local" \
            or picture["removed_at"]:
        raise NotFound("no such protected picture of yours")
    store.protected_remove([picture_id], "withdrawn by its owner")
    services.audit.audit_append(actor=actor, action="consent.withdraw_picture",
                                subject=f"protected:{picture_id}", outcome="done",
                                detail={"status_id": picture["status_id"],
                                        "visibility": picture["visibility"]})
    record_id = publish_now(services, actor) if picture["visibility"] == "public" else None
    return {"withdrawn": picture_id, "record_id": record_id}


def person_left(services: Services, actor: str) -> dict[str, Any]:
    """The account is gone: stop protecting, tombstone the record everywhere."""
    consent_store(services).consent_left(actor)
    withdrawn = withdraw_owner(services, actor, "owner left the instance")
    try:
        record_id = tombstone_consent(services, actor, "account deleted")
    except ConfigError:
        record_id = None
    if record_id:
        nudge(services, record_id)
    return {"withdrawn": withdrawn, "tombstone": record_id}


def nudge(services: Services, record_id: str) -> None:
    enqueue_unique(services.redis, "sync", "workers.sync.nudge_peers_job",
                   job_id=f"consent-nudge-{record_id}", timeout=120)
