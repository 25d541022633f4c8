"""The Mastodon API down, answering 503, 429 or resetting connections for a while: actions
wait and are delivered once it returns, in order (report before the account action that
cites it), exactly once.

A real ``consentry worker`` process talks to mastodon-mock through ``FlakyProxy``; retries use
``CONSENTRY_RETRY_INTERVALS`` (short here, about two days by default).
"""

from __future__ import annotations

import time

import pytest
from PIL import Image

from plugin.hashing.image_hashes import pdq_of
from plugin.queueing import queue
from plugin.services import Services
from plugin.storage.banks import EntryInput
from plugin.web.app import create_app
from tests.conftest import corpus_photo, make_settings, sign
from tests.reliability.support import FlakyProxy, spawn_worker, stop, worker_env
from tests.support.loopback import wait_for
from tests.support.mastodon_server import MODERATOR_TOKEN, start_mastodon
from tests.test_pipeline import webhook_body

pytestmark = pytest.mark.slow
POLICY = '[category.ncii]\nactions = ["report", "silence"]\nreport_category = "legal"\n'


def test_actions_wait_for_the_instance_and_land_once_in_order(tmp_path, redis_url,
                                                               media_server):
    mastodon = start_mastodon()
    proxy = FlakyProxy(mastodon.base_url.rstrip("/"))
    (tmp_path / "policy.toml").write_text(POLICY)
    settings = make_settings(tmp_path, redis_url, f"sqlite:///{tmp_path / 'c.db'}",
                             instance_url=proxy.base_url, instance_token=MODERATOR_TOKEN)
    services = Services.from_settings(settings)
    services.db.migrate()
    services.banks.bank_create("ncii-test", "ncii")
    photos = [corpus_photo(n) for n in (1, 3, 5)]
    services.banks.entries_add("ncii-test", [
        EntryInput("pdq", pdq_of(Image.open(p).convert("RGB"))[0][0]) for p in photos])
    client = create_app(services=services).test_client()
    alice = mastodon.client("alice")
    env = worker_env(settings, CONSENTRY_RETRY_INTERVALS="1,1,1,1,1,1,1,1,1,1",
                     CONSENTRY_POLICY=str(tmp_path / "policy.toml"))
    proxy.mode = "503"
    worker = spawn_worker(env, ["scan", "act"], tmp_path / "worker.log")
    try:
        statuses = []
        for i, photo in enumerate(photos):
            status = alice.status_post(f"picture {i}")
            statuses.append(str(status["id"]))
            body = webhook_body(status, [(str(4000 + i), media_server.url(photo.name))])
            assert client.post("/webhooks/mastodon", data=body,
                               headers={"X-Hub-Signature": sign(body)}).status_code == 202
        for mode in ("503", "429", "reset"):  # ~2 s of each failure
            proxy.mode = mode
            time.sleep(2)
        assert proxy.forwarded == []
        refused_while_down = proxy.refused
        assert refused_while_down >= 3
        assert all(a["state"] == "pending" for a in services.actions.actions_list())
        proxy.mode = "up"
        wait_for(lambda: not services.actions.actions_list(state="pending"), timeout=60)
        assert [a["error"] for a in services.actions.actions_list() if a["state"] != "done"] == []
        time.sleep(2.5)  # any duplicate retry would land now
    finally:
        stop(worker)
        proxy.stop()

    try:
        posts = [(path, body) for method, path, body in proxy.forwarded if method == "POST"]
        reports = [p for p in posts if p[0] == "/api/v1/reports"]
        account_actions = [p for p in posts if p[0].startswith("/api/v1/admin/accounts/")]
        # one report per status; one silence for alice's account (keyed by account)
        assert len(reports) == 3 and len(account_actions) == 1, posts
        for status_id in statuses:
            assert sum(status_id.encode() in body for _, body in reports) == 1
        [silence] = [a for a in services.actions.actions_list() if a["kind"] == "silence"]
        cited = silence["result"]["report_id"]
        report_at = next(i for i, (path, body) in enumerate(posts)
                         if path == "/api/v1/reports"
                         and any(r["result"]["report_id"] == cited and
                                 r["params"]["status_ids"][0].encode() in body
                                 for r in services.actions.actions_list()
                                 if r["kind"] == "report"))
        assert report_at < posts.index(account_actions[0])  # the report it cites came first
        assert cited.encode() in account_actions[0][1]
        moderator = mastodon.client(token=MODERATOR_TOKEN)  # the silence resolved one report
        assert len(moderator.admin_reports()) + len(moderator.admin_reports(resolved=True)) == 3
        assert queue("act", services.redis).failed_job_registry.count == 0
    finally:
        services.db.dispose()
        mastodon.stop()

