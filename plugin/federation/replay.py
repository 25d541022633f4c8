"""Replay protection for HTTP message signatures.

A signed request stays cryptographically valid for its whole freshness window, so anyone who
observes one (a logging proxy, a compromised relay) could resend it.  Each signature carries a
random ``nonce``; the verifier records ``(keyid, nonce)`` for at least the window length and
refuses a second use.  The store is a tiny protocol so the web layer can plug in Redis
(``SET key 1 NX EX ttl``) for multi-process deployments; :class:`InMemoryReplayCache` serves
single-process use and tests.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

__all__ = ["InMemoryReplayCache", "ReplayCache"]


@runtime_checkable
class ReplayCache(Protocol):
    def seen(self, key: str, ttl_s: int) -> bool:
        """Atomically record *key* for *ttl_s* seconds; return True if it was already there."""
        ...


class InMemoryReplayCache:
    """Thread-safe, bounded, in-process :class:`ReplayCache`.

    When *max_entries* is reached, expired entries are purged first; if the cache is still
    full, the entries closest to expiry are evicted (an evicted nonce could then be replayed
    inside its remaining window, so size the cache for the expected request rate).
    """

    def __init__(
        self, max_entries: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._max = max_entries
        self._clock = clock
        self._expiry: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []
        self._lock = threading.Lock()

    def seen(self, key: str, ttl_s: int) -> bool:
        now = self._clock()
        with self._lock:
            expiry = self._expiry.get(key)
            if expiry is not None and expiry > now:
                return True
            self._purge(now)
            while len(self._expiry) >= self._max and self._heap:
                when, old = heapq.heappop(self._heap)
                if self._expiry.get(old) == when:
                    del self._expiry[old]
            self._expiry[key] = now + ttl_s
            heapq.heappush(self._heap, (now + ttl_s, key))
            return False

    def _purge(self, now: float) -> None:
        while self._heap and self._heap[0][0] <= now:
            when, key = heapq.heappop(self._heap)
            if self._expiry.get(key) == when:
                del self._expiry[key]

    def __len__(self) -> int:
        with self._lock:
            return len(self._expiry)
