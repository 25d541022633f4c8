"""First stage: an incremental inverted file over hashed ORB descriptors, queried by voting.

Why: verifying a query against every protected picture costs ~1 ms each, far too slow for
100k pictures. Instead each 256-bit descriptor is reduced to ``TABLES`` short keys of
``KEY_BITS`` bits each (fixed bit positions sampled once; "bit-sampling LSH" for Hamming
space). Two descriptors at Hamming distance ``d`` share a key with probability
``(1 - d/256) ** KEY_BITS`` per table, so the near-identical descriptors that survive an edit
collide often while unrelated ones rarely do. Each protected picture gets one vote per
colliding (query descriptor, table) pair, weighted by the idf of the key; the
:data:`SHORTLIST` pictures with most votes are re-scored by weak geometric consistency
(orientation and octave differences must agree, see :meth:`InvertedFile.candidates`), and
the best few go on to geometric verification
(:mod:`plugin.derivatives.verify`). Each posting is a ``uint32`` slot plus one ``uint8`` of
keypoint orientation/octave: 5 bytes x 500 keypoints x 2 tables = 5 KB per picture.

Layout, chosen so adds and removes are cheap and queries touch only contiguous memory:

* a *main* segment per table in CSR form: ``offsets[key] .. offsets[key+1]`` index into
  parallel arrays of picture slots (``uint32``) and orientation/octave bytes;
* a small *pending* segment per table kept as a sorted ``(key, slot)`` array; an add inserts
  its ~500 postings there (O(pending) copy), and when pending exceeds :data:`PENDING_MAX`
  postings it is merged into main in one linear pass without sorting (both are sorted);
  no add ever rebuilds the index;
* removal clears the slot's bit in ``alive`` (votes of dead slots are zeroed at once); dead
  postings are physically dropped, again linearly, once they are a quarter of main.

Buckets larger than :data:`STOP_BUCKET` times the mean are skipped at query time: such keys
(flat-gradient corners, sky) carry little identity and would dominate the cost.
"""

from __future__ import annotations

import numpy as np

KEY_BITS = 20
TABLES = 2
PENDING_MAX = 1 << 18
STOP_BUCKET = 64
SHORTLIST = 512
MIN_RAW_VOTES = 4
_SEED = 0x5EED_C0DE


def _bit_positions() -> np.ndarray:
    """``(TABLES, KEY_BITS)`` distinct descriptor bit indices; fixed forever for a KEY layout."""
    perm = np.random.default_rng(_SEED).permutation(256)
    return perm[: TABLES * KEY_BITS].reshape(TABLES, KEY_BITS)


_POSITIONS = _bit_positions()
_WEIGHTS = (1 << np.arange(KEY_BITS, dtype=np.uint32)).astype(np.uint32)


def hash_keys(descriptors: np.ndarray) -> np.ndarray:
    """``(TABLES, n)`` ``uint32`` keys of ``(n, 32)`` ``uint8`` ORB descriptors."""
    bits = np.unpackbits(np.ascontiguousarray(descriptors, dtype=np.uint8), axis=1)
    return np.stack([bits[:, pos].astype(np.uint32) @ _WEIGHTS for pos in _POSITIONS])


