"""PageWriter: batches written in order, one in flight, and nothing after a failed batch."""

from __future__ import annotations

import threading

import pytest

from plugin.federation.page_writer import PageWriter


class Pages:
    """A batch of page numbers; writing it appends them to *log* (or raises for *broken*)."""

    def __init__(self, log: list[list[int]], *pages: int, broken: bool = False,
                 gate: threading.Event | None = None) -> None:
        self.log, self.pages, self.broken, self.gate = log, list(pages), broken, gate
        self.prepared_on: str | None = None

    @property
    def size(self) -> int:
        return len(self.pages)

    def absorb(self, later: Pages) -> None:
        self.pages += later.pages
        self.broken = self.broken or later.broken
        self.gate = self.gate or later.gate

    def prepare(self) -> None:
        self.prepared_on = threading.current_thread().name

    def __call__(self) -> None:
        assert self.prepared_on == "MainThread"  # prepared by the submitter, before the write
        if self.gate is not None:
            self.gate.wait(5)
        if self.broken:
            raise RuntimeError(f"pages {self.pages} failed")
        self.log.append(self.pages)


def test_pages_are_gathered_into_batches_written_in_order() -> None:
    log: list[list[int]] = []
    writer = PageWriter(batch_records=3)
    for n in range(7):
        writer.submit(Pages(log, n), {("pdq", f"v{n}", "ncii"): [f"r{n}"]})
    assert writer.gathered == 1  # page 6 waits for more
    writer.close()
    assert log == [[0, 1, 2], [3, 4, 5], [6]]


def test_keys_of_pages_not_committed_are_answered_the_newest_first() -> None:
    log: list[list[int]] = []
    gate = threading.Event()
    writer = PageWriter(batch_records=3)
    key = ("pdq", "v", "ncii")
    writer.submit(Pages(log, 0, gate=gate), {key: ["r0"]})
    assert writer.uncommitted(key) == ["r0"]  # gathered
    writer.submit(Pages(log, 1), {key: ["r1"]})
    writer.submit(Pages(log, 2), {("pdq", "w", "ncii"): ["r2"]})
    assert writer.gathered == 0  # handed over, held in flight by the gate
    assert writer.uncommitted(key) == ["r1"]  # page 1's record superseded page 0's
    writer.submit(Pages(log, 3), {key: ["r3"]})
    assert writer.uncommitted(key) == ["r3"]  # gathered, newer than the batch in flight
    assert writer.uncommitted(("pdq", "w", "ncii")) == ["r2"]
    gate.set()
    writer.close()
    assert log == [[0, 1, 2], [3]]


def test_nothing_gathered_after_a_failed_batch_is_written() -> None:
    log: list[list[int]] = []
    gate = threading.Event()
    writer = PageWriter(batch_records=2)
    writer.submit(Pages(log, 0, broken=True, gate=gate), {})
    writer.submit(Pages(log, 1), {})  # handed over: fails once the gate opens
    writer.submit(Pages(log, 2), {})  # gathered behind the failing batch
    gate.set()
    with pytest.raises(RuntimeError, match=r"pages \[0, 1\] failed"):
        writer.submit(Pages(log, 3), {})  # would hand over 2-3: waits for 0-1 first
    writer.close()  # the error path of a sync run: must not write pages 2 and 3
    assert log == []
    assert writer.gathered == 0
