"""``PeerClient``: signed HTTP to other Consentry instances, and the peer URL policy.

Every request is signed (RFC 9421) over the URL *as ``requests`` will send it* (the prepared
URL), so ``@target-uri`` on the other side is rebuilt from exactly those bytes. Redirects are
never followed; bodies are capped at 1 MiB (feed pages) or 64 KiB (discovery); responses to
the feed must carry a valid signature of the peer's active key.

Peer URLs: ``https`` to a public address only. ``http://`` is accepted solely on loopback and
only with ``CONSENTRY_ALLOW_INSECURE_PEERS=1`` (tests, single-host demos); in that mode the
discovery document's domain need not be the URL host, since loopback test peers have no DNS
name (``docs/peer-protocol.md`` §4, test-mode note). Every connection is pinned to the address
checked when it is opened (``plugin.federation.pinned``): a peer's DNS cannot answer a public
address to the check and a private one to the connect.
"""

from __future__ import annotations

import ipaddress
import json
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

import orjson
import requests

from plugin import __version__

from . import PROTOCOL_VERSION
from .errors import (
    FederationError,
    InvalidRequest,
    PeerRateLimited,
    PeerUnavailable,
)
from .http_signatures import sign_request, verify_response
from .jcs import loads as strict_loads
from .pinned import PinnedAdapter, checked_address
from .wellknown import WELL_KNOWN_PATH, parse_discovery

if TYPE_CHECKING:
    from .context import Federation

__all__ = ["FeedPage", "PeerClient", "check_peer_url", "is_loopback_url"]

USER_AGENT = f"Consentry/{__version__} (+federation)"
MAX_BODY = 1 << 20
MAX_DISCOVERY = 64 << 10


