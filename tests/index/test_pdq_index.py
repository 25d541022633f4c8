"""Exactness tests for ``plugin.index``: every answer is checked against a brute-force oracle.

The oracle counts differing bits with ``np.unpackbits`` -- deliberately not the popcount tricks
the index uses -- over a plain ``{id: code}`` model of what the index should hold.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from plugin.index import PdqIndex, mih, pdq_bits_to_bytes, pdq_bytes_to_hex, pdq_hex_to_bytes
from plugin.index.mih import MihTables

RADII = (0, 8, 31, 40)
MAX_PLANTED = 40


# --------------------------------------------------------------------------- helpers
def flip_bits(code: np.ndarray, n_flips: int, rng: np.random.Generator) -> np.ndarray:
    """``code`` with exactly ``n_flips`` distinct random bits flipped."""
    bits = np.unpackbits(code)
    bits[rng.choice(256, size=n_flips, replace=False)] ^= 1
    return np.packbits(bits)


def oracle_distances(model: dict[int, np.ndarray], query: np.ndarray) -> tuple[list, np.ndarray]:
    ids = sorted(model)
    if not ids:
        return [], np.empty(0, np.int64)
    codes = np.stack([model[i] for i in ids])
    return ids, np.unpackbits(codes ^ query, axis=1).sum(axis=1).astype(np.int64)


def oracle(model: dict[int, np.ndarray], query: np.ndarray, radius: int) -> list[tuple[int, int]]:
    ids, dist = oracle_distances(model, query)
    hits = [(i, int(d)) for i, d in zip(ids, dist, strict=True) if d <= radius]
    return sorted(hits, key=lambda t: (t[1], t[0]))


class Scenario:
    """An index plus its model, with query families planted at every distance 0..40."""

    def __init__(self, seed: int, n_random: int, n_queries: int, buffer_limit: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.index = PdqIndex(buffer_limit=buffer_limit)
        self.model: dict[int, np.ndarray] = {}
        self.queries = self.rng.integers(0, 256, (n_queries, 32), dtype=np.uint8)
        self.next_id = 1_000_000
        codes = self.rng.integers(0, 256, (n_random, 32), dtype=np.uint8)
        ids = self.rng.permutation(10 * n_random)[:n_random].astype(np.int64)
        self.add(ids, codes)
        # planted[(q, d)] = id of a code at exactly distance d from query q
        self.planted: dict[tuple[int, int], int] = {}

    def add(self, ids: np.ndarray, codes: np.ndarray) -> None:
        self.index.add(ids, codes)
        for i, c in zip(ids.tolist(), codes, strict=True):
            self.model[i] = c.copy()

    def remove(self, ids: list[int]) -> None:
        self.index.remove(ids)
        for i in ids:
            self.model.pop(i, None)

    def plant(self, batch: int) -> None:
        """Add one code at every distance 0..40 from every query, ``batch`` codes per add."""
        ids, codes = [], []
        for q in range(len(self.queries)):
            for d in range(MAX_PLANTED + 1):
                self.planted[(q, d)] = self.next_id
                ids.append(self.next_id)
                codes.append(flip_bits(self.queries[q], d, self.rng))
                self.next_id += 1
        order = self.rng.permutation(len(ids))
        ids_arr = np.array(ids, np.int64)[order]
        codes_arr = np.stack(codes)[order]
        for s in range(0, len(ids), batch):
            self.add(ids_arr[s : s + batch], codes_arr[s : s + batch])

    def check(self) -> None:
        assert len(self.index) == len(self.model)
        results = {r: self.index.search_many(self.queries, r) for r in RADII}
        for q, query in enumerate(self.queries):
            ids, dist = oracle_distances(self.model, query)
            for r in RADII:
                hits = [(i, int(d)) for i, d in zip(ids, dist, strict=True) if d <= r]
                expected = sorted(hits, key=lambda t: (t[1], t[0]))
                got = results[r][q]
                assert got == expected, f"query {q} radius {r}"
                assert self.index.search(query, r) == got
                found = dict(got)
                for d in range(MAX_PLANTED + 1):  # the planted ladder, spelled out
                    pid = self.planted.get((q, d))
                    if pid is None or pid not in self.model:
                        continue
                    true_d = int(np.unpackbits(self.model[pid] ^ query).sum())
                    if true_d <= r:
                        assert found.get(pid) == true_d, f"missed id {pid} at d={true_d} r={r}"
                    else:
                        assert pid not in found
            assert self.index.search(query) == results[31][q]  # default radius


@pytest.fixture(params=["auto", "mih", "scan"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with the base searched by the auto choice, forced MIH, or forced scan."""
    if request.param == "mih":
        monkeypatch.setattr(mih, "_SCAN_COST", 0)
    elif request.param == "scan":
        monkeypatch.setattr(mih, "_SCAN_COST", 10**12)
    return request.param


