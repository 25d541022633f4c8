"""Withdraw protection from pictures whose post is gone.

Mastodon sends no webhook when a post is deleted, so ``reconcile_deleted`` asks the instance,
a bounded batch at a time, whether each protected picture's post still exists; a 404 or 410
withdraws that post's pictures (tombstoned, change-logged, so every matcher drops them) and
republishes the owner's consent record without them, which retracts them on every peer.

Only posts the plugin's account can see are checked: public and unlisted ones (the pictures
we share with peers). A followers-only or direct post answers 404 to an outsider whether it
exists or not, so those pictures are left alone rather than withdrawn by mistake; they stay
local and leave with the owner's account (``person_left``) or their choice.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from plugin.consent.choices import publish_now
from plugin.consent.registration import withdraw_owner
from plugin.mastodon.client import InstanceClient
from plugin.services import Services
from plugin.storage.protected_store import ProtectedStore

CURSOR_KEY = "consent.reconcile"


def reconcile_deleted(services: Services, client: InstanceClient, *,
                      batch: int = 200) -> dict[str, Any]:
    store = ProtectedStore(services.db)
    after = int((services.kv.kv_get(CURSOR_KEY) or {}).get("after_id", 0))
    limit = batch * 20
    rows = store.protected_find(origin="local", after_id=after, limit=limit)
    by_status: dict[str, list[dict[str, Any]]] = defaultdict(list)
    last_id, consumed = after, 0
    for picture in rows:
        checkable = picture.get("status_id") and picture["visibility"] == "public"
        if checkable and len(by_status) >= batch and picture["status_id"] not in by_status:
            break
        if checkable:
            by_status[picture["status_id"]].append(picture)
        last_id, consumed = picture["id"], consumed + 1
    withdrawn: dict[str, int] = defaultdict(int)
    for status_id, group in by_status.items():
        if client.status_gone(status_id):
            for owner in {p["owner"] for p in group}:
                withdrawn[owner] += withdraw_owner(services, owner, "post deleted",
                                                   status_id=status_id)
    for owner in withdrawn:
        publish_now(services, owner)  # the record without them retracts them on peers
    finished = len(rows) < limit and consumed == len(rows)  # the round reached the end
    services.kv.kv_set(CURSOR_KEY, {"after_id": 0 if finished else last_id})
    return {"checked": len(by_status), "withdrawn": sum(withdrawn.values()),
            "owners": sorted(withdrawn)}


__all__ = ["reconcile_deleted"]
