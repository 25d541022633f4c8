"""Benchmark: ``PdqIndex`` vs faiss ``IndexBinaryFlat`` vs HMA's ``IndexBinaryMultiHash``.

Why: the index exists to be faster than the linear scan and than HMA's faiss multi-hash set-up
while staying exact; this prints all three side by side, from one run on the same data and the
same queries, single-threaded (OMP/OpenBLAS/MKL threads = 1, ``faiss.omp_set_num_threads(1)``).

Data: random 256-bit codes, ids ``0..n-1``. Each query gets 4 planted codes at distances drawn
from 0..40 (so some are just inside, some just outside radius 31). ``--clustered`` instead
builds families of 1,000 near-duplicates (each member 0..20 random bit flips from its centre)
and queries near family centres (0..16 flips), so every query has hundreds of true matches and
the hash buckets are badly skewed -- the hard case for multi-index hashing.

Measured per method: build time; memory as the process RSS growth after the build ("rss") and
the peak RSS growth during it ("peak", sampled every 5 ms by a thread, via psutil), plus for
``PdqIndex`` the bytes of its numpy arrays ("arrays"); per-query latency p50/p99/mean of
single-query calls, the methods taking turns query by query (so load from elsewhere on a shared
machine hits all of them alike); recall against ``IndexBinaryFlat`` (the exact reference).
faiss radii are strict (``d < radius``), so faiss is asked for ``radius + 1`` to match
``d <= radius``.

    .venv/bin/python bench/match.py                       # 100k and 1M
    .venv/bin/python bench/match.py --sizes 10000000 --baseline-queries 200
    .venv/bin/python bench/match.py --clustered
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import ctypes  # noqa: E402
import gc  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

import faiss  # noqa: E402
import numpy as np  # noqa: E402
import psutil  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from plugin.index import PdqIndex  # noqa: E402

MB = 1024 * 1024
PLANTED_PER_QUERY = 4
FAMILY_SIZE = 1000
FAMILY_FLIPS = 20
QUERY_FLIPS = 16

Results = list[dict[int, int]]  # per query: id -> distance


@dataclass
class Row:
    """One method's measurements."""

    name: str
    build_s: float = 0.0
    rss_mb: float = 0.0
    peak_mb: float = 0.0
    arrays_mb: float | None = None
    lat_ms: np.ndarray = field(default_factory=lambda: np.empty(0))
    recall: float | None = None
    exact_dist: bool | None = None
    hits: float = 0.0


def release_free_memory() -> None:
    """Collect garbage and hand freed heap pages back to the OS, so RSS deltas mean something.

    Without ``malloc_trim`` glibc keeps freed memory resident and reuses it, and a later
    allocation (e.g. faiss copying the codes) shows up as ~0 MB of RSS growth.
    """
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:  # not glibc: deltas may undercount
        pass


@contextmanager
def rss_watch(out: dict[str, float]) -> Iterator[None]:
    """Record RSS growth (``rss``) and peak RSS growth (``peak``) over the block, in MB."""
    proc = psutil.Process()
    release_free_memory()
    start = proc.memory_info().rss
    peak = [start]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.005):
            peak[0] = max(peak[0], proc.memory_info().rss)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        release_free_memory()  # count what the method holds, not the build's freed scratch
        end = proc.memory_info().rss
        out["rss"] = (end - start) / MB
        out["peak"] = (max(peak[0], end) - start) / MB


def flip_random_bits(
    codes: np.ndarray, flips: np.ndarray, rng: np.random.Generator, distinct: bool = True
) -> None:
    """In place: flip ``flips[i]`` random bits of ``codes[i]`` (vectorised, in chunks).

    ``distinct=False`` draws positions with replacement (a repeat cancels, so the distance is
    at most ``flips[i]``): much faster, used for the 10M-member clustered families.
    """
    n = codes.shape[0]
    kmax = int(flips.max(initial=0))
    if kmax == 0:
        return
    step = 1 << 18
    for start in range(0, n, step):
        stop = min(n, start + step)
        if distinct:  # the first kmax of a random permutation of 0..255, per row
            keys = rng.random((stop - start, 256), dtype=np.float32)
            pos = np.argsort(keys, axis=1)[:, :kmax]
        else:
            pos = rng.integers(0, 256, (stop - start, kmax))
        rows = np.arange(start, stop)
        for j in range(kmax):
            p = pos[:, j]
            bit = (flips[start:stop] > j).astype(np.uint8) << (7 - (p & 7)).astype(np.uint8)
            codes[rows, p >> 3] ^= bit