# --------------------------------------------------------------------------- recall
def test_planted_ladder_through_adds_removes_readds_and_merges(path: str) -> None:
    sc = Scenario(seed=7, n_random=20_000, n_queries=6, buffer_limit=150)
    sc.check()
    sc.plant(batch=37)  # several merges happen while planting (buffer_limit 150)
    sc.check()
    base_before = sc.index._ids.size
    # Remove a third of the planted codes and some random ones, from base and buffer alike.
    planted_ids = list(sc.planted.values())
    gone = planted_ids[::3] + list(sc.model)[:50] + [-5, 10**15]  # unknown ids are ignored
    sc.remove(gone)
    sc.check()
    # Re-add: move every planted code of query 0 to a new distance (replacing it), and bring
    # some removed ones back.
    rng = sc.rng
    moved = [sc.planted[(0, d)] for d in range(MAX_PLANTED + 1)]
    new_codes = np.stack([flip_bits(sc.queries[0], int(rng.integers(0, 41)), rng) for _ in moved])
    sc.add(np.array(moved, np.int64), new_codes)
    back = np.array(gone[:20], np.int64)
    sc.add(back, np.stack([flip_bits(sc.queries[1], 5, rng) for _ in back]))
    sc.check()
    # Small single adds stay in the buffer, a big one forces a merge.
    sc.add(np.array([sc.next_id], np.int64), sc.queries[2:3].copy())
    assert sc.index._buf_len > 0
    sc.check()
    extra = rng.integers(0, 256, (400, 32), dtype=np.uint8)
    sc.add(np.arange(5_000_000, 5_000_400, dtype=np.int64), extra)
    assert sc.index._buf_len == 0 and sc.index._ids.size != base_before
    sc.check()


def test_every_distance_at_each_radius_exactly(path: str) -> None:
    rng = np.random.default_rng(3)
    index = PdqIndex()
    base = rng.integers(0, 256, (5000, 32), dtype=np.uint8)
    query = rng.integers(0, 256, 32, dtype=np.uint8)
    ladder = np.stack([flip_bits(query, d, rng) for d in range(MAX_PLANTED + 1)])
    index.add(np.arange(5000, dtype=np.int64), base)
    index.add(np.arange(10_000, 10_000 + MAX_PLANTED + 1, dtype=np.int64), ladder)
    for r in RADII:
        got = [hit for hit in index.search(query, r) if hit[0] >= 10_000]
        assert got == [(10_000 + d, d) for d in range(r + 1)]


def test_clustered_families(path: str) -> None:
    """Families of near-duplicates (skewed buckets) still give exact answers."""
    rng = np.random.default_rng(11)
    centres = rng.integers(0, 256, (12, 32), dtype=np.uint8)
    members = [flip_bits(c, int(rng.integers(0, 21)), rng) for c in centres for _ in range(250)]
    codes = np.concatenate([np.stack(members), rng.integers(0, 256, (3000, 32), np.uint8)])
    ids = rng.permutation(codes.shape[0]).astype(np.int64) * 3
    index = PdqIndex(buffer_limit=500)
    index.add(ids[:5000], codes[:5000])
    index.add(ids[5000:], codes[5000:])  # lands in the buffer
    model = dict(zip(ids.tolist(), codes, strict=True))
    queries = np.stack([flip_bits(centres[i % 12], i % 13, rng) for i in range(24)])
    for r in RADII:
        got = index.search_many(queries, r)
        for q, query in enumerate(queries):
            assert got[q] == oracle(model, query, r)
        assert sum(map(len, got)) > 0