def is_loopback_url(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_peer_url(url: str, *, allow_insecure: bool) -> str:
    """Normalise a peer base URL to ``scheme://host[:port]`` or refuse it (400)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InvalidRequest("peer URL must be https://<domain>")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise InvalidRequest("peer URL must not carry credentials, a query or a fragment")
    if parts.path not in ("", "/"):
        raise InvalidRequest("peer URL must be the instance's base URL (no path)")
    loopback = is_loopback_url(url)
    if parts.scheme == "http" and not (allow_insecure and loopback):
        raise InvalidRequest("peers must use https (http only on loopback with "
                             "CONSENTRY_ALLOW_INSECURE_PEERS=1)")
    if not allow_insecure:
        _refuse_private(parts.hostname, parts.port or 443)
    return f"{parts.scheme}://{parts.netloc.lower()}"


def _refuse_private(host: str, port: int) -> None:
    """Early, friendly refusal when a peer is added; connections are checked again (pinned)."""
    checked_address(host, port, allow_loopback=False)


@dataclass(frozen=True)
class FeedPage:
    records: list[Any]
    next: str
    has_more: bool
    raw: bytes = b""  # the verified body, for checks done in another process


class PeerClient:
    def __init__(self, fed: Federation, *, timeout_s: float = 30.0) -> None:
        self.fed = fed
        self.timeout = (5.0, timeout_s)
        self.http = requests.Session()
        self.http.headers["User-Agent"] = USER_AGENT
        self.http.trust_env = False  # no proxies from the environment for peer traffic
        adapter = PinnedAdapter(allow_loopback=fed.settings.allow_insecure_peers)
        self.http.mount("http://", adapter)
        self.http.mount("https://", adapter)

    # -- plumbing ------------------------------------------------------------------------
    def _send(self, method: str, url: str, body: Any | None, *, cap: int = MAX_BODY,
              sign: bool = True) -> requests.Response:
        check_peer_url(_base(url), allow_insecure=self.fed.settings.allow_insecure_peers)
        data = None if body is None else json.dumps(body).encode("utf-8")
        headers = {"Content-Type": "application/json"} if data else {}
        prepared = self.http.prepare_request(
            requests.Request(method, url, data=data, headers=headers))
        if sign:
            identity = self.fed.identity
            prepared.headers.update(sign_request(
                method, prepared.url, dict(prepared.headers), data, identity.private_key,
                self.fed.key_url))
        try:
            response = self.http.send(prepared, allow_redirects=False, timeout=self.timeout,
                                      stream=True)
            content = _read_within(response, cap, self.timeout[1], url)
        except requests.RequestException as exc:
            raise PeerUnavailable(f"{method} {url}: {exc.__class__.__name__}: {exc}") from None
        finally:
            pass
        if len(content) > cap:
            response.close()
            raise PeerUnavailable(f"{url}: response larger than {cap} bytes")
        response._content = content  # type: ignore[attr-defined]
        if response.status_code == 429 or response.status_code == 503:
            raise PeerRateLimited(f"{url}: {response.status_code}",
                                  retry_after_s=_retry_after(response.headers))
        if response.status_code >= 500 or 300 <= response.status_code < 400:
            raise PeerUnavailable(f"{url}: HTTP {response.status_code}")
        return response

    @staticmethod
    def _error(response: requests.Response) -> FederationError:
        try:
            code = response.json().get("error", "")
        except ValueError:
            code = ""
        exc = FederationError(f"peer answered {response.status_code} {code}".strip())
        exc.http_status, exc.code = response.status_code, code or "peer_error"
        return exc

    # -- protocol ------------------------------------------------------------------------
    def discover(self, base_url: str) -> dict[str, Any]:
        """Fetch and check a peer's discovery document (§4)."""
        base = check_peer_url(base_url, allow_insecure=self.fed.settings.allow_insecure_peers)
        response = self._send("GET", base + WELL_KNOWN_PATH, None, cap=MAX_DISCOVERY,
                              sign=False)
        if response.status_code != 200:
            raise self._error(response)
        try:
            doc = strict_loads(response.content)
        except ValueError as exc:
            raise InvalidRequest(f"discovery document is not JSON: {exc}") from None
        expected = None if is_loopback_url(base) else urlsplit(base).hostname
        return {**parse_discovery(doc, expected_domain=expected, base_url=base),
                "base_url": base}

    def pair(self, peer: dict[str, Any], message: str | None = None) -> str:
        """Send our (admin-approved) pair request; return the peer's state."""
        from .wellknown import public_base

        body: dict[str, Any] = {
            "well_known": public_base(self.fed.settings) + WELL_KNOWN_PATH,
            "protocols": [PROTOCOL_VERSION]}
        if message:
            body["message"] = message[:500]
        response = self._send("POST", peer["base_url"] + "/federation/v1/pair", body)
        if response.status_code not in (200, 202):
            raise self._error(response)
        return str(response.json().get("state", "pending"))

    def unpair(self, peer: dict[str, Any]) -> int:
        response = self._send("DELETE", peer["base_url"] + "/federation/v1/pair", None)
        return response.status_code

    def nudge(self, peer: dict[str, Any], latest: str) -> int:
        response = self._send("POST", peer["base_url"] + "/federation/v1/nudge",
                              {"latest": latest})
        return response.status_code

    def changes(self, peer: dict[str, Any], since: str, limit: int = 1000, *,
                strict: bool = True) -> FeedPage:
        """One page of the peer's feed, response signature verified (§6, §10.5).

        ``strict=False`` parses with orjson (twice as fast; it refuses NaN, lone surrogates
        and integers a double cannot hold, but keeps the last of duplicate member names): the
        caller must then run the strict parse on ``page.raw`` before using the records
        (``sync_peer`` does it on its process pool, with the structural checks).
        """
        url = (peer["base_url"] + "/federation/v1/changes?"
               + urlencode({"since": since, "limit": limit}))
        response = self._send("GET", url, None)
        if response.status_code != 200:
            raise self._error(response)
        keyid = verify_response(
            response.status_code, dict(response.headers), response.content,
            lambda k: self.fed.resolve_peer_key(k, http=True, peer=peer))
        if not keyid.startswith(f"https://{peer['domain']}/"):
            raise InvalidRequest("feed response signed by another domain")
        try:
            doc = strict_loads(response.content) if strict else orjson.loads(response.content)
            records, nxt, more = doc["records"], doc["next"], doc["has_more"]
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidRequest(f"malformed feed page: {exc}") from None
        if not isinstance(records, list) or not isinstance(nxt, str) or len(nxt) > 64:
            raise InvalidRequest("malformed feed page")
        return FeedPage(records, nxt, bool(more), response.content)


def _read_within(response: requests.Response, cap: int, seconds: float, url: str) -> bytes:
    """Up to ``cap + 1`` bytes of the body, in ``seconds`` at most overall.

    The read timeout bounds each wait for the socket, not the whole body: a peer dripping a
    byte a second (slow loris) would otherwise hold a sync worker for days.
    """
    deadline = time.monotonic() + seconds
    chunks, size = [], 0
    while size <= cap:
        chunk = response.raw.read1(min(65536, cap + 1 - size), decode_content=True)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if time.monotonic() > deadline:
            response.close()
            raise PeerUnavailable(f"{url}: body not received within {seconds:.0f} s")
    return b"".join(chunks)


def _base(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _retry_after(headers: Any) -> float:
    raw = headers.get("Retry-After", "")
    if raw.isdigit():
        return float(raw)
    try:
        import time

        return max(1.0, parsedate_to_datetime(raw).timestamp() - time.time())
    except (TypeError, ValueError):
        return 60.0
