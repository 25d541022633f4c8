"""Fetch remote media without becoming a proxy into the private network.

A media URL in a webhook is attacker-controlled: it may point at loopback, the cloud metadata
address, or a host that redirects there, or a name that resolves there. The fetcher

* accepts only ``http``/``https``;
* resolves the host itself, refuses private, loopback, link-local, shared, reserved and
  multicast addresses (unless ``allow_private``, for tests and single-host set-ups), and then
  connects to *the address it checked* (no second lookup an attacker could rebind);
* follows at most ``max_redirects`` redirects, checking every hop the same way;
* caps the body (``max_bytes``, whatever Content-Length claims) and the total time;
* sniffs the first bytes, so an HTML error page or an SVG is never handed to a decoder.

Network failures and 5xx/429 raise ``TransientError`` (the job retries with back-off); a 4xx
or a refusal raises a ``MediaError`` (recorded on the media, not retried).
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import urllib3
from urllib3.exceptions import HTTPError as Urllib3HTTPError

from plugin import __version__
from plugin.errors import (
    MediaFetchError,
    MediaRefused,
    MediaTooLarge,
    TransientError,
    UnsupportedMedia,
)

USER_AGENT = f"Consentry/{__version__} (+media scanner; AGPL-3.0)"
_SHARED_NET = ipaddress.ip_network("100.64.0.0/10")

# (magic prefix, offset, media type). Only what we scan is accepted.
_SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"WEBP", 8, "image/webp"),
    (b"BM", 0, "image/bmp"),
    (b"II*\x00", 0, "image/tiff"),
    (b"MM\x00*", 0, "image/tiff"),
    (b"ftyp", 4, "video/mp4"),
    (b"\x1a\x45\xdf\xa3", 0, "video/webm"),
)


@dataclass(frozen=True)
class FetchedMedia:
    url: str
    data: bytes
    media_type: str
    elapsed_ms: float


@dataclass(frozen=True)
class FetchPolicy:
    allow_private: bool = False
    max_bytes: int = 40 * 1024 * 1024
    timeout_s: float = 20.0
    max_redirects: int = 5

    @classmethod
    def from_settings(cls, settings: Any, *, max_bytes: int | None = None) -> FetchPolicy:
        """The deployment's policy (``CONSENTRY_MEDIA_*``); ``max_bytes`` overrides the cap."""
        return cls(allow_private=settings.media_allow_private,
                   max_bytes=settings.media_max_bytes if max_bytes is None else max_bytes,
                   timeout_s=settings.media_timeout_s)


def sniff_media_type(head: bytes) -> str | None:
    for magic, offset, media_type in _SIGNATURES:
        if head[offset:offset + len(magic)] == magic:
            if media_type == "image/webp" and head[:4] != b"RIFF":
                continue
            return media_type
    return None


