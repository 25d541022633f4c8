"""Security properties that hold across the code base, checked by walking it.

* Secrets are compared in constant time: no ``==``/``!=`` between a secret-named value and
  anything but a constant, anywhere in plugin/ or workers/ (an AST walk).
* Public endpoints are rate-limited per address: the takedown intake, consent checks, and
  the media gate when ``CONSENTRY_GATE_RATE_PER_MIN`` is set; the limiter fails open when
  Redis is down.
* Secrets never reach the logs: a full ``consentry up`` run's log is checked in
  ``test_service_up``; here every logger of a webhook and admin round trip is captured.
"""

from __future__ import annotations

import ast
import dataclasses
import logging
from pathlib import Path

import pytest

from plugin.services import Services
from plugin.web.app import create_app
from tests.conftest import ADMIN_TOKEN, WEBHOOK_SECRET, sign

ROOT = Path(__file__).resolve().parents[2]
SECRET_WORDS = ("token", "secret", "signature", "password", "digest", "mac", "csrf")


def _secret_named(node: ast.AST) -> bool:
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
            and node.value.id[:1].isupper():
        return False  # an ORM column (``BankEntry.value_digest == ...``) builds SQL
    name = node.id if isinstance(node, ast.Name) else (
        node.attr if isinstance(node, ast.Attribute) else None)
    return bool(name) and any(w in name.lower() for w in SECRET_WORDS) and not name.lower(
    ).endswith(("_type", "_types", "_kind", "_url", "_id", "_file", "_path", "_header"))


def test_secrets_are_compared_in_constant_time():
    offenders = []
    for path in [*ROOT.glob("plugin/**/*.py"), *ROOT.glob("workers/**/*.py")]:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Compare):
                continue
            if not any(isinstance(op, ast.Eq | ast.NotEq) for op in node.ops):
                continue
            sides = [node.left, *node.comparators]
            if any(isinstance(s, ast.Constant) for s in sides):
                continue  # `token == ""`, `x is None`: not a comparison of two secrets
            if any(_secret_named(s) for s in sides):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_takedown_intake_is_rate_limited_per_address(client):
    answers = [client.post("/api/v1/takedown", json={"hashes": []}).status_code
               for _ in range(21)]
    assert answers[:20] == [400] * 20 and answers[20] == 429
    other = client.post("/api/v1/takedown", json={"hashes": []},
                        environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert other.status_code == 400


def test_consent_check_is_rate_limited(services):
    services.settings = dataclasses.replace(services.settings, consent_check_rate_per_min=3)
    client = create_app(services=services).test_client()
    answers = [client.get("/api/v1/consent/check?pdq=" + "0" * 64).status_code
               for _ in range(4)]
    assert answers[:3] == [200] * 3 and answers[3] == 429


def test_gate_is_rate_limited_when_configured_and_fails_open(services, tmp_path):
    services.settings = dataclasses.replace(services.settings, gate_rate_per_min=5)
    client = create_app(services=services).test_client()
    responses = [client.get("/gate", headers={"X-Original-URI": "/media/x.jpg"})
                 for _ in range(6)]
    assert [r.status_code for r in responses] == [200] * 5 + [429]
    assert responses[-1].headers["Retry-After"] == "60"  # when to come back
    assert client.get("/gate", headers={"X-Original-URI": "/x"},
                      environ_base={"REMOTE_ADDR": "192.0.2.9"}).status_code == 200
    down = Services.from_settings(dataclasses.replace(
        services.settings, redis_url=f"unix://{tmp_path}/nothing.sock"))
    down.db = services.db
    from plugin.web.ratelimit import limit

    app = create_app(services=down)
    with app.test_request_context("/gate"):
        limit(down.redis, "gate", 1)  # no exception: Redis down means not enforced


def test_secrets_never_reach_the_logs(client, services, caplog):
    caplog.set_level(logging.DEBUG)
    body = b'{"event":"status.created","created_at":"x","object":{"id":"1"}}'
    client.post("/webhooks/mastodon", data=body, headers={"X-Hub-Signature": sign(body)})
    client.post("/webhooks/mastodon", data=body, headers={"X-Hub-Signature": "sha256=00"})
    client.get("/api/v1/scans?status_id=1", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    client.get("/api/v1/scans?status_id=1", headers={"Authorization": "Bearer wrong-token"})
    text = caplog.text + repr(services.settings.redacted())
    for secret in (WEBHOOK_SECRET, ADMIN_TOKEN, sign(body)[7:], "wrong-token"):
        assert secret not in text


@pytest.mark.parametrize("path", ["/metrics", "/readyz", "/healthz"])
def test_unauthenticated_status_pages_leak_no_secret(client, path):
    text = client.get(path).get_data(as_text=True)
    assert ADMIN_TOKEN not in text and WEBHOOK_SECRET not in text


def test_the_bare_wsgi_gate_is_rate_limited_too(services):
    from werkzeug.test import Client

    from plugin.web.gate import wsgi

    gate = Client(wsgi(dataclasses.replace(services.settings, gate_rate_per_min=3)))
    answers = [gate.get("/gate", headers={"X-Original-URI": "/media/x.jpg"},
                        environ_base={"REMOTE_ADDR": "192.0.2.10"}) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[-1].headers["Retry-After"] == "60"
    other = gate.get("/gate", headers={"X-Original-URI": "/media/x.jpg"},
                     environ_base={"REMOTE_ADDR": "192.0.2.11"})
    assert other.status_code == 200
