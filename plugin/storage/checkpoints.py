"""Keep SQLite's WAL checkpoints, and their fsyncs, out of bulk writers' commits.

Why: in WAL mode the commit that leaves the log over ``wal_autocheckpoint`` pages (1,000 by
default, 4 MiB) copies the log into the database file and fsyncs both, inside that commit.
One page of a cold federation sync writes thousands of pages (each random hash key lands in
another index leaf), so every page's commit paid a checkpoint: 28 of the 79 µs that storing a
received record cost at 300k rows, and the writer is a cold sync's critical path.

A bulk session (``Database.bulk_session``) raises its connection's threshold to
``BULK_AUTOCHECKPOINT`` for its commit, then nudges this module's thread, which runs a PASSIVE
checkpoint on a connection of its own, at most every ``BATCH_WINDOW_S``, while the writer goes
on with the next page. Nothing
about durability changes (``synchronous=NORMAL``: a commit is safe in the WAL, a checkpoint
fsyncs before the log is reused), and the threshold stays a backstop: should the thread fall
behind (a long reader pins the log), the bulk commit checkpoints itself at 64 MiB.
"""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import Engine

__all__ = ["BULK_AUTOCHECKPOINT", "DEFAULT_AUTOCHECKPOINT", "Checkpointer"]

log = logging.getLogger(__name__)

DEFAULT_AUTOCHECKPOINT = 1000  # pages: SQLite's default, what every other connection keeps
BULK_AUTOCHECKPOINT = 16384  # pages (64 MiB): only reached when the checkpointer lags
IDLE_EXIT_S = 5.0  # the thread ends after this long without a nudge; the next one restarts it
#: After a nudge, wait this long for more commits: one checkpoint then copies a page that
#: several commits dirtied once (measured: 53 checkpoints doing the work of 240 in a quarter
#: of the time, for a 200k-record sync).
BATCH_WINDOW_S = 0.5


class Checkpointer:
    """One background thread per database that checkpoints after each bulk commit."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.runs = 0  # checkpoints run (tests and diagnostics)

    def nudge(self) -> None:
        """A bulk commit happened: checkpoint soon (starting the thread if it is idle)."""
        with self._lock:
            self._wake.set()
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="wal-checkpoint",
                                                daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            if not self._wake.wait(IDLE_EXIT_S):
                with self._lock:
                    if not self._wake.is_set():
                        self._thread = None
                        return
            self._wake.clear()
            time.sleep(BATCH_WINDOW_S)
            try:
                with self._engine.connect() as conn:
                    conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
                self.runs += 1
            except Exception as exc:  # a busy or closing database: the backstop covers it
                log.debug("background WAL checkpoint failed: %s", exc)
