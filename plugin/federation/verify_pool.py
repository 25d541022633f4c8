"""Record-proof verification, in parallel when there is a lot of it.

Three callers: a small feed page (steady state) is verified in full on receipt
(``verify_many``); a backfill page gets its strict parse and ``check_many`` (every rule but the
signature) on the pool while the previous page is written (``submit_page_checks``: the worker
parses the body itself, so no records are pickled); the background pass of
``plugin.federation.proofs`` verifies the deferred proofs in full (``verify_texts``). A cold
sync verifies up to 10^6 Ed25519 proofs, so large batches are split across a process pool
(spawned once per process, lazily, sized by ``federation_verify_workers`` or the CPU count).
Workers receive plain data (record texts or a page body, the peer's published keys) and
return, per record, ``None`` or a refusal code; the key refetch for an unknown key id stays in
the calling process.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from .errors import FederationError
from .identity import parse_key_url
from .jcs import loads as strict_loads
from .records import check_record, verify_record
from .wellknown import find_key

__all__ = ["check_many", "pool_size", "submit_page_checks", "verify_many", "verify_texts"]

PARALLEL_MIN = 400
_pool: ProcessPoolExecutor | None = None
_pool_size = 0


def _verify_chunk(args: tuple[list[Any], list[dict[str, Any]], float]) -> list[str | None]:
    records, keys, now = args

    cache: dict[str, Any] = {}

    def resolve(method: str) -> Any:
        _, key_id = parse_key_url(method)
        if key_id not in cache:
            cache[key_id] = find_key(keys, key_id, http=False)
        return cache[key_id]

    return _codes(records, lambda record: verify_record(record, resolve, clock=lambda: now))


def _codes(records: list[Any], check: Callable[[Any], None]) -> list[str | None]:
    """``check`` each record: ``None`` when it passes, else its refusal code."""
    out: list[str | None] = []
    for record in records:
        try:
            check(record)
            out.append(None)
        except FederationError as exc:
            out.append(exc.code)
        except Exception:  # a hostile record must not stop the page
            out.append("invalid_record")
    return out


def _verify_texts(args: tuple[list[str], list[dict[str, Any]], float]) -> list[str | None]:
    """``_verify_chunk`` over stored record texts: parsing happens in the worker too."""
    texts, keys, now = args
    records: list[Any] = []
    for text in texts:
        try:
            records.append(json.loads(text))
        except ValueError:
            records.append(None)
    return _verify_chunk((records, keys, now))


def _check_body(args: tuple[bytes, set[str], float]) -> list[str | None] | str:
    """The strict parse of a feed page body (``jcs.loads``), then ``check_many`` of its
    records; the parse's error message instead when the body is not strict JSON."""
    body, key_ids, now = args
    try:
        records = strict_loads(body)["records"]
    except (ValueError, KeyError, TypeError) as exc:
        return str(exc) or exc.__class__.__name__
    return check_many(records, key_ids, now=now)


def pool_size(workers: int = 0) -> int:
    """The pool's size: ``federation_verify_workers``, or the CPU count (at most 8)."""
    return workers or min(8, os.cpu_count() or 1)


def submit_page_checks(body: bytes, key_ids: set[str], *, workers: int = 0
                       ) -> Future[list[str | None] | str] | None:
    """Start the strict parse and ``check_many`` of a page on the pool (None: no pool)."""
    size = pool_size(workers)
    if size <= 1:
        return None
    return _get_pool(size).submit(_check_body, (body, key_ids, time.time()))


def check_many(records: list[Any], key_ids: set[str], *,
               now: float | None = None) -> list[str | None]:
    """``check_record`` (every rule but the signature) for each record."""
    at = time.time() if now is None else now
    return _codes(records, lambda record: check_record(record, key_ids, clock=lambda: at))


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
    return _fan_out(_verify_chunk, records, keys, workers)


def verify_texts(texts: list[str], keys: list[dict[str, Any]], *,
                 workers: int = 0) -> list[str | None]:
    """``verify_many`` for stored record texts (the background proof pass)."""
    return _fan_out(_verify_texts, texts, keys, workers)


def _fan_out(work: Callable[[tuple[list[Any], list[dict[str, Any]], float]], list[str | None]],
             items: list[Any], keys: list[dict[str, Any]], workers: int) -> list[str | None]:
    """*work* over *items* in place when few or no pool; else in chunks, two per process."""
    now = time.time()
    size = pool_size(workers)
    if size <= 1 or len(items) < PARALLEL_MIN:
        return work((items, keys, now))
    step = -(-len(items) // (size * 2))
    chunks = [(items[i:i + step], keys, now) for i in range(0, len(items), step)]
    out: list[str | None] = []
    for part in _get_pool(size).map(work, chunks):
        out.extend(part)
    return out
