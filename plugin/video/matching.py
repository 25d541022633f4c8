"""Matching clips: vPDQ against banked videos, and a clip's frames against banked stills.

vPDQ semantics (pytx ``VPDQIndex`` / HMA 2.0): both sides are first quality-filtered (frames
under PDQ quality 50 carry little signal: black, flat, blurred) and deduplicated by PDQ hash.
A query frame *matches* a banked video when some frame of it lies within Hamming distance 31.
Then, per banked video:

* ``query_pct`` = matched query frames / query frames x 100 -- how much of the upload is that
  video (a re-encode: ~100; the banked clip cut into a longer one: lower);
* ``bank_pct`` = banked frames matched by some query frame / banked frames x 100 -- how much of
  that video the upload carries (a 5-second excerpt of a long banked clip: low).

It is a match when ``query_pct >= query_match_pct`` (default 80) and ``bank_pct >=
index_match_pct`` (default 0), HMA's defaults and our settings ``vpdq_query_match_pct`` and
``vpdq_index_match_pct``.

:class:`VideoMatcher` keeps every banked frame in one :class:`~plugin.index.PdqIndex` (exact
radius search) under a frame id that maps back to its entry, so a query costs one batched
search of its frames, not a comparison with every banked video. Entries are added and removed
one by one, as ``BankMatcher`` replays the bank change log.

:func:`match_frames_against_stills` answers the other question: does the clip *contain* a
banked still picture? It searches each frame PDQ in the still-image index and reports, per
entry, the best distance and the timestamps where it appeared.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import numpy as np

from plugin.index import PdqIndex, pdq_hex_to_bytes
from plugin.video.vpdq_hash import (
    DISTANCE_THRESHOLD,
    QUALITY_THRESHOLD,
    VpdqFeature,
    parse_vpdq,
    prepare_for_matching,
)

#: HMA / pytx defaults (VPDQ_QUERY_MATCH_THRESHOLD_PERCENT, VPDQ_INDEX_MATCH_THRESHOLD_PERCENT)
QUERY_MATCH_PCT = 80.0
INDEX_MATCH_PCT = 0.0


class VideoMatch(NamedTuple):
    entry_id: int
    query_pct: float
    bank_pct: float


def match_pair(query: Sequence[VpdqFeature], banked: Sequence[VpdqFeature], *,
               max_distance: int = DISTANCE_THRESHOLD,
               min_quality: int = QUALITY_THRESHOLD) -> tuple[float, float]:
    """(query_pct, bank_pct) of two vPDQ hashes by brute force: pytx's reference semantics."""
    q = _codes(prepare_for_matching(list(query), min_quality))
    b = _codes(prepare_for_matching(list(banked), min_quality))
    if not len(q) or not len(b):
        return 0.0, 0.0
    near = _hamming(q, b) <= max_distance
    return (float(near.any(axis=1).sum()) * 100 / len(q),
            float(near.any(axis=0).sum()) * 100 / len(b))


def _codes(features: Sequence[VpdqFeature]) -> np.ndarray:
    if not features:
        return np.empty((0, 32), np.uint8)
    return np.stack([pdq_hex_to_bytes(f.pdq) for f in features])


def _hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    xor = np.bitwise_xor(a[:, None, :], b[None, :, :])
    return np.unpackbits(xor, axis=2).sum(axis=2)


def as_features(value: str | Sequence[VpdqFeature]) -> list[VpdqFeature]:
    return parse_vpdq(value) if isinstance(value, str) else list(value)


