"""Immutable multi-index hash tables (MIH) over 256-bit codes: the bulk "base" of ``PdqIndex``.

Why this method: a linear scan costs O(n) per query (faiss ``IndexBinaryFlat``: ~12 ms at 10M
codes on our 2-core bench box, single thread). Multi-index hashing (Norouzi, Punjani & Fleet,
"Fast Exact Search in Hamming Space with Multi-Index Hashing", 2014) cuts a code into ``m``
disjoint substrings and keeps one hash table per substring. By the pigeonhole principle, if two
codes differ in at most ``r`` bits then at least one of the ``m`` substrings differs in at most
``r // m`` bits, so probing every table with all keys within ``r // m`` flips of the query's
substring finds *every* true match; the candidates are then verified exactly. Recall is 100 %
by construction, not by tuning.

Why 16 substrings of 16 bits: with PDQ's match radius of 31, ``31 // 16 == 1``, so each table is
probed with 1 + 16 = 17 keys (272 probes in all), and 2**16 buckets keep the offsets array tiny
(0.5 MB a table) while holding ~150 codes a bucket at 10M codes. Wider substrings need 2+ flips
(hundreds of probes a table); narrower ones make buckets too full. The refined pigeonhole bound
(``r = q*m + a`` -> ``a + 1`` tables at radius ``q``, the rest at ``q - 1``) is used, so e.g.
radius 0 probes one bucket of one table and radius 40 probes 9 tables at 2 flips, 7 at 1.

Why CSR: each table is a counting sort of the row numbers by substring value: ``perm`` holds the
rows bucket by bucket and ``offsets[key]`` .. ``offsets[key + 1]`` delimits a bucket. That is
4 bytes a code a table (no per-bucket Python objects, no pointers), it is built with numpy's
radix sort in O(n) per table, and all probes of a query are resolved with a handful of
vectorised numpy calls (gather offsets, ``np.repeat`` the ranges, gather rows, XOR + popcount).

Duplicates (a code close to the query in several substrings is found in several tables) are
dropped without sorting: a copy is kept only if it came from the *first* table that would find
it, which the substring popcounts of its XOR tell directly.
"""

from __future__ import annotations

from functools import cache, lru_cache

import numpy as np

SUBSTRINGS = 16
SUB_BITS = 16
BUCKETS = 1 << SUB_BITS
_SCAN_CHUNK = 1 << 16
# A verified candidate (two dependent gathers + XOR/popcount) costs about as much as scanning
# this many rows sequentially; used to pick MIH or a scan per query batch.
_SCAN_COST = 4
MAX_ROWS = 1 << 27  # 16 tables of int32 row numbers; also what sort_hits packs
MAX_BATCH = 1 << 27  # queries in one search call (sort_hits packs the query index)
_ROW_MASK = MAX_ROWS - 1


@cache
def _flip_masks(flips: int) -> np.ndarray:
    """All 16-bit XOR masks with at most ``flips`` bits set (0 first)."""
    pop = np.bitwise_count(np.arange(BUCKETS, dtype=np.uint32))
    masks = np.flatnonzero(pop <= flips).astype(np.int64)
    return masks[np.argsort(pop[masks], kind="stable")]


def _plan_flips(radius: int) -> list[int]:
    q, a = divmod(radius, SUBSTRINGS)
    return [q if t <= a else q - 1 for t in range(SUBSTRINGS)]


@cache
def probe_count(radius: int) -> int:
    """Number of probes :func:`probe_plan` makes for ``radius`` (without building it)."""
    return sum(_flip_masks(min(f, SUB_BITS)).size for f in _plan_flips(radius) if f >= 0)


