"""Hash banks over HTTP, for admins and other tools (bearer ``CONSENTRY_ADMIN_TOKEN``).

``POST /api/v1/hash`` and ``POST /api/v1/lookup`` let another tool hash a picture and ask what
it matches; the rest manages banks, entries and opinions. Every write is recorded in the audit
log. The contract is ``plugin/web/openapi.json``, served at ``/api/v1/openapi.json`` and
checked by the tests; ``docs/api.md`` explains it.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from plugin.errors import BadRequest
from plugin.hashing.image_hashes import hash_image
from plugin.hashing.types import hash_type
from plugin.media.decode import decode_image
from plugin.media.fetch import FetchPolicy, fetch_media
from plugin.queueing import queue
from plugin.storage.banks import EntryInput
from plugin.web.auth import require_admin
from plugin.web.context import services
from plugin.web.openapi import OPENAPI

bp = Blueprint("banks_api", __name__, url_prefix="/api/v1")
MAX_ENTRIES_PER_REQUEST = 10_000


def json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest("expected a JSON object body (Content-Type: application/json)")
    return body


def _field(body: dict[str, Any], name: str, kind: type, *, required: bool = False) -> Any:
    value = body.get(name)
    if value is None:
        if required:
            raise BadRequest(f"{name} is required")
        return None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise BadRequest(f"{name} must be a {kind.__name__}")
    return value


def _audit(action: str, subject: str, detail: dict[str, Any]) -> None:
    """Record an admin write, and let peers hear of it now rather than at the next poll."""
    svc = services()
    svc.audit.audit_append(actor="admin-api", action=action, subject=subject, outcome="done",
                           detail=detail)
    queue("sync", svc.redis).enqueue("workers.sync.publish_job", job_timeout=600,
                                     result_ttl=600)


def _picture_bytes() -> bytes:
    """The picture of a hash/lookup request: an ``image`` upload or a JSON ``url``."""
    upload = request.files.get("image")
    if upload is not None:
        data = upload.read(services().settings.media_max_bytes + 1)
        if len(data) > services().settings.media_max_bytes:
            raise BadRequest("image over the size cap")
        return data
    body = json_body()
    url = _field(body, "url", str, required=True)
    return fetch_media(url, FetchPolicy.from_settings(services().settings)).data


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(OPENAPI)


@bp.post("/hash")
@require_admin
def hash_picture():
    data = _picture_bytes()
    decoded = decode_image(data, max_pixels=services().settings.media_max_pixels)
    return jsonify({**hash_image(data, decoded.image).to_dict(), "width": decoded.width,
                    "height": decoded.height, "format": decoded.format})


@bp.post("/lookup")
@require_admin
def lookup():
    matcher = services().matcher
    matcher.refresh(force=True)  # one indexed query: an API caller sees its own writes
    if request.files:
        data = _picture_bytes()
        decoded = decode_image(data, max_pixels=services().settings.media_max_pixels)
        return jsonify({"matches": matcher.match(hash_image(data, decoded.image))})
    body = json_body()
    kind = hash_type(_field(body, "type", str, required=True))
    if kind.name not in ("pdq", "sha256", "md5", "video_md5"):
        raise BadRequest("lookup type must be pdq, sha256, md5 or video_md5")
    value = kind.canonical(_field(body, "value", str, required=True))
    return jsonify({"matches": matcher.match_value(kind.name, value)})


@bp.get("/banks")
@require_admin
def banks_list():
    return jsonify({"banks": services().banks.bank_list()})


@bp.post("/banks")
@require_admin
def bank_create():
    body = json_body()
    shareable = _field(body, "shareable", bool)
    bank = services().banks.bank_create(
        _field(body, "name", str, required=True), _field(body, "category", str, required=True),
        visibility=_field(body, "visibility", str) or "private",
        shareable=True if shareable is None else shareable,
        description=_field(body, "description", str))
    _audit("bank.create", bank["name"], bank)
    return jsonify(bank), 201


@bp.get("/banks/<name>")
@require_admin
def bank_get(name: str):
    return jsonify(services().banks.bank_get(name))


@bp.patch("/banks/<name>")
@require_admin
def bank_update(name: str):
    body = json_body()
    bank = services().banks.bank_update(
        name, enabled=_field(body, "enabled", bool), visibility=_field(body, "visibility", str),
        description=_field(body, "description", str))
    _audit("bank.update", name, body)
    return jsonify(bank)


@bp.delete("/banks/<name>")
@require_admin
def bank_remove(name: str):
    bank = services().banks.bank_remove(name)
    _audit("bank.remove", name, {})
    return jsonify(bank)


@bp.get("/banks/<name>/entries")
@require_admin
def entries_list(name: str):
    after, limit = request.args.get("after", "0"), request.args.get("limit", "100")
    if not after.isdigit() or not limit.isdigit() or not 1 <= int(limit) <= 1000:
        raise BadRequest("after must be an entry id and limit an integer in 1..1000")
    entries = services().banks.entries_page(name, after_id=int(after), limit=int(limit))
    return jsonify({"entries": entries,
                    "next": entries[-1]["id"] if len(entries) == int(limit) else None})


@bp.post("/banks/<name>/entries")
@require_admin
def entries_add(name: str):
    items = _field(json_body(), "entries", list, required=True)
    if not 1 <= len(items) <= MAX_ENTRIES_PER_REQUEST:
        raise BadRequest(f"entries must hold 1..{MAX_ENTRIES_PER_REQUEST} items")
    inputs = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise BadRequest(f"entries[{i}] must be an object")
        try:
            inputs.append(EntryInput(_field(item, "hash_type", str, required=True),
                                     _field(item, "value", str, required=True),
                                     _field(item, "note", str), source="admin-api"))
        except BadRequest as exc:
            raise BadRequest(f"entries[{i}]: {exc.message}") from None
    added = services().banks.entries_add(name, inputs)
    _audit("bank.entries_add", name, {"added": added, "submitted": len(inputs)})
    return jsonify({"added": added}), 201


@bp.get("/banks/<name>/entries/<kind>/<value>")
@require_admin
def entry_get(name: str, kind: str, value: str):
    return jsonify(services().banks.entry_get(name, kind, value))


@bp.delete("/banks/<name>/entries/<kind>/<value>")
@require_admin
def entry_remove(name: str, kind: str, value: str):
    body = request.get_json(silent=True) or {}
    reason = body.get("reason") if isinstance(body, dict) else None
    if not isinstance(reason, str) or not reason.strip():
        raise BadRequest("removing an entry needs a reason: JSON {\"reason\": ...}")
    by = body.get("by") if isinstance(body.get("by"), str) else "admin-api"
    services().banks.entry_remove(name, kind, value, by=by, reason=reason)
    _audit("bank.entry_remove", f"{name}/{kind}/{value}", {"by": by, "reason": reason})
    return jsonify(services().banks.entry_get(name, kind, value))


@bp.put("/banks/<name>/entries/<kind>/<value>/opinions")
@require_admin
def opinion_set(name: str, kind: str, value: str):
    body = json_body()
    entry = services().banks.opinion_set(
        name, kind, value, opinion=_field(body, "opinion", str, required=True),
        by=_field(body, "by", str, required=True), note=_field(body, "note", str))
    _audit("bank.opinion", f"{name}/{kind}/{value}", body)
    return jsonify(entry)
