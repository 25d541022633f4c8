"""A deleted public post leaves protection as the instance's stream announces it.

mastodon-mock serves Mastodon's streaming API (server-sent events): alice deletes her post,
the ``public:local`` stream carries the ``delete`` event, the watcher queues the job, a real
worker withdraws the post's protected pictures and audits it; a post of nobody's protected
pictures changes nothing.
"""

from __future__ import annotations

import dataclasses
import threading
import time

import pytest

from plugin.consent.deletions import watch_deletions
from plugin.protection.register import register_bytes
from plugin.queueing import queue
from plugin.services import Services
from plugin.storage.protected_store import ProtectedStore
from tests.conftest import corpus_photo
from tests.support.mastodon_server import MODERATOR_TOKEN, start_mastodon
from workers import context
from workers.main import run_worker

OWNER = "https://home.test/users/alice"


@pytest.fixture
def stream_setup(worker_env, services, monkeypatch):
    mastodon = start_mastodon()
    monkeypatch.setenv("CONSENTRY_INSTANCE_URL", mastodon.base_url)
    monkeypatch.setenv("CONSENTRY_INSTANCE_TOKEN", MODERATOR_TOKEN)
    monkeypatch.setenv("CONSENTRY_FEDERATION_DOMAIN", "home.test")
    context.reset()
    svc = Services.from_settings(dataclasses.replace(
        services.settings, instance_url=mastodon.base_url, instance_token=MODERATOR_TOKEN,
        federation_domain="home.test"))
    stop = threading.Event()
    watcher = threading.Thread(target=watch_deletions, args=(svc, stop), daemon=True)
    watcher.start()
    try:
        yield svc, mastodon.client("alice")
    finally:
        stop.set()
        watcher.join(10)
        mastodon.stop()


def _queued(svc: Services, status_id: str) -> bool:
    return f"consent-post-deleted-{status_id}" in queue("default", svc.redis).job_ids


def _wait_until_streaming(svc: Services, alice) -> None:
    """Post and delete probes until one's deletion arrives: the stream is then connected."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        probe = alice.status_post("probe")
        alice.status_delete(probe["id"])
        for _ in range(20):
            if _queued(svc, str(probe["id"])):
                return
            time.sleep(0.05)
    raise AssertionError("the deletion stream never connected")


def test_a_deleted_post_leaves_protection(stream_setup):
    svc, alice = stream_setup
    store = ProtectedStore(svc.db)
    kept, deleted = alice.status_post("kept"), alice.status_post("to delete")
    for n, status in enumerate((kept, deleted)):
        register_bytes(store, corpus_photo(n + 1).read_bytes(), owner=OWNER,
                       source=f"status:{status['id']}/media:{n}", max_pixels=50_000_000,
                       status_id=str(status["id"]), visibility="public")
    _wait_until_streaming(svc, alice)

    alice.status_delete(deleted["id"])
    deadline = time.monotonic() + 10
    while not _queued(svc, str(deleted["id"])):
        assert time.monotonic() < deadline, "the delete event was not queued"
        time.sleep(0.05)
    run_worker(["default"], burst=True)

    live = store.protected_find(owner=OWNER)
    assert [p["status_id"] for p in live] == [str(kept["id"])]
    [gone] = [p for p in store.protected_find(owner=OWNER, live=False)
              if p["status_id"] == str(deleted["id"])]
    assert gone["removed_reason"] == "post deleted"
    [record] = svc.audit.audit_list(action="consent.post_deleted")
    assert record["subject"] == OWNER and record["detail"]["withdrawn"] == 1


def test_an_unreachable_instance_is_retried_not_fatal(services):
    """Under ``consentry up`` an exit would be restarted every second: back off instead."""
    from tests.support.loopback import free_port

    svc = Services.from_settings(dataclasses.replace(
        services.settings, instance_url=f"http://127.0.0.1:{free_port()}",
        instance_token=MODERATOR_TOKEN))
    stop = threading.Event()
    watcher = threading.Thread(target=watch_deletions, args=(svc, stop), daemon=True)
    watcher.start()
    time.sleep(1.0)
    assert watcher.is_alive()  # retrying (ours or Mastodon.py's reconnect), not exited
    stop.set()
    watcher.join(10)
    assert not watcher.is_alive()
