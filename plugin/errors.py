"""The one error hierarchy of Consentry.

Domain code raises these; it never calls ``abort()``. Each class carries the HTTP status and a
stable machine-readable ``code`` so that ``plugin.web.errors`` maps the whole hierarchy to HTTP
in one place, and so that jobs can tell a *permanent* failure (record it, stop) from a
*transient* one (raise so RQ retries with back-off).
"""

from __future__ import annotations


class ConsentryError(Exception):
    """Root of every error Consentry raises on purpose."""

    http_status = 500
    code = "internal_error"

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class ConfigError(ConsentryError):
    """A setting is missing or malformed; start-up stops and names it."""

    code = "config_error"


class BadRequest(ConsentryError):
    http_status = 400
    code = "bad_request"


class Unauthorized(ConsentryError):
    http_status = 401
    code = "unauthorized"


class Forbidden(ConsentryError):
    http_status = 403
    code = "forbidden"


class NotFound(ConsentryError):
    http_status = 404
    code = "not_found"


class Conflict(ConsentryError):
    http_status = 409
    code = "conflict"


class PayloadTooLarge(ConsentryError):
    http_status = 413
    code = "payload_too_large"


class Unprocessable(ConsentryError):
    http_status = 422
    code = "unprocessable"


class RateLimited(ConsentryError):
    http_status = 429
    code = "rate_limited"


class ServiceUnavailable(ConsentryError):
    """We cannot safely accept the request now (e.g. Redis is down): the caller must retry."""

    http_status = 503
    code = "unavailable"


class MisskeyApiError(ConsentryError):
    """An error of Misskey's detect-images contract, answered in Misskey's own error shape."""

    def __init__(self, http_status: int, misskey_code: str, message: str) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.code = misskey_code


class TransientError(ConsentryError):
    """A failure worth retrying later: network errors, 5xx and 429 from another server."""

    http_status = 503
    code = "transient"


class MediaError(ConsentryError):
    """A media file cannot be scanned. Permanent: recorded on the media, never retried."""

    http_status = 422
    code = "media_error"


class MediaRefused(MediaError):
    """The fetcher refused a URL (scheme, private address, redirect into one)."""

    code = "media_refused"


class MediaTooLarge(MediaError):
    """Bytes or pixels over the configured caps."""

    code = "media_too_large"


class UnsupportedMedia(MediaError):
    """A type we do not decode (SVG, HTML, audio, ...)."""

    code = "unsupported_media"


class UndecodableMedia(MediaError):
    """Truncated, corrupt or hostile image data."""

    code = "undecodable_media"


class MediaFetchError(MediaError):
    """The server answered, but with a permanent failure (404, 410, ...)."""

    code = "media_fetch_failed"
