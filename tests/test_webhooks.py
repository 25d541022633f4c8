"""POST /webhooks/mastodon against a real Redis: Mastodon's retry contract."""

from __future__ import annotations

import dataclasses

import pytest

from plugin.queueing import queue
from plugin.services import Services
from plugin.web.app import create_app
from tests.conftest import FIXTURES, sign

BODY = (FIXTURES / "status.created-image-1-focus-private-reply.json").read_bytes()


def post(client, body: bytes, signature: str | None = "auto"):
    headers = {"Content-Type": "application/json"}
    if signature == "auto":
        headers["X-Hub-Signature"] = sign(body)
    elif signature is not None:
        headers["X-Hub-Signature"] = signature
    return client.post("/webhooks/mastodon", data=body, headers=headers)


def test_signed_event_is_queued(client, services):
    response = post(client, BODY)
    assert response.status_code == 202
    assert response.json == {"accepted": True, "duplicate": False, "event": "status.created"}
    jobs = queue("scan", services.redis).get_jobs()
    assert len(jobs) == 1
    assert jobs[0].func_name == "workers.scan.process_event"
    assert jobs[0].args == [BODY.decode()]


def test_redelivery_is_acknowledged_but_not_queued_twice(client, services):
    assert post(client, BODY).status_code == 202
    second = post(client, BODY)
    assert second.status_code == 202 and second.json["duplicate"] is True
    assert queue("scan", services.redis).count == 1
    assert services.metrics.counters()["webhooks_duplicate"] == 1


@pytest.mark.parametrize("signature", [None, "sha256=" + "0" * 64, "md5=abc", "sha256="])
def test_bad_or_missing_signature_is_401(client, services, signature):
    response = post(client, BODY, signature)
    assert response.status_code == 401
    assert response.json["error"] == "unauthorized"
    assert queue("scan", services.redis).count == 0


def test_signature_over_a_changed_body_is_401(client):
    response = client.post("/webhooks/mastodon", data=BODY + b" ",
                           headers={"X-Hub-Signature": sign(BODY)})
    assert response.status_code == 401


def test_custom_payload_template_gets_a_clear_400(client):
    body = b'{"text": "New status from @alice"}'
    response = post(client, body)
    assert response.status_code == 400
    assert "custom payload template" in response.json["message"]


def test_unknown_event_is_400(client):
    body = b'{"event": "account.created", "created_at": "2026-01-01T00:00:00Z", "object": {}}'
    response = post(client, body)
    assert response.status_code == 400 and "account.created" in response.json["message"]


def test_oversized_body_is_413(services):
    small = Services.from_settings(dataclasses.replace(services.settings,
                                                       webhook_max_bytes=1000))
    client = create_app(services=small).test_client()
    response = post(client, BODY)
    assert response.status_code == 413
    assert queue("scan", services.redis).count == 0


def test_redis_down_is_503_never_2xx(services, tmp_path):
    dead = Services.from_settings(dataclasses.replace(
        services.settings, redis_url=f"unix://{tmp_path}/no-such.sock"))
    client = create_app(services=dead).test_client()
    response = post(client, BODY)
    assert response.status_code == 503
    assert response.headers["Retry-After"]


def test_every_recorded_status_and_report_payload_is_accepted(client, services):
    paths = [p for p in sorted(FIXTURES.glob("*.json")) + sorted((FIXTURES / "more")
             .glob("*.json")) if p.name != "manifest.json"]
    for path in paths:
        assert post(client, path.read_bytes()).status_code == 202, path.name
    assert queue("scan", services.redis).count == len(paths)
