"""NCII takedown intake: the public form ``/takedown`` and ``POST /api/v1/takedown``.

No account needed: the person the picture shows may have none here. The form takes the
picture (hashed in memory, then discarded — the page says so) or hashes made on their own
device, plus optional contact and links. Both paths are rate-limited per address in Redis.
The form carries a CSRF token like every other form of ours.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template, request

from plugin import redis_keys
from plugin.errors import BadRequest, RateLimited
from plugin.review.decisions import ReviewDeps
from plugin.review.takedown import hashes_of_upload, parse_hashes, submit_takedown
from plugin.web.context import services
from plugin.web.moderator_auth import check_csrf, secure_headers

bp = Blueprint("intake", __name__)
bp.after_request(secure_headers)
PER_HOUR = 20


def _rate_limit() -> None:
    redis = services().redis
    key = redis_keys.rate_limit("takedown", request.remote_addr or "?")
    count = redis.incr(key)
    if count == 1:  # the window starts with the first request (EXPIRE NX needs Redis 7)
        redis.expire(key, 3600)
    if count > PER_HOUR:
        raise RateLimited("too many takedown requests from this address; try again later")


def _uploaded_hashes() -> list[tuple[str, str]]:
    upload = request.files.get("picture")
    if upload is None or not upload.filename:
        return []
    data = upload.read()
    try:
        return hashes_of_upload(data, services().settings.media_max_pixels)
    finally:
        del data  # the bytes go nowhere: not to disk, not to the database


@bp.route("/takedown", methods=["GET", "POST"])
def takedown_form():
    result = None
    if request.method == "POST":
        check_csrf()
        _rate_limit()
        hashes = _uploaded_hashes()
        kind = request.form.get("hash_type", "pdq")
        hashes += parse_hashes([{"hash_type": kind, "value": value}
                                for value in request.form.get("hashes", "").split()])
        result = submit_takedown(ReviewDeps.from_services(services()), hashes,
                                 contact=request.form.get("contact"),
                                 description=request.form.get("description"), via="form")
    return render_template("review/takedown.html", result=result)


@bp.post("/api/v1/takedown")
def takedown_api():
    _rate_limit()
    if request.mimetype == "application/json":
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise BadRequest("expected a JSON object")
        hashes = parse_hashes(body.get("hashes") or [])
        contact, description = body.get("contact"), body.get("description")
    else:
        hashes = _uploaded_hashes()
        contact, description = request.form.get("contact"), request.form.get("description")
    result = submit_takedown(ReviewDeps.from_services(services()), hashes, contact=contact,
                             description=description, via="api")
    return jsonify(result), 202
