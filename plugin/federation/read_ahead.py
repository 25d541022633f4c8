"""``read_ahead``: a chain of fetches, each needing the cursor the previous one returned,
run on a helper thread up to *depth* results ahead of whoever consumes them.

Why: a feed page is useful only after three steps of different machines' work: the peer
serves it, we receive and parse it, and the process pool checks its records. Fetching page
N+1 only once page N was handed over put that whole chain's latency between consecutive pages
whenever it was longer than applying a page (measured in a cold sync: the main thread ran
3.5 CPU-s of a 12.5 s sync and waited the rest). Running the chain ahead lets the pool check
page N+1 while page N+2 is served, and the consumer find pages ready.

Errors travel in order: a fetch that fails is raised to the consumer where its result would
have been, after every result before it; nothing after it is fetched. Leaving the ``with``
block (at the end, by break or by error) stops the thread after the fetch in progress.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

__all__ = ["read_ahead"]

C = TypeVar("C")
T = TypeVar("T")

_END = object()


@contextmanager
def read_ahead(fetch: Callable[[C], T], first: C, follow: Callable[[T], C | None], *,
               depth: int = 4, name: str = "read-ahead") -> Iterator[Iterator[T]]:
    """Yield an iterator over ``fetch(first)``, ``fetch(follow(that))``, ... until *follow*
    returns None; fetched on a thread, at most *depth* results waiting."""
    results: queue.Queue[object] = queue.Queue(depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                results.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        cursor: C | None = first
        while cursor is not None and not stop.is_set():
            try:
                item = fetch(cursor)
            except BaseException as exc:  # delivered to the consumer, in order
                put(exc)
                return
            if not put(item):
                return
            cursor = follow(item)
        put(_END)

    def consume() -> Iterator[T]:
        while True:
            item = results.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    try:
        yield consume()
    finally:
        stop.set()
        thread.join()