class VideoMatcher:
    """An in-memory index of banked vPDQ hashes; see the module docstring for the semantics."""

    def __init__(self, *, query_match_pct: float = QUERY_MATCH_PCT,
                 index_match_pct: float = INDEX_MATCH_PCT,
                 max_distance: int = DISTANCE_THRESHOLD,
                 min_quality: int = QUALITY_THRESHOLD) -> None:
        self.query_match_pct = query_match_pct
        self.index_match_pct = index_match_pct
        self.max_distance = max_distance
        self.min_quality = min_quality
        self._index = PdqIndex(radius=max_distance)
        self._frames: dict[int, np.ndarray] = {}  # entry id -> its frame ids
        self._owner: dict[int, int] = {}  # frame id -> entry id
        self._next_frame = 0

    @classmethod
    def from_settings(cls, settings: Any) -> VideoMatcher:
        return cls(query_match_pct=settings.vpdq_query_match_pct,
                   index_match_pct=settings.vpdq_index_match_pct,
                   max_distance=settings.pdq_max_distance,
                   min_quality=settings.pdq_min_quality)

    def __len__(self) -> int:
        return len(self._frames)

    def __contains__(self, entry_id: object) -> bool:
        return entry_id in self._frames

    def add(self, entry_id: int, vpdq: str | Sequence[VpdqFeature]) -> None:
        """Index (or replace) a banked video. ``ValueError`` if the text is not vPDQ."""
        self.remove(entry_id)
        features = prepare_for_matching(as_features(vpdq), self.min_quality)
        ids = np.arange(self._next_frame, self._next_frame + len(features), dtype=np.int64)
        self._next_frame += len(features)
        self._frames[entry_id] = ids
        for frame_id in ids.tolist():
            self._owner[frame_id] = entry_id
        if len(ids):
            self._index.add(ids, _codes(features))

    def remove(self, entry_id: int) -> None:
        ids = self._frames.pop(entry_id, None)
        if ids is None:
            return
        for frame_id in ids.tolist():
            del self._owner[frame_id]
        self._index.remove(ids.tolist())

    def match(self, vpdq: str | Sequence[VpdqFeature]) -> list[VideoMatch]:
        """Banked videos this one matches, best first (by query_pct, then bank_pct)."""
        query = prepare_for_matching(as_features(vpdq), self.min_quality)
        if not query or not len(self._index):
            return []
        query_hits: dict[int, int] = defaultdict(int)
        bank_hits: dict[int, set[int]] = defaultdict(set)
        for hits in self._index.search_many(_codes(query), self.max_distance):
            entries = set()
            for frame_id, _distance in hits:
                entry_id = self._owner[frame_id]
                entries.add(entry_id)
                bank_hits[entry_id].add(frame_id)
            for entry_id in entries:
                query_hits[entry_id] += 1
        out = []
        for entry_id, count in query_hits.items():
            query_pct = count * 100 / len(query)
            bank_pct = len(bank_hits[entry_id]) * 100 / len(self._frames[entry_id])
            if query_pct >= self.query_match_pct and bank_pct >= self.index_match_pct:
                out.append(VideoMatch(entry_id, round(query_pct, 3), round(bank_pct, 3)))
        return sorted(out, key=lambda m: (-m.query_pct, -m.bank_pct, m.entry_id))


def match_frames_against_stills(pdq_frames: Iterable[dict[str, Any]], index: PdqIndex, *,
                                max_distance: int = DISTANCE_THRESHOLD,
                                min_quality: int = QUALITY_THRESHOLD) -> list[dict[str, Any]]:
    """Banked stills that appear in a clip: ``[{entry_id, distance, timestamps}]``, nearest
    first. ``pdq_frames`` are ``scan_video_bytes``'s ``{"timestamp", "pdq", "quality"}``."""
    frames = [f for f in pdq_frames if int(f["quality"]) >= min_quality]
    if not frames or not len(index):
        return []
    codes = np.stack([pdq_hex_to_bytes(f["pdq"]) for f in frames])
    best: dict[int, int] = {}
    seen_at: dict[int, set[float]] = defaultdict(set)
    for frame, hits in zip(frames, index.search_many(codes, max_distance), strict=True):
        for entry_id, distance in hits:
            best[entry_id] = min(distance, best.get(entry_id, distance))
            seen_at[entry_id].add(float(frame["timestamp"]))
    return sorted(({"entry_id": e, "distance": d, "timestamps": sorted(seen_at[e])}
                   for e, d in best.items()), key=lambda m: (m["distance"], m["entry_id"]))
