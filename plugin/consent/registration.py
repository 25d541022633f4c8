"""Protecting a person's pictures: new posts (from the scan pipeline) and the backfill.

Who is protected: local people whose effective choice is ``not_allowed`` or ``ask`` (the
instance default counts for people who never chose). What is protected: every image of
their statuses; ``public`` and ``unlisted`` statuses give ``public`` protected pictures
(their hashes go to peers), ``private`` and ``direct`` ones stay ``local``.

The backfill walks the person's statuses with media through the Mastodon API
(``GET /api/v1/accounts/:id/statuses?only_media=true``, newest first, ``max_id`` paging).
Its cursor and counts live in ``kv`` after every page, so a killed job resumes where it
stopped and the consent page can show progress. Withdrawal tombstones the pictures here;
the next consent record (or a tombstone) withdraws them on peers.
"""

from __future__ import annotations

import hashlib
from typing import Any

import requests

from plugin.consent.actors import is_local
from plugin.errors import ConfigError, MediaError, TransientError
from plugin.media.fetch import FetchPolicy, fetch_media
from plugin.protection.register import register_bytes
from plugin.services import Services
from plugin.storage.consent_store import ConsentStore
from plugin.storage.protected_store import ProtectedStore

PROTECTIVE = ("not_allowed", "ask")
PAGE = 40


def consent_store(services: Services) -> ConsentStore:
    return ConsentStore(services.db, services.settings.consent_default)


def should_protect(services: Services, actor: str) -> bool:
    try:
        if not is_local(services.settings, actor):
            return False
    except ConfigError:  # no federation domain: we cannot name our people
        return False
    row = consent_store(services).consent_get(actor)
    if row is not None and row["left_at"]:
        return False
    choice, _ = consent_store(services).consent_effective(actor)
    return choice in PROTECTIVE


def shared_visibility(status_visibility: str | None) -> str:
    return "public" if status_visibility in ("public", "unlisted", None) else "local"


def register_media(services: Services, *, actor: str, status_id: str, media_id: str,
                   url: str, status_visibility: str | None,
                   data: bytes | None = None) -> tuple[dict[str, Any], bool]:
    s = services.settings
    if data is None:
        data = fetch_media(url, FetchPolicy.from_settings(s)).data
    return register_bytes(ProtectedStore(services.db), data, owner=actor,
                          source=f"status:{status_id}/media:{media_id}",
                          max_pixels=s.media_max_pixels, status_id=status_id,
                          media_id=media_id, visibility=shared_visibility(status_visibility))


def withdraw_owner(services: Services, actor: str, reason: str, *,
                   status_id: str | None = None) -> int:
    store = ProtectedStore(services.db)
    ids = [p["id"] for p in store.protected_find(owner=actor, status_id=status_id,
                                                  origin="local")]
    return store.protected_remove(ids, reason)


def _progress_key(actor: str) -> str:
    return "consent.backfill:" + hashlib.sha256(actor.encode()).hexdigest()


def backfill_progress(services: Services, actor: str) -> dict[str, Any] | None:
    return services.kv.kv_get(_progress_key(actor))


def backfill(services: Services, actor: str, account_id: str, *, max_pages: int = 1000,
             restart: bool = False) -> dict[str, Any]:
    """Register every image of the person's statuses; resumable; returns the progress."""
    s = services.settings
    if not s.instance_url or not s.instance_token:
        raise ConfigError("the backfill needs CONSENTRY_INSTANCE_URL and CONSENTRY_INSTANCE_TOKEN")
    key = _progress_key(actor)
    progress = (None if restart else services.kv.kv_get(key)) or {
        "actor": actor, "cursor": None, "statuses": 0, "pictures": 0, "errors": 0,
        "done": False}
    if progress["done"] and not restart:
        progress = {**progress, "cursor": None, "done": False}
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {s.instance_token}"
    for _ in range(max_pages):
        params: dict[str, Any] = {"only_media": "true", "limit": PAGE}
        if progress["cursor"]:
            params["max_id"] = progress["cursor"]
        try:
            response = http.get(f"{s.instance_url}/api/v1/accounts/{account_id}/statuses",
                                params=params, timeout=s.media_timeout_s)
        except requests.RequestException as exc:
            raise TransientError(f"backfill: instance unavailable: {exc}") from None
        if response.status_code in (408, 429) or response.status_code >= 500:
            raise TransientError(f"backfill: instance answered {response.status_code}")
        if response.status_code == 404:  # the account is gone: the person left
            progress["done"] = True
            break
        response.raise_for_status()
        statuses = response.json()
        if not statuses:
            progress["done"] = True
            break
        for status in statuses:
            progress["statuses"] += 1
            for media in status.get("media_attachments") or []:
                if media.get("type") != "image" or not media.get("url"):
                    continue
                try:
                    _, created = register_media(
                        services, actor=actor, status_id=str(status["id"]),
                        media_id=str(media["id"]), url=media["url"],
                        status_visibility=status.get("visibility"))
                    progress["pictures"] += int(created)
                except MediaError:
                    progress["errors"] += 1
        progress["cursor"] = str(statuses[-1]["id"])
        services.kv.kv_set(key, progress)
    services.kv.kv_set(key, progress)
    return progress
