"""An in-process copy of the gate's refusal index, kept fresh from Redis by one thread.

The gate answers thousands of requests a second; a Redis round trip per request costs more
than the rest of the answer together, so the gate process holds the whole refusal hash in a
dict and follows its change stream (``plugin.review.gate_index``) with a blocking ``XREAD``
on a thread of its own: a refusal written by a worker or a moderator reaches the copy within
one Redis round trip (``bench/gate.py`` measures it under load). Each change carries a
sequence number; a gap (a trimmed stream, a flushed or restarted Redis) or a ``rebuild``
entry makes the thread reload the whole hash in one ``MULTI`` rather than patch a copy it can
no longer trust. When the stream is idle the thread checks the built marker and the sequence
every ``block_ms``, so a Redis that lost the index is rebuilt from SQL at once, not at the
next change.

The request path only reads: ``reason()`` looks at a dict that the thread replaces whole or
changes one key at a time, which the GIL makes atomic. ``fresh()`` says whether the copy
heard from Redis within ``stale_after_s``; the server applies the fail-open setting when not.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable

from redis import Redis
from redis.exceptions import RedisError

from plugin.review.gate_index import BUILT, CHANGES, REFUSED, SEQ, GateIndex, lookup_keys

log = logging.getLogger(__name__)
Refused = list[tuple[str, str | None, str]]


class IndexMirror:
    def __init__(self, redis: Redis, refused_from_sql: Callable[[], Refused], *,
                 block_ms: int = 100, stale_after_s: float = 2.0) -> None:
        self.redis = redis
        self.refused_from_sql = refused_from_sql
        self.block_ms, self.stale_after_s = block_ms, stale_after_s
        self.refused: dict[str, str] = {}
        self.seq = 0
        self.stream_id: bytes | None = None  # None: reload before following
        self.loaded = threading.Event()
        self.last_contact = 0.0  # monotonic time Redis last answered
        self.reloads = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gate-mirror", daemon=True)

    # -- the request path --------------------------------------------------------------------
    def reason(self, path: str) -> str | None:
        refused = self.refused
        for key in lookup_keys(path):
            found = refused.get(key)
            if found is not None:
                return found
        return None

    def fresh(self) -> bool:
        return self.loaded.is_set() and time.monotonic() - self.last_contact < self.stale_after_s

    # -- the follower thread -----------------------------------------------------------------
    def start(self) -> IndexMirror:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.block_ms / 1000 + 5)

    def _run(self) -> None:
        healthy = True
        while not self._stop.is_set():
            try:
                self.step()
                if not healthy:
                    log.warning("gate: redis reachable again; index reloaded")
                healthy = True
            except RedisError as exc:
                if healthy:
                    log.warning("gate: redis unavailable (%s); answering per "
                                "CONSENTRY_GATE_FAIL_OPEN until it is back", exc)
                healthy = False
                self.stream_id = None
                self._stop.wait(0.5)
            except Exception:  # a bad SQL rebuild must not kill the follower for good
                log.exception("gate: index follower failed; retrying")
                self.stream_id = None
                self._stop.wait(1.0)

    def step(self) -> None:
        """Reload if needed, then apply what the stream brings within ``block_ms``."""
        if self.stream_id is None:
            self.reload()
            return
        answer = self.redis.xread({CHANGES: self.stream_id}, count=1000, block=self.block_ms)
        self.last_contact = time.monotonic()
        if not answer:
            self._check()
            return
        for entry_id, fields in answer[0][1]:
            seq, op = int(fields[b"seq"]), fields[b"op"].decode()
            if seq != self.seq + 1 or op == "rebuild":
                self.reload()
                return
            keys = json.loads(fields[b"fields"])
            if op == "refuse":
                category = fields[b"category"].decode()
                for key in keys:
                    self.refused[key] = category
            else:
                for key in keys:
                    self.refused.pop(key, None)
            self.seq, self.stream_id = seq, entry_id

    def _check(self) -> None:
        pipe = self.redis.pipeline(transaction=False)
        pipe.get(SEQ)
        pipe.exists(BUILT)
        seq, built = pipe.execute()
        if not built or int(seq or 0) != self.seq:
            self.reload()

    def reload(self) -> None:
        """Copy the whole hash, its sequence and stream position in one MULTI."""
        for _ in range(2):
            pipe = self.redis.pipeline(transaction=True)
            pipe.hgetall(REFUSED)
            pipe.get(SEQ)
            pipe.exists(BUILT)
            pipe.xrevrange(CHANGES, count=1)
            refused, seq, built, last = pipe.execute()
            if built:
                break
            count = GateIndex(self.redis).rebuild(self.refused_from_sql())
            log.warning("gate: refusal index was missing; rebuilt from SQL (%d media)", count)
        self.refused = {k.decode(): v.decode() for k, v in refused.items()}
        self.seq = int(seq or 0)
        self.stream_id = last[0][0] if last else b"0-0"
        self.last_contact = time.monotonic()
        self.reloads += 1
        self.loaded.set()