@lru_cache(maxsize=8)
def probe_plan(radius: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Probes that find every code within ``radius``: ``(table, flat_base, mask, flips)``.

    Writing ``radius = q * m + a`` (``0 <= a < m``): if tables ``0..a`` all differed in more than
    ``q`` bits and the others in more than ``q - 1``, the total would be at least
    ``(a + 1)(q + 1) + (m - a - 1) q = radius + 1``. So probing tables ``0..a`` within ``q`` flips
    and the rest within ``q - 1`` flips (none when ``q == 0``) is exhaustive.
    ``table``, ``flat_base`` (the table's start in the flattened offsets) and ``mask`` have one
    entry a probe; ``flips[t]`` is table ``t``'s probe radius (-1: not probed).
    """
    flips = np.array(_plan_flips(radius), dtype=np.int64)
    tables: list[np.ndarray] = []
    masks: list[np.ndarray] = []
    for t in range(SUBSTRINGS):
        if flips[t] < 0:
            continue
        m = _flip_masks(min(int(flips[t]), SUB_BITS))
        tables.append(np.full(m.size, t, dtype=np.int64))
        masks.append(m)
    table = np.concatenate(tables)
    mask = np.concatenate(masks)
    flat_base = table * (BUCKETS + 1)
    for arr in (table, mask, flat_base, flips):
        arr.flags.writeable = False
    return table, flat_base, mask, flips


def popcount_sum_mod256(xor64: np.ndarray) -> np.ndarray:
    """Row popcounts of ``uint64 (n, 4)`` XOR words, modulo 256, as ``uint32 (n,)``.

    ``np.bitwise_count`` gives four byte-sized counts a row; reading them as one uint32 and
    multiplying by 0x01010101 sums them into the top byte -- ~20x faster than ``sum(axis=1)``
    over a length-4 axis. The sum is exact below 256; a distance of exactly 256 (all bits
    differ) reads as 0, which :func:`within` corrects.
    """
    pc = np.bitwise_count(xor64).view(np.uint32).reshape(-1)
    pc *= np.uint32(0x01010101)
    pc >>= np.uint32(24)
    return pc


def within(xor64: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``xor64`` (code XOR query) with popcount ``<= radius``, and those popcounts."""
    mod = popcount_sum_mod256(xor64)
    hit = np.flatnonzero(mod <= radius)
    dist = mod[hit].astype(np.int64)
    zero = np.flatnonzero(dist == 0)
    if zero.size:  # 0 mod 256 is either identical (0) or complementary (256)
        full = xor64[hit[zero]].any(axis=1)
        if full.any():
            dist[zero[full]] = 256
            keep = dist <= radius
            hit, dist = hit[keep], dist[keep]
    return hit, dist


def scan(codes64: np.ndarray, query64: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray]:
    """Brute force: rows of ``codes64`` within ``radius`` of ``query64`` and their distances.

    Rows come out ascending. Chunked so the temporaries stay at a few MB whatever the size.
    """
    rows: list[np.ndarray] = []
    dists: list[np.ndarray] = []
    n = codes64.shape[0]
    # XOR against a pre-tiled query: broadcasting over a length-4 axis is ~3x slower.
    tiled = np.take(query64.reshape(1, 4), np.zeros(min(n, _SCAN_CHUNK), np.intp), axis=0)
    for start in range(0, n, _SCAN_CHUNK):
        chunk = codes64[start : start + _SCAN_CHUNK]
        hit, dist = within(np.bitwise_xor(chunk, tiled[: chunk.shape[0]]), radius)
        if hit.size:
            rows.append(hit + start)
            dists.append(dist)
    if not rows:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(rows), np.concatenate(dists)


def sort_hits(
    qidx: np.ndarray, rows: np.ndarray, dist: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sort hits by (query, distance, row) with one ``np.sort`` of packed int64 keys.

    Rows < 2**27 (``MihTables`` holds fewer), distance <= 256 (9 bits), query < 2**27.
    """
    key = (qidx << 36) | (dist << 27) | rows
    key.sort()
    return key >> 36, key & _ROW_MASK, (key >> 27) & 0x1FF


class MihTables:
    """CSR multi-index tables over an immutable ``uint64 (n, 4)`` code array.

    ``search`` returns *row numbers* (positions in ``codes``); mapping rows to ids, and hiding
    deleted rows, is the caller's job. The tables never change after construction: updates go to
    ``PdqIndex``'s buffer and tombstones and are folded in by building a new ``MihTables``.
    """

    __slots__ = ("codes", "n", "offsets", "perm")

    def __init__(self, codes64: np.ndarray) -> None:
        """Build the 16 tables over ``codes64`` (kept by reference; must not be mutated)."""
        if codes64.dtype != np.uint64 or codes64.ndim != 2 or codes64.shape[1] != 4:
            raise ValueError("MihTables needs uint64 codes of shape (n, 4)")
        n = codes64.shape[0]
        if n >= MAX_ROWS:
            raise ValueError(f"MihTables holds fewer than {MAX_ROWS} codes")
        self.codes = codes64
        self.n = n
        self.perm = np.empty(SUBSTRINGS * n, dtype=np.int32)
        self.offsets = np.empty((SUBSTRINGS, BUCKETS + 1), dtype=np.int64)
        words = codes64.view(np.uint16)  # (n, 16): substring t is word t
        all_keys = np.arange(BUCKETS, dtype=np.uint16)
        for t in range(SUBSTRINGS):
            key = np.ascontiguousarray(words[:, t])
            # A stable sort of 16-bit keys is numpy's O(n) radix sort.
            order = np.argsort(key, kind="stable")
            self.perm[t * n : (t + 1) * n] = order
            # Bucket starts: binary search in the sorted keys (3x faster than np.bincount,
            # which widens the keys to intp first).
            self.offsets[t, :BUCKETS] = np.searchsorted(np.take(key, order), all_keys)
            self.offsets[t, BUCKETS] = n
            self.offsets[t] += t * n
            del order
        self.offsets = self.offsets.reshape(-1)

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays (codes, perm, offsets)."""
        return self.codes.nbytes + self.perm.nbytes + self.offsets.nbytes

    def search(
        self, queries64: np.ndarray, radius: int, method: str = "auto"
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Rows within ``radius`` of each query: ``(query_index, row, distance)`` int64 arrays.

        Each (query, row) appears once; output is sorted by query, distance, then row. With
        ``method="auto"`` it falls back to a linear scan when the probes would touch more
        candidates than a scan costs (large radii, tiny tables, or heavily clustered data);
        ``"mih"`` and ``"scan"`` force one path (tests). Either way the answer is exact.
        """
        if method not in ("auto", "mih", "scan"):
            raise ValueError(f"method must be 'auto', 'mih' or 'scan', got {method!r}")
        nq = queries64.shape[0]
        if nq > MAX_BATCH:
            raise ValueError(f"at most {MAX_BATCH} queries a call")
        if self.n == 0 or nq == 0:
            e = np.empty(0, np.int64)
            return e, e, e
        if method == "scan" or (method == "auto" and probe_count(radius) * _SCAN_COST > self.n):
            return self._scan_all(queries64, radius)
        table, flat_base, mask, flips = probe_plan(radius)
        words = queries64.view(np.uint16)  # (nq, 16)
        keys = (words[:, table] ^ mask) + flat_base  # (nq, probes) flat offsets index
        keys = keys.reshape(-1)
        starts = self.offsets[keys]
        lengths = self.offsets[keys + 1] - starts
        ends = np.cumsum(lengths)
        total = int(ends[-1])
        if method == "auto" and total * _SCAN_COST > self.n * nq:
            return self._scan_all(queries64, radius)
        # Concatenate the ranges [start, start + length) without a Python loop.
        pos = np.repeat(starts - (ends - lengths), lengths)
        pos += np.arange(total, dtype=np.int64)
        rows = self.perm[pos]
        # np.take(axis=0) copies whole 32-byte rows; plain fancy indexing is ~5x slower here.
        xor = np.take(self.codes, rows, axis=0)
        counts = np.diff(ends.reshape(nq, -1)[:, -1], prepend=0)
        qidx = np.repeat(np.arange(nq, dtype=np.int64), counts)
        np.bitwise_xor(xor, np.take(queries64, qidx, axis=0), out=xor)
        hit, dist = within(xor, radius)
        # A row is found once for every table whose substring is within that table's probe
        # radius of the query's. Keep only the copy from the first such table: no sort needed.
        sub_close = np.bitwise_count(xor[hit].view(np.uint16)) <= flips  # (hits, 16)
        first = sub_close.argmax(axis=1)
        keep = first == pos[hit] // self.n  # pos // n is the table the copy came from
        hit, dist = hit[keep], dist[keep]
        return sort_hits(qidx[hit], rows[hit].astype(np.int64), dist)

    def _scan_all(
        self, queries64: np.ndarray, radius: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        out_q, out_r, out_d = [], [], []
        for i in range(queries64.shape[0]):
            rows, dist = scan(self.codes, queries64[i], radius)
            out_q.append(np.full(rows.size, i, np.int64))
            out_r.append(rows)
            out_d.append(dist)
        return sort_hits(np.concatenate(out_q), np.concatenate(out_r), np.concatenate(out_d))
