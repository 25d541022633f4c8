"""Redis stops while webhooks keep arriving: 503 while it cannot store, nothing accepted lost.

The Redis is the embedded one ``consentry up`` runs (``plugin.embedded_redis``, AOF with
``appendfsync everysec``), in its own directory. 1,200 distinct signed webhooks arrive at the
real app; Redis is shut down part-way, then killed with SIGKILL after a restart; every delivery
answered 503 is retried afterwards the way Mastodon retries. At the end every one of the 1,200
events is a queued scan job, none twice.
"""

from __future__ import annotations

import json
import signal
import time

from redis import Redis

from plugin.embedded_redis import EmbeddedRedis
from plugin.queueing import queue
from plugin.services import Services
from plugin.web.app import create_app
from tests.conftest import make_settings, sign

EVENTS = 1200


def body(i: int) -> bytes:
    return json.dumps({"event": "status.created", "created_at": "2026-01-01T00:00:00Z",
                       "object": {"id": str(i), "media_attachments": []}}).encode()


def deliver(client, i: int) -> int:
    data = body(i)
    return client.post("/webhooks/mastodon", data=data,
                       headers={"X-Hub-Signature": sign(data)}).status_code


def test_redis_outage_answers_503_and_loses_nothing(tmp_path):
    redis_dir = tmp_path / "redis"
    server = EmbeddedRedis(redis_dir)  # appendonly by default, as in `consentry up`
    url = server.start()
    try:
        probe = Redis.from_url(url)
        assert probe.config_get("appendonly")["appendonly"] == "yes"
        assert probe.config_get("appendfsync")["appendfsync"] == "everysec"
        settings = make_settings(tmp_path, url, f"sqlite:///{tmp_path / 'c.db'}")
        client = create_app(services=Services.from_settings(settings)).test_client()
        answers: dict[int, int] = {}
        for i in range(400):
            answers[i] = deliver(client, i)
        server.stop()  # SIGTERM: Redis stops, as during a restart or an upgrade
        started = time.monotonic()
        for i in range(400, 800):
            answers[i] = deliver(client, i)
        outage_s = time.monotonic() - started
        server = EmbeddedRedis(redis_dir)
        server.start()
        for i in range(800, EVENTS):
            answers[i] = deliver(client, i)
        time.sleep(1.5)  # appendfsync everysec: what was acknowledged a second ago is on disk
        server.process.send_signal(signal.SIGKILL)  # a crash this time
        server.process.wait()
        server = EmbeddedRedis(redis_dir)
        server.start()

        assert {answers[i] for i in range(400)} == {202}
        assert {answers[i] for i in range(400, 800)} == {503}
        assert {answers[i] for i in range(800, EVENTS)} == {202}
        assert outage_s < 60  # 503s are immediate, not a hang per request
        retried = {i: deliver(client, i) for i, code in answers.items() if code == 503}
        assert set(retried.values()) == {202}
        jobs = queue("scan", Redis.from_url(url)).get_job_ids()
        assert len(jobs) == len(set(jobs)) == EVENTS
        assert all(deliver(client, i) == 202 for i in (0, 500, 1100))  # replays: duplicates
        assert len(queue("scan", Redis.from_url(url)).get_job_ids()) == EVENTS
    finally:
        server.stop()
