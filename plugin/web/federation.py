"""Federation over HTTP: discovery, the signed peer endpoints, and the admin peers API.

* ``GET /.well-known/consentry`` — our discovery document (unsigned, cacheable).
* ``POST|DELETE /federation/v1/pair``, ``GET /federation/v1/changes``,
  ``POST /federation/v1/nudge`` — RFC 9421-signed requests; every response of these is signed
  too. The caller is identified by its verified ``keyid``; only active peers get the feed.
* ``/api/v1/peers…`` — the admin side (bearer token), mirrored by ``consentry peers``.

``@target-uri`` is rebuilt as the client addressed it: from ``X-Forwarded-Proto``/``-Host``
only when ``CONSENTRY_FEDERATION_TRUST_FORWARDED=1``, else from ``CONSENTRY_PUBLIC_URL``'s
origin when set, else from the request itself; the path and query are the raw request-target.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote, urlsplit

from flask import Blueprint, Response, jsonify, request

from plugin.errors import BadRequest
from plugin.federation.changelog import changes_page, publish_bank_changes
from plugin.federation.context import Federation, federation, redis_key
from plugin.federation.errors import (
    InvalidRequest,
    NotPaired,
    PeerRateLimited,
    UnknownKey,
)
from plugin.federation.http_signatures import sign_response, verify_request
from plugin.federation.identity import parse_key_url
from plugin.federation.ids import is_uuid7
from plugin.federation.jcs import loads as strict_loads
from plugin.federation.wellknown import discovery_document, find_key
from plugin.web.auth import require_admin
from plugin.web.context import services

bp = Blueprint("federation", __name__)
MAX_BODY = 1 << 20


def _fed() -> Federation:
    return federation(services())


# -- peer side ---------------------------------------------------------------------------
@bp.get("/.well-known/consentry")
def well_known():
    fed = _fed()
    response = jsonify(discovery_document(fed.settings, fed.identity))
    response.headers["Cache-Control"] = "max-age=3600"
    return response


def target_uri() -> str:
    settings = services().settings
    if settings.federation_trust_forwarded:
        scheme = request.headers.get("X-Forwarded-Proto", request.scheme).split(",")[0].strip()
        host = request.headers.get("X-Forwarded-Host", request.host).split(",")[0].strip()
    elif settings.public_url:
        parts = urlsplit(settings.public_url)
        scheme, host = parts.scheme, parts.netloc
    else:
        scheme, host = request.scheme, request.host
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if not raw or not raw.startswith("/"):
        raw = quote(request.script_root + request.path)
        if request.query_string:
            raw += "?" + request.query_string.decode("latin-1")
    return f"{scheme}://{host}{raw}"


def _body() -> bytes:
    if (request.content_length or 0) > MAX_BODY:
        from plugin.errors import PayloadTooLarge

        raise PayloadTooLarge("body over 1 MiB")
    data = request.get_data(cache=True)
    if len(data) > MAX_BODY:
        from plugin.errors import PayloadTooLarge

        raise PayloadTooLarge("body over 1 MiB")
    if data and request.mimetype != "application/json":
        from plugin.errors import ConsentryError

        exc = ConsentryError("body must be application/json")
        exc.http_status, exc.code = 415, "unsupported_media_type"
        raise exc
    return data


def _verify(resolve: Any) -> str:
    fed = _fed()
    return verify_request(request.method, target_uri(), dict(request.headers), _body(),
                          resolve, replay_cache=fed.replay_cache)


def _active_caller() -> dict[str, Any]:
    """Verify the request against the stored keys of its peer; the peer must be active."""
    fed = _fed()
    keyid = _verify(lambda k: fed.resolve_peer_key(k, http=True))
    peer = fed.peers.peer_by_domain(parse_key_url(keyid)[0])
    if peer is None or peer["state"] != "active":
        raise NotPaired("you are not an active peer of this instance")
    return peer


@bp.post("/federation/v1/pair")
def pair():
    from plugin.federation.peers import accept_pair_request, store_pair_request

    fed = _fed()
    try:
        body = strict_loads(_body() or b"null")
    except ValueError as exc:
        raise InvalidRequest(f"body is not JSON: {exc}") from None
    doc, message = accept_pair_request(fed, body)
    keyid = _verify(lambda k: _doc_key(doc, k))
    if parse_key_url(keyid)[0] != doc["domain"]:
        raise UnknownKey("signature key is not the well_known domain's")
    peer = store_pair_request(fed, doc, message)
    state = "active" if peer["state"] == "active" else "pending"
    return jsonify({"state": state}), 200 if state == "active" else 202


def _doc_key(doc: dict[str, Any], keyid: str) -> Any:
    domain, key_id = parse_key_url(keyid)
    if domain != doc["domain"]:
        raise UnknownKey("signature key is not the well_known domain's")
    return find_key(doc["keys"], key_id, http=True, now=time.time())


@bp.delete("/federation/v1/pair")
def unpair():
    fed = _fed()
    keyid = _verify(lambda k: fed.resolve_peer_key(k, http=True))
    peer = fed.peers.peer_by_domain(parse_key_url(keyid)[0])
    if peer is None:
        raise NotPaired("you are not a peer of this instance")
    fed.peers.peer_unpair(peer["id"])
    fed.services.audit.audit_append(actor=f"peer:{peer['domain']}",
                                    action="federation.unpaired_by_peer",
                                    subject=peer["domain"], outcome="done")
    return Response(status=204)


def _rate_limit(fed: Federation, peer: dict[str, Any]) -> None:
    window = int(time.time() // 60)
    key = redis_key("rate", peer["id"], window)
    pipe = fed.services.redis.pipeline()
    pipe.incr(key)
    pipe.expire(key, 120)
    count = pipe.execute()[0]
    if count > fed.settings.federation_rate_per_min:
        raise PeerRateLimited("too many feed requests",
                              retry_after_s=max(1, 60 * (window + 1) - int(time.time())))


@bp.get("/federation/v1/changes")
def changes():
    fed = _fed()
    peer = _active_caller()
    since = request.args.get("since", "")
    limit_raw = request.args.get("limit", "100")
    if since != "0" and not is_uuid7(since):
        raise InvalidRequest("since must be 0 or a record id")
    if not limit_raw.isdigit() or not 1 <= int(limit_raw) <= 1000:
        raise InvalidRequest("limit must be an integer in 1..1000")
    _rate_limit(fed, peer)
    page = changes_page(fed, peer, since, int(limit_raw))
    body = ('{"records":[' + ",".join(page["records_json"]) + '],"next":'
            + json.dumps(page["next"]) + ',"has_more":'
            + ("true" if page["has_more"] else "false") + "}")
    return Response(body, status=200, mimetype="application/json")


@bp.post("/federation/v1/nudge")
def nudge():
    fed = _fed()
    peer = _active_caller()
    try:
        body = strict_loads(_body() or b"{}")
    except ValueError as exc:
        raise InvalidRequest(f"body is not JSON: {exc}") from None
    if not isinstance(body, dict) or not is_uuid7(body.get("latest", "")):
        raise InvalidRequest("nudge needs latest: a record id")
    schedule_sync(fed, peer["id"])
    return Response(status=202)


def schedule_sync(fed: Federation, peer_id: int) -> bool:
    """Queue a pull of *peer_id* unless one is already queued (debounce, never inline)."""
    from plugin.queueing import queue

    redis = fed.services.redis
    redis.set(redis_key("nudged", peer_id), 1, ex=600)
    if not redis.set(redis_key("sync-queued", peer_id), 1, nx=True, ex=120):
        return False
    queue("sync", redis).enqueue("workers.sync.sync_peer_job", peer_id, result_ttl=600,
                                 failure_ttl=86400, job_timeout=3600)
    return True


@bp.after_request
def _sign(response: Response) -> Response:
    if not request.path.startswith("/federation/"):
        return response
    fed = _fed()
    body = response.get_data()
    headers = sign_response(response.status_code, dict(response.headers), body or None,
                            fed.identity.private_key, fed.key_url)
    response.headers.update(headers)
    return response


@bp.errorhandler(PeerRateLimited)
def _rate_limited(exc: PeerRateLimited):
    response = jsonify({"error": "rate_limited", "message": exc.message})
    response.status_code = 429
    response.headers["Retry-After"] = str(int(exc.retry_after_s))
    return response


# -- admin side --------------------------------------------------------------------------
def _json() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest("JSON object body expected")
    return body


@bp.get("/api/v1/peers")
@require_admin
def peers_list():
    return jsonify({"peers": _fed().peers.peer_list()})


@bp.post("/api/v1/peers")
@require_admin
def peers_add():
    from plugin.federation.peers import add_peer

    body = _json()
    if not isinstance(body.get("url"), str):
        raise BadRequest("url is required")
    peer = add_peer(_fed(), body["url"], approve=bool(body.get("approve")),
                    message=body.get("message"))
    return jsonify(peer), 201


@bp.get("/api/v1/peers/<int:peer_id>")
@require_admin
def peers_get(peer_id: int):
    return jsonify(_fed().peers.peer_get(peer_id))


@bp.patch("/api/v1/peers/<int:peer_id>")
@require_admin
def peers_configure(peer_id: int):
    from plugin.federation.peers import configure_peer

    body = _json()
    return jsonify(configure_peer(_fed(), peer_id, **{k: body.get(k) for k in (
        "trust_level", "categories", "auto_act", "max_action", "read_visibility")}))


@bp.post("/api/v1/peers/<int:peer_id>/approve")
@require_admin
def peers_approve(peer_id: int):
    from plugin.federation.peers import approve_peer

    return jsonify(approve_peer(_fed(), peer_id, message=(request.get_json(silent=True) or {})
                                .get("message")))


@bp.post("/api/v1/peers/<int:peer_id>/reject")
@require_admin
def peers_reject(peer_id: int):
    from plugin.federation.peers import reject_peer

    return jsonify(reject_peer(_fed(), peer_id))


@bp.post("/api/v1/peers/<int:peer_id>/release")
@require_admin
def peers_release(peer_id: int):
    from plugin.federation.release import release_peer

    return jsonify(release_peer(_fed(), peer_id))


@bp.delete("/api/v1/peers/<int:peer_id>")
@require_admin
def peers_remove(peer_id: int):
    from plugin.federation.peers import remove_peer

    return jsonify(remove_peer(_fed(), peer_id))


@bp.post("/api/v1/peers/<int:peer_id>/sync")
@require_admin
def peers_sync(peer_id: int):
    fed = _fed()
    fed.peers.peer_get(peer_id)
    return jsonify({"queued": schedule_sync(fed, peer_id)}), 202


@bp.post("/api/v1/federation/publish")
@require_admin
def federation_publish():
    from plugin.queueing import queue

    fed = _fed()
    counts = publish_bank_changes(fed)
    if counts["published"] or counts["retracted"]:
        queue("sync", fed.services.redis).enqueue("workers.sync.nudge_peers_job",
                                                  result_ttl=600)
    return jsonify(counts)
