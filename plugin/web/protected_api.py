"""Protected pictures over HTTP, for admins and tools (bearer ``CONSENTRY_ADMIN_TOKEN``).

* ``POST /api/v1/protected`` — multipart ``image`` + ``owner`` (actor URI) [+ ``visibility``
  ``public``/``local``, default ``local``]: register a protected picture (201; 200 if the
  same owner already registered the same file).
* ``POST /api/v1/protected/match`` — multipart ``image``: ``{"matches": [{id, owner, score,
  evidence}]}``, the protected pictures it is an edited copy of, best first.
* ``GET /api/v1/protected?owner=`` and ``DELETE /api/v1/protected/<id>`` — list, withdraw.

The web process keeps one ``ProtectedMatcher`` (``protected_matcher()``), current through
the change log like the workers' matchers.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request

from plugin.errors import BadRequest
from plugin.media.decode import decode_image
from plugin.protection.matcher import ProtectedMatcher
from plugin.protection.register import register_bytes
from plugin.storage.protected_store import VISIBILITIES, ProtectedStore
from plugin.web.auth import require_admin
from plugin.web.context import services

bp = Blueprint("protected_api", __name__, url_prefix="/api/v1/protected")


def protected_matcher() -> ProtectedMatcher:
    """This web process's matcher (built on first use)."""
    matcher = current_app.extensions.get("consentry.protected")
    if matcher is None:
        matcher = ProtectedMatcher(ProtectedStore(services().db))
        current_app.extensions["consentry.protected"] = matcher
    return matcher


def uploaded_image() -> bytes:
    upload = request.files.get("image")
    if upload is None:
        raise BadRequest("send the picture as a multipart 'image' field")
    cap = services().settings.media_max_bytes
    data = upload.read(cap + 1)
    if len(data) > cap:
        raise BadRequest("image over the size cap")
    return data


def public_matches(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: m[k] for k in ("id", "owner", "score", "evidence")} for m in found]


@bp.post("")
@require_admin
def register():
    owner = (request.form.get("owner") or "").strip()
    visibility = request.form.get("visibility", "local")
    if not owner:
        raise BadRequest("owner (the owner's actor URI) is required")
    if visibility not in VISIBILITIES:
        raise BadRequest(f"visibility must be one of {', '.join(VISIBILITIES)}")
    svc = services()
    row, created = register_bytes(ProtectedStore(svc.db), uploaded_image(), owner=owner,
                                  source=f"api:{request.files['image'].filename or 'upload'}",
                                  max_pixels=svc.settings.media_max_pixels,
                                  visibility=visibility)
    svc.audit.audit_append(actor="admin-api", action="protected.add", subject=owner,
                           outcome="done", detail={"id": row["id"], "sha256": row["sha256"]})
    return jsonify(row), 201 if created else 200


@bp.post("/match")
@require_admin
def match():
    image = decode_image(uploaded_image(), max_pixels=services().settings.media_max_pixels)
    return jsonify({"matches": public_matches(protected_matcher().match(image.image))})


@bp.get("")
@require_admin
def list_pictures():
    owner = request.args.get("owner")
    return jsonify({"pictures": ProtectedStore(services().db).protected_find(owner=owner)})


@bp.delete("/<int:picture_id>")
@require_admin
def withdraw(picture_id: int):
    store = ProtectedStore(services().db)
    store.protected_get(picture_id)
    removed = store.protected_remove([picture_id], "withdrawn by an admin")
    return jsonify({"removed": removed})
