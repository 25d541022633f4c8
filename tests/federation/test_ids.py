"""UUIDv7 generation, ordering and parsing."""

from __future__ import annotations

import itertools
import threading
import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plugin.federation.ids import (
    UUID7Generator,
    is_uuid7,
    parse_uuid7,
    uuid7,
    uuid7_datetime,
    uuid7_ms,
)


def test_format_version_variant_and_timestamp() -> None:
    gen = UUID7Generator(clock_ms=lambda: 1_750_000_000_123)
    value = gen()
    u = uuid.UUID(value)
    assert u.version == 7 and u.variant == uuid.RFC_4122
    assert value == str(u) and is_uuid7(value)
    assert uuid7_ms(value) == 1_750_000_000_123
    assert uuid7_datetime(value) == datetime(2025, 6, 15, 15, 6, 40, 123000, tzinfo=UTC)
    assert value.startswith("01977420-dc7b-7")


def test_many_in_one_millisecond_strictly_increase() -> None:
    gen = UUID7Generator(clock_ms=lambda: 1_000)
    ids = [gen() for _ in range(10_000)]
    assert ids == sorted(set(ids))
    assert all(uuid7_ms(i) <= 1_001 for i in ids)


def test_clock_going_backwards_stays_monotonic() -> None:
    ticks = iter([5_000, 5_000, 4_000, 3_000, 5_001])
    gen = UUID7Generator(clock_ms=lambda: next(ticks))
    ids = [gen() for _ in range(5)]
    assert ids == sorted(set(ids))
    assert [uuid7_ms(i) for i in ids[:4]] == [5_000] * 4


def test_counter_overflow_carries_into_timestamp() -> None:
    gen = UUID7Generator(clock_ms=lambda: 7_000)
    gen()
    gen._last_rand = (1 << 74) - 2  # force the next increment to overflow
    nxt = gen()
    assert uuid7_ms(nxt) == 7_001


def test_default_generator_threads() -> None:
    out: list[str] = []
    lock = threading.Lock()

    def work() -> None:
        local = [uuid7() for _ in range(500)]
        with lock:
            out.extend(local)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(out)) == len(out) == 4000


@given(st.lists(st.integers(0, 3), min_size=2, max_size=300))
def test_sequence_strictly_increasing_as_strings(steps: list[int]) -> None:
    # Clock advancing by 0..3 ms between calls (0 = same millisecond).
    now = [1_700_000_000_000]

    def tick() -> int:
        return now[0]

    gen = UUID7Generator(clock_ms=tick)
    ids = []
    for step in steps:
        now[0] += step
        ids.append(gen())
    assert all(a < b for a, b in itertools.pairwise(ids))
    assert all(uuid.UUID(a).int < uuid.UUID(b).int for a, b in itertools.pairwise(ids))


@pytest.mark.parametrize(
    "bad",
    [
        "0197736C-7800-7ABC-8DEF-0123456789AB",  # upper case is not canonical
        "0197736c-7800-4abc-8def-0123456789ab",  # version 4
        "0197736c-7800-7abc-cdef-0123456789ab",  # wrong variant
        "0197736c78007abc8def0123456789ab",
        "",
        None,
    ],
)
def test_parse_refuses_non_canonical(bad: object) -> None:
    assert not is_uuid7(bad)
    with pytest.raises(ValueError):
        parse_uuid7(bad)  # type: ignore[arg-type]


def test_uuid7_ms_refuses_other_versions() -> None:
    with pytest.raises(ValueError):
        uuid7_ms(uuid.uuid4())
