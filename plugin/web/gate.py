"""``GET /gate``: the answer nginx's ``auth_request`` asks before serving a media file.

nginx passes the path it is about to serve (``X-Original-URI``); we answer 200 (serve) or 403
(refuse) from the Redis refusal index (``plugin.review.gate_index``) — one round trip, no SQL,
so a matched picture, local or cached remote, stops being served the moment its review
item opens, without waiting for anyone to act in Mastodon. nginx's ``auth_request`` only
passes 2xx/401/403 through, so the legal reason travels in ``X-Consentry-Status: 451`` and
``docs/nginx.md`` turns it into a 451 for the client.

If the index was lost (Redis flushed), the first request rebuilds it from SQL. If Redis is
down, ``CONSENTRY_GATE_FAIL_OPEN`` (default on) serves rather than breaking every picture
on the instance; the outage is logged. ``CONSENTRY_GATE_TOKEN``, when set, must arrive in
``X-Consentry-Gate-Token``. ``wsgi()`` is the same gate as a bare WSGI app
(``gunicorn 'plugin.web.gate:wsgi()'``). Both ask Redis on every request; the dedicated gate
process (``consentry gate``, ``plugin.gate``) gives the same answers from an in-process copy
of the index and is the one to put behind a busy nginx (``bench/gate.py`` measures all three).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Iterable
from typing import Any

from flask import Blueprint, Response, request
from redis import Redis
from redis.exceptions import RedisError

from plugin.errors import RateLimited
from plugin.review.gate_index import GateIndex, verdict
from plugin.settings import Settings
from plugin.storage.database import Database
from plugin.storage.review_store import ReviewStore
from plugin.web.context import services
from plugin.web.ratelimit import WINDOW_S, hit, limit

log = logging.getLogger(__name__)
bp = Blueprint("gate", __name__)


def gate_answer(redis: Redis, db: Database, uri: str, *, fail_open: bool) -> tuple[int, str]:
    """(HTTP status for nginx, X-Consentry-Status)."""
    index = GateIndex(redis)
    try:
        reason, built = index.lookup(uri)
        if not built:
            index.rebuild(ReviewStore(db).refused_media())
            reason, _ = index.lookup(uri)
    except RedisError as exc:
        log.warning("gate: redis unavailable (%s); %s", exc,
                    "serving" if fail_open else "refusing")
        return (200, "200") if fail_open else (403, "503")
    return verdict(reason)


def _token_ok(expected: str | None, sent: str | None) -> bool:
    return not expected or hmac.compare_digest((sent or "").encode(), expected.encode())


@bp.get("/gate")
def gate():
    svc = services()
    if not _token_ok(svc.settings.gate_token, request.headers.get("X-Consentry-Gate-Token")):
        return Response(status=401)
    limit(svc.redis, "gate", svc.settings.gate_rate_per_min)
    uri = request.headers.get("X-Original-URI") or request.args.get("uri") or ""
    status, reason = gate_answer(svc.redis, svc.db, uri, fail_open=svc.settings.gate_fail_open)
    return Response(status=status, headers={"X-Consentry-Status": reason,
                                            "Cache-Control": "no-store"})


def wsgi(settings: Settings | None = None) -> Callable[..., Iterable[bytes]]:
    from plugin.services import Services

    svc = Services.from_settings(settings or Settings.from_env())
    redis, db = svc.redis, svc.db
    token, fail_open = svc.settings.gate_token, svc.settings.gate_fail_open
    per_minute = svc.settings.gate_rate_per_min
    texts = {200: "200 OK", 401: "401 Unauthorized", 403: "403 Forbidden"}

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not _token_ok(token, environ.get("HTTP_X_CONSENTRY_GATE_TOKEN")):
            start_response(texts[401], [("Content-Length", "0")])
            return [b""]
        try:  # the same per-address limit as the app route
            hit(redis, "gate", environ.get("REMOTE_ADDR") or "?", per_minute)
        except RateLimited:
            start_response("429 Too Many Requests",
                           [("Content-Length", "0"), ("Retry-After", str(WINDOW_S))])
            return [b""]
        except RedisError:
            pass  # fails open, as the app route does
        uri = environ.get("HTTP_X_ORIGINAL_URI") or ""
        status, reason = gate_answer(redis, db, uri, fail_open=fail_open)
        start_response(texts[status], [("Content-Length", "0"),
                                       ("X-Consentry-Status", reason)])
        return [b""]

    return app
