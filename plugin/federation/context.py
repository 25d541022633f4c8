"""``Federation``: the federation handles of one process, built lazily from its ``Services``.

``plugin/services.py`` is shared and stays small; this object hangs off a ``Services`` instance
(``federation(services)``) and holds what the web blueprint, the sync jobs and the CLI need:
the three stores, the service identity, our domain, the Redis replay cache and key
resolution for peers (with the one-refetch-per-minute rule of §3 for unknown key ids).
Every Redis key of the federation domain is built here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from plugin.services import Services
from plugin.storage.federation_store import ChangeLogStore, PeerStore
from plugin.storage.received_store import ReceivedStore

from .errors import UnknownKey
from .identity import ServiceIdentity, key_url, parse_key_url
from .wellknown import find_key, instance_domain

__all__ = ["Federation", "RedisReplayCache", "federation", "redis_key"]

KEY_PREFIX = "consentry:fed:"


def redis_key(*parts: object) -> str:
    """``consentry:fed:<part>:<part>...`` — the only place federation Redis keys are built."""
    return KEY_PREFIX + ":".join(str(p) for p in parts)


class RedisReplayCache:
    """Replay cache shared by every web process: ``SET key 1 NX EX ttl`` (§13)."""

    def __init__(self, redis: Any) -> None:
        self.redis = redis

    def seen(self, key: str, ttl_s: int) -> bool:
        return not self.redis.set(redis_key("nonce", key), 1, nx=True, ex=ttl_s)


@dataclass
class Federation:
    services: Services
    _refetched: dict[str, float] = field(default_factory=dict)

    @property
    def settings(self):  # -> Settings
        return self.services.settings

    @cached_property
    def domain(self) -> str:
        return instance_domain(self.settings)

    @cached_property
    def identity(self) -> ServiceIdentity:
        path = self.settings.federation_key_file or (
            self.settings.data_dir / "federation" / "identity.pem")
        return ServiceIdentity(path)

    @property
    def key_url(self) -> str:
        return key_url(self.domain, self.identity.key_id)

    @cached_property
    def peers(self) -> PeerStore:
        return PeerStore(self.services.db)

    @cached_property
    def changelog(self) -> ChangeLogStore:
        return ChangeLogStore(self.services.db)

    @cached_property
    def received(self) -> ReceivedStore:
        return ReceivedStore(self.services.db)

    @cached_property
    def replay_cache(self) -> RedisReplayCache:
        return RedisReplayCache(self.services.redis)

    def resolve_peer_key(self, keyid: str, *, http: bool,
                         peer: dict[str, Any] | None = None) -> Ed25519PublicKey:
        """The key a peer published for *keyid* (a key URL), refetching once if unknown."""
        try:
            domain, key_id = parse_key_url(keyid)
        except ValueError as exc:
            raise UnknownKey(str(exc)) from None
        peer = peer if peer and peer["domain"] == domain else self.peers.peer_by_domain(domain)
        if peer is None:
            raise UnknownKey(f"{domain} is not a known peer")
        key = find_key(peer["keys"], key_id, http=http, now=time.time())
        if key is None and self._may_refetch(domain):
            from .client import PeerClient

            try:
                doc = PeerClient(self).discover(peer["base_url"])
            except Exception:  # an unreachable peer means unknown key
                doc = None
            if doc and doc["domain"] == domain:
                self.peers.peer_keys_set(domain, doc["keys"])
                peer["keys"] = doc["keys"]
                key = find_key(doc["keys"], key_id, http=http, now=time.time())
        if key is None:
            raise UnknownKey(f"{domain} publishes no key {key_id}")
        return key

    def _may_refetch(self, domain: str) -> bool:
        now = time.monotonic()
        if now - self._refetched.get(domain, -120.0) < 60:
            return False
        self._refetched[domain] = now
        return True


def federation(services: Services) -> Federation:
    """The ``Federation`` of *services* (one per ``Services`` object)."""
    fed = services.__dict__.get("_federation")
    if fed is None:
        fed = services.__dict__["_federation"] = Federation(services)
    return fed
