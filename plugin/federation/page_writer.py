"""``PageWriter``: a sync run's page writes, one page behind, on a helper thread.

Why: in a cold sync half of the receiving side's time is SQLite executing inserts (three
tables, five indexes, ~750 bytes a record), which runs without the interpreter lock; the other
half is Python deciding and building the rows. Writing page N on a helper thread while page
N+1 is decided overlaps the two.

What keeps it correct:

* writes run in page order, one at a time; submitting page N+1's write first waits for page
  N's, so at most one page is in flight, and a page's cursor checkpoint is committed in the
  same transaction as its write (a crash repeats at most part of one page);
* deciding page N+1 reads the database while page N's write may be in flight: the supersede
  lookup adds ``carry`` (the hash keys of the in-flight page, kept in memory), and the
  duplicate lookup needs nothing (feed ids grow: page N+1's ids are all above page N's);
* anything that reads what earlier records did (a retraction, a negative opinion, a withdraw)
  first ``drain``s: it waits for the write in flight and re-raises its error, if any.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

__all__ = ["PageWriter"]


class PageWriter:
    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="page-writer")
        self._pending: Future[Any] | None = None
        #: (hash_type, hash_value, category) -> record ids of the page last submitted
        self.carry: dict[tuple[str, str, str], list[str]] = {}
        #: bank name -> id, resolved once per run instead of once per page
        self.bank_ids: dict[str, int] = {}

    def submit(self, task: Callable[[], Any]) -> None:
        """Run *task* after the write in flight (whose error, if any, is raised here)."""
        self.drain()
        self._pending = self._pool.submit(task)

    def drain(self) -> None:
        """Wait for the write in flight; re-raise its error."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def close(self) -> None:
        try:
            self.drain()
        finally:
            self._pool.shutdown(wait=True)

    def shutdown(self) -> None:
        """Stop the thread after the write in flight, whatever its outcome (cleanup path)."""
        self._pool.shutdown(wait=True)
