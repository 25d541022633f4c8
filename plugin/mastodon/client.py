"""InstanceClient: the moderation calls Consentry makes on its Mastodon, through Mastodon.py.

Mastodon.py covers account actions and domain blocks. It refuses the report category
``legal`` (Mastodon ≥ 4.2 accepts it), so reports are posted with ``requests`` directly.

The token needs ``write:reports`` (file reports) and the admin scopes
``admin:write:accounts`` and ``admin:write:domain_blocks``. Errors are sorted once, here:
network failures, 5xx, 408 and 429 become ``TransientError`` (the act job retries with
back-off, for about two days); any other 4xx is permanent and is recorded on the action.
"""

from __future__ import annotations

from typing import Any

import mastodon
import requests
from mastodon import Mastodon

from plugin import __version__
from plugin.errors import ConfigError, TransientError, Unprocessable

_TRANSIENT = (mastodon.MastodonNetworkError, mastodon.MastodonServerError,
              mastodon.MastodonRatelimitError)


class InstanceClient:
    def __init__(self, base_url: str | None, token: str | None, *, timeout_s: float = 30) -> None:
        if not base_url or not token:
            raise ConfigError("acting on the instance needs CONSENTRY_INSTANCE_URL and "
                              "CONSENTRY_INSTANCE_TOKEN")
        self.base_url = base_url.rstrip("/")
        self.http = requests.Session()
        self.http.headers.update({"Authorization": f"Bearer {token}",
                                  "User-Agent": f"Consentry/{__version__}"})
        self.timeout_s = timeout_s
        self.api = Mastodon(access_token=token, api_base_url=base_url, request_timeout=timeout_s,
                            ratelimit_method="throw", version_check_mode="none",
                            user_agent=f"Consentry/{__version__}")

    def call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run a Mastodon.py call with the error sorting above."""
        try:
            return fn(*args, **kwargs)
        except _TRANSIENT as exc:
            raise TransientError(f"{what}: instance unavailable: {exc}") from None
        except mastodon.MastodonIllegalArgumentError as exc:
            raise Unprocessable(f"{what}: {exc}") from None
        except mastodon.MastodonAPIError as exc:
            status = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], int) else None
            if status in (408, 429) or (status is not None and status >= 500):
                raise TransientError(f"{what}: instance answered {status}") from None
            raise Unprocessable(f"{what}: instance refused: {exc}") from None
        except mastodon.MastodonError as exc:
            raise TransientError(f"{what}: {exc}") from None

    def report(self, account_id: str, status_ids: list[str], comment: str, category: str,
               forward: bool) -> str:
        data = {"account_id": account_id, "status_ids[]": status_ids, "comment": comment[:1000],
                "forward": "true" if forward else "false", "category": category}
        try:
            response = self.http.post(f"{self.base_url}/api/v1/reports", data=data,
                                      timeout=self.timeout_s)
        except requests.RequestException as exc:
            raise TransientError(f"report: instance unavailable: {exc}") from None
        if response.status_code in (408, 429) or response.status_code >= 500:
            raise TransientError(f"report: instance answered {response.status_code}")
        if response.status_code >= 400:
            raise Unprocessable(f"report: instance refused ({response.status_code}): "
                                f"{response.text[:300]}")
        return str(response.json()["id"])

    def find_report(self, account_id: str, marker: str) -> str | None:
        """The id of a report on ``account_id`` whose comment carries ``marker`` (open or
        resolved), or None. Used to recognise a report we filed before a crash."""
        for resolved in (False, True):
            reports = self.call("admin reports", self.api.admin_reports, resolved=resolved,
                                target_account_id=account_id, limit=200) or []
            for report in reports:
                if marker in (report.get("comment") or ""):
                    return str(report["id"])
        return None

    def account_state(self, account_id: str) -> dict[str, bool]:
        """Which account actions already hold: {"sensitive", "silence", "suspend"}."""
        account = self.call("admin account", self.api.admin_account, account_id)
        return {"sensitive": bool(account.get("sensitized")),
                "silence": bool(account.get("silenced")),
                "suspend": bool(account.get("suspended"))}

    def status_gone(self, status_id: str) -> bool:
        """Whether a post no longer exists (404/410). Network trouble raises TransientError."""
        try:
            response = self.http.get(f"{self.base_url}/api/v1/statuses/{status_id}",
                                     timeout=self.timeout_s)
        except requests.RequestException as exc:
            raise TransientError(f"status lookup: instance unavailable: {exc}") from None
        if response.status_code in (408, 429) or response.status_code >= 500:
            raise TransientError(f"status lookup: instance answered {response.status_code}")
        return response.status_code in (404, 410)

    def account_action(self, account_id: str, action: str, *, report_id: str | None,
                       text: str) -> None:
        self.call(f"account {action}", self.api.admin_account_moderate, account_id,
                   action=action, report_id=report_id, text=text,
                   send_email_notification=True)

    def reject_media(self, domain: str, comment: str) -> str:
        block = self.call("domain block", self.api.admin_create_domain_block, domain,
                           severity="noop", reject_media=True, private_comment=comment[:1000])
        return str(block["id"])
