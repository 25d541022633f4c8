"""The admin API under ``/api/v1/`` (bearer ``CONSENTRY_ADMIN_TOKEN``)."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from plugin.errors import BadRequest
from plugin.web.auth import require_admin
from plugin.web.context import services

bp = Blueprint("admin_api", __name__, url_prefix="/api/v1")


def _int_arg(name: str, default: int, *, low: int = 1, high: int = 1000) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise BadRequest(f"{name} must be an integer in {low}..{high}")
    return int(raw)


@bp.get("/scans")
@require_admin
def scans():
    status_id = request.args.get("status_id")
    if not status_id:
        raise BadRequest("status_id is required")
    return jsonify({"status_id": status_id, "media": services().scans.scans_for_status(status_id)})


@bp.get("/audit")
@require_admin
def audit():
    limit = _int_arg("limit", 100)
    before = request.args.get("before")
    if before is not None and not before.isdigit():
        raise BadRequest("before must be an audit record id")
    records = services().audit.audit_list(limit=limit, before_id=int(before) if before else None,
                                          action=request.args.get("action"))
    return jsonify({"records": records,
                    "next": records[-1]["id"] if len(records) == limit else None})


@bp.get("/actions")
@require_admin
def actions():
    return jsonify({"actions": services().actions.actions_list(
        state=request.args.get("state"), limit=_int_arg("limit", 100))})
