"""Telling the owner that an AI edit of their picture was caught.

A local owner gets a direct message from the plugin's account on this instance
(``POST /api/v1/statuses``, ``visibility=direct``, mentioning them). A remote owner is told
through their home instance's Consentry (``POST /federation/v1/consent/notify``, signed like
every peer request), which sends the direct message there; only active peers can ask, and only
about their own people. Messages carry what was found and where, never the picture itself.
"""

from __future__ import annotations

from typing import Any

import requests

from plugin.consent.actors import actor_domain, is_local, username_of
from plugin.errors import ConfigError, NotFound, TransientError, Unprocessable
from plugin.services import Services

_TEXT = {
    "nonconsensual_ai_edit": "an AI-edited copy of one of your pictures was posted "
                             "without your consent",
    "ncii": "an edited copy of one of your pictures was posted and flagged as possibly "
            "intimate; moderators are reviewing it with the highest priority",
}


def message(finding: dict[str, Any]) -> str:
    what = _TEXT.get(finding.get("category", ""), "a copy of one of your pictures was posted")
    where = finding.get("status_url") or ("a post" if finding.get("poster") else "an upload")
    by = finding.get("poster") or "another account"
    seen = finding.get("seen_on") or "this server"
    return (f"Consentry: {what} (seen on {seen}, by {by}: {where}). Moderators have been "
            "told. You can change your choice on the consent page.")


def notify_owner(services: Services, finding: dict[str, Any]) -> dict[str, Any]:
    owner = finding["owner"]
    if is_local(services.settings, owner):
        return {"dm": direct_message(services, owner, message(finding))}
    return {"forwarded_to": forward_to_home(services, owner, finding)}


def direct_message(services: Services, owner: str, text: str) -> str:
    s = services.settings
    if not s.instance_url or not s.instance_token:
        raise ConfigError("notifying people needs CONSENTRY_INSTANCE_URL and "
                          "CONSENTRY_INSTANCE_TOKEN")
    body = {"status": f"@{username_of(owner)} {text}"[:500], "visibility": "direct"}
    try:
        response = requests.post(f"{s.instance_url}/api/v1/statuses", data=body, timeout=30,
                                 headers={"Authorization": f"Bearer {s.instance_token}"})
    except requests.RequestException as exc:
        raise TransientError(f"direct message: instance unavailable: {exc}") from None
    if response.status_code in (408, 429) or response.status_code >= 500:
        raise TransientError(f"direct message: instance answered {response.status_code}")
    if response.status_code >= 400:
        raise Unprocessable(f"direct message refused ({response.status_code})")
    return str(response.json()["id"])


def forward_to_home(services: Services, owner: str, finding: dict[str, Any]) -> str:
    from plugin.federation.client import PeerClient
    from plugin.federation.context import federation

    fed = federation(services)
    domain = actor_domain(owner)
    peer = fed.peers.peer_by_domain(domain)
    if peer is None or peer["state"] != "active":
        raise NotFound(f"{domain} is not an active peer; its people cannot be told from here")
    body = {k: finding.get(k) for k in ("owner", "category", "status_url", "poster",
                                        "protected_sha256", "score")}
    body["seen_on"] = fed.domain
    response = PeerClient(fed)._send("POST", peer["base_url"] + "/federation/v1/consent/notify",
                                     body)
    if response.status_code != 202:
        raise Unprocessable(f"{domain} refused the notification ({response.status_code})")
    return domain