def is_public_address(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.is_site_local:
            return False
        # An IPv4 address inside IPv6 (mapped, or 6to4 2002::/16) is judged as that address.
        ip = ip.ipv4_mapped or ip.sixtofour or ip
    return not (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved
                or ip.is_multicast or ip.is_unspecified or ip in _SHARED_NET)


def resolve_addresses(host: str, port: int,
                      unresolved: Callable[[str], Exception] = TransientError) -> list[str]:
    """Every address ``host`` resolves to for a stream connection, resolved once; a name
    with none raises ``unresolved(message)`` (retryable: DNS failures pass)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise unresolved(f"cannot resolve {host}: {exc}") from None
    addresses = [info[4][0] for info in infos]
    if not addresses:
        raise unresolved(f"{host} has no address")
    return addresses


def resolve_checked(host: str, port: int, allow_private: bool) -> str:
    """Resolve ``host`` and return one address that may be contacted, or refuse."""
    addresses = resolve_addresses(host, port)
    if not allow_private:
        bad = [a for a in addresses if not is_public_address(a)]
        if bad:
            raise MediaRefused(f"{host} resolves to a non-public address ({bad[0]}); refused")
    return addresses[0]


def fetch_media(url: str, policy: FetchPolicy) -> FetchedMedia:
    started = time.monotonic()
    deadline = started + policy.timeout_s
    current = url
    for _hop in range(policy.max_redirects + 1):
        response = _request_once(current, policy, deadline)
        if response.status in (301, 302, 303, 307, 308):
            location = response.headers.get("Location")
            response.release_conn()
            if not location:
                raise MediaFetchError(f"redirect without Location from {current}")
            current = urljoin(current, location)
            continue
        try:
            data = _read_capped(response, policy, current, deadline)
        finally:
            response.release_conn()
        media_type = sniff_media_type(data[:16])
        if media_type is None:
            claimed = response.headers.get("Content-Type", "unknown")
            raise UnsupportedMedia(f"{current} is not an image or video we scan "
                                   f"(Content-Type {claimed})")
        return FetchedMedia(url=current, data=data, media_type=media_type,
                            elapsed_ms=(time.monotonic() - started) * 1000)
    raise MediaRefused(f"more than {policy.max_redirects} redirects from {url}")


def _request_once(url: str, policy: FetchPolicy, deadline: float) -> urllib3.BaseHTTPResponse:
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:  # "http://[::1", a port over 65535: never fetchable
        raise MediaRefused(f"malformed URL {url[:200]!r}: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise MediaRefused(f"scheme {parts.scheme or '(none)'!r} refused; only http and https")
    if not parts.hostname or any(c.isspace() or ord(c) < 32 for c in parts.hostname):
        raise MediaRefused(f"URL has no valid host: {url[:200]!r}")
    if parts.username or parts.password:
        raise MediaRefused("URLs with credentials are refused")
    address = resolve_checked(parts.hostname, port, policy.allow_private)
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TransientError(f"timed out fetching {url}")
    timeout = urllib3.Timeout(connect=min(remaining, 10.0), read=min(remaining, 15.0))
    pool_kwargs: dict[str, object] = {"timeout": timeout, "retries": False, "maxsize": 1}
    if parts.scheme == "https":
        pool: urllib3.HTTPConnectionPool = urllib3.HTTPSConnectionPool(
            address, port, server_hostname=parts.hostname, assert_hostname=parts.hostname,
            **pool_kwargs)
    else:
        pool = urllib3.HTTPConnectionPool(address, port, **pool_kwargs)
    host_header = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    try:
        response = pool.urlopen(
            "GET", path, headers={"Host": host_header, "User-Agent": USER_AGENT,
                                  "Accept": "image/*,video/*;q=0.8"},
            redirect=False, preload_content=False, assert_same_host=False)
    except Urllib3HTTPError as exc:
        raise TransientError(f"network error fetching {url}: {exc}") from None
    if response.status >= 500 or response.status in (408, 429):
        response.release_conn()
        raise TransientError(f"{url} answered {response.status}")
    if response.status >= 400:
        response.release_conn()
        raise MediaFetchError(f"{url} answered {response.status}")
    return response


def _read_capped(response: urllib3.BaseHTTPResponse, policy: FetchPolicy, url: str,
                 deadline: float) -> bytes:
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > policy.max_bytes:
        raise MediaTooLarge(f"{url} declares {declared} bytes, over the cap of {policy.max_bytes}")
    chunks: list[bytes] = []
    size = 0
    try:
        while True:
            # read1 returns whatever has arrived, so a server dripping bytes (slow loris)
            # cannot keep us inside one read past the deadline.
            chunk = response.read1(65536)
            if not chunk:
                break
            size += len(chunk)
            if size > policy.max_bytes:
                raise MediaTooLarge(f"{url} sent more than {policy.max_bytes} bytes")
            if time.monotonic() > deadline:
                raise TransientError(f"timed out reading {url}")
            chunks.append(chunk)
    except Urllib3HTTPError as exc:
        raise TransientError(f"network error reading {url}: {exc}") from None
    return b"".join(chunks)
