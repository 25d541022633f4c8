"""Webhook payload parsing, on the real recorded Mastodon payloads."""

from __future__ import annotations

import json

import pytest

from plugin.errors import BadRequest
from plugin.mastodon.payloads import parse_webhook
from tests.conftest import FIXTURES

ALL_FIXTURES = [p for p in sorted(FIXTURES.glob("*.json"))
                + sorted((FIXTURES / "more").glob("*.json")) if p.name != "manifest.json"]


@pytest.mark.parametrize("path", ALL_FIXTURES, ids=lambda p: p.name)
def test_every_recorded_payload_parses(path):
    event = parse_webhook(path.read_bytes())
    raw = json.loads(path.read_bytes())
    assert event.event == raw["event"]
    media = [m for s in event.statuses for m in s.media]
    expected = len(raw["object"].get("media_attachments") or []) if event.event.startswith(
        "status") else sum(len(s["media_attachments"]) for s in raw["object"]["statuses"])
    assert len([m for s in event.statuses if s.via in ("status", "report") for m in s.media]) \
        == expected
    assert all(m.media_id for m in media)


def test_quote_embeds_the_quoted_status():
    event = parse_webhook((FIXTURES / "status.created-quote-unlisted.json").read_bytes())
    vias = [s.via for s in event.statuses]
    assert vias == ["status", "quote"]
    assert event.statuses[1].status_id != event.statuses[0].status_id


def test_report_carries_its_statuses_and_report_id():
    event = parse_webhook((FIXTURES / "more" / "report.created-1.json").read_bytes())
    assert event.event == "report.created"
    assert [s.via for s in event.statuses] == ["report"]
    assert event.statuses[0].report_id == "1"


def test_reblog_is_scanned_as_the_boosted_status():
    body = json.loads((FIXTURES / "status.created-video-public.json").read_bytes())
    boost = {**body["object"], "id": "999", "media_attachments": [],
             "reblog": body["object"]}
    event = parse_webhook(json.dumps({**body, "object": boost}).encode())
    assert [s.via for s in event.statuses] == ["status", "reblog"]
    assert event.statuses[1].media and event.statuses[1].status_id == body["object"]["id"]


@pytest.mark.parametrize("body, message", [
    (b"not json", "not JSON"),
    (b"[1, 2]", "custom payload template"),
    (b'{"event": "status.created"}', "missing created_at, object"),
    (b'{"event": 1, "created_at": "x", "object": {}}', "must be strings"),
    (b'{"event": "status.created", "created_at": "x", "object": []}', "must be a JSON object"),
    (b"\xff\xfe", "not JSON"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
])
def test_bad_envelopes_say_what_is_wrong(body, message):
    with pytest.raises(BadRequest, match=message):
        parse_webhook(body)


def test_remote_author_domain():
    event = parse_webhook((FIXTURES / "more" / "status.created-video-remote-empty-content.json")
                          .read_bytes())
    assert event.statuses[0].account_domain is not None
