"""``POST /webhooks/mastodon``: where Mastodon's admin webhooks arrive.

The contract with Mastodon: it signs the raw body (``X-Hub-Signature: sha256=<hex HMAC>``),
retries on 5xx/401/408/429 for about two days and drops the event on any other 4xx. So:
a bad signature is 401 (retried, in case the admin is mid-way through rotating the secret); a
payload that can never be valid is 400 (dropped, with a message saying why); 202 only once the
event is stored in Redis; 503 if it cannot be stored. Re-deliveries of the same body map to
the same job id and are acknowledged without queueing again.
"""

from __future__ import annotations

import hashlib
import hmac

from flask import Blueprint, jsonify, request
from redis.exceptions import RedisError

from plugin import redis_keys
from plugin.errors import BadRequest, PayloadTooLarge, ServiceUnavailable, Unauthorized
from plugin.mastodon.payloads import SUPPORTED_EVENTS, parse_envelope
from plugin.queueing import enqueue_unique, network_retry
from plugin.web.context import services

bp = Blueprint("webhooks", __name__)


def verify_signature(secret: str, body: bytes, header: str | None) -> None:
    if not header or not header.startswith("sha256="):
        raise Unauthorized("missing X-Hub-Signature: sha256=<hex HMAC-SHA256 of the body>")
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(header[7:].strip().lower().encode(), expected.encode()):
        raise Unauthorized("X-Hub-Signature does not match the body and the webhook secret")


@bp.post("/webhooks/mastodon")
def mastodon_webhook():
    svc = services()
    limit = svc.settings.webhook_max_bytes
    if (request.content_length or 0) > limit:
        _reject(svc)
        raise PayloadTooLarge(f"webhook body over {limit} bytes")
    body = request.get_data(cache=False)
    if len(body) > limit:
        _reject(svc)
        raise PayloadTooLarge(f"webhook body over {limit} bytes")
    secret = svc.settings.mastodon_webhook_secret
    if not secret:
        raise ServiceUnavailable("webhook secret not configured")
    try:
        verify_signature(secret, body, request.headers.get("X-Hub-Signature"))
        event = parse_envelope(body)
        if event.event not in SUPPORTED_EVENTS:
            raise BadRequest(f"event {event.event!r} is not handled; tick only "
                             f"{', '.join(SUPPORTED_EVENTS)} in Mastodon's webhook settings")
    except (Unauthorized, BadRequest):
        _reject(svc)
        raise
    key = hashlib.sha256(body).hexdigest()
    try:
        created = enqueue_unique(svc.redis, "scan", "workers.scan.process_event",
                                 body.decode(), job_id=redis_keys.event_job_id(key),
                                 retry=network_retry(svc.settings.retry_intervals))
        svc.metrics.count("webhooks_accepted" if created else "webhooks_duplicate")
    except RedisError as exc:
        raise ServiceUnavailable(f"cannot store the event now ({type(exc).__name__}); "
                                 "Mastodon will retry") from None
    return jsonify({"accepted": True, "duplicate": not created, "event": event.event}), 202


def _reject(svc) -> None:
    try:
        svc.metrics.count("webhooks_rejected")
    except RedisError:
        pass
