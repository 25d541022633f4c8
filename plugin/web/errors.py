"""The one place where errors become HTTP responses.

Every ``ConsentryError`` carries its status and code; we answer JSON
``{"error": code, "message": ...}``. A Redis outage becomes 503 — for a webhook that is what
makes Mastodon retry rather than drop the event.
"""

from __future__ import annotations

import logging

from flask import Flask, jsonify
from redis.exceptions import RedisError
from werkzeug.exceptions import HTTPException

from plugin.errors import ConsentryError, MisskeyApiError

log = logging.getLogger(__name__)


def error_response(status: int, code: str, message: str):
    response = jsonify({"error": code, "message": message})
    response.status_code = status
    if status == 503:
        response.headers["Retry-After"] = "30"
    return response


def register(app: Flask) -> None:
    @app.errorhandler(ConsentryError)
    def _domain(exc: ConsentryError):
        if isinstance(exc, MisskeyApiError):  # Misskey's contract has its own error shape
            response = jsonify({"success": False,
                                "error": {"code": exc.code, "message": exc.message}})
            response.status_code = exc.http_status
            return response
        response = error_response(exc.http_status, exc.code, exc.message)
        if exc.http_status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="consentry"'
        if exc.http_status == 429:
            response.headers["Retry-After"] = str(exc.details.get("retry_after_s", 60))
        return response

    @app.errorhandler(RedisError)
    def _redis(exc: RedisError):
        log.warning("redis unavailable: %s", exc)
        return error_response(503, "unavailable", "queue storage unavailable; retry later")

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        code = (exc.name or "error").lower().replace(" ", "_")
        return error_response(exc.code or 500, code, exc.description or exc.name)
