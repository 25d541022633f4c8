"""Inverted-file invariants: merging and purging never change what a query finds."""

from __future__ import annotations

import numpy as np
import pytest

from plugin.derivatives import index as ivf_mod
from plugin.derivatives.index import InvertedFile, hash_keys


def _random_pictures(n: int, k: int = 200, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [
        (
            rng.integers(0, 256, (k, 32), dtype=np.uint8),
            rng.integers(0, 256, k, dtype=np.uint8),
        )
        for _ in range(n)
    ]


def _query(ivf: InvertedFile, desc: np.ndarray, geo: np.ndarray) -> dict[int, int]:
    keys = hash_keys(desc)
    flats, raw, _ = ivf.candidates(keys, geo, np.zeros(len(desc), np.int64), 1)
    return dict(zip(flats.tolist(), raw.tolist(), strict=True))


def test_hash_keys_shape_and_determinism() -> None:
    desc = np.random.default_rng(1).integers(0, 256, (7, 32), dtype=np.uint8)
    keys = hash_keys(desc)
    assert keys.shape == (ivf_mod.TABLES, 7) and keys.dtype == np.uint32
    assert int(keys.max()) < 1 << ivf_mod.KEY_BITS
    assert np.array_equal(keys, hash_keys(desc.copy()))


def test_merge_and_purge_preserve_results(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ivf_mod, "PENDING_MAX", 1000)  # force many automatic merges
    pics = _random_pictures(40)
    lazy, eager = InvertedFile(), InvertedFile()
    for slot, (desc, geo) in enumerate(pics):
        lazy.add(slot, hash_keys(desc), geo)
        eager.add(slot, hash_keys(desc), geo)
        eager.compact()
    assert lazy.tables[0].main_size > 0  # automatic merges happened
    for slot in (3, 17, 39):
        desc, geo = pics[slot]
        got = _query(lazy, desc, geo)
        assert got == _query(eager, desc, geo)
        assert max(got, key=got.get) == slot  # a picture out-votes random others
    for slot in range(0, 40, 2):
        lazy.remove(slot, len(pics[slot][0]))
    lazy.compact()
    assert lazy.tables[0].main_size == 20 * 200
    for slot in (3, 4):
        got = _query(lazy, *pics[slot])
        assert (slot in got) == (slot % 2 == 1)
