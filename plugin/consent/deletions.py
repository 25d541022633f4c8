"""Noticing deleted posts as Mastodon announces them: the local public stream.

Mastodon sends no webhook when a post is deleted, but its streaming API announces the deletion
of every public post on the ``public:local`` stream (a ``delete`` event whose payload is the
status id). ``watch_deletions`` holds that stream open with the plugin's token and queues
``post_deleted`` for each id (the ``default`` queue, one job per status: durable and retried);
``post_deleted`` withdraws the pictures of that post, if it had protected ones, and republishes
the owner's consent record without them, which retracts them on every peer within seconds.

What the stream does not carry — unlisted posts, and any deletion made while the stream was
down — the periodic reconciliation (``plugin.consent.reconcile``) still finds; followers-only
and direct posts are the person's to withdraw on the consent page.

``consentry watch`` runs the watcher; ``consentry up`` starts it when the instance is
configured. Mastodon.py keeps (re)connecting on its own, every 5 s, whether the stream drops
or the instance was down at start, so the watcher does not exit in a loop under the
supervisor.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from mastodon import Mastodon, StreamListener

from plugin import __version__
from plugin.consent.choices import publish_now
from plugin.consent.registration import withdraw_owner
from plugin.errors import ConfigError
from plugin.queueing import enqueue_unique
from plugin.services import Services
from plugin.storage.protected_store import ProtectedStore

__all__ = ["post_deleted", "watch_deletions"]

log = logging.getLogger(__name__)
RECONNECT_S = 5


def post_deleted(services: Services, status_id: str) -> dict[str, Any]:
    """Withdraw the protected pictures of a deleted post; idempotent."""
    pictures = ProtectedStore(services.db).protected_find(status_id=status_id, origin="local")
    withdrawn: dict[str, int] = {}
    for owner in sorted({p["owner"] for p in pictures}):
        withdrawn[owner] = withdraw_owner(services, owner, "post deleted", status_id=status_id)
        if withdrawn[owner]:
            publish_now(services, owner)  # the record without them retracts them on peers
            services.audit.audit_append(
                actor="mastodon-stream", action="consent.post_deleted", subject=owner,
                outcome="done", detail={"status_id": status_id, "withdrawn": withdrawn[owner]})
    return {"status_id": status_id, "withdrawn": sum(withdrawn.values())}


class _DeletionListener(StreamListener):
    def __init__(self, services: Services) -> None:
        super().__init__()
        self.services = services

    def on_delete(self, status_id: Any) -> None:
        status_id = str(status_id)
        enqueue_unique(self.services.redis, "default", "workers.consent.post_deleted_job",
                       status_id, job_id=f"consent-post-deleted-{status_id}")

    def on_abort(self, err: Exception) -> None:
        log.warning("deletion stream dropped (%s); reconnecting in %s s", err, RECONNECT_S)


def watch_deletions(services: Services, stop: threading.Event) -> None:
    """Follow the local public stream until *stop* is set."""
    settings = services.settings
    if not settings.instance_url or not settings.instance_token:
        raise ConfigError("watching deletions needs CONSENTRY_INSTANCE_URL and _TOKEN")
    api = Mastodon(access_token=settings.instance_token, api_base_url=settings.instance_url,
                   version_check_mode="none", user_agent=f"Consentry/{__version__}")
    handle = api.stream_public(_DeletionListener(services), local=True, run_async=True,
                               reconnect_async=True, reconnect_async_wait_sec=RECONNECT_S)
    try:
        stop.wait()
    finally:
        handle.close()
