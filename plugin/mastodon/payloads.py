"""Parse Mastodon admin-webhook payloads into the media we must scan.

Mastodon posts ``{"event": ..., "created_at": ..., "object": ...}`` (``WebhookEventSerializer``).
``status.created``/``status.updated`` fire for *local* statuses only; the remote media an
instance shows arrive embedded in them — the status a local boost wraps (``reblog``) and the
status a local quote quotes (``quote.quoted_status``, or ``quote`` itself on older servers) —
and in ``report.created``/``report.updated``, which fire for remote reports too and carry the
reported statuses. Objects may or may not include viewer fields; we read only what a webhook
render always has.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from plugin.errors import BadRequest

SUPPORTED_EVENTS = ("status.created", "status.updated", "report.created", "report.updated")


@dataclass(frozen=True)
class MediaRef:
    media_id: str
    media_type: str
    url: str | None
    remote_url: str | None

    @property
    def fetch_urls(self) -> list[str]:
        """Our instance's copy first, then the origin server's."""
        return [u for u in (self.url, self.remote_url) if u]


@dataclass(frozen=True)
class StatusRef:
    status_id: str
    url: str | None
    account_id: str | None
    account_acct: str | None
    visibility: str | None
    via: str
    media: tuple[MediaRef, ...] = ()
    report_id: str | None = None
    application: str | None = None  # the posting app's name, when the instance shows it

    @property
    def account_domain(self) -> str | None:
        """The remote domain of the author, or None for a local account."""
        if self.account_acct and "@" in self.account_acct:
            return self.account_acct.rsplit("@", 1)[1].lower()
        return None


@dataclass(frozen=True)
class WebhookEvent:
    event: str
    created_at: str
    object: dict[str, Any]
    statuses: list[StatusRef] = field(default_factory=list)

    @property
    def object_id(self) -> str | None:
        value = self.object.get("id")
        return str(value) if value is not None else None


def parse_webhook(body: bytes) -> WebhookEvent:
    """Validate the envelope and find the statuses to scan (the worker's view)."""
    event = parse_envelope(body)
    if event.event in ("status.created", "status.updated"):
        event.statuses.extend(statuses_in_status(event.object))
    elif event.event in ("report.created", "report.updated"):
        event.statuses.extend(statuses_in_report(event.object))
    return event


def parse_envelope(body: bytes) -> WebhookEvent:
    """Validate the envelope only (the webhook's hot path); raise ``BadRequest`` saying why.

    Deeply nested JSON cannot exhaust the stack: the body is capped in size and the C JSON
    decoder raises ``RecursionError`` on nesting beyond the interpreter's limit.
    """
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"body is not JSON: {exc}") from None
    except RecursionError:
        raise BadRequest("JSON nested too deeply") from None
    if not isinstance(payload, dict):
        raise BadRequest("expected Mastodon's webhook envelope, a JSON object "
                         '{"event", "created_at", "object"}; a custom payload template '
                         "must not be set on this webhook")
    missing = [k for k in ("event", "created_at", "object") if k not in payload]
    if missing:
        raise BadRequest(f"not a Mastodon webhook envelope: missing {', '.join(missing)}. "
                         "Remove any custom payload template from the webhook in Mastodon's "
                         "admin settings; Consentry needs the default payload.")
    event, created_at, obj = payload["event"], payload["created_at"], payload["object"]
    if not isinstance(event, str) or not isinstance(created_at, str):
        raise BadRequest("envelope fields event and created_at must be strings")
    if not isinstance(obj, dict):
        raise BadRequest("envelope field object must be a JSON object")
    return WebhookEvent(event=event, created_at=created_at, object=obj)


def statuses_in_status(status: dict[str, Any], via: str = "status") -> list[StatusRef]:
    found = [_status_ref(status, via)]
    reblog = status.get("reblog")
    if isinstance(reblog, dict):
        found.append(_status_ref(reblog, "reblog"))
    quote = status.get("quote")
    if isinstance(quote, dict):
        quoted = quote.get("quoted_status") if "quoted_status" in quote else quote
        if isinstance(quoted, dict) and quoted.get("id") is not None:
            found.append(_status_ref(quoted, "quote"))
    return [s for s in found if s.status_id]


def statuses_in_report(report: dict[str, Any]) -> list[StatusRef]:
    report_id = str(report.get("id")) if report.get("id") is not None else None
    statuses = report.get("statuses") or []
    if not isinstance(statuses, list):
        raise BadRequest("report.statuses must be a list")
    return [_status_ref(s, "report", report_id) for s in statuses if isinstance(s, dict)]


def _status_ref(status: dict[str, Any], via: str, report_id: str | None = None) -> StatusRef:
    account = status.get("account") if isinstance(status.get("account"), dict) else {}
    application = status.get("application") if isinstance(status.get("application"),
                                                           dict) else {}
    media = []
    items = status.get("media_attachments")
    for item in items if isinstance(items, list) else []:  # a wrong type must not crash a job
        if not isinstance(item, dict) or item.get("id") is None:
            continue
        media.append(MediaRef(media_id=str(item["id"]), media_type=str(item.get("type")),
                              url=_str_or_none(item.get("url")),
                              remote_url=_str_or_none(item.get("remote_url"))))
    return StatusRef(
        status_id=str(status.get("id") or ""), url=_str_or_none(status.get("url")),
        account_id=_str_or_none(account.get("id")),
        account_acct=_str_or_none(account.get("acct")),
        visibility=_str_or_none(status.get("visibility")), via=via, media=tuple(media),
        report_id=report_id, application=_str_or_none(application.get("name")))


def _str_or_none(value: object) -> str | None:
    return str(value) if isinstance(value, str | int) and value != "" else None

