"""``PageWriter``: a sync run's page writes, batched and one batch behind, on a helper thread.

Why a helper thread: in a cold sync half of the receiving side's time is SQLite executing
inserts, which runs without the interpreter lock; the other half is Python deciding and
building the rows. Writing batch N on a helper thread while the pages of batch N+1 are decided
overlaps the two. A batch is ``prepare``d (canonical values, digests, bound parameters) on the
submitting thread, so the helper thread needs the lock only to bind and commit: otherwise it
waited for the lock longer than SQLite worked (writer busy 53 s of a 59 s sync at 10^6
records, 34 s of it on the CPU).

Why batches (group commit): two indexes a record lands in are keyed by random hashes (the
bank's ``(bank, type, digest)`` and the received rows' hash index), so each insert dirties a
random leaf, and every dirty leaf is written to the WAL (and later to the database) once per
commit. One page of 1,000 records per commit writes about one leaf per record once the banks
are large; 50 pages per commit write each touched leaf once for all of them. Measured on the
real schema at 10^6 random-hash records: 72 µs of SQLite per record committing every 1,000,
31 µs committing every 50,000 (``docs/federation.md``). A sync run therefore hands
``batch_records`` worth of pages (``federation_backfill_batch``, 50,000; the process peaks
about 480 MB above its resting size in a 10^6-record backfill) to the thread in one
transaction while it backfills; a steady-state run (small
pages, flood counting wants every page committed) writes page by page.

What keeps it correct:

* batches are written in order, one at a time; handing batch N+1 over first waits for batch N,
  so at most one batch is in flight and one is being gathered, and a batch's last cursor is
  committed in the same transaction as its pages (a crash repeats at most one batch: the
  re-applied records are skipped as already received, or re-added idempotently);
* deciding a page reads the database while earlier pages may be unwritten: the supersede
  lookup adds ``uncommitted(key)`` (the record ids, per hash key, of the pages gathered or in
  flight, kept in memory), and the duplicate lookup needs nothing (feed ids grow: a page's
  ids are all above every earlier page's);
* anything that reads what earlier records did (a retraction, a negative opinion, a withdraw)
  first ``drain``s: the gathered pages are written and waited for, and an error is re-raised;
* once a batch failed, the pages gathered after it are dropped, never written.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol, Self

__all__ = ["Batch", "PageWriter"]

Key = tuple[str, str, str]  # (hash_type, hash_value, category)


class Batch(Protocol):
    """Pending writes of one or more pages: merged in page order, then run as one transaction."""

    @property
    def size(self) -> int: ...

    def absorb(self, later: Self) -> None: ...

    def prepare(self) -> None:
        """Do what needs no database; called on the submitting thread, before the write."""

    def __call__(self) -> None: ...


class PageWriter:
    def __init__(self, batch_records: int = 1) -> None:
        self.batch_records = batch_records
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="page-writer")
        self._pending: Future[Any] | None = None
        self._gathered: Batch | None = None
        #: hash key -> record ids still active among the pages gathered / in flight
        self._gathered_keys: dict[Key, list[str]] = {}
        self._flight_keys: dict[Key, list[str]] = {}

    @property
    def gathered(self) -> int:
        """Records submitted but not handed to the thread yet."""
        return self._gathered.size if self._gathered is not None else 0

    def uncommitted(self, key: Key) -> list[str]:
        """Record ids for *key* written by pages not yet committed (a later page's replace
        an earlier one's: that page superseded them)."""
        return self._gathered_keys.get(key) or self._flight_keys.get(key, [])

    def submit(self, batch: Batch, keys: dict[Key, list[str]]) -> None:
        """Add a page's *batch* (and its live hash *keys*); hand the gathered pages to the
        thread once they hold ``batch_records`` records."""
        if self._gathered is None:
            self._gathered = batch
        else:
            self._gathered.absorb(batch)
        self._gathered_keys.update(keys)
        if self._gathered.size >= self.batch_records:
            self._hand_over()

    def drain(self) -> None:
        """Write everything submitted and wait for it; re-raise a write's error."""
        self._hand_over()
        self._wait()

    def close(self) -> None:
        try:
            self.drain()
        finally:
            self._pool.shutdown(wait=True)

    def shutdown(self) -> None:
        """Stop the thread after the write in flight, whatever its outcome (cleanup path);
        pages not handed over are dropped, their cursor with them."""
        self._gathered = None
        self._pool.shutdown(wait=True)

    def _hand_over(self) -> None:
        if self._gathered is not None:
            # interpreter work here, while the batch before is written, so that the thread
            # mostly runs SQLite
            self._gathered.prepare()
        self._wait()  # keeps one batch in flight, and its keys until it is committed
        batch, self._gathered = self._gathered, None
        self._flight_keys, self._gathered_keys = self._gathered_keys, {}
        if batch is not None:
            self._pending = self._pool.submit(batch)

    def _wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is None:
            return
        try:
            pending.result()
        except BaseException:
            # Nothing gathered after a failed batch may commit: its cursor would skip the
            # failed pages. The next run starts again from the last committed cursor.
            self._gathered, self._gathered_keys = None, {}
            raise
