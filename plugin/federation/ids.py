"""UUIDv7 (RFC 9562) identifiers for records.

Record ids double as the change-feed cursor: peers ask for "everything after id X", so ids must
sort in issue order, both as 128-bit numbers and as their canonical lower-case strings (which
are what the database and the wire carry).  UUIDv7 puts a 48-bit Unix millisecond timestamp in
front, so ordering is by time across instances; within one process, this generator is also
strictly monotonic: several ids in the same millisecond (or after the wall clock steps
backwards) continue from the previous one by adding a random increment to the 74 bits after
the timestamp (RFC 9562 section 6.2, method 2 style), carrying into the timestamp on overflow.
The random increment keeps the next id unguessable.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

__all__ = ["UUID7Generator", "is_uuid7", "parse_uuid7", "uuid7", "uuid7_datetime", "uuid7_ms"]

_RAND_BITS = 74
_RAND_MASK = (1 << _RAND_BITS) - 1
_MAX_INCREMENT = 1 << 32
_UUID7_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class UUID7Generator:
    """Thread-safe, per-process strictly increasing UUIDv7 source with an injectable clock."""

    def __init__(self, clock_ms: Callable[[], int] = _now_ms) -> None:
        self._clock_ms = clock_ms
        self._lock = threading.Lock()
        self._last_ms = -1
        self._last_rand = 0

    def __call__(self) -> str:
        return str(self.new())

    def new(self) -> uuid.UUID:
        """Return the next UUIDv7, strictly greater than every earlier one from this object."""
        with self._lock:
            ms = self._clock_ms()
            if ms > self._last_ms:
                # Fresh millisecond: random tail with the top bit clear, leaving headroom
                # for increments before a carry into the timestamp.
                rand = secrets.randbits(_RAND_BITS - 1)
            else:
                ms = self._last_ms
                rand = self._last_rand + 1 + secrets.randbelow(_MAX_INCREMENT)
                if rand > _RAND_MASK:
                    ms += 1
                    rand = secrets.randbits(_RAND_BITS - 1)
            if ms >= 1 << 48:
                raise OverflowError("UUIDv7 timestamp overflow")
            self._last_ms, self._last_rand = ms, rand
        return _build(ms, rand)


def _build(ms: int, rand: int) -> uuid.UUID:
    rand_a = rand >> 62  # 12 bits
    rand_b = rand & ((1 << 62) - 1)
    value = (ms << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b
    return uuid.UUID(int=value)


_default = UUID7Generator()


def uuid7() -> str:
    """Return a new UUIDv7 as a canonical lower-case string (process-wide monotonic)."""
    return _default()


def is_uuid7(value: object) -> bool:
    """True if *value* is a canonical lower-case UUIDv7 string with the RFC 9562 variant."""
    return isinstance(value, str) and _UUID7_RE.match(value) is not None


def parse_uuid7(value: str) -> uuid.UUID:
    """Parse a canonical UUIDv7 string; raise ``ValueError`` for anything else."""
    if not is_uuid7(value):
        raise ValueError(f"not a canonical UUIDv7: {value!r}")
    return uuid.UUID(value)


def uuid7_ms(value: str | uuid.UUID) -> int:
    """Return the Unix timestamp in milliseconds embedded in a UUIDv7."""
    u = value if isinstance(value, uuid.UUID) else parse_uuid7(value)
    if u.version != 7:
        raise ValueError("not a version 7 UUID")
    return u.int >> 80


def uuid7_datetime(value: str | uuid.UUID) -> datetime:
    """Return the embedded timestamp as an aware UTC ``datetime`` (millisecond precision)."""
    return datetime.fromtimestamp(uuid7_ms(value) / 1000, tz=UTC)
