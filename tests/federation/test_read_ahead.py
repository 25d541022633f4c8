"""read_ahead: a cursor chain fetched on a thread ahead of its consumer, in order, bounded."""

from __future__ import annotations

import threading
import time

import pytest

from plugin.federation.errors import PeerUnavailable
from plugin.federation.read_ahead import read_ahead


def _settled(fetched: list[int], at_least: int) -> int:
    """How many fetches ran once the producer stopped for good (blocked on a full queue)."""
    deadline = time.monotonic() + 5
    while len(fetched) < at_least and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)
    return len(fetched)


def test_results_arrive_in_order_until_follow_says_stop() -> None:
    with read_ahead(lambda n: n * 10, 1, lambda r: r // 10 + 1 if r < 50 else None) as results:
        assert list(results) == [10, 20, 30, 40, 50]


def test_an_error_arrives_after_the_results_before_it_and_ends_the_chain() -> None:
    fetched: list[int] = []

    def fetch(n: int) -> int:
        fetched.append(n)
        if n == 3:
            raise PeerUnavailable("peer down")
        return n

    got: list[int] = []
    with read_ahead(fetch, 1, lambda n: n + 1) as results:
        with pytest.raises(PeerUnavailable):
            for item in results:
                got.append(item)
    assert got == [1, 2]
    assert fetched == [1, 2, 3]  # nothing fetched past the failure


def test_fetching_runs_ahead_of_a_slow_consumer_by_at_most_depth() -> None:
    fetched: list[int] = []

    def fetch(n: int) -> int:
        fetched.append(n)
        return n

    with read_ahead(fetch, 0, lambda n: n + 1, depth=3) as results:
        assert next(results) == 0
        # one taken, three waiting, one more fetched and held until there is room
        assert _settled(fetched, 4) in (4, 5)
        assert [next(results) for _ in range(3)] == [1, 2, 3]


def test_leaving_early_stops_the_thread() -> None:
    fetched: list[int] = []

    def fetch(n: int) -> int:
        fetched.append(n)
        return n

    with read_ahead(fetch, 0, lambda n: n + 1, depth=2, name="ahead-under-test") as results:
        for item in results:
            if item == 1:
                break
    assert not [t for t in threading.enumerate() if t.name == "ahead-under-test"]
    count = len(fetched)
    time.sleep(0.1)
    assert len(fetched) == count <= 5