def make_random(n: int, nq: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    codes = rng.integers(0, 256, (n, 32), dtype=np.uint8)
    queries = rng.integers(0, 256, (nq, 32), dtype=np.uint8)
    k = min(n, nq * PLANTED_PER_QUERY)
    slots = rng.choice(n, size=k, replace=False)
    planted = queries[np.arange(k) % nq].copy()
    flip_random_bits(planted, rng.integers(0, 41, k), rng)
    codes[slots] = planted
    return codes, queries


def make_clustered(n: int, nq: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    n_fam = max(1, n // FAMILY_SIZE)
    centres = rng.integers(0, 256, (n_fam, 32), dtype=np.uint8)
    family = np.arange(n) % n_fam
    codes = centres[family]
    flip_random_bits(codes, rng.integers(0, FAMILY_FLIPS + 1, n), rng, distinct=False)
    queries = centres[rng.integers(0, n_fam, nq)]
    flip_random_bits(queries, rng.integers(0, QUERY_FLIPS + 1, nq), rng)
    return codes, queries


def ours_search(index: PdqIndex, radius: int) -> Callable[[np.ndarray], dict[int, int]]:
    def run(q: np.ndarray) -> dict[int, int]:
        return dict(index.search(q, radius))

    return run


def faiss_search(index: faiss.IndexBinary, radius: int) -> Callable[[np.ndarray], dict[int, int]]:
    def run(q: np.ndarray) -> dict[int, int]:
        _lims, dist, ids = index.range_search(q.reshape(1, 32), radius + 1)
        return dict(zip(ids.tolist(), dist.tolist(), strict=True))

    return run


def compare(got: Results, ref: Results) -> tuple[float, bool]:
    """Recall of ``got`` vs ``ref`` and whether every shared hit has the same distance."""
    found = total = 0
    same = True
    for g, r in zip(got, ref, strict=True):
        total += len(r)
        found += sum(1 for i in r if i in g)
        same &= all(g[i] == d for i, d in g.items() if i in r)
        same &= set(g) <= set(r)
    return (found / total if total else 1.0), same


def build(row: Row, make: Callable[[], object]) -> object:
    """Build an index with ``make()``, recording its build time and memory in ``row``."""
    mem: dict[str, float] = {}
    with rss_watch(mem):
        t0 = time.perf_counter()
        index = make()
        row.build_s = time.perf_counter() - t0
    row.rss_mb, row.peak_mb = mem["rss"], mem["peak"]
    return index


def interleaved(
    runs: list[tuple[Row, Callable[[np.ndarray], dict[int, int]], int]], queries: np.ndarray
) -> list[Results]:
    """Time single-query calls, the methods taking turns on each query.

    Taking turns means a burst of load from elsewhere on a shared box hits every method alike
    instead of one method's whole run. ``runs``: (row, search function, number of queries).
    """
    for _row, fn, _limit in runs:  # warm-up (caches, lazy init)
        for q in queries[:5]:
            fn(q)
    lat = [np.empty(min(limit, len(queries))) for _row, _fn, limit in runs]
    results: list[Results] = [[] for _ in runs]
    for i, q in enumerate(queries):
        for k, (_row, fn, limit) in enumerate(runs):
            if i >= limit:
                continue
            t0 = time.perf_counter()
            res = fn(q)
            lat[k][i] = time.perf_counter() - t0
            results[k].append(res)
    for k, (row, _fn, _limit) in enumerate(runs):
        row.lat_ms = lat[k] * 1e3
        row.hits = float(np.mean([len(r) for r in results[k]]))
    return results


def bench_size(n: int, args: argparse.Namespace) -> list[Row]:
    rng = np.random.default_rng(args.seed + n)
    make = make_clustered if args.clustered else make_random
    codes, queries = make(n, args.queries, rng)
    ids = np.arange(n, dtype=np.int64)
    nb = args.baseline_queries

    def make_ours() -> PdqIndex:
        index = PdqIndex(radius=args.radius)
        index.add(ids, codes)
        return index

    def make_flat() -> faiss.IndexBinaryFlat:
        flat = faiss.IndexBinaryFlat(256)
        flat.add(codes)
        return flat

    def make_multihash() -> faiss.IndexBinaryMultiHash:
        mh = faiss.IndexBinaryMultiHash(256, 16, 16)
        mh.nflip = 1
        mh.add(codes)
        return mh

    ours = Row("PdqIndex (ours, MIH 16x16 CSR)")
    index = build(ours, make_ours)
    assert isinstance(index, PdqIndex)
    ours.arrays_mb = index.nbytes / MB
    runs = [(ours, ours_search(index, args.radius), len(queries))]
    if not args.no_flat:
        flat_row = Row("faiss IndexBinaryFlat")
        runs.append((flat_row, faiss_search(build(flat_row, make_flat), args.radius), nb))
    if not args.no_multihash:
        mh_row = Row("faiss IndexBinaryMultiHash(256,16,16) nflip=1 (HMA)")
        runs.append((mh_row, faiss_search(build(mh_row, make_multihash), args.radius), nb))
    results = interleaved(runs, queries)
    ours.hits = float(np.mean([len(r) for r in results[0][:nb]]))  # same queries as faiss

    batch = Row("PdqIndex search_many(8) / 8")
    t_batches = []
    for s in range(0, len(queries) - 7, 8):
        t0 = time.perf_counter()
        index.search_many(queries[s : s + 8], args.radius)
        t_batches.append((time.perf_counter() - t0) / 8)
    batch.lat_ms = np.array(t_batches) * 1e3

    if not args.no_flat:
        ref = results[1]
        for (row, _fn, _limit), res in zip(runs, results, strict=True):
            row.recall, row.exact_dist = compare(res[:nb], ref)
    rows = [runs[0][0], batch] + [row for row, _fn, _limit in runs[1:]]
    del runs, index
    gc.collect()
    return rows


def fmt(rows: list[Row], n: int, args: argparse.Namespace) -> str:
    mode = "clustered" if args.clustered else "random"
    head = (
        f"\n== n = {n:,} codes, {mode}, radius <= {args.radius}, {args.queries} queries "
        f"(faiss: {min(args.queries, args.baseline_queries)}), 1 thread =="
    )
    cols = (
        f"{'method':<52} {'build s':>8} {'rss MB':>8} {'peak MB':>8} {'arrays MB':>9} "
        f"{'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8} {'recall':>7} {'hits/q':>7}"
    )
    lines = [head, cols, "-" * len(cols)]
    for r in rows:
        arrays = f"{r.arrays_mb:9.0f}" if r.arrays_mb is not None else f"{'':>9}"
        recall = "" if r.recall is None else f"{r.recall:.4f}" + ("" if r.exact_dist else "*")
        build = f"{r.build_s:8.2f}" if r.build_s else f"{'':>8}"
        mem = f"{r.rss_mb:8.0f} {r.peak_mb:8.0f}" if r.build_s else f"{'':>8} {'':>8}"
        hits = f"{r.hits:7.1f}" if r.hits else f"{'':>7}"
        lines.append(
            f"{r.name:<52} {build} {mem} {arrays} {np.percentile(r.lat_ms, 50):8.3f} "
            f"{np.percentile(r.lat_ms, 99):8.3f} {r.lat_ms.mean():8.3f} {recall:>7} {hits}"
        )
    lines.append(
        "(recall vs IndexBinaryFlat on the faiss queries; * = extra hits or distances differ)"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--sizes",
        default="100000,1000000",
        help="comma-separated index sizes (default: 100000,1000000)",
    )
    parser.add_argument("--queries", type=int, default=1000, help="queries for PdqIndex")
    parser.add_argument(
        "--baseline-queries",
        type=int,
        default=1000,
        help="of those, how many the faiss baselines run (keep 10M runs short)",
    )
    parser.add_argument("--radius", type=int, default=31)
    parser.add_argument(
        "--clustered",
        action="store_true",
        help=f"families of {FAMILY_SIZE} near-duplicates instead of random codes",
    )
    parser.add_argument("--no-flat", action="store_true", help="skip IndexBinaryFlat")
    parser.add_argument("--no-multihash", action="store_true", help="skip IndexBinaryMultiHash")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    args.baseline_queries = min(args.baseline_queries, args.queries)
    faiss.omp_set_num_threads(1)
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s]
    print(
        f"numpy {np.__version__}, faiss {faiss.__version__}, {os.cpu_count()} CPUs, "
        f"single-threaded",
        flush=True,
    )
    for n in sizes:
        print(fmt(bench_size(n, args), n, args), flush=True)


if __name__ == "__main__":
    main()
