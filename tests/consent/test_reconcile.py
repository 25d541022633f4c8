"""Deleted posts lose their protection, found by asking a real Mastodon-API server."""

from __future__ import annotations

import pytest

from plugin.consent.reconcile import reconcile_deleted
from plugin.mastodon.client import InstanceClient
from plugin.protection.register import register_bytes
from plugin.storage.protected_store import ProtectedStore
from tests.conftest import corpus_photo
from tests.support.mastodon_server import MODERATOR_TOKEN, start_mastodon


@pytest.fixture
def mastodon():
    server = start_mastodon()
    yield server
    server.stop()


def protect(store: ProtectedStore, owner: str, status: dict, n: int, visibility: str) -> dict:
    row, _ = register_bytes(store, corpus_photo(n).read_bytes(), owner=owner,
                            source=f"status:{status['id']}/media:{n}", max_pixels=50_000_000,
                            status_id=str(status["id"]), media_id=str(n),
                            visibility=visibility)
    return row


def test_pictures_of_deleted_public_posts_are_withdrawn(services, mastodon):
    from plugin.federation.context import federation

    owner = f"https://{federation(services).domain}/users/alice"  # records speak for locals
    alice = mastodon.client("alice")
    kept = alice.status_post("still here")
    deleted = alice.status_post("soon gone")
    private = alice.status_post("for friends", visibility="private")
    store = ProtectedStore(services.db)
    protect(store, owner, kept, 3, "public")
    protect(store, owner, deleted, 5, "public")
    protect(store, owner, private, 7, "local")
    alice.status_delete(deleted["id"])

    client = InstanceClient(mastodon.base_url, MODERATOR_TOKEN)
    report = reconcile_deleted(services, client, batch=1)  # one post per run: cursor moves
    report2 = reconcile_deleted(services, client, batch=1)
    assert report["checked"] == report2["checked"] == 1
    assert report["withdrawn"] + report2["withdrawn"] == 1
    live = {p["status_id"] for p in store.protected_find(owner=owner)}
    assert live == {str(kept["id"]), str(private["id"])}  # followers-only is never guessed
    removed = store.protected_find(owner=owner, status_id=str(deleted["id"]), live=False)
    assert removed[0]["removed_reason"] == "post deleted"
