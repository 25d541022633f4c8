"""Peer HTTP connections pinned to the address that was checked (no DNS rebinding).

A peer's DNS is the peer's to answer: checking a name's addresses and then letting the HTTP
library resolve it again to connect gives a hostile peer two answers, a public address for the
check and ``127.0.0.1`` (or the cloud metadata address) for the connection. As the media
fetcher does (``plugin.media.fetch``: resolve, check, connect to the checked address), every
peer connection here resolves the name once, *when it connects*, refuses it unless every
address is public (loopback too under ``CONSENTRY_ALLOW_INSECURE_PEERS=1``, for tests and
single-host demos), and connects to that very address. Only the socket's destination changes:
the ``Host`` header, TLS SNI and certificate verification still use the peer's name.

``PinnedAdapter`` plugs this into a ``requests.Session`` (urllib3 connection classes whose
``_new_conn`` sets the address to dial before connecting, re-checked on every reconnect).
"""

from __future__ import annotations

import socket
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from .errors import InvalidRequest, PeerUnavailable

__all__ = ["PinnedAdapter", "checked_address"]


def checked_address(host: str, port: int, *, allow_loopback: bool) -> str:
    """Resolve *host* once; return an address to dial, or refuse the name (400)."""
    import ipaddress

    from plugin.media.fetch import is_public_address, resolve_addresses

    addresses = resolve_addresses(host, port, PeerUnavailable)
    for address in addresses:
        if is_public_address(address):
            continue
        if allow_loopback and ipaddress.ip_address(address).is_loopback:
            continue
        raise InvalidRequest(f"{host} resolves to a non-public address ({address}); refused")
    return addresses[0]


class _Pinned:
    """Mixin for urllib3 connections: dial the checked address, keep the name for the rest."""

    allow_loopback = False
    host: str
    port: int
    _dns_host: str

    def _new_conn(self) -> socket.socket:
        self._dns_host = checked_address(self.host, self.port,
                                         allow_loopback=self.allow_loopback)
        return super()._new_conn()  # type: ignore[misc]


def _pool_classes(allow_loopback: bool) -> dict[str, type]:
    extra = {"allow_loopback": allow_loopback}
    http = type("PinnedHTTPConnection", (_Pinned, HTTPConnection), extra)
    https = type("PinnedHTTPSConnection", (_Pinned, HTTPSConnection), extra)
    return {"http": type("PinnedHTTPConnectionPool", (HTTPConnectionPool,),
                         {"ConnectionCls": http}),
            "https": type("PinnedHTTPSConnectionPool", (HTTPSConnectionPool,),
                          {"ConnectionCls": https})}


_CLASSES = {flag: _pool_classes(flag) for flag in (False, True)}


class PinnedAdapter(HTTPAdapter):
    """A ``requests`` transport whose connections are pinned as the module describes."""

    def __init__(self, *, allow_loopback: bool) -> None:
        self.allow_loopback = allow_loopback  # read by init_poolmanager, called by __init__
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_CLASSES[self.allow_loopback])