def test_extreme_radii_and_complement() -> None:
    """Radius 256 matches everything; the all-bits-flipped code is at 256, not 0."""
    rng = np.random.default_rng(5)
    query = rng.integers(0, 256, 32, dtype=np.uint8)
    codes = np.stack([query, ~query, flip_bits(query, 255, rng), flip_bits(query, 128, rng)])
    index = PdqIndex()
    index.add(np.arange(4, dtype=np.int64), codes)
    assert index.search(query, 256) == [(0, 0), (3, 128), (2, 255), (1, 256)]
    assert index.search(query, 255) == [(0, 0), (3, 128), (2, 255)]
    tables = MihTables(np.ascontiguousarray(codes).view(np.uint64))
    q64 = query.reshape(1, 32).view(np.uint64)
    for method in ("mih", "scan"):
        _qi, rows, dist = tables.search(q64, 255, method=method)
        assert rows.tolist() == [0, 3, 2] and dist.tolist() == [0, 128, 255]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 300),
    radius=st.integers(0, 64),
    flips=st.lists(st.integers(0, 64), min_size=1, max_size=4),
)
def test_property_mih_equals_bruteforce(seed: int, n: int, radius: int, flips: list[int]) -> None:
    """For any codes, queries and radius, forced MIH == forced scan == the oracle."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 256, (n, 32), dtype=np.uint8)
    if n:  # queries near indexed codes, so there is something to find
        queries = np.stack([flip_bits(codes[rng.integers(n)], f, rng) for f in flips])
    else:
        queries = rng.integers(0, 256, (len(flips), 32), dtype=np.uint8)
    tables = MihTables(np.ascontiguousarray(codes).view(np.uint64))
    q64 = np.ascontiguousarray(queries).view(np.uint64)
    results = [tables.search(q64, radius, method=m) for m in ("mih", "scan", "auto")]
    model = dict(enumerate(codes))
    expected = sorted(
        (q, i, d) for q in range(len(queries)) for i, d in oracle(model, queries[q], radius)
    )
    for qi, rows, dist in results:
        assert sorted(zip(qi.tolist(), rows.tolist(), dist.tolist(), strict=True)) == expected


class IndexMachine(RuleBasedStateMachine):
    """Random interleavings of add / re-add / remove / search against a dict model."""

    def __init__(self) -> None:
        super().__init__()
        self.index = PdqIndex(buffer_limit=8)
        self.model: dict[int, np.ndarray] = {}
        self.rng = np.random.default_rng(0)
        self.centre = self.rng.integers(0, 256, 32, dtype=np.uint8)

    def _near(self, k: int) -> np.ndarray:
        return np.stack(
            [flip_bits(self.centre, int(self.rng.integers(0, 41)), self.rng) for _ in range(k)]
        )

    @rule(ids=st.lists(st.integers(0, 60), min_size=1, max_size=12))
    def add(self, ids: list[int]) -> None:
        codes = self._near(len(ids))
        self.index.add(np.array(ids, np.int64), codes)
        for i, c in zip(ids, codes, strict=True):  # last occurrence wins
            self.model[i] = c

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def remove(self, data: st.DataObject) -> None:
        ids = data.draw(st.lists(st.sampled_from(sorted(self.model)), max_size=6))
        ids += data.draw(st.lists(st.integers(61, 70), max_size=2))  # absent ids
        self.index.remove(ids)
        for i in ids:
            self.model.pop(i, None)

    @rule(flips=st.integers(0, 40), radius=st.sampled_from(RADII))
    def search(self, flips: int, radius: int) -> None:
        query = flip_bits(self.centre, flips, self.rng)
        assert self.index.search(query, radius) == oracle(self.model, query, radius)

    @invariant()
    def sizes(self) -> None:
        assert len(self.index) == len(self.model)
        for i in range(0, 71, 7):
            assert (i in self.index) == (i in self.model)


TestIndexMachine = IndexMachine.TestCase
TestIndexMachine.settings = settings(max_examples=30, stateful_step_count=25, deadline=None)


@pytest.mark.parametrize("buffer_limit", [None, 1])  # into the buffer / straight to a rebuild
def test_duplicate_ids_in_one_add_last_wins(buffer_limit: int | None) -> None:
    index = PdqIndex(buffer_limit=buffer_limit)
    a, b = np.zeros(32, np.uint8), np.full(32, 255, np.uint8)
    index.add(np.array([4, 4, 4], np.int64), np.stack([b, b, a]))
    assert len(index) == 1 and 4 in index and 5 not in index
    assert index.search(a, 0) == [(4, 0)] and index.search(b, 0) == []
    index.add(np.array([4], np.int64), b[None])  # re-add replaces
    assert index.search(a, 31) == [] and index.search(b, 0) == [(4, 0)]
    index.remove([4])
    assert len(index) == 0 and 4 not in index and index.search(b, 256) == []
    assert "x" not in index and 1.0 not in index


def test_index_owns_its_data() -> None:
    """Mutating the caller's arrays after ``add`` changes nothing in the index."""
    rng = np.random.default_rng(4)
    for buffer_limit in (None, 1):
        index = PdqIndex(buffer_limit=buffer_limit)
        ids = np.arange(3, dtype=np.int64)
        codes = rng.integers(0, 256, (3, 32), dtype=np.uint8)
        kept = codes.copy()
        index.add(ids, codes)
        codes ^= 0xFF
        ids += 100
        assert [index.search(c, 0) for c in kept] == [[(0, 0)], [(1, 0)], [(2, 0)]]


