"""In-memory replay cache."""

from __future__ import annotations

import threading

from plugin.federation.replay import InMemoryReplayCache, ReplayCache


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_protocol_conformance() -> None:
    assert isinstance(InMemoryReplayCache(), ReplayCache)


def test_seen_records_and_expires() -> None:
    clock = FakeClock()
    cache = InMemoryReplayCache(clock=clock)
    assert cache.seen("k", 10) is False
    assert cache.seen("k", 10) is True
    clock.now += 9
    assert cache.seen("k", 10) is True
    clock.now += 2
    assert cache.seen("k", 10) is False  # expired, recorded afresh
    assert cache.seen("k", 10) is True


def test_bounded_size_evicts_oldest() -> None:
    clock = FakeClock()
    cache = InMemoryReplayCache(max_entries=3, clock=clock)
    for i in range(5):
        clock.now += 1
        assert cache.seen(f"k{i}", 100) is False
    assert len(cache) == 3
    assert cache.seen("k4", 100) is True
    assert cache.seen("k0", 100) is False


def test_purges_expired_entries() -> None:
    clock = FakeClock()
    cache = InMemoryReplayCache(clock=clock)
    for i in range(10):
        cache.seen(f"k{i}", 5)
    clock.now += 6
    cache.seen("fresh", 5)
    assert len(cache) == 1


def test_atomic_under_threads() -> None:
    cache = InMemoryReplayCache()
    results: list[bool] = []
    lock = threading.Lock()

    def worker() -> None:
        r = cache.seen("same", 60)
        with lock:
            results.append(r)

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(False) == 1
