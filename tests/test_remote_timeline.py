"""Remote media seen through the public timeline, read from a real Mastodon-API server."""

from __future__ import annotations

import dataclasses

import pytest
from mastodon_mock.config import SeedAccount, SeedConfig
from mastodon_mock.testing import MockServer

from plugin.hashing.image_hashes import file_digests
from plugin.scheduler import periodic_jobs, tick
from plugin.storage.banks import EntryInput
from tests.conftest import corpus_photo
from workers import context
from workers.remote_timeline import poll_remote_timeline

SEED = SeedConfig(accounts=[
    SeedAccount(username="moderator", role="admin", access_token="mod"),
    SeedAccount(username="dave", domain="remote.example", access_token="dave"),
])


@pytest.fixture
def remote(worker_env, services, monkeypatch):
    server = MockServer(seed=SEED).start()
    monkeypatch.setenv("CONSENTRY_INSTANCE_URL", server.base_url)
    monkeypatch.setenv("CONSENTRY_INSTANCE_TOKEN", "mod")
    context.reset()
    yield server
    server.stop()
    context.reset()


def post_remote(server, n: int):
    dave = server.client(token="dave")
    media = dave.media_post(str(corpus_photo(n)), mime_type="image/jpeg")
    return dave.status_post(f"photo {n}", media_ids=[media])


def test_polling_scans_remote_media_once_and_acts_on_matches(remote, services):
    services.banks.bank_create("spam-bank", "spam")
    sha256, _ = file_digests(corpus_photo(9).read_bytes())
    services.banks.entries_add("spam-bank", [EntryInput("sha256", sha256)])
    first = post_remote(remote, 8)
    second = post_remote(remote, 9)

    assert poll_remote_timeline() == {"statuses": 2, "media": 2}
    assert services.scans.scans_for_status(str(first["id"]))[0]["state"] == "scanned"
    [scan] = services.scans.scans_for_status(str(second["id"]))
    assert scan["matches"][0]["bank"] == "spam-bank"
    assert poll_remote_timeline() == {"statuses": 0, "media": 0}
    third = post_remote(remote, 10)
    assert poll_remote_timeline() == {"statuses": 1, "media": 1}
    assert services.scans.scans_for_status(str(third["id"]))

    from workers.main import run_worker

    run_worker(["act"], burst=True)
    [report] = remote.client(token="mod").admin_reports()
    assert report["category"] == "spam"
    assert str(report["statuses"][0]["id"]) == str(second["id"])


def test_schedule_enqueues_each_slot_once_and_remote_polling_is_off_by_default(services):
    names = [job.name for job in periodic_jobs(services.settings)]
    assert "remote-timeline" not in names
    assert {"federation-sync", "federation-publish", "retention-purge"} <= set(names)
    on = dataclasses.replace(services, settings=dataclasses.replace(
        services.settings, remote_timeline_interval_s=60))
    assert "remote-timeline-10" in tick(on, now=600.0)
    assert "remote-timeline-10" not in tick(on, now=650.0)
    assert "remote-timeline-11" in tick(on, now=660.0)