class _Table:
    """One hash table: CSR main segment + sorted pending segment."""

    def __init__(self) -> None:
        self.offsets = np.zeros((1 << KEY_BITS) + 1, dtype=np.int64)
        self.slots = np.zeros(0, dtype=np.uint32)
        self.geo = np.zeros(0, dtype=np.uint8)
        self.p_keys = np.zeros(0, dtype=np.uint32)
        self.p_slots = np.zeros(0, dtype=np.uint32)
        self.p_geo = np.zeros(0, dtype=np.uint8)

    def insert(self, keys: np.ndarray, slot: int, geo: np.ndarray) -> None:
        order = np.argsort(keys, kind="stable")
        keys = keys[order]
        pos = np.searchsorted(self.p_keys, keys, side="right")
        self.p_keys = np.insert(self.p_keys, pos, keys)
        self.p_slots = np.insert(self.p_slots, pos, np.uint32(slot))
        self.p_geo = np.insert(self.p_geo, pos, geo[order])

    def merge(self) -> None:
        """Fold pending into main in one linear pass (no sort: both sides are sorted)."""
        if not self.p_keys.size:
            return
        n_main, n_pend = self.slots.size, self.p_keys.size
        dest = self.offsets[self.p_keys.astype(np.int64) + 1] + np.arange(n_pend)
        merged = np.empty(n_main + n_pend, dtype=np.uint32)
        is_main = np.ones(n_main + n_pend, dtype=bool)
        is_main[dest] = False
        merged[dest] = self.p_slots
        merged[is_main] = self.slots
        geo = np.empty(n_main + n_pend, dtype=np.uint8)
        geo[dest] = self.p_geo
        geo[is_main] = self.geo
        added = np.bincount(self.p_keys, minlength=1 << KEY_BITS)
        self.offsets[1:] += np.cumsum(added)
        self.slots, self.geo = merged, geo
        self.p_keys = np.zeros(0, dtype=np.uint32)
        self.p_slots = np.zeros(0, dtype=np.uint32)
        self.p_geo = np.zeros(0, dtype=np.uint8)

    def purge(self, alive: np.ndarray) -> None:
        """Drop postings of removed slots from both segments (keys stay sorted)."""
        keep = alive[self.slots]
        keys = np.repeat(np.arange(1 << KEY_BITS, dtype=np.uint32), np.diff(self.offsets))
        self.slots, self.geo = self.slots[keep], self.geo[keep]
        self.offsets[1:] = np.cumsum(np.bincount(keys[keep], minlength=1 << KEY_BITS))
        p_keep = alive[self.p_slots]
        self.p_keys, self.p_slots = self.p_keys[p_keep], self.p_slots[p_keep]
        self.p_geo = self.p_geo[p_keep]

    def lookup(
        self, keys: np.ndarray, cap: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Postings hit by ``keys``: ``(slots, geo, query_positions, bucket_sizes)``.

        Buckets holding more than ``cap`` postings (both segments) are skipped.
        """
        start, end = self.offsets[keys], self.offsets[keys + 1]
        size = end - start
        if len(self.p_keys):
            lo = np.searchsorted(self.p_keys, keys, side="left")
            psize = np.searchsorted(self.p_keys, keys, side="right") - lo
        else:
            lo = psize = np.zeros(len(keys), dtype=np.int64)
        full = size + psize
        skip = full > cap
        size[skip] = 0
        psize[skip] = 0
        total, ptotal = int(size.sum()), int(psize.sum())
        run = np.repeat(start - np.cumsum(size) + size, size) + np.arange(total)
        slots, geo = self.slots[run], self.geo[run]
        qpos = np.repeat(np.arange(len(keys)), size)
        if ptotal:
            prun = np.repeat(lo - np.cumsum(psize) + psize, psize) + np.arange(ptotal)
            slots = np.concatenate([slots, self.p_slots[prun]])
            geo = np.concatenate([geo, self.p_geo[prun]])
            qpos = np.concatenate([qpos, np.repeat(np.arange(len(keys)), psize)])
        return slots, geo, qpos, full

    @property
    def main_size(self) -> int:
        return int(self.slots.size)

    @property
    def nbytes(self) -> int:
        return sum(
            a.nbytes
            for a in (self.offsets, self.slots, self.geo, self.p_keys, self.p_slots, self.p_geo)
        )


class InvertedFile:
    """Slot-addressed multi-table inverted file with voting (no knowledge of picture ids)."""

    def __init__(self) -> None:
        self.tables = [_Table() for _ in range(TABLES)]
        self.alive = np.zeros(1024, dtype=bool)
        self.postings = 0  # live postings per table, for the stop-bucket cap
        self.n_docs = 0  # live pictures with postings, for idf weights
        self.dead_postings = 0

    def add(self, slot: int, keys: np.ndarray, geo: np.ndarray) -> None:
        """Index ``keys`` (``(TABLES, n)``, with ``geo`` bytes) under a fresh ``slot``."""
        if slot >= len(self.alive):
            grown = np.zeros(max(2 * len(self.alive), slot + 1), dtype=bool)
            grown[: len(self.alive)] = self.alive
            self.alive = grown
        self.alive[slot] = True
        for table, k in zip(self.tables, keys, strict=True):
            table.insert(k, slot, geo)
        self.postings += keys.shape[1]
        self.n_docs += 1
        self._maybe_merge()

    def remove(self, slot: int, n_postings: int) -> None:
        if slot < len(self.alive) and self.alive[slot]:
            self.alive[slot] = False
            self.postings -= n_postings
            self.n_docs -= 1
            self.dead_postings += n_postings

    def _maybe_merge(self, force: bool = False) -> None:
        if force or self.dead_postings * 4 > max(self.tables[0].main_size, PENDING_MAX):
            for t in self.tables:
                t.purge(self.alive)
            self.dead_postings = 0
        if force or self.tables[0].p_keys.size > PENDING_MAX:
            for t in self.tables:
                t.merge()

    def compact(self) -> None:
        """Merge pending postings and drop removed ones now (optional; done automatically)."""
        self._maybe_merge(force=True)

    def candidates(
        self, keys: np.ndarray, geo: np.ndarray, groups: np.ndarray, n_groups: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Shortlist ``(flat, raw_votes, wgc_votes)``, best first; ``flat = slot*n_groups+group``.

        ``keys`` is ``(TABLES, m)`` for ``m`` query descriptors, ``geo`` their packed
        orientation/octave bytes and ``groups[i]`` the group (plain / mirrored) of query
        descriptor ``i``. Raw votes pick the :data:`SHORTLIST` best (picture, group) pairs;
        these are then re-scored by *weak geometric consistency* (Jégou et al., 2008): the
        votes are binned by the keypoints' orientation difference and octave difference,
        and only the fullest 2x2 bin counts. A true copy rotates and scales all its
        keypoints alike; chance collisions spread over all 16x15 bins.
        """
        live = max(len(self.alive), 1)
        cap = max(int(STOP_BUCKET * self.postings / float(1 << KEY_BITS)), 64)
        flats, pgeos, qgeos, weights = [], [], [], []
        n_docs = max(self.n_docs, 1)
        for table, k in zip(self.tables, keys, strict=True):
            slots, pgeo, qpos, bucket = table.lookup(k, cap)
            flats.append(slots.astype(np.int64) * n_groups + groups[qpos])
            pgeos.append(pgeo)
            qgeos.append(geo[qpos])
            # idf: a key shared by many pictures says little about any of them
            idf = np.log1p(n_docs / np.maximum(bucket, 1)).astype(np.float32)
            weights.append(idf[qpos])
        flat = np.concatenate(flats)
        weight = np.concatenate(weights)
        counts = np.bincount(flat, weights=weight, minlength=live * n_groups)
        counts.reshape(live, n_groups)[~self.alive] = 0
        short = np.flatnonzero(counts >= MIN_RAW_VOTES * np.log1p(n_docs / 8.0))
        if short.size > SHORTLIST:
            short = short[np.argpartition(-counts[short], SHORTLIST - 1)[:SHORTLIST]]
        if short.size == 0:
            return short, short, short
        rank = np.full(counts.size, -1, dtype=np.int32)
        rank[short] = np.arange(short.size, dtype=np.int32)
        pos = rank[flat]
        hit = np.flatnonzero(pos >= 0)
        pos = pos[hit]
        pg = np.concatenate(pgeos)[hit].astype(np.int64)
        qg = np.concatenate(qgeos)[hit].astype(np.int64)
        d_angle = ((qg >> 4) - (pg >> 4)) % 16
        d_octave = np.clip((qg & 15) - (pg & 15) + 7, 0, 14)
        hist = np.bincount(
            pos * 240 + d_angle * 15 + d_octave, weights=weight[hit], minlength=short.size * 240
        )
        hist = hist.reshape(short.size, 16, 15)
        hist = hist + np.roll(hist, -1, axis=1)
        wgc = (hist[:, :, :-1] + hist[:, :, 1:]).max(axis=(1, 2))
        order = np.lexsort((-counts[short], -wgc))
        return short[order], counts[short][order], wgc[order]

    @property
    def nbytes(self) -> int:
        return sum(t.nbytes for t in self.tables) + self.alive.nbytes
