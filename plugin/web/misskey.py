"""``POST /v1/detect-images``: Misskey's external sensitive-media detector endpoint.

Off unless ``CONSENTRY_MISSKEY_API_KEY`` is set (then ``Authorization: Bearer <key>`` is
required). The request is validated here; the images go to a worker on the ``classify``
queue (web processes never load models) and we wait for the answer within
``CONSENTRY_MISSKEY_TIMEOUT_S``. Part-level problems answer 200 with that part's error, as
the contract says; request-level ones answer Misskey's error shape.
"""

from __future__ import annotations

import base64
import hmac
import time
import uuid

from flask import Blueprint, jsonify, request
from redis.exceptions import RedisError
from rq.results import Result

from plugin.errors import MisskeyApiError
from plugin.misskey import CONTENT_TYPES
from plugin.queueing import queue
from plugin.web.context import services

bp = Blueprint("misskey", __name__)


@bp.post("/v1/detect-images")
def detect_images():
    settings = services().settings
    key = settings.misskey_api_key
    if not key:
        raise MisskeyApiError(404, "INVALID_REQUEST", "the Misskey detector endpoint is off; "
                              "set CONSENTRY_MISSKEY_API_KEY to enable it")
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(),
                                                             key.encode()):
        raise MisskeyApiError(401, "AUTHENTICATION_REQUIRED", "missing or invalid bearer token")
    if not request.mimetype == "multipart/form-data":
        raise MisskeyApiError(415, "UNSUPPORTED_MEDIA_TYPE",
                              "send the images as multipart/form-data")
    parts = list(request.files.items(multi=True))
    if not parts:
        raise MisskeyApiError(400, "INVALID_REQUEST", "no image parts in the request")
    if len(parts) > settings.misskey_max_images:
        raise MisskeyApiError(413, "REQUEST_TOO_LARGE",
                              f"at most {settings.misskey_max_images} images per request")
    results: list[dict | None] = []
    payload: list[str] = []
    for _name, part in parts:
        data = part.read(settings.misskey_max_image_bytes + 1)
        if part.mimetype not in CONTENT_TYPES:
            results.append(_part_error("UNSUPPORTED_MEDIA_TYPE",
                                       f"part type {part.mimetype or 'missing'} is not one of "
                                       f"{', '.join(CONTENT_TYPES)}"))
        elif not data:
            results.append(_part_error("INVALID_REQUEST", "empty part"))
        elif len(data) > settings.misskey_max_image_bytes:
            results.append(_part_error("REQUEST_TOO_LARGE",
                                       f"part over {settings.misskey_max_image_bytes} bytes"))
        else:
            results.append(None)
            payload.append(base64.b64encode(data).decode())
    answers = iter(_run_on_worker(payload, settings.misskey_timeout_s) if payload else [])
    merged = [r if r is not None else next(answers) for r in results]
    return jsonify({"success": True, "result": {"results": merged}})


def _run_on_worker(images: list[str], timeout_s: float) -> list[dict]:
    svc = services()
    try:
        job = queue("classify", svc.redis).enqueue(
            "workers.classify.detect_images", images, job_id=f"misskey-{uuid.uuid4().hex}",
            result_ttl=60, failure_ttl=3600, ttl=int(timeout_s) + 1, at_front=True)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            result = job.latest_result(timeout=1)
            if result is not None:
                if result.type == Result.Type.SUCCESSFUL:
                    return result.return_value
                raise MisskeyApiError(500, "DETECTION_FAILED", "detection failed on the worker")
    except RedisError:
        raise MisskeyApiError(503, "MODEL_UNAVAILABLE", "queue storage unavailable") from None
    raise MisskeyApiError(503, "MODEL_UNAVAILABLE",
                          f"no worker answered within {timeout_s:g} s")


def _part_error(code: str, message: str) -> dict:
    return {"success": False, "error": {"code": code, "message": message}}
