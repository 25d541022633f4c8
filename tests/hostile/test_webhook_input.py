"""Hostile webhook bodies: every field of a real payload replaced by every wrong type, deep and
odd JSON, unicode tricks. Each ends in a documented answer (202, 400, 401, 413), never a 500,
and what the endpoint accepts the worker's parser handles (``BadRequest`` or typed refs).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator

import pytest

from plugin.errors import BadRequest
from plugin.mastodon.payloads import parse_webhook
from tests.conftest import FIXTURES, sign

TEMPLATES = [json.loads(p.read_bytes()) for p in sorted(FIXTURES.glob("*.json"))][:6]
WRONG = [None, 0, -1, 2**70, 1.5e308, True, "", "\u202e\u0000\ud800".encode(
    "utf-8", "surrogatepass").decode("utf-8", "replace"), [], [1, "x"], {}, {"id": {}}]


def paths(node: object, prefix: tuple = ()) -> Iterator[tuple]:
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node[:2]):
            yield from paths(value, (*prefix, i))


def replaced(doc: dict, path: tuple, value: object) -> dict:
    out = copy.deepcopy(doc)
    node = out
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return out


def mutations() -> Iterator[bytes]:
    for template in TEMPLATES:
        for path in paths(template):
            if not path:
                continue
            for value in WRONG:
                yield json.dumps(replaced(template, path, value)).encode()


def test_every_field_with_every_wrong_type_parses_or_is_a_bad_request():
    count = 0
    for body in mutations():
        count += 1
        try:
            event = parse_webhook(body)
        except BadRequest:
            continue
        for status in event.statuses:
            assert isinstance(status.status_id, str) and status.status_id
            for media in status.media:
                assert isinstance(media.media_id, str)
                assert media.url is None or isinstance(media.url, str)
    assert count > 1000


def post(client, body: bytes, **headers: str):
    return client.post("/webhooks/mastodon", data=body,
                       headers={"X-Hub-Signature": sign(body), **headers})


@pytest.mark.parametrize("body, status", [
    (b"[" * 100_000 + b"]" * 100_000, 400),            # deep JSON, inside the size cap
    (b'{"event":"status.created","created_at":"x","object":' + b'{"a":' * 5000 + b"1"
     + b"}" * 5001, 400),                               # deep object: refused at the edge
    (b"\xef\xbb\xbf{}", 400),                           # BOM
    (b'{"event":"status.created"}\xff\xfe', 400),       # invalid UTF-8
    (b'{"event":"\\ud800","created_at":"x","object":{}}', 400),  # lone surrogate: unknown event
    (b'{"event":"status.created","event":"report.created","created_at":"x","object":{}}', 202),
    (b"NaN", 400), (b"", 400), (b"null", 400), (b'"status.created"', 400),
    (b'{"event":"account.created","created_at":"x","object":{}}', 400),  # unknown event
    (b'{"event":"status.created","created_at":"x","object":[]}', 400),
])
def test_odd_bodies_get_a_documented_answer(client, body, status):
    response = post(client, body)
    assert response.status_code == status, response.json
    if status != 202:
        assert response.json["error"] in ("bad_request",) and response.json["message"]
    else:
        try:
            parse_webhook(body)
        except BadRequest:
            pass  # the worker refuses it the same way


def test_a_signature_for_another_body_or_secret_never_passes(client):
    body = json.dumps(TEMPLATES[0]).encode()
    for header in (sign(body + b" "), sign(body, "other"), sign(body).upper(),
                   "sha1=" + sign(body)[7:], sign(body)[:-1], "sha256=", "sha256=" + "0" * 64,
                   sign(body) + "\u00e9"):
        response = client.post("/webhooks/mastodon", data=body,
                               headers={"X-Hub-Signature": header.encode("utf-8").decode(
                                   "latin-1")})
        assert response.status_code == 401, header
