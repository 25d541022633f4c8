"""Admin API authentication, health and metrics endpoints."""

from __future__ import annotations

import re

from rq import SimpleWorker

from plugin.queueing import queue
from tests.conftest import ADMIN_TOKEN

# Routes anyone may reach; each has its own gate (HMAC, HTTP signatures, an API key, a
# gate token) or is public by design (health, the takedown form, the OpenAPI document).
PUBLIC = re.compile(r"^/(healthz|readyz|metrics|webhooks/mastodon|\.well-known/consentry|"
                    r"federation/v1/|v1/detect-images|api/v1/openapi\.json|api/v1/takedown|"
                    r"api/v1/consent/check|"
                    r"takedown|gate|review/login|review/logout|static/|review/static/|"
                    r"consent)")


def test_every_other_route_refuses_anonymous_callers(app, client):
    checked = 0
    for rule in app.url_map.iter_rules():
        if PUBLIC.match(rule.rule):
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", "1", rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for headers in ({}, {"Authorization": "Bearer wrong"},
                            {"Authorization": f"Basic {ADMIN_TOKEN}"}):
                response = client.open(path, method=method, headers=headers)
                if rule.rule.startswith("/api/"):
                    assert response.status_code == 401, (method, path, headers)
                    assert response.headers["WWW-Authenticate"].startswith("Bearer")
                else:  # moderator pages: sign-in first
                    assert response.status_code in (302, 401, 403), (method, path)
                    if response.status_code == 302:
                        assert "/review/login" in response.headers["Location"]
            checked += 1
    assert checked >= 30


def test_scans_needs_a_status_id(client):
    response = client.get("/api/v1/scans", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert response.status_code == 400 and "status_id" in response.json["message"]


def test_audit_paging_validates_arguments(client):
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    assert client.get("/api/v1/audit?limit=0", headers=auth).status_code == 400
    assert client.get("/api/v1/audit?before=x", headers=auth).status_code == 400
    assert client.get("/api/v1/audit?limit=5", headers=auth).json == {"records": [],
                                                                      "next": None}


def test_readiness_needs_a_live_worker(client, services):
    assert client.get("/healthz").status_code == 200
    not_ready = client.get("/readyz")
    assert not_ready.status_code == 503 and not_ready.json["checks"]["workers"] == 0
    worker = SimpleWorker([queue("scan", services.redis)], connection=services.redis)
    worker.register_birth()
    worker.heartbeat()
    try:
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json["checks"] == {
            "redis": True, "database": True, "workers": 1}
    finally:
        worker.register_death()


def test_metrics_render_shared_counters(client, services):
    services.metrics.count("webhooks_accepted", 3)
    services.metrics.observe_ms("scan", 42)
    body = client.get("/metrics").get_data(as_text=True)
    assert "consentry_webhooks_accepted_total 3.0" in body
    assert 'consentry_scan_seconds_bucket{le="0.05"} 1.0' in body
    assert 'consentry_queue_depth{queue="scan"} 0.0' in body
