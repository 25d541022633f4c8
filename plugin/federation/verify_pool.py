"""Record-proof verification of a feed page, in parallel when the page is large.

A cold sync verifies up to 10^6 Ed25519 proofs; one core does roughly 10^4 a second, so large
pages are split across a process pool (spawned once per process, lazily, sized by
``federation_verify_workers`` or the CPU count). Workers receive the records and the peer's
published keys as plain JSON data and return, per record, ``None`` or a refusal code; the key
refetch for an unknown key id stays in the calling process.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from .errors import FederationError
from .identity import parse_key_url
from .records import verify_record
from .wellknown import find_key

__all__ = ["verify_many"]

PARALLEL_MIN = 400
_pool: ProcessPoolExecutor | None = None
_pool_size = 0


def _verify_chunk(args: tuple[list[Any], list[dict[str, Any]], float]) -> list[str | None]:
    records, keys, now = args

    def resolve(method: str) -> Any:
        _, key_id = parse_key_url(method)
        return find_key(keys, key_id, http=False)

    out: list[str | None] = []
    for record in records:
        try:
            verify_record(record, resolve, clock=lambda: now)
            out.append(None)
        except FederationError as exc:
            out.append(exc.code)
        except Exception:  # a hostile record must not stop the page
            out.append("invalid_record")
    return out


def _get_pool(workers: int) -> ProcessPoolExecutor:
    global _pool, _pool_size
    if _pool is None or _pool_size != workers:
        if _pool is not None:
            _pool.shutdown(cancel_futures=True)
        _pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
        _pool_size = workers
    return _pool


def verify_many(records: list[Any], keys: list[dict[str, Any]], *,
                workers: int = 0) -> list[str | None]:
    """Verify each record against *keys*; ``None`` for valid, else the refusal code."""
    now = time.time()
    size = workers or min(8, os.cpu_count() or 1)
    if size <= 1 or len(records) < PARALLEL_MIN:
        return _verify_chunk((records, keys, now))
    step = -(-len(records) // (size * 2))
    chunks = [(records[i:i + step], keys, now) for i in range(0, len(records), step)]
    out: list[str | None] = []
    for part in _get_pool(size).map(_verify_chunk, chunks):
        out.extend(part)
    return out