def test_empty_index_and_empty_batches() -> None:
    index = PdqIndex(radius=8)
    q = np.zeros(32, np.uint8)
    assert index.search(q) == [] and index.search_many(np.zeros((0, 32), np.uint8)) == []
    index.add(np.empty(0, np.int64), np.empty((0, 32), np.uint8))
    index.remove([])
    assert len(index) == 0 and index.search_many(np.zeros((3, 32), np.uint8)) == [[], [], []]


# --------------------------------------------------------------------------- hex
def test_hex_round_trip() -> None:
    rng = np.random.default_rng(2)
    for code in rng.integers(0, 256, (50, 32), dtype=np.uint8):
        h = pdq_bytes_to_hex(code)
        assert len(h) == 64 and h == h.lower()
        assert np.array_equal(pdq_hex_to_bytes(h), code)
        assert np.array_equal(pdq_hex_to_bytes(h.upper()), code)
    h = "f" * 8 + "0" * 55 + "1"
    code = pdq_hex_to_bytes(h)
    assert code.dtype == np.uint8 and code.shape == (32,)
    assert code[0] == 0xFF and code[31] == 0x01 and pdq_bytes_to_hex(code) == h


def test_hex_matches_threatexchange_convention() -> None:
    """ThreatExchange prints ``int("".join(bits), 2)`` as 64 hex digits, first bit = MSB."""
    import pdqhash

    rng = np.random.default_rng(9)
    image = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    bits, _quality = pdqhash.compute(image)
    reference = f"{int(''.join(str(int(b)) for b in bits), 2):064x}"
    assert pdq_bytes_to_hex(pdq_bits_to_bytes(bits)) == reference
    assert np.array_equal(np.unpackbits(pdq_hex_to_bytes(reference)), bits)


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "bad, message",
    [
        ("abc", "exactly 64 hex digits"),
        ("g" * 64, "exactly 64 hex digits"),
        ("0x" + "0" * 62, "exactly 64 hex digits"),
        ("0" * 63 + " ", "exactly 64 hex digits"),
        ("0" * 65, "exactly 64 hex digits"),
        (b"0" * 64, "must be a str"),
    ],
)
def test_bad_hex(bad: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        pdq_hex_to_bytes(bad)  # type: ignore[arg-type]


def test_bad_codes_and_ids() -> None:
    index = PdqIndex()
    ids = np.arange(2, dtype=np.int64)
    good = np.zeros((2, 32), np.uint8)
    cases = [
        (ids, good.astype(np.int64), "dtype uint8"),
        (ids, np.zeros((2, 31), np.uint8), r"shape \(n, 32\)"),
        (ids, np.zeros(64, np.uint8), r"shape \(n, 32\)"),
        (ids, good.tolist(), "numpy uint8 array"),
        (ids.astype(np.float64), good, "integer dtype"),
        (ids.reshape(2, 1), good, r"shape \(n,\)"),
        ([0, 1], good, "numpy int64 array"),
        (np.arange(3, dtype=np.int64), good, "same length"),
    ]
    for bad_ids, bad_codes, message in cases:
        with pytest.raises(ValueError, match=message):
            index.add(bad_ids, bad_codes)
    assert len(index) == 0
    with pytest.raises(ValueError, match="ints"):
        index.remove(["a"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="integer array"):
        index.remove(np.array([1.5]))


def test_bad_queries_and_radius() -> None:
    index = PdqIndex()
    index.add(np.arange(1, dtype=np.int64), np.zeros((1, 32), np.uint8))
    q = np.zeros(32, np.uint8)
    for bad, message in [
        (np.zeros(31, np.uint8), r"shape \(32,\)"),
        (np.zeros((1, 32), np.uint8), r"shape \(32,\)"),
        (q.astype(np.int8), "dtype uint8"),
        (bytes(32), "numpy uint8 array"),
    ]:
        with pytest.raises(ValueError, match=message):
            index.search(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"shape \(n, 32\)"):
        index.search_many(q)
    for radius in (-1, 257, 3.0, True):
        with pytest.raises(ValueError, match="radius"):
            index.search(q, radius)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="radius"):
        PdqIndex(radius=300)
    with pytest.raises(ValueError, match="buffer_limit"):
        PdqIndex(buffer_limit=0)
    with pytest.raises(ValueError, match="code"):
        pdq_bytes_to_hex(np.zeros(16, np.uint8))
